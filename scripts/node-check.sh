#!/usr/bin/env bash
# node-check.sh: prove a node image works, without Cilium. Creates a one-node
# kind cluster from kind/cluster-1.yaml under another name, then checks:
#   - the API server answers (readyz);
#   - the node is NotReady only because no CNI is installed yet;
#   - etcd, kube-apiserver, controller-manager and scheduler run from the
#     preloaded images;
#   - a privileged pod asking for SYS_RESOURCE starts (the runtime wrapper
#     inside the node, on hosts whose bounding set lacks that capability).
# The cluster is deleted at the end, whatever happened (NODE_CHECK_KEEP=1 keeps it).
#
# Environment: KUBERNETES_VERSION (v1.34.4), NODE_IMAGE, NODE_CHECK_NAME
# (cluster-nodecheck), NODE_CHECK_TIMEOUT seconds per wait (120).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=node-check
# shellcheck source=scripts/node-lib.sh
source "$ROOT/scripts/node-lib.sh"

KV=${KUBERNETES_VERSION:-v1.34.4}
IMAGE=${NODE_IMAGE:-localhost/clustermesh-e2e/node:$KV}
NAME=${NODE_CHECK_NAME:-cluster-nodecheck}
TIMEOUT=${NODE_CHECK_TIMEOUT:-120}
NODE=$NAME-control-plane
START=$SECONDS

docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE: run scripts/node-image.sh first"

cfg=$ROOT/kind/cluster-1.yaml
if [[ ! -f $cfg ]]; then
	cfg=$(mktemp)
	printf 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  disableDefaultCNI: true\n  kubeProxyMode: none\n' >"$cfg"
fi

cleanup() {
	if [[ ${NODE_CHECK_KEEP:-0} == 1 ]]; then
		log "keeping cluster $NAME (NODE_CHECK_KEEP=1)"
	else
		"$ROOT/scripts/lab-kind.sh" delete cluster --name "$NAME" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

k() { docker exec -i "$NODE" kubectl --kubeconfig=/etc/kubernetes/admin.conf "$@"; }

# wait_for WHAT CMD...: retry CMD every 2s until it succeeds or TIMEOUT passes.
wait_for() {
	local what=$1 deadline=$((SECONDS + TIMEOUT)) out
	shift
	until out=$("$@" 2>&1); do
		((SECONDS < deadline)) || die "timed out after ${TIMEOUT}s waiting for $what (last: $out)"
		sleep 2
	done
	log "$what ($((SECONDS - START))s)"
}

"$ROOT/scripts/lab-kind.sh" delete cluster --name "$NAME" >/dev/null 2>&1 || true
t=$SECONDS
"$ROOT/scripts/lab-kind.sh" create cluster --name "$NAME" --image "$IMAGE" --config "$cfg" --wait 0s >&2 ||
	die "kind create cluster failed"
log "kind create cluster: $((SECONDS - t))s"

wait_for "API server answers" k get --raw /readyz
not_ready_for_cni() {
	local msg
	msg=$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}')
	[[ $msg == "False "*"cni plugin not initialized"* ]] || {
		echo "$msg"
		return 1
	}
}
wait_for "node NotReady only for 'cni plugin not initialized'" not_ready_for_cni
static_pods_running() {
	local c phase
	for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
		phase=$(k -n kube-system get pod "$c-$NODE" -o jsonpath='{.status.phase}')
		[[ $phase == Running ]] || {
			echo "$c: ${phase:-absent}"
			return 1
		}
	done
}
wait_for "control-plane pods Running" static_pods_running

wait_for "default service account" k -n default get serviceaccount default
pause=$(docker exec "$NODE" sed -n 's/^[[:space:]]*sandbox_image = "\(.*\)"/\1/p' /etc/containerd/config.toml)
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: sys-resource-check
  namespace: default
spec:
  hostNetwork: true
  tolerations: [{operator: Exists}]
  containers:
  - name: pause
    image: $pause
    imagePullPolicy: Never
    securityContext:
      privileged: true
      runAsUser: 0
      capabilities: {add: [SYS_RESOURCE]}
YAML
pod_running() { [[ $(k get pod sys-resource-check -o jsonpath='{.status.phase}') == Running ]]; }
wait_for "privileged pod with SYS_RESOURCE Running" pod_running

log "node image $IMAGE OK in $((SECONDS - START))s"
