#!/bin/bash
# t70-podman.sh - podman (root, vfs storage of its own) pushes and pulls.
#
# Two local images, made without network: one `podman import`ed from a
# rootfs tarball made here (one layer), one of three layers pulled from an
# OCI layout made here.  Each is pushed to berth with --cert-dir (the test
# CA), removed locally, pulled back, and must come back as the same image:
# same image ID (config digest), same manifest digest as the push reported,
# and a manifest the registry serves by that digest.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd podman jq tar
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"

pm_fail() { fail "$1" "$(tail -n 5 "$CLIENTS_DIR/podman.log")"; }

# roundtrip LOCAL REMOTE-REPO TAG: push, rmi, pull, compare.
roundtrip() {
	local local_ref=$1 repo=$2 tag=$3 id digest id2 digest2 rd
	id=$(pm image inspect --format '{{.Id}}' "$local_ref")
	if pm push --cert-dir "$CERTDIR" --digestfile "$W/$tag.digest" \
		"$local_ref" "docker://$R/$repo:$tag"; then
		pass "podman push $repo:$tag"
	else
		pm_fail "podman push $repo:$tag"
	fi
	digest=$(cat "$W/$tag.digest" 2>/dev/null)

	# What the registry holds, as a user with curl would see it.
	req GET "/v2/$repo/manifests/$tag" -H "Accept: $MT_ACCEPT_ALL"
	expect_status 200
	expect_header Docker-Content-Digest "$digest"
	expect_eq "$repo:$tag: manifest bytes hash to the pushed digest" \
		"$(sha256_stdin <"$BODY")" "$digest"
	expect_eq "$repo:$tag: manifest names config $id" \
		"$(jq -r .config.digest "$BODY" 2>/dev/null)" "sha256:$id"
	for rd in $(jq -r '.layers[].digest' "$BODY" 2>/dev/null); do
		req HEAD "/v2/$repo/blobs/$rd"
		expect_status 200
	done

	# Remove the image and every name it has.
	if pm rmi -f "$id" >/dev/null; then pass "podman rmi $local_ref"; else pm_fail "podman rmi $local_ref"; fi
	ok_not "$local_ref is gone locally" pm image exists "$id"

	if pm pull --cert-dir "$CERTDIR" "$R/$repo:$tag" >/dev/null; then
		pass "podman pull $repo:$tag"
	else
		pm_fail "podman pull $repo:$tag"
	fi
	id2=$(pm image inspect --format '{{.Id}}' "$R/$repo:$tag")
	digest2=$(pm image inspect --format '{{.Digest}}' "$R/$repo:$tag")
	expect_eq "$repo:$tag: pulled image ID" "$id2" "$id"
	expect_eq "$repo:$tag: pulled manifest digest" "$digest2" "$digest"

	# And by digest.
	pm rmi -f "$id2" >/dev/null 2>&1
	if pm pull --cert-dir "$CERTDIR" "$R/$repo@$digest" >/dev/null; then
		pass "podman pull $repo@$digest"
	else
		pm_fail "podman pull $repo@$digest"
	fi
	expect_eq "$repo@digest: pulled image ID" \
		"$(pm image inspect --format '{{.Id}}' "$R/$repo@$digest")" "$id"
}

# ---------------------------------------------------------------- imported

mk_rootfs_tar "$W/rootfs.tar" 400000
if pm import "$W/rootfs.tar" localhost/berth-import:v1 >/dev/null; then
	pass "podman import a rootfs tarball"
else
	pm_fail "podman import a rootfs tarball"
	test_done
fi
roundtrip localhost/berth-import:v1 team/podman/imported v1

# The pulled image holds the very files of the tarball.
id=$(pm image inspect --format '{{.Id}}' "$R/team/podman/imported@$(cat "$W/v1.digest")")
rm -rf "$W/saved"
if pm save --format oci-dir -o "$W/saved" "$id" >/dev/null; then
	m=$(jq -r '.manifests[0].digest' "$W/saved/index.json")
	m=$W/saved/blobs/sha256/${m#sha256:}
	l=$(jq -r '.layers[0].digest' "$m")
	f=$W/saved/blobs/sha256/${l#sha256:}
	case $(jq -r '.layers[0].mediaType' "$m") in
	*gzip) gzip -dc "$f" >"$W/layer.tar" ;;
	*) cp "$f" "$W/layer.tar" ;;
	esac
	expect_eq "pulled layer holds the binary blob of the rootfs" \
		"$(tar -xOf "$W/layer.tar" usr/share/berth/blob 2>/dev/null | sha256sum)" \
		"$(tar -xOf "$W/rootfs.tar" usr/share/berth/blob | sha256sum)"
else
	pm_fail "podman save the pulled image"
fi

# ---------------------------------------------------------------- three layers

mk_oci_layout "$W/oci" v3 3
tar -C "$W/oci" -cf "$W/oci.tar" .
if pm load -i "$W/oci.tar" >/dev/null; then
	pass "podman load an OCI archive of three layers"
else
	pm_fail "podman load an OCI archive of three layers"
fi
cfg=$(digest_of "$W/oci.config.json")
ok "podman tag the loaded image" pm tag "${cfg#sha256:}" localhost/berth-three:v3
expect_eq "three-layer image has the config made here" \
	"sha256:$(pm image inspect --format '{{.Id}}' localhost/berth-three:v3)" \
	"$(digest_of "$W/oci.config.json")"
roundtrip localhost/berth-three:v3 team/podman/three v3
expect_eq "three layers in the registry's manifest" \
	"$(get_manifest team/podman/three v3 | jq '.layers | length')" 3

# podman search is not part of this issue; podman's tag listing is.
expect_eq "tags of team/podman/three" \
	"$(ccurl "$URL/v2/team/podman/three/tags/list" | jq -c .tags)" '["v3"]'

test_done
