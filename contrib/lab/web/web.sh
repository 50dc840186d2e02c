#!/usr/bin/env bash
# Web part of the cutover lab: nginx (Debian's nginx-light) on loopback with
# TLS from the lab CA, playing webmail (OWA-like), autodiscover and a set of
# broken sites (expired / wrong-host / expiring certificates, a slow drip, a
# redirect loop, a 5xx). nginx runs directly as the calling user (root or
# not): `nginx -c CONF -p PREFIX`, nothing under /etc, no systemd. Files live
# in $LAB_RUN/web/ (LAB_RUN defaults to contrib/lab/run).
#
#   web.sh up       generate certificates, site files and nginx.conf; start nginx;
#                   wait (bounded) until it answers with this instance's id
#   web.sh down     stop it (no-op when not running)
#   web.sh status   exit 0 when running and answering, 3 otherwise
#
# Sites are chosen by name (SNI and Host), all on one address and two ports;
# the host names resolve through the DNS lab (zone web.test and the provider
# stand-ins). See contrib/lab/web/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_DIR=$(cd "$here/.." && pwd)
LAB_RUN=${LAB_RUN:-$LAB_DIR/run}
mkdir -p "$LAB_RUN"
LAB_RUN=$(cd "$LAB_RUN" && pwd)
export LAB_RUN
WEB=$LAB_RUN/web
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

: "${LAB_WEB_ADDR:=127.0.0.1}" "${LAB_WEB_HTTP_PORT:=8080}" "${LAB_WEB_HTTPS_PORT:=8443}"
# seconds `up` waits for nginx to answer, and `down` for it to exit
: "${LAB_WEB_WAIT:=8}"
# the lab's autodiscover users (Basic auth): user:password, space separated
: "${LAB_WEB_USERS:=alice@web.test:alice-web-pw alice@m365.test:alice-m365-pw alice@rs.test:alice-rs-pw}"

die() { echo "web.sh: $*" >&2; exit 1; }
log() { echo "web.sh: $*" >&2; }

pid_of() { # prints nginx's master pid when it runs with our config
	local p cmd
	[ -s "$WEB/nginx.pid" ] || return 1
	p=$(cat "$WEB/nginx.pid")
	[[ $p =~ ^[0-9]+$ ]] || return 1
	kill -0 "$p" 2>/dev/null || return 1
	cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *nginx* ]] || return 1
	echo "$p"
}

instance_id() { printf 'cutover-lab-web %s' "$(printf '%s' "$WEB" | cksum | cut -d' ' -f1)"; }

