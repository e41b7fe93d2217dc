#!/usr/bin/env bash
# Builds the suite's workload images without any container registry:
#   localhost/clustermesh-e2e/helloworld:v1  our Go server (kind/build/apps/helloworld), static, alone
#                                            on an empty rootfs
#   localhost/clustermesh-e2e/client:v1      Debian bookworm with Debian's curl, and tini as PID 1 so
#                                            that processes left behind by `kubectl exec` are reaped
#
# Environment:
#   CLUSTERMESH_E2E_CACHE  work and cache directory (default $HOME/.cache/clustermesh-e2e)
#   FORCE=1                rebuild even when the content hash matches
#   VERIFY_REAPING=1       after building the client, run 50 timeout-wrapped curls through
#                          `docker exec` and fail if any zombie is left
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${CLUSTERMESH_E2E_CACHE:-$HOME/.cache/clustermesh-e2e}
WORK=$CACHE/apps
HASH_LABEL=clustermesh-e2e.hash
HELLO_IMAGE=localhost/clustermesh-e2e/helloworld:v1
CLIENT_IMAGE=localhost/clustermesh-e2e/client:v1
# procps gives the reaping check `ps`; coreutils (timeout) is in minbase.
CLIENT_PACKAGES=(curl ca-certificates tini procps)

source "$REPO/scripts/cilium-app-lib.sh"
cache_init
export GOWORK=off GOTOOLCHAIN=local

build_helloworld() {
	local root=$WORK/helloworld-root
	rm -rf "$root"
	install -d "$root/tmp"
	CGO_ENABLED=0 go -C "$REPO" build -trimpath -ldflags "-s -w" -o "$root/helloworld" ./kind/build/apps/helloworld
	import_dir "$root" "$HELLO_IMAGE" "$1" \
		--change 'ENV PORT=8080' --change 'EXPOSE 8080' --change 'USER 65532:65532' \
		--change 'ENTRYPOINT ["/helloworld"]'
}

build_client() {
	local root=$WORK/client-root tar=$WORK/client-rootfs.tar
	timed "debian rootfs (client packages)" "$REPO/scripts/debian-rootfs.sh" "$tar" "${CLIENT_PACKAGES[@]}"
	rm -rf "$root"
	mkdir -p "$root"
	tar --numeric-owner -xf "$tar" -C "$root"
	import_dir "$root" "$CLIENT_IMAGE" "$1" \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'ENTRYPOINT ["/usr/bin/tini", "--"]' --change 'CMD ["sleep", "infinity"]'
	rm -rf "$root"
}

# count_zombies NAME [ENTRYPOINT ARG...] starts the client image, runs 50 curls through
# `docker exec`, each in a shell that `timeout` kills before its curl is done (the orphaned curl
# is re-parented to PID 1), waits for the curls to give up, and prints the number of zombies.
# The curls read file:///dev/zero until their -m limit: no network traffic, no network needed.
count_zombies() {
	local name=clustermesh-e2e-reap-$1-$$ i n
	shift
	docker rm -f "$name" >/dev/null 2>&1 || true
	if (($#)); then
		docker run -d --name "$name" --network none --entrypoint "$1" "$CLIENT_IMAGE" "${@:2}" >/dev/null
	else
		docker run -d --name "$name" --network none "$CLIENT_IMAGE" >/dev/null
	fi
	for i in $(seq 1 50); do
		docker exec "$name" sh -c 'timeout -s KILL 0.2 sh -c "curl -s -m 3 -o /dev/null file:///dev/zero & sleep 1"' \
			>/dev/null 2>&1 || true
	done
	sleep 4 # every orphaned curl has given up (-m 3) and exited by now
	n=$(docker exec "$name" ps -eo stat= | grep -c '^Z' || true)
	docker rm -f "$name" >/dev/null
	echo "$n"
}

# verify_reaping proves tini reaps, against a control whose PID 1 (sleep) does not: a check
# that finds no zombies in the control would prove nothing.
verify_reaping() {
	local with without
	with=$(count_zombies tini)
	without=$(count_zombies sleep sleep infinity)
	log "client reaping: 50 exec'd curls orphaned under timeout -> zombies with tini as PID 1: $with;" \
		"with sleep as PID 1 (control): $without"
	((without > 0)) || die "the reaping check is void: the control left no zombies"
	((with == 0)) || die "$CLIENT_IMAGE leaves zombies: PID 1 does not reap"
}

main() {
	local start=$EPOCHREALTIME hello_hash client_hash
	need_docker
	mkdir -p "$WORK"
	hello_hash=$(echo "helloworld $(go env GOVERSION)" | inputs_hash "$REPO/kind/build/apps/helloworld" \
		"$REPO/scripts/app-images.sh" "$REPO/scripts/cilium-app-lib.sh")
	client_hash=$(echo "client ${CLIENT_PACKAGES[*]}" | inputs_hash "$REPO/scripts/app-images.sh" \
		"$REPO/scripts/cilium-app-lib.sh" "$REPO/scripts/debian-rootfs.sh")
	if image_current "$HELLO_IMAGE" "$hello_hash"; then
		log "$HELLO_IMAGE is up to date"
	else
		timed "build $HELLO_IMAGE" build_helloworld "$hello_hash"
	fi
	if image_current "$CLIENT_IMAGE" "$client_hash"; then
		log "$CLIENT_IMAGE is up to date"
	else
		timed "build $CLIENT_IMAGE" build_client "$client_hash"
	fi
	[[ ${VERIFY_REAPING:-0} == 1 ]] && timed "verify client reaping" verify_reaping
	log "$(printf '%-46s %s' "$HELLO_IMAGE" "$(image_size "$HELLO_IMAGE")")"
	log "$(printf '%-46s %s' "$CLIENT_IMAGE" "$(image_size "$CLIENT_IMAGE")")"
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "[images] app images total %.1fs\n", b - a }' >&2
}

main
