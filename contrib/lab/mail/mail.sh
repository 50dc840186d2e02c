#!/usr/bin/env bash
# Mail part of the cutover lab: three Dovecot instances, "source",
# "destination" and "hoster" (a source shaped like the servers many hosters
# still run: INBOX. namespace prefix, '.' separator, no SPECIAL-USE, no
# LIST-EXTENDED, a public namespace), on loopback and unprivileged ports, with TLS from the lab CA
# (contrib/lab/ca.sh). Everything lives under $LAB_RUN/mail/ (LAB_RUN defaults
# to contrib/lab/run); nothing under /etc, no systemd.
#
#   mail.sh up                      generate configs/users, start both, wait for every port
#   mail.sh down                    stop both (no-op when not running)
#   mail.sh status                  print state; exit 0 only when both run and answer
#   mail.sh doveadm SIDE ARGS...    run doveadm against one instance
#                                   (e.g. mail.sh doveadm source mailbox status -u alice@lab.test messages vsize '*')
#   mail.sh conf SIDE               print the path of SIDE's dovecot.conf
#   mail.sh populate [ARGS]         run populate.py (fill the mailboxes, write manifest.json)
#   mail.sh check                   run check.py (self-test of the running lab)
#   mail.sh connections SIDE [ARGS] run connections.py on SIDE's log (count connections)
#   mail.sh restart                 down, then up (applies changed port variables)
#   mail.sh clean                   down, then remove $LAB_RUN/mail
#
# See contrib/lab/mail/README.md for ports, users, folders and log format.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=$(cd "$here/.." && pwd)
# shellcheck source=contrib/lab/dovecot.sh
. "$LAB_DIR/dovecot.sh"
LAB_RUN=${LAB_RUN:-$LAB_DIR/run}
mkdir -p "$LAB_RUN"
LAB_RUN=$(cd "$LAB_RUN" && pwd)
export LAB_RUN
MAIL_RUN=$LAB_RUN/mail
PY=${LAB_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
DOVECOT=${DOVECOT:-dovecot}
DOVEADM=${DOVEADM:-doveadm}

# ports (override through the environment before `up`)
: "${LAB_SRC_IMAP:=10143}" "${LAB_SRC_IMAPS:=10993}" "${LAB_SRC_POP3:=10110}" "${LAB_SRC_POP3S:=10995}"
: "${LAB_DST_IMAP:=20143}" "${LAB_DST_IMAPS:=20993}" "${LAB_DST_POP3:=20110}" "${LAB_DST_POP3S:=20995}"
: "${LAB_HST_IMAP:=30143}" "${LAB_HST_IMAPS:=30993}" "${LAB_HST_POP3:=30110}" "${LAB_HST_POP3S:=30995}"
# listening addresses. The destination is NOT on 127.0.0.1: Dovecot treats a
# connection whose remote IP equals its local IP as "secured" and would then
# allow plaintext logins and hide LOGINDISABLED. Clients connecting to
# 127.0.0.2 come from 127.0.0.1, so the destination's plain ports behave like
# a remote server's.
: "${LAB_SRC_ADDR:=127.0.0.1}" "${LAB_DST_ADDR:=127.0.0.2}"
# extra source addresses whose listeners present other certificates
: "${LAB_SRC_WRONGHOST_ADDR:=127.0.0.3}" "${LAB_SRC_EXPIRING_ADDR:=127.0.0.4}" "${LAB_SRC_EXPIRED_ADDR:=127.0.0.5}"
# a source address whose listeners offer no TLS at all (no STARTTLS/STLS): for
# clients that must refuse to send a password in clear
: "${LAB_SRC_NOTLS_ADDR:=127.0.0.6}"
# the "hoster" source (see the top of this file)
: "${LAB_HST_ADDR:=127.0.0.7}"
# quota defaults (per-user overrides live in gen-users)
: "${LAB_SRC_QUOTA:=2G}" "${LAB_DST_QUOTA:=1G}"
# LAB_MAIL_IPV6=0 disables the ::1 listeners; LAB_MAIL_DEBUG=1 enables auth/mail debug logging
: "${LAB_MAIL_IPV6:=auto}" "${LAB_MAIL_DEBUG:=0}"

die() { echo "mail.sh: $*" >&2; exit 1; }
log() { echo "mail.sh: $*" >&2; }

side_dir() { echo "$MAIL_RUN/$1"; }
conf_of() { echo "$MAIL_RUN/$1/dovecot.conf"; }
pid_of() { # prints the master pid when running
    local f
    f=$(side_dir "$1")/run/master.pid
    [ -s "$f" ] || return 1
    local p
    p=$(cat "$f")
    kill -0 "$p" 2>/dev/null || return 1
    # make sure the pid is really a dovecot master (pid reuse)
    grep -q dovecot "/proc/$p/comm" 2>/dev/null || return 1
    echo "$p"
}

check_side() {
    case "$1" in source|destination|hoster) ;; *) die "side must be source, destination or hoster, not '$1'" ;; esac
}

