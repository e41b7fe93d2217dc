#!/usr/bin/env bash
# Builds Cilium's images for one version without any container registry:
#   localhost/cilium/cilium:vX                 agent (Debian bookworm + clang-19/llc-19 + tools + bpf sources)
#   localhost/cilium/operator-generic:vX       operator (generic IPAM)
#   localhost/cilium/clustermesh-apiserver:vX  with etcd at /usr/bin/etcd, as the chart runs it
#   localhost/cilium/hubble-relay:vX
# Go binaries come from github.com/cilium/cilium@vX through the module proxy; Debian packages
# come through scripts/debian-rootfs.sh. Envoy cannot be built here: the images carry none, so
# run Cilium with envoy.enabled=false and l7Proxy=false.
#
# Environment:
#   CILIUM_VERSION   version to build (default 1.20.2; a leading v is accepted)
#   ETCD_VERSION     etcd for the clustermesh-apiserver image (default 3.6.5)
#   CLUSTERMESH_E2E_CACHE  work and cache directory (default $HOME/.cache/clustermesh-e2e)
#   STEPS            space-separated subset of: binaries images (default: both)
#   FORCE=1          rebuild images even when their content hash matches
#
# Each image is labelled clustermesh-e2e.hash=<sha256 of every input>; an image whose label
# matches is left alone, so a second run with nothing changed takes seconds.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${CILIUM_VERSION:-1.20.2}
VERSION=${VERSION#v}
ETCD_VERSION=${ETCD_VERSION:-3.6.5}
ETCD_VERSION=${ETCD_VERSION#v}
CACHE=${CLUSTERMESH_E2E_CACHE:-$HOME/.cache/clustermesh-e2e}
WORK=$CACHE/cilium-$VERSION
DATA=$REPO/kind/build/cilium
REPLACEMENTS=$DATA/replacements/v$VERSION.txt
STEPS=${STEPS:-binaries images}
PREFIX=localhost/cilium
HASH_LABEL=clustermesh-e2e.hash

# What the agent runs besides its own binaries: clang/llc for the datapath, the networking
# tools it and the chart's init containers call, and mount/nsenter (util-linux, in minbase).
AGENT_PACKAGES=(clang-19 llvm-19 iproute2 iptables ipset kmod ca-certificates)

source "$REPO/scripts/cilium-app-lib.sh"
cache_init

export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0

# apply_replacements reads the version's data file and edits go.mod of the writable copy.
apply_replacements() {
	local src=$1 line kind old arrow new ver
	[[ -f $REPLACEMENTS ]] || {
		log "no replacement data for v$VERSION (kind/build/cilium/replacements/v$VERSION.txt): building with Cilium's go.mod as it is"
		return 0
	}
	while read -r kind old arrow new ver; do
		case $kind in
		'' | '#'*) continue ;;
		replace)
			[[ $arrow == "=>" ]] || die "$REPLACEMENTS: bad line: $kind $old $arrow $new $ver"
			if [[ $new == stub:* ]]; then
				local stub=$DATA/stubs/${new#stub:}
				[[ -f $stub/go.mod ]] || die "$REPLACEMENTS: no stub module at $stub"
				rm -rf "$src/.stubs/${new#stub:}"
				mkdir -p "$src/.stubs"
				cp -r "$stub" "$src/.stubs/"
				go -C "$src" mod edit -replace="$old=./.stubs/${new#stub:}"
			else
				go -C "$src" mod edit -replace="$old=$new@$ver"
			fi
			;;
		env) ;; # read by go_env
		*) die "$REPLACEMENTS: unknown directive $kind" ;;
		esac
	done <"$REPLACEMENTS"
}

# go_env prints the KEY=VALUE pairs the data file asks for (e.g. GONOSUMDB for one module).
go_env() {
	[[ -f $REPLACEMENTS ]] || return 0
	awk '$1 == "env" { print $2 }' "$REPLACEMENTS"
}

# prepare_source keeps a writable copy of the module, so that Cilium's own go.mod (its replace
# directives and tool block) stays in force; the data file's replacements go on top. A scratch
# module that requires Cilium would have to repeat every one of Cilium's replaces by hand.
prepare_source() {
	local src=$WORK/src stamp
	stamp=$({ cat "$REPLACEMENTS" 2>/dev/null || echo none; } | sha256sum | cut -c1-16)
	[[ -f $src/.prepared && $(cat "$src/.prepared") == "$stamp" ]] && return 0
	local dir out
	out=$(cd "$CACHE" && env $(go_env) go mod download -json "github.com/cilium/cilium@v$VERSION" 2>&1) || true
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")
	if [[ -z $dir || ! -d $dir ]]; then
		echo "$out" >"$WORK/download.log"
		explain_missing "$WORK/download.log"
		die "cannot download github.com/cilium/cilium@v$VERSION (log: $WORK/download.log)"
	fi
	rm -rf "$src"
	mkdir -p "$WORK"
	cp -r "$dir" "$src"
	chmod -R u+w "$src"
	apply_replacements "$src"
	echo "$stamp" >"$src/.prepared"
}

# explain_missing turns go's refusals into one line each: which module, which version, what to do.
explain_missing() {
	local logf=$1 line mv data="kind/build/cilium/replacements/v$VERSION.txt"
	grep -E ': (403|404|410) |not available|unknown revision|invalid version' "$logf" |
		while IFS= read -r line; do
			mv=$(grep -oE '[A-Za-z0-9._~/-]+@v[0-9][A-Za-z0-9.+-]*' <<<"$line" | head -n1)
			[[ -n $mv ]] || continue
			if [[ $line == *verifying* ]]; then
				echo "NO CHECKSUM ENTRY: ${mv%@*} ${mv##*@} is unknown to the checksum database; add" \
					"'env GONOSUMDB=${mv%@*}' to $data"
			else
				echo "MISSING MODULE: ${mv%@*} ${mv##*@} is not served by the module proxy; add" \
					"'replace ${mv%@*} => ${mv%@*} <a served version>' (or '=> stub:NAME') to $data"
			fi
		done | sort -u >&2
}

