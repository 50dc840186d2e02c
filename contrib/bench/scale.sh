#!/usr/bin/env bash
# Scale benchmark (issue 19): one process auditing N mailboxes against one
# auditing N/10, in the same run: peak RSS must stay flat (results of
# finished mailboxes are spooled out of memory) and wall time grow linearly.
#
#   contrib/bench/scale.sh [N]        (default 10000; the baseline is N/10)
#
# Creates the users itself (N empty mailboxes on both sides of a private
# mail lab, passwd-file users), then runs `cutover audit --only
# imap,folders,quota` (IMAPS logins on both sides, folder inventory, quota)
# over the first N/10 and over all N, each under /usr/bin/time. Ports from
# BENCH_MAIL_PORT_BASE (default 61000, above Linux's ephemeral ports, which a run
# of 40,000 connections sweeps through); CUTOVER_BIN (default ./cutover);
# BENCH_PER_HOST (default 16), BENCH_CONCURRENCY (default 64).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-10000}
bin=${CUTOVER_BIN:-$root/cutover}
base=${BENCH_MAIL_PORT_BASE:-61000}
per_host=${BENCH_PER_HOST:-16}
conc=${BENCH_CONCURRENCY:-64}
((n >= 10 && n <= 99999)) || { echo "scale.sh: N must be 10..99999" >&2; exit 64; }
[ -x "$bin" ] || { echo "scale.sh: no cutover binary at $bin (make cutover)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "scale.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
small=$((n / 10))

run=$(mktemp -d /tmp/cutover-bench-XXXXXX)
chmod 755 "$run"
export LAB_RUN=$run
export LAB_SRC_IMAP=$((base + 143)) LAB_SRC_IMAPS=$((base + 993)) LAB_SRC_POP3=$((base + 110))
export LAB_SRC_POP3S=$((base + 995)) LAB_DST_IMAP=$((base + 1143)) LAB_DST_IMAPS=$((base + 1993))
export LAB_DST_POP3=$((base + 1110)) LAB_DST_POP3S=$((base + 1995))
export LAB_HST_IMAP=$((base + 2143)) LAB_HST_IMAPS=$((base + 2993)) LAB_HST_POP3=$((base + 2110))
export LAB_HST_POP3S=$((base + 2995))
cleanup() {
	bash "$root/contrib/lab/mail/mail.sh" down >/dev/null 2>&1 || true
	rm -rf "$run"
}
trap cleanup EXIT
bash "$root/contrib/lab/mail/mail.sh" up >/dev/null 2>&1
t0=$(date +%s.%N)
/usr/bin/python3 "$here/mkmailboxes.py" "$run" "$n" 1 0 both
t1=$(date +%s.%N)
head -n $((small + 1)) "$run/mail/bench.csv" >"$run/mail/small.csv"

plan() { # CSV -> plan file
	cat >"$run/plan-$1.json" <<JSON
{"domain": "lab.test", "ca_file": "$run/ca.pem",
 "source": {"imap": "imaps://127.0.0.1:$LAB_SRC_IMAPS", "imap_other_port": 0},
 "destination": {"imap": "imaps://127.0.0.2:$LAB_DST_IMAPS", "imap_other_port": 0,
                 "profile": "microsoft365"},
 "mailboxes_csv": "$run/mail/$1.csv"}
JSON
}
plan small
plan bench

measure() { # LABEL -> "wall rss checks failed"
	/usr/bin/time -v -o "$run/time.$1" "$bin" audit "$run/plan-$1.json" --only imap,folders,quota \
		--concurrency "$conc" --per-host "$per_host" -q --no-progress \
		--json "$run/$1.json" >/dev/null 2>"$run/err.$1" || true
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$run/time.$1")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$run/time.$1")
	/usr/bin/python3 - "$run/$1.json" "$wall" "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["checks"]
logins = [x for x in c if x["id"] == "imap.login"]
bad = sum(1 for x in logins if x["details"]["result"] != "ok")
print(sys.argv[2], sys.argv[3], len(c), len(logins), bad)
PY
}

read -r w1 r1 c1 l1 b1 < <(measure small)
read -r w2 r2 c2 l2 b2 < <(measure bench)
printf 'scale benchmark: audit --only imap,folders,quota, IMAPS on both sides, --concurrency %d --per-host %d\n' \
	"$conc" "$per_host"
printf '  %d users created on each side in %.1f s\n' "$n" "$(echo "$t1 - $t0" | bc -l)"
printf '  %6d mailboxes: %8.2f s  peak RSS %7d KiB  %7d checks  %6d logins (%d not ok)\n' \
	"$small" "$w1" "$r1" "$c1" "$l1" "$b1"
printf '  %6d mailboxes: %8.2f s  peak RSS %7d KiB  %7d checks  %6d logins (%d not ok)\n' \
	"$n" "$w2" "$r2" "$c2" "$l2" "$b2"
printf '  ratio (%d / %d mailboxes): wall time %.2fx (linear: %.0fx), peak RSS %.2fx (flat: 1x)\n' \
	"$n" "$small" "$(echo "$w2 / $w1" | bc -l)" "$(echo "$n / $small" | bc -l)" "$(echo "$r2 / $r1" | bc -l)"
