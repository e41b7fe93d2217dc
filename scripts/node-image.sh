#!/usr/bin/env bash
# node-image.sh: build the kind node image localhost/clustermesh-e2e/node:<k8s>
# with no registry: Kubernetes and its companions from the Go module proxy,
# the control-plane images kubeadm asks for assembled with `docker import`,
# a Debian bookworm rootfs with Debian's containerd and runc, and kind's own
# node files read from the sigs.k8s.io/kind module at build time.
#
#   scripts/node-image.sh           build what changed (every step is cached)
#   scripts/node-image.sh k8s       only the Kubernetes binaries
#
# Environment:
#   KUBERNETES_VERSION   default v1.34.4 (1.35+ on cgroup v1 hosts needs failCgroupV1: false)
#   NODE_IMAGE           default localhost/clustermesh-e2e/node:$KUBERNETES_VERSION
#   KIND_VERSION         default: the sigs.k8s.io/kind version in go.mod
#   CRICTL_VERSION, CNI_PLUGINS_VERSION   default: what kind's base image Dockerfile pins
#   CLUSTERMESH_E2E_CACHE                 default ~/.cache/clustermesh-e2e
# Every image carries the label clustermesh-e2e.hash=<hash of its inputs>;
# an image whose label matches is not rebuilt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_PREFIX=node-image
# shellcheck source=scripts/node-lib.sh
source "$ROOT/scripts/node-lib.sh"

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.34.4}
KV=$KUBERNETES_VERSION
[[ $KV =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "KUBERNETES_VERSION must look like v1.34.4, got $KV"
K_MINOR=${BASH_REMATCH[1]}
STAGING_VERSION=v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}
NODE_IMAGE=${NODE_IMAGE:-localhost/clustermesh-e2e/node:$KV}
KIND_VERSION=${KIND_VERSION:-$(awk '$1 == "sigs.k8s.io/kind" {print $2}' "$ROOT/go.mod")}
[[ -n $KIND_VERSION ]] || die "no sigs.k8s.io/kind in go.mod; set KIND_VERSION"
GOVERSION=$(go env GOVERSION)
GOMODCACHE=$(go env GOMODCACHE)
ARCH=$(go env GOARCH)

# Each cached output is keyed by the definitions of the functions that make
# it (so editing one step does not invalidate the others), its versions, and
# the Go toolchain.
recipe() { declare -f "$@" go_scratch_build hash_of; echo "$GOVERSION $ARCH"; }

# ---- Kubernetes binaries ----------------------------------------------------

K8S_BINS=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler)

build_k8s() {
	local key dir out
	key=$(hash_of "$(recipe build_k8s)" "k8s=$KV")
	out=$CACHE/bin/k8s-$KV-$key
	K8S_OUT=$out
	if [[ -f $out/.done ]]; then
		STEP_NOTE=cached
		return
	fi
	dir=$CACHE/go/k8s-$KV
	mkdir -p "$dir"
	log "scratch module for k8s.io/kubernetes@$KV in $dir"
	local json gomod info date
	json=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KV") ||
		die "k8s.io/kubernetes@$KV is not served by the module proxy"
	gomod=$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p' <<<"$json")
	info=$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p' <<<"$json")
	date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
	{
		echo "module clustermesh-e2e.local/k8s-build"
		echo
		echo "go 1.24.0"
		echo
		echo "require k8s.io/kubernetes $KV"
		echo
		echo "// kubernetes' own go.mod points its staging modules at ./staging, which the"
		echo "// module zip does not carry; the published staging modules take their place."
		echo "replace ("
		# every "k8s.io/X => ./staging/src/k8s.io/X" line of kubernetes' go.mod
		sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$gomod"
		echo ")"
		echo
		echo "tool ("
		printf '\tk8s.io/kubernetes/cmd/%s\n' "${K8S_BINS[@]}"
		echo ")"
	} >"$dir/go.mod"
	log "$(grep -c '=> k8s.io/' "$dir/go.mod") staging modules replaced by $STAGING_VERSION"
	local ldflags="" pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$KV -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K_MINOR"
		ldflags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000"
		ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
	done
	rm -rf "$CACHE/bin/k8s-$KV-"* # outputs of older recipes
	go_scratch_build "$dir" "$out" "$ldflags" "${K8S_BINS[@]/#/k8s.io/kubernetes/cmd/}" ||
		die "building Kubernetes $KV failed"
	"$out/kubeadm" version -o short | grep -qx "$KV" || die "kubeadm reports $("$out/kubeadm" version -o short), want $KV"
	touch "$out/.done"
}

