# Assembles Cilium's images from the binaries of scripts/cilium-images.sh (sourced by it; uses its
# variables VERSION, WORK, REPO, PREFIX, AGENT_PACKAGES). Each image is one layer made with
# `docker import` from a prepared directory: no base image, no registry.

PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Packages that clang-19 and llvm-19 depend on but that the agent never uses: the agent only runs
# `clang --target=bpf -nostdinc -c` (and llc), which needs no linker, C library headers,
# GCC runtime or C++ headers, nor libclang's C API (clang links libclang-cpp and libLLVM only). Their files are deleted; dpkg's database still lists them.
AGENT_DROP_PACKAGES=(binutils binutils-common binutils-x86-64-linux-gnu libbinutils libctf0 libctf-nobfd0
	libgprofng0 libgcc-12-dev libstdc++-12-dev libobjc-12-dev libobjc4 libc6-dev libc-dev-bin linux-libc-dev
	libcrypt-dev libnsl-dev libtirpc-dev libclang-common-19-dev llvm-19-linker-tools llvm-19-dev
	libasan8 libtsan2 liblsan0 libubsan1 libitm1 libquadmath0 libhwasan0 libgomp1 libcc1-0 libatomic1
	gcc-12-base-dev cpp-12 gcc-12 libpfm4 libz3-dev libncurses-dev libxml2-dev libffi-dev
	libclang1-19 llvm-19-runtime libgc1 rpcsvc-proto
	libcurl4 libldap-2.5-0 libssh2-1 libnghttp2-14 librtmp1 libpsl5 libsasl2-2 libsasl2-modules-db
	libbrotli1 libgnutls30 libnettle8
	libhogweed6 libp11-kit0 libtasn1-6 libidn2-0 libunistring2
	apt libapt-pkg6.0 gpgv debian-archive-keyring perl-base tzdata)
# libcurl4 and what only it pulls in come with llvm-19's debuginfod tools, which are removed;
# apt, perl-base (for debconf) and tzdata serve package management, not the agent. The agent
# image is not meant to be changed with apt: build a new one.
# Of llvm-19's and clang-19's own programs the agent needs these; the rest go.
AGENT_KEEP_LLVM_BIN=(clang clang-19 llc)

