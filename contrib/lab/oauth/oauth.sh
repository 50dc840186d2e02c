#!/usr/bin/env bash
# OAuth2 part of the cutover lab: the lab identity provider (idp.py, HTTPS,
# Entra ID v2.0- and Google-shaped token endpoints) and Dovecot that accepts
# ONLY OAuth2 logins, checking every token against the IdP (RFC 7662
# introspection: signature, expiry, audience, app role or delegated scope, and
# the app's access to the mailbox like Exchange's FullAccess), with
# capabilities shaped like Exchange Online's. Two instances serve the same
# mailboxes on the same ports: 127.0.0.8 offers exactly Exchange's AUTH=PLAIN
# AUTH=XOAUTH2, 127.0.0.9 also AUTH=OAUTHBEARER.
# Everything lives under $LAB_RUN/oauth/ (LAB_RUN defaults to contrib/lab/run).
#
#   oauth.sh up                   CA, IdP keys and config.json (kept when present),
#                                 users, dovecot.conf; start all three; wait for every port
#   oauth.sh down                 stop them (no-op when not running)
#   oauth.sh status               exit 0 only when all run and answer
#   oauth.sh doveadm ARGS...      doveadm against the OAuth2 Dovecot (127.0.0.8)
#   oauth.sh clean                down, then remove $LAB_RUN/oauth
#
# See contrib/lab/oauth/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=$(cd "$here/.." && pwd)
LAB_RUN=${LAB_RUN:-$LAB_DIR/run}
mkdir -p "$LAB_RUN"
LAB_RUN=$(cd "$LAB_RUN" && pwd)
export LAB_RUN
O=$LAB_RUN/oauth
PY=${LAB_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
DOVECOT=${DOVECOT:-dovecot}
DOVEADM=${DOVEADM:-doveadm}

# the next free lab addresses after the mail lab's 127.0.0.1-127.0.0.7:
# 127.0.0.8 offers exactly Exchange Online's AUTH=PLAIN AUTH=XOAUTH2 (and the
# IdP), 127.0.0.9 ("bearer") also AUTH=OAUTHBEARER; same ports, same mailboxes
: "${LAB_OAUTH_ADDR:=127.0.0.8}" "${LAB_OAUTH_BEARER_ADDR:=127.0.0.9}"
: "${LAB_OAUTH_IMAP:=40143}" "${LAB_OAUTH_IMAPS:=40993}" "${LAB_OAUTH_POP3:=40110}" "${LAB_OAUTH_POP3S:=40995}"
: "${LAB_OAUTH_IDP_PORT:=40443}" "${LAB_MAIL_DEBUG:=0}"

die() { echo "oauth.sh: $*" >&2; exit 1; }
log() { echo "oauth.sh: $*" >&2; }

D=$O/dovecot          # the instance being worked on (see each_instance)
HOMES=$O/dovecot/home  # both instances serve the same mail store
IDP_URL=https://$LAB_OAUTH_ADDR:$LAB_OAUTH_IDP_PORT

# live PID from FILE whose command line contains WORD
live_pid() {
	local p
	[ -s "$1" ] || return 1
	p=$(cat "$1")
	[[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
	echo "$p"
}
idp_pid() { live_pid "$O/idp/idp.pid" idp.py; }
dovecot_pid() { live_pid "$D/run/master.pid" dovecot; }

INSTANCES="dovecot dovecot-bearer"
# set D, ADDR and MECHS for instance $1
instance() {
	D=$O/$1
	case $1 in
	dovecot) ADDR=$LAB_OAUTH_ADDR MECHS="plain xoauth2" ;;
	dovecot-bearer) ADDR=$LAB_OAUTH_BEARER_ADDR MECHS="plain xoauth2 oauthbearer" ;;
	esac
}

# the mailboxes: the mail lab's destination users (no passwords: OAuth2 only)
gen_users() {
	local u
	{
		echo alice@lab.test
		echo bob@lab.test
		echo carol@lab.test
		for i in $(seq -w 1 200); do echo "user$i@lab.test"; done
	} >"$O/users.txt"
	: >"$O/users.passwd.tmp"
	while read -r u; do
		printf '%s:::::%s::\n' "$u" "$HOMES/$u" >>"$O/users.passwd.tmp"
	done <"$O/users.txt"
	chmod 644 "$O/users.passwd.tmp"
	mv "$O/users.passwd.tmp" "$O/users.passwd"
}

gen_conf() {
	local ca=$LAB_RUN/ca mail_user mail_group internal_user internal_group login_user
	if [ "$(id -u)" = 0 ]; then
		mail_user=${LAB_MAIL_USER:-nobody}
		mail_group=${LAB_MAIL_GROUP:-$(id -gn "$mail_user")}
		internal_user=dovecot internal_group=dovecot login_user=dovenull
		id dovecot >/dev/null 2>&1 || internal_user=$mail_user internal_group=$mail_group
		id dovenull >/dev/null 2>&1 || login_user=$mail_user
	else
		mail_user=$(id -un) mail_group=$(id -gn) login_user=$mail_user
		internal_user=$mail_user internal_group=$mail_group
	fi
	# Unix socket paths are limited to 107 bytes (see mail.sh)
	if [ ${#D} -gt 70 ] && [ ! -d "$D/run" ]; then
		local short
		short=${TMPDIR:-/tmp}/cutover-oauth-$(printf '%s' "$D" | md5sum | cut -c1-12)
		mkdir -p "$short" "$D"
		chmod 755 "$short"
		ln -sfn "$short" "$D/run"
	fi
	mkdir -p "$D/run/" "$D/state" "$D/log" "$HOMES"
	[ "$(id -u)" = 0 ] && chown "$mail_user:$mail_group" "$HOMES"
	chmod 755 "$D" "$HOMES" "$D/log" "$D/state"
	local dh="" debug="" oauth_debug=no
	[ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
	[ "$LAB_MAIL_DEBUG" = 1 ] && debug="auth_debug = yes
mail_debug = yes" oauth_debug=yes

	# Dovecot expands %u (the login user) and %s (imap/pop3) in the URL: the
	# IdP answers like Exchange, for that mailbox and protocol.
	cat >"$D/oauth2.conf.ext.tmp" <<EOF
introspection_mode = auth
introspection_url = $IDP_URL/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $LAB_RUN/ca.pem
timeout_msecs = 10000
max_parallel_connections = 10
debug = $oauth_debug
EOF
	mv "$D/oauth2.conf.ext.tmp" "$D/oauth2.conf.ext"
	# the Lua passdb (2. below) hands the token to checktoken.py on stdin
	cat >"$D/checktoken.lua.tmp" <<EOF
-- Generated by contrib/lab/oauth/oauth.sh: app-only tokens, see checktoken.py
local cmd = "$PY $here/checktoken.py $IDP_URL $LAB_RUN/ca.pem "
local function q(s) return "'" .. string.gsub(s, "'", "") .. "'" end
function auth_passdb_lookup(req)
  return dovecot.auth.PASSDB_RESULT_USER_UNKNOWN, "tokens only"
end
function auth_password_verify(req, pass)
  local p = io.popen(cmd .. q(req.user) .. " " .. q(req.service) .. " >/dev/null", "w")
  p:write(pass)
  local ok, _, code = p:close()
  if ok then return dovecot.auth.PASSDB_RESULT_OK, {} end
  if code == 1 then return dovecot.auth.PASSDB_RESULT_PASSWORD_MISMATCH, "token refused by the IdP" end
  return dovecot.auth.PASSDB_RESULT_INTERNAL_FAILURE, "the lab IdP did not answer"
end
EOF
	mv "$D/checktoken.lua.tmp" "$D/checktoken.lua"

	cat >"$D/dovecot.conf.tmp" <<EOF
# Generated by contrib/lab/oauth/oauth.sh: an OAuth2-only lab instance.
instance_name = cutover-lab-oauth-$ADDR
base_dir = $(cd "$D/run/" && pwd -P)
state_dir = $D/state
protocols = imap pop3
listen = $ADDR
shutdown_clients = yes
log_path = $D/log/dovecot.log
info_log_path = $D/log/dovecot.log
debug_log_path = $D/log/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
login_log_format_elements = user=<%u> method=%m rip=%r rport=%{rport} lip=%l lport=%{lport} mpid=%e %c session=<%{session}>
login_log_format = %\$: %s
mail_log_prefix = "%s(%u)<%{pid}><%{session}>: "
auth_verbose = yes
# process titles "[user ip ...]": the IdP's cut_sessions finds a session's user
verbose_proctitle = yes
$debug

default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user
mail_uid = $mail_user
mail_gid = $mail_group
first_valid_uid = $(id -u "$mail_user")
last_valid_uid = 0

ssl = yes
ssl_cert = <$ca/server.pem
ssl_key = <$ca/server.key
$dh
ssl_min_protocol = TLSv1.2

# Like Exchange Online: AUTH=PLAIN is offered but no password is ever accepted
# (no passdb serves PLAIN/LOGIN); tokens via XOAUTH2 or OAUTHBEARER.
disable_plaintext_auth = yes
auth_mechanisms = $MECHS
auth_username_format = %Lu
auth_failure_delay = 0
# 1. Dovecot's own oauth2 passdb: introspection at the IdP; the token must
#    name the login user (delegated and Google tokens).
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $D/oauth2.conf.ext
}
# 2. App-only tokens (no user in them) fail 1.'s username check and come
#    here: a Lua passdb runs checktoken.py, which asks the IdP for THIS mailbox and protocol (role +
#    FullAccess), which 2.3's oauth2 passdb cannot (see checktoken.py).
passdb {
  driver = lua
  mechanisms = xoauth2 oauthbearer
  args = file=$D/checktoken.lua blocking=yes
}
userdb {
  driver = passwd-file
  args = username_format=%u $O/users.passwd
}

mail_location = maildir:~/Maildir
mail_plugins = \$mail_plugins listescape
namespace inbox {
  inbox = yes
  separator = /
  mailbox "Sent Items" {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox "Deleted Items" {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox "Junk Email" {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}

protocol imap {
  # Exchange Online's list (no MULTIAPPEND); the AUTH= ones come from auth_mechanisms
  imap_capability = IMAP4 IMAP4rev1 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+
  mail_max_userip_connections = 1000
}
protocol pop3 {
  mail_max_userip_connections = 1000
}
default_process_limit = 1000
default_client_limit = 5000
default_vsz_limit = 1G

service imap-login {
  chroot =
  service_count = 0
  process_min_avail = 1
  client_limit = 1000
  inet_listener imap {
    port = $LAB_OAUTH_IMAP
  }
  inet_listener imaps {
    port = $LAB_OAUTH_IMAPS
    ssl = yes
  }
}
service pop3-login {
  chroot =
  service_count = 0
  client_limit = 1000
  inet_listener pop3 {
    port = $LAB_OAUTH_POP3
  }
  inet_listener pop3s {
    port = $LAB_OAUTH_POP3S
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  client_limit = 5000
}
service submission-login {
  chroot =
}
service imap-urlauth-login {
  chroot =
}
service managesieve-login {
  chroot =
}
EOF
	mv "$D/dovecot.conf.tmp" "$D/dovecot.conf"
}

write_env() {
	cat >"$O/lab.env.tmp" <<EOF
# written by contrib/lab/oauth/oauth.sh up
LAB_CA=$LAB_RUN/ca.pem
LAB_OAUTH_ADDR=$LAB_OAUTH_ADDR
LAB_OAUTH_BEARER_ADDR=$LAB_OAUTH_BEARER_ADDR
LAB_OAUTH_IMAP=$LAB_OAUTH_IMAP
LAB_OAUTH_IMAPS=$LAB_OAUTH_IMAPS
LAB_OAUTH_POP3=$LAB_OAUTH_POP3
LAB_OAUTH_POP3S=$LAB_OAUTH_POP3S
LAB_OAUTH_IDP_URL=$IDP_URL
LAB_OAUTH_IDP_CONFIG=$O/idp/config.json
LAB_OAUTH_IDP_LOG=$O/idp/requests.jsonl
LAB_OAUTH_CONF=$O/dovecot/dovecot.conf
LAB_OAUTH_LOG=$O/dovecot/log/dovecot.log
LAB_OAUTH_BEARER_LOG=$O/dovecot-bearer/log/dovecot.log
EOF
	mv "$O/lab.env.tmp" "$O/lab.env"
}

# probe TIMEOUT: wait until the IdP answers its JWKS and every port of both
# instances greets
probe() {
	local eps="" a m v
	for a in "$LAB_OAUTH_ADDR" "$LAB_OAUTH_BEARER_ADDR"; do
		for m in imap imaps pop3 pop3s; do
			v=LAB_OAUTH_${m^^}
			eps="$eps $a:${!v}:$m"
		done
	done
	# shellcheck disable=SC2086 # one word per endpoint
	"$PY" - "$1" "$LAB_RUN/ca.pem" "$IDP_URL" $eps <<'PYEOF'
import socket, ssl, sys, time, urllib.request
deadline = time.monotonic() + float(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
url, pending = sys.argv[3], ["idp"] + sys.argv[4:]
def check(ep):
    if ep == "idp":
        urllib.request.urlopen(url + "/oauth2/v3/certs", context=ctx, timeout=2).read()
        return
    addr, port, mode = ep.split(":")
    with socket.create_connection((addr, int(port)), timeout=2) as s:
        if mode.endswith("s"):
            s = ctx.wrap_socket(s, server_hostname=addr)
        if not s.recv(512).startswith(b"* OK" if mode.startswith("imap") else b"+OK"):
            raise OSError("unexpected greeting")
err = None
while pending:
    left = []
    for ep in pending:
        try:
            check(ep)
        except Exception as e:
            left.append(ep)
            err = e
    pending = left
    if pending and time.monotonic() > deadline:
        sys.exit(f"not answering: {' '.join(pending)} ({err})")
    if pending:
        time.sleep(0.1)
PYEOF
}

cmd_up() {
	command -v "$DOVECOT" >/dev/null || die "dovecot not found (bash contrib/deps.sh)"
	"$PY" -c 'import cryptography' 2>/dev/null || die "python3-cryptography missing (bash contrib/deps.sh)"
	bash "$LAB_DIR/ca.sh" up
	mkdir -p "$O/idp"
	chmod 755 "$O"
	gen_users
	if [ ! -s "$O/idp/config.json" ]; then
		"$PY" "$here/idp.py" init "$O/idp" --base-url "$IDP_URL" --listen "$LAB_OAUTH_ADDR" \
			--port "$LAB_OAUTH_IDP_PORT" --tls-cert "$LAB_RUN/ca/server.pem" \
			--tls-key "$LAB_RUN/ca/server.key" --users "$O/users.txt" ||
			die "idp.py init failed"
	fi
	if ! idp_pid >/dev/null; then
		# setsid + closed fds: the IdP must not hold our lock or the caller's pipes
		setsid "$PY" "$here/idp.py" serve "$O/idp/config.json" \
			</dev/null >>"$O/idp/idp.err" 2>&1 8>&- &
		echo $! >"$O/idp/idp.pid"   # at once: a failing `up` must find it to stop it
	fi
	local inst
	for inst in $INSTANCES; do
		instance "$inst"
		dovecot_pid >/dev/null && continue
		mkdir -p "$D"
		gen_conf
		rm -f "$D/run/master.pid"
		if ! "$DOVECOT" -c "$D/dovecot.conf" 2>"$D/log/start.err" 8>&-; then
			cat "$D/log/start.err" >&2
			cmd_down
			die "dovecot ($inst) failed to start"
		fi
	done
	write_env
	if ! probe "${LAB_OAUTH_UP_TIMEOUT:-20}"; then
		tail -n 20 "$O/idp/idp.err" "$O"/dovecot*/log/dovecot.log >&2 2>/dev/null || true
		cmd_down
		die "lab did not come up"
	fi
	log "up: IdP $IDP_URL; OAuth2 Dovecot $LAB_OAUTH_ADDR (and $LAB_OAUTH_BEARER_ADDR with OAUTHBEARER)" \
		"imap $LAB_OAUTH_IMAP imaps $LAB_OAUTH_IMAPS pop3 $LAB_OAUTH_POP3 pop3s $LAB_OAUTH_POP3S"
}

# stop PID (TERM, bounded wait, KILL) and wait for CHILDREN...
stop_pid() {
	local p=$1 kids q
	shift
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 1 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	for _ in $(seq 1 100); do
		kids=""
		for q in "$@"; do kill -0 "$q" 2>/dev/null && kids="$kids $q"; done
		[ -z "$kids" ] && break
		sleep 0.05
	done
	# shellcheck disable=SC2086 # one word per pid
	[ -n "$kids" ] && kill -KILL $kids 2>/dev/null
	return 0
}

stop_idp() {
	local p
	p=$(idp_pid) || return 0
	stop_pid "$p"
	rm -f "$O/idp/idp.pid"
}

stop_dovecot() { # instance
	local p kids
	instance "$1"
	p=$(dovecot_pid) || return 0
	kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
	# shellcheck disable=SC2086 # one word per pid
	stop_pid "$p" $kids
	rm -f "$D/run/master.pid"
}

cmd_down() {
	# both at once: a Dovecot master takes ~2.5 s to wind down
	stop_dovecot dovecot-bearer &
	stop_dovecot dovecot
	wait
	stop_idp
	log "stopped"
}

cmd_status() {
	local rc=0 p inst
	if p=$(idp_pid); then echo "idp: running (pid $p) at $IDP_URL"; else echo "idp: stopped"; rc=3; fi
	for inst in $INSTANCES; do
		instance "$inst"
		if p=$(dovecot_pid); then echo "$inst: running (pid $p) on $ADDR"; else echo "$inst: stopped"; rc=3; fi
	done
	if [ $rc = 0 ] && ! probe 3 2>/dev/null; then
		echo "some ports do not answer"
		rc=3
	fi
	return $rc
}

lock() {
	mkdir -p "$O"
	exec 8>"$O/.lock"
	flock -w 120 8 || die "could not lock $O/.lock"
}

case "${1:-}" in
up) lock; cmd_up ;;
down) lock; cmd_down ;;
status) cmd_status ;;
doveadm)
	shift
	[ -f "$O/dovecot/dovecot.conf" ] || die "no config yet: run oauth.sh up"
	exec "$DOVEADM" -c "$O/dovecot/dovecot.conf" "$@" ;;
clean)
	lock
	cmd_down
	for inst in $INSTANCES; do
		instance "$inst"
		[ -L "$D/run" ] && rm -rf "$(readlink "$D/run")"
	done
	rm -rf "$O" ;;
*) echo "usage: $0 up|down|status|clean|doveadm ARGS..." >&2; exit 64 ;;
esac
