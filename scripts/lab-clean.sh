#!/usr/bin/env bash
# lab-clean.sh: give the lab's disk back.
#
# Removes: kind clusters named cluster-* (and their kubeconfig entries), the
# lab's images (any label clustermesh-e2e.*, which includes the control-plane
# images and the Cilium and app images), leftover build containers, dangling
# images, unused volumes, the repository's _output/ and every build output in
# the lab cache (binaries, image archives, rootfs tars, scratch modules).
#
# Keeps, unless asked: the downloaded .deb cache and Go's module and build
# caches, which make the next build fast.
#   LAB_CLEAN_DEBS=1      also remove the .deb cache
#   LAB_CLEAN_GO=1        also `go clean -cache -modcache` (the next build downloads and compiles everything again)
#   LAB_CLEAN_DRY_RUN=1   print what would be removed
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=lab-clean
# shellcheck source=scripts/node-lib.sh
source "$ROOT/scripts/node-lib.sh"

DRY=${LAB_CLEAN_DRY_RUN:-0}
run() {
	if [[ $DRY == 1 ]]; then
		echo "would run: $*" >&2
	else
		"$@"
	fi
}

before=$(df -B1 --output=avail "$ROOT" | tail -n 1)

if docker info >/dev/null 2>&1; then
	# Clusters: kind labels its node containers with their cluster's name.
	mapfile -t clusters < <(docker ps -a --filter label=io.x-k8s.kind.cluster \
		--format '{{.Label "io.x-k8s.kind.cluster"}}' | grep -E '^cluster-' | sort -u)
	for c in "${clusters[@]}"; do
		log "deleting kind cluster $c"
		run "$ROOT/scripts/lab-kind.sh" delete cluster --name "$c"
	done

	mapfile -t ctrs < <(docker ps -a --format '{{.Names}}' | grep -E '^clustermesh-e2e-' || true)
	((${#ctrs[@]} == 0)) || {
		log "removing build containers: ${ctrs[*]}"
		run docker rm -f -v "${ctrs[@]}" >/dev/null
	}

	# Images: any label with the clustermesh-e2e. prefix.
	mapfile -t imgs < <(docker image ls -q | sort -u | xargs -r docker image inspect \
		--format '{{.Id}}{{range $k, $v := .Config.Labels}} {{$k}}{{end}}' |
		awk '/ clustermesh-e2e\./ {print $1}')
	if ((${#imgs[@]} > 0)); then
		log "removing ${#imgs[@]} lab images"
		run docker image rm -f "${imgs[@]}" >/dev/null
	fi
	log "removing dangling images and unused volumes"
	run docker image prune -f >/dev/null
	run docker volume prune -f >/dev/null
else
	log "no docker engine answers: skipping clusters and images"
fi

# Everything in the lab cache is a build output (node and Cilium builds alike)
# except the .deb downloads.
paths=("$ROOT/_output")
for p in "$CACHE"/* "$CACHE"/.[!.]*; do
	case ${p##*/} in
	debs | debs.lock) [[ ${LAB_CLEAN_DEBS:-0} == 1 ]] && paths+=("$p") ;;
	*) paths+=("$p") ;;
	esac
done
for p in "${paths[@]}"; do
	[[ -e $p ]] || continue
	log "removing $p"
	run rm -rf "$p"
done
if [[ ${LAB_CLEAN_GO:-0} == 1 ]]; then
	log "removing Go's build and module caches"
	run go clean -cache -modcache
else
	log "kept Go's module and build caches (LAB_CLEAN_GO=1 removes them) and the .deb cache (LAB_CLEAN_DEBS=1)"
fi

after=$(df -B1 --output=avail "$ROOT" | tail -n 1)
log "freed $(((after - before) / 1024 / 1024)) MiB"
