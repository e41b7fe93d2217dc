#!/usr/bin/env bash
# progress-lib.sh: a heartbeat for long build steps (sourced after a log
# function is defined, not run). The
# Kubernetes and Cilium builds say nothing for minutes on their own; a
# person watching (or a CI log with a silence timeout) should see which
# phase runs and for how long, every HEARTBEAT seconds (default 30).

# heartbeat_start LABEL starts the heartbeat of one step; heartbeat_stop
# with the PID it left in HEARTBEAT_PID ends it. The loop also ends by
# itself once the script that started it is gone.
heartbeat_start() {
	local label=$1 owner=$$ t0
	t0=$(date +%s)
	(
		s=
		# Stopped while it sleeps: end the sleep too, quietly (a killed
		# foreground sleep would make the shell print "Terminated").
		trap 'kill $s 2>/dev/null; exit 0' TERM
		while :; do
			sleep "${HEARTBEAT:-30}" &
			s=$!
			wait "$s"
			kill -0 "$owner" 2>/dev/null || exit 0
			log "$label: still running ($(($(date +%s) - t0))s)"
		done
	) &
	HEARTBEAT_PID=$!
	disown "$HEARTBEAT_PID"
}

heartbeat_stop() {
	kill "$1" 2>/dev/null || true
}
