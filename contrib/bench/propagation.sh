#!/usr/bin/env bash
# Benchmark: one `cutover propagation` round over N DNS servers (all queries at
# once, one c-ares channel per server) against the same queries asked one
# after another with dig, measured in the same run.
#
#   contrib/bench/propagation.sh [N]      N servers, default 50, at most 50
#
# Starts N separate knotd processes (contrib/lab/dns/dns.sh, zone set prop-old)
# on 127.0.0.30 .. 127.0.0.(29+N), port BENCH_DNS_PORT (default 5350), in a
# private temporary LAB_RUN, and stops them on exit. Every server is asked
# MX and SOA for prop.test with recursion off (2N queries), by:
#   cutover      one round: --authoritative x N, --no-public
#   dig loop     2N dig processes in sequence (what a shell script would do)
#   dig -f       one dig process reading the 2N queries from a batch file
#                (serial, but without a process start per query)
# Each is timed REPEAT times (default 5); the median is printed.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
N=${1:-50}
PORT=${BENCH_DNS_PORT:-5350}
REPEAT=${REPEAT:-5}
CUTOVER=${CUTOVER_BIN:-$ROOT/cutover}
((N >= 1 && N <= 50)) || { echo "N must be 1..50" >&2; exit 2; }
[[ -x $CUTOVER ]] || { echo "build cutover first (make cutover)" >&2; exit 1; }
command -v dig >/dev/null || { echo "dig not found (apt-get install bind9-dnsutils)" >&2; exit 1; }

LAB_RUN=$(mktemp -d /tmp/bench-prop.XXXXXX)
export LAB_RUN LAB_DNS_PORT=$PORT
cleanup() {
	bash "$ROOT/contrib/lab/dns/dns.sh" down >/dev/null 2>&1 || true
	rm -rf -- "$LAB_RUN"
}
trap cleanup EXIT

echo "starting $N knotd instances on 127.0.0.30..127.0.0.$((29 + N)) port $PORT ..." >&2
servers=()
for ((i = 0; i < N; i++)); do
	addr=127.0.0.$((30 + i))
	bash "$ROOT/contrib/lab/dns/dns.sh" up "b$i" "$addr" "$PORT" prop-old >/dev/null
	servers+=("$addr")
done

args=()
batch=$LAB_RUN/batch.txt
: >"$batch"
for a in "${servers[@]}"; do
	args+=(--authoritative "$a:$PORT")
	printf '@%s -p %s +norecurse +time=2 +tries=1 MX prop.test\n' "$a" "$PORT" >>"$batch"
	printf '@%s -p %s +norecurse +time=2 +tries=1 SOA prop.test\n' "$a" "$PORT" >>"$batch"
done

now_ns() { date +%s%N; }

run_cutover() {
	"$CUTOVER" propagation prop.test --expect-mx mx1.emailsrvr.com,mx2.emailsrvr.com \
		--no-public "${args[@]}" --json "$LAB_RUN/report.json" -q
}
run_dig_loop() {
	local a
	for a in "${servers[@]}"; do
		dig "@$a" -p "$PORT" +norecurse +time=2 +tries=1 MX prop.test >/dev/null
		dig "@$a" -p "$PORT" +norecurse +time=2 +tries=1 SOA prop.test >/dev/null
	done
}
run_dig_batch() { dig -f "$batch" >/dev/null; }

# Median wall time in ms of REPEAT runs of the function $1.
median_ms() {
	local t0 t1 i times=()
	for ((i = 0; i < REPEAT; i++)); do
		t0=$(now_ns)
		"$1"
		t1=$(now_ns)
		times+=($(((t1 - t0) / 1000)))
	done
	printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.1f", v[int((NR+1)/2)]/1000}'
}

run_cutover # warm-up, and a correctness check:
python3 - "$LAB_RUN/report.json" "$N" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
assert c["details"]["matched"] == int(sys.argv[2]) == c["details"]["total"], c["summary"]
EOF

c=$(median_ms run_cutover)
l=$(median_ms run_dig_loop)
b=$(median_ms run_dig_batch)
echo "propagation benchmark: $N servers (separate knotd processes), MX + SOA each, median of $REPEAT"
printf '  %-34s %9s ms\n' "cutover propagation (one round)" "$c" \
	"dig loop ($((2 * N)) processes, serial)" "$l" \
	"dig -f batch (1 process, serial)" "$b"
awk -v c="$c" -v l="$l" -v b="$b" 'BEGIN {
	printf "  ratio dig loop / cutover: %.1fx\n  ratio dig -f / cutover:   %.1fx\n", l / c, b / c }'
