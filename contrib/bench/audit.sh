#!/usr/bin/env bash
# Mailbox audit benchmark: N mailboxes (default 500) x F folders (default 20)
# on the source of a private mail lab, audited with `--only folders` (every
# folder check: inventory, items, names, limits, large messages) once with
# --concurrency 1 (the baseline, same run) and once with the default
# concurrency, printing wall time, mailboxes/s, peak RSS and the speed-up,
# plus the IMAP round trips per mailbox and the logins Dovecot saw.
#
#   contrib/bench/audit.sh [N [FOLDERS]]
#
# Starts its own mail lab in a temporary LAB_RUN on ports from
# BENCH_MAIL_PORT_BASE (default 52000) and stops it at the end. Needs the
# cutover binary (CUTOVER_BIN, default ./cutover) and /usr/bin/time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-500}
nf=${2:-20}
bin=${CUTOVER_BIN:-$root/cutover}
base=${BENCH_MAIL_PORT_BASE:-52000}
per_host=${BENCH_PER_HOST:-8}
((n >= 1 && n <= 9999)) || { echo "audit.sh: N must be 1..9999" >&2; exit 64; }
((nf >= 1 && nf <= 20)) || { echo "audit.sh: FOLDERS must be 1..20" >&2; exit 64; }
[ -x "$bin" ] || { echo "audit.sh: no cutover binary at $bin (make cutover)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "audit.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

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
t0=$(date +%s.%N)
/usr/bin/python3 "$here/mkmailboxes.py" "$run" "$n" "$nf" 3
t1=$(date +%s.%N)

cat >"$run/plan.json" <<JSON
{"domain": "lab.test", "ca_file": "$run/ca.pem",
 "source": {"imap": "imaps://127.0.0.1:$LAB_SRC_IMAPS"},
 "destination": {"profile": "microsoft365", "limits": {"message_bytes": 2048}},
 "mailboxes_csv": "$run/mail/bench.csv"}
JSON

# Untimed warm-up: Dovecot builds its indexes on first access.
"$bin" audit "$run/plan.json" --only folders --per-host "$per_host" -q --no-progress \
	--json "$run/warm.json" >/dev/null 2>&1 || true

log=$run/mail/source/log/dovecot.log
measure() { # LABEL CONCURRENCY -> "wall rss logins rt_avg"
	local label=$1 conc=$2 off
	off=$(stat -c %s "$log")
	/usr/bin/time -v -o "$run/time.$label" "$bin" audit "$run/plan.json" --only folders \
		--concurrency "$conc" --per-host "$per_host" -q --no-progress \
		--json "$run/$label.json" >/dev/null 2>&1 || true
	local wall rss logins rt
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$run/time.$label")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$run/time.$label")
	logins=$(/usr/bin/python3 "$root/contrib/lab/mail/connections.py" "$log" --since-offset "$off" --proto imap |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["logins"])')
	rt=$(/usr/bin/python3 - "$run/$label.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f = [c["details"] for c in r["checks"] if c["id"] == "mailbox.folders" and c["status"] == "pass"]
bad = sum(1 for c in r["checks"] if c["id"] == "mailbox.folders" and c["status"] != "pass")
print(f"{sum(d['round_trips'] for d in f) / max(len(f), 1):.1f} {len(f)} {bad} "
      f"{max(len(d['folders']) for d in f) if f else 0}")
PY
)
	echo "$wall $rss $logins $rt"
}

read -r w1 r1 l1 rt1 ok1 bad1 nfold1 < <(measure serial 1)
read -r w2 r2 l2 rt2 ok2 bad2 nfold2 < <(measure concurrent 64)
printf 'audit benchmark: %d mailboxes x %d folders (source, --only folders, --per-host %d)\n' \
	"$n" "$nfold1" "$per_host"
printf '  lab generated in %.1f s\n' "$(echo "$t1 - $t0" | bc -l)"
for row in "--concurrency 1|$w1|$r1|$l1|$rt1|$ok1|$bad1" "default (64)|$w2|$r2|$l2|$rt2|$ok2|$bad2"; do
	IFS='|' read -r label w r l rt ok bad <<<"$row"
	printf '  %-16s %7.2f s %8.1f mailboxes/s  peak RSS %7d KiB  logins %d  round trips/mailbox %s  ok %d  failed %d\n' \
		"$label" "$w" "$(echo "$n / $w" | bc -l)" "$r" "$l" "$rt" "$ok" "$bad"
done
printf '  speed-up: %.1fx\n' "$(echo "$w1 / $w2" | bc -l)"
