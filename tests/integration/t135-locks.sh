#!/bin/bash
# t135-locks.sh - `berthctl lock` / `unlock` / `lock ls` against the real
# stack (nginx + the pool), and what clients see (store/locks.c):
#
#   a. argument errors and exit codes (bad name, tag, digest; unknown
#      repository, tag, manifest; not locked), --help of each command;
#   b. a tag locked --no-write: a PUT to it answers 403 DENIED naming the
#      lock, the tag still names the old manifest; other tags and PUTs by
#      digest go on;
#   c. --no-delete on a tag, a manifest and the repository: DELETE of the
#      tag, of the manifest a locked tag names, of a locked manifest, of a
#      blob answer 403 DENIED and nothing in the store changes; tag rm and
#      repo rm refuse (exit 1) unless --force;
#   d. the repository locked --no-write: upload POST, mount, PATCH / PUT of
#      a session begun before the lock, manifest PUT by digest answer 403
#      (cancelling the session works), skopeo copy fails with "denied";
#      other repositories go on;
#   e. lock ls (text and --json, checked with jq), unlock, and then
#      everything works again (skopeo copy too);
#   f. gc --untagged --grace 0 keeps an untagged manifest a no-delete lock
#      protects and removes the unlocked one;
#   g. --force, and an unreadable store.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd jq curl sha256sum
BERTHCTL=${BERTHCTL:-$BUILD/berthctl}
berth_start
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
R=$(reg)

ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
"$BERTHCTL" -c "$CONF" lock --help >/dev/null 2>&1 ||
	bail "$BERTHCTL has no lock command (ctl/ctl_lock.c not dispatched from ctl/ctl_store.c?)"

