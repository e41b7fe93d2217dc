#!/usr/bin/env bash
# Makes a kind node image that already holds Cilium's images (and the app images) in its
# containerd store, so that clusters created from it need no `kind load`:
#   localhost/clustermesh-e2e/node:<k8s>-cilium-v<cilium>
# The images are imported the way kind preloads the control-plane images (pinned, not unpacked;
# containerd unpacks them when a pod first uses them), in one thin layer committed on top of the
# node image.
#
# Environment:
#   NODE_IMAGE       base node image (default localhost/clustermesh-e2e/node:v1.34.4)
#   CILIUM_VERSION   default 1.20.2
#   PRELOAD_APPS=0   leave the helloworld and client images out
#   MCS_COREDNS_VERSION  the MCS-API CoreDNS to preload when built (default v1.13.1)
#   FORCE=1          rebuild even when the content hash matches
# Prints the image name on stdout.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${CILIUM_VERSION:-1.20.2}
VERSION=${VERSION#v}
NODE_IMAGE=${NODE_IMAGE:-localhost/clustermesh-e2e/node:${KUBERNETES_VERSION:-v1.34.4}}
HASH_LABEL=clustermesh-e2e.hash
CACHE=${CLUSTERMESH_E2E_CACHE:-$HOME/.cache/clustermesh-e2e}
source "$REPO/scripts/cilium-app-lib.sh"
cache_init

IMAGES=(localhost/cilium/cilium:v$VERSION localhost/cilium/operator-generic:v$VERSION
	localhost/cilium/clustermesh-apiserver:v$VERSION localhost/cilium/hubble-relay:v$VERSION)
[[ ${PRELOAD_APPS:-1} == 1 ]] && IMAGES+=(localhost/clustermesh-e2e/helloworld:v1 localhost/clustermesh-e2e/client:v1)
# The MCS-API CoreDNS (scripts/coredns-image.sh) when it was built: bring-up switches CoreDNS to it.
COREDNS_IMAGE=localhost/clustermesh-e2e/coredns:${MCS_COREDNS_VERSION:-v1.13.1}
docker image inspect "$COREDNS_IMAGE" >/dev/null 2>&1 && IMAGES+=("$COREDNS_IMAGE")
OUT=${NODE_IMAGE}-cilium-v$VERSION

preload() {
	local hash=$1 ctr=clustermesh-e2e-preload-$$ archive=$CACHE/preload-$$.tar
	# shellcheck disable=SC2064
	trap "docker rm -f -v $ctr >/dev/null 2>&1 || true; rm -f '$archive'" EXIT
	timed "docker save ${#IMAGES[@]} images" docker save -o "$archive" "${IMAGES[@]}"
	# The node's entrypoint is not run: only containerd, to write its store under /var/lib/containerd.
	# (containerd 1.6's ctr has no `info`; `version` answers once the daemon does.)
	docker run -d --name "$ctr" --entrypoint sleep --security-opt seccomp=unconfined "$NODE_IMAGE" infinity >/dev/null
	docker exec "$ctr" bash -ec '
		nohup containerd >/tmp/containerd.log 2>&1 &
		for i in $(seq 1 100); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.1; done
		cat /tmp/containerd.log >&2; exit 1'
	timed "ctr import into the node's store" docker exec -i "$ctr" ctr --namespace=k8s.io images import \
		--label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - <"$archive" >/dev/null
	docker exec "$ctr" bash -ec 'pkill containerd
		for i in $(seq 1 100); do pgrep containerd >/dev/null || break; sleep 0.1; done
		rm -f /tmp/containerd.log'
	# The commit takes the container's configuration, whose entrypoint was overridden above:
	# give it back the node image's own entrypoint and command.
	local entrypoint cmd
	entrypoint=$(docker image inspect -f '{{ json .Config.Entrypoint }}' "$NODE_IMAGE")
	cmd=$(docker image inspect -f '{{ json .Config.Cmd }}' "$NODE_IMAGE")
	[[ $cmd == null ]] && cmd='[]'
	timed "commit $OUT" docker commit --change "ENTRYPOINT $entrypoint" --change "CMD $cmd" \
		--change "LABEL $HASH_LABEL=$hash" "$ctr" "$OUT" >/dev/null
}

main() {
	local img id ids=() hash
	need_docker
	for img in "$NODE_IMAGE" "${IMAGES[@]}"; do
		id=$(docker image inspect -f '{{ .Id }}' "$img" 2>/dev/null) ||
			die "image $img is missing; build it first (make images)"
		ids+=("$img=$id")
	done
	hash=$(printf '%s\n' "${ids[@]}" | inputs_hash "$REPO/scripts/cilium-preload.sh")
	if image_current "$OUT" "$hash"; then
		log "$OUT is up to date"
	else
		local old
		old=$(docker image inspect -f '{{ .Id }}' "$OUT" 2>/dev/null || true)
		timed "preload into $OUT" preload "$hash"
		[[ -n $old ]] && docker image rm "$old" >/dev/null 2>&1 || true
	fi
	log "$(printf '%-46s %s' "$OUT" "$(image_size "$OUT")")"
	echo "$OUT"
}

main
