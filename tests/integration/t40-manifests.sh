#!/bin/bash
# t40-manifests: PUT, GET and HEAD of the four manifest media types by tag
# and by digest; exact bytes and stored Content-Type; Accept negotiation;
# references that must exist in the repository; invalid manifests; a 404
# carries none of the success's headers (ETag, Docker-Content-Digest);
# a reference that can be no tag is 404 MANIFEST_UNKNOWN on GET and HEAD,
# 400 MANIFEST_INVALID on PUT and DELETE.
. "$(dirname "$0")/../lib.sh"

berth_start

F=$TRASH/fix
mkdir -p "$F"
REPO=team/app/api

# expect_manifest REF FILE MEDIATYPE [curl args]: GET and HEAD REF return
# FILE's exact bytes with MEDIATYPE and the digest of the bytes.
expect_manifest() {
	local ref=$1 file=$2 mt=$3 d
	shift 3
	d=$(digest_of "$file")
	req GET "/v2/$REPO/manifests/$ref" "$@"
	expect_status 200
	expect_body_file "$file"
	expect_header Content-Type "$mt"
	expect_header Docker-Content-Digest "$d"
	expect_header Content-Length "$(size_of "$file")"
	expect_api_version
	req HEAD "/v2/$REPO/manifests/$ref" "$@"
	expect_status 200
	expect_header Content-Type "$mt"
	expect_header Docker-Content-Digest "$d"
	expect_header Content-Length "$(size_of "$file")"
	expect_api_version
}

# put_manifest REF FILE MEDIATYPE: PUT, asserting 201, Location, digest.
put_manifest() {
	local ref=$1 file=$2 mt=$3 d
	d=$(digest_of "$file")
	req PUT "/v2/$REPO/manifests/$ref" -H "Content-Type: $mt" --data-binary @"$file"
	expect_status 201
	expect_header Location "$URL/v2/$REPO/manifests/$d"
	expect_header Docker-Content-Digest "$d"
	expect_api_version
}

ALL_TYPES="$MT_OCI_INDEX, $MT_DOCKER_LIST, $MT_OCI_MANIFEST, $MT_DOCKER_MANIFEST"

# ---- blobs for two images of each flavour
for n in 1 2 3 4; do
	mk_layer "$F/l$n.tgz"
	ok "setup: push layer $n" push_blob "$REPO" "$F/l$n.tgz"
done
mk_config "$F/c1.json" "$F/l1.tgz" "$F/l2.tgz"
mk_config "$F/c2.json" "$F/l3.tgz"
mk_config "$F/c3.json" "$F/l4.tgz"
for c in c1 c2 c3; do ok "setup: push config $c" push_blob "$REPO" "$F/$c.json"; done

# ---- Docker image manifest v2 schema 2, by tag.
mk_image_manifest "$F/docker.json" "$MT_DOCKER_MANIFEST" "$F/c1.json" "$F/l1.tgz" "$F/l2.tgz"
put_manifest v1-docker "$F/docker.json" "$MT_DOCKER_MANIFEST"
expect_manifest v1-docker "$F/docker.json" "$MT_DOCKER_MANIFEST" -H "Accept: $MT_DOCKER_MANIFEST"
expect_manifest "$(digest_of "$F/docker.json")" "$F/docker.json" "$MT_DOCKER_MANIFEST"
expect_manifest v1-docker "$F/docker.json" "$MT_DOCKER_MANIFEST" -H "Accept: $ALL_TYPES" --http2

# ---- OCI image manifest, by tag, with its bytes not in jq's canonical form:
# the registry must keep them exactly.
mk_image_manifest "$F/oci.tmp" "$MT_OCI_MANIFEST" "$F/c2.json" "$F/l3.tgz"
jq --tab '. + {annotations: {"org.opencontainers.image.title": "berth \u00e9t\u00e9"}}' \
	"$F/oci.tmp" >"$F/oci.json"
