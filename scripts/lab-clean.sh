#!/usr/bin/env bash
# lab-clean.sh: give the lab's disk back, removing only what the lab made.
#
# Removes:
#   - the configured kind clusters, through the mesh command's `down` (MESH,
#     set by make lab-clean), which deletes only clusters carrying the
#     suite's marker and refuses any other cluster of the same name;
#   - the lab's build containers (named clustermesh-e2e-*, from a lab image);
#   - images carrying a lab label (clustermesh-e2e.hash on everything the
#     image scripts build, clustermesh-e2e.selftest on docker-up's self-test
#     image), by name and without force, so Docker refuses an image any
#     container still uses (a cluster someone made from the lab's node image);
#   - volumes carrying the lab's label;
#   - the repository's _output/;
#   - the contents of the lab cache, only when the directory carries the
#     marker the lab wrote when it created it (scripts/cache-lib.sh); a cache
#     directory without it is refused.
# Never: a prune, an image or volume without the lab's label, a kind cluster
# the suite did not make, a directory the lab did not create.
#
# Keeps, unless asked: the downloaded .deb cache and Go's module and build
# caches, which make the next build fast.
#   LAB_CLEAN_DEBS=1      also remove the .deb cache
#   LAB_CLEAN_GO=1        also `go clean -cache -modcache` (the next build downloads and compiles everything again)
#   LAB_CLEAN_DRY_RUN=1   print what would be removed, remove nothing (make lab-clean DRY_RUN=1)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=lab-clean
# shellcheck source=scripts/node-lib.sh
source "$ROOT/scripts/node-lib.sh"

LAB_LABELS=("$HASH_LABEL" clustermesh-e2e.selftest)
DRY=${LAB_CLEAN_DRY_RUN:-0}
MESH=${MESH:-}
refused=0

run() {
	if [[ $DRY == 1 ]]; then
		echo "  would run: $*" >&2
	else
		"$@"
	fi
}
refuse() {
	log "REFUSED: $*"
	refused=1
}

[[ $DRY == 1 ]] && log "dry run (LAB_CLEAN_DRY_RUN=1): nothing is removed"
before=$(df -B1 --output=avail "$ROOT" | tail -n 1)

# Clusters first: the mesh command may live in _output/, removed below.
if [[ -n $MESH && -x $MESH ]]; then
	if docker info >/dev/null 2>&1; then
		mapfile -t kinds < <(docker ps -a --filter label=io.x-k8s.kind.cluster \
			--format '{{.Label "io.x-k8s.kind.cluster"}}' | sort -u)
		log "kind clusters on this engine: ${kinds[*]:-none}; the mesh command deletes the configured ones that carry the suite's marker"
	fi
	run "$MESH" down || refuse "the mesh command's down failed (above): kind clusters left as they are"
else
	log "no mesh command (MESH; run make lab-clean): kind clusters are left alone"
fi

if docker info >/dev/null 2>&1; then
	# Build containers: a lab name, made from a lab image, not a kind node.
	mapfile -t ctrs < <(docker ps -a --filter "label=$HASH_LABEL" \
		--format '{{.Names}} {{.Label "io.x-k8s.kind.cluster"}}' | awk '$1 ~ /^clustermesh-e2e-/ && $2 == "" {print $1}')
	if ((${#ctrs[@]} > 0)); then
		log "build containers: ${ctrs[*]}"
		run docker rm -f -v "${ctrs[@]}" >/dev/null || log "some build containers were not removed (above)"
	fi

	# Images: tagged ones by name, untagged ones by ID; without -f Docker
	# refuses an image that a container (running or not) still uses.
	imgs=()
	for l in "${LAB_LABELS[@]}"; do
		mapfile -t -O "${#imgs[@]}" imgs < <(docker image ls --filter "label=$l" \
			--format '{{if eq .Tag "<none>"}}{{.ID}}{{else}}{{.Repository}}:{{.Tag}}{{end}}')
	done
	if ((${#imgs[@]} > 0)); then
		mapfile -t imgs < <(printf '%s\n' "${imgs[@]}" | sort -u)
		log "${#imgs[@]} lab images (labels ${LAB_LABELS[*]}):"
		printf '  %s\n' "${imgs[@]}" >&2
		for i in "${imgs[@]}"; do
			run docker image rm "$i" >/dev/null || log "kept $i: Docker refused (in use?)"
		done
	else
		log "no lab images"
	fi

	vols=()
	for l in "${LAB_LABELS[@]}"; do
		mapfile -t -O "${#vols[@]}" vols < <(docker volume ls -q --filter "label=$l")
	done
	if ((${#vols[@]} > 0)); then
		log "lab volumes: ${vols[*]}"
		for v in "${vols[@]}"; do
			run docker volume rm "$v" >/dev/null || log "kept volume $v: Docker refused (in use?)"
		done
	else
		log "no lab volumes"
	fi
else
	log "no docker engine answers: skipping containers, images and volumes"
fi

# The cache: every entry but the marker (and, unless asked, the .deb cache)
# is a build output, provided the lab made the directory.
paths=("$ROOT/_output")
if [[ ! -e $CACHE ]]; then
	log "no lab cache at $CACHE"
elif ! cache_marked; then
	refuse "$CACHE has no $CACHE_MARKER marker, so the lab did not create it (CLUSTERMESH_E2E_CACHE names another directory, or it predates the marker): its contents are kept. If it is the lab's cache, mark it with: echo lab >'$CACHE/$CACHE_MARKER'"
else
	for p in "$CACHE"/* "$CACHE"/.[!.]*; do
		[[ -e $p ]] || continue
		case ${p##*/} in
		"$CACHE_MARKER") ;;
		debs | debs.lock) [[ ${LAB_CLEAN_DEBS:-0} == 1 ]] && paths+=("$p") ;;
		*) paths+=("$p") ;;
		esac
	done
fi
for p in "${paths[@]}"; do
	[[ -e $p ]] || continue
	log "remove $p ($(du -sh "$p" 2>/dev/null | cut -f1))"
	run rm -rf "$p"
done
if [[ ${LAB_CLEAN_GO:-0} == 1 ]]; then
	log "removing Go's build and module caches"
	run go clean -cache -modcache
else
	log "kept Go's module and build caches (LAB_CLEAN_GO=1 removes them) and the .deb cache (LAB_CLEAN_DEBS=1)"
fi

after=$(df -B1 --output=avail "$ROOT" | tail -n 1)
[[ $DRY == 1 ]] || log "freed $(((after - before) / 1024 / 1024)) MiB"
exit "$refused"
