# Shared by the sync benchmarks (sync.sh, final.sh): sourced, not run.
#
#   bench_lab_up NAME    private mail lab in a temporary LAB_RUN (ports from
#                        BENCH_MAIL_PORT_BASE, default 52000), stopped and
#                        removed on exit; sets run, mail, here, root, bin, py
#   pw SIDE USER         a lab user's password
#   dst_count USER       "messages vsize" of USER's destination mailbox
#   times_of FILE        /usr/bin/time -v output -> "wall_s cpu_s rss_kib"
#   mbsync_rc FILE SRC_USER DST_USER [PATTERNS]
#                        an mbsync config pulling SRC_USER to DST_USER (flags
#                        too, "Expunge None"; callers may append to it)
#   sync_plan FILE SRC_USER DST_USER STATE_DIR
#                        a cutover plan for one mailbox, IMAPS both sides

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${CUTOVER_BIN:-$root/cutover}
py=/usr/bin/python3
mail=$root/contrib/lab/mail/mail.sh

bench_needs() { # NAME: the sync benchmarks' tools
	[ -x "$bin" ] || { echo "$1: no cutover binary at $bin (make cutover)" >&2; exit 1; }
	command -v mbsync >/dev/null || { echo "$1: needs mbsync (apt-get install isync)" >&2; exit 1; }
	[ -x /usr/bin/time ] || { echo "$1: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
	command -v bc >/dev/null || { echo "$1: needs bc (apt-get install bc)" >&2; exit 1; }
}

bench_cleanup() {
	bash "$mail" down >/dev/null 2>&1 || true
	rm -rf "$run"
}

bench_lab_up() { # NAME
	local base=${BENCH_MAIL_PORT_BASE:-52000}
	run=$(mktemp -d "${BENCH_TMP:-/tmp}/cutover-$1-XXXXXX")
	chmod 755 "$run"
	export LAB_RUN=$run
	export LAB_SRC_IMAP=$((base + 143)) LAB_SRC_IMAPS=$((base + 993)) LAB_SRC_POP3=$((base + 110))
	export LAB_SRC_POP3S=$((base + 995)) LAB_DST_IMAP=$((base + 1143)) LAB_DST_IMAPS=$((base + 1993))
	export LAB_DST_POP3=$((base + 1110)) LAB_DST_POP3S=$((base + 1995))
	export LAB_HST_IMAP=$((base + 2143)) LAB_HST_IMAPS=$((base + 2993)) LAB_HST_POP3=$((base + 2110))
	export LAB_HST_POP3S=$((base + 2995))
	trap bench_cleanup EXIT
	bash "$mail" up >/dev/null 2>&1
}

pw() { awk -F'\t' -v s="$1" -v u="$2" '$1 == s && $3 == u {print $4}' "$run/mail/users.tsv"; }

dst_count() {
	bash "$mail" doveadm destination -f tab mailbox status -u "$1" 'messages vsize' '*' |
		awk -F'\t' 'NR > 1 {m += $2; v += $3} END {printf "%d %d\n", m, v}'
}

times_of() {
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, a, ":"); w = (n == 3) ? a[1]*3600 + a[2]*60 + a[3] : a[1]*60 + a[2] }
		/User time/ { u = $2 } /System time/ { s = $2 }
		/Maximum resident set size/ { r = $2 }
		END { printf "%.3f %.3f %d\n", w, u + s, r }' "$1"
}

# mbsync checks the certificate's host name against DNS names only; listing
# the lab's server certificate in CertificateFile trusts it explicitly.
mbsync_rc() { # FILE SRC_USER DST_USER [PATTERNS]
	local dir
	dir=$(dirname "$1")
	mkdir -p "$dir/state"
	cat >"$1" <<EOF
IMAPAccount src
Host 127.0.0.1
Port $LAB_SRC_IMAPS
User $2
Pass $(pw source "$2")
SSLType IMAPS
CertificateFile $run/ca/server.pem

IMAPStore src
Account src

IMAPAccount dst
Host 127.0.0.2
Port $LAB_DST_IMAPS
User $3
Pass $(pw destination "$3")
SSLType IMAPS
CertificateFile $run/ca/server.pem

IMAPStore dst
Account dst

Channel c
Far :src:
Near :dst:
Patterns ${4:-*}
Create Near
Sync Pull
Expunge None
SyncState $dir/state/
EOF
	chmod 600 "$1"
}

sync_plan() { # FILE SRC_USER DST_USER STATE_DIR
	cat >"$1" <<EOF
{"domain": "lab.test", "ca_file": "$run/ca.pem",
 "source": {"imap": "imaps://127.0.0.1:$LAB_SRC_IMAPS"},
 "destination": {"imap": "imaps://127.0.0.2:$LAB_DST_IMAPS"},
 "mailboxes": [{"source_user": "$2", "source_password": "$(pw source "$2")",
                "dest_user": "$3", "dest_password": "$(pw destination "$3")"}],
 "state_dir": "$4"}
EOF
	chmod 600 "$1"
}
