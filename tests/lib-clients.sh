# tests/lib-clients.sh - helpers for the tests that drive berth with real
# clients (skopeo, podman, docker) and for the process-model tests.  Sourced
# after tests/lib.sh:
#
#   . "$(dirname "$0")/../lib.sh"
#   . "$(dirname "$0")/../lib-clients.sh"
#
# Everything a client writes stays in $TRASH: podman's storage (vfs, its own
# root, runroot and tmpdir), skopeo's temporaries, a private dockerd's data
# and exec roots, the docker CLI's config.  Nothing in /etc, /var/lib or the
# user's home is read for trust decisions or written: the CA is passed with
# --cert-dir / --src-cert-dir / --dest-cert-dir ($CERTDIR holds it as
# ca.crt, made by util/mkconf.sh), the signature policy is a private file.
#
# clients_cleanup runs before lib.sh's own cleanup (same EXIT trap): it stops
# the dockerd it started (by PID), unmounts what dockerd or podman left
# mounted under $TRASH, so that removing $TRASH cannot fail or reach a mount.

CLIENTS_DIR=$TRASH/clients
mkdir -p "$CLIENTS_DIR/tmp"
DOCKERD_PID=
DOCKERD_DATA=
DOCKERD_EXEC=
DOCKER_SOCK=

# A signature policy of our own: CI machines need not have
# /etc/containers/policy.json.
cat >"$CLIENTS_DIR/policy.json" <<'EOF'
{ "default": [ { "type": "insecureAcceptAnything" } ] }
EOF
# An empty registries.conf: no search registries, no mirrors, nothing that
# could send a request off the machine.
: >"$CLIENTS_DIR/registries.conf"

# ---------------------------------------------------------------- cleanup

# Unmount everything mounted at or below DIR, deepest first.
clients_umount_below() {
	local dir=$1 m
	awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		done
}

clients_cleanup() {
	dockerd_stop
	clients_umount_below "$TRASH"
	if [ -n "$PM_RUNROOT_OWN" ]; then
		clients_umount_below "$PM_RUNROOT_OWN"
		rm -rf "$PM_RUNROOT_OWN"
	fi
}

clients_on_exit() {
	local rc=$?
	clients_cleanup
	(exit "$rc")
	berth_cleanup
}
trap clients_on_exit EXIT

# ---------------------------------------------------------------- fixtures

# mk_rootfs_tar FILE [BLOB-BYTES]: a tiny root filesystem as an uncompressed
# tar: /etc/os-release, /bin/hello (a script) and /usr/share/berth/blob, a
# binary file of BLOB-BYTES random bytes (default 300000).  Different on
# every call (random bytes), always the same size for the same BLOB-BYTES.
mk_rootfs_tar() {
	local out=$1 n=${2:-300000} dir
	dir=$(mktemp -d "$TRASH/rootfs.XXXXXX")
	mkdir -p "$dir/etc" "$dir/bin" "$dir/usr/share/berth" "$dir/tmp"
	printf 'NAME=berth-test\nID=berth\nVERSION_ID="%s"\n' \
		"$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/etc/os-release"
	printf '#!/bin/sh\necho hello from berth\n' >"$dir/bin/hello"
	chmod 0755 "$dir/bin/hello"
	chmod 1777 "$dir/tmp"
	head -c "$n" /dev/urandom >"$dir/usr/share/berth/blob"
	tar -C "$dir" --owner=0 --group=0 --numeric-owner --mtime=@1700000000 \
		--sort=name -cf "$out" etc bin usr tmp
	rm -rf "$dir"
}

# mk_oci_layout DIR TAG NLAYERS: an OCI image layout (the "oci:DIR:TAG"
# transport of skopeo/podman) holding one image of NLAYERS gzip'd layers,
# made from lib.sh's mk_layer/mk_config/mk_image_manifest.  The manifest is
# also left as DIR.manifest.json, the config as DIR.config.json and the
# layers as DIR.layerN.tgz, for comparisons.
mk_oci_layout() {
	local dir=$1 tag=$2 n=$3 i layers=() f d
	mkdir -p "$dir/blobs/sha256"
	for i in $(seq 1 "$n"); do
		mk_layer "$dir.layer$i.tgz"
		rm -f "$dir.layer$i.tgz.tar"
		layers+=("$dir.layer$i.tgz")
	done
	mk_config "$dir.config.json" "${layers[@]}"
	mk_image_manifest "$dir.manifest.json" "$MT_OCI_MANIFEST" "$dir.config.json" "${layers[@]}"
	for f in "${layers[@]}" "$dir.config.json" "$dir.manifest.json"; do
		d=$(digest_of "$f")
		cp "$f" "$dir/blobs/sha256/${d#sha256:}"
	done
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	jq -n --arg d "$(digest_of "$dir.manifest.json")" \
		--argjson s "$(size_of "$dir.manifest.json")" --arg t "$tag" --arg mt "$MT_OCI_MANIFEST" \
		'{schemaVersion: 2, manifests: [{mediaType: $mt, digest: $d, size: $s,
		  annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$dir/index.json"
}

