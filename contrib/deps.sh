#!/usr/bin/env bash
# Install the Debian packages cutover needs to build, test and run its lab:
# only those that are missing, with sudo when not root. On a machine without
# apt-get, print what to install and exit 1.
#
#   bash contrib/deps.sh          check and install (build, tests, lab, benchmarks)
#   bash contrib/deps.sh --demo   only what `make demo` needs (build and lab)
#   bash contrib/deps.sh --list   print the package list and exit
set -euo pipefail

PACKAGES=(
	# build
	gcc make pkg-config libc6-dev
	libc-ares-dev libevent-dev libssl-dev libcurl4-openssl-dev libcjson-dev libsqlite3-dev libexpat1-dev
	# unit tests, sanitizers, fuzzing
	libcmocka-dev clang libclang-rt-14-dev
	# the lint step of make check (.ci/layers.sh, .ci/funclen.py, formatting)
	clang-format
	# integration tests
	python3 python3-pytest python3-jsonschema python3-spf
	# the official SPF test suites (tests/spf-suite/*.yml)
	python3-yaml
	# the HTML report is loaded in a real browser (tests/integration/test_report_html.py)
	chromium
	# the lab: DNS, mail, web, certificates
	knot knot-dnsutils bind9-dnsutils dovecot-core dovecot-imapd dovecot-pop3d nginx-light openssl
	# the lab: OAuth2 (contrib/lab/oauth/: the IdP signs with python3-cryptography,
	# the OAuth2 Dovecot checks app-only tokens in a Lua passdb)
	python3-cryptography dovecot-auth-lua
	# the lab: SMTP (contrib/lab/smtp/, cutover smtp)
	postfix
	# benchmarks: the baselines we compare against
	isync
	# the lab's TLS 1.0-only listener for IMAP/POP3 (contrib/lab/oldtls/)
	libnginx-mod-stream
	# benchmarks: peak RSS and arithmetic (contrib/bench/probe.sh)
	time bc
	# the man page is rendered and checked (tests/integration/test_manpage.py)
	groff-base man-db
	# the HTML report's script is syntax-checked (make lint-assets)
	nodejs
)

# Only for the tests and benchmarks (make check, .ci/run): `make demo` skips
# these (chromium, clang and the test tools are about 450 MB it does not use).
CHECK_ONLY=(
	libcmocka-dev clang libclang-rt-14-dev clang-format
	python3-pytest python3-jsonschema python3-spf
	chromium bind9-dnsutils isync time bc groff-base man-db nodejs
)

list=0
for arg in "$@"; do
	case $arg in
	--list) list=1 ;;
	--demo)
		demo=()
		for p in "${PACKAGES[@]}"; do
			[[ " ${CHECK_ONLY[*]} " == *" $p "* ]] || demo+=("$p")
		done
		PACKAGES=("${demo[@]}")
		;;
	*) echo "deps: unknown argument $arg (use --demo or --list)" >&2; exit 64 ;;
	esac
done
if [[ $list -eq 1 ]]; then
	printf '%s\n' "${PACKAGES[@]}"
	exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: this machine has no apt-get. Install the equivalents of:" >&2
	printf '  %s\n' "${missing[@]}" >&2
	exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps: missing packages and neither root nor sudo; as root run:" >&2
		echo "  apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null
# Packaged services (dovecot, nginx, knot) must not start system-wide
# instances: the lab starts its own on loopback. policy-rc.d says so to
# invoke-rc.d during this install only, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 0755 "$policy"
	created_policy=1
fi
status=0
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
if [[ $created_policy -eq 1 ]]; then
	"${sudo[@]}" rm -f "$policy"
fi
if [[ $status -ne 0 ]]; then
	echo "deps: apt-get install failed ($status) for: ${missing[*]}" >&2
	exit 1
fi
echo "deps: installed ${#missing[@]} packages"
