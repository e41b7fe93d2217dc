#!/usr/bin/env bash
# Measures the two ways Cilium's images (and the app images) can reach a kind node:
#   load:     create a cluster from the node image, then `kind load docker-image` the images
#   preload:  create a cluster from the node image with the images already in its containerd
#             store (scripts/cilium-preload.sh)
# and prints the seconds each takes for one single-node cluster. The cluster it creates is
# named clustermesh-e2e-load-bench and is deleted at the end.
#
# Environment: NODE_IMAGE (default localhost/clustermesh-e2e/node:v1.34.4), CILIUM_VERSION.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${CILIUM_VERSION:-1.20.2}
VERSION=${VERSION#v}
NODE_IMAGE=${NODE_IMAGE:-localhost/clustermesh-e2e/node:${KUBERNETES_VERSION:-v1.34.4}}
NAME=clustermesh-e2e-load-bench
source "$REPO/scripts/cilium-app-lib.sh"

IMAGES=(localhost/cilium/cilium:v$VERSION localhost/cilium/operator-generic:v$VERSION
	localhost/cilium/clustermesh-apiserver:v$VERSION localhost/cilium/hubble-relay:v$VERSION
	localhost/clustermesh-e2e/helloworld:v1 localhost/clustermesh-e2e/client:v1)

kind() { "$REPO/scripts/lab-kind.sh" "$@"; }

config=$(mktemp)
trap 'kind delete cluster --name "$NAME" >/dev/null 2>&1 || true; rm -rf "$config" "${TMPDIR_BENCH:-}"' EXIT
cat >"$config" <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  disableDefaultCNI: true
  kubeProxyMode: none
EOF

seconds() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# in_node_store prints how many of IMAGES the node's containerd lists.
in_node_store() {
	local listed n=0 img
	listed=$(docker exec "$NAME-control-plane" ctr --namespace=k8s.io images ls -q)
	for img in "${IMAGES[@]}"; do grep -qx "$img" <<<"$listed" && n=$((n + 1)); done
	echo "$n"
}

# run LOGNAME CMD... runs CMD quietly; on failure it shows CMD's output.
run() {
	local logf=$TMPDIR_BENCH/$1.log
	shift
	"$@" >"$logf" 2>&1 || {
		tail -n 30 "$logf" >&2
		die "failed: $*"
	}
}

need_docker
TMPDIR_BENCH=$(mktemp -d)
kind delete cluster --name "$NAME" >/dev/null 2>&1 || true
log "node image: $NODE_IMAGE ($(image_size "$NODE_IMAGE")); ${#IMAGES[@]} images (Cilium v$VERSION and the apps)"

t=$EPOCHREALTIME
run create-plain kind create cluster --name "$NAME" --image "$NODE_IMAGE" --config "$config" --wait 0s
create_plain=$(seconds "$t")
log "kind create, plain node image:       ${create_plain}s"
t=$EPOCHREALTIME
run load kind load docker-image --name "$NAME" "${IMAGES[@]}"
load=$(seconds "$t")
log "kind load docker-image:              ${load}s ($(in_node_store)/${#IMAGES[@]} images in the node's store)"
log "  => per cluster, load way:          $(awk -v a="$create_plain" -v b="$load" 'BEGIN { printf "%.1f", a + b }')s"
run delete kind delete cluster --name "$NAME"

t=$EPOCHREALTIME
preloaded_image=$(NODE_IMAGE=$NODE_IMAGE CILIUM_VERSION=$VERSION "$REPO/scripts/cilium-preload.sh")
log "preloaded node image (once):         $(seconds "$t")s, $preloaded_image ($(image_size "$preloaded_image"))"
t=$EPOCHREALTIME
run create-preloaded kind create cluster --name "$NAME" --image "$preloaded_image" --config "$config" --wait 0s
log "kind create, preloaded node image:   $(seconds "$t")s ($(in_node_store)/${#IMAGES[@]} images in the node's store)"
