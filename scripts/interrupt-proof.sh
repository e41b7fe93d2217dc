#!/usr/bin/env bash
# A real interrupt during a kind bring-up: start `make kind-up` in its own
# process group, wait until Cilium's Helm install has begun, send SIGINT to
# the group (what Ctrl-C in a terminal does), then require that nothing of
# the run is left: no kind node container of the suite's clusters, no
# kubeconfig file, no mesh process. Used by CI (make e2e-interrupt).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ARTIFACTS=${ARTIFACTS:-$ROOT/_artifacts}
DIR=$ARTIFACTS/interrupt
LOG=$DIR/kind-up.log
# The line bring-up prints as it starts Cilium's Helm install.
WHEN=${INTERRUPT_WHEN:-installing cilium}
KUBECONFIG_DIR=${KUBECONFIG_DIR:-${TMPDIR:-/tmp}/clustermesh-e2e/kubeconfig}
mkdir -p "$DIR"
say() { printf '[interrupt-proof] %s\n' "$*"; }

setsid make --no-print-directory kind-up >"$LOG" 2>&1 &
pid=$!
start=$(date +%s)
until grep -q "$WHEN" "$LOG"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		say "FAILED: make kind-up ended before '$WHEN' appeared"; tail -20 "$LOG"; exit 1
	fi
	if (($(date +%s) - start > 600)); then
		say "FAILED: no '$WHEN' after 10 minutes"; kill -INT -- -"$pid" || true; exit 1
	fi
	sleep 0.2
done
say "'$WHEN' after $(($(date +%s) - start))s: sending SIGINT to make kind-up's process group"
sent=$(date +%s)
kill -INT -- -"$pid"
rc=0
wait "$pid" || rc=$?
say "make kind-up ended with rc $rc, $(($(date +%s) - sent))s after the interrupt"
tail -5 "$LOG" | sed 's/^/    /'

bad=0
containers=$(docker ps -a --filter label=io.x-k8s.kind.cluster --format '{{.Names}}' | grep -E '^cluster-[0-9]+-' || true)
[[ -z $containers ]] || { say "FAILED: containers left: $containers"; bad=1; }
if compgen -G "$KUBECONFIG_DIR/*" >/dev/null; then say "FAILED: kubeconfigs left in $KUBECONFIG_DIR"; bad=1; fi
procs=$(pgrep -fa '_output/bin/mesh' || true)
[[ -z $procs ]] || { say "FAILED: processes left: $procs"; bad=1; }
[[ $rc != 0 ]] || { say "FAILED: make kind-up exited 0 although interrupted"; bad=1; }
((bad)) && exit 1
say "nothing left: no node container, kubeconfig or mesh process"
