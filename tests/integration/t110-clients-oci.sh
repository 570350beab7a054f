#!/bin/bash
# t110-clients-oci: the OCI 1.1 features as real clients use them.
#
#   - skopeo list-tags (lexical order), skopeo inspect --raw (the bytes that
#     were pushed, also when they are not in any canonical form), skopeo
#     delete (the manifest and every tag on it are gone, other tags stay);
#   - podman manifest create / add / push --all of a two-platform list made
#     from two `podman import --arch` images, then `podman pull --arch` of
#     each platform brings back exactly that image;
#   - a signature-style artifact (artifactType, the empty config, one small
#     layer, subject = an image) and an SBOM pushed with curl (no oras here),
#     found through the referrers API with and without the artifactType
#     filter, and fetched back by skopeo and curl.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd skopeo podman jq tar gzip sha256sum
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"

sko_fail() { fail "$1" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"; }
pm_fail() { fail "$1" "$(tail -n 5 "$CLIENTS_DIR/podman.log")"; }
expect_same_file() {   # DESC GOT WANT
	if cmp -s "$2" "$3"; then pass "$1"
	else fail "$1" "$2 ($(wc -c <"$2" 2>/dev/null || echo missing) bytes) differs from $3 ($(wc -c <"$3") bytes)"; fi
}

# ---------------------------------------------------------------- skopeo

REPO=clients/sko
mk_oci_layout "$W/img1" v1 2
mk_oci_layout "$W/img2" v1 1
for tag in v1 v2; do
	if sko copy --dest-cert-dir "$CERTDIR" "oci:$W/img1:v1" "docker://$R/$REPO:$tag"; then
		pass "skopeo copy image 1 to $REPO:$tag"
	else
		sko_fail "skopeo copy image 1 to $REPO:$tag"
	fi
done
if sko copy --dest-cert-dir "$CERTDIR" "oci:$W/img2:v1" "docker://$R/$REPO:1.0"; then
	pass "skopeo copy image 2 to $REPO:1.0"
else
	sko_fail "skopeo copy image 2 to $REPO:1.0"
fi
D_IMG1=$(digest_of "$W/img1.manifest.json")
D_IMG2=$(digest_of "$W/img2.manifest.json")

# A manifest whose bytes are not what any JSON encoder would write: tabs,
# key order, trailing blank lines.  inspect --raw must give them back.
jq --tab '{annotations: {"org.example.note": "raw bytes"}} + .' "$W/img2.manifest.json" >"$W/raw.json"
printf '\n\n' >>"$W/raw.json"
ok "curl: push a hand-formatted manifest as $REPO:raw" \
	push_manifest "$REPO" raw "$W/raw.json" "$MT_OCI_MANIFEST"

if sko list-tags --cert-dir "$CERTDIR" "docker://$R/$REPO" >"$W/tags.json"; then
	pass "skopeo list-tags $REPO"
else
	sko_fail "skopeo list-tags $REPO"
fi
expect_eq "skopeo list-tags: repository" "$(jq -r .Repository "$W/tags.json" 2>/dev/null)" "$R/$REPO"
expect_eq "skopeo list-tags: every tag, in lexical order" \
	"$(jq -c .Tags "$W/tags.json" 2>/dev/null)" '["1.0","raw","v1","v2"]'
ok_not "skopeo list-tags of a repository that does not exist fails" \
	sko list-tags --cert-dir "$CERTDIR" "docker://$R/clients/nothing-here"

refs=(":raw" ":v1" ":1.0" "@$D_IMG1")
files=("$W/raw.json" "$W/img1.manifest.json" "$W/img2.manifest.json" "$W/img1.manifest.json")
for i in 0 1 2 3; do
	ref=$REPO${refs[$i]}
	if sko inspect --raw --cert-dir "$CERTDIR" "docker://$R/$ref" >"$W/got.json"; then
		pass "skopeo inspect --raw $ref"
	else
		sko_fail "skopeo inspect --raw $ref"
	fi
	expect_same_file "skopeo inspect --raw $ref: the bytes pushed" "$W/got.json" "${files[$i]}"
done

# skopeo delete resolves the tag and deletes the manifest: v1 and v2 (the
# same manifest) go, 1.0 and raw stay.
if sko delete --cert-dir "$CERTDIR" "docker://$R/$REPO:v2"; then
	pass "skopeo delete $REPO:v2"
else
	sko_fail "skopeo delete $REPO:v2"
fi
req GET "/v2/$REPO/manifests/$D_IMG1" -H "Accept: $MT_OCI_MANIFEST"
expect_error 404 MANIFEST_UNKNOWN
for tag in v1 v2; do
	req GET "/v2/$REPO/manifests/$tag" -H "Accept: $MT_OCI_MANIFEST"
	expect_error 404 MANIFEST_UNKNOWN
	ok_not "skopeo inspect $REPO:$tag fails after the delete" \
		sko inspect --raw --cert-dir "$CERTDIR" "docker://$R/$REPO:$tag"
done
sko list-tags --cert-dir "$CERTDIR" "docker://$R/$REPO" >"$W/tags.json"
expect_eq "skopeo list-tags after the delete" "$(jq -c .Tags "$W/tags.json" 2>/dev/null)" '["1.0","raw"]'
req GET "/v2/$REPO/manifests/1.0" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_header Docker-Content-Digest "$D_IMG2"
ok_not "skopeo delete of a tag that is gone fails" \
	sko delete --cert-dir "$CERTDIR" "docker://$R/$REPO:v1"

# ---------------------------------------------------------------- podman: two platforms

ML=localhost/berth-multi:v1
declare -A IMG_ID
for arch in amd64 arm64; do
	mk_rootfs_tar "$W/rootfs-$arch.tar" 200000
	if IMG_ID[$arch]=$(pm import --quiet --os linux --arch "$arch" "$W/rootfs-$arch.tar" \
		"localhost/berth-$arch:v1"); then
		pass "podman import --arch $arch"
	else
		pm_fail "podman import --arch $arch"
	fi
	IMG_ID[$arch]=$(pm image inspect --format '{{.Id}}' "localhost/berth-$arch:v1")
	expect_eq "imported image is linux/$arch" \
		"$(pm image inspect --format '{{.Os}}/{{.Architecture}}' "localhost/berth-$arch:v1")" "linux/$arch"
done
if pm manifest create "$ML" >/dev/null; then pass "podman manifest create"
else pm_fail "podman manifest create"; fi
for arch in amd64 arm64; do
	if pm manifest add --os linux --arch "$arch" "$ML" "containers-storage:localhost/berth-$arch:v1" >/dev/null; then
		pass "podman manifest add linux/$arch"
	else
		pm_fail "podman manifest add linux/$arch"
	fi
done
if pm manifest push --all --cert-dir "$CERTDIR" --digestfile "$W/list.digest" "$ML" \
	"docker://$R/clients/multi:v1" >/dev/null; then
	pass "podman manifest push --all"
else
	pm_fail "podman manifest push --all"
fi
D_LIST=$(cat "$W/list.digest" 2>/dev/null)

# What the registry holds: a list of two platforms, each child there.
req GET /v2/clients/multi/manifests/v1 -H "Accept: $MT_OCI_INDEX, $MT_DOCKER_LIST"
expect_status 200
expect_header Docker-Content-Digest "$D_LIST"
expect_eq "the list's bytes hash to the pushed digest" "$(sha256_stdin <"$BODY")" "$D_LIST"
list_mt=$(jq -r .mediaType "$BODY" 2>/dev/null)
case $list_mt in
"$MT_OCI_INDEX"|"$MT_DOCKER_LIST") pass "the list is an image index or a manifest list ($list_mt)" ;;
*) fail "the list is an image index or a manifest list" "mediaType '$list_mt'" ;;
esac
expect_header Content-Type "$list_mt"
expect_eq "the list's platforms" \
	"$(jq -c '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort' "$BODY" 2>/dev/null)" \
	'["linux/amd64","linux/arm64"]'
