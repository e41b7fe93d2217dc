#!/usr/bin/env bash
# debian-rootfs.sh OUT.tar [PKG...]: a Debian bookworm minbase root filesystem
# with the given packages, as a tar archive (for `docker import`).
#
# The Debian mirror is read at run time from this host's apt sources; the
# host's sources files are also what the rootfs installs from, so it sees the
# same suites (updates, security) as the host. Nothing names a mirror here.
#
# Caches (under $CLUSTERMESH_E2E_CACHE, default ~/.cache/clustermesh-e2e):
#   debs/               every downloaded .deb, shared by all rootfs builds
#   rootfs/base-*.tar   the bare minbase system (debootstrap runs once)
#   rootfs/<hash>.tar   each finished rootfs, keyed by the suite, the sorted
#                       package list and this script's own contents, so a
#                       second call with the same arguments is instant.
#
# Environment: ROOTFS_SUITE (default bookworm), ROOTFS_SLIM=0 keeps
# documentation, man pages and locales (removed by default).
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
SUITE=${ROOTFS_SUITE:-bookworm}
SLIM=${ROOTFS_SLIM:-1}
CACHE=${CLUSTERMESH_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/clustermesh-e2e}
DEBS=$CACHE/debs
START=$SECONDS

log() { echo "[debian-rootfs] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -ge 1 ]] || die "usage: $0 OUT.tar [PKG...]"
OUT=$1
shift
[[ $(id -u) == 0 ]] || die "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || {
	log "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 || {
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	}
}

# mirror prints the first archive URI of this host's apt sources that serves
# $SUITE itself (not -updates or -security).
mirror() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		case $f in
		*.sources)
			awk -v suite="$SUITE" '
				/^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
				/^URIs:/ { uri = $2 }
				/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
				END { if (uri != "" && ok) print uri }' "$f"
			;;
		*)
			awk -v suite="$SUITE" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == suite) print $i }' "$f"
			;;
		esac
	done | head -n 1
}

MIRROR=$(mirror)
[[ -n $MIRROR ]] || die "no apt source for suite $SUITE in /etc/apt/sources.list*"

# The package list is sorted and deduplicated so the key ignores order.
mapfile -t PKGS < <(printf '%s\n' "$@" | sed '/^$/d' | sort -u)
KEY=$( {
	echo "suite=$SUITE slim=$SLIM arch=$(dpkg --print-architecture)"
	printf 'pkg=%s\n' "${PKGS[@]}"
	sha256sum <"$SCRIPT"
} | sha256sum | cut -c1-16)
BASE_KEY=$( {
	echo "suite=$SUITE arch=$(dpkg --print-architecture)"
	sha256sum <"$SCRIPT"
} | sha256sum | cut -c1-16)

# shellcheck source=scripts/cache-lib.sh
source "$(dirname "$SCRIPT")/cache-lib.sh"
cache_init
mkdir -p "$DEBS/partial" "$CACHE/rootfs" "$(dirname "$OUT")"
CACHED=$CACHE/rootfs/$KEY.tar
BASE=$CACHE/rootfs/base-$SUITE-$BASE_KEY.tar

deliver() {
	ln -f "$CACHED" "$OUT" 2>/dev/null || cp --reflink=auto "$CACHED" "$OUT"
	log "$OUT <- $1 ($(du -h "$CACHED" | cut -f1), ${#PKGS[@]} extra packages, $((SECONDS - START))s)"
}

if [[ -f $CACHED ]]; then
	deliver "cache hit $KEY"
	exit 0
fi

# One build at a time touches the shared .deb cache.
exec 9>"$CACHE/debs.lock"
if ! flock -n 9; then
	log "waiting for another rootfs build to release the .deb cache"
	flock 9
fi
if [[ -f $CACHED ]]; then
	deliver "cache hit $KEY (built while waiting)"
	exit 0
fi

WORK=$(mktemp -d "$CACHE/rootfs/work.XXXXXX")
cleanup() {
	local m
	for m in var/cache/apt/archives dev/pts proc; do
		mountpoint -q "$WORK/root/$m" 2>/dev/null && umount -l "$WORK/root/$m"
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -f $BASE ]]; then
	t=$SECONDS
	log "debootstrap --variant=minbase $SUITE (mirror from the host's apt sources)"
	debootstrap --variant=minbase --cache-dir="$DEBS" "$SUITE" "$WORK/root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
		tail -n 30 "$WORK/debootstrap.log" >&2
		die "debootstrap failed; log tail above"
	}
	tar --numeric-owner --xattrs -C "$WORK/root" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
	log "base system cached in $((SECONDS - t))s"
else
	mkdir -p "$WORK/root"
	tar --numeric-owner --xattrs -C "$WORK/root" -xf "$BASE"
fi

R=$WORK/root
if ((${#PKGS[@]} > 0)); then
	t=$SECONDS
	# The host's sources (same suites, same mirror) replace debootstrap's.
	rm -f "$R/etc/apt/sources.list" "$R"/etc/apt/sources.list.d/*
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] && cp "$f" "$R/etc/apt/${f#/etc/apt/}"
	done
	# No service may start inside the chroot.
	printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
	chmod 0755 "$R/usr/sbin/policy-rc.d"
	mount -t proc proc "$R/proc"
	mount --bind "$DEBS" "$R/var/cache/apt/archives"
	chroot "$R" apt-get update -qq >"$WORK/apt.log" 2>&1 || {
		tail -n 30 "$WORK/apt.log" >&2
		die "apt-get update in the rootfs failed; log tail above"
	}
	DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y --no-install-recommends \
		-o Dpkg::Use-Pty=0 "${PKGS[@]}" >>"$WORK/apt.log" 2>&1 || {
		tail -n 30 "$WORK/apt.log" >&2
		die "apt-get install ${PKGS[*]} failed; log tail above"
	}
	umount "$R/var/cache/apt/archives" "$R/proc"
	rm -f "$R/usr/sbin/policy-rc.d"
	log "installed ${#PKGS[@]} packages in $((SECONDS - t))s"
fi

# Leave no package lists or downloaded archives in the image.
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb \
	"$R"/var/log/*.log "$R"/var/log/apt/* "$R"/tmp/* "$R"/var/tmp/*
if [[ $SLIM == 1 ]]; then
	find "$R/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
	rm -rf "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/lintian
	find "$R/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
fi
# Device nodes come from the container runtime, not the image.
rm -rf "${R:?}"/dev/* "${R:?}"/proc/* "${R:?}"/sys/*

tar --numeric-owner --xattrs -C "$R" -cf "$CACHED.tmp" . && mv "$CACHED.tmp" "$CACHED"
deliver "built $KEY"
