#!/bin/bash
# t90-large.sh - a 1 GiB layer streamed in and out, in constant memory.
#
#   - POST a session, then one PATCH carrying 1 GiB with
#     "Transfer-Encoding: chunked" and no Content-Length over HTTP/1.1 (what
#     docker push sends), read by curl from a pipe; PUT ?digest= -> 201;
#   - HEAD -> Content-Length 1073741824 and Docker-Content-Digest;
#   - GET streamed through sha256sum -> the digest; a Range GET in the middle
#     -> 206 with the very bytes `dd` cuts from the source;
#   - the upload workers' peak resident memory (VmHWM) stays under 16 MiB
#     (the issue: "a worker's resident memory stays under 16 MiB while a
#     4 GiB layer goes through it");
#   - a monolithic POST ?digest= of 64 MiB over HTTP/2.
#
# The source file lives in the trash directory and is removed as soon as
# the Range check is done.  BERTH_LARGE_MIB overrides the size (default 1024).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd sha256sum dd
MIB=${BERTH_LARGE_MIB:-1024}
SIZE=$((MIB * 1024 * 1024))
LIMIT_KB=$((16 * 1024))
REPO=big/layers

avail_kb=$(df -Pk "$TRASH" | awk 'NR == 2 { print $4 }')
# The source, the session's data and the published blob, plus a margin.
[ "$avail_kb" -gt $((3 * SIZE / 1024 + 512 * 1024)) ] ||
	skip_all "needs $((3 * MIB + 512)) MiB free in $TRASH, has $((avail_kb / 1024)) MiB"

berth_start
W=$TRASH/work
mkdir -p "$W"
SRC=$W/large.bin

# Peak RSS of the upload workers while a request runs: a sampler in the
# background keeps the largest VmHWM it sees (VmHWM is the peak since the
# process started, so the last sample of a live worker covers everything).
hwm_sampler() {
	local max=0 p v
	while [ ! -e "$W/hwm.stop" ]; do
		for p in $(pool_workers upload); do
			v=$(vm_hwm_kb "$p")
			[ "$v" -le "$max" ] || { max=$v; echo "$max $p" >"$W/hwm.max"; }
		done
		sleep 0.5
	done
}

# ---------------------------------------------------------------- 1 GiB in

start=$(date +%s)
head -c "$SIZE" /dev/urandom >"$SRC"
DIGEST=$(digest_of "$SRC")
note "made $MIB MiB in $(( $(date +%s) - start )) s, $DIGEST"

loc=$(upload_start "$REPO")
expect_eq "POST /v2/$REPO/blobs/uploads/ gives a Location" "${loc:+yes}" yes
rm -f "$W/hwm.stop" "$W/hwm.max"
hwm_sampler &
SAMPLER=$!
berth_track_pid "$SAMPLER"

start=$(date +%s)
# cat | curl: curl reads a pipe, so it cannot know the length and sends the
# body chunked, as docker does.
code=$(cat "$SRC" | ccurl --http1.1 -X PATCH -T - -o "$W/patch.body" -D "$W/patch.hdrs" \
	-H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' \
	-w '%{http_code}' "$loc")
secs=$(( $(date +%s) - start ))
say "# $TEST_FILE: streamed $MIB MiB in $secs s"
expect_eq "PATCH $MIB MiB chunked: status 202" "$code" 202
HDRS=$W/patch.hdrs
expect_eq "PATCH: Range covers the whole body" "$(hdr Range)" "0-$((SIZE - 1))"
loc2=$(hdr Location)
[ -n "$loc2" ] || loc2=$loc
case $loc2 in http*) ;; *) loc2=$URL$loc2 ;; esac

req PUT "$loc2$(case $loc2 in *\?*) echo '&' ;; *) echo '?' ;; esac)digest=$DIGEST"
expect_status 201
expect_header Docker-Content-Digest "$DIGEST"
expect_header Location "$URL/v2/$REPO/blobs/$DIGEST"

