#!/usr/bin/env bash
# Final-pass benchmark (issue 15): the pass after the MX flip, against mbsync
# (flags synced, deletions propagated and expunged), measured in the same run.
#
#   1. MESSAGES (default 20,001) messages in user001@lab.test on the source
#      (INBOX 75%, unread; Archive.2020, Archive.2019, Projects, Work),
#      written straight to Maildir (mkmailboxes.py big); pre-stage copies:
#      mbsync -> user001, cutover -> user002 (timed: the full copy's RSS).
#   2. The scenario, at the source over IMAP: all of INBOX read (\Seen), 40
#      marked unread, 100 flagged, 50 labelled $Label1, 150 deleted
#      (expunged), 300 moved to Archive.2020 (UID MOVE), 500 new messages
#      delivered to INBOX.
#   3. The final pass of each tool, timed (wall, CPU, peak RSS from
#      /usr/bin/time -v), and the end state per folder (messages, unseen,
#      flagged, $Label1) on both destinations against the source: the ratio
#      only counts if cutover's end state is the source's.
#   4. BIG_MESSAGES (default 200,000) messages in user003: cutover's full copy
#      (peak RSS), then two no-op passes, timed. BIG_MESSAGES=0 skips it,
#      MESSAGES=0 the rest.
#
#   contrib/bench/final.sh     CUTOVER_BIN (default ./cutover),
#                              BENCH_MAIL_PORT_BASE (default 52000),
#                              BENCH_JOBS (cutover --jobs, default 2),
#                              BENCH_TMP (where the lab lives, default /tmp)
#
# Takes about 10 minutes with the 200,000-message part on a 2-core machine.
# Needs mbsync (apt-get install isync), /usr/bin/time, bc, the cutover binary.
set -euo pipefail

# shellcheck source=contrib/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
jobs=${BENCH_JOBS:-2}
n=${MESSAGES:-20001}
((n == 0 || n >= 1000)) || { echo "final.sh: MESSAGES: 0 (skip) or at least 1000" >&2; exit 1; }
big=${BIG_MESSAGES:-200000}
bench_needs final.sh
bench_lab_up finalbench
# run_mbsync -> "wall cpu rss"
run_mbsync() {
	/usr/bin/time -v -o "$run/t.txt" mbsync -q -c "$run/mbsync/rc" -a >"$run/mbsync.log" 2>&1 || true
	times_of "$run/t.txt"
}

# run_cutover PLAN [OPTIONS] -> "copied moved flags_updated deleted wall cpu rss"
run_cutover() {
	local plan=$1 rc=0
	shift
	/usr/bin/time -v -o "$run/t.txt" "$bin" sync "$plan" -q --no-progress --no-compare \
		--jobs "$jobs" --json "$run/sync.json" "$@" || rc=$?
	if ((rc > 1)); then
		echo "final.sh: cutover sync exited $rc" >&2
		cat "$run/sync.json" >&2 || true
		exit 1
	fi
	local d
	d=$("$py" -c 'import json,sys; d=json.load(open(sys.argv[1]))["checks"][0]["details"]; print(d["copied"], d.get("moved", 0), d["flags_updated"], d["deleted"], d["errors"])' "$run/sync.json")
	set -- $d
	if (($5 > 0)); then
		echo "final.sh: cutover sync reported $5 errors" >&2
		exit 1
	fi
	echo "$1 $2 $3 $4 $(times_of "$run/t.txt")"
}

# The scenario's changes at the source, over IMAP.
scenario() {
	"$py" - "$run" "$LAB_SRC_IMAPS" "$(pw source user001@lab.test)" <<'EOF'
import imaplib, random, ssl, sys, time
run, port, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=run + "/ca.pem")
m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
m.login("user001@lab.test", pw)

def ok(r):
    if r[0] != "OK":
        sys.exit("final.sh scenario: %r" % (r,))
    return r[1]

def uidset(uids):
    return ",".join(str(u) for u in uids)

