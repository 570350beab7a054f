#!/bin/bash
# t60-skopeo.sh - skopeo copies images into berth and back out.
#
# An OCI image of three layers (an OCI layout made here, no network) goes in
# unchanged and as a Docker v2 schema 2 image (skopeo converts the
# manifest); a docker-archive goes in too.  What comes back must be the very
# bytes that went in: the raw manifest hashes to the digest skopeo reported,
# the OCI manifest is byte-identical to the source, and every layer and the
# config copied back out equal the originals.  Repository names have several
# components (team/app/api).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd skopeo jq tar gzip sha256sum
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"

# expect_same_file DESC GOT WANT
expect_same_file() {
	if cmp -s "$2" "$3"; then pass "$1"
	else fail "$1" "$2 ($(wc -c <"$2" 2>/dev/null || echo missing) bytes) differs from $3 ($(wc -c <"$3") bytes)"; fi
}

# check_raw REF DIGEST-FILE: `skopeo inspect --raw` hashes to the digest the
# copy wrote; `skopeo inspect` agrees; the registry serves the same bytes by
# digest with Docker-Content-Digest.  The raw bytes are left in $W/raw.json.
check_raw() {
	local ref=$1 repo=${1%:*} want got
	want=$(cat "$2" 2>/dev/null)
	if sko inspect --raw --cert-dir "$CERTDIR" "docker://$R/$ref" >"$W/raw.json"; then
		pass "skopeo inspect --raw $ref"
	else
		fail "skopeo inspect --raw $ref" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
	fi
	got=$(sha256_stdin <"$W/raw.json")
	expect_eq "$ref: sha256 of the raw manifest is the pushed digest" "$got" "$want"
	if sko inspect --cert-dir "$CERTDIR" "docker://$R/$ref" >"$W/inspect.json"; then
		pass "skopeo inspect $ref"
	else
		fail "skopeo inspect $ref" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
	fi
	expect_eq "$ref: skopeo inspect .Digest" "$(jq -r .Digest "$W/inspect.json" 2>/dev/null)" "$want"
	expect_eq "$ref: skopeo inspect .Name" "$(jq -r .Name "$W/inspect.json" 2>/dev/null)" "$R/$repo"
	expect_eq "$ref: skopeo inspect lists the tag" \
		"$(jq -r --arg t "${ref##*:}" '.RepoTags | index($t) != null' "$W/inspect.json" 2>/dev/null)" true
	req GET "/v2/$repo/manifests/$want" -H "Accept: $MT_ACCEPT_ALL"
	expect_status 200
	expect_header Docker-Content-Digest "$want"
	expect_body_file "$W/raw.json"
}

# ---------------------------------------------------------------- OCI, unchanged

mk_oci_layout "$W/oci" v1 3
SRC_MANIFEST=$W/oci.manifest.json

if sko copy --dest-cert-dir "$CERTDIR" --digestfile "$W/oci.digest" \
	"oci:$W/oci:v1" "docker://$R/team/app/api:v1"; then
	pass "skopeo copy oci: -> docker://$R/team/app/api:v1"
else
	fail "skopeo copy oci: -> docker://$R/team/app/api:v1" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
expect_eq "OCI push keeps the manifest digest" "$(cat "$W/oci.digest" 2>/dev/null)" \
	"$(digest_of "$SRC_MANIFEST")"
check_raw team/app/api:v1 "$W/oci.digest"
expect_same_file "team/app/api:v1: raw manifest = the source manifest" "$W/raw.json" "$SRC_MANIFEST"
req HEAD "/v2/team/app/api/manifests/v1" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_header Content-Type "$MT_OCI_MANIFEST"
expect_header Content-Length "$(size_of "$SRC_MANIFEST")"
expect_eq "skopeo inspect: 3 layers" \
	"$(jq -r '.Layers | length' "$W/inspect.json" 2>/dev/null)" 3
expect_eq "skopeo inspect: layer digests in order" \
	"$(jq -r '.Layers | join(" ")' "$W/inspect.json" 2>/dev/null)" \
	"$(jq -r '[.layers[].digest] | join(" ")' "$SRC_MANIFEST")"

# skopeo list-tags goes through /v2/<name>/tags/list.
if sko list-tags --cert-dir "$CERTDIR" "docker://$R/team/app/api" >"$W/tags.json"; then
	pass "skopeo list-tags team/app/api"
else
	fail "skopeo list-tags team/app/api" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
expect_eq "list-tags: [v1]" "$(jq -c .Tags "$W/tags.json" 2>/dev/null)" '["v1"]'

# ---------------------------------------------------------------- back out

rm -rf "$W/out-dir"
if sko copy --src-cert-dir "$CERTDIR" "docker://$R/team/app/api:v1" "dir:$W/out-dir"; then
	pass "skopeo copy docker://…/team/app/api:v1 -> dir:"
else
	fail "skopeo copy docker://…/team/app/api:v1 -> dir:" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
expect_same_file "dir: manifest = source manifest" "$W/out-dir/manifest.json" "$SRC_MANIFEST"
for i in 1 2 3; do
	d=$(digest_of "$W/oci.layer$i.tgz")
	expect_same_file "dir: layer $i bytes" "$W/out-dir/${d#sha256:}" "$W/oci.layer$i.tgz"
done
d=$(digest_of "$W/oci.config.json")
expect_same_file "dir: config bytes" "$W/out-dir/${d#sha256:}" "$W/oci.config.json"

rm -rf "$W/out-oci"
if sko copy --src-cert-dir "$CERTDIR" "docker://$R/team/app/api:v1" "oci:$W/out-oci:back"; then
	pass "skopeo copy docker://…/team/app/api:v1 -> oci:"
else
	fail "skopeo copy docker://…/team/app/api:v1 -> oci:" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
expect_eq "oci: index names the same manifest digest" \
	"$(jq -r '.manifests[0].digest' "$W/out-oci/index.json" 2>/dev/null)" "$(digest_of "$SRC_MANIFEST")"
for f in "$W"/oci/blobs/sha256/*; do
	expect_same_file "oci: blob ${f##*/}" "$W/out-oci/blobs/sha256/${f##*/}" "$f"
done

# ---------------------------------------------------------------- Docker v2s2

if sko copy --dest-cert-dir "$CERTDIR" --format v2s2 --digestfile "$W/v2s2.digest" \
	"oci:$W/oci:v1" "docker://$R/team/app/web:v2s2"; then
	pass "skopeo copy --format v2s2 -> team/app/web:v2s2"
else
	fail "skopeo copy --format v2s2 -> team/app/web:v2s2" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
check_raw team/app/web:v2s2 "$W/v2s2.digest"
expect_eq "v2s2 manifest mediaType" "$(jq -r .mediaType "$W/raw.json" 2>/dev/null)" "$MT_DOCKER_MANIFEST"
expect_eq "v2s2 manifest keeps the layer digests" \
	"$(jq -r '[.layers[].digest] | join(" ")' "$W/raw.json" 2>/dev/null)" \
	"$(jq -r '[.layers[].digest] | join(" ")' "$SRC_MANIFEST")"
req GET "/v2/team/app/web/manifests/v2s2" -H "Accept: $MT_DOCKER_MANIFEST"
expect_status 200
expect_header Content-Type "$MT_DOCKER_MANIFEST"
expect_header Docker-Content-Digest "$(cat "$W/v2s2.digest" 2>/dev/null)"

rm -rf "$W/out-v2s2"
if sko copy --src-cert-dir "$CERTDIR" "docker://$R/team/app/web:v2s2" "dir:$W/out-v2s2"; then
	pass "skopeo copy team/app/web:v2s2 -> dir:"
else
	fail "skopeo copy team/app/web:v2s2 -> dir:" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
expect_eq "dir: v2s2 manifest digest" "$(sha256_stdin <"$W/out-v2s2/manifest.json" 2>/dev/null)" \
	"$(cat "$W/v2s2.digest" 2>/dev/null)"
for i in 1 2 3; do
	d=$(digest_of "$W/oci.layer$i.tgz")
	expect_same_file "dir: v2s2 layer $i bytes" "$W/out-v2s2/${d#sha256:}" "$W/oci.layer$i.tgz"
done

# ---------------------------------------------------------------- docker-archive in

# A docker-archive (what `docker save` writes, uncompressed layers): skopeo
# compresses them on the way in, so only the round trip can be compared.
if sko copy "oci:$W/oci:v1" "docker-archive:$W/img.tar:berth/arch:v1"; then
	pass "skopeo copy oci: -> docker-archive:"
else
	fail "skopeo copy oci: -> docker-archive:" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
if sko copy --dest-cert-dir "$CERTDIR" --digestfile "$W/arch.digest" \
	"docker-archive:$W/img.tar" "docker://$R/team/arch/x:latest"; then
	pass "skopeo copy docker-archive: -> team/arch/x:latest"
else
	fail "skopeo copy docker-archive: -> team/arch/x:latest" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
check_raw team/arch/x:latest "$W/arch.digest"
rm -rf "$W/out-arch"
if sko copy --src-cert-dir "$CERTDIR" "docker://$R/team/arch/x:latest" "dir:$W/out-arch"; then
	pass "skopeo copy team/arch/x:latest -> dir:"
else
	fail "skopeo copy team/arch/x:latest -> dir:" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
# Each layer that came back decompresses to the source layer's tar.
n=0
for d in $(jq -r '.layers[].digest' "$W/out-arch/manifest.json" 2>/dev/null); do
	n=$((n + 1))
	expect_eq "docker-archive round trip: layer $n blob hashes to its digest" \
		"$(sha256_stdin <"$W/out-arch/${d#sha256:}")" "$d"
	expect_eq "docker-archive round trip: layer $n content" \
		"$(gzip -dc "$W/out-arch/${d#sha256:}" | sha256_stdin)" "$(layer_diffid "$W/oci.layer$n.tgz")"
done
expect_eq "docker-archive round trip: 3 layers" "$n" 3

# ---------------------------------------------------------------- digest refs

# Copy by digest, and a second tag by skopeo on the same manifest.
if sko copy --src-cert-dir "$CERTDIR" --dest-cert-dir "$CERTDIR" \
	"docker://$R/team/app/api@$(cat "$W/oci.digest")" "docker://$R/team/app/api:v1-copy"; then
	pass "skopeo copy by digest -> team/app/api:v1-copy"
else
	fail "skopeo copy by digest -> team/app/api:v1-copy" "$(tail -n 5 "$CLIENTS_DIR/skopeo.log")"
fi
req GET "/v2/team/app/api/manifests/v1-copy" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$SRC_MANIFEST"

test_done
