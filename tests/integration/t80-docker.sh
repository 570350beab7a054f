#!/bin/bash
# t80-docker.sh - docker pushes and pulls through a dockerd of our own.
#
# The harness starts a private dockerd (vfs storage, no iptables, no bridge,
# data and exec roots in the trash directory; see lib-clients.sh).  dockerd
# treats 127.0.0.0/8 registries as insecure: it still speaks TLS to nginx
# but does not verify the certificate, which is fine here.  docker streams
# each layer in one chunked PATCH (no Content-Length), then PUT ?digest=.
#
# Images: one `docker import`ed from a rootfs tarball, one of three layers
# `docker load`ed from a docker-archive that skopeo makes from an OCI layout.
# Each is tagged 127.0.0.1:PORT/..., pushed, removed, pulled back; the
# image ID and the RepoDigest must survive, and the manifest docker pushed
# must be what the registry serves (checked with curl).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd dockerd docker jq tar
dockerd_start || skip_all "cannot start a private dockerd here: $DOCKERD_WHY"
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"
DLOG=$CLIENTS_DIR/docker.log

dk() { timeout 300 docker "$@" 2>"$DLOG"; }
dk_fail() { fail "$1" "$(tail -n 5 "$DLOG")"; }

# roundtrip IMAGE-ID REPO TAG: tag, push, check with curl, rmi, pull, compare.
roundtrip() {
	local id=$1 repo=$2 tag=$3 ref=$R/$2:$3 digest rd ids n
	ok "docker tag $ref" dk tag "$id" "$ref"
	if dk push "$ref" >"$W/push.out"; then
		pass "docker push $ref"
	else
		dk_fail "docker push $ref"
	fi
	digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p' "$W/push.out" | tail -n 1)
	expect_eq "docker push reports a digest" "${digest:+yes}" yes

	req GET "/v2/$repo/manifests/$tag" -H "Accept: $MT_DOCKER_MANIFEST"
	expect_status 200
	expect_header Content-Type "$MT_DOCKER_MANIFEST"
	expect_header Docker-Content-Digest "$digest"
	expect_eq "$ref: served manifest hashes to docker's digest" "$(sha256_stdin <"$BODY")" "$digest"
	expect_eq "$ref: manifest's config is the image ID" \
		"$(jq -r .config.digest "$BODY" 2>/dev/null)" "$id"
	cp "$BODY" "$W/$tag.manifest.json"
	n=0
	for rd in $(jq -r '.layers[].digest' "$W/$tag.manifest.json" 2>/dev/null); do
		n=$((n + 1))
		expect_eq "$ref: layer $n downloads with its digest" \
			"$(ccurl "$URL/v2/$repo/blobs/$rd" | sha256_stdin)" "$rd"
	done
	expect_eq "$ref: layers in the manifest" "$n" \
		"$(dk image inspect --format '{{len .RootFS.Layers}}' "$id")"
	req GET "/v2/$repo/blobs/$id"
	expect_status 200
	expect_eq "$ref: config blob hashes to the image ID" "$(sha256_stdin <"$BODY")" "$id"

	ok "docker rmi $ref" dk rmi -f "$id"
	ok_not "$ref is gone locally" dk image inspect "$id"

	if dk pull "$ref" >/dev/null; then pass "docker pull $ref"; else dk_fail "docker pull $ref"; fi
	expect_eq "$ref: pulled image ID" "$(dk image inspect --format '{{.Id}}' "$ref")" "$id"
	expect_eq "$ref: RepoDigests" \
		"$(dk image inspect --format '{{join .RepoDigests " "}}' "$ref")" "$R/$repo@$digest"

	ok "docker rmi $ref (again)" dk rmi -f "$id"
	if dk pull "$R/$repo@$digest" >/dev/null; then
		pass "docker pull $repo@digest"
	else
		dk_fail "docker pull $repo@digest"
	fi
	expect_eq "$repo@digest: pulled image ID" \
		"$(dk image inspect --format '{{.Id}}' "$R/$repo@$digest")" "$id"
}

# ---------------------------------------------------------------- import

mk_rootfs_tar "$W/rootfs.tar" 500000
if dk import "$W/rootfs.tar" berth-import:v1 >"$W/import.out"; then
	pass "docker import a rootfs tarball"
else
	dk_fail "docker import a rootfs tarball"
fi
id=$(dk image inspect --format '{{.Id}}' berth-import:v1)
roundtrip "$id" team/docker/imported v1

# The pulled image holds the tarball's files: export a container's
# filesystem (create does not run anything).
if cid=$(dk create "$R/team/docker/imported:v1" /bin/hello); then
	dk export "$cid" | tar -xOf - usr/share/berth/blob 2>/dev/null | sha256sum >"$W/blob.got"
	dk rm "$cid" >/dev/null
	expect_eq "pulled image holds the rootfs's binary blob" "$(cat "$W/blob.got")" \
		"$(tar -xOf "$W/rootfs.tar" usr/share/berth/blob | sha256sum)"
else
	dk_fail "docker create from the pulled image"
fi

# ---------------------------------------------------------------- load

if command -v skopeo >/dev/null 2>&1; then
	mk_oci_layout "$W/oci" v3 3
	if sko copy "oci:$W/oci:v3" "docker-archive:$W/three.tar:berth-three:v3"; then
		pass "skopeo makes a docker-archive of three layers"
	else
		fail "skopeo makes a docker-archive of three layers" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
	fi
	if dk load -i "$W/three.tar" >/dev/null; then pass "docker load"; else dk_fail "docker load"; fi
	id=$(dk image inspect --format '{{.Id}}' berth-three:v3)
	expect_eq "loaded image ID = the config made here" "$id" "$(digest_of "$W/oci.config.json")"
	roundtrip "$id" team/docker/three v3
else
	note "skopeo missing: no three-layer docker image"
fi

# ---------------------------------------------------------------- a second push

# Pushing the same image under another tag: docker HEADs the layers and
# sends only the manifest, which must get the same digest.
id=$(dk image inspect --format '{{.Id}}' "$R/team/docker/imported:v1")
ok "docker tag imported:v1-again" dk tag "$id" "$R/team/docker/imported:v1-again"
if dk push "$R/team/docker/imported:v1-again" >"$W/push2.out"; then
	pass "docker push imported:v1-again"
else
	dk_fail "docker push imported:v1-again"
fi
req GET /v2/team/docker/imported/tags/list
expect_status 200
expect_eq "tags of team/docker/imported" "$(jq -c .tags "$BODY" 2>/dev/null)" '["v1","v1-again"]'
req GET /v2/team/docker/imported/manifests/v1-again -H "Accept: $MT_DOCKER_MANIFEST"
expect_body_file "$W/v1.manifest.json"

test_done
