#!/usr/bin/env bash
# The include rule of docs/layers.md: the core (src/, not src/cli/) includes
# nothing from checks/, reports/ or src/cli/; checks/ nothing from reports/ or
# src/cli/; reports/ nothing from src/cli/ and of checks/ only check.h (the
# registry); a check includes no other check (only the shared helpers).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
check() { # FILES... -- PATTERN MESSAGE
	local pattern=$1 msg=$2; shift 2
	local hits
	hits=$(grep -nE "^#[[:space:]]*include[[:space:]]+\"($pattern)" "$@" || true)
	if [ -n "$hits" ]; then
		printf '%s\n' "$hits" | sed "s|\$|   <- $msg|" >&2
		bad=1
	fi
}
core=$(ls src/*.c src/*.h)
check 'checks/|reports/|src/cli/' "the core includes nothing above it" $core
check 'reports/|src/cli/' "checks/ includes only src/ and checks/" checks/*.c checks/*.h
check 'src/cli/|checks/[^c]|checks/c[^h]' "reports/ reads only the registry of checks/" \
	reports/*.c reports/*.h
# checks/ has no header of one check: only the shared helpers
helpers=" check.h check_verdicts.h registry.h server_probe.h mailbox_session.h "
for h in checks/*.h; do
	case $helpers in *" $(basename "$h") "*) ;; *)
		echo "$h: a header of one check; what checks share goes in a helper" >&2
		bad=1 ;;
	esac
done
# a bare name that is not in the file's own folder (must be "folder/name.h")
for f in src/*.[ch] src/cli/*.[ch] checks/*.[ch] reports/*.[ch]; do
	dir=$(dirname "$f")
	while IFS= read -r h; do
		case $h in */*) continue ;; esac
		[ -e "$dir/$h" ] && continue
		for d in src src/cli checks reports; do
			if [ -e "$d/$h" ]; then
				echo "$f: #include \"$h\" is in $d/: write \"$d/$h\"" >&2
				bad=1
			fi
		done
	done < <(sed -nE 's/^#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f")
done
if [ "$bad" != 0 ]; then
	echo "layers: see docs/layers.md for who may include whom" >&2
	exit 1
fi
echo "layers: ok"