ipv6_ok() {
    case "$LAB_MAIL_IPV6" in
        0|no|false) return 1 ;;
        1|yes|true) return 0 ;;
    esac
    "$PY" -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null
}

# ---------------------------------------------------------------- users
# Deterministic users and passwords, written to:
#   $MAIL_RUN/users.tsv        side, role, user, password  (tab separated, no quoting)
#   $MAIL_RUN/users.json       the same as JSON
#   $MAIL_RUN/mailboxes.csv    RFC 4180, header source_user,source_password,dest_user,dest_password
#   $MAIL_RUN/mailboxes-200.csv  the same for user001..user200 only
#   $MAIL_RUN/{source,destination}/users.passwd, masters.passwd   (Dovecot passwd-files)
gen_users() {
    "$PY" - "$MAIL_RUN" "$LAB_SRC_QUOTA" "$LAB_DST_QUOTA" <<'PYEOF'
import csv, json, os, sys
run, src_quota, dst_quota = sys.argv[1], sys.argv[2], sys.argv[3]
sides = ("source", "destination", "hoster")
tag = {"source": "src", "destination": "dst", "hoster": "hst"}
users = []  # (side, role, user, password, extra userdb fields)
for side in sides:
    t = tag[side]
    if side == "hoster":  # a small source: alice and bob, and the masters
        users.append((side, "user", "alice@lab.test", "alice-hst-Secret1", []))
        users.append((side, "user", "bob@lab.test", "bob-hst-Secret2", []))
        for m in ("admin", "admin@lab.test"):
            users.append((side, "master", m, f"admin-{t}-Master9", []))
        continue
    users.append((side, "user", "alice@lab.test", f"alice-{t}-Secret1", []))
    bob_extra = ["userdb_quota_rule=*:storage=10M"] if side == "destination" else []
    users.append((side, "user", "bob@lab.test", f"bob-{t}-Secret2", bob_extra))
    carol_pw = 'pa"ss\\wörd' if side == "source" else 'dst pa"ss\\wörd'
    carol_extra = ["userdb_quota_rule=*:storage=100K"] if side == "destination" else []
    users.append((side, "user", "carol@lab.test", carol_pw, carol_extra))
    for i in range(1, 201):
        users.append((side, "user", f"user{i:03d}@lab.test", f"u{i:03d}-{t}-pw", []))
    for m in ("admin", "admin@lab.test"):
        users.append((side, "master", m, f"admin-{t}-Master9", []))

for side in sides:
    d = os.path.join(run, side)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "users.passwd.tmp"), "w", encoding="utf-8") as f:
        for s, role, u, pw, extra in users:
            if s == side and role == "user":
                home = os.path.join(d, "home", u)
                f.write(f"{u}:{{PLAIN}}{pw}:::{''}:{home}::{' '.join(extra)}\n")
    with open(os.path.join(d, "masters.passwd.tmp"), "w", encoding="utf-8") as f:
        for s, role, u, pw, extra in users:
            if s == side and role == "master":
                f.write(f"{u}:{{PLAIN}}{pw}\n")
    for n in ("users.passwd", "masters.passwd"):
        os.chmod(os.path.join(d, n + ".tmp"), 0o644)
        os.replace(os.path.join(d, n + ".tmp"), os.path.join(d, n))

with open(os.path.join(run, "users.tsv"), "w", encoding="utf-8") as f:
    f.write("side\trole\tuser\tpassword\n")
    for s, role, u, pw, extra in users:
        f.write(f"{s}\t{role}\t{u}\t{pw}\n")
with open(os.path.join(run, "users.json"), "w", encoding="utf-8") as f:
    json.dump([{"side": s, "role": r, "user": u, "password": p,
                "quota_rule": (e[0].split("=", 1)[1] if e else
                               "*:storage=" + (src_quota if s == "source" else dst_quota))}
               for s, r, u, p, e in users], f, ensure_ascii=False, indent=1)
    f.write("\n")