# agent_slim ROOT removes what the agent never runs from the unpacked rootfs.
agent_slim() {
	local root=$1 pkg list f
	for pkg in "${AGENT_DROP_PACKAGES[@]}"; do
		for list in "$root/var/lib/dpkg/info/$pkg.list" "$root/var/lib/dpkg/info/$pkg:amd64.list"; do
			[[ -f $list ]] || continue
			while IFS= read -r f; do
				# Directories stay, and so do the merged-/usr links (/bin, /lib...) they may name.
				[[ -d $root$f ]] && continue
				if [[ -f $root$f || -L $root$f ]]; then rm -f "$root$f"; fi
			done <"$list"
		done
	done
	local llvm=$root/usr/lib/llvm-19 keep b
	for b in "$llvm"/bin/*; do
		keep=0
		for f in "${AGENT_KEEP_LLVM_BIN[@]}"; do [[ ${b##*/} == "$f" ]] && keep=1; done
		((keep)) || rm -f "$b"
	done
	# Versioned front-end links in /usr/bin whose targets are gone.
	find "$root/usr/bin" -xtype l -delete
	rm -rf "$llvm"/include "$llvm"/lib/cmake "$llvm"/build "$llvm"/share "$llvm"/lib/clang/*/lib
	find "$llvm/lib" "$root/usr/lib/x86_64-linux-gnu" -name '*.a' -delete
	# glibc's charset converters and the ICU libraries libxml2 does not link (it needs only
	# libicuuc and libicudata).
	rm -rf "$root/usr/lib/x86_64-linux-gnu/gconv" "$root"/usr/lib/x86_64-linux-gnu/libicu{i18n,io,test,tu}.so*
	find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
	rm -rf "$root"/usr/share/{man,info,lintian,linda,bug} "$root"/usr/include \
		"$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
		"$root"/var/log/* "$root"/usr/share/locale/*
	find "$root/usr/lib" -name '__pycache__' -prune -exec rm -rf {} +
}

# agent_verify IMAGE proves, inside the image, that the slimmed clang still compiles Cilium's own
# datapath (bpf_sock.c and bpf_lxc.c with the bpf sources' default configuration and the flags
# the agent's loader passes), that llc turns LLVM IR into a BPF object, and that no program the
# agent or the chart runs lost a shared library to the slimming.
agent_verify() {
	local out
	out=$(docker run --rm --network none --entrypoint /bin/bash "$1" -ec '
		cd /tmp
		B=/var/lib/cilium/bpf
		F="-O2 --target=bpf -std=gnu99 -nostdinc -ftrap-function=__undefined_trap -Wall -Wextra -Werror
		   -Wshadow -Wno-address-of-packed-member -Wno-unknown-warning-option
		   -Wno-gnu-variable-sized-type-not-at-end -Wimplicit-int-conversion -Wenum-conversion
		   -Wimplicit-fallthrough -mcpu=v3 -g -I$B -I$B/include"
		clang $F -c $B/bpf_sock.c -o sock.o
		clang $F -c $B/bpf_lxc.c -o lxc.o
		clang $F -S -emit-llvm -c $B/bpf_sock.c -o sock.ll
		llc -march=bpf -mcpu=v3 -filetype=obj sock.ll -o sock-llc.o
		for o in sock.o lxc.o sock-llc.o; do
			# ELF magic, 64-bit, and machine 247 (EM_BPF) at offset 18.
			od -An -tu1 -N5 $o | tr -s " " | grep -q "^ 127 69 76 70 2$" || { echo "$o: not ELF64"; exit 1; }
			[ "$(od -An -tu2 -j18 -N2 $o | tr -d " ")" = 247 ] || { echo "$o: not a BPF object"; exit 1; }
		done
		for b in clang llc ip tc ss bridge iptables ip6tables iptables-nft-save iptables-legacy-save ipset \
			kmod nsenter mount bash; do
			p=$(command -v $b) || { echo "missing program: $b"; exit 1; }
			if ldd $(readlink -f $p) 2>&1 | grep "not found"; then echo "$b lost a library"; exit 1; fi
		done
		echo "$(clang --version | head -n1); bpf_sock.o, bpf_lxc.o and an llc object are BPF ELF"') || {
		echo "$out" >&2
		die "the agent image $1 is broken by the slimming (see above)"
	}
	log "agent image check: $out"
}

# fill_agent ROOT adds Cilium's binaries, init scripts and bpf sources at the paths the chart
# and the agent use (the chart's init containers run /init-container.sh, /install-plugin.sh,
# /cni-uninstall.sh, cilium-mount, cilium-sysctlfix and `cilium-dbg build-config`).
fill_agent() {
	local root=$1 src=$WORK/src bin=$WORK/bin b
	install -d "$root/usr/bin" "$root/opt/cni/bin" "$root/cni" "$root/home/cilium" "$root/var/lib/cilium"
	for b in cilium-agent cilium-dbg cilium-health-responder cilium-mount cilium-sysctlfix; do
		install -m 0755 "$bin/$b" "$root/usr/bin/$b"
	done
	ln -sf cilium-dbg "$root/usr/bin/cilium"
	install -m 0755 "$bin/cilium-cni" "$root/opt/cni/bin/cilium-cni"
	install -m 0755 "$src/images/cilium/init-container.sh" "$root/init-container.sh"
	install -m 0755 "$src/plugins/cilium-cni/install-plugin.sh" "$root/install-plugin.sh"
	install -m 0755 "$src/plugins/cilium-cni/cni-uninstall.sh" "$root/cni-uninstall.sh"
	# What `make install-bpf` installs: bpf/ without tests, complexity tests and build files.
	(cd "$src" && find bpf -type f ! -path 'bpf/tests/*' ! -path 'bpf/complexity-tests/*' \
		! -path 'bpf/custom/*' ! -name Makefile ! -name Makefile.bpf ! -name .gitignore) |
		while IFS= read -r f; do install -D -m 0644 "$src/$f" "$root/var/lib/cilium/$f"; done
	# The agent looks for `clang` and `llc`; Debian names them with the LLVM version.
	ln -sf ../lib/llvm-19/bin/clang "$root/usr/bin/clang"
	ln -sf ../lib/llvm-19/bin/llc "$root/usr/bin/llc"
	grep -q '^cilium:' "$root/etc/group" || echo 'cilium:x:1000:' >>"$root/etc/group"
}

# ca_bundle DEST copies Debian's CA bundle out of the agent's rootfs archive.
ca_bundle() {
	local tar=$WORK/agent-rootfs.tar
	[[ -f $tar ]] || "$REPO/scripts/debian-rootfs.sh" "$tar" "${AGENT_PACKAGES[@]}" >&2
	tar -xOf "$tar" ./etc/ssl/certs/ca-certificates.crt >"$1"
	[[ -s $1 ]] || die "no CA bundle in $tar"
}

# minimal_root DIR makes the skeleton of the small images: CA bundle, passwd with root and
# the nonroot user the relay runs as, a sticky /tmp.
minimal_root() {
	local root=$1
	rm -rf "$root"
	install -d "$root/usr/bin" "$root/etc/ssl/certs" "$root/var/lib/cilium" "$root/var/run/cilium"
	install -d -m 1777 "$root/tmp"
	chmod 0777 "$root/var/run/cilium"
	ca_bundle "$root/etc/ssl/certs/ca-certificates.crt"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
}

build_agent() {
	local image=$1 hash=$2 root=$WORK/agent-root tar=$WORK/agent-rootfs.tar
	timed "debian rootfs (agent packages)" "$REPO/scripts/debian-rootfs.sh" "$tar" "${AGENT_PACKAGES[@]}"
	rm -rf "$root"
	mkdir -p "$root"
	timed "unpack agent rootfs" tar --numeric-owner -xf "$tar" -C "$root"
	local before after
	before=$(du -sm "$root" | cut -f1)
	timed "slim agent rootfs" agent_slim "$root"
	after=$(du -sm "$root" | cut -f1)
	log "agent rootfs slimmed from ${before} MB to ${after} MB"
	timed "add cilium binaries and bpf" fill_agent "$root"
	timed "import $image" import_dir "$root" "$image" "$hash" \
		--change "ENV $PATH_ENV" \
		--change 'ENV HUBBLE_SERVER=unix:///var/run/cilium/hubble.sock' \
		--change 'ENV INITSYSTEM=SYSTEMD' \
		--change 'WORKDIR /home/cilium' \
		--change 'CMD ["/usr/bin/cilium-dbg"]'
	timed "verify $image" agent_verify "$image"
	rm -rf "$root" # the image holds it now; disk is scarce
}

build_operator() {
	local image=$1 hash=$2 root=$WORK/operator-root
	minimal_root "$root"
	install -m 0755 "$WORK/bin/cilium-operator-generic" "$root/usr/bin/"
	timed "import $image" import_dir "$root" "$image" "$hash" \
		--change "ENV $PATH_ENV" --change 'WORKDIR /' \
		--change 'ENTRYPOINT ["/usr/bin/cilium-operator-generic"]'
}

build_clustermesh() {
	local image=$1 hash=$2 root=$WORK/clustermesh-root
	minimal_root "$root"
	install -m 0755 "$WORK/bin/clustermesh-apiserver" "$WORK/bin/etcd" "$root/usr/bin/"
	install -m 0644 "$WORK/src/clustermesh-apiserver/etcd-config.yaml" "$root/var/lib/cilium/etcd-config.yaml"
	timed "import $image" import_dir "$root" "$image" "$hash" \
		--change "ENV $PATH_ENV" --change 'ENV GOPS_CONFIG_DIR=/tmp/gops' \
		--change 'ENTRYPOINT ["/usr/bin/clustermesh-apiserver"]'
}

build_relay() {
	local image=$1 hash=$2 root=$WORK/relay-root
	minimal_root "$root"
	install -m 0755 "$WORK/bin/hubble-relay" "$root/usr/bin/"
	timed "import $image" import_dir "$root" "$image" "$hash" \
		--change "ENV $PATH_ENV" --change 'ENV GOPS_CONFIG_DIR=/tmp' --change 'WORKDIR /tmp' \
		--change 'USER 65532:65532' \
		--change 'ENTRYPOINT ["/usr/bin/hubble-relay"]' --change 'CMD ["serve"]'
}
