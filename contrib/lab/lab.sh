#!/usr/bin/env bash
# cutover lab orchestrator.
#
#   lab.sh up|down|status [PART...]
#
# A PART is a folder contrib/lab/PART/ holding a bash script
# PART.sh that takes `up`, `down` and `status` and keeps its files under $LAB_RUN/PART
# (dns, mail, web). Without PART: every part whose script exists, in the order
# dns, mail, web, then any other part alphabetically. `down` goes in reverse order.
#
# up:     starts the parts in order, stops at the first failure.
# down:   stops every part, even when one fails.
# status: asks every part; the parts' own output says what runs.
# Exits 0 when every part succeeded, 1 otherwise (each failed part is named on stderr),
# 2 on a usage error. LAB_RUN (default contrib/lab/run) is exported, absolute, so
# all parts agree on it.
set -euo pipefail

LAB_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
LAB_RUN=${LAB_RUN:-"$LAB_DIR/run"}
LAB_RUN=$(realpath -m -- "$LAB_RUN")
export LAB_RUN

KNOWN_ORDER=(dns mail web)

usage() {
	echo "usage: lab.sh up|down|status [PART...]   (parts: $(available_parts | tr '\n' ' '))" >&2
	exit 2
}

# Parts whose script exists: the known order first, then the rest alphabetically.
available_parts() {
	local p d
	for p in "${KNOWN_ORDER[@]}"; do
		[[ -f $LAB_DIR/$p/$p.sh ]] && printf '%s\n' "$p"
	done
	for d in "$LAB_DIR"/*/; do
		d=${d%/}
		p=${d##*/}
		[[ -f $d/$p.sh ]] || continue
		[[ " ${KNOWN_ORDER[*]} " == *" $p "* ]] && continue
		printf '%s\n' "$p"
	done
}

main() {
	(($#)) || usage
	local action=$1
	shift
	case $action in
	up | down | status) ;;
	*) usage ;;
	esac

	local parts=() p
	if (($#)); then
		for p in "$@"; do
			[[ $p =~ ^[A-Za-z0-9_-]+$ && -f $LAB_DIR/$p/$p.sh ]] ||
				{ echo "lab: unknown part '$p' (no contrib/lab/$p/$p.sh)" >&2; exit 2; }
			parts+=("$p")
		done
	else
		mapfile -t parts < <(available_parts)
		((${#parts[@]})) || { echo "lab: no parts found under $LAB_DIR" >&2; exit 1; }
	fi

	if [[ $action == down ]]; then # reverse order
		local rev=() i
		for ((i = ${#parts[@]} - 1; i >= 0; i--)); do rev+=("${parts[i]}"); done
		parts=("${rev[@]}")
	fi

	local failed=() rc
	for p in "${parts[@]}"; do
		rc=0
		bash "$LAB_DIR/$p/$p.sh" "$action" || rc=$?
		if ((rc != 0)); then
			failed+=("$p")
			if [[ $action == up ]]; then
				echo "lab: part '$p' failed to come up (exit $rc); not starting the rest" >&2
				break
			fi
			if [[ $action == status ]]; then
				echo "lab: part '$p' is not (fully) running (exit $rc)" >&2
			else
				echo "lab: part '$p' failed to stop (exit $rc)" >&2
			fi
		fi
	done
	if ((${#failed[@]})); then
		echo "lab: $action failed for: ${failed[*]}" >&2
		exit 1
	fi
}

main "$@"