pw = {(s, u): p for s, r, u, p, e in users if r == "user"}
names = [u for s, r, u, p, e in users if s == "source" and r == "user"]
for fname, sel in (("mailboxes.csv", names),
                   ("mailboxes-200.csv", [n for n in names if n.startswith("user")])):
    with open(os.path.join(run, fname), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(["source_user", "source_password", "dest_user", "dest_password"])
        for n in sel:
            w.writerow([n, pw[("source", n)], n, pw[("destination", n)]])
PYEOF
}

# ---------------------------------------------------------------- config
gen_conf() { # side
    local side=$1 D
    D=$(side_dir "$side")
    local ca=$LAB_RUN/ca
    local imap imaps pop3 pop3s addrs sep plaintext quota
    local prefix="" capability="" public=""
    if [ "$side" = source ]; then
        imap=$LAB_SRC_IMAP imaps=$LAB_SRC_IMAPS pop3=$LAB_SRC_POP3 pop3s=$LAB_SRC_POP3S
        addrs="$LAB_SRC_ADDR, $LAB_SRC_WRONGHOST_ADDR, $LAB_SRC_EXPIRING_ADDR, $LAB_SRC_EXPIRED_ADDR, $LAB_SRC_NOTLS_ADDR"
        sep=. plaintext=no quota=$LAB_SRC_QUOTA
        ipv6_ok && addrs="$addrs, ::1"
    elif [ "$side" = hoster ]; then
        imap=$LAB_HST_IMAP imaps=$LAB_HST_IMAPS pop3=$LAB_HST_POP3 pop3s=$LAB_HST_POP3S
        addrs="$LAB_HST_ADDR"
        sep=. plaintext=no quota=$LAB_SRC_QUOTA prefix=INBOX.
        # what an old hoster's server (Courier-IMAP and the like) offers: no
        # SPECIAL-USE, no LIST-EXTENDED/LIST-STATUS, no STATUS=SIZE, no ESEARCH
        capability="imap_capability = IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS QUOTA"
        # a public namespace everyone sees (mail.sh populate fills it)
        public="namespace public {
  type = public
  separator = .
  prefix = Public.
  location = maildir:$D/public/Maildir:INDEX=~/public-index
  list = yes
  subscriptions = no
}"
    else
        imap=$LAB_DST_IMAP imaps=$LAB_DST_IMAPS pop3=$LAB_DST_POP3 pop3s=$LAB_DST_POP3S
        addrs="$LAB_DST_ADDR"
        sep=/ plaintext=yes quota=$LAB_DST_QUOTA
    fi

    local login_user internal_user internal_group mail_user mail_group
    dovecot_users

    local locals=""
    [ "$side" = source ] && locals="# hostname-mismatch / expiring / expired certificates on extra loopback addresses
local $LAB_SRC_WRONGHOST_ADDR {
  ssl_cert = <$ca/wrong-host.pem
  ssl_key = <$ca/wrong-host.key
}
local $LAB_SRC_EXPIRING_ADDR {
  ssl_cert = <$ca/expiring.pem
  ssl_key = <$ca/expiring.key
}
local $LAB_SRC_EXPIRED_ADDR {
  ssl_cert = <$ca/expired.pem
  ssl_key = <$ca/expired.key
}
# no STARTTLS/STLS offered here (plaintext-refusal tests)
local $LAB_SRC_NOTLS_ADDR {
  ssl = no
}"
    local dh=""
    [ -r /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
    local debug=""
    [ "$LAB_MAIL_DEBUG" = 1 ] && debug="auth_debug = yes
mail_debug = yes
verbose_ssl = yes"

    local mailboxes=""
    if [ "$side" = hoster ]; then
        mailboxes=""
    elif [ "$side" = source ]; then
        mailboxes='  mailbox Sent {
    special_use = \Sent
  }
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Junk {
    special_use = \Junk
  }'
    else
        mailboxes='  mailbox "Sent Items" {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Drafts {
    special_use = \Drafts
    auto = subscribe
  }
  mailbox "Deleted Items" {
    special_use = \Trash
    auto = subscribe
  }
  mailbox "Junk Email" {
    special_use = \Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
    auto = subscribe
  }'
    fi

    dovecot_short_run "$D" mail
    mkdir -p "$D/run/" "$D/state" "$D/log" "$D/home" "$D/public"
    if [ "$(id -u)" = 0 ]; then
        chown "$mail_user:$mail_group" "$D/home" "$D/public"
        # log files are opened by the master (root); the dirs only need traversal
        chmod 755 "$D" "$D/log" "$D/state"
    fi
    chmod 755 "$D/home" "$D/public"

    cat > "$D/dovecot.conf.tmp" <<EOF