# gobuild runs one go build in the source copy and explains a failure caused by the mirror.
gobuild() {
	local logf=$WORK/build.log
	if ! env $(go_env) go -C "$WORK/src" build -mod=mod -trimpath "$@" >"$logf" 2>&1; then
		tail -n 30 "$logf" >&2
		explain_missing "$logf"
		die "go build failed in $WORK/src (full log: $logf)"
	fi
}

build_binaries() {
	local out=$WORK/bin stamp ver_time ldflags
	mkdir -p "$out"
	ver_time=$(cd "$CACHE" && env $(go_env) go list -m -json "github.com/cilium/cilium@v$VERSION" |
		sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p')
	# pkg/version parses "VERSION REVISION DATE"; the module carries no git revision.
	ldflags="-s -w -X 'github.com/cilium/cilium/pkg/version.ciliumVersion=$VERSION v$VERSION ${ver_time:-unknown}'"
	# Left out to keep the agent image under 600 MB, as nothing in the chart or the agent runs
	# them: the hubble CLI (75 MB), cilium-bugtool (12 MB) and the cilium-health CLI (13 MB;
	# `cilium-dbg status --all-health` shows the same). The agent runs cilium-health-responder.
	timed "go build agent binaries" gobuild -tags osusergo -ldflags "$ldflags" -o "$out/" \
		./daemon ./cilium-dbg ./cilium-health/responder ./plugins/cilium-cni \
		./tools/mount ./tools/sysctlfix ./clustermesh-apiserver ./hubble-relay
	mv -f "$out/daemon" "$out/cilium-agent"
	mv -f "$out/responder" "$out/cilium-health-responder"
	mv -f "$out/mount" "$out/cilium-mount"
	mv -f "$out/sysctlfix" "$out/cilium-sysctlfix"
	timed "go build operator-generic" gobuild -tags osusergo,ipam_provider_operator -ldflags "$ldflags" \
		-o "$out/cilium-operator-generic" ./operator
	timed "go build etcd $ETCD_VERSION" build_etcd "$out/etcd"
}

# build_etcd builds etcd in a scratch module: its own go.mod replaces point at sibling
# directories that are not in the module zip, so the published versions stand in for them.
build_etcd() {
	local dir=$CACHE/etcd-$ETCD_VERSION
	mkdir -p "$dir"
	if [[ ! -f $dir/go.mod ]]; then
		printf 'module etcdbuild\n\ngo 1.24\n' >"$dir/go.mod"
		go -C "$dir" get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >"$dir/get.log" 2>&1 || {
			cat "$dir/get.log" >&2
			explain_missing "$dir/get.log"
			die "cannot fetch etcd $ETCD_VERSION"
		}
	fi
	go -C "$dir" build -mod=mod -trimpath -ldflags "-s -w" -o "$1" go.etcd.io/etcd/server/v3
}

# The content hash of everything an image is made from. The Cilium module is immutable per
# version, so the version stands for its sources.
cilium_hash() {
	printf 'cilium %s\netcd %s\npackages %s\n' "$VERSION" "$ETCD_VERSION" "${AGENT_PACKAGES[*]}" |
		inputs_hash "$REPLACEMENTS" "$DATA/stubs" "$REPO/scripts/cilium-images.sh" \
			"$REPO/scripts/cilium-assemble.sh" "$REPO/scripts/cilium-app-lib.sh" "$REPO/scripts/debian-rootfs.sh"
}

main() {
	local start=$EPOCHREALTIME hash name image stale=()
	hash=$(cilium_hash)
	if [[ " $STEPS " == *" images "* ]]; then
		need_docker
		for name in cilium operator-generic clustermesh-apiserver hubble-relay; do
			image_current "$PREFIX/$name:v$VERSION" "$hash" || stale+=("$name")
		done
	else
		stale=(binaries)
	fi
	if ((${#stale[@]} == 0)); then
		log "Cilium v$VERSION images are up to date (hash ${hash:0:12})"
	else
		log "building Cilium v$VERSION images: ${stale[*]} (hash ${hash:0:12})"
		mkdir -p "$WORK"
		if [[ " $STEPS " == *" binaries "* ]]; then
			timed "prepare source v$VERSION" prepare_source
			build_binaries
		fi
		if [[ " $STEPS " == *" images "* ]]; then
			source "$REPO/scripts/cilium-assemble.sh"
			for name in "${stale[@]}"; do
				case $name in
				cilium) build_agent "$PREFIX/cilium:v$VERSION" "$hash" ;;
				operator-generic) build_operator "$PREFIX/operator-generic:v$VERSION" "$hash" ;;
				clustermesh-apiserver) build_clustermesh "$PREFIX/clustermesh-apiserver:v$VERSION" "$hash" ;;
				hubble-relay) build_relay "$PREFIX/hubble-relay:v$VERSION" "$hash" ;;
				esac
			done
		fi
	fi
	for name in cilium operator-generic clustermesh-apiserver hubble-relay; do
		image=$PREFIX/$name:v$VERSION
		[[ " $STEPS " == *" images "* ]] && docker image inspect "$image" >/dev/null 2>&1 && log "$(printf '%-46s %s' "$image" "$(image_size "$image")")"
	done
	awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "[images] cilium images total %.1fs\n", b - a }' >&2
}

main
