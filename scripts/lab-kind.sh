#!/usr/bin/env bash
# lab-kind.sh ARGS...: run the kind CLI at the version go.mod pins, built once
# from the module into the lab cache (no download of a kind release binary).
#   scripts/lab-kind.sh create cluster --image localhost/clustermesh-e2e/node:v1.34.4 --config kind/cluster-1.yaml
#   scripts/lab-kind.sh --print-path     prints the binary's path
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=lab-kind
# shellcheck source=scripts/node-lib.sh
source "$ROOT/scripts/node-lib.sh"

version=$(awk '$1 == "sigs.k8s.io/kind" {print $2}' "$ROOT/go.mod")
[[ -n $version ]] || die "no sigs.k8s.io/kind in go.mod"
bin=$CACHE/bin/kind-$version
if [[ ! -x $bin ]]; then
	log "building kind $version from the module"
	cache_init
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" sigs.k8s.io/kind) && mv "$bin.tmp" "$bin" ||
		die "building sigs.k8s.io/kind@$version failed"
fi
if [[ ${1:-} == --print-path ]]; then
	echo "$bin"
	exit 0
fi
exec "$bin" "$@"
