#!/usr/bin/env bash
# Lab certificate authority for the cutover test lab.
#
# Creates, idempotently, under $LAB_RUN/ca/ (LAB_RUN defaults to contrib/lab/run):
#   ca.pem, ca.key                 the lab CA (not in any system trust store)
#   server.pem, server.key         valid for localhost, lab.test, *.lab.test,
#                                  127.0.0.1, ::1 (and 127.0.0.2-127.0.0.9)
#   wrong-host.pem, wrong-host.key valid only for wrong.example (hostname mismatch)
#   expired.pem, expired.key       same names as server.pem, expired in 2020
#   expiring.pem, expiring.key     same names as server.pem, expires in 3-5 days
#   *-chain.pem                    leaf + CA, for servers that want a chain file
# and copies ca.pem to $LAB_RUN/ca.pem.
#
# Safe to call from several lab parts at once (flock). A certificate is re-made
# when missing, not signed by the current CA, or (expiring.pem) when it would
# expire in less than 3 days; server/wrong-host are re-made 30 days before they
# expire. `ca.sh clean` removes $LAB_RUN/ca and $LAB_RUN/ca.pem.
#
# `ca.sh issue OUTDIR NAME SAN DATES...` also issues OUTDIR/NAME.pem (+ .key,
# -chain.pem) from the lab CA for another lab part, e.g.
#   ca.sh issue run/web/tls good "DNS:web.test,DNS:*.web.test" -days 825
# (CN = the first SAN's value; DATES: -days N | -startdate X -enddate Y).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_RUN=${LAB_RUN:-$here/run}
mkdir -p "$LAB_RUN"
LAB_RUN=$(cd "$LAB_RUN" && pwd)
CA_DIR=$LAB_RUN/ca

if [ "${1:-}" = clean ]; then
    rm -rf "$CA_DIR" "$LAB_RUN/ca.pem"
    exit 0
fi
issue_out=
if [ "${1:-}" = issue ]; then
    if [ $# -lt 5 ]; then
        echo "usage: $0 issue OUTDIR NAME SAN DATES..." >&2
        exit 64
    fi
    mkdir -p "$2"
    issue_out=$(cd "$2" && pwd)
    shift 2
    issue_args=("$@")
elif [ $# -gt 0 ] && [ "$1" != up ]; then
    echo "usage: $0 [up|clean|issue OUTDIR NAME SAN DATES...]" >&2
    exit 64
fi

mkdir -p "$CA_DIR"
chmod 755 "$CA_DIR"
exec 9>"$CA_DIR/.lock"
flock -w 60 9 || { echo "ca.sh: could not lock $CA_DIR/.lock" >&2; exit 1; }

cd "$CA_DIR"
umask 022

log() { echo "ca.sh: $*" >&2; }

newkey() { # file mode
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.tmp" 2>/dev/null
    chmod "${2:-644}" "$1.tmp"   # lab leaf keys: readable by unprivileged server users
    mv "$1.tmp" "$1"
}

# --- CA ------------------------------------------------------------------
ca_fresh=0
if [ ! -s ca.pem ] || [ ! -s ca.key ] ||
   ! openssl x509 -in ca.pem -noout -checkend $((60 * 86400)) >/dev/null 2>&1; then
    log "creating lab CA in $CA_DIR"
    newkey ca.key 600
    openssl req -x509 -new -key ca.key -sha256 -days 3650 \
        -subj "/O=cutover lab/CN=cutover lab CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out ca.pem.tmp
    mv ca.pem.tmp ca.pem
    rm -rf db
    ca_fresh=1
fi

# minimal `openssl ca` set-up (needed for arbitrary start/end dates)
mkdir -p db/new
[ -f db/index.txt ] || : > db/index.txt
[ -f db/serial ] || openssl rand -hex 16 > db/serial
cat > db/openssl.cnf <<EOF
[ ca ]
default_ca = labca
[ labca ]
dir = $CA_DIR/db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
certificate = $CA_DIR/ca.pem
private_key = $CA_DIR/ca.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
email_in_dn = no
[ anything ]
commonName = supplied
organizationName = optional
EOF

good_names="DNS:localhost,DNS:lab.test,DNS:*.lab.test,IP:127.0.0.1,IP:::1"
for i in 2 3 4 5 6 7 8 9; do good_names="$good_names,IP:127.0.0.$i"; done

# issue NAME CN SAN DATES...   (DATES: -days N | -startdate X -enddate Y)
# Files go to $OUT (the CA folder unless set).
issue() {
    local name=${OUT:-.}/$1 cn=$2 san=$3
    shift 3
    newkey "$name.key"
    openssl req -new -key "$name.key" -subj "/O=cutover lab/CN=$cn" -out "$name.csr" 2>/dev/null
    cat > "$name.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    openssl ca -batch -notext -config db/openssl.cnf -extfile "$name.ext" \
        -in "$name.csr" -out "$name.pem.tmp" "$@" >/dev/null 2>"$name.err" ||
        { cat "$name.err" >&2; exit 1; }
    mv "$name.pem.tmp" "$name.pem"
    cat "$name.pem" ca.pem > "$name-chain.pem"
    rm -f "$name.csr" "$name.ext" "$name.err"
}

# signed_by_ca FILE: the certificate chains to ca.pem (ignoring validity dates)
signed_by_ca() {
    [ -s "$1" ] && [ -s "${1%.pem}.key" ] &&
        openssl verify -no_check_time -CAfile ca.pem "$1" >/dev/null 2>&1
}

need() { # FILE [checkend-seconds]
    [ "$ca_fresh" = 1 ] && return 0
    signed_by_ca "$1" || return 0
    if [ -n "${2:-}" ]; then
        openssl x509 -in "$1" -noout -checkend "$2" >/dev/null 2>&1 || return 0
    fi
    return 1
}

if need server.pem $((30 * 86400)); then
    log "issuing server.pem (localhost, *.lab.test, 127.0.0.1, ::1)"
    issue server localhost "$good_names" -days 825
fi
if need wrong-host.pem $((30 * 86400)); then
    log "issuing wrong-host.pem (wrong.example only)"
    issue wrong-host wrong.example "DNS:wrong.example" -days 825
fi
if need expired.pem; then
    log "issuing expired.pem (expired 2020-02-01)"
    issue expired expired.lab.test "$good_names" \
        -startdate 20200101000000Z -enddate 20200201000000Z
fi
if need expiring.pem $((3 * 86400)); then
    log "issuing expiring.pem (expires in 5 days)"
    issue expiring expiring.lab.test "$good_names" -days 5
fi

cp ca.pem "$LAB_RUN/ca.pem.tmp"
mv "$LAB_RUN/ca.pem.tmp" "$LAB_RUN/ca.pem"

if [ -n "$issue_out" ]; then
    cn=${issue_args[1]%%,*}
    OUT=$issue_out issue "${issue_args[0]}" "${cn#*:}" "${issue_args[1]}" "${issue_args[@]:2}"
fi