# ask ADDR PORT PATH HOST: the body of a plain-http GET (bash /dev/tcp, 2 s)
ask() {
	local out
	out=$(timeout 2 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$4" >&3
		cat <&3' _ "$1" "$2" "$3" "$4" 2>/dev/null) || return 1
	printf '%s' "${out#*$'\r\n\r\n'}"
}

answers() { # ADDR PORT: something accepts connections
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# ---- certificates: the lab CA (contrib/lab/ca.sh) signs the web names ------
CA=$LAB_RUN/ca
# issue NAME SAN DATES...: NAME.pem/.key in $WEB/tls, signed by the lab CA.
issue() {
	bash "$LAB_DIR/ca.sh" issue "$WEB/tls" "$@" >/dev/null || die "cannot issue $1.pem"
}

gen_certs() {
	# good: every lab web name except autodiscover.rs.test (like Rackspace,
	# whose certificate does not name its customers' domains)
	issue good "DNS:web.test,DNS:*.web.test,DNS:autodiscover.emailsrvr.com,DNS:autodiscover.outlook.com,DNS:autodiscover.m365.test,DNS:localhost,IP:127.0.0.1" -days 825
	issue expired "DNS:expired.web.test" -startdate 20200101000000Z -enddate 20200201000000Z
	issue expiring "DNS:expiring.web.test" -days 5
	# MTA-STS policy hosts (RFC 8461: https://mta-sts.DOMAIN/.well-known/mta-sts.txt)
	issue mtasts "DNS:mta-sts.enforce.sts.test,DNS:mta-sts.testing.sts.test,DNS:mta-sts.ok.sts.test,DNS:mta-sts.redirect.sts.test" -days 825
	cp "$CA/wrong-host.pem" "$WEB/tls/wrong-host.pem"
	cp "$CA/wrong-host.key" "$WEB/tls/wrong-host.key"
}

# ---- site files --------------------------------------------------------------
pox() { # DISPLAY PROTOCOL-XML...: an autodiscover POX response ([MS-OXDSCLI] 2.2.4)
	local name=$1
	shift
	cat <<EOF
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User>
      <DisplayName>$name</DisplayName>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
$(printf '%s\n' "$@")
    </Account>
  </Response>
</Autodiscover>
EOF
}

proto() { # TYPE SERVER PORT SSL [EXTRA-XML]
	printf '      <Protocol>\n        <Type>%s</Type>\n        <Server>%s</Server>\n' "$1" "$2"
	[ "$3" = - ] || printf '        <Port>%s</Port>\n' "$3"
	printf '        <SSL>%s</SSL>\n' "$4"
	[ -z "${5:-}" ] || printf '        %s\n' "$5"
	printf '      </Protocol>\n'
}

page() { # TITLE TEXT
	printf '<!doctype html>\n<html><head><title>%s</title></head>\n<body><h1>%s</h1><p>%s</p>\n<form method="post"><input name="username"><input name="password" type="password"></form></body></html>\n' "$1" "$1" "$2"
}

gen_sites() {
	local w=$WEB/www
	rm -rf "$w"
	mkdir -p "$w"/{owa/owa/auth,mail,webtest,emailsrvr,outlook,plain,expired,wrong,expiring,slow,autoconfig/mail}
	page "Outlook" "Sign in to Outlook on the web (lab)" >"$w/owa/owa/auth/logon.aspx"
	page "Webmail" "Sign in (lab destination webmail)" >"$w/mail/index.html"
	page "Webmail over plain http" "This page is served without TLS" >"$w/plain/index.html"
	# MTA-STS policies: the old provider's MX only (enforce, testing), and one that
	# already lists Microsoft 365's (ok)
	local d mode mx
	for d in enforce testing ok; do
		mode=enforce mx='*.mail.protection.outlook.com'
		[[ $d == testing ]] && mode=testing
		[[ $d != ok ]] && mx='*.old-provider.example'
		mkdir -p "$w/mta-sts/mta-sts.$d.sts.test/.well-known"
		printf 'version: STSv1\r\nmode: %s\r\nmx: mx1.old-provider.example\r\nmx: %s\r\nmax_age: 604800\r\n' \
			"$mode" "$mx" >"$w/mta-sts/mta-sts.$d.sts.test/.well-known/mta-sts.txt"
	done
	page "Expired" "Served with an expired certificate" >"$w/expired/index.html"
	page "Wrong host" "Served with a certificate for wrong.example" >"$w/wrong/index.html"
	page "Expiring" "Served with a certificate that expires in a few days" >"$w/expiring/index.html"
	# the drip: 256 KiB sent at 1 byte per second
	head -c 262144 /dev/zero | tr '\0' 'x' >"$w/slow/index.html"

	local webtest
	webtest=$(pox "Alice (web.test)" \
		"$(proto EXCH mail.web.test - on '<EwsUrl>https://mail.web.test/EWS/Exchange.asmx</EwsUrl>')" \
		"$(proto EXPR owa.web.test - on '<EwsUrl>https://owa.web.test/EWS/Exchange.asmx</EwsUrl>')" \
		"$(proto WEB owa.web.test - on '<OWAUrl AuthenticationMethod="Basic">https://owa.web.test/owa/</OWAUrl>')" \
		"$(proto IMAP mail.web.test 993 on)" \
		"$(proto SMTP mail.web.test 587 on '<Encryption>TLS</Encryption>')")
	for d in webtest mail; do
		mkdir -p "$w/$d/autodiscover"
		printf '%s\n' "$webtest" >"$w/$d/autodiscover/autodiscover.xml"
	done
	mkdir -p "$w/emailsrvr/autodiscover" "$w/outlook/autodiscover"
	pox "Alice (Rackspace lab)" \
		"$(proto IMAP secure.emailsrvr.com 993 on)" \
		"$(proto POP3 secure.emailsrvr.com 995 on)" \
		"$(proto SMTP secure.emailsrvr.com 465 on)" >"$w/emailsrvr/autodiscover/autodiscover.xml"
	pox "Alice (Microsoft 365 lab)" \
		"$(proto EXCH outlook.office365.com - on '<EwsUrl>https://outlook.office365.com/EWS/Exchange.asmx</EwsUrl>')" \
		"$(proto EXPR outlook.office365.com - on)" \
		"$(proto WEB outlook.office365.com - on '<OWAUrl AuthenticationMethod="Fba">https://outlook.office365.com/owa/</OWAUrl>')" \
		>"$w/outlook/autodiscover/autodiscover.xml"
	cat >"$w/autoconfig/mail/config-v1.1.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="web.test">
    <domain>web.test</domain>
    <displayName>web.test lab mail</displayName>
    <incomingServer type="imap">
      <hostname>mail.web.test</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>mail.web.test</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
EOF
	: >"$WEB/htpasswd.tmp"
	local u
	for u in $LAB_WEB_USERS; do
		printf '%s:%s\n' "${u%%:*}" "$(openssl passwd -apr1 "${u#*:}")" >>"$WEB/htpasswd.tmp"
	done
	chmod 644 "$WEB/htpasswd.tmp"
	mv "$WEB/htpasswd.tmp" "$WEB/htpasswd"
}

# ---- nginx.conf ----------------------------------------------------------------
gen_conf() {
	local L=$LAB_WEB_ADDR H=$LAB_WEB_HTTP_PORT S=$LAB_WEB_HTTPS_PORT T=$WEB/tls W=$WEB/www
	local user=""
	# As root the master would switch its workers to "nobody", who may not
	# read a private LAB_RUN (pytest's are 0700): keep them as root.
	[ "$(id -u)" = 0 ] && user="user root root;"
	local ad="location = /autodiscover/autodiscover.xml {
            auth_basic \"autodiscover\";
            auth_basic_user_file $WEB/htpasswd;
            default_type text/xml;
            # POST to a static file is 405; serve the file instead (as GET)
            error_page 405 =200 \$uri;
        }"
	local ews="location = /EWS/Exchange.asmx {
            auth_basic \"EWS\";
            auth_basic_user_file $WEB/htpasswd;
            add_header WWW-Authenticate 'Negotiate' always;
        }"
	mkdir -p "$WEB/tmp" "$WEB/logs"
	cat >"$WEB/nginx.conf.tmp" <<EOF
# Generated by contrib/lab/web/web.sh; do not edit.
$user
worker_processes 1;
pid $WEB/nginx.pid;
error_log $WEB/logs/error.log notice;
events { worker_connections 256; }
http {
    access_log $WEB/logs/access.log;
    client_body_temp_path $WEB/tmp/body;
    proxy_temp_path $WEB/tmp/proxy;
    fastcgi_temp_path $WEB/tmp/fastcgi;
    uwsgi_temp_path $WEB/tmp/uwsgi;
    scgi_temp_path $WEB/tmp/scgi;
    types { text/html html aspx; text/xml xml; }
    default_type text/html;
    server_tokens off;
    # Location headers without scheme and port: clients resolve them against
    # the URL they asked, so --connect-to keeps working across redirects.
    absolute_redirect off;
    ssl_protocols TLSv1.2 TLSv1.3;

    # ---- plain http ($H) ----
    server {
        listen $L:$H default_server;
        server_name _;
        location = /.lab-id { default_type text/plain; return 200 "$(instance_id)"; }
        location / { return 404; }
    }
    # Autodiscover, HTTP redirect method ([MS-OXDSCLI] 3.1.5.4), as Rackspace does it.
    server {
        listen $L:$H;
        server_name autodiscover.rs.test;
        location = /autodiscover/autodiscover.xml {
            absolute_redirect on;
            return 302 https://autodiscover.emailsrvr.com/autodiscover/autodiscover.xml;
        }
        location / { return 404; }
    }
    server {
        listen $L:$H;
        server_name plain.web.test;
        root $W/plain;
    }

    # ---- https ($S), by SNI ----
    server {
        listen $L:$S ssl default_server;
        server_name _;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        location / { return 404; }
    }
    server {
        listen $L:$S ssl;
        server_name owa.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/owa;
        location = / { return 302 /owa/; }
        location = /owa { return 301 /owa/; }
        location = /owa/ { return 302 /owa/auth/logon.aspx?url=%2Fowa%2F; }
        location /owa/auth/ { }
        $ews
    }
    server {
        listen $L:$S ssl;
        server_name mail.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/mail;
        $ews
        $ad
    }
    server {
        listen $L:$S ssl;
        server_name auth.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/mail;
        auth_basic "webmail";
        auth_basic_user_file $WEB/htpasswd;
    }
    server {
        listen $L:$S ssl;
        server_name web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/webtest;
        $ad
        location / { return 404; }
    }
    server {
        listen $L:$S ssl;
        server_name autoconfig.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/autoconfig;
    }
    server {
        listen $L:$S ssl;
        server_name autodiscover.emailsrvr.com;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/emailsrvr;
        $ad
        location / { return 404; }
    }
    server {
        listen $L:$S ssl;
        server_name autodiscover.outlook.com autodiscover.m365.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/outlook;
        $ad
        location / { return 404; }
    }
    server {
        listen $L:$S ssl;
        server_name expired.web.test;
        ssl_certificate $T/expired.pem;
        ssl_certificate_key $T/expired.key;
        root $W/expired;
    }
    server {
        listen $L:$S ssl;
        server_name wrong.web.test;
        ssl_certificate $T/wrong-host.pem;
        ssl_certificate_key $T/wrong-host.key;
        root $W/wrong;
    }
    server {
        listen $L:$S ssl;
        server_name expiring.web.test;
        ssl_certificate $T/expiring.pem;
        ssl_certificate_key $T/expiring.key;
        root $W/expiring;
    }
    # A server that drips: headers and 1 KiB at once, then one byte per second.
    server {
        listen $L:$S ssl;
        server_name slow.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        root $W/slow;
        sendfile off;
        limit_rate 1;
        limit_rate_after 1024;
    }
    server {
        listen $L:$S ssl;
        server_name loop.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        location = / { return 302 /a; }
        location = /a { return 302 /b; }
        location = /b { return 302 /a; }
    }
    server {
        listen $L:$S ssl;
        server_name mta-sts.enforce.sts.test mta-sts.testing.sts.test mta-sts.ok.sts.test;
        ssl_certificate $T/mtasts.pem;
        ssl_certificate_key $T/mtasts.key;
        root $WEB/www/mta-sts/\$host;
        location = /.well-known/mta-sts.txt { default_type text/plain; }
        location / { return 404; }
    }
    server {
        listen $L:$S ssl;
        server_name mta-sts.redirect.sts.test;
        ssl_certificate $T/mtasts.pem;
        ssl_certificate_key $T/mtasts.key;
        location / { return 302 https://mta-sts.ok.sts.test\$request_uri; }
    }
    server {
        listen $L:$S ssl;
        server_name error.web.test;
        ssl_certificate $T/good.pem;
        ssl_certificate_key $T/good.key;
        location / { return 503; }
    }
}
EOF
	mv "$WEB/nginx.conf.tmp" "$WEB/nginx.conf"
}

write_env() {
	cat >"$WEB/lab.env.tmp" <<EOF
# written by contrib/lab/web/web.sh up
LAB_WEB_ADDR=$LAB_WEB_ADDR
LAB_WEB_HTTP_PORT=$LAB_WEB_HTTP_PORT
LAB_WEB_HTTPS_PORT=$LAB_WEB_HTTPS_PORT
LAB_WEB_CONF=$WEB/nginx.conf
LAB_CA=$LAB_RUN/ca.pem
EOF
	mv "$WEB/lab.env.tmp" "$WEB/lab.env"
}

cmd_down() {
	local p
	p=$(pid_of) || { log "not running"; rm -f "$WEB/nginx.pid"; return 0; }
	kill -QUIT "$p" 2>/dev/null || true
	local i
	for ((i = 0; i < LAB_WEB_WAIT * 20; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$p" 2>/dev/null; then
		log "nginx $p did not stop in $LAB_WEB_WAIT s, killing"
		kill -KILL "$p" 2>/dev/null || true
	fi
	rm -f "$WEB/nginx.pid"
	log "stopped"
}

cmd_up() {
	[ -x "$NGINX" ] || die "nginx not found (apt-get install nginx-light)"
	if pid_of >/dev/null; then
		cmd_down
	fi
	local port
	for port in "$LAB_WEB_HTTP_PORT" "$LAB_WEB_HTTPS_PORT"; do
		if answers "$LAB_WEB_ADDR" "$port"; then
			die "something already listens on $LAB_WEB_ADDR:$port (another lab? set LAB_WEB_HTTP_PORT / LAB_WEB_HTTPS_PORT)"
		fi
	done
	bash "$LAB_DIR/ca.sh" up
	mkdir -p "$WEB/tls"
	gen_certs
	gen_sites
	gen_conf
	write_env
	if ! "$NGINX" -t -q -c "$WEB/nginx.conf" -p "$WEB" -e "$WEB/logs/error.log" 2>"$WEB/logs/start.err"; then
		cat "$WEB/logs/start.err" >&2
		die "nginx rejects $WEB/nginx.conf"
	fi
	# 8>&-: nginx must not inherit (and so hold) our lock
	if ! "$NGINX" -c "$WEB/nginx.conf" -p "$WEB" -e "$WEB/logs/error.log" 2>"$WEB/logs/start.err" 8>&-; then
		cat "$WEB/logs/start.err" >&2
		die "nginx failed to start"
	fi
	local i id
	id=$(instance_id)
	for ((i = 0; i < LAB_WEB_WAIT * 10; i++)); do
		if [ "$(ask "$LAB_WEB_ADDR" "$LAB_WEB_HTTP_PORT" /.lab-id lab 2>/dev/null)" = "$id" ] &&
			answers "$LAB_WEB_ADDR" "$LAB_WEB_HTTPS_PORT"; then
			log "up (pid $(pid_of)): http $LAB_WEB_ADDR:$LAB_WEB_HTTP_PORT https $LAB_WEB_ADDR:$LAB_WEB_HTTPS_PORT"
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$WEB/logs/error.log" >&2 2>/dev/null || true
	cmd_down
	die "nginx did not answer within $LAB_WEB_WAIT s"
}

cmd_status() {
	local p
	if ! p=$(pid_of); then
		echo "web: stopped"
		return 3
	fi
	if [ "$(ask "$LAB_WEB_ADDR" "$LAB_WEB_HTTP_PORT" /.lab-id lab 2>/dev/null)" = "$(instance_id)" ]; then
		echo "web: running (pid $p) on http $LAB_WEB_ADDR:$LAB_WEB_HTTP_PORT https $LAB_WEB_ADDR:$LAB_WEB_HTTPS_PORT"
		return 0
	fi
	echo "web: nginx runs (pid $p) but does not answer on $LAB_WEB_ADDR:$LAB_WEB_HTTP_PORT"
	return 3
}

lock() {
	mkdir -p "$WEB"
	chmod 755 "$WEB"
	exec 8>"$WEB/.lock"
	flock -w 60 8 || die "could not lock $WEB/.lock"
}

case "${1:-}" in
up) lock; cmd_up ;;
down) lock; cmd_down ;;
status) cmd_status ;;
*) echo "usage: web.sh up|down|status" >&2; exit 2 ;;
esac