# ---- what kubeadm asks for ---------------------------------------------------

# kubeadm_images sets CP_IMAGES (kubeadm's list, kube-proxy left out: our
# clusters run Cilium's kube-proxy replacement) and the versions of etcd,
# CoreDNS and pause it names.
kubeadm_images() {
	local img
	CP_IMAGES=()
	while read -r img; do
		case $img in
		*/kube-proxy:*) ;;
		*/etcd:*)
			ETCD_TAG=${img##*:}
			CP_IMAGES+=("$img")
			;;
		*/coredns:*)
			COREDNS_TAG=${img##*:}
			CP_IMAGES+=("$img")
			;;
		*/pause:*)
			PAUSE_TAG=${img##*:}
			PAUSE_IMAGE=$img
			CP_IMAGES+=("$img")
			;;
		*) CP_IMAGES+=("$img") ;;
		esac
	done < <("$K8S_OUT/kubeadm" config images list --kubernetes-version "$KV" 2>/dev/null)
	[[ -n ${ETCD_TAG:-} && -n ${COREDNS_TAG:-} && -n ${PAUSE_TAG:-} ]] ||
		die "kubeadm config images list did not name etcd, coredns and pause"
	ETCD_VERSION=v${ETCD_TAG%-*}
	log "kubeadm asks for: ${CP_IMAGES[*]}"
}

# kind_pin NAME prints the version kind's base image Dockerfile pins for NAME.
kind_pin() {
	sed -n "s/^ARG $1=\"\(.*\)\"/\1/p" "$KIND_DIR/images/base/Dockerfile"
}

# ---- companions: etcd, CoreDNS, crictl, CNI plugins, pause -------------------

# tool_module NAME MODULE VERSION PKG...: a scratch module requiring MODULE at
# VERSION with PKG as tools; prints its directory.
tool_module() {
	local name=$1 mod=$2 ver=$3 dir
	shift 3
	dir=$CACHE/go/$name-$ver
	mkdir -p "$dir"
	{
		echo "module clustermesh-e2e.local/$name-build"
		echo
		echo "go 1.24.0"
		echo
		echo "require $mod $ver"
		echo
		echo "tool ("
		printf '\t%s\n' "$@"
		echo ")"
	} >"$dir/go.mod"
	echo "$dir"
}