# Generated by contrib/lab/mail/mail.sh for the "$side" lab instance. Do not edit:
# it is rewritten by every \`mail.sh up\` while the instance is stopped.
instance_name = cutover-lab-$side
base_dir = $(cd "$D/run/" && pwd -P)
state_dir = $D/state
protocols = imap pop3
listen = $addrs
shutdown_clients = yes

$(dovecot_logging "$D")
$debug

$(dovecot_users_ssl "$ca" "$dh")
$locals

disable_plaintext_auth = $plaintext
auth_mechanisms = plain login
auth_username_format = %Lu
auth_master_user_separator = *
# Dovecot delays failed logins by 2 s by default; keep tests fast. (Dovecot 2.3
# still answers a failed login only at its next 0.5 s failure-queue tick.)
auth_failure_delay = 0

passdb {
  driver = passwd-file
  master = yes
  args = scheme=PLAIN username_format=%u $D/masters.passwd
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users.passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $D/users.passwd
}

mail_location = maildir:~/Maildir
mail_plugins = \$mail_plugins quota listescape
namespace inbox {
  inbox = yes
  separator = $sep
  prefix = $prefix
$mailboxes
}
$public

plugin {
  quota = count:User quota
  quota_rule = *:storage=$quota
  quota_vsizes = yes
  quota_grace = 0
}

protocol imap {
  mail_plugins = \$mail_plugins imap_quota
  mail_max_userip_connections = 1000
  $capability
}
protocol pop3 {
  mail_max_userip_connections = 1000
}

# 200+ concurrent logins from 127.0.0.1
default_process_limit = 1000
default_client_limit = 5000
default_vsz_limit = 1G

service imap-login {
  chroot =
  service_count = 0
  process_min_avail = 2
  client_limit = 1000
  inet_listener imap {
    address = $addrs
    port = $imap
  }
  inet_listener imaps {
    address = $addrs
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  chroot =
  service_count = 0
  process_min_avail = 1
  client_limit = 1000
  inet_listener pop3 {
    address = $addrs
    port = $pop3
  }
  inet_listener pop3s {
    address = $addrs
    port = $pop3s
    ssl = yes
  }
}
service imap {
  process_limit = 1000
}
service pop3 {
  process_limit = 1000
}
$(dovecot_services)
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
EOF
    mv "$D/dovecot.conf.tmp" "$D/dovecot.conf"
}

write_env() {
    local f=$MAIL_RUN/lab.env
    cat > "$f.tmp" <<EOF
# written by contrib/lab/mail/mail.sh up
LAB_RUN=$LAB_RUN
LAB_CA=$LAB_RUN/ca.pem
LAB_SRC_ADDR=$LAB_SRC_ADDR
LAB_DST_ADDR=$LAB_DST_ADDR
LAB_SRC_IMAP=$LAB_SRC_IMAP
LAB_SRC_IMAPS=$LAB_SRC_IMAPS
LAB_SRC_POP3=$LAB_SRC_POP3
LAB_SRC_POP3S=$LAB_SRC_POP3S
LAB_DST_IMAP=$LAB_DST_IMAP
LAB_DST_IMAPS=$LAB_DST_IMAPS
LAB_DST_POP3=$LAB_DST_POP3
LAB_DST_POP3S=$LAB_DST_POP3S
LAB_HST_ADDR=$LAB_HST_ADDR
LAB_HST_IMAP=$LAB_HST_IMAP
LAB_HST_IMAPS=$LAB_HST_IMAPS
LAB_HST_POP3=$LAB_HST_POP3
LAB_HST_POP3S=$LAB_HST_POP3S
LAB_HST_CONF=$(conf_of hoster)
LAB_HST_LOG=$(side_dir hoster)/log/dovecot.log
LAB_SRC_WRONGHOST_ADDR=$LAB_SRC_WRONGHOST_ADDR
LAB_SRC_EXPIRING_ADDR=$LAB_SRC_EXPIRING_ADDR
LAB_SRC_EXPIRED_ADDR=$LAB_SRC_EXPIRED_ADDR
LAB_SRC_NOTLS_ADDR=$LAB_SRC_NOTLS_ADDR
LAB_SRC_CONF=$(conf_of source)
LAB_DST_CONF=$(conf_of destination)
LAB_SRC_LOG=$(side_dir source)/log/dovecot.log
LAB_DST_LOG=$(side_dir destination)/log/dovecot.log
LAB_MAIL_USERS=$MAIL_RUN/users.tsv
LAB_MAIL_MANIFEST=$MAIL_RUN/manifest.json
LAB_SRC_IPV6=$(ipv6_ok && echo 1 || echo 0)
EOF
    mv "$f.tmp" "$f"
}

