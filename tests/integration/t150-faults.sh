#!/bin/bash
# t150-faults.sh - EIO and ENOSPC from write, fsync and rename, on demand.
#
# berthd runs with libberthfault.so (tests/fault/fault.c) preloaded; one
# table row switches one fault on for one operation and off again:
#
#   OPERATION  OP  ERRNO  PATH-SUBSTRING
#
# For each row, with fresh content: the operation's setup runs without
# faults, the operation runs with the fault (the shim must have injected it
# at least once: a row that no longer reaches its call fails), then with
# the fault cleared:
#   - the client got an error, never a hang: 507 UNKNOWN for ENOSPC, 500
#     UNKNOWN for EIO (berthctl gc: exit 3 and the system's message);
#   - `berthctl fsck` is clean;
#   - the same operation, and a push of the same content, succeed, and the
#     content pulls back byte-identical.
#
# Operations: monolithic upload (POST ?digest=, 1.2 MiB: the staged
# O_DIRECT writes), streamed chunked PATCH (the session is then continued),
# the final PUT ?digest= of a session, without and with a last chunk,
# manifest PUT by digest, tag PUT, manifest DELETE, blob DELETE, `berthctl
# gc`.  Deletes do no write or rename: they get unlink and fsync faults
# instead.  mkdir is tried on a push into a new repository, link on the
# session lock and on a blob's publish (content-addressed data is published
# create-only, by link: util/fs.c fs_publish FS_CREATE).  Then EDQUOT (a quota: 507 too) and EROFS (500) once each.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../fault/lib-fault.sh"

need_cmd sha256sum
fault_preload
berth_start
F=$TRASH/fix
mkdir -p "$F"
S=$STORE
N=0

ctl() { "$BUILD/berthctl" -c "$DATA/berth.conf" "$@"; }
creq() { req "$@" --max-time 30; }
# q LOC QUERY: LOC with QUERY added (a Location may carry a query of its own).
q() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }

# want_error ERRNO: the last answer is the error ERRNO must give.
want_error() {
	case $1 in
	ENOSPC|EDQUOT) expect_error 507 UNKNOWN ;;
	*)      expect_error 500 UNKNOWN ;;
	esac
}

# expect_pull REPO DIGEST FILE: the blob downloads byte-identical.
expect_pull() {
	creq GET "/v2/$1/blobs/$2"
	expect_status 200
	expect_body_file "$3"
}

# ---- the operations: prep_X (no fault), act_X (under the fault), redo_X

new_blob() { N=$((N + 1)); mk_random "$F/b$N" "${1:-1300000}"; B=$F/b$N; BD=$(digest_of "$B"); }

prep_mono() { new_blob; }
act_mono() {
	creq POST "/v2/f/mono/blobs/uploads/?digest=$BD" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$B"
}
redo_mono() {
	ok "mono: the same blob pushes" push_blob f/mono "$B"
	expect_pull f/mono "$BD" "$B"
}

prep_patch() {
	new_blob
	creq POST "/v2/f/patch/blobs/uploads/" -H 'Content-Length: 0'
	LOC=$(hdr Location)
}
act_patch() {
	creq PATCH "$LOC" --http1.1 -H 'Transfer-Encoding: chunked' \
		-H 'Content-Type: application/octet-stream' --data-binary @"$B"
}
redo_patch() {
	creq GET "$LOC"
	expect_status 204
	expect_header Range 0-0
	act_patch
	expect_status 202
	creq PUT "$(q "$(hdr Location)" "digest=$BD")"
	expect_status 201
	expect_pull f/patch "$BD" "$B"
}

prep_put() {
	prep_patch
	act_patch
	LOC=$(hdr Location)
}
act_put() { creq PUT "$(q "$LOC" "digest=$BD")"; }
redo_put() {
	act_put
	if [ "$STATUS" != 201 ]; then # the session is gone: push it anew
		ok "put: the same blob pushes" push_blob f/patch "$B"
	else
		pass "put: the same PUT completes the session"
	fi
	expect_pull f/patch "$BD" "$B"
}

# The final PUT carries the last chunk.
prep_putlast() {
	prep_patch
	head -c 700000 "$B" >"$B.1"
	tail -c +700001 "$B" >"$B.2"
	creq PATCH "$LOC" -H 'Content-Type: application/octet-stream' \
		-H "Content-Range: 0-699999" --data-binary @"$B.1"
	expect_status 202
	LOC=$(hdr Location)
}
act_putlast() {
	creq PUT "$(q "$LOC" "digest=$BD")" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$B.2"
}
redo_putlast() {
	act_putlast
	if [ "$STATUS" != 201 ]; then
		ok "putlast: the same blob pushes" push_blob f/patch "$B"
	else
		pass "putlast: the same PUT completes the session"
	fi
	expect_pull f/patch "$BD" "$B"
}

# A blob into a repository of its own: its directories are made.
prep_newrepo() { new_blob 5000; }
act_newrepo() {
	creq POST "/v2/f/new$N/blobs/uploads/?digest=$BD" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$B"
}
redo_newrepo() {
	act_newrepo
	expect_status 201
	expect_pull "f/new$N" "$BD" "$B"
}