cp "$BODY" "$W/list.json"
declare -A CHILD CHILD_LAYERS
for arch in amd64 arm64; do
	CHILD[$arch]=$(jq -r --arg a "$arch" '.manifests[] | select(.platform.architecture == $a) | .digest' "$W/list.json")
	req GET "/v2/clients/multi/manifests/${CHILD[$arch]}" -H "Accept: $MT_ACCEPT_ALL"
	expect_status 200
	expect_eq "the $arch child names the $arch image's config" \
		"$(jq -r .config.digest "$BODY" 2>/dev/null)" "sha256:${IMG_ID[$arch]}"
	CHILD_LAYERS[$arch]=$(jq -c '[.layers[].digest]' "$BODY" 2>/dev/null)
done

# Forget everything locally, then pull each platform back.
pm manifest rm "$ML" >/dev/null 2>&1
for arch in amd64 arm64; do
	pm rmi -f "${IMG_ID[$arch]}" >/dev/null 2>&1
	ok_not "the $arch image is gone locally" pm image exists "${IMG_ID[$arch]}"
done
for arch in arm64 amd64; do
	if id=$(pm pull --quiet --arch "$arch" --cert-dir "$CERTDIR" "$R/clients/multi:v1"); then
		pass "podman pull --arch $arch"
	else
		pm_fail "podman pull --arch $arch"
	fi
	expect_eq "podman pull --arch $arch: the $arch image arrives" "$id" "${IMG_ID[$arch]}"
	expect_eq "podman pull --arch $arch: its platform" \
		"$(pm image inspect --format '{{.Os}}/{{.Architecture}}' "$id" 2>/dev/null)" "linux/$arch"
