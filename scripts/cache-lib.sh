#!/usr/bin/env bash
# cache-lib.sh: the lab cache directory and its ownership marker (sourced, not run).
#
# make lab-clean empties the cache, so it must know the directory is the
# lab's: a directory is the lab's only when the lab created it, and then it
# holds CACHE_MARKER. A CLUSTERMESH_E2E_CACHE that existed before (a home
# directory, say) is used as it is but never emptied.
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE_MARKER=.clustermesh-e2e-cache

# cache_init creates $CACHE when it is absent and marks it as the lab's; a
# directory that exists is left as it is.
cache_init() {
	[[ -d $CACHE ]] && return 0
	mkdir -p "$(dirname "$CACHE")"
	# Without -p, mkdir fails when a build running beside this one made the
	# directory first; that build writes the marker.
	if mkdir "$CACHE" 2>/dev/null; then
		printf 'created by the clustermesh-e2e lab on %s: make lab-clean may empty this directory\n' \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$CACHE/$CACHE_MARKER"
	fi
}

# cache_marked succeeds when $CACHE carries the lab's marker.
cache_marked() { [[ -f $CACHE/$CACHE_MARKER ]]; }