ok(m.select("INBOX"))
uids = [int(u) for u in ok(m.uid("SEARCH", None, "ALL"))[0].split()]
rng = random.Random(15)
rng.shuffle(uids)
unread, flagged, label = uids[:40], uids[40:140], uids[140:190]
gone, moved = uids[190:340], uids[340:640]
ok(m.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Seen)"))
ok(m.uid("STORE", uidset(unread), "-FLAGS.SILENT", "(\\Seen)"))
ok(m.uid("STORE", uidset(flagged), "+FLAGS.SILENT", "(\\Flagged)"))
ok(m.uid("STORE", uidset(label), "+FLAGS.SILENT", "($Label1)"))
ok(m.uid("STORE", uidset(gone), "+FLAGS.SILENT", "(\\Deleted)"))
ok(m.uid("EXPUNGE", uidset(gone)))
ok(m.uid("MOVE", uidset(moved), "Archive.2020"))
for i in range(500):
    body = ("From: new%d@example.net\r\nTo: user001@lab.test\r\nSubject: new %d\r\n"
            "Message-ID: <new-%d@bench>\r\n\r\n" % (i, i, i)
            + "lorem ipsum dolor sit amet\r\n" * (20, 80, 300)[i % 3])
    ok(m.append("INBOX", None, imaplib.Time2Internaldate(time.time()), body.encode()))
m.logout()
EOF
}

# state SIDE USER -> one line per non-empty folder of the source:
# "name messages unseen flagged label1" (names with the source's '.')
state() {
	local side=$1 user=$2 f dn c
	bash "$mail" doveadm source -f tab mailbox status -u user001@lab.test messages '*' |
		awk -F'\t' 'NR > 1 && $2 > 0 {print $1}' | sort | while read -r f; do
		dn=$f
		[ "$side" = destination ] && dn=${f//./\/}
		c=$(bash "$mail" doveadm "$side" -f tab mailbox status -u "$user" 'messages unseen' "$dn" 2>/dev/null | awk 'NR == 2 {print $(NF - 1), $NF}')
		printf '%s %s %s %s\n' "$f" "${c:-0 0}" \
			"$(bash "$mail" doveadm "$side" search -u "$user" mailbox "$dn" FLAGGED 2>/dev/null | wc -l)" \
			"$(bash "$mail" doveadm "$side" search -u "$user" mailbox "$dn" KEYWORD '$Label1' 2>/dev/null | wc -l)"
	done
}
total() { bash "$mail" doveadm "$1" -f tab mailbox status -u "$2" messages '*' | awk -F'\t' 'NR > 1 {m += $2} END {print m + 0}'; }

# The final pass after the scenario, both tools: MESSAGES=0 skips it.
final_pass() {
	gen0=$(date +%s.%N)
	"$py" "$here/mkmailboxes.py" "$run" big user001@lab.test "$n"
	gen1=$(date +%s.%N)

	# the source's folders only: the destination's own (Sent Items, Drafts, ...)
	# are not on the source, and Archive is only a parent there
	mbsync_rc "$run/mbsync/rc" user001@lab.test user001@lab.test 'INBOX Archive/* Projects Work'
	sed -i 's/^Expunge None$/Expunge Near/' "$run/mbsync/rc"
	sync_plan "$run/plan.json" user001@lab.test user002@lab.test "$run/state"

	read -r m_pw m_pc m_pr < <(run_mbsync)
	read -r c_pm c_pv c_pf c_pd c_pw c_pc c_pr < <(run_cutover "$run/plan.json")
	mb=$(bash "$mail" doveadm source -f tab mailbox status -u user001@lab.test vsize '*' | awk -F'\t' 'NR > 1 {v += $2} END {printf "%.0f", v / 1048576}')
	scenario
	read -r m_fw m_fc m_fr < <(run_mbsync)
	read -r c_fm c_fv c_ff c_fd c_fw c_fc c_fr < <(run_cutover "$run/plan.json" --delete)

	state source user001@lab.test >"$run/src.state"
	state destination user001@lab.test >"$run/mbsync.state"
	state destination user002@lab.test >"$run/cutover.state"
	src_total=$(total source user001@lab.test)
	m_total=$(total destination user001@lab.test)
	c_total=$(total destination user002@lab.test)

	printf 'final-pass benchmark: user001@lab.test, %d messages (~%s MB, generated in %.1f s) over IMAPS, Dovecot -> Dovecot\n' \
		"$n" "$mb" "$(echo "$gen1 - $gen0" | bc -l)"
	printf '  mbsync %s (Sync Pull, Expunge Near); cutover %s --jobs %s (--delete in the final pass)\n' \
		"$(mbsync --version | head -1)" "$(basename "$bin")" "$jobs"
	printf '  pre-stage  mbsync   %8.2f s  CPU %6.2f s  peak RSS %7d KiB\n' "$m_pw" "$m_pc" "$m_pr"
	printf '  pre-stage  cutover  %8.2f s  CPU %6.2f s  peak RSS %7d KiB  (%d copied)\n' "$c_pw" "$c_pc" "$c_pr" "$c_pm"
	printf '  scenario: INBOX read, 40 unread, 100 flagged, 50 $Label1, 150 expunged, 300 moved to Archive.2020, 500 new\n'
	printf '  final      mbsync   %8.2f s  CPU %6.2f s  peak RSS %7d KiB\n' "$m_fw" "$m_fc" "$m_fr"
	printf '  final      cutover  %8.2f s  CPU %6.2f s  peak RSS %7d KiB  (%d copied, %d moved, %d flags updated, %d deleted)\n' \
		"$c_fw" "$c_fc" "$c_fr" "$c_fm" "$c_fv" "$c_ff" "$c_fd"
	printf '  end state (messages unseen flagged $Label1):\n'
	printf '    %-14s %-20s %-20s %s\n' folder source mbsync cutover
	paste -d' ' "$run/src.state" "$run/mbsync.state" "$run/cutover.state" |
		awk '{s = $2" "$3" "$4" "$5; m = $7" "$8" "$9" "$10; c = $12" "$13" "$14" "$15
			printf "    %-14s %-20s %-20s %-20s mbsync %s, cutover %s\n", $1, s, m, c,
				(m == s) ? "ok" : "DIFFERS", (c == s) ? "ok" : "DIFFERS"}'
	printf '    %-14s %-20s %-20s %-20s mbsync %s, cutover %s\n' "all folders" "$src_total" "$m_total" "$c_total" \
		"$([ "$src_total" = "$m_total" ] && echo ok || echo DIFFERS)" \
		"$([ "$src_total" = "$c_total" ] && echo ok || echo DIFFERS)"
	c_ok=yes
	cut -d' ' -f2- "$run/src.state" >"$run/a" && cut -d' ' -f2- "$run/cutover.state" >"$run/b"
	cmp -s "$run/a" "$run/b" && [ "$src_total" = "$c_total" ] || c_ok=no
	m_ok=yes
	cut -d' ' -f2- "$run/mbsync.state" >"$run/b"
	cmp -s "$run/a" "$run/b" && [ "$src_total" = "$m_total" ] || m_ok=no
	printf '  final pass, mbsync / cutover wall time: %.1fx (cutover end state correct: %s; mbsync: %s)\n' \
		"$(echo "$m_fw / $c_fw" | bc -l)" "$c_ok" "$m_ok"
	if grep -q . "$run/mbsync.log"; then
		echo "  (mbsync said, last pass: $(head -c 300 "$run/mbsync.log" | tr '\n' ' '))"
	fi
}
((n > 0)) && final_pass

