#!/usr/bin/env bash
# Sync benchmark: mbsync (Debian's isync, the baseline, measured in the same
# run) and `cutover sync` copy the same populated mailbox (alice@lab.test:
# 21 folders, 12,139 messages, ~25 MB) between the two Dovecot instances of
# the mail lab, over IMAPS on both sides:
#
#   full   an empty destination mailbox (mbsync -> user001, cutover -> user002)
#   delta  after DELTA (default 500) new messages arrived on the source
#   noop   nothing new
#
# For each: wall time, messages/s, MB/s, CPU (user+sys) and peak RSS from
# /usr/bin/time -v, and the ratio cutover/mbsync. Messages copied are counted
# on the destination with doveadm (mbsync) and from the report (cutover).
#
#   contrib/bench/sync.sh            BENCH_MAIL_PORT_BASE (default 52000),
#                                    BENCH_JOBS (cutover --jobs, default 2),
#                                    DELTA (default 500)
#
# Starts its own mail lab in a temporary LAB_RUN and stops it at the end.
# Needs mbsync (apt-get install isync), /usr/bin/time, bc, the cutover binary.
set -euo pipefail

# shellcheck source=contrib/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
jobs=${BENCH_JOBS:-2}
delta=${DELTA:-500}
bench_needs sync.sh
bench_lab_up syncbench
bash "$mail" populate >/dev/null

# mbsync: alice (source) -> user001 (destination); cutover: alice -> user002
mbsync_rc "$run/mbsync/rc" alice@lab.test user001@lab.test '* !"Sent Items" !"Deleted Items" !"Junk Email"'
sync_plan "$run/plan.json" alice@lab.test user002@lab.test "$run/state"

# run_mbsync -> "msgs bytes wall cpu rss"
run_mbsync() {
	local before after
	read -r bm bb < <(dst_count user001@lab.test)
	/usr/bin/time -v -o "$run/t.txt" mbsync -q -c "$run/mbsync/rc" -a >"$run/mbsync.log" 2>&1 || true
	read -r am ab < <(dst_count user001@lab.test)
	echo "$((am - bm)) $((ab - bb)) $(times_of "$run/t.txt")"
}

# run_cutover -> "msgs bytes wall cpu rss"
run_cutover() {
	local rc=0
	/usr/bin/time -v -o "$run/t.txt" "$bin" sync "$run/plan.json" -q --no-progress --no-compare \
		--jobs "$jobs" --json "$run/sync.json" || rc=$?
	if ((rc > 1)); then
		echo "sync.sh: cutover sync exited $rc" >&2
		cat "$run/sync.json" >&2 || true
		exit 1
	fi
	local mb
	mb=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1]))["checks"][0]["details"]; print(d["copied"], d["bytes"])' "$run/sync.json")
	echo "$mb $(times_of "$run/t.txt")"
}

add_delta() {
	"$py" - "$run" "$LAB_SRC_IMAPS" "$(pw source alice@lab.test)" "$delta" <<'EOF'
import imaplib, random, ssl, sys, time
run, port, pw, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=run + "/ca.pem")
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m.login("alice@lab.test", pw)
rng = random.Random(7)
for i in range(n):
    folder = ["INBOX", "Archive.2019", "Work", "Sent"][i % 4]
    body = ("From: a@lab.test\r\nTo: b@lab.test\r\nSubject: delta %d\r\n"
            "Message-ID: <delta-%d@lab.test>\r\n\r\n" % (i, i)
            + "".join(rng.choice("abcdefgh \r\n") for _ in range(rng.choice([500, 2000, 8000])))
            + "\r\n")
    m.append(folder, "(\\Seen)", imaplib.Time2Internaldate(time.time()), body.encode())
m.logout()
EOF
}

row() { # label msgs bytes wall cpu rss
	printf '  %-8s %-8s %7d msgs %8.2f s %8.1f msg/s %7.2f MB/s  CPU %6.2f s  peak RSS %7d KiB\n' \
		"$1" "$2" "$3" "$5" "$(echo "$3 / $5" | bc -l)" "$(echo "$4 / $5 / 1048576" | bc -l)" "$6" "$7"
}
ratio() { # label mbsync_msgs mbsync_wall cutover_msgs cutover_wall
	if [ "$2" -gt 0 ] && [ "$4" -gt 0 ]; then
		printf '  %-8s cutover/mbsync msgs/s: %.1fx\n' "$1" \
			"$(echo "($4 / $5) / ($2 / $3)" | bc -l)"
	else
		printf '  %-8s wall time mbsync %.2f s, cutover %.2f s (%.1fx)\n' "$1" "$3" "$5" \
			"$(echo "$3 / $5" | bc -l)"
	fi
}

read -r m_fm m_fb m_fw m_fc m_fr < <(run_mbsync)
read -r c_fm c_fb c_fw c_fc c_fr < <(run_cutover)
add_delta
read -r m_dm m_db m_dw m_dc m_dr < <(run_mbsync)
read -r c_dm c_db c_dw c_dc c_dr < <(run_cutover)
read -r m_nm m_nb m_nw m_nc m_nr < <(run_mbsync)
read -r c_nm c_nb c_nw c_nc c_nr < <(run_cutover)

printf 'sync benchmark: alice@lab.test (12,139 messages, ~25 MB) over IMAPS, Dovecot -> Dovecot\n'
printf '  mbsync %s; cutover --jobs %s\n' "$(mbsync --version | head -1)" "$jobs"
row full mbsync "$m_fm" "$m_fb" "$m_fw" "$m_fc" "$m_fr"
row full cutover "$c_fm" "$c_fb" "$c_fw" "$c_fc" "$c_fr"
row delta mbsync "$m_dm" "$m_db" "$m_dw" "$m_dc" "$m_dr"
row delta cutover "$c_dm" "$c_db" "$c_dw" "$c_dc" "$c_dr"
printf '  %-8s %-8s %8.2f s  CPU %6.2f s  peak RSS %7d KiB\n' noop mbsync "$m_nw" "$m_nc" "$m_nr"
printf '  %-8s %-8s %8.2f s  CPU %6.2f s  peak RSS %7d KiB\n' noop cutover "$c_nw" "$c_nc" "$c_nr"
ratio full "$m_fm" "$m_fw" "$c_fm" "$c_fw"
ratio delta "$m_dm" "$m_dw" "$c_dm" "$c_dw"
ratio noop 0 "$m_nw" 0 "$c_nw"
if grep -q . "$run/mbsync.log"; then
	echo "  (mbsync said, last pass: $(head -c 300 "$run/mbsync.log" | tr '\n' ' '))"
fi
