#!/usr/bin/env bash
# make image: build contrib/Dockerfile as IMAGE (default cutover:VERSION) with
# buildah, or else docker when its engine answers. Neither available is not an
# error (CI machines without a container engine): the step says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:?usage: contrib/image.sh IMAGE}

if command -v buildah >/dev/null 2>&1 && buildah info >/dev/null 2>&1; then
	echo "image: buildah bud -t $image -f contrib/Dockerfile ."
	exec buildah bud --layers -t "$image" -f contrib/Dockerfile .
fi
if command -v docker >/dev/null 2>&1; then
	if why=$(docker info 2>&1 >/dev/null); then
		echo "image: docker build -t $image -f contrib/Dockerfile ."
		exec docker build -t "$image" -f contrib/Dockerfile .
	fi
	echo "image: skipped: docker is installed but its engine does not answer" \
	     "($(printf '%s' "$why" | head -n 1))"
	exit 0
fi
echo "image: skipped: neither buildah nor docker is installed (contrib/Dockerfile is unchanged)"
exit 0