printf '\n\n' >>"$F/oci.json"
put_manifest v1-oci "$F/oci.json" "$MT_OCI_MANIFEST"
expect_manifest v1-oci "$F/oci.json" "$MT_OCI_MANIFEST" -H "Accept: $MT_OCI_MANIFEST"
expect_manifest "$(digest_of "$F/oci.json")" "$F/oci.json" "$MT_OCI_MANIFEST"

# ---- by digest (no tag).
mk_image_manifest "$F/oci2.json" "$MT_OCI_MANIFEST" "$F/c3.json" "$F/l4.tgz"
put_manifest "$(digest_of "$F/oci2.json")" "$F/oci2.json" "$MT_OCI_MANIFEST"
expect_manifest "$(digest_of "$F/oci2.json")" "$F/oci2.json" "$MT_OCI_MANIFEST"
mk_image_manifest "$F/docker2.json" "$MT_DOCKER_MANIFEST" "$F/c3.json" "$F/l4.tgz"
put_manifest "$(digest_of "$F/docker2.json")" "$F/docker2.json" "$MT_DOCKER_MANIFEST"
expect_manifest "$(digest_of "$F/docker2.json")" "$F/docker2.json" "$MT_DOCKER_MANIFEST"

# ---- OCI image index and Docker manifest list, by tag and by digest.
mk_index "$F/index.json" "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$F/oci.json" "$F/oci2.json"
put_manifest multi "$F/index.json" "$MT_OCI_INDEX"
expect_manifest multi "$F/index.json" "$MT_OCI_INDEX" -H "Accept: $ALL_TYPES"
expect_manifest "$(digest_of "$F/index.json")" "$F/index.json" "$MT_OCI_INDEX"
mk_index "$F/list.json" "$MT_DOCKER_LIST" "$MT_DOCKER_MANIFEST" "$F/docker.json" "$F/docker2.json"
put_manifest "$(digest_of "$F/list.json")" "$F/list.json" "$MT_DOCKER_LIST"
put_manifest multi-docker "$F/list.json" "$MT_DOCKER_LIST"
expect_manifest multi-docker "$F/list.json" "$MT_DOCKER_LIST" \
	-H "Accept: $MT_DOCKER_LIST, $MT_DOCKER_MANIFEST"
expect_manifest "$(digest_of "$F/list.json")" "$F/list.json" "$MT_DOCKER_LIST"

# An OCI manifest may leave out mediaType; Content-Type says what it is.
jq 'del(.mediaType)' "$F/oci2.json" >"$F/oci-nomt.json"
put_manifest no-mediatype "$F/oci-nomt.json" "$MT_OCI_MANIFEST"
expect_manifest no-mediatype "$F/oci-nomt.json" "$MT_OCI_MANIFEST"

# ---- Accept negotiation.
# By tag, an Accept that does not list the stored type: 404 MANIFEST_UNKNOWN.
req GET "/v2/$REPO/manifests/v1-docker" -H "Accept: $MT_OCI_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
req GET "/v2/$REPO/manifests/multi" -H "Accept: $MT_OCI_MANIFEST, $MT_DOCKER_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
req HEAD "/v2/$REPO/manifests/v1-oci" -H "Accept: $MT_DOCKER_MANIFEST"
expect_status 404
# Parameters and quality values are allowed; */* and no Accept take anything.
req GET "/v2/$REPO/manifests/v1-oci" -H "Accept: $MT_DOCKER_MANIFEST;q=0.9, $MT_OCI_MANIFEST;q=0.5"
expect_status 200
expect_header Content-Type "$MT_OCI_MANIFEST"
req GET "/v2/$REPO/manifests/v1-oci" -H "Accept: $MT_DOCKER_MANIFEST" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_header Content-Type "$MT_OCI_MANIFEST"
req GET "/v2/$REPO/manifests/v1-oci" -H 'Accept: */*'
expect_status 200
expect_body_file "$F/oci.json"
req GET "/v2/$REPO/manifests/v1-oci" -H 'Accept:'
expect_status 200
expect_header Content-Type "$MT_OCI_MANIFEST"
# By digest the manifest is served whatever the Accept.
req GET "/v2/$REPO/manifests/$(digest_of "$F/docker.json")" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$F/docker.json"
expect_header Content-Type "$MT_DOCKER_MANIFEST"
expect_header Docker-Content-Digest "$(digest_of "$F/docker.json")"

