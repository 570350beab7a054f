#!/bin/bash
# t42-manifest-limits: what a manifest PUT may cost and claim (issue 11).
#   a. A descriptor whose size is not its stored blob's (a layer, a config,
#      an index's child) is refused with 400 MANIFEST_INVALID naming the
#      digest, the size given and the size stored; nothing is stored.
#   b. manifest_max_descriptors (default 4096) bounds the descriptors of a
#      manifest, repeats counted: one more is 400 MANIFEST_INVALID naming
#      the count and the limit, before anything is written.
#   c. An index naming one child 20,000 times: refused at the default; with
#      the bound raised it is stored once per distinct child (GET returns
#      its bytes, the child is pullable and cannot be deleted from under
#      it), and while 4 such PUTs run at once GET /v2/ answers within 1 s.
. "$(dirname "$0")/../lib.sh"

need_cmd jq
berth_start

F=$TRASH/fix
mkdir -p "$F"
REPO=team/limits
BERTHCTL=$BUILD/berthctl

# ---- setup: one layer, one config, one image manifest (the child)
mk_layer "$F/l.tgz"
ok "setup: push layer" push_blob "$REPO" "$F/l.tgz"
mk_config "$F/c.json" "$F/l.tgz"
ok "setup: push config" push_blob "$REPO" "$F/c.json"
mk_image_manifest "$F/m.json" "$MT_OCI_MANIFEST" "$F/c.json" "$F/l.tgz"
ok "setup: push the child manifest" push_manifest "$REPO" child "$F/m.json" "$MT_OCI_MANIFEST"
LD=$(digest_of "$F/l.tgz"); LS=$(size_of "$F/l.tgz")
CD=$(digest_of "$F/c.json"); CS=$(size_of "$F/c.json")
MD=$(digest_of "$F/m.json"); MS=$(size_of "$F/m.json")

# expect_detail TEXT...: the error's detail holds every TEXT.
expect_detail() {
	local detail t
	detail=$(jq -r '.errors[0].detail // ""' "$BODY" 2>/dev/null)
	for t in "$@"; do
		case $detail in
		*"$t"*) pass "$LAST_REQ: detail names '$t'" ;;
		*) fail "$LAST_REQ: detail names '$t'" "detail: $detail" ;;
		esac
	done
}

# expect_refused FILE MEDIATYPE TAG TEXT...: PUT FILE as TAG is refused
# with 400 MANIFEST_INVALID whose detail holds each TEXT; the store does
# not change and the tag does not exist.
expect_refused() {
	local file=$1 mt=$2 tag=$3
	shift 3
	store_mark blobs repos
	req PUT "/v2/$REPO/manifests/$tag" -H "Content-Type: $mt" --data-binary @"$file"
	expect_error 400 MANIFEST_INVALID
	expect_detail "$@"
	expect_store_unchanged "after the refused PUT of $tag"
	req GET "/v2/$REPO/manifests/$tag" -H "Accept: $mt"
	expect_error 404 MANIFEST_UNKNOWN
	req GET "/v2/$REPO/manifests/$(digest_of "$file")"
	expect_error 404 MANIFEST_UNKNOWN
}

# ---- a. sizes
jq --argjson s 5 '.layers[0].size = $s' "$F/m.json" >"$F/bad-layer.json"
expect_refused "$F/bad-layer.json" "$MT_OCI_MANIFEST" bad-layer "$LD" "size 5," "$LS bytes"
jq --argjson s $((CS + 1)) '.config.size = $s' "$F/m.json" >"$F/bad-config.json"
expect_refused "$F/bad-config.json" "$MT_OCI_MANIFEST" bad-config "$CD" "size $((CS + 1))," "$CS bytes"
jq -n --arg d "$MD" --argjson s $((MS - 1)) --arg mt "$MT_OCI_MANIFEST" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	  manifests: [{mediaType: $mt, digest: $d, size: $s}]}' >"$F/bad-child.json"
expect_refused "$F/bad-child.json" "$MT_OCI_INDEX" bad-child "$MD" "size $((MS - 1))," "$MS bytes"

# A foreign layer (urls) is not in the registry: its size is the client's word.
jq '.layers += [{mediaType: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	digest: "sha256:0000000000000000000000000000000000000000000000000000000000000001",
	size: 77, urls: ["https://example.com/layer"]}]' "$F/m.json" >"$F/foreign.json"
req PUT "/v2/$REPO/manifests/foreign" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/foreign.json"
expect_status 201
# The right sizes are accepted (and pulled back byte for byte).
req GET "/v2/$REPO/manifests/child" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$F/m.json"