if ((big > 0)); then
	gen0=$(date +%s.%N)
	"$py" "$here/mkmailboxes.py" "$run" big user003@lab.test "$big"
	gen1=$(date +%s.%N)
	sync_plan "$run/plan-big.json" user003@lab.test user003@lab.test "$run/state-big"
	read -r b_m b_v b_f b_d b_w b_c b_r < <(run_cutover "$run/plan-big.json")
	read -r n1_m n1_v n1_f n1_d n1_w n1_c n1_r < <(run_cutover "$run/plan-big.json")
	read -r n2_m n2_v n2_f n2_d n2_w n2_c n2_r < <(run_cutover "$run/plan-big.json")
	printf 'big mailbox: user003@lab.test, %d messages (generated in %.1f s), cutover only\n' \
		"$big" "$(echo "$gen1 - $gen0" | bc -l)"
	printf '  full       cutover  %8.2f s  CPU %6.2f s  peak RSS %7d KiB  (%d copied; destination holds %d)\n' \
		"$b_w" "$b_c" "$b_r" "$b_m" "$(total destination user003@lab.test)"
	printf '  no-op      cutover  %8.2f s  CPU %6.2f s  peak RSS %7d KiB  (%d copied)\n' "$n1_w" "$n1_c" "$n1_r" "$n1_m"
	printf '  no-op      cutover  %8.2f s  CPU %6.2f s  peak RSS %7d KiB  (%d copied)\n' "$n2_w" "$n2_c" "$n2_r" "$n2_m"
fi
