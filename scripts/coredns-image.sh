#!/usr/bin/env bash
# coredns-image.sh: builds the CoreDNS image that MCS-API needs,
#   localhost/clustermesh-e2e/coredns:<MCS_COREDNS_VERSION>
# from the github.com/coredns/coredns module (the module proxy), static, alone on a minimal root.
#
# Why a second CoreDNS: Cilium's MCS-API answers <svc>.<ns>.svc.clusterset.local through the
# kubernetes plugin's `multicluster` option, which CoreDNS has from v1.12.2 on; the chart's
# CoreDNS auto-configuration refuses an older one. kubeadm v1.34 deploys v1.12.1, which the node
# image keeps as kubeadm asks for it. Bring-up switches the coredns Deployment of a cluster the
# suite created to this image before Cilium's chart configures CoreDNS (fixtures/cilium,
# SwitchCoreDNS); clusters the suite did not create are never touched.
#
# Environment:
#   MCS_COREDNS_VERSION    default v1.13.1 (what kubeadm v1.35 deploys); must be v1.12.2 or later
#   CLUSTERMESH_E2E_CACHE  work and cache directory (default $HOME/.cache/clustermesh-e2e)
#   FORCE=1                rebuild even when the content hash matches
# A version the module proxy does not serve fails here with the proxy's answer; the suite then
# runs without CoreDNS auto-configuration and its clusterset.local check skips, saying why.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=coredns-image
source "$REPO/scripts/cilium-app-lib.sh"
# node-lib.sh last: its go_scratch_build, and its log/die with LOG_PREFIX.
source "$REPO/scripts/node-lib.sh"
cache_init
export GOWORK=off GOTOOLCHAIN=local

VERSION=${MCS_COREDNS_VERSION:-v1.13.1}
[[ $VERSION =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "MCS_COREDNS_VERSION must look like v1.13.1, got $VERSION"
((BASH_REMATCH[1] > 12 || (BASH_REMATCH[1] == 12 && BASH_REMATCH[2] >= 2))) ||
	die "MCS_COREDNS_VERSION $VERSION is older than v1.12.2, the first CoreDNS with the multicluster option"
IMAGE=localhost/clustermesh-e2e/coredns:$VERSION
MODULE=github.com/coredns/coredns

build() {
	local hash=$1 dir=$CACHE/go/coredns-$VERSION root=$CACHE/coredns-root-$VERSION
	mkdir -p "$dir"
	# A scratch module requiring CoreDNS at the version, with it as a tool.
	printf 'module clustermesh-e2e.local/coredns-build\n\ngo 1.24.0\n\nrequire %s %s\n\ntool %s\n' \
		"$MODULE" "$VERSION" "$MODULE" >"$dir/go.mod"
	rm -rf "$root"
	mkdir -p "$root/etc" "$root/tmp"
	chmod 1777 "$root/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
	go_scratch_build "$dir" "$root" "" "$MODULE" ||
		die "building $MODULE@$VERSION failed (a version the module proxy refuses is named above)"
	"$root/coredns" -version | grep -q "CoreDNS-${VERSION#v}" ||
		die "the binary reports $("$root/coredns" -version | head -1), want CoreDNS-${VERSION#v}"
	# kubeadm's Deployment runs the image's entrypoint with -conf; the upstream image's is /coredns.
	import_dir "$root" "$IMAGE" "$hash" --change 'ENTRYPOINT ["/coredns"]' --change 'EXPOSE 53 53/udp'
	rm -rf "$root"
}

main() {
	local hash
	need_docker
	hash=$(echo "coredns $VERSION $(go env GOVERSION)" | inputs_hash "$REPO/scripts/coredns-image.sh" \
		"$REPO/scripts/node-lib.sh" "$REPO/scripts/cilium-app-lib.sh")
	if image_current "$IMAGE" "$hash"; then
		log "$IMAGE is up to date"
	else
		timed "build $IMAGE" build "$hash"
	fi
	log "$(printf '%-46s %s' "$IMAGE" "$(image_size "$IMAGE")")"
}

main