build_tools() {
	local key out dir
	CRICTL_VERSION=${CRICTL_VERSION:-$(kind_pin CRICTL_VERSION)}
	CNI_PLUGINS_VERSION=${CNI_PLUGINS_VERSION:-$(kind_pin CNI_PLUGINS_VERSION)}
	key=$(hash_of "$(recipe build_tools tool_module)" "etcd=$ETCD_VERSION coredns=$COREDNS_TAG crictl=$CRICTL_VERSION cni=$CNI_PLUGINS_VERSION pause=$PAUSE_TAG k8s=$KV")
	out=$CACHE/bin/tools-$key
	TOOLS_OUT=$out
	if [[ -f $out/.done ]]; then
		STEP_NOTE=cached
		return
	fi
	rm -rf "$CACHE"/bin/tools-* # outputs of older recipes
	mkdir -p "$out/cni"
	local t=$SECONDS
	dir=$(tool_module etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3)
	go_scratch_build "$dir" "$out/etcd.d" "" go.etcd.io/etcd/server/v3 ||
		die "building go.etcd.io/etcd/server/v3@$ETCD_VERSION failed"
	mv "$out/etcd.d/server" "$out/etcd" && rmdir "$out/etcd.d"
	log "etcd $ETCD_VERSION: $((SECONDS - t))s"
	t=$SECONDS
	dir=$(tool_module coredns github.com/coredns/coredns "$COREDNS_TAG" github.com/coredns/coredns)
	go_scratch_build "$dir" "$out" "" github.com/coredns/coredns ||
		die "building github.com/coredns/coredns@$COREDNS_TAG failed"
	log "coredns $COREDNS_TAG: $((SECONDS - t))s"
	t=$SECONDS
	dir=$(tool_module crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl)
	go_scratch_build "$dir" "$out" "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
		sigs.k8s.io/cri-tools/cmd/crictl || die "building sigs.k8s.io/cri-tools@$CRICTL_VERSION failed"
	log "crictl $CRICTL_VERSION: $((SECONDS - t))s"
	t=$SECONDS
	local cni=github.com/containernetworking/plugins/plugins
	dir=$(tool_module cni github.com/containernetworking/plugins "$CNI_PLUGINS_VERSION" \
		$cni/main/loopback $cni/main/ptp $cni/main/bridge $cni/ipam/host-local $cni/meta/portmap)
	go_scratch_build "$dir" "$out/cni" \
		"-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
		$cni/main/loopback $cni/main/ptp $cni/main/bridge $cni/ipam/host-local $cni/meta/portmap ||
		die "building github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION failed"
	log "CNI plugins $CNI_PLUGINS_VERSION: $((SECONDS - t))s"
	# pause is C: kubernetes ships its source in the module.
	local src=$GOMODCACHE/k8s.io/kubernetes@$KV/build/pause/linux/pause.c
	[[ -f $src ]] || die "no $src in the module cache"
	gcc -Os -Wall -static -DVERSION="v$PAUSE_TAG" -o "$out/pause" "$src" && strip "$out/pause" ||
		die "building pause failed (gcc -static needs libc6-dev)"
	touch "$out/.done"
}

# ---- control-plane images ----------------------------------------------------

build_imgtool() {
	IMGTOOL=$CACHE/bin/imgtool
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$IMGTOOL" ./kind/build/imgtool) ||
		die "building kind/build/imgtool failed"
}

# json_list ITEM... prints a JSON list of strings (items carry no control characters).
json_list() {
	local out="" i
	for i in "$@"; do
		i=${i//\\/\\\\}
		out+="${out:+,}\"${i//\"/\\\"}\""
	done
	echo "[$out]"
}

# image_spec TAG ROOTFS KEY FIELD... prints one imgtool image; each FIELD is
# a ready JSON member such as '"user":"65535:65535"'.
image_spec() {
	local tag=$1 rootfs=$2 key=$3 f
	shift 3
	printf '{"tag":"%s","rootfs":"%s","labels":{"%s":"%s","clustermesh-e2e.component":"node"}' \
		"$tag" "$rootfs" "$HASH_LABEL" "$key"
	for f in "$@"; do printf ',%s' "$f"; done
	printf '}'
}

# minimal_root DIR: the few files a static binary's image wants.
minimal_root() {
	local d=$1
	mkdir -p "$d/etc" "$d/tmp" "$d/usr/local/bin" "$d/var/run"
	chmod 1777 "$d/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$d/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$d/etc/group"
	echo 'hosts: files dns' >"$d/etc/nsswitch.conf"
}

# build_cp_images writes the control-plane images kubeadm asks for into one
# docker archive, CP_ARCHIVE, which the node build preloads. They are not
# loaded into docker: only the node's containerd needs them.
build_cp_images() {
	CP_KEY=$(hash_of "$(recipe build_cp_images image_spec json_list minimal_root)" \
		"${K8S_OUT##*/}" "${TOOLS_OUT##*/}" "${CP_IMAGES[*]}" "$IMGTOOL_KEY")
	CP_ARCHIVE=$CACHE/images/cp-$KV-$CP_KEY.tar
	if [[ -f $CP_ARCHIVE ]]; then
		STEP_NOTE="cached $(du -h "$CP_ARCHIVE" | cut -f1)"
		return
	fi
	local work img name d specs=() path='"env":["PATH=/usr/local/bin:/usr/bin:/bin"]'
	work=$(mktemp -d "$CACHE/cp.XXXXXX")
	for img in "${CP_IMAGES[@]}"; do
		name=${img##*/}
		name=${name%%:*}
		d=$work/$name
		minimal_root "$d"
		case $name in
		kube-*)
			cp "$K8S_OUT/$name" "$d/usr/local/bin/"
			specs+=("$(image_spec "$img" "$d.tar" "$CP_KEY" "$path" "\"entrypoint\":[\"/usr/local/bin/$name\"]")")
			;;
		etcd)
			cp "$TOOLS_OUT/etcd" "$d/usr/local/bin/"
			mkdir -p "$d/var/lib/etcd"
			specs+=("$(image_spec "$img" "$d.tar" "$CP_KEY" "$path" '"cmd":["/usr/local/bin/etcd"]')")
			;;
		coredns)
			cp "$TOOLS_OUT/coredns" "$d/coredns"
			specs+=("$(image_spec "$img" "$d.tar" "$CP_KEY" "$path" '"entrypoint":["/coredns"]')")
			;;
		pause)
			cp "$TOOLS_OUT/pause" "$d/pause"
			specs+=("$(image_spec "$img" "$d.tar" "$CP_KEY" "$path" '"entrypoint":["/pause"]' '"user":"65535:65535"')")
			;;
		*) die "no recipe for image $img" ;;
		esac
		tar --numeric-owner --owner=0 --group=0 -C "$d" -cf "$d.tar" .
	done
	local IFS=,
	echo "[${specs[*]}]" >"$work/spec.json"
	unset IFS
	mkdir -p "$CACHE/images"
	rm -f "$CACHE/images/cp-$KV-"*.tar
	"$IMGTOOL" -o "$CP_ARCHIVE" "$work/spec.json" || die "assembling the control-plane images failed"
	rm -rf "$work"
	STEP_NOTE="${#CP_IMAGES[@]} images, $(du -h "$CP_ARCHIVE" | cut -f1)"
}

