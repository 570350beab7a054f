#!/bin/bash
# t30-uploads: blob upload sessions - POST, monolithic POST ?digest=, PATCH
# streamed (chunked, no Content-Length) and with Content-Range, 416 out of
# order, GET status, PUT ?digest= with and without a last chunk, DELETE,
# digest mismatches that store nothing, sha512.
. "$(dirname "$0")/../lib.sh"

berth_start

F=$TRASH/fix
mkdir -p "$F"
REPO=team/app/api
LOC_RE="^https://127\.0\.0\.1:$PORT/v2/$REPO/blobs/uploads/[^/?]+"

# start_upload: POST, asserting the 202; sets LOC and UUID.
start_upload() {
	req POST "/v2/$REPO/blobs/uploads/" -H 'Content-Length: 0'
	expect_status 202
	expect_header_match Location "$LOC_RE"
	expect_header Range 0-0
	expect_header_present Docker-Upload-UUID
	expect_header Content-Length 0
	expect_api_version
	LOC=$(hdr Location)
	UUID=$(hdr Docker-Upload-UUID)
}

# q LOC QUERY: LOC with QUERY added (a Location may carry a query of its own).
q() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }

# ---- the whole cycle, piece by piece
mk_random "$F/part1" 300000
mk_random "$F/part2" 70000
mk_random "$F/part3" 12345
cat "$F/part1" "$F/part2" "$F/part3" >"$F/blob"
D=$(digest_of "$F/blob")
N1=300000; N2=$((N1 + 70000)); N3=$((N2 + 12345))

start_upload
ok "Location ends with the Docker-Upload-UUID" \
	sh -c 'case "${1%%\?*}" in */"$2") exit 0 ;; esac; exit 1' - "$LOC" "$UUID"
ok "no blob yet" test ! -e "$(blob_path "$D")"

req GET "$LOC"
expect_status 204
expect_header Range 0-0
expect_header Docker-Upload-UUID "$UUID"
expect_header_match Location "$LOC_RE"
expect_api_version

# Streamed PATCH: chunked transfer encoding, no Content-Length (docker push).
req PATCH "$LOC" --http1.1 -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/part1"
expect_status 202
expect_header Range "0-$((N1 - 1))"
expect_header Docker-Upload-UUID "$UUID"
expect_header_match Location "$LOC_RE"
expect_api_version
LOC=$(hdr Location)

req GET "$LOC"
expect_status 204
expect_header Range "0-$((N1 - 1))"

# Chunk with Content-Range, in order.
req PATCH "$LOC" -H "Content-Range: $N1-$((N2 - 1))" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/part2"
expect_status 202
expect_header Range "0-$((N2 - 1))"
expect_header Docker-Upload-UUID "$UUID"
LOC=$(hdr Location)

# Out of order: 416 with the session's current Range, nothing appended.
store_mark blobs repos
for cr in "0-$((N1 - 1))" "$((N2 + 10))-$((N2 + 10 + 12344))" "$((N2 - 1))-$((N2 + 12343))"; do
	req PATCH "$LOC" -H "Content-Range: $cr" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$F/part3"
	expect_status 416
	expect_header Range "0-$((N2 - 1))"
	expect_error_code BLOB_UPLOAD_INVALID
	expect_api_version
done
req GET "$LOC"
expect_status 204
expect_header Range "0-$((N2 - 1))"
expect_store_unchanged "after out-of-order chunks"

# PUT with the last chunk -> 201, Location of the blob, digest.
req PUT "$(q "$LOC" "digest=$D")" -H "Content-Range: $N2-$((N3 - 1))" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/part3"
expect_status 201
expect_header Location "$URL/v2/$REPO/blobs/$D"
expect_header Docker-Content-Digest "$D"
expect_header Content-Length 0
expect_api_version
ok "the blob is in the store" cmp -s "$(blob_path "$D")" "$F/blob"

req GET "/v2/$REPO/blobs/$D"
expect_status 200
expect_body_file "$F/blob"

# The finished session is gone.
req GET "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req PATCH "$LOC" --data-binary @"$F/part3"
expect_error 404 BLOB_UPLOAD_UNKNOWN

# ---- PUT ?digest= with no body after PATCHes; streamed over HTTP/2 too.
mk_random "$F/b2" $((3 * 1024 * 1024 + 17))
D2=$(digest_of "$F/b2")
start_upload
req PATCH "$LOC" --http2 -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/b2"
expect_status 202
expect_header Range "0-$((3 * 1024 * 1024 + 16))"
LOC=$(hdr Location)
req PUT "$(q "$LOC" "digest=$D2")" -H 'Content-Length: 0'
expect_status 201
expect_header Location "$URL/v2/$REPO/blobs/$D2"
expect_header Docker-Content-Digest "$D2"
req GET "/v2/$REPO/blobs/$D2"
expect_status 200
expect_body_file "$F/b2"

# ---- a session continued by whichever worker takes the next request:
# many small PATCHes in a row (the pool has several upload workers).
mk_random "$F/b3" 40000
D3=$(digest_of "$F/b3")
start_upload
off=0
good=1
for i in 0 1 2 3 4 5 6 7; do
	dd if="$F/b3" of="$F/chunk" bs=5000 skip=$i count=1 status=none
	req PATCH "$LOC" -H "Content-Range: $off-$((off + 4999))" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$F/chunk"
	[ "$STATUS" = 202 ] && [ "$(hdr Range)" = "0-$((off + 4999))" ] || good=
	LOC=$(hdr Location)
	off=$((off + 5000))
