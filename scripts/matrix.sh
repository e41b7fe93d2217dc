#!/usr/bin/env bash
# The conformance matrix (make e2e-matrix): the whole suite once per Cilium version, each on new
# kind clusters that its own run creates and its teardown deletes, then one table of spec x
# version. make has already checked the versions (cmd/matrix versions: every version with the
# whole configuration, or the default list resolved) into $ARTIFACTS/matrix/versions.txt.
#   1. the node and app images once (when the images are built here);
#   2. `mesh plan` must create every cluster, or nothing runs (make kind-down first);
#   3. per version: Cilium's images and the preloaded node image (built here only), `mesh plan`
#      again (a teardown that left clusters stops that version), then make e2e-run with
#      CILIUM_VERSION=<v> and ARTIFACTS=<matrix>/<v>;
#   4. cmd/matrix table: matrix.md and matrix.json, printed with the times.
# A version whose images fail is recorded as not buildable and the next one goes on. Each step's
# exit status and seconds go to <matrix>/<v>/steps.txt, its output to a log beside it.
# Arguments: the -e2e.* flags (E2E_ARGS). Environment: ARTIFACTS, MESH, MATRIX, MAKE.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARTIFACTS=${ARTIFACTS:-$ROOT/_artifacts}
DIR=$ARTIFACTS/matrix
MESH=${MESH:-$ROOT/_output/bin/mesh}
MATRIX=${MATRIX:-$ROOT/_output/bin/matrix}
MAKE=${MAKE:-make}

say() { printf '[matrix] %s\n' "$*"; }
since() { echo $(($(date +%s) - $1)); }
mins() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

versions=()
while read -r v; do
	[[ -n $v ]] && versions+=("$v")
done <"$DIR/versions.txt"
((${#versions[@]})) || { say "no version to run ($DIR/versions.txt is empty)"; exit 1; }
start=$(date +%s)
say "Cilium ${versions[*]}: the whole suite per version, each on new clusters (table: $DIR/matrix.md)"

scripts/docker-up.sh
src=$("$MESH" image-source "$@")

# The clusters must not exist: a run reuses the suite's clusters, and would install this version
# over what they hold. Asked before anything is built.
mkdir -p "$DIR/preflight"
ARTIFACTS=$DIR/preflight "$MESH" plan "$@" >"$DIR/preflight/plan.txt" 2>&1 || true
"$MATRIX" fresh <"$DIR/preflight/plan.txt" || { say "refused: nothing was built or run (plan: $DIR/preflight/plan.txt)"; exit 1; }

if [[ $src != upstream ]]; then
	t0=$(date +%s)
	say "node and app images, shared by every version (log: $DIR/images.log)"
	if ! { scripts/node-image.sh && scripts/app-images.sh; } >"$DIR/images.log" 2>&1; then
		tail -n 20 "$DIR/images.log"
		say "the node or app images failed after $(mins "$(since "$t0")"): no version can run (log: $DIR/images.log)"
		exit 1
	fi
	say "node and app images ready in $(mins "$(since "$t0")")"
fi

# record STEP EXIT SECONDS: one line of the version's steps.txt (fixtures/matrix reads it).
record() { echo "$1 $2 $3" >>"$vdir/steps.txt"; }
table() { "$MATRIX" table -dir "$DIR" -since "$start" "${versions[@]}"; }

# Interrupted (Ctrl-C reaches the run too, whose teardown deletes what it made): the table of what
# ran so far; the versions not reached say so.
running=
interrupted() {
	[[ -n $running ]] && record run 130 "$(since "$running")"
	say "interrupted after $(mins "$(since "$start")"); the table so far:"
	table || true
	exit 130
}
trap interrupted INT TERM

# A run of an earlier matrix must not pass for this one's (versions are checked: no path in them).
for v in "${versions[@]}"; do
	rm -rf "${DIR:?}/$v"
done

for v in "${versions[@]}"; do
	vdir=$DIR/$v
	mkdir -p "$vdir"

	if [[ $src == upstream ]]; then
		record images - 0
	else
		t0=$(date +%s) rc=0
		say "$v: Cilium's images and the preloaded node image (log: $vdir/build.log)"
		(export CILIUM_VERSION=$v && scripts/cilium-images.sh && scripts/cilium-preload.sh >/dev/null) >"$vdir/build.log" 2>&1 || rc=$?
		took=$(since "$t0")
		record images "$rc" "$took"
		if ((rc)); then
			say "$v: NOT BUILDABLE (exit $rc after $(mins "$took")); the next version goes on:"
			grep -E '^(MISSING MODULE|NO CHECKSUM ENTRY)|ERROR:' "$vdir/build.log" | sed 's/^/    /' || tail -n 3 "$vdir/build.log"
			continue
		fi
		say "$v: images ready in $(mins "$took")"
		docker image prune --force --filter label=clustermesh-e2e.hash >/dev/null || true
	fi

	t0=$(date +%s) rc=0
	CILIUM_VERSION=$v ARTIFACTS=$vdir "$MESH" plan "$@" >"$vdir/plan.txt" 2>&1 || rc=$?
	"$MATRIX" fresh <"$vdir/plan.txt" || rc=1
	record fresh "$rc" "$(since "$t0")"
	if ((rc)); then
		say "$v: NOT RUN: the plan does not create every cluster (plan: $vdir/plan.txt)"
		continue
	fi

	t0=$(date +%s) rc=0 running=$(date +%s)
	say "$v: make e2e-run on new clusters (log: $vdir/run.log)"
	CILIUM_VERSION=$v ARTIFACTS=$vdir "$MAKE" --no-print-directory e2e-run CILIUM_VERSION="$v" ARTIFACTS="$vdir" \
		>"$vdir/run.log" 2>&1 || rc=$?
	took=$(since "$t0") running=
	record run "$rc" "$took"
	say "$v: make e2e-run exited $rc after $(mins "$took") (matrix so far: $(mins "$(since "$start")"))"
done

trap - INT TERM
say "every version done in $(mins "$(since "$start")"); the table:"
table