# ---- moving a tag: the tag follows the last PUT.
put_manifest v1-docker "$F/docker2.json" "$MT_DOCKER_MANIFEST"
expect_manifest v1-docker "$F/docker2.json" "$MT_DOCKER_MANIFEST"
# The old manifest is still there by digest.
expect_manifest "$(digest_of "$F/docker.json")" "$F/docker.json" "$MT_DOCKER_MANIFEST"
# Same bytes again: same answer.
put_manifest v1-docker "$F/docker2.json" "$MT_DOCKER_MANIFEST"

# ---- sha512-addressed manifest (PUT by a sha512 digest).
D512=$(digest_of "$F/oci2.json" sha512)
req PUT "/v2/$REPO/manifests/$D512" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/oci2.json"
expect_status 201
expect_header Docker-Content-Digest "$D512"
expect_header Location "$URL/v2/$REPO/manifests/$D512"
req GET "/v2/$REPO/manifests/$D512"
expect_status 200
expect_body_file "$F/oci2.json"
expect_header Docker-Content-Digest "$D512"

# ---- references must be in this repository.
mk_layer "$F/missing.tgz"
mk_config "$F/cm.json" "$F/missing.tgz"
ok "setup: push config cm" push_blob "$REPO" "$F/cm.json"
for mt in "$MT_DOCKER_MANIFEST" "$MT_OCI_MANIFEST"; do
	mk_image_manifest "$F/nolayer.json" "$mt" "$F/cm.json" "$F/missing.tgz"
	store_mark
	req PUT "/v2/$REPO/manifests/nolayer" -H "Content-Type: $mt" --data-binary @"$F/nolayer.json"
	expect_error 400 MANIFEST_BLOB_UNKNOWN
	expect_store_unchanged "manifest with a missing layer ($mt)"
	req PUT "/v2/$REPO/manifests/$(digest_of "$F/nolayer.json")" -H "Content-Type: $mt" \
		--data-binary @"$F/nolayer.json"
	expect_error 400 MANIFEST_BLOB_UNKNOWN
	expect_store_unchanged "manifest with a missing layer, by digest ($mt)"
done
req GET "/v2/$REPO/manifests/nolayer"
expect_error 404 MANIFEST_UNKNOWN
req GET "/v2/$REPO/manifests/$(digest_of "$F/nolayer.json")"
expect_error 404 MANIFEST_UNKNOWN

# Missing config.
mk_config "$F/cmissing.json" "$F/l1.tgz"
echo '{"comment":"never pushed"}' >>"$F/cmissing.json"
mk_image_manifest "$F/noconfig.json" "$MT_OCI_MANIFEST" "$F/cmissing.json" "$F/l1.tgz"
store_mark
req PUT "/v2/$REPO/manifests/noconfig" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/noconfig.json"
expect_error 400 MANIFEST_BLOB_UNKNOWN
expect_store_unchanged "manifest with a missing config"

# A layer that exists, but only in another repository.
mk_layer "$F/elsewhere.tgz"
ok "setup: push a layer to other/repo only" push_blob other/repo "$F/elsewhere.tgz"
mk_config "$F/ce.json" "$F/elsewhere.tgz"
ok "setup: push config ce" push_blob "$REPO" "$F/ce.json"
mk_image_manifest "$F/elsewhere.json" "$MT_OCI_MANIFEST" "$F/ce.json" "$F/elsewhere.tgz"
store_mark
req PUT "/v2/$REPO/manifests/elsewhere" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/elsewhere.json"
expect_error 400 MANIFEST_BLOB_UNKNOWN
expect_store_unchanged "manifest whose layer is in another repository"

