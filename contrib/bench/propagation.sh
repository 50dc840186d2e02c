#!/usr/bin/env bash
# Benchmark: one `cutover propagation` round over N DNS servers (all queries at
# once over a few shared UDP sockets) against the same queries asked by one
# `dig -f` batch process, measured in the same run.
#
#   contrib/bench/propagation.sh [N]      N servers, default 1000, at most 4000
#
# Starts ONE knotd (contrib/lab/dns/dns.sh, zone set prop-new) listening on N
# loopback addresses 127.0.40.1 ... (250 a /24, from BENCH_DNS_NET, default
# 127.0.40), port BENCH_DNS_PORT (default 5350), in a private temporary
# LAB_RUN, and stops it on exit. Every server is asked the MX of prop.test,
# by:
#   cutover      one round: the first address as --authoritative (MX and SOA,
#                recursion off), the other N-1 in a --resolvers-file (MX,
#                recursion on), --no-public: N servers, N+1 queries
#   dig -f       one dig process reading the N queries from a batch file
#                (serial, but without a process start per query)
# Each is timed REPEAT times (default 5); the median is printed, with the
# peak count of sockets cutover held (sampled from /proc while it ran).
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
N=${1:-1000}
PORT=${BENCH_DNS_PORT:-5350}
NET=${BENCH_DNS_NET:-127.0.40}
REPEAT=${REPEAT:-5}
CUTOVER=${CUTOVER_BIN:-$ROOT/cutover}
((N >= 1 && N <= 4000)) || { echo "N must be 1..4000" >&2; exit 2; }
[[ -x $CUTOVER ]] || { echo "build cutover first (make cutover)" >&2; exit 1; }
command -v dig >/dev/null || { echo "dig not found (apt-get install bind9-dnsutils)" >&2; exit 1; }

LAB_RUN=$(mktemp -d /tmp/bench-prop.XXXXXX)
export LAB_RUN LAB_DNS_PORT=$PORT
cleanup() {
	bash "$ROOT/contrib/lab/dns/dns.sh" down >/dev/null 2>&1 || true
	rm -rf -- "$LAB_RUN"
}
trap cleanup EXIT

# N addresses: NET.1-250, then the next /24 (127.0.40.x, 127.0.41.x, ...).
base=${NET%.*}
third=${NET##*.}
addrs=()
for ((i = 0; i < N; i++)); do
	addrs+=("$base.$((third + i / 250)).$((1 + i % 250))")
done
list=$(IFS=,; printf '%s' "${addrs[*]}")

echo "starting one knotd on $N addresses (${addrs[0]} .. ${addrs[N - 1]}) port $PORT ..." >&2
bash "$ROOT/contrib/lab/dns/dns.sh" up bench "$list" "$PORT" prop-new >/dev/null

resolvers=$LAB_RUN/resolvers.txt
batch=$LAB_RUN/batch.txt
: >"$resolvers"
: >"$batch"
for ((i = 0; i < N; i++)); do
	((i == 0)) || printf '%s:%s bench operator %d | US\n' "${addrs[i]}" "$PORT" $((i % 10)) >>"$resolvers"
	printf '@%s -p %s +time=2 +tries=1 MX prop.test\n' "${addrs[i]}" "$PORT" >>"$batch"
done

now_ns() { date +%s%N; }

run_cutover() {
	"$CUTOVER" propagation prop.test --expect-mx prop-test.mail.protection.outlook.com \
		--no-public --authoritative "${addrs[0]}:$PORT" --resolvers-file "$resolvers" --json "$LAB_RUN/report.json" -q
}
run_dig_batch() { dig -f "$batch" >"$LAB_RUN/dig.out"; }

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

# Warm-up and correctness: every server answered with the new MX, both ways.
run_cutover
python3 - "$LAB_RUN/report.json" "$N" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
assert c["details"]["matched"] == int(sys.argv[2]) == c["details"]["total"], c["summary"]
EOF
run_dig_batch
answered=$(grep -c 'prop-test.mail.protection.outlook.com' "$LAB_RUN/dig.out" || true)
((answered >= N)) || { echo "dig -f: only $answered of $N answers" >&2; exit 1; }

# Peak sockets of one cutover round: sample /proc/PID/fd while it runs.
"$CUTOVER" propagation prop.test --expect-mx prop-test.mail.protection.outlook.com \
	--no-public --authoritative "${addrs[0]}:$PORT" --resolvers-file "$resolvers" --json "$LAB_RUN/report2.json" -q &
pid=$!
peak=0
while kill -0 "$pid" 2>/dev/null; do
	n=$(find "/proc/$pid/fd" -lname 'socket:*' 2>/dev/null | wc -l || true)
	((n > peak)) && peak=$n
done
wait "$pid" || true

c=$(median_ms run_cutover)
# The round alone (the report's duration: no process start, no report writing).
round=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duration_ms"])' \
	"$LAB_RUN/report.json")
b=$(median_ms run_dig_batch)
echo "propagation benchmark: $N servers (one knotd on $N loopback addresses), MX each, median of $REPEAT"
printf '  %-40s %9s ms   (peak %d sockets)\n' "cutover propagation (one round)" "$c" "$peak"
printf '  %-40s %9s ms   (the last run'"'"'s duration_ms)\n' "  of which the round itself" "$round"
printf '  %-40s %9s ms\n' "dig -f batch (1 process, serial)" "$b"
awk -v c="$c" -v b="$b" 'BEGIN { printf "  ratio dig -f / cutover: %.1fx\n", b / c }'