# run_ctl ARGS...: sets OUT, ERR, RC.
run_ctl() {
	ctl "$@" >"$W/out" 2>"$W/err"
	RC=$?
	OUT=$(cat "$W/out"); ERR=$(cat "$W/err")
}
# expect_rc DESC WANT ARGS...
expect_rc() {
	local desc=$1 want=$2; shift 2
	run_ctl "$@"
	if [ "$RC" = "$want" ]; then pass "$desc: exit $want"
	else fail "$desc: exit $want" "got exit $RC" "stderr: $ERR" "stdout: $(head -c 300 <<<"$OUT")"; fi
}
# expect_err_has DESC TEXT: the last berthctl's stderr contains TEXT.
expect_err_has() {
	if grep -qF -- "$2" "$W/err"; then pass "$1"
	else fail "$1" "stderr lacks: $2" "stderr: $ERR"; fi
}
# expect_denied TEXT...: the last answer is 403 DENIED and its detail
# contains every TEXT.
expect_denied() {
	local t detail
	expect_error 403 DENIED
	detail=$(jq -r '.errors[0].detail // ""' "$BODY" 2>/dev/null)
	for t in "$@"; do
		if grep -qF -- "$t" <<<"$detail"; then pass "$LAST_REQ: detail names '$t'"
		else fail "$LAST_REQ: detail names '$t'" "detail: $detail"; fi
	done
}
# tag_digest REPO TAG: the digest the registry serves for the tag.
tag_digest() {
	req HEAD "/v2/$1/manifests/$2" -H "Accept: $MT_ACCEPT_ALL"
	hdr Docker-Content-Digest
}
# put_manifest REPO REF FILE: sets STATUS.
put_manifest() { req PUT "/v2/$1/manifests/$2" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$3"; }

push_image lk/app v1 "$MT_OCI_MANIFEST" "$W/i1"
push_image lk/app v2 "$MT_OCI_MANIFEST" "$W/i2"
push_image lk/app v3 "$MT_OCI_MANIFEST" "$W/i3"
D1=$(digest_of "$W/i1/manifest.json")
D2=$(digest_of "$W/i2/manifest.json")
D3=$(digest_of "$W/i3/manifest.json")
ZERO=sha256:$(printf '0%.0s' $(seq 1 64))

# ================================================================ a

for c in "lock" "lock ls" "unlock"; do
	# shellcheck disable=SC2086 # two words for "lock ls"
	ctl $c --help >"$W/out" 2>&1
	expect_eq "berthctl $c --help: exit 0" "$?" 0
	ok "berthctl $c --help shows its usage" grep -q "usage: berthctl $c " "$W/out"
done
ctl help >"$W/out" 2>&1
ok "berthctl help lists lock and unlock" grep -q '^  unlock NAME' "$W/out"

expect_rc "lock of a malformed name" 2 lock 'Bad..Name'
expect_err_has "  ... says it is not a valid repository name" '"Bad..Name" is not a valid repository name'
expect_rc "lock of a malformed tag" 2 lock 'lk/app:-bad'
expect_err_has "  ... says it is not a valid tag" '"-bad" is not a valid tag'
expect_rc "lock of a malformed digest" 2 lock 'lk/app@sha256:xyz'
expect_err_has "  ... says it is not a valid digest" 'is not a valid digest'
expect_rc "lock of an unknown repository" 1 lock no/such
expect_err_has "  ... says the repository is not known" 'repository no/such is not known'
expect_rc "lock of an unknown tag" 1 lock lk/app:nope
expect_err_has "  ... says the tag is not there" 'tag nope is not in repository lk/app'
expect_rc "lock of an unknown manifest" 1 lock "lk/app@$ZERO"
expect_err_has "  ... says the manifest is not there" "manifest $ZERO is not in repository lk/app"
expect_rc "lock --no-write of a manifest" 2 lock "lk/app@$D1" --no-write
expect_err_has "  ... explains why" 'its content cannot change'
expect_rc "lock with an unknown option" 2 lock lk/app --bogus
expect_rc "lock without a target" 2 lock
expect_rc "lock with two targets" 2 lock lk/app lk/app:v1
expect_rc "lock --reason without text" 2 lock lk/app --reason
expect_rc "lock --reason of two lines" 2 lock lk/app --reason "$(printf 'a\nb')"
expect_rc "unlock of something not locked" 1 unlock lk/app:v1
expect_err_has "  ... says it is not locked" 'lk/app:v1 is not locked'
expect_rc "unlock in an unknown repository" 1 unlock no/such:v1
expect_err_has "  ... says the repository is not known" 'repository no/such is not known'
expect_rc "unlock of a malformed tag" 2 unlock 'lk/app:-bad'
expect_rc "lock ls of an unknown repository" 1 lock ls no/such
expect_rc "lock ls of a malformed name" 2 lock ls 'Bad..'
expect_rc "lock ls with nothing locked" 0 lock ls --json
expect_eq "lock ls --json: no locks" "$(jq -c .locks <<<"$OUT")" '[]'
ok "nothing was written by the refused commands" test ! -e "$STORE/repos/lk/app/_locks"

# ================================================================ b

expect_rc "lock lk/app:v1 --no-write --reason" 0 lock lk/app:v1 --no-write --reason "release 1.0" --json
ok "lock --json describes the lock" jq -e '.locked.lock == "lk/app:v1" and .locked.kind == "tag"
	and .locked.no_write and (.locked.no_delete | not) and .locked.reason == "release 1.0"
	and (.locked.since | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and .replaced == null' "$W/out"
ok "the lock is a file in _locks/" grep -q '^flags no-write$' "$STORE/repos/lk/app/_locks/tag-v1"

# a new image for v1: its blobs go in, the manifest PUT to v1 is refused
mk_layer "$W/n.tgz"
mk_config "$W/n.config.json" "$W/n.tgz"
mk_image_manifest "$W/n.manifest.json" "$MT_OCI_MANIFEST" "$W/n.config.json" "$W/n.tgz"
DN=$(digest_of "$W/n.manifest.json")
ok "a blob upload into lk/app goes on (only the tag is locked)" push_blob lk/app "$W/n.tgz"
ok "  and the config" push_blob lk/app "$W/n.config.json"
put_manifest lk/app v1 "$W/n.manifest.json"
expect_denied "lk/app:v1 is locked (no-write, since " "reason: release 1.0" "berthctl unlock lk/app:v1"
expect_eq "v1 still names the old manifest" "$(tag_digest lk/app v1)" "$D1"
put_manifest lk/app v4 "$W/n.manifest.json"
expect_status 201
put_manifest lk/app "$DN" "$W/n.manifest.json"
expect_status 201

# ================================================================ c

expect_rc "lock lk/app:v2 --no-delete" 0 lock lk/app:v2 --no-delete
ok "lock prints what it did" grep -q '^locked lk/app:v2 (no-delete)$' "$W/out"
expect_rc "lock lk/app@D3 (no flag: a manifest gets no-delete)" 0 lock "lk/app@$D3" --json
ok "lock of a digest: no-delete only" jq -e '.locked.kind == "manifest" and .locked.no_delete
	and (.locked.no_write | not)' "$W/out"
store_mark repos blobs
req DELETE /v2/lk/app/manifests/v2
expect_denied "lk/app:v2 is locked (no-delete, since " "berthctl unlock lk/app:v2"
req DELETE "/v2/lk/app/manifests/$D2"
expect_denied "lk/app@$D2 is tagged v2, and lk/app:v2 is locked (no-delete"
req DELETE "/v2/lk/app/manifests/$D3"
expect_denied "lk/app@$D3 is locked (no-delete" "berthctl unlock lk/app@$D3"
expect_store_unchanged "refused deletes change nothing"
expect_eq "v2 still names its manifest" "$(tag_digest lk/app v2)" "$D2"
expect_rc "tag rm of a locked tag" 1 tag rm lk/app:v2
expect_err_has "  ... names the lock" 'lk/app:v2 is locked (no-delete'
expect_rc "repo rm of a repository with a no-delete lock" 1 repo rm lk/app
expect_err_has "  ... names the lock and --force" 'is locked (no-delete'
expect_store_unchanged "refused tag rm / repo rm change nothing"
# the manifest's tag may go: the locked manifest stays
req DELETE /v2/lk/app/manifests/v3
expect_status 202
req GET "/v2/lk/app/manifests/$D3" -H "Accept: $MT_ACCEPT_ALL"
expect_status 200

expect_rc "lock lk/app --no-delete" 0 lock lk/app --no-delete
store_mark repos blobs
req DELETE "/v2/lk/app/blobs/$(digest_of "$W/i1/layer1.tgz")"
expect_denied "repository lk/app is locked (no-delete, since " "berthctl unlock lk/app"
req DELETE /v2/lk/app/manifests/v4
expect_denied "repository lk/app is locked (no-delete"
expect_store_unchanged "refused blob and tag deletes change nothing"
req GET "/v2/lk/app/blobs/$(digest_of "$W/i1/layer1.tgz")" -o /dev/null
expect_status 200

# ================================================================ d

SESS=$(upload_start lk/app)
ok "an upload session begun before the lock" test -n "$SESS"
expect_rc "lock lk/app --no-write replaces the repository's lock" 0 lock lk/app --no-write --json
ok "lock --json: replaced the no-delete lock" jq -e '.locked.no_write and (.locked.no_delete | not)
	and .replaced.no_delete and (.replaced.no_write | not)' "$W/out"
push_image lk/other v1 "$MT_OCI_MANIFEST" "$W/o1"
req POST /v2/lk/app/blobs/uploads/
expect_denied "repository lk/app is locked (no-write, since " "berthctl unlock lk/app"
mk_random "$W/rnd" 1000
req POST "/v2/lk/app/blobs/uploads/?digest=$(digest_of "$W/rnd")" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$W/rnd"
expect_denied "repository lk/app is locked (no-write"
req POST "/v2/lk/app/blobs/uploads/?mount=$(digest_of "$W/o1/layer1.tgz")&from=lk/other"
expect_denied "repository lk/app is locked (no-write"
req HEAD "/v2/lk/app/blobs/$(digest_of "$W/o1/layer1.tgz")"
expect_status 404
req PATCH "$SESS" -H 'Content-Type: application/octet-stream' --data-binary @"$W/rnd"
expect_denied "repository lk/app is locked (no-write"
req PUT "$SESS?digest=$(digest_of "$W/rnd")" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$W/rnd"
expect_denied "repository lk/app is locked (no-write"
req DELETE "$SESS"
expect_status 204 # cancelling is no write
put_manifest lk/app "$(digest_of "$W/o1/manifest.json")" "$W/o1/manifest.json"
expect_error 403 DENIED
put_manifest lk/app v1 "$W/i1/manifest.json"
expect_error 403 DENIED
mk_oci_layout "$W/sko" s1 1
if command -v skopeo >/dev/null 2>&1; then
	ok_not "skopeo copy into the locked repository fails" \
		sko copy --retry-times 0 --dest-cert-dir "$CERTDIR" "oci:$W/sko:s1" "docker://$R/lk/app:s1"
	ok "skopeo says denied" grep -qi denied "$CLIENTS_DIR/skopeo.log"
	ok "skopeo copy into another repository works" \
		sko copy --dest-cert-dir "$CERTDIR" "oci:$W/sko:s1" "docker://$R/lk/other:s1"
else
	say "# skopeo not installed: its part of d and e skipped"
fi
req DELETE /v2/lk/app/manifests/v4
expect_status 202 # no-write does not stop deletes

# ================================================================ e

expect_rc "lock ls" 0 lock ls
ok "lock ls prints a header and a line per lock" grep -q '^LOCK .* FLAGS .* SINCE' "$W/out"
ok "lock ls shows the reason" grep -q '^lk/app:v1 .*release 1.0' "$W/out"
expect_rc "lock ls --json" 0 lock ls --json
expect_eq "lock ls --json: every lock, in order" "$(jq -c '[.locks[].lock]' <<<"$OUT")" \
	"[\"lk/app\",\"lk/app:v1\",\"lk/app:v2\",\"lk/app@$D3\"]"
ok "lock ls --json: flags, kind, by, present" jq -e '
	(.locks[0] | .kind == "repository" and .no_write and (.no_delete | not) and .present) and
	(.locks[1] | .kind == "tag" and .tag == "v1" and .reason == "release 1.0" and (.by | type) == "string") and
	(.locks[3] | .kind == "manifest" and .digest != null and .present)' "$W/out"
expect_rc "lock ls lk/other --json" 0 lock ls lk/other --json
expect_eq "lock ls of a repository without locks" "$(jq -c .locks <<<"$OUT")" '[]'

expect_rc "unlock lk/app --json" 0 unlock lk/app --json
ok "unlock --json names what was removed" jq -e '.unlocked.lock == "lk/app" and .unlocked.no_write' "$W/out"
expect_rc "unlock lk/app:v1" 0 unlock lk/app:v1
ok "unlock prints what it did" grep -q '^unlocked lk/app:v1 (it was no-write)$' "$W/out"
expect_rc "unlock lk/app:v2" 0 unlock lk/app:v2
expect_rc "unlock lk/app@D3" 0 unlock "lk/app@$D3"
expect_rc "lock ls after unlocking" 0 lock ls --json
expect_eq "no locks left" "$(jq -c .locks <<<"$OUT")" '[]'

put_manifest lk/app v1 "$W/n.manifest.json"
expect_status 201
expect_eq "v1 now names the new manifest" "$(tag_digest lk/app v1)" "$DN"
req POST /v2/lk/app/blobs/uploads/
expect_status 202
ok "a monolithic upload works again" push_blob lk/app "$W/rnd"
req DELETE "/v2/lk/app/blobs/$(digest_of "$W/rnd")"
expect_status 202
req DELETE /v2/lk/app/manifests/v2
expect_status 202
req DELETE "/v2/lk/app/manifests/$D3"
expect_status 202
if command -v skopeo >/dev/null 2>&1; then
	ok "skopeo copy into the unlocked repository works" \
		sko copy --dest-cert-dir "$CERTDIR" "oci:$W/sko:s1" "docker://$R/lk/app:s1"
fi

# ================================================================ f

push_image lk/gc u1 "$MT_OCI_MANIFEST" "$W/g1"
push_image lk/gc u2 "$MT_OCI_MANIFEST" "$W/g2"
push_image lk/frozen u3 "$MT_OCI_MANIFEST" "$W/g3"
G1=$(digest_of "$W/g1/manifest.json")
G2=$(digest_of "$W/g2/manifest.json")
G3=$(digest_of "$W/g3/manifest.json")
expect_rc "lock lk/gc@G1" 0 lock "lk/gc@$G1"
expect_rc "lock lk/frozen --no-delete" 0 lock lk/frozen --no-delete
expect_rc "tag rm lk/gc:u1 (the manifest's lock allows it)" 0 tag rm lk/gc:u1
expect_rc "tag rm lk/gc:u2" 0 tag rm lk/gc:u2
expect_rc "tag rm lk/frozen:u3 (the repository is locked)" 1 tag rm lk/frozen:u3
# Its tag goes with --force; the repository's lock still keeps the manifest.
expect_rc "tag rm --force lk/frozen:u3" 0 tag rm lk/frozen:u3 --force --json
expect_rc "gc --untagged --grace 0 --json" 0 gc --untagged --grace 0 --json
expect_eq "gc --untagged removes the unlocked untagged manifests of lk/gc and lk/frozen's stays" \
	"$(jq -r '[.removed[] | select(.kind == "manifest") | .object | select(startswith("lk/gc") or startswith("lk/frozen"))] | join(" ")' <<<"$OUT")" \
	"lk/gc@$G2"
req GET "/v2/lk/gc/manifests/$G1" -H "Accept: $MT_ACCEPT_ALL"
expect_status 200
req GET "/v2/lk/gc/blobs/$(digest_of "$W/g1/layer1.tgz")" -o /dev/null
expect_status 200
req GET "/v2/lk/frozen/manifests/$G3" -H "Accept: $MT_ACCEPT_ALL"
expect_status 200
req GET "/v2/lk/gc/manifests/$G2" -H "Accept: $MT_ACCEPT_ALL"
expect_status 404

# ================================================================ g

expect_rc "lock lk/other:v1" 0 lock lk/other:v1
expect_rc "tag rm --force of a locked tag" 0 tag rm lk/other:v1 --force --json
ok "tag rm --force --json: the tag and its lock went" jq -e '.removed == "v1" and .unlocked' "$W/out"
expect_rc "lock ls lk/other" 0 lock ls lk/other --json
expect_eq "the tag's lock is gone" "$(jq -c .locks <<<"$OUT")" '[]'
expect_rc "repo rm --force of a locked repository" 0 repo rm lk/frozen --force --json
ok "repo rm --json counts its locks" jq -e '.removed == "lk/frozen" and .locks == 1' "$W/out"
ok "its lock directory is gone" test ! -e "$STORE/repos/lk/frozen"
expect_rc "unlock lk/gc@G1" 0 unlock "lk/gc@$G1"
ok "fsck exits 0 at the end" ctl fsck

echo "not a directory" >"$W/notastore"
sed "s|^store *=.*|store = $W/notastore|" "$CONF" >"$W/bad.conf"
for c in "lock ls" "lock lk/app" "unlock lk/app"; do
	# shellcheck disable=SC2086
	"$BERTHCTL" -c "$W/bad.conf" $c >/dev/null 2>"$W/err"
	expect_eq "berthctl $c on an unreadable store: exit 3" "$?" 3
done

test_done