ports_of() { # side -> "addr:port:mode" list
    if [ "$1" = source ]; then
        local a=$LAB_SRC_ADDR
        echo "$a:$LAB_SRC_IMAP:imap $a:$LAB_SRC_IMAPS:imaps $a:$LAB_SRC_POP3:pop3 $a:$LAB_SRC_POP3S:pop3s $LAB_SRC_WRONGHOST_ADDR:$LAB_SRC_IMAPS:imaps $LAB_SRC_EXPIRING_ADDR:$LAB_SRC_IMAPS:imaps $LAB_SRC_EXPIRED_ADDR:$LAB_SRC_IMAPS:imaps"
    elif [ "$1" = hoster ]; then
        local a=$LAB_HST_ADDR
        echo "$a:$LAB_HST_IMAP:imap $a:$LAB_HST_IMAPS:imaps $a:$LAB_HST_POP3:pop3 $a:$LAB_HST_POP3S:pop3s"
    else
        local a=$LAB_DST_ADDR
        echo "$a:$LAB_DST_IMAP:imap $a:$LAB_DST_IMAPS:imaps $a:$LAB_DST_POP3:pop3 $a:$LAB_DST_POP3S:pop3s"
    fi
}

# probe TIMEOUT addr:port:mode...  -> 0 when every endpoint answers a greeting
probe() {
    "$PY" - "$@" <<'PYEOF'
import socket, ssl, sys, time
deadline = time.monotonic() + float(sys.argv[1])
pending = sys.argv[2:]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def greet(ep):
    host, port, mode = ep.rsplit(":", 2)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        if mode.endswith("s"):
            s = ctx.wrap_socket(s)
        s.settimeout(2)
        data = s.recv(512)
        want = b"* OK" if mode.startswith("imap") else b"+OK"
        if not data.startswith(want):
            raise OSError(f"unexpected greeting {data[:60]!r}")
while True:
    left = []
    for ep in pending:
        try:
            greet(ep)
        except Exception as e:
            left.append(ep)
            err = e
    pending = left
    if not pending:
        sys.exit(0)
    if time.monotonic() > deadline:
        print("not answering: " + " ".join(pending) + f" ({err})", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
PYEOF
}

STARTED=""
start_side() { # side -> 0 ok (started or already running), 1 failed
    local side=$1 D conf p
    D=$(side_dir "$side"); conf=$(conf_of "$side")
    if p=$(pid_of "$side"); then
        log "$side already running (pid $p)"
        return 0
    fi
    gen_conf "$side"
    rm -f "$D/run/master.pid"
    # 8>&-: the daemon must not inherit (and so hold) our lock
    if ! "$DOVECOT" -c "$conf" 2>"$D/log/start.err" 8>&-; then
        cat "$D/log/start.err" >&2
        tail -n 20 "$D/log/dovecot.log" >&2 2>/dev/null || true
        log "$side: dovecot failed to start"
        return 1
    fi
    STARTED="$STARTED $side"
}

# stop what this call started, then fail
abort_up() {
    local side
    for side in $STARTED; do stop_side "$side"; done
    die "$1"
}

cmd_up() {
    command -v "$DOVECOT" >/dev/null || die "dovecot not found (apt-get install dovecot-imapd dovecot-pop3d)"
    "$LAB_DIR/ca.sh" up
    gen_users
    local side
    for side in source destination hoster; do
        start_side "$side" || abort_up "lab did not come up ($side failed to start)"
    done
    write_env
    local eps
    eps="$(ports_of source) $(ports_of destination) $(ports_of hoster)"
    if ! probe "${LAB_MAIL_UP_TIMEOUT:-20}" $eps; then
        for side in source destination hoster; do
            tail -n 20 "$(side_dir "$side")/log/dovecot.log" >&2 2>/dev/null || true
        done
        abort_up "lab did not come up"
    fi
    log "up: source $LAB_SRC_ADDR imap $LAB_SRC_IMAP imaps $LAB_SRC_IMAPS pop3 $LAB_SRC_POP3 pop3s $LAB_SRC_POP3S;" \
        "destination $LAB_DST_ADDR imap $LAB_DST_IMAP imaps $LAB_DST_IMAPS pop3 $LAB_DST_POP3 pop3s $LAB_DST_POP3S;" \
        "hoster $LAB_HST_ADDR imap $LAB_HST_IMAP imaps $LAB_HST_IMAPS"
}

stop_side() { # side
    local side=$1 p kids
    p=$(pid_of "$side") || { log "$side not running"; return 0; }
    kids=$(children_of "$p")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 200); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$p" 2>/dev/null; then
        log "$side: master $p did not stop in 10 s, killing"
        kill -KILL "$p" 2>/dev/null || true
    fi
    # the master's children notice its end and exit; wait for them (bounded)
    local left
    for _ in $(seq 1 100); do
        left=$(alive $kids)
        [ -z "$left" ] && break
        sleep 0.05
    done
    if [ -n "$left" ]; then
        log "$side: killing leftover processes $left"
        kill -KILL $left 2>/dev/null || true
    fi
    rm -f "$(side_dir "$side")/run/master.pid"
    log "$side stopped"
}

