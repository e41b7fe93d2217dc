# Helpers shared by scripts/cilium-images.sh and scripts/app-images.sh (sourced, not run).

# shellcheck source=scripts/progress-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/progress-lib.sh"
# shellcheck source=scripts/cache-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cache-lib.sh"

log() { echo "[images] $*" >&2; }
die() {
	echo "[images] ERROR: $*" >&2
	exit 1
}

# timed LABEL CMD... runs CMD and prints how long it took.
timed() {
	local label=$1 start rc=0 hb
	shift
	start=$EPOCHREALTIME
	heartbeat_start "$label"
	hb=$HEARTBEAT_PID
	# A subshell outside any || list, so that set -e still stops the step at its first failure.
	set +e
	(
		set -e
		"$@"
	)
	rc=$?
	set -e
	heartbeat_stop "$hb"
	awk -v a="$start" -v b="$EPOCHREALTIME" -v l="$label" -v f="$( ((rc)) && echo " (failed)")" \
		'BEGIN { printf "[images] %-44s %7.1fs%s\n", l, b - a, f }' >&2
	return $rc
}

# inputs_hash PATH... prints the sha256 over the named files and directories (sorted, with
# their relative names) and over stdin, which callers use for versions and package lists.
inputs_hash() {
	{
		cat
		local p f
		for p in "$@"; do
			[[ -e $p ]] || {
				echo "absent:$p"
				continue
			}
			while IFS= read -r f; do
				echo "file:${f#"$REPO/"}"
				cat "$f"
			done < <(find "$p" -type f ! -name '*_test.go' | LC_ALL=C sort)
		done
	} | sha256sum | cut -d' ' -f1
}

# image_current IMAGE HASH succeeds when IMAGE exists with our hash label equal to HASH.
image_current() {
	[[ ${FORCE:-0} == 1 ]] && return 1
	local have
	have=$(docker image inspect -f "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null) || return 1
	[[ $have == "$2" ]]
}

# import_dir DIR IMAGE HASH [--change ...] packs DIR as the image's only layer.
import_dir() {
	local dir=$1 image=$2 hash=$3 old new
	shift 3
	old=$(docker image inspect -f '{{ .Id }}' "$image" 2>/dev/null || true)
	new=$(tar --numeric-owner -C "$dir" -c . |
		docker import --change "LABEL $HASH_LABEL=$hash" "$@" - "$image")
	# The image this one replaces would linger untagged; disk is scarce.
	if [[ -n $old && $old != "$new" ]]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
}

# image_size IMAGE prints the image's size in MB.
image_size() {
	docker image inspect -f '{{ .Size }}' "$1" | awk '{ printf "%.0f MB", $1 / 1000000 }'
}

# need_docker fails with a hint when no Docker engine answers.
need_docker() {
	docker version >/dev/null 2>&1 && return 0
	[[ -x $REPO/scripts/docker-up.sh ]] && {
		"$REPO/scripts/docker-up.sh" && return 0
	}
	die "no Docker engine answers; start one with scripts/docker-up.sh"
}