# ---- b. the bound, at its default of 4096: config + 4095 layers pass, one more fails
jq --argjson n 4095 '.layers = [range($n) as $i | .layers[0]]' "$F/m.json" >"$F/max.json"
req PUT "/v2/$REPO/manifests/max" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/max.json"
expect_status 201
jq --argjson n 4096 '.layers = [range($n) as $i | .layers[0]]' "$F/m.json" >"$F/over.json"
expect_refused "$F/over.json" "$MT_OCI_MANIFEST" over "4097 descriptors" "at most 4096" \
	manifest_max_descriptors

# ---- c. 20,000 identical children
mk_big_index() { # FILE LABEL
	jq -n --arg d "$MD" --argjson s "$MS" --arg mt "$MT_OCI_MANIFEST" --arg l "$2" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
		  manifests: [range(20000) as $i | {mediaType: $mt, digest: $d, size: $s}],
		  annotations: {label: $l}}' >"$1"
}
mk_big_index "$F/i0.json" 0
expect_refused "$F/i0.json" "$MT_OCI_INDEX" big "20000 descriptors" "at most 4096"

berth_conf manifest_max_descriptors 100000
berth_restart_pool
t0=$(date +%s%N)
req PUT "/v2/$REPO/manifests/big" -H "Content-Type: $MT_OCI_INDEX" --data-binary @"$F/i0.json"
t1=$(date +%s%N)
expect_status 201
note "20,000-children PUT: $(((t1 - t0) / 1000000)) ms"
ok "20,000-children PUT within 5 s" test $(((t1 - t0) / 1000000)) -lt 5000
req GET "/v2/$REPO/manifests/big" -H "Accept: $MT_OCI_INDEX"
expect_status 200
expect_body_file "$F/i0.json"
req GET "/v2/$REPO/manifests/$MD"
expect_status 200
expect_body_file "$F/m.json"
expect_eq "one parent entry for the child named 20,000 times" \
	"$(ls "$STORE/repos/$REPO/_parents/sha256/${MD#sha256:}" | wc -l)" 1
expect_eq "no temporaries left" "$(ls "$STORE/tmp" | wc -l)" 0
req DELETE "/v2/$REPO/manifests/$MD"
expect_error 403 DENIED
expect_detail "$(digest_of "$F/i0.json")"

# Four at once: the API workers stay free for everyone else.
PIDS=()
for i in 1 2 3 4; do
	mk_big_index "$F/i$i.json" "$i"
	curl -sS -o "$F/put$i.out" -w '%{http_code}' --cacert "$CACERT" --max-time 120 \
		-X PUT -H "Content-Type: $MT_OCI_INDEX" --data-binary @"$F/i$i.json" \
		"$URL/v2/$REPO/manifests/big$i" >"$F/put$i.code" 2>&1 &
	PIDS+=($!)
	berth_track_pid $!
done
worst=0 polls=0
while [ $polls -lt 100 ]; do
	busy=0
	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && busy=1; done
	[ $busy = 1 ] || [ $polls -lt 3 ] || break
	ms=$(curl -s -o /dev/null -w '%{time_total}' --cacert "$CACERT" --max-time 30 "$URL/v2/" |
		awk '{printf "%d", $1 * 1000}')
	[ "$ms" -gt "$worst" ] && worst=$ms
	polls=$((polls + 1))
	sleep 0.1
done
wait "${PIDS[@]}"
note "GET /v2/ during 4 index PUTs: $polls polls, slowest $worst ms"
ok "GET /v2/ answers within 1 s during 4 PUTs of 20,000-children indexes (slowest ${worst} ms)" \
	test "$worst" -lt 1000
for i in 1 2 3 4; do
	expect_eq "concurrent PUT big$i: 201" "$(cat "$F/put$i.code")" 201
done
expect_eq "five parent entries for the child" \
	"$(ls "$STORE/repos/$REPO/_parents/sha256/${MD#sha256:}" | wc -l)" 5
ok "berthctl fsck is clean" "$BERTHCTL" -c "$DATA/berth.conf" fsck

# Deleting every index frees the child.
for ref in big big1 big2 big3 big4; do
	req GET "/v2/$REPO/manifests/$ref" -H "Accept: $MT_OCI_INDEX"
	d=$(hdr Docker-Content-Digest)
	req DELETE "/v2/$REPO/manifests/$d"
	expect_status 202
done
expect_eq "no parent entry left" \
	"$(ls "$STORE/repos/$REPO/_parents/sha256/${MD#sha256:}" | wc -l)" 0
req DELETE "/v2/$REPO/manifests/$MD"
expect_status 202
ok "berthctl fsck is clean after the deletes" "$BERTHCTL" -c "$DATA/berth.conf" fsck

test_done