done
ok "8 chunked PATCHes in a row: 202 with a growing Range" test -n "$good"
req PUT "$(q "$LOC" "digest=$D3")"
expect_status 201
expect_header Docker-Content-Digest "$D3"
ok "chunked blob is whole" cmp -s "$(blob_path "$D3")" "$F/b3"

# ---- monolithic POST ?digest=
mk_random "$F/mono" 123457
DM=$(digest_of "$F/mono")
req POST "/v2/$REPO/blobs/uploads/?digest=$DM" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/mono"
expect_status 201
expect_header Location "$URL/v2/$REPO/blobs/$DM"
expect_header Docker-Content-Digest "$DM"
expect_api_version
req GET "/v2/$REPO/blobs/$DM"
expect_status 200
expect_body_file "$F/mono"

# Monolithic, streamed without Content-Length.
mk_random "$F/mono2" 200001
DM2=$(digest_of "$F/mono2")
req POST "/v2/$REPO/blobs/uploads/?digest=$DM2" --http1.1 -H 'Transfer-Encoding: chunked' \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/mono2"
expect_status 201
expect_header Docker-Content-Digest "$DM2"
ok "streamed monolithic blob is whole" cmp -s "$(blob_path "$DM2")" "$F/mono2"

# The same blob pushed again: still 201, still one file.
req POST "/v2/$REPO/blobs/uploads/?digest=$DM" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/mono"
expect_status 201
expect_header Docker-Content-Digest "$DM"

# ---- sha512 through a session and monolithic.
mk_random "$F/b512" 77777
D512=$(digest_of "$F/b512" sha512)
start_upload
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/b512"
expect_status 202
LOC=$(hdr Location)
req PUT "$(q "$LOC" "digest=$D512")"
expect_status 201
expect_header Docker-Content-Digest "$D512"
expect_header Location "$URL/v2/$REPO/blobs/$D512"
ok "sha512 blob stored under sha512/" cmp -s "$(blob_path "$D512")" "$F/b512"
req GET "/v2/$REPO/blobs/$D512"
expect_status 200
expect_body_file "$F/b512"

# ---- a wrong digest stores nothing.
mk_random "$F/bad" 5000
WRONG=sha256:$(printf 'something else' | sha256sum | cut -c1-64)
store_mark blobs repos
req POST "/v2/$REPO/blobs/uploads/?digest=$WRONG" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$F/bad"
expect_error 400 DIGEST_INVALID
ok "no blob under the claimed digest" test ! -e "$(blob_path "$WRONG")"
ok "no blob under the real digest" test ! -e "$(blob_path "$(digest_of "$F/bad")")"
expect_store_unchanged "monolithic POST with a wrong digest"

start_upload
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/bad"
expect_status 202
LOC=$(hdr Location)
store_mark blobs repos
req PUT "$(q "$LOC" "digest=$WRONG")"
expect_error 400 DIGEST_INVALID
req PUT "$(q "$LOC" "digest=sha512:$(printf 'something else' | sha512sum | cut -c1-128)")"
expect_error 400 DIGEST_INVALID
ok "no blob under the claimed digest" test ! -e "$(blob_path "$WRONG")"
ok "no blob under the real digest" test ! -e "$(blob_path "$(digest_of "$F/bad")")"
expect_store_unchanged "PUT with a wrong digest"
req GET "/v2/$REPO/blobs/$WRONG"
expect_error 404 BLOB_UNKNOWN

# A malformed or missing digest on PUT.
start_upload
for qs in "?digest=sha256:zz" "?digest=md5:abc" "?digest=" "?"; do
	req PUT "$(q "$LOC" "${qs#\?}")" --data-binary @"$F/bad"
	expect_status 400
	expect_error_code_in DIGEST_INVALID BLOB_UPLOAD_INVALID
done
ok "no blob from malformed digests" test ! -e "$(blob_path "$(digest_of "$F/bad")")"

# ---- DELETE cancels.
start_upload
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/part3"
expect_status 202
LOC=$(hdr Location)
req DELETE "$LOC"
expect_status 204
expect_api_version
req GET "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req PATCH "$LOC" --data-binary @"$F/part3"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req PUT "$(q "$LOC" "digest=$(digest_of "$F/part3")")"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req DELETE "$LOC"
expect_error 404 BLOB_UPLOAD_UNKNOWN
ok "cancelled upload left no session directory" test ! -e "$STORE/uploads/$UUID"

# ---- sessions are per repository and per id.
start_upload
req GET "/v2/other/repo/blobs/uploads/$UUID"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req PATCH "/v2/other/repo/blobs/uploads/$UUID" --data-binary @"$F/part3"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req GET "/v2/$REPO/blobs/uploads/00000000-0000-4000-8000-000000000000"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req GET "/v2/$REPO/blobs/uploads/not-a-session-id"
expect_error 404 BLOB_UPLOAD_UNKNOWN
req GET "/v2/$REPO/blobs/uploads/..%2F..%2Fblobs"
ok "an id with ../ is refused (400 or 404)" test "$STATUS" = 404 -o "$STATUS" = 400
expect_api_version

# A malformed Content-Range.
req PATCH "$LOC" -H 'Content-Range: banana' --data-binary @"$F/part3"
expect_status 416
expect_error_code BLOB_UPLOAD_INVALID
req PATCH "$LOC" -H 'Content-Range: 10-5' --data-binary @"$F/part3"
expect_status 416
req GET "$LOC"
expect_status 204
expect_header Range 0-0

# A new repository comes into being with its first upload.
req POST /v2/brand/new/blobs/uploads/
expect_status 202
expect_header_match Location "^https://127\.0\.0\.1:$PORT/v2/brand/new/blobs/uploads/[^/?]+"

test_done
