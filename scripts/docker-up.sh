#!/usr/bin/env bash
# docker-up.sh: make sure a Docker engine answers; start one if none does.
#
# Idempotent. If `docker info` answers, nothing is done. Otherwise Debian's
# docker.io is installed when dockerd is missing, and dockerd is started in the
# background (there is no systemd on our hosts). When the capability bounding
# set of this host lacks CAP_SYS_RESOURCE, `docker run --privileged` fails with
# "unable to apply caps"; then the runtime wrapper (kind/build/runcwrap) is
# built, installed and made dockerd's default runtime.
#
#   scripts/docker-up.sh              start (or find) the engine
#   scripts/docker-up.sh --selftest   also run a privileged container to prove it
#
# Environment:
#   DOCKERD_LOG            dockerd's log file        (default /var/log/dockerd.log)
#   DOCKER_START_TIMEOUT   seconds to wait for dockerd (default 60)
#   RUNCWRAP_BIN           where the wrapper goes      (default /usr/local/bin/runcwrap)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_START_TIMEOUT=${DOCKER_START_TIMEOUT:-60}
RUNCWRAP_BIN=${RUNCWRAP_BIN:-/usr/local/bin/runcwrap}
RUNTIME_NAME=runcwrap
CAP_SYS_RESOURCE=24

log() { echo "[docker-up] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# lacks_sys_resource succeeds when bit 24 is missing from this process's
# capability bounding set.
lacks_sys_resource() {
	local bnd
	bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
	[[ -n $bnd ]] || die "cannot read CapBnd from /proc/self/status"
	(( (16#$bnd >> CAP_SYS_RESOURCE & 1) == 0 ))
}

# install_wrapper builds the wrapper statically and installs it when it differs.
install_wrapper() {
	command -v go >/dev/null || die "go is needed to build the runtime wrapper"
	local tmp
	tmp=$(mktemp)
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$tmp" ./kind/build/runcwrap) ||
		{ rm -f "$tmp"; die "building kind/build/runcwrap failed"; }
	if ! cmp -s "$tmp" "$RUNCWRAP_BIN" 2>/dev/null; then
		install -D -m 0755 "$tmp" "$RUNCWRAP_BIN"
		log "installed runtime wrapper $RUNCWRAP_BIN"
	fi
	rm -f "$tmp"
}

selftest() {
	local img=clustermesh-e2e/selftest:busybox tmp
	if ! docker image inspect "$img" >/dev/null 2>&1; then
		command -v busybox >/dev/null && busybox --list >/dev/null 2>&1 && ldd "$(command -v busybox)" 2>&1 | grep -q 'not a dynamic' ||
			{ log "installing busybox-static for the self-test"; apt_install busybox-static; }
		tmp=$(mktemp -d)
		mkdir -p "$tmp/bin"
		cp "$(command -v busybox)" "$tmp/bin/busybox"
		for a in sh cat grep ip mount; do ln -s busybox "$tmp/bin/$a"; done
		tar -C "$tmp" -c . | docker import --change 'CMD ["/bin/sh"]' \
			--change 'LABEL clustermesh-e2e.selftest=1' - "$img" >/dev/null
		rm -rf "$tmp"
	fi
	log "self-test: docker run --privileged $img"
	docker run --rm --privileged "$img" sh -c 'grep CapEff /proc/self/status && mkdir -p /mnt && mount -t tmpfs none /mnt && echo privileged-ok'
}

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends "$@" >/dev/null 2>&1 || {
		apt-get update -qq && apt-get install -y --no-install-recommends "$@"
	}
}

main() {
	local want_selftest=false
	[[ ${1:-} == --selftest ]] && want_selftest=true

	if docker info >/dev/null 2>&1; then
		log "docker engine already answers"
		local runtime
		runtime=$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null)
		# Keep an installed wrapper current with its source.
		[[ $runtime == "$RUNTIME_NAME" ]] && install_wrapper
		if lacks_sys_resource && [[ $runtime != "$RUNTIME_NAME" ]]; then
			log "WARNING: this host lacks CAP_SYS_RESOURCE but the running dockerd's default runtime is not $RUNTIME_NAME;"
			log "         privileged containers (kind nodes) may fail with 'unable to apply caps'"
		fi
		$want_selftest && selftest
		return 0
	fi

	local start=$SECONDS
	if ! command -v dockerd >/dev/null; then
		log "installing Debian's docker.io"
		apt_install docker.io
	fi

	local args=()
	if lacks_sys_resource; then
		log "capability bounding set lacks CAP_SYS_RESOURCE: using runtime wrapper $RUNCWRAP_BIN"
		install_wrapper
		args+=(--add-runtime "$RUNTIME_NAME=$RUNCWRAP_BIN" --default-runtime "$RUNTIME_NAME")
	else
		log "capability bounding set has CAP_SYS_RESOURCE: plain runc"
	fi

	# A dockerd that died (or a machine that kept /var/run) leaves a pid file
	# that stops the next one from starting.
	local pidfile=/var/run/docker.pid
	if [[ -f $pidfile ]] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		log "removing stale $pidfile"
		rm -f "$pidfile"
	fi
	mkdir -p "$(dirname "$DOCKERD_LOG")"
	log "starting dockerd ${args[*]} (log: $DOCKERD_LOG)"
	setsid nohup dockerd "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null &
	local pid=$!
	local deadline=$((SECONDS + DOCKER_START_TIMEOUT))
	until docker info >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$DOCKERD_LOG" >&2 || true
			die "dockerd (pid $pid) exited; log tail above"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$DOCKERD_LOG" >&2 || true
			die "dockerd did not answer within ${DOCKER_START_TIMEOUT}s; log tail above"
		fi
		sleep 0.5
	done
	log "dockerd (pid $pid) answers after $((SECONDS - start))s"
	$want_selftest && selftest
	return 0
}

main "$@"