# An image of one layer, one config, one manifest (M, its digest MD).
new_image() {
	N=$((N + 1))
	mk_layer "$F/l$N.tgz"
	rm -f "$F/l$N.tgz.tar"
	mk_config "$F/c$N.json" "$F/l$N.tgz"
	mk_image_manifest "$F/m$N.json" "$MT_OCI_MANIFEST" "$F/c$N.json" "$F/l$N.tgz"
	M=$F/m$N.json
	MD=$(digest_of "$M")
	ok "image $N: layer" push_blob "$1" "$F/l$N.tgz"
	ok "image $N: config" push_blob "$1" "$F/c$N.json"
}
manifest_put() { creq PUT "/v2/$1/manifests/$2" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$M"; }
expect_manifest() {
	creq GET "/v2/$1/manifests/$2" -H "Accept: $MT_OCI_MANIFEST"
	expect_status 200
	expect_body_file "$M"
}

prep_manifest() { new_image f/man; }
act_manifest() { manifest_put f/man "$MD"; }
redo_manifest() {
	act_manifest
	expect_status 201
	expect_manifest f/man "$MD"
}

prep_tag() {
	new_image f/tag
	act_manifest_tag_digest
}
act_manifest_tag_digest() { manifest_put f/tag "$MD"; expect_status 201; }
act_tag() { manifest_put f/tag "t$N"; }
redo_tag() {
	act_tag
	expect_status 201
	expect_manifest f/tag "t$N"
}

prep_mdel() {
	new_image f/mdel
	manifest_put f/mdel "t$N"
	expect_status 201
}
act_mdel() { creq DELETE "/v2/f/mdel/manifests/$MD"; }
redo_mdel() {
	act_mdel
	expect_status 202
	manifest_put f/mdel "t$N"
	expect_status 201
	expect_manifest f/mdel "t$N"
}

prep_bdel() { new_blob 2000; ok "bdel: blob" push_blob f/bdel "$B"; }
act_bdel() { creq DELETE "/v2/f/bdel/blobs/$BD"; }
redo_bdel() {
	# 404: the failed DELETE had unlinked it (the fault hit the fsync of
	# the directory after the unlink), and said so with an error.
	act_bdel
	case $STATUS in
	202|404) pass "$LAST_REQ: the retried DELETE answers 202 or 404 ($STATUS)" ;;
	*) fail "$LAST_REQ: the retried DELETE answers 202 or 404" "got $STATUS: $(body_head)" ;;
	esac
	creq HEAD "/v2/f/bdel/blobs/$BD"
	expect_status 404
	ok "bdel: the same blob pushes" push_blob f/bdel "$B"
	expect_pull f/bdel "$BD" "$B"
}

# gc: an unreferenced blob link (grace 0) is garbage for it to remove.
prep_gc() { new_blob 3000; ok "gc: blob" push_blob f/gc "$B"; }
act_gc() { GC_RC=0; fault_ctl gc --grace 0 >"$TRASH/gc.out" 2>&1 || GC_RC=$?; }
redo_gc() {
	ok "gc runs once the fault is cleared" ctl gc --grace 0
	ok "gc: the same blob pushes" push_blob f/gc "$B"
	expect_pull f/gc "$BD" "$B"
}

# ---- the table
ROWS=(
	"mono     write  $S/uploads/"
	"mono     fsync  $S/uploads/"
	"mono     link   $S/blobs/"
	"patch    write  /data$"
	"patch    fsync  $S/uploads/"
	"patch    rename $S/uploads/"
	"patch    link   /lock$"
	"put      write  /w."
	"put      fsync  $S/uploads/"
	"put      link   $S/blobs/"
	"putlast  write  /data$"
	"putlast  fsync  $S/uploads/"
	"putlast  link   $S/blobs/"
	"newrepo  mkdir  $S/repos/"
	"manifest write  $S/"
	"manifest fsync  $S/"
	"manifest rename /_manifests/"
	"tag      write  $S/"
	"tag      fsync  /_tags"
	"tag      rename /_tags/"
	"mdel     unlink $S/repos/"
	"mdel     fsync  $S/repos/"
	"bdel     unlink /_blobs/"
	"bdel     fsync  /_blobs"
	"gc       write  $S/gc/"
	"gc       fsync  $S/"
	"gc       rename $S/"
)

run_row() {
	local what=$1 op=$2 err=$3 sub=$4 n0 fired msg
	note "---- $what: $op $err $sub"
	"prep_$what"
	n0=$(fault_fired)
	fault_set "$op $err $sub"
	"act_$what"
	fault_clear
	fired=$(($(fault_fired) - n0))
	ok "$what/$op/$err: the fault was injected" test "$fired" -gt 0
	if [ "$what" = gc ]; then
		case $err in ENOSPC) msg="No space left on device" ;; *) msg="Input/output error" ;; esac
		expect_eq "$what/$op/$err: berthctl gc exits 3" "$GC_RC" 3
		ok "$what/$op/$err: berthctl gc says '$msg'" grep -q "$msg" "$TRASH/gc.out"
	else
		want_error "$err"
	fi
	ok "$what/$op/$err: fsck is clean" ctl fsck
	"redo_$what"
}

START=$(date +%s)
for row in "${ROWS[@]}"; do
	for err in EIO ENOSPC; do
		# shellcheck disable=SC2086 # the row's words
		set -- $row
		run_row "$1" "$2" "$err" "$3"
	done
done
# A quota is a full disk too; a read-only store is not.
run_row mono write EDQUOT "$S/uploads/"
run_row tag rename EDQUOT /_tags/
run_row manifest write EROFS "$S/"
ok "fsck is clean at the end" ctl fsck
ok "berthd logged the full disk at error" grep -q "No space left on device" "$RUN/berthd.log"
note "$((${#ROWS[@]} * 2 + 3)) faults in $(($(date +%s) - START)) s"
test_done