# An index whose child manifest is missing (or only a blob, not a manifest).
mk_image_manifest "$F/unpushed.json" "$MT_OCI_MANIFEST" "$F/c1.json" "$F/l1.tgz" "$F/l2.tgz"
jq '. + {annotations: {unpushed: "yes"}}' "$F/unpushed.json" >"$F/unpushed2.json"
mk_index "$F/badindex.json" "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$F/oci.json" "$F/unpushed2.json"
store_mark
req PUT "/v2/$REPO/manifests/badindex" -H "Content-Type: $MT_OCI_INDEX" --data-binary @"$F/badindex.json"
expect_error 400 MANIFEST_BLOB_UNKNOWN
expect_store_unchanged "index with a missing child"
mk_index "$F/badlist.json" "$MT_DOCKER_LIST" "$MT_DOCKER_MANIFEST" "$F/docker.json" "$F/unpushed2.json"
req PUT "/v2/$REPO/manifests/badlist" -H "Content-Type: $MT_DOCKER_LIST" --data-binary @"$F/badlist.json"
expect_error 400 MANIFEST_BLOB_UNKNOWN
expect_store_unchanged "manifest list with a missing child"

# ---- invalid manifests.
bad_manifest() {   # DESCRIPTION CONTENT-TYPE FILE [STATUS CODE]
	local desc=$1 mt=$2 file=$3 status=${4:-400} code=${5:-MANIFEST_INVALID}
	store_mark
	req PUT "/v2/$REPO/manifests/invalid" -H "Content-Type: $mt" --data-binary @"$file"
	expect_error "$status" "$code"
	expect_store_unchanged "$desc"
}
printf '{"schemaVersion": 2, "mediaType": "%s", "config": ' "$MT_OCI_MANIFEST" >"$F/trunc.json"
bad_manifest "malformed JSON" "$MT_OCI_MANIFEST" "$F/trunc.json"
printf 'not json at all' >"$F/text.json"
bad_manifest "not JSON" "$MT_DOCKER_MANIFEST" "$F/text.json"
printf '[1,2,3]' >"$F/array.json"
bad_manifest "a JSON array" "$MT_OCI_MANIFEST" "$F/array.json"
: >"$F/empty.json"
bad_manifest "an empty body" "$MT_OCI_MANIFEST" "$F/empty.json"
jq '.mediaType = "application/x-unknown+json"' "$F/oci2.json" >"$F/unknown-mt.json"
bad_manifest "an unknown media type" application/x-unknown+json "$F/unknown-mt.json"
bad_manifest "a manifest sent as text/plain" text/plain "$F/oci2.json"
bad_manifest "Content-Type and mediaType disagree" "$MT_DOCKER_MANIFEST" "$F/oci2.json"
jq '.schemaVersion = 1' "$F/oci2.json" >"$F/schema1.json"
bad_manifest "schemaVersion 1" "$MT_OCI_MANIFEST" "$F/schema1.json"
jq '.layers[0].digest = "sha256:nothex"' "$F/oci2.json" >"$F/baddigest.json"
bad_manifest "a layer with a malformed digest" "$MT_OCI_MANIFEST" "$F/baddigest.json"
jq 'del(.config)' "$F/oci2.json" >"$F/noconf.json"
bad_manifest "no config" "$MT_OCI_MANIFEST" "$F/noconf.json"

# Over 4 MiB: 413 SIZE_INVALID, with valid JSON and real references.
head -c 4300000 /dev/zero | tr '\0' a >"$F/pad"
jq --rawfile pad "$F/pad" '. + {annotations: {pad: $pad}}' "$F/oci2.json" >"$F/huge.json"
bad_manifest "a manifest over 4 MiB" "$MT_OCI_MANIFEST" "$F/huge.json" 413 SIZE_INVALID
# ... also when streamed without Content-Length.
store_mark
req PUT "/v2/$REPO/manifests/invalid" --http1.1 -H 'Transfer-Encoding: chunked' \
	-H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/huge.json"
expect_error 413 SIZE_INVALID
expect_store_unchanged "a streamed manifest over 4 MiB"
req GET "/v2/$REPO/manifests/invalid"
expect_error 404 MANIFEST_UNKNOWN