# ---- the node image -----------------------------------------------------------

# What kind's base image installs, less what only rootless or storage tests
# need (fuse-overlayfs, nfs-common, open-iscsi), plus Debian's containerd and runc.
NODE_PACKAGES=(
	systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod
	libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps
	containerd runc
)

# node_rootfs DIR: the node's filesystem, ready for `docker import`.
node_rootfs() {
	local r=$1 f
	"$ROOT/scripts/debian-rootfs.sh" "$CACHE/node-rootfs.tar" "${NODE_PACKAGES[@]}"
	mkdir -p "$r"
	tar --numeric-owner -C "$r" -xf "$CACHE/node-rootfs.tar"

	# kind's base files, read from the kind module, with the modes kind gives them.
	local kf=$KIND_DIR/images/base/files
	install -m 0755 "$kf"/usr/local/bin/* "$r/usr/local/bin/"
	mkdir -p "$r/kind/bin" "$r/kind/manifests" "$r/LICENSES"
	install -m 0644 "$kf"/kind/README.txt "$r/kind/" 2>/dev/null || true
	install -m 0755 "$kf"/kind/bin/* "$r/kind/bin/"
	install -m 0644 "$kf"/LICENSES/* "$r/LICENSES/"
	for f in "$kf"/etc/*; do [[ -f $f ]] && install -m 0644 "$f" "$r/etc/"; done
	mkdir -p "$r/etc/containerd" "$r/etc/default" "$r/etc/sysctl.d" "$r/etc/systemd/system/kubelet.service.d"
	install -m 0644 "$kf"/etc/containerd/* "$r/etc/containerd/"
	install -m 0644 "$kf"/etc/default/* "$r/etc/default/"
	install -m 0644 "$kf"/etc/sysctl.d/* "$r/etc/sysctl.d/"
	for f in "$kf"/etc/systemd/system/*; do [[ -f $f ]] && install -m 0644 "$f" "$r/etc/systemd/system/"; done
	install -m 0644 "$kf"/etc/systemd/system/kubelet.service.d/* "$r/etc/systemd/system/kubelet.service.d/"

	# What kind's Dockerfile does after installing packages.
	find "$r/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
	rm -f "$r"/lib/systemd/system/multi-user.target.wants/* "$r"/etc/systemd/system/*.wants/* \
		"$r"/lib/systemd/system/local-fs.target.wants/* "$r"/lib/systemd/system/sockets.target.wants/*udev* \
		"$r"/lib/systemd/system/sockets.target.wants/*initctl* "$r"/lib/systemd/system/basic.target.wants/*
	echo "ReadKMsg=no" >>"$r/etc/systemd/journald.conf"
	ln -sf /usr/lib/systemd/systemd "$r/sbin/init"
	mkdir -p "$r/etc/kubernetes/manifests"

	# kind's units and scripts expect containerd under /usr/local; Debian's is in /usr/bin.
	for f in containerd ctr containerd-shim-runc-v2; do ln -sf "/usr/bin/$f" "$r/usr/local/bin/$f"; done
	install -m 0755 "$TOOLS_OUT/crictl" "$r/usr/local/bin/crictl"
	mkdir -p "$r/opt/cni/bin"
	install -m 0755 "$TOOLS_OUT"/cni/* "$r/opt/cni/bin/"
	install -m 0755 "$K8S_OUT/kubeadm" "$K8S_OUT/kubelet" "$K8S_OUT/kubectl" "$r/usr/bin/"
	echo "$KV" >"$r/kind/version"
	install -m 0755 "$RUNCWRAP_OUT" "$r/usr/local/bin/runcwrap"

	# containerd: our pause, runc through the wrapper (it drops only the
	# capabilities the node's bounding set lacks), and no OOM score below the
	# node's own (Cilium's agent asks for SYS_RESOURCE to lower it).
	local cfg=$r/etc/containerd/config.toml
	sed -i \
		-e "s#^\([[:space:]]*sandbox_image = \).*#\1\"$PAUSE_IMAGE\"#" \
		-e 's#^\([[:space:]]*restrict_oom_score_adj = \).*#\1true#' \
		-e 's#^\([[:space:]]*SystemdCgroup = true\)#\1\n    BinaryName = "/usr/local/bin/runcwrap"#' \
		"$cfg"
	grep -q "sandbox_image = \"$PAUSE_IMAGE\"" "$cfg" && grep -q 'restrict_oom_score_adj = true' "$cfg" &&
		[[ $(grep -c 'BinaryName = "/usr/local/bin/runcwrap"' "$cfg") == 2 ]] ||
		die "kind's containerd config changed shape; cannot set sandbox_image, restrict_oom_score_adj, BinaryName"

	# kind applies this storage class at cluster creation; without the file it
	# warns and uses an older default. Our clusters need no dynamic volumes.
	cat >"$r/kind/manifests/default-storage.yaml" <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
YAML
}

build_runcwrap() {
	RUNCWRAP_OUT=$CACHE/bin/runcwrap
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$RUNCWRAP_OUT" ./kind/build/runcwrap) ||
		die "building kind/build/runcwrap failed"
}

# The node image's config, as kind's base image has it.
NODE_ENTRYPOINT=(/usr/local/bin/entrypoint /sbin/init)
NODE_STOPSIGNAL=SIGRTMIN+3
NODE_ENV=(container=docker PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

build_node() {
	local key
	key=$(hash_of "$(recipe build_node node_rootfs build_runcwrap image_spec json_list)" \
		"${NODE_ENTRYPOINT[*]} $NODE_STOPSIGNAL ${NODE_ENV[*]}" "$CP_KEY" "$ROOT/scripts/debian-rootfs.sh" \
		"$ROOT/kind/build/runcwrap" "kind=$KIND_VERSION" "${NODE_PACKAGES[*]}")
	if [[ $(image_hash "$NODE_IMAGE") == "$key" ]]; then
		STEP_NOTE="cached $key"
		return
	fi
	local work base=localhost/clustermesh-e2e/node-base:$KV ctr
	work=$(mktemp -d "$CACHE/node.XXXXXX")
	ctr=clustermesh-e2e-node-build-$$
	# shellcheck disable=SC2064
	trap "docker rm -f -v $ctr >/dev/null 2>&1 || true; rm -rf '$work'" EXIT
	local t=$SECONDS
	node_rootfs "$work/root"
	tar --numeric-owner --xattrs -C "$work/root" -cf "$work/root.tar" .
	rm -rf "$work/root"
	local common=(
		"\"entrypoint\":$(json_list "${NODE_ENTRYPOINT[@]}")"
		"\"env\":$(json_list "${NODE_ENV[@]}")"
		"\"stopSignal\":\"$NODE_STOPSIGNAL\""
	)
	echo "[$(image_spec "$base" "$work/root.tar" "$key-base" "${common[@]}")]" >"$work/spec.json"
	"$IMGTOOL" -o "$work/base.tar" "$work/spec.json" || die "assembling the node base image failed"
	rm -f "$work/root.tar"
	docker load -q -i "$work/base.tar" >/dev/null
	rm -f "$work/base.tar"
	log "node rootfs loaded as $base: $((SECONDS - t))s"

	# Preload the control-plane images into the node's own containerd store,
	# pinned, the way kind's node image build does.
	t=$SECONDS
	docker run -d --name "$ctr" --entrypoint sleep --security-opt seccomp=unconfined "$base" infinity >/dev/null
	docker exec "$ctr" bash -ec '
		systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
		systemctl mask systemd-binfmt.service >/dev/null 2>&1
		ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer | length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" |
			jq "del(.process.rlimits)" >/etc/containerd/cri-base.json
		nohup containerd >/tmp/containerd.log 2>&1 &
		for i in $(seq 1 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
		ctr version >/dev/null'
	docker exec -i "$ctr" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
		--all-platforms --no-unpack - <"$CP_ARCHIVE" >/dev/null
	docker exec "$ctr" bash -c 'ctr --namespace=k8s.io images ls -q | grep -v "^sha256:"
		# sleep, PID 1 here, reaps nobody: wait for the socket, not the process.
		pkill -x containerd; for i in $(seq 1 100); do ctr version >/dev/null 2>&1 || exit 0; sleep 0.2; done; exit 1' >&2 ||
		die "containerd in the build container did not stop"
	docker exec "$ctr" rm -f /tmp/containerd.log
	log "control-plane images preloaded: $((SECONDS - t))s"
	# commit keeps the stop signal and environment of the base image; the
	# entrypoint and command of the build container are put back.
	docker commit --change "ENTRYPOINT $(json_list "${NODE_ENTRYPOINT[@]}")" --change 'CMD []' \
		--change "LABEL $HASH_LABEL=$key" --change "LABEL clustermesh-e2e.component=node" \
		"$ctr" "$NODE_IMAGE" >/dev/null
	docker rm -f -v "$ctr" >/dev/null
	docker rmi "$base" >/dev/null 2>&1 || true
	rm -rf "$work"
	trap - EXIT
	local stop
	stop=$(docker image inspect --format '{{.Config.StopSignal}}' "$NODE_IMAGE")
	[[ $stop == "$NODE_STOPSIGNAL" ]] || die "$NODE_IMAGE has stop signal '$stop', want $NODE_STOPSIGNAL"
	STEP_NOTE="built $key"
}

build_imgtool_and_runcwrap() {
	build_imgtool
	build_runcwrap
	IMGTOOL_KEY=$(hash_of "$ROOT/kind/build/imgtool")
}

main() {
	cache_init
	local start=$SECONDS
	KIND_DIR=$GOMODCACHE/sigs.k8s.io/kind@$KIND_VERSION
	if [[ ! -d $KIND_DIR ]]; then
		(cd "$ROOT" && go mod download "sigs.k8s.io/kind@$KIND_VERSION") || die "cannot download sigs.k8s.io/kind@$KIND_VERSION"
	fi
	case ${1:-all} in
	k8s) step "kubernetes $KV" build_k8s ;;
	all)
		step "docker engine" "$ROOT/scripts/docker-up.sh"
		step "kubernetes $KV" build_k8s
		kubeadm_images
		step "etcd/coredns/crictl/cni/pause" build_tools
		step "image tools" build_imgtool_and_runcwrap
		step "control-plane images" build_cp_images
		step "node image" build_node
		;;
	*) die "unknown target ${1}" ;;
	esac
	timings_report
	if [[ ${1:-all} == all ]]; then
		echo "---- images"
		docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | awk -v img="$NODE_IMAGE" '$1 == img'
		echo "control-plane images (preloaded in the node): $(du -h "$CP_ARCHIVE" | cut -f1) $CP_ARCHIVE"
		echo "---- built in $((SECONDS - start))s: $NODE_IMAGE"
	fi
}

main "$@"
