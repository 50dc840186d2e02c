#!/usr/bin/env bash
# Probe benchmark: N mailboxes (default 200) logged in over IMAPS on both
# sides of the mail lab, once with --concurrency 1 (the baseline, measured in
# the same run) and once with the default concurrency, printing wall time,
# the ratio and peak RSS (/usr/bin/time -v).
#
#   contrib/bench/probe.sh [N]        N <= 200 (the lab has user001..user200)
#
# Starts its own mail lab in a temporary LAB_RUN on ports from
# BENCH_MAIL_PORT_BASE (default 51000) and stops it at the end. Needs the
# cutover binary (CUTOVER_BIN, default ./cutover) and /usr/bin/time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-200}
bin=${CUTOVER_BIN:-$root/cutover}
base=${BENCH_MAIL_PORT_BASE:-51000}
per_host=${BENCH_PER_HOST:-8}
((n >= 1 && n <= 200)) || { echo "probe.sh: N must be 1..200" >&2; exit 64; }
[ -x "$bin" ] || { echo "probe.sh: no cutover binary at $bin (make cutover)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "probe.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

run=$(mktemp -d /tmp/cutover-bench-XXXXXX)
chmod 755 "$run"
export LAB_RUN=$run
export LAB_SRC_IMAP=$((base + 143)) LAB_SRC_IMAPS=$((base + 993)) LAB_SRC_POP3=$((base + 110))
export LAB_SRC_POP3S=$((base + 995)) LAB_DST_IMAP=$((base + 1143)) LAB_DST_IMAPS=$((base + 1993))
export LAB_DST_POP3=$((base + 1110)) LAB_DST_POP3S=$((base + 1995))
cleanup() {
	bash "$root/contrib/lab/mail/mail.sh" down >/dev/null 2>&1 || true
	rm -rf "$run"
}
trap cleanup EXIT
bash "$root/contrib/lab/mail/mail.sh" up >/dev/null 2>&1

head -n $((n + 1)) "$run/mail/mailboxes-200.csv" >"$run/bench.csv"
cat >"$run/plan.json" <<JSON
{"domain": "lab.test", "ca_file": "$run/ca.pem",
 "source": {"imap": "imaps://127.0.0.1:$LAB_SRC_IMAPS"},
 "destination": {"imap": "imaps://127.0.0.2:$LAB_DST_IMAPS"},
 "mailboxes_csv": "$run/bench.csv"}
JSON

# one timed run: prints "wall_s rss_kb"
measure() {
	local out=$run/time.txt rc=0
	/usr/bin/time -v -o "$out" "$bin" audit "$run/plan.json" --only imap -q \
		--json "$run/report.json" --per-host "$per_host" "$@" || rc=$?
	if ((rc != 0)); then
		echo "probe.sh: cutover exited $rc" >&2
		exit 1
	fi
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
	# wall is m:ss.ss or h:mm:ss
	wall=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
	echo "$wall $rss"
}

logins=$((2 * n))
read -r w1 r1 < <(measure --concurrency 1)
read -r wd rd < <(measure)
printf 'probe benchmark: %d IMAPS logins (%d mailboxes x 2 sides), --per-host %d\n' \
	"$logins" "$n" "$per_host"
printf '  %-22s %8.2f s  %6.1f logins/s  peak RSS %6d KiB\n' "--concurrency 1" "$w1" \
	"$(echo "$logins / $w1" | bc -l)" "$r1"
printf '  %-22s %8.2f s  %6.1f logins/s  peak RSS %6d KiB\n' "default (64)" "$wd" \
	"$(echo "$logins / $wd" | bc -l)" "$rd"
printf '  speed-up: %.1fx\n' "$(echo "$w1 / $wd" | bc -l)"
