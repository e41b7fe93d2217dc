#!/usr/bin/env bash
# node-lib.sh: helpers shared by the node image scripts (sourced, not run).

# Where builds keep their state: scratch Go modules, binaries, image archives.
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE=${CLUSTERMESH_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clustermesh-e2e}
HASH_LABEL=clustermesh-e2e.hash
# shellcheck source=scripts/cache-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache-lib.sh"

# shellcheck source=scripts/progress-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/progress-lib.sh"

log() { echo "[${LOG_PREFIX:-lab}] $*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

# hash_of prints a short sha256 of its arguments; an argument naming an
# existing file or directory contributes that content instead of its name.
hash_of() {
	local a
	for a in "$@"; do
		if [[ -d $a ]]; then
			(cd "$a" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		elif [[ -f $a ]]; then
			sha256sum <"$a"
		else
			printf '%s\n' "$a"
		fi
	done | sha256sum | cut -c1-20
}

# image_hash prints the clustermesh-e2e.hash label of a local image, or nothing.
image_hash() {
	docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

# Step timings, printed by timings_report.
STEP_NAMES=()
STEP_SECS=()
STEP_NOTES=()

# step NAME FUNC [ARGS...] runs FUNC and records how long it took; FUNC may set
# STEP_NOTE (e.g. "cached") for the report.
step() {
	local name=$1 t=$SECONDS hb
	shift
	STEP_NOTE=
	log "== $name"
	heartbeat_start "$name"
	hb=$HEARTBEAT_PID
	"$@"
	heartbeat_stop "$hb"
	STEP_NAMES+=("$name")
	STEP_SECS+=($((SECONDS - t)))
	STEP_NOTES+=("${STEP_NOTE:-}")
	log "== $name: $((SECONDS - t))s ${STEP_NOTE:+($STEP_NOTE)}"
}

timings_report() {
	local i total=0
	echo "---- step timings"
	for i in "${!STEP_NAMES[@]}"; do
		printf '%-28s %5ss  %s\n' "${STEP_NAMES[$i]}" "${STEP_SECS[$i]}" "${STEP_NOTES[$i]}"
		total=$((total + STEP_SECS[i]))
	done
	printf '%-28s %5ss\n' total "$total"
}

# go_scratch_build DIR OUTDIR LDFLAGS PKG... builds main packages with a
# scratch module in DIR (whose go.mod the caller wrote) into OUTDIR: static,
# trimmed, through the module proxy.
go_scratch_build() {
	local dir=$1 out=$2 ldflags=$3
	shift 3
	mkdir -p "$out"
	(
		cd "$dir" || exit 1
		export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off
		go mod tidy >tidy.log 2>&1 || {
			tail -n 20 tidy.log >&2
			exit 1
		}
		go build -trimpath -ldflags="-s -w $ldflags" -o "$out/" "$@"
	)
}
