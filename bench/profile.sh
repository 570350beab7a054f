#!/bin/bash
# bench/profile.sh - where berth's time goes on the figures of `make bench`
# that miss their targets (not run by `make bench`; the lead's tool).
#
# Starts berth alone (as bench/run.sh does) and, on a reduced workload:
#   1. strace -f -c of the pool during a 256 MiB monolithic push, then
#      strace -T of the same push: read() sizes (libfcgi reads its socket
#      8 KiB at a time), pwrite sizes, time spent in fdatasync/fsync;
#   2. a 1 GiB monolithic push: CPU seconds of the pool, nginx and curl
#      (/proc and bash's time), and perf record -p (cpu-clock: this VM has no
#      hardware counters) of the pool and of nginx: which library and which
#      function burns the CPU;
#   3. 8 s of manifest GETs (wrk, 64 connections): CPU per request of the
#      pool and nginx, perf of the pool;
#   4. the system calls of one manifest GET.
# perf -p, not -a: the machine may be shared, and other people's processes
# would fill a system-wide profile.
# Prints the summaries; the raw files stay in $BT when BENCH_KEEP=1.
#
#   bash bench/profile.sh        BUILD= (default build)
set -u
. "$(dirname "$0")/lib.sh"

for t in perf strace wrk curl; do
	command -v $t >/dev/null 2>&1 || die "$t not installed (apt-get install linux-perf strace wrk curl)"
done
make -s -C "$BENCH_TOP" BUILD="$BUILD" "$BUILD/berthd" "$BUILD/berthctl" >/dev/null || die "build failed"
BT=$(mktemp -d "${TMPDIR:-/tmp}/berth-profile.XXXXXX") || die "mktemp failed"
chmod 0755 "$BT"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
RAW=$BT/raw.txt

berth_up
say "berth at $B_URL; pool $(group "$B_POOL")"
token_refresh

openssl enc -aes-128-ctr -nosalt -pass pass:berth-profile </dev/zero 2>/dev/null |
	head -c $((1024 * MIB)) >"$BT/big"
head -c $((256 * MIB)) "$BT/big" >"$BT/mid"
dig_of() { echo "sha256:$(openssl dgst -sha256 -r "$1" | cut -d' ' -f1)"; }
DBIG=$(dig_of "$BT/big")
DMID=$(dig_of "$BT/mid")

location() { awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }' "$1" | tail -n 1; }
with_query() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }

# push MODE FILE DIGEST: one push to bench/prof, prints curl's figures.
push() {
	local loc
	c berth -o /dev/null -D "$BT/h1" -X POST "$B_URL/v2/bench/big/blobs/uploads/"
	loc=$(location "$BT/h1")
	if [ "$1" = mono ]; then
		c berth -o /dev/null -H 'Expect:' -w '%{http_code} %{speed_upload} B/s\n' -T "$2" \
			"$(with_query "$loc" "digest=$3")"
	else
		c berth -o /dev/null -H 'Expect:' -D "$BT/h2" -w '%{http_code} %{speed_upload} B/s\n' \
			-X PATCH -T - "$loc" <"$2"
		c berth -o /dev/null -w '%{http_code}\n' -X PUT -H 'Content-Length: 0' \
			"$(with_query "$(location "$BT/h2")" "digest=$3")"
	fi
}

upload_workers() { # the pool's children serving upload.sock: all workers; strace them all
	descendants "$B_POOL" | tr '\n' ' '
}

say
say "== 1. strace -c -f of the pool during a 256 MiB monolithic push"
pids=$(upload_workers)
args=(); for p in $pids; do args+=(-p "$p"); done
strace -f -c -o "$BT/strace-c.txt" "${args[@]}" &
st=$!; sleep 1
push mono "$BT/mid" "$DMID"
sleep 0.5; kill -INT "$st"; wait "$st" 2>/dev/null
head -n 20 "$BT/strace-c.txt"