# direct children of a pid (Dovecot's services are all children of the master)
children_of() {
    local st pid ppid
    for st in /proc/[0-9]*/stat; do
        # field 4 is the ppid; comm (field 2) has no spaces for dovecot processes
        read -r pid _ _ ppid _ 2>/dev/null < "$st" || continue
        [ "$ppid" = "$1" ] && echo "$pid"
    done
    return 0
}

alive() { # pids... -> those still running
    local q
    for q in "$@"; do
        kill -0 "$q" 2>/dev/null && echo "$q"
    done
    return 0
}

cmd_down() {
    # both at once: a Dovecot master takes ~2.5 s to wind down after SIGTERM
    stop_side destination &
    local bg=$!
    stop_side hoster &
    local bg2=$!
    stop_side source
    wait "$bg" "$bg2"
}

cmd_status() {
    local side rc=0 p
    for side in source destination hoster; do
        if p=$(pid_of "$side"); then
            # shellcheck disable=SC2046 # one word per endpoint
            if probe 3 $(ports_of "$side") 2>/dev/null; then
                echo "$side: running (pid $p), all ports answer: $(ports_of "$side")"
            else
                echo "$side: running (pid $p), but some ports do not answer"
                rc=3
            fi
        else
            echo "$side: stopped"
            rc=3
        fi
    done
    return $rc
}

# serialise up/down/restart/clean of one LAB_RUN (lab.sh and tests may race)
lock() {
    mkdir -p "$MAIL_RUN"
    chmod 755 "$MAIL_RUN"
    exec 8>"$MAIL_RUN/.lock"
    flock -w 120 8 || die "could not lock $MAIL_RUN/.lock"
}

case "${1:-}" in
    up) lock; cmd_up ;;
    down) lock; cmd_down ;;
    status) cmd_status ;;
    restart) lock; cmd_down; cmd_up ;;
    doveadm)
        [ $# -ge 2 ] || die "usage: mail.sh doveadm source|destination ARGS..."
        check_side "$2"
        conf=$(conf_of "$2"); shift 2
        [ -f "$conf" ] || die "no config yet: run mail.sh up"
        exec "$DOVEADM" -c "$conf" "$@" ;;
    conf)
        check_side "${2:-}"
        conf_of "$2" ;;
    check) exec "$PY" "$here/check.py" ;;
    populate) shift; exec "$PY" "$here/populate.py" "$@" ;;
    connections)
        [ $# -ge 2 ] || die "usage: mail.sh connections source|destination [connections.py options]"
        check_side "$2"
        log_file=$(side_dir "$2")/log/dovecot.log; shift 2
        exec "$PY" "$here/connections.py" "$log_file" "$@" ;;
    clean)
        lock
        cmd_down
        for side in source destination hoster; do
            [ -L "$MAIL_RUN/$side/run" ] && rm -rf "$(readlink "$MAIL_RUN/$side/run")"
        done
        rm -rf "$MAIL_RUN" ;;
    *) echo "usage: $0 up|down|status|restart|clean|check|populate [ARGS]|doveadm SIDE ARGS...|connections SIDE [ARGS]|conf SIDE" >&2; exit 64 ;;
esac
