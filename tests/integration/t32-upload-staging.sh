#!/bin/bash
# t32-upload-staging.sh - big uploads go through store/stage.c: 512 KiB
# buffers hashed and written by a helper thread with O_DIRECT.  Checks what a
# client sees and what lands on disk when chunks are big and end anywhere:
#
#   - PATCH chunks of odd sizes (1234567, 2 MiB, 1 byte, 3000001, 4095,
#     1 MiB) with Content-Range: every Range answer, the session's data file
#     exactly as long as the committed offset, the blob byte for byte;
#   - a client that dies in the middle of a 3 MiB chunk: the session keeps
#     the previous offset, its data file is cut back to it, and the upload
#     continues and finishes with the right digest;
#   - a monolithic PUT of 5 MiB + 1 and a streamed (chunked) PATCH;
#   - the same with `upload_direct_io = false`.
. "$(dirname "$0")/../lib.sh"

need_cmd cmp
berth_start

F=$TRASH/fix
mkdir -p "$F"
REPO=stage/big

q() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }
fsize() { stat -c %s "$1" 2>/dev/null || echo missing; }

start_upload() {
	req POST "/v2/$REPO/blobs/uploads/" -H 'Content-Length: 0'
	expect_status 202
	LOC=$(hdr Location)
	UUID=$(hdr Docker-Upload-UUID)
}

# patch_piece SRC OFFSET LEN: PATCH bytes [OFFSET, OFFSET+LEN) of SRC.
patch_piece() {
	tail -c +$(($2 + 1)) "$1" | head -c "$3" >"$F/piece"
	req PATCH "$LOC" -H "Content-Range: $2-$(($2 + $3 - 1))" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$F/piece"
	expect_status 202
	expect_header Range "0-$(($2 + $3 - 1))"
	LOC=$(hdr Location)
}

# finish_and_compare SRC WHAT: PUT ?digest=, then the blob is SRC exactly.
finish_and_compare() {
	local d
	d=$(digest_of "$1")
	req PUT "$(q "$LOC" "digest=$d")" -H 'Content-Length: 0'
	expect_status 201
	expect_header Docker-Content-Digest "$d"
	ok "$2: the stored blob is the source, byte for byte" cmp -s "$1" "$(blob_path "$d")"
	req GET "/v2/$REPO/blobs/$d" -L
	expect_status 200
	ok "$2: a pull returns the source" cmp -s "$1" "$BODY"
	ok "$2: the session is gone" test ! -e "$STORE/uploads/$UUID"
}

# chunked_upload WHAT: odd-sized chunks, status and data file after each.
chunked_upload() {
	local off=0 n
	mk_random "$F/src" $((1234567 + 2097152 + 1 + 3000001 + 4095 + 1048576))
	start_upload
	for n in 1234567 2097152 1 3000001 4095 1048576; do
		patch_piece "$F/src" "$off" "$n"
		off=$((off + n))
		expect_eq "$1: data file after the chunk ending at $off" \
			"$(fsize "$STORE/uploads/$UUID/data")" "$off"
		req GET "$LOC"
		expect_status 204
		expect_header Range "0-$((off - 1))"
	done
	finish_and_compare "$F/src" "$1 chunks"
}

# broken_chunk WHAT: the client dies 2 MiB into a 3 MiB chunk.
broken_chunk() {
	local first=1500001 code
	mk_random "$F/src2" $((first + 3 * 1048576))
	start_upload
	patch_piece "$F/src2" 0 "$first"
	tail -c +$((first + 1)) "$F/src2" | head -c $((2 * 1048576)) >"$F/partial"
	code=$(curl -sS --cacert "$CACERT" --http1.1 --max-time 3 -o /dev/null -w '%{http_code}' \
		-X PATCH -H "Content-Range: $first-$((first + 3 * 1048576 - 1))" -H "Expect:" \
		-H "Content-Length: $((3 * 1048576))" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$F/partial" "$LOC" 2>/dev/null)
	expect_eq "$1: the cut chunk got no answer (client timed out)" "$code" 000
	# The worker notices the end of the body, rolls back, answers nobody.
	local i
	for i in $(seq 1 50); do
		req GET "$LOC"
		[ "$(hdr Range)" = "0-$((first - 1))" ] && [ "$(fsize "$STORE/uploads/$UUID/data")" = "$first" ] && break
		sleep 0.1
	done
	expect_status 204
	expect_header Range "0-$((first - 1))"
	expect_eq "$1: data file cut back to the committed offset" \
		"$(fsize "$STORE/uploads/$UUID/data")" "$first"
	patch_piece "$F/src2" "$first" $((3 * 1048576))
	finish_and_compare "$F/src2" "$1 after a broken chunk"
}

# whole_uploads WHAT: monolithic PUT and one streamed PATCH.
whole_uploads() {
	local d
	mk_random "$F/mono" $((5 * 1048576 + 1))
	d=$(digest_of "$F/mono")
	start_upload
	req PUT "$(q "$LOC" "digest=$d")" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$F/mono"
	expect_status 201
	expect_header Docker-Content-Digest "$d"
	ok "$1 monolithic: the stored blob is the source" cmp -s "$F/mono" "$(blob_path "$d")"
	req GET "/v2/$REPO/blobs/$d" -L
	expect_status 200
	ok "$1 monolithic: a pull returns the source" cmp -s "$F/mono" "$BODY"
	ok "$1 monolithic: the session is gone" test ! -e "$STORE/uploads/$UUID"

	mk_random "$F/stream" $((4 * 1048576 + 777))
	start_upload
	req PATCH "$LOC" --http1.1 -H 'Transfer-Encoding: chunked' \
		-H 'Content-Type: application/octet-stream' --data-binary @"$F/stream"
	expect_status 202
	expect_header Range "0-$((4 * 1048576 + 776))"
	LOC=$(hdr Location)
	finish_and_compare "$F/stream" "$1 streamed"
}

chunked_upload "direct I/O"
broken_chunk "direct I/O"
whole_uploads "direct I/O"

berth_conf upload_direct_io false
berth_restart_pool
chunked_upload "page cache"
broken_chunk "page cache"
whole_uploads "page cache"

test_done