say
say "== 1b. strace -T: read sizes, pwrite sizes, time in fdatasync/fsync (256 MiB push)"
strace -f -T -e trace=read,pwrite64,fdatasync,fsync,rename,renameat -o "$BT/strace-T.txt" "${args[@]}" &
st=$!; sleep 1
push mono "$BT/mid" "$DMID"
sleep 0.5; kill -INT "$st"; wait "$st" 2>/dev/null
awk '/ read\(/ && / = [0-9]+ </ { n = $0; sub(/.* = /, "", n); sub(/ .*/, "", n); r[n > 0 ? (n <= 8 ? "<=8" : n <= 8192 ? "<=8K" : n <= 65536 ? "<=64K" : ">64K") : "0"]++; rb += n }
     / pwrite64\(/ { n = $0; sub(/.* = /, "", n); sub(/ .*/, "", n); w++; wb += n }
     /fdatasync|fsync/ { t = $NF; gsub(/[<>]/, "", t); s[$2 ~ /fdatasync/ ? "fdatasync" : "fsync"] += t; c[$2 ~ /fdatasync/ ? "fdatasync" : "fsync"]++ }
     END {
	for (k in r) printf "read() returning %s bytes: %d calls\n", k, r[k]
	printf "read(): %d bytes in total, pwrite: %d calls, %.0f KiB average\n", rb, w, w ? wb / w / 1024 : 0
	for (k in s) printf "%s: %d calls, %.3f s in total\n", k, c[k], s[k] }' "$BT/strace-T.txt"

# ticks GROUP-LEADER-PID: "user sys" clock ticks of the process and its descendants.
ticks() {
	local p l f u=0 sy=0
	for p in $(group "$1"); do
		{ read -r l <"/proc/$p/stat"; } 2>/dev/null || continue
		read -r -a f <<<"${l##*) }"
		u=$((u + f[11])); sy=$((sy + f[12]))
	done
	echo "$u $sy"
}
csv() { group "$1" | tr ' ' ',' | sed 's/,*$//'; }
# perf_top DATA: where the CPU went, by library and by symbol (libcrypto's
# internal symbols are stripped: 0x29d... is sha256_block_data_order_shaext).
perf_top() {
	perf report -i "$1" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -n 6
	perf report -i "$1" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep . |
		grep -v '\] 0x0000' | head -n 12
}

say
say "== 2. CPU cost of a 1 GiB monolithic push per process (perf -p, /proc ticks)"
c berth -o /dev/null -D "$BT/h1" -X POST "$B_URL/v2/bench/big/blobs/uploads/"
perf record -q -e cpu-clock -p "$(csv "$B_POOL")" -o "$BT/perf-pool.data" >/dev/null 2>&1 &
pf1=$!
perf record -q -e cpu-clock -p "$(csv "$B_NGINX")" -o "$BT/perf-nginx.data" >/dev/null 2>&1 &
pf2=$!
sleep 0.5
read -r pu0 ps0 <<<"$(ticks "$B_POOL")"; read -r nu0 ns0 <<<"$(ticks "$B_NGINX")"
TIMEFORMAT='curl: %R s wall, %U s user, %S s sys'
time c berth -o /dev/null -H 'Expect:' -w '%{http_code} %{speed_upload} B/s\n' -T "$BT/big" \
	"$(with_query "$(location "$BT/h1")" "digest=$DBIG")"
read -r pu1 ps1 <<<"$(ticks "$B_POOL")"; read -r nu1 ns1 <<<"$(ticks "$B_NGINX")"
kill -INT "$pf1" "$pf2"; wait "$pf1" "$pf2" 2>/dev/null
hz=$(getconf CLK_TCK)
awk -v a=$((pu1 - pu0)) -v b=$((ps1 - ps0)) -v c=$((nu1 - nu0)) -v d=$((ns1 - ns0)) -v hz="$hz" 'BEGIN {
	printf "berth pool: %.2f s user + %.2f s sys; nginx: %.2f s user + %.2f s sys (per GiB)\n",
		a / hz, b / hz, c / hz, d / hz }'
say "-- the pool"; perf_top "$BT/perf-pool.data"
say "-- nginx"; perf_top "$BT/perf-nginx.data"

say
say "== 3. manifest GET: 8 s of wrk, 64 connections; CPU per request, perf of the pool"
MT=application/vnd.oci.image.manifest.v1+json
printf '{}' >"$BT/cfg"
c berth -o /dev/null -D "$BT/h1" -X POST "$B_URL/v2/bench/small/blobs/uploads/"
c berth -o /dev/null -X PUT --data-binary @"$BT/cfg" "$(with_query "$(location "$BT/h1")" "digest=$(dig_of "$BT/cfg")")"
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[]}' \
	"$MT" "$(dig_of "$BT/cfg")" >"$BT/manifest"
c berth -o /dev/null -X PUT -H "Content-Type: $MT" --data-binary @"$BT/manifest" "$B_URL/v2/bench/small/manifests/v1"
token_refresh
perf record -q -e cpu-clock -p "$(csv "$B_POOL")" -o "$BT/perf-get.data" >/dev/null 2>&1 &
pf1=$!
sleep 0.5
read -r pu0 ps0 <<<"$(ticks "$B_POOL")"; read -r nu0 ns0 <<<"$(ticks "$B_NGINX")"
wrk -t2 -c64 -d8s --latency -H "Authorization: Bearer $TOKEN" -H "Accept: $MT" \
	"$B_URL/v2/bench/small/manifests/v1" >"$BT/wrk.out"
read -r pu1 ps1 <<<"$(ticks "$B_POOL")"; read -r nu1 ns1 <<<"$(ticks "$B_NGINX")"
kill -INT "$pf1"; wait "$pf1" 2>/dev/null
grep -E 'requests in|Requests/sec|50%|99%|Non-2xx' "$BT/wrk.out"
n=$(awk '/requests in/ { print $1 }' "$BT/wrk.out")
awk -v n="$n" -v a=$((pu1 - pu0)) -v b=$((ps1 - ps0)) -v c=$((nu1 - nu0)) -v d=$((ns1 - ns0)) -v hz="$hz" 'BEGIN {
	printf "per request: pool %.0f us user + %.0f us sys; nginx %.0f us user + %.0f us sys\n",
		a / hz / n * 1e6, b / hz / n * 1e6, c / hz / n * 1e6, d / hz / n * 1e6 }'
perf_top "$BT/perf-get.data"

say
say "== 4. the system calls of one manifest GET (strace of the pool)"
args=(); for p in $(descendants "$B_POOL"); do args+=(-p "$p"); done
strace -f -o "$BT/strace-one.txt" "${args[@]}" 2>/dev/null &
st=$!; sleep 1
c berth -o /dev/null "$B_URL/v2/bench/small/manifests/v1" -H "Accept: $MT"
sleep 0.3; kill -INT "$st"; wait "$st" 2>/dev/null
grep -v 'ppoll\|restart_syscall\|resumed>$\|--- SIG\|getppid' "$BT/strace-one.txt" |
	sed -E 's/^[0-9]+ +//' | cut -c1-120 | sed "s|$BT|\$BT|g"
