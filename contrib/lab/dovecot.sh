# shellcheck shell=bash
# dovecot.sh - the Dovecot set-up the mail lab (mail/mail.sh) and the OAuth2
# lab (oauth/oauth.sh) share. Sourced by both; defines functions only.

# Set mail_user, mail_group (who owns the mail), internal_user, internal_group
# (Dovecot's own processes) and login_user (the login processes) in the
# caller, which declares them local.
# shellcheck disable=SC2034 # set for the caller
dovecot_users() {
	if [ "$(id -u)" = 0 ]; then
		# Dovecot never lets imap/pop3 run as uid 0: mail belongs to an unprivileged user.
		mail_user=${LAB_MAIL_USER:-nobody}
		mail_group=${LAB_MAIL_GROUP:-$(id -gn "$mail_user")}
		internal_user=dovecot internal_group=dovecot login_user=dovenull
		id dovecot >/dev/null 2>&1 || internal_user=$mail_user internal_group=$mail_group
		id dovenull >/dev/null 2>&1 || login_user=$mail_user
	else
		mail_user=$(id -un) mail_group=$(id -gn) login_user=$mail_user
		internal_user=$mail_user internal_group=$mail_group
	fi
}

# dovecot_short_run DIR NAME: Unix socket paths are limited to 107 bytes, so
# with a deep LAB_RUN the base_dir goes to a short path in /tmp
# (cutover-NAME-HASH) and DIR/run links to it.
dovecot_short_run() {
	local short
	if [ ${#1} -gt 70 ] && [ ! -d "$1/run" ]; then
		short=${TMPDIR:-/tmp}/cutover-$2-$(printf '%s' "$1" | md5sum | cut -c1-12)
		mkdir -p "$short" "$1"
		chmod 755 "$short"
		ln -sfn "$short" "$1/run"
	fi
}

# The service blocks of dovecot.conf both labs need (on stdout).
dovecot_services() {
	cat <<'CONF'
service anvil {
  chroot =
  # no auth penalty: tests log in with bad passwords from 127.0.0.1 on purpose,
  # and anvil would otherwise delay every later login from there by up to 15 s
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
CONF
}

# dovecot_logging DIR: the logging settings of dovecot.conf (on stdout): one
# log file, DIR/log/dovecot.log, with the login lines the tests count.
dovecot_logging() {
	cat <<CONF
log_path = $1/log/dovecot.log
info_log_path = $1/log/dovecot.log
debug_log_path = $1/log/dovecot.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
# one line per login with the connection's addresses/ports and session id,
# see contrib/lab/mail/README.md "Counting connections"
login_log_format_elements = user=<%u> method=%m rip=%r rport=%{rport} lip=%l lport=%{lport} mpid=%e %c session=<%{session}>
login_log_format = %\$: %s
mail_log_prefix = "%s(%u)<%{pid}><%{session}>: "
auth_verbose = yes
CONF
}

# dovecot_users_ssl CA DH: the users (dovecot_users' variables, set in the
# caller) and the TLS settings with the lab CA's server certificate in CA and
# DH (an ssl_dh line, or empty), on stdout.
dovecot_users_ssl() {
	cat <<CONF
default_internal_user = $internal_user
default_internal_group = $internal_group
default_login_user = $login_user
mail_uid = $mail_user
mail_gid = $mail_group
first_valid_uid = $(id -u "$mail_user")
last_valid_uid = 0

ssl = yes
ssl_cert = <$1/server.pem
ssl_key = <$1/server.key
$2
ssl_min_protocol = TLSv1.2
CONF
}