# Sample once more (the worker is still alive), then stop the sampler.
sleep 0.6
touch "$W/hwm.stop"
wait "$SAMPLER" 2>/dev/null
read -r hwm hwm_pid <"$W/hwm.max" 2>/dev/null || { hwm=0; hwm_pid=none; }
say "# $TEST_FILE: peak RSS (VmHWM) of an upload worker during the push: $hwm KiB (pid $hwm_pid)"
if [ "$hwm" -gt 0 ] && [ "$hwm" -lt "$LIMIT_KB" ]; then
	pass "upload worker peak RSS $hwm KiB < 16 MiB"
else
	fail "upload worker peak RSS < 16 MiB" "VmHWM $hwm KiB (pid $hwm_pid)"
fi

# ---------------------------------------------------------------- 1 GiB out

req HEAD "/v2/$REPO/blobs/$DIGEST"
expect_status 200
expect_header Content-Length "$SIZE"
expect_header Docker-Content-Digest "$DIGEST"

# A Range in the middle, and the last bytes.
R0=$((SIZE / 2)); R1=$((R0 + 1023))
req GET "/v2/$REPO/blobs/$DIGEST" -r "$R0-$R1"
expect_status 206
expect_header Content-Range "bytes $R0-$R1/$SIZE"
dd if="$SRC" of="$W/range.want" bs=1024 skip=$((R0 / 1024)) count=1 status=none
expect_body_file "$W/range.want"
req GET "/v2/$REPO/blobs/$DIGEST" -H 'Range: bytes=-100'
expect_status 206
expect_header Content-Range "bytes $((SIZE - 100))-$((SIZE - 1))/$SIZE"
tail -c 100 "$SRC" >"$W/tail.want"
expect_body_file "$W/tail.want"
rm -f "$SRC"

start=$(date +%s)
got=$(ccurl -D "$W/get.hdrs" "$URL/v2/$REPO/blobs/$DIGEST" | sha256_stdin)
say "# $TEST_FILE: downloaded $MIB MiB in $(( $(date +%s) - start )) s"
expect_eq "GET $MIB MiB: sha256 of the body" "$got" "$DIGEST"
HDRS=$W/get.hdrs
expect_header Content-Length "$SIZE"

# The store holds it once, in the blob store; the session is gone.
ok "no upload session left after PUT" test -z "$(ls -A "$STORE/uploads")"

# ---------------------------------------------------------------- 64 MiB monolithic

M=$W/mono.bin
head -c $((64 * 1024 * 1024)) /dev/urandom >"$M"
MD=$(digest_of "$M")
# Streamed from stdin with an explicit Content-Length (--data-binary @FILE
# would load it in memory; -T FILE appends the file name to a URL ending
# in /).
req POST "/v2/$REPO/blobs/uploads/?digest=$MD" -T - <"$M" \
	-H "Content-Length: $(size_of "$M")" -H 'Content-Type: application/octet-stream'
expect_status 201
expect_header Docker-Content-Digest "$MD"
expect_header Location "$URL/v2/$REPO/blobs/$MD"
req HEAD "/v2/$REPO/blobs/$MD"
expect_status 200
expect_header Content-Length $((64 * 1024 * 1024))
expect_eq "GET 64 MiB: sha256 of the body" "$(ccurl "$URL/v2/$REPO/blobs/$MD" | sha256_stdin)" "$MD"

# A wrong digest on a big monolithic POST stores nothing.
bad=sha256:$(printf '%064d' 0)
store_mark
req POST "/v2/$REPO/blobs/uploads/?digest=$bad" -T - <"$M" \
	-H "Content-Length: $(size_of "$M")" -H 'Content-Type: application/octet-stream'
expect_error 400 DIGEST_INVALID
req HEAD "/v2/$REPO/blobs/$bad"
expect_status 404
expect_eq "no blob file for the wrong digest" "$(ls "$(blob_path "$bad")" 2>/dev/null)" ""
expect_store_unchanged "POST with a wrong digest"
rm -f "$M"

test_done
