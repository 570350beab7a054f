#!/bin/bash
# t20-blobs: HEAD and GET of blobs by sha256 and sha512 digest; bytes served
# by nginx (X-Accel-Redirect) with Range; per-repository visibility; errors.
. "$(dirname "$0")/../lib.sh"

berth_start

F=$TRASH/fix
mkdir -p "$F"
mk_layer "$F/layer.tgz"
D=$(digest_of "$F/layer.tgz")
SIZE=$(size_of "$F/layer.tgz")
REPO=team/app/api

ok "setup: push a layer to $REPO" push_blob "$REPO" "$F/layer.tgz"
ok "the blob is in the store under its digest" cmp -s "$(blob_path "$D")" "$F/layer.tgz"

# HEAD is answered by the worker: size and digest, no body.
req HEAD "/v2/$REPO/blobs/$D"
expect_status 200
expect_header Content-Length "$SIZE"
expect_header Docker-Content-Digest "$D"
expect_api_version
expect_body_empty

# GET: nginx sends the file.
req GET "/v2/$REPO/blobs/$D"
expect_status 200
expect_body_file "$F/layer.tgz"
expect_header Content-Length "$SIZE"
expect_header Docker-Content-Digest "$D"
expect_header Content-Type application/octet-stream
expect_header ETag "\"$D\""
expect_api_version
expect_no_header X-Accel-Redirect

req GET "/v2/$REPO/blobs/$D" --http2
expect_status 200
expect_body_file "$F/layer.tgz"
expect_header Docker-Content-Digest "$D"
expect_api_version

# Range: exactly the bytes asked for.
req GET "/v2/$REPO/blobs/$D" -H 'Range: bytes=10-19'
expect_status 206
expect_header Content-Range "bytes 10-19/$SIZE"
expect_header Content-Length 10
expect_header Docker-Content-Digest "$D"
expect_api_version
dd if="$F/layer.tgz" of="$F/range" bs=1 skip=10 count=10 status=none
expect_body_file "$F/range"

req GET "/v2/$REPO/blobs/$D" -H "Range: bytes=$((SIZE - 5))-"
expect_status 206
tail -c 5 "$F/layer.tgz" >"$F/tail"
expect_body_file "$F/tail"

req GET "/v2/$REPO/blobs/$D" -H "Range: bytes=$((SIZE + 10))-$((SIZE + 20))"
expect_status 416
expect_api_version

# A bigger blob (several MiB, more than one sendfile chunk) comes back whole.
mk_random "$F/big" $((9 * 1024 * 1024 + 7))
ok "setup: push a 9 MiB blob" push_blob "$REPO" "$F/big"
req GET "/v2/$REPO/blobs/$(digest_of "$F/big")"
expect_status 200
expect_body_file "$F/big"

# sha512.
D512=$(digest_of "$F/layer.tgz" sha512)
ok "setup: push the layer as sha512" push_blob "$REPO" "$F/layer.tgz" sha512
ok "the sha512 blob is in the store" cmp -s "$(blob_path "$D512")" "$F/layer.tgz"
req HEAD "/v2/$REPO/blobs/$D512"
expect_status 200
expect_header Content-Length "$SIZE"
expect_header Docker-Content-Digest "$D512"
req GET "/v2/$REPO/blobs/$D512"
expect_status 200
expect_body_file "$F/layer.tgz"
expect_header Docker-Content-Digest "$D512"
req GET "/v2/$REPO/blobs/$D512" -H 'Range: bytes=0-0'
expect_status 206
expect_header Content-Length 1

# Unknown blobs.
UNKNOWN=sha256:$(printf 'no such blob' | sha256sum | cut -c1-64)
req GET "/v2/$REPO/blobs/$UNKNOWN"
expect_error 404 BLOB_UNKNOWN
req HEAD "/v2/$REPO/blobs/$UNKNOWN"
expect_status 404
expect_api_version
req GET "/v2/$REPO/blobs/sha512:$(printf 'no such blob' | sha512sum | cut -c1-128)"
expect_error 404 BLOB_UNKNOWN

# A repository sees only the blobs linked into it.
mk_random "$F/other" 1000
ok "setup: push a blob to repo other/repo" push_blob other/repo "$F/other"
req GET "/v2/other/repo/blobs/$D"
expect_error 404 BLOB_UNKNOWN
req HEAD "/v2/other/repo/blobs/$D"
expect_status 404
req GET "/v2/$REPO/blobs/$(digest_of "$F/other")"
expect_error 404 BLOB_UNKNOWN
# ... and a repository that does not exist sees nothing.
req GET "/v2/no/such/repo/blobs/$D"
expect_status 404
expect_error_code_in NAME_UNKNOWN BLOB_UNKNOWN
# The parent of a repository is not the repository.
req GET "/v2/team/app/blobs/$D"
expect_status 404
expect_error_code_in NAME_UNKNOWN BLOB_UNKNOWN

# Bad digests are refused before anything is looked up.
for bad in sha256:1234 "sha256:$(printf 'g%.0s' $(seq 64))" \
	"sha256:$(printf 'A%.0s' $(seq 64))" notadigest "sha256:${D#sha256:}00" \
	"sha512:${D#sha256:}" ":${D#sha256:}"; do
	req GET "/v2/$REPO/blobs/$bad"
	expect_error 400 DIGEST_INVALID
	req HEAD "/v2/$REPO/blobs/$bad"
	expect_status 400
done

# Blobs are read-only through this API.
req PUT "/v2/$REPO/blobs/$D" --data-binary @"$F/other"
ok "PUT on a blob is refused" test "${STATUS:0:1}" = 4
expect_api_version
ok "the blob is unchanged" cmp -s "$(blob_path "$D")" "$F/layer.tgz"

test_done