# PUT by a digest that is not the digest of the bytes.
store_mark
req PUT "/v2/$REPO/manifests/$(digest_of "$F/oci.json")" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$F/oci2.json"
expect_error 400 DIGEST_INVALID
req PUT "/v2/$REPO/manifests/sha256:$(printf nope | sha256sum | cut -c1-64)" \
	-H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/oci2.json"
expect_error 400 DIGEST_INVALID
expect_store_unchanged "PUT by a wrong digest"

# ---- unknown things.
req GET "/v2/$REPO/manifests/nosuchtag"
expect_error 404 MANIFEST_UNKNOWN
req HEAD "/v2/$REPO/manifests/nosuchtag"
expect_status 404
expect_api_version
req GET "/v2/$REPO/manifests/sha256:$(printf nope | sha256sum | cut -c1-64)"
expect_error 404 MANIFEST_UNKNOWN
req GET "/v2/no/such/repo/manifests/latest"
expect_error 404 NAME_UNKNOWN
req GET "/v2/team/app/manifests/latest"
expect_error 404 NAME_UNKNOWN
# A manifest of one repository is not in another.
req GET "/v2/other/repo/manifests/$(digest_of "$F/oci.json")"
expect_error 404 MANIFEST_UNKNOWN

# ---- bad tags and digests in the reference.
# GET and HEAD of a reference that can be no tag: no such manifest (404, as
# Distribution, zot and the spec's conformance suite have it); PUT and
# DELETE: 400, the client named a tag it cannot have.
long_tag=$(printf 'a%.0s' $(seq 129))
for bad in -leading-dash .dot .INVALID_MANIFEST_NAME "$long_tag" 'a%20b' 'tag%2Fx'; do
	store_mark
	req PUT "/v2/$REPO/manifests/$bad" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/oci2.json"
	expect_error 400 MANIFEST_INVALID
	expect_store_unchanged "PUT with tag '$bad'"
	req GET "/v2/$REPO/manifests/$bad"
	expect_error 404 MANIFEST_UNKNOWN
	req HEAD "/v2/$REPO/manifests/$bad"
	expect_status 404
	expect_no_header Docker-Content-Digest
	req DELETE "/v2/$REPO/manifests/$bad"
	expect_error 400 MANIFEST_INVALID
	expect_store_unchanged "GET, HEAD, DELETE with tag '$bad'"
done
req GET "/v2/no/such/repo/manifests/.INVALID_MANIFEST_NAME"
expect_error 404 MANIFEST_UNKNOWN
# The longest valid tag (128) works.
put_manifest "$(printf 'b%.0s' $(seq 128))" "$F/oci2.json" "$MT_OCI_MANIFEST"
for bad in sha256:zz "sha256:$(printf 'A%.0s' $(seq 64))" "sha512:$(printf 'a%.0s' $(seq 64))"; do
	req GET "/v2/$REPO/manifests/$bad"
	expect_error 400 DIGEST_INVALID
	store_mark
	req PUT "/v2/$REPO/manifests/$bad" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/oci2.json"
	expect_error 400 DIGEST_INVALID
	expect_store_unchanged "PUT with digest '$bad'"
done

# ---- a 404 found after the answer's headers were added: the manifest's
# link is there but its bytes are gone (a damaged store).  The 404 carries
# no ETag and no Docker-Content-Digest of what could not be served.
put_manifest gone "$F/oci2.json" "$MT_OCI_MANIFEST"
D_GONE=$(digest_of "$F/oci2.json")
ok "setup: remove the bytes of team/app/api:gone" rm "$(blob_path "$D_GONE")"
for ref in gone "$D_GONE"; do
	req GET "/v2/$REPO/manifests/$ref" -H "Accept: $MT_OCI_MANIFEST"
	expect_error 404 MANIFEST_UNKNOWN
	expect_no_header ETag
	expect_no_header Docker-Content-Digest
	req HEAD "/v2/$REPO/manifests/$ref" -H "Accept: $MT_OCI_MANIFEST"
	expect_status 404
	expect_no_header ETag
	expect_no_header Docker-Content-Digest
done

test_done