# ---------------------------------------------------------------- clients

# The registry as clients name it: 127.0.0.1:PORT.
reg() { echo "127.0.0.1:$PORT"; }

# sko ARGS...: skopeo with a private policy, registries.conf and tmpdir.
# Log of the last call in $CLIENTS_DIR/skopeo.log.
sko() {
	local cmd=$1; shift
	[ "$cmd" = copy ] && set -- --quiet "$@"
	TMPDIR=$CLIENTS_DIR/tmp CONTAINERS_REGISTRIES_CONF=$CLIENTS_DIR/registries.conf \
		skopeo --policy "$CLIENTS_DIR/policy.json" --tmpdir "$CLIENTS_DIR/tmp" \
		--command-timeout 600s "$cmd" "$@" 2>"$CLIENTS_DIR/skopeo.log"
}

# pm ARGS...: podman as root on vfs storage of its own under $TRASH.
# podman refuses a runroot longer than 50 characters: it is $TRASH/pr when
# that is short enough, else a directory of its own under /tmp (removed by
# clients_cleanup).
PM_RUNROOT=
pm_runroot() {
	if [ -z "$PM_RUNROOT" ]; then
		PM_RUNROOT=$TRASH/pr
		if [ ${#PM_RUNROOT} -ge 50 ]; then
			PM_RUNROOT=$(mktemp -d /tmp/berth-pr.XXXXXX)
			PM_RUNROOT_OWN=$PM_RUNROOT
		fi
		mkdir -p "$PM_RUNROOT"
	fi
}
PM_RUNROOT_OWN=

pm() {
	local p=$CLIENTS_DIR/podman
	pm_runroot
	mkdir -p "$p/root" "$p/tmp" "$p/vartmp" "$p/volumes" "$p/net"
	[ -f "$p/storage.conf" ] || cat >"$p/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$PM_RUNROOT"
graphroot = "$p/root"
EOF
	[ -f "$p/containers.conf" ] || cat >"$p/containers.conf" <<EOF
[engine]
events_logger = "file"
events_logfile_path = "$p/events.log"
cgroup_manager = "cgroupfs"
EOF
	TMPDIR=$p/vartmp CONTAINERS_STORAGE_CONF=$p/storage.conf \
		CONTAINERS_CONF=$p/containers.conf \
		CONTAINERS_REGISTRIES_CONF=$CLIENTS_DIR/registries.conf \
		podman --root "$p/root" --runroot "$PM_RUNROOT" --tmpdir "$p/tmp" \
		--storage-driver vfs --events-backend file --cgroup-manager cgroupfs \
		--volumepath "$p/volumes" --network-config-dir "$p/net" "$@" 2>"$CLIENTS_DIR/podman.log"
}

# ---------------------------------------------------------------- dockerd

# dockerd_start: a private dockerd on a unix socket under $TRASH (vfs, no
# iptables, no bridge).  Sets DOCKER_HOST and DOCKER_CONFIG for `docker`.
# Returns non-zero (with the reason in $DOCKERD_WHY) if it cannot start here.
DOCKERD_WHY=
dockerd_start() {
	local d=$CLIENTS_DIR/docker i
	mkdir -p "$d/data" "$d/exec" "$d/config"
	DOCKERD_DATA=$d/data
	DOCKERD_EXEC=$d/exec
	DOCKER_SOCK=$d/docker.sock
	dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
		--ip-masq=false --data-root "$DOCKERD_DATA" --exec-root "$DOCKERD_EXEC" \
		--pidfile "$d/dockerd.pid" -H "unix://$DOCKER_SOCK" \
		>"$d/dockerd.log" 2>&1 &
	DOCKERD_PID=$!
	export DOCKER_HOST=unix://$DOCKER_SOCK
	export DOCKER_CONFIG=$d/config
	for i in $(seq 1 300); do
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			wait "$DOCKERD_PID" 2>/dev/null
			DOCKERD_PID=
			DOCKERD_WHY="dockerd exited at start: $(grep -iE 'level=(fatal|error)' "$d/dockerd.log" | tail -n 1 | cut -c1-300)"
			return 1
		fi
		if [ -S "$DOCKER_SOCK" ] && docker version >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	DOCKERD_WHY="dockerd did not answer on $DOCKER_SOCK in 30 s"
	dockerd_stop
	return 1
}

# dockerd_stop: SIGTERM, wait (dockerd stops its own containerd), then
# unmount what it leaves behind (the default network namespace).
dockerd_stop() {
	local i
	if [ -n "$DOCKERD_PID" ]; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null
		for i in $(seq 1 200); do
			kill -0 "$DOCKERD_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$DOCKERD_PID" 2>/dev/null
		wait "$DOCKERD_PID" 2>/dev/null
		DOCKERD_PID=
	fi
	if [ -n "$DOCKERD_EXEC" ]; then
		if grep -q " $DOCKERD_EXEC/netns/default " /proc/mounts; then
			umount "$DOCKERD_EXEC/netns/default" 2>/dev/null ||
				umount -l "$DOCKERD_EXEC/netns/default" 2>/dev/null
		fi
		# The containerd this dockerd started (it goes with dockerd; this
		# is for a dockerd that had to be killed).
		clients_kill_pidfile "$DOCKERD_EXEC/containerd/containerd.pid" containerd
	fi
}

# clients_kill_pidfile FILE NAME: SIGKILL the process FILE names if it still
# runs NAME (a pid file may be stale, and the pid reused).
clients_kill_pidfile() {
	local pid
	[ -f "$1" ] || return 0
	read -r pid <"$1" 2>/dev/null || return 0
	case $pid in ''|*[!0-9]*) return 0 ;; esac
	if [ -r "/proc/$pid/comm" ] && grep -q "$2" "/proc/$pid/comm"; then
		kill -KILL "$pid" 2>/dev/null
	fi
}

# ---------------------------------------------------------------- the pool

# Inodes of the sockets bound to unix path P (listening and accepted ones).
clients_sock_inodes() {
	awk -v p="$1" 'NR > 1 && $8 == p { print $7 }' /proc/net/unix
}

# pool_workers api|upload|token: pids of the pool's workers serving that
# socket (a worker keeps only its own pool's listening socket open).
pool_workers() {
	local which=$1 path key inodes pid fd l
	key=socket; [ "$which" = api ] || key=${which}_socket
	path=$(awk -v k="$key" '{ sub(/#.*/, "") } $1 == k { sub(/^[^=]*=[ \t]*/, ""); gsub(/[ \t"]+$/, ""); v = $0 } END { print v }' "$DATA/berth.conf")
	[ -n "$path" ] || return 0   # no socket of its own: no workers
	inodes=" $(clients_sock_inodes "$path" | tr '\n' ' ') "
	for pid in $(berth_worker_pids); do
		for fd in /proc/"$pid"/fd/*; do
			l=$(readlink "$fd" 2>/dev/null) || continue
			case $l in socket:\[*\])
				l=${l#socket:[}; l=${l%]}
				case $inodes in *" $l "*) echo "$pid"; break ;; esac ;;
			esac
		done
	done
}

# wait_respawned POOL COUNT OLD-PID...: until POOL (api|upload) has COUNT
# workers or more, none of them an OLD-PID (dead or retired); 15 s at most.
wait_respawned() {
	local pool=$1 n=$2 i p cur bad
	shift 2
	for i in $(seq 1 150); do
		cur=" $(pool_workers "$pool" | tr '\n' ' ')"
		bad=
		for p in "$@"; do case $cur in *" $p "*) bad=1 ;; esac; done
		if [ -z "$bad" ] && [ "$(echo $cur | wc -w)" -ge "$n" ]; then return 0; fi
		sleep 0.1
	done
	return 1
}

# upload_holder UUID: pid of the worker that has the session's files open
# (the one serving a request on it right now), empty if none.
upload_holder() {
	local pid fd
	for pid in $(berth_worker_pids); do
		for fd in /proc/"$pid"/fd/*; do
			case $(readlink "$fd" 2>/dev/null) in
			"$STORE/uploads/$1/"*) echo "$pid"; return 0 ;;
			esac
		done
	done
}

# wait_for COUNT SECONDS CMD...: until CMD's output has COUNT words (or
# more), polling every 0.1 s; returns non-zero on timeout.
wait_for_words() {
	local want=$1 secs=$2 i
	shift 2
	for i in $(seq 1 $((secs * 10))); do
		[ "$("$@" | wc -w)" -ge "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# vm_hwm_kb PID: peak resident set size of PID in KiB (0 if gone).
vm_hwm_kb() {
	awk '/^VmHWM:/ { print $2; f = 1 } END { if (!f) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- curl

# ccurl ARGS...: curl against the stack with the test CA, quiet.
ccurl() { curl -sS --path-as-is --cacert "$CACERT" --max-time 900 "$@"; }

# upload_start REPO: POST a new session; prints its absolute Location.
upload_start() {
	ccurl -X POST -o /dev/null -D - "$URL/v2/$1/blobs/uploads/" |
		awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }'
}

# sha256 of stdin, as "sha256:<hex>".
sha256_stdin() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }

# The registry's manifest bytes for REPO:REF, with every media type accepted.
MT_ACCEPT_ALL="$MT_OCI_MANIFEST, $MT_OCI_INDEX, $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST"
get_manifest() {
	ccurl -f -H "Accept: $MT_ACCEPT_ALL" "$URL/v2/$1/manifests/$2"
}