done
# skopeo picks the platform the same way.
if sko inspect --override-arch arm64 --override-os linux --cert-dir "$CERTDIR" \
	"docker://$R/clients/multi:v1" >"$W/inspect-arm64.json"; then
	pass "skopeo inspect --override-arch arm64"
else
	sko_fail "skopeo inspect --override-arch arm64"
fi
expect_eq "skopeo --override-arch arm64: the arm64 child's layers" \
	"$(jq -c '.Layers' "$W/inspect-arm64.json" 2>/dev/null)" "${CHILD_LAYERS[arm64]}"
expect_eq "skopeo --override-arch arm64: linux/arm64" \
	"$(jq -r '"\(.Os)/\(.Architecture)"' "$W/inspect-arm64.json" 2>/dev/null)" linux/arm64

# ---------------------------------------------------------------- a signature referrer

REPO=clients/sko
SUBJECT="{\"mediaType\":\"$MT_OCI_MANIFEST\",\"digest\":\"$D_IMG2\",\"size\":$(size_of "$W/img2.manifest.json")}"
SIG_TYPE=application/vnd.example.signature.v1
SBOM_TYPE=application/vnd.example.sbom.v1+json
printf '{}' >"$W/empty.json"
printf 'signed: %s by berth-tests\n' "$D_IMG2" >"$W/sig.txt"
printf '{"spdxVersion":"SPDX-2.3","name":"berth"}' >"$W/sbom.json"
for b in empty.json sig.txt sbom.json; do ok "curl: push blob $b" push_blob "$REPO" "$W/$b"; done
jq -n --arg at "$SIG_TYPE" --argjson s "$SUBJECT" \
	--argjson l "{\"mediaType\":\"application/vnd.example.signature.v1.payload\",\"digest\":\"$(digest_of "$W/sig.txt")\",\"size\":$(size_of "$W/sig.txt")}" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	artifactType: $at,
	config: {mediaType: "application/vnd.oci.empty.v1+json",
	         digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2},
	layers: [$l], subject: $s,
	annotations: {"org.opencontainers.image.created": "2024-06-01T00:00:00Z", "org.example.signer": "berth-tests"}
}' >"$W/sig-manifest.json"
jq -n --arg at "$SBOM_TYPE" --argjson s "$SUBJECT" \
	--argjson l "{\"mediaType\":\"application/spdx+json\",\"digest\":\"$(digest_of "$W/sbom.json")\",\"size\":$(size_of "$W/sbom.json")}" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	artifactType: $at,
	config: {mediaType: "application/vnd.oci.empty.v1+json",
	         digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2},
	layers: [$l], subject: $s
}' >"$W/sbom-manifest.json"
D_SIG=$(digest_of "$W/sig-manifest.json")
D_SBOM=$(digest_of "$W/sbom-manifest.json")
for x in sig sbom; do
	f=$W/$x-manifest.json
	req PUT "/v2/$REPO/manifests/$(digest_of "$f")" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$f"
	expect_status 201
	expect_header OCI-Subject "$D_IMG2"
	expect_header Location "$URL/v2/$REPO/manifests/$(digest_of "$f")"
