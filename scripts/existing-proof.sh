#!/usr/bin/env bash
# The existing-cluster path, proven on clusters the suite did not make:
#   1. three kind clusters created the way a person would (the kind CLI and
#      kind/cluster-N.yaml), each with a namespace holding a ConfigMap and a
#      Secret of the person's;
#   2. `make kind-down` must refuse those clusters (the suite did not make them);
#   3. the README's existing-cluster command: the suite installs Cilium with
#      PROFILE (default kind-lb: the AKS profile's load balancer path, with
#      Cilium's LB-IPAM and L2 announcements standing in for Azure's internal
#      load balancer), meshes, gates, runs every spec, and removes what it made;
#   4. the person's objects are unchanged and nothing of the suite's is left;
#   5. the person deletes the clusters with kind.
# Used by CI (make e2e-existing). Needs the images (make images) and a Docker engine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARTIFACTS=${ARTIFACTS:-$ROOT/_artifacts}
DIR=$ARTIFACTS/existing
NS=${E2E_NAMESPACE:-meshtest}
PROFILE=${PROFILE:-kind-lb}
MESH=${MESH:-$ROOT/_output/bin/mesh}
K8S=${KUBERNETES_VERSION:-v1.34.4}
CILIUM=${CILIUM_VERSION:-1.20.2}
N=3
mkdir -p "$DIR"

say() { printf '[existing-proof] %s\n' "$*"; }
kind_() { scripts/lab-kind.sh "$@"; }

if [[ $("$MESH" image-source) == upstream ]]; then
	image=kindest/node:$K8S
else
	image=localhost/clustermesh-e2e/node:$K8S-cilium-v$CILIUM
	docker image inspect "$image" >/dev/null 2>&1 || image=localhost/clustermesh-e2e/node:$K8S
fi

names=() contexts=() kubeconfigs=()
for i in $(seq 1 $N); do
	names+=("cluster-$i")
	contexts+=("kind-cluster-$i")
	kubeconfigs+=("$DIR/cluster-$i.kubeconfig")
done
join() { local IFS=$1; shift; echo "$*"; }
export KUBECONFIG
KUBECONFIG=$(join : "${kubeconfigs[@]}")

existing=$(kind_ get clusters 2>/dev/null || true)
for n in "${names[@]}"; do
	if grep -qx "$n" <<<"$existing"; then
		say "a kind cluster named $n exists already: this proof makes its own; delete it first (kind delete cluster --name $n)"
		exit 1
	fi
done

# kind leaves its network behind; the proof removes it only when the
# person's first create made it and nothing else is attached.
network_before=no
docker network inspect kind >/dev/null 2>&1 && network_before=yes
delete_clusters() {
	say "the person deletes the clusters with kind"
	for i in $(seq 1 $N); do
		kind_ delete cluster --name "cluster-$i" --kubeconfig "${kubeconfigs[$((i - 1))]}" >/dev/null 2>&1 || true
	done
	if [[ $network_before == no ]] && [[ -z $(docker network inspect kind -f '{{range .Containers}}{{.Name}} {{end}}' 2>/dev/null) ]]; then
		docker network rm kind >/dev/null 2>&1 || true
	fi
}
trap delete_clusters EXIT

start=$(date +%s)
say "1. a person makes three kind clusters from kind/cluster-N.yaml with $image"
pids=()
for i in $(seq 1 $N); do
	kind_ create cluster --name "cluster-$i" --config "kind/cluster-$i.yaml" --image "$image" \
		--kubeconfig "${kubeconfigs[$((i - 1))]}" --wait 0s >"$DIR/kind-create-$i.log" 2>&1 &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || { cat "$DIR/kind-create-$((i + 1)).log"; exit 1; }
done
say "   ... and keeps a namespace $NS with a ConfigMap and a Secret in each"
go run ./scripts/bystander create -contexts "$(join , "${contexts[@]}")" -namespace "$NS" -state "$DIR/bystanders.json"

say "2. make kind-down must leave clusters the suite did not make"
make --no-print-directory kind-down >"$DIR/kind-down.log" 2>&1 || true
left=$(kind_ get clusters)
for n in "${names[@]}"; do
	grep -qx "$n" <<<"$left" || { say "FAILED: make kind-down deleted $n, which the suite did not make"; cat "$DIR/kind-down.log"; exit 1; }
done
say "   kind-down left all three: $(grep -c . "$DIR/kind-down.log") lines in kind-down.log"

network=$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' | tr ' ' '\n' | grep -m1 '\.')
say "3. the suite on them: PROVIDER=existing PROFILE=$PROFILE (kind network $network)"
rc=0
PROVIDER=existing PROFILE=$PROFILE KUBE_CONTEXTS=$(join , "${contexts[@]}") NODE_NETWORK=$network \
	E2E_NAMESPACE=$NS ARTIFACTS=$DIR/suite make --no-print-directory e2e-run || rc=$?
[[ $rc == 0 ]] || say "FAILED: the suite failed on existing clusters (rc $rc); its artifacts are in $DIR/suite"

say "4. the person's objects are unchanged, and nothing of the suite's is left"
go run ./scripts/bystander check -contexts "$(join , "${contexts[@]}")" -namespace "$NS" -state "$DIR/bystanders.json" || rc=1
say "done in $(($(date +%s) - start))s (rc $rc)"
exit $rc
