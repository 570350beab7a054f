#!/bin/bash
# bench/index-writes.sh - fsyncs, renames and wall time of index PUTs (20000 identical
# children, 2000 distinct children), counted with strace -f -c on the pool.
#   BUILD=build bash bench/index-writes.sh   (about 4 minutes; needs strace)
. "$(dirname "$0")/../tests/lib.sh"
berth_conf manifest_max_descriptors 100000
berth_start
F=$TRASH/fix; mkdir -p "$F"; REPO=amp/app
mk_layer "$F/l.tgz"; push_blob $REPO "$F/l.tgz" || bail layer
mk_config "$F/c.json" "$F/l.tgz"; push_blob $REPO "$F/c.json" || bail config
mk_image_manifest "$F/m.json" "$MT_OCI_MANIFEST" "$F/c.json" "$F/l.tgz"
push_manifest $REPO child "$F/m.json" "$MT_OCI_MANIFEST" || bail child
d=$(digest_of "$F/m.json"); s=$(size_of "$F/m.json")
jq -n --arg d "$d" --argjson s "$s" --arg mt "$MT_OCI_MANIFEST" \
 '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json", manifests:[range(20000)|{mediaType:$mt,digest:$d,size:$s}]}' >"$F/idx20k.json"
# 2000 distinct children
ents=$F/ents; : >"$ents"
for i in $(seq 1 2000); do
  jq -c --arg i "$i" '. + {annotations: {n: $i}}' "$F/m.json" >"$F/k.json"
  req PUT "/v2/$REPO/manifests/$(digest_of "$F/k.json")" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/k.json"
  [ "$STATUS" = 201 ] || bail "child $i: $STATUS"
  printf '{"mediaType":"%s","digest":"%s","size":%s}\n' "$MT_OCI_MANIFEST" "$(digest_of "$F/k.json")" "$(size_of "$F/k.json")" >>"$ents"
done
jq -s '{schemaVersion:2, mediaType:"application/vnd.oci.image.index.v1+json", manifests:.}' "$ents" >"$F/idx2k.json"
measure() {
  local file=$1 label=$2 pids=() p args=()
  for p in $(berth_worker_pids); do args+=(-p "$p"); done
  strace -f -c -e trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat -o "$F/strace.$label" "${args[@]}" &
  local sp=$!; sleep 1
  local t0=$(date +%s.%N)
  req PUT "/v2/$REPO/manifests/$label" -H "Content-Type: application/vnd.oci.image.index.v1+json" --data-binary @"$file"
  local t1=$(date +%s.%N)
  sleep 0.5; kill -INT $sp; wait $sp
  echo "== $label: status $STATUS wall $(echo "$t1 - $t0" | bc) s"
  cat "$F/strace.$label"
  # without strace: another index (an annotation more), so new entries
  jq -c '. + {annotations: {v: "b"}}' "$file" >"$F/var.json"
  t0=$(date +%s.%N)
  req PUT "/v2/$REPO/manifests/$label-b" -H "Content-Type: application/vnd.oci.image.index.v1+json" --data-binary @"$F/var.json"
  t1=$(date +%s.%N)
  echo "== $label (other index, no strace, tag $label-b): status $STATUS wall $(echo "$t1 - $t0" | bc) s"
}
concurrent() {
  local i pids=() t0 t1 worst=0 n=0 dt
  for i in 1 2 3 4; do
    jq -c --arg i "$i" '. + {annotations: {c: $i}}' "$F/idx20k.json" >"$F/c$i.json"
  done
  for i in 1 2 3 4; do
    curl -s -o /dev/null -w "put $i: %{http_code} %{time_total}s\n" --cacert "$CACERT" -X PUT \
      -H "Content-Type: application/vnd.oci.image.index.v1+json" --data-binary @"$F/c$i.json" "$URL/v2/$REPO/manifests/c$i" &
    pids+=($!)
  done
  sleep 0.3
  while [ $n -lt 60 ] && kill -0 "${pids[0]}" 2>/dev/null; do
    dt=$(curl -s -o /dev/null -w "%{time_total}" --max-time 60 --cacert "$CACERT" "$URL/v2/")
    echo "GET /v2/ $dt"; n=$((n+1)); sleep 0.2
  done
  wait "${pids[@]}"
}
measure "$F/idx20k.json" i20k
measure "$F/idx2k.json" i2k
concurrent
# fresh repo for a cold 2k run? the index bytes are the same, entries exist.
"$BUILD/berthctl" -c "$DATA/berth.conf" fsck; echo "fsck rc $?"
test_done