done

# What a verifier does: list the image's referrers, pick the signature.
req GET "/v2/$REPO/referrers/$D_IMG2"
expect_status 200
expect_header Content-Type "$MT_OCI_INDEX"
expect_no_header OCI-Filters-Applied
expect_eq "referrers: both artifacts" \
	"$(jq -c '[.manifests[] | "\(.artifactType) \(.digest)"] | sort' "$BODY" 2>/dev/null)" \
	"$(printf '%s\n' "$SBOM_TYPE $D_SBOM" "$SIG_TYPE $D_SIG" | sort | jq -R . | jq -sc .)"
req GET "/v2/$REPO/referrers/$D_IMG2?artifactType=$SIG_TYPE"
expect_status 200
expect_header Content-Type "$MT_OCI_INDEX"
expect_header OCI-Filters-Applied artifactType
cp "$BODY" "$W/sigs.json"
expect_eq "referrers?artifactType=signature: the signature's descriptor" \
	"$(jq -cS '.manifests' "$W/sigs.json" 2>/dev/null)" \
	"$(jq -cS --arg d "$D_SIG" --argjson s "$(size_of "$W/sig-manifest.json")" \
		'[{mediaType, digest: $d, size: $s, artifactType, annotations}]' "$W/sig-manifest.json")"
sig=$(jq -r '.manifests[0].digest' "$W/sigs.json" 2>/dev/null)
if sko inspect --raw --cert-dir "$CERTDIR" "docker://$R/$REPO@$sig" >"$W/sig-got.json"; then
	pass "skopeo inspect --raw of the signature found by the referrers API"
else
	sko_fail "skopeo inspect --raw of the signature found by the referrers API"
fi
expect_same_file "the signature manifest's bytes" "$W/sig-got.json" "$W/sig-manifest.json"
req GET "/v2/$REPO/blobs/$(jq -r '.layers[0].digest' "$W/sig-got.json" 2>/dev/null)"
expect_status 200
expect_body_file "$W/sig.txt"
req GET "/v2/$REPO/referrers/$D_IMG2?artifactType=$(printf '%s' "$SBOM_TYPE" | sed 's/+/%2B/')"
expect_status 200
expect_header OCI-Filters-Applied artifactType
expect_eq "referrers?artifactType=sbom" "$(jq -c '[.manifests[].digest]' "$BODY" 2>/dev/null)" "[\"$D_SBOM\"]"
# The signed image itself is untouched, and a tag listing shows no referrer.
if sko inspect --raw --cert-dir "$CERTDIR" "docker://$R/$REPO:1.0" >"$W/img2-got.json"; then
	pass "skopeo inspect --raw $REPO:1.0 after signing"
else
	sko_fail "skopeo inspect --raw $REPO:1.0 after signing"
fi
expect_same_file "the signed image's manifest is unchanged" "$W/img2-got.json" "$W/img2.manifest.json"
sko list-tags --cert-dir "$CERTDIR" "docker://$R/$REPO" >"$W/tags.json"
expect_eq "skopeo list-tags: referrers are not tags" "$(jq -c .Tags "$W/tags.json" 2>/dev/null)" '["1.0","raw"]'
# skopeo delete of the signature: the referrers list follows.
if sko delete --cert-dir "$CERTDIR" "docker://$R/$REPO@$D_SIG"; then
	pass "skopeo delete of the signature"
else
	sko_fail "skopeo delete of the signature"
fi
req GET "/v2/$REPO/referrers/$D_IMG2"
expect_status 200
expect_eq "referrers after deleting the signature" \
	"$(jq -c '[.manifests[].digest]' "$BODY" 2>/dev/null)" "[\"$D_SBOM\"]"

test_done
