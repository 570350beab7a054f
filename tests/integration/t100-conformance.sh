#!/bin/bash
# t100-conformance: berth passes its own OCI distribution-spec conformance
# suite (tests/conformance/conformance.sh, which also runs against any other
# registry), then the parts of content management that depend on berth.conf:
#
#   - delete_enabled = false: the suite passes with --no-delete, and every
#     DELETE (manifest by digest, tag, blob) answers 405 UNSUPPORTED and
#     leaves the store as it was;
#   - bad input (garbage n/last, unknown digest algorithms, malformed
#     referrers digests, mounts from invalid names) never changes the store;
#   - deleting a manifest an index still refers to: 403 DENIED by default,
#     allowed with delete_force = true.
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq sha256sum openssl
SUITE=$BERTH_TOP/tests/conformance/conformance.sh
berth_start

# run_suite DESC ARGS...: run the suite; each of its FAIL lines is one
# failure here, its passes are counted as passes.  The suite must end with
# its count line, agree with its exit status, and have run enough checks
# that it cannot have stopped half-way.
run_suite() {
	local desc=$1 out=$TRASH/suite.out line p f rc min
	shift
	case " $* " in *" --no-delete "*) min=600 ;; *) min=700 ;; esac
	bash "$SUITE" --cacert "$CACERT" "$@" "$URL" >"$out" 2>&1
	rc=$?
	[ -z "${BERTH_VERBOSE:-}" ] || sed 's/^/#   /' "$out"
	while IFS= read -r line; do
		fail "$desc: ${line#FAIL }"
	done < <(grep '^FAIL ' "$out")
	line=$(tail -n 1 "$out")
	if ! printf '%s' "$line" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
		fail "$desc: ends with its count" "last lines:" "$(tail -n 5 "$out")"
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }; f=${f%% failed}
	N_PASS=$((N_PASS + p))
	N_ASSERT=$((N_ASSERT + p))
	expect_eq "$desc: its count of failures matches its FAIL lines" "$f" "$(grep -c '^FAIL ' "$out")"
	expect_eq "$desc: exit status" "$rc" "$([ "$f" = 0 ] && echo 0 || echo 1)"
	if [ "$p" -ge "$min" ]; then pass "$desc: ran $p checks"
	else fail "$desc: ran at least $min checks" "only $p passed, $f failed"; fi
}

# ---------------------------------------------------------------- the suite

run_suite "conformance.sh"
# Twice against the same registry: every run has a namespace of its own.
run_suite "conformance.sh, again, --namespace t100/second" --namespace t100/second

# The suite's own argument handling.
out=$(bash "$SUITE" 2>&1); rc=$?
expect_eq "conformance.sh without a URL: usage, exit 2" "$rc" 2
out=$(bash "$SUITE" --namespace 'Bad Name' "$URL" 2>&1); rc=$?
expect_eq "conformance.sh with an invalid --namespace: exit 2" "$rc" 2
out=$(bash "$SUITE" --cacert "$CACERT" "https://127.0.0.1:$(berth_free_port)" 2>&1); rc=$?
expect_eq "conformance.sh against nothing: exit 3" "$rc" 3
# Without the CA, TLS fails: the suite says so instead of passing.
out=$(bash "$SUITE" "$URL" 2>&1); rc=$?
expect_eq "conformance.sh without the CA: exit 3" "$rc" 3

# ---------------------------------------------------------------- fixtures

F=$TRASH/fix
mkdir -p "$F"
REPO=t100/deletes
mk_layer "$F/l1.tgz"
mk_layer "$F/l2.tgz"
mk_config "$F/c.json" "$F/l1.tgz" "$F/l2.tgz"
for b in l1.tgz l2.tgz c.json; do ok "setup: push $b" push_blob "$REPO" "$F/$b"; done
mk_image_manifest "$F/m1.json" "$MT_OCI_MANIFEST" "$F/c.json" "$F/l1.tgz"
mk_image_manifest "$F/m2.json" "$MT_OCI_MANIFEST" "$F/c.json" "$F/l2.tgz"
mk_index "$F/idx.json" "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$F/m1.json" "$F/m2.json"
ok "setup: push m1 as v1" push_manifest "$REPO" v1 "$F/m1.json" "$MT_OCI_MANIFEST"
ok "setup: push m2 as v2" push_manifest "$REPO" v2 "$F/m2.json" "$MT_OCI_MANIFEST"
ok "setup: push the index as multi" push_manifest "$REPO" multi "$F/idx.json" "$MT_OCI_INDEX"
D_M1=$(digest_of "$F/m1.json")
D_M2=$(digest_of "$F/m2.json")
D_L1=$(digest_of "$F/l1.tgz")

# ---------------------------------------------------------------- bad input

# None of these may change anything in the store.
printf '{}' >"$F/empty.json"
ok "setup: push the empty descriptor" push_blob "$REPO" "$F/empty.json"
jq --argjson s "{\"mediaType\":\"$MT_OCI_MANIFEST\",\"digest\":\"$D_M1\",\"size\":$(size_of "$F/m1.json")}" \
	'. + {subject: $s}' "$F/m2.json" >"$F/ref.json"
req PUT "/v2/$REPO/manifests/$(digest_of "$F/ref.json")" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$F/ref.json"
expect_status 201
expect_header OCI-Subject "$D_M1"
md5=md5:$(openssl rand -hex 16)
store_mark
for q in n=abc n=-1 n=99999999999999999999 'n=%00' "last=$(printf 'z%.0s' $(seq 400))" 'last=%00' 'n=2&last=..%2F..'; do
	req GET "/v2/$REPO/tags/list?$q"
	case $STATUS in
	200|400) pass "$LAST_REQ: 200 or 400" ;;
	*) fail "$LAST_REQ: 200 or 400" "got $STATUS: $(body_head)" ;;
	esac
	req GET "/v2/_catalog?$q"
	case $STATUS in
	200|400) pass "$LAST_REQ: 200 or 400" ;;
	*) fail "$LAST_REQ: 200 or 400" "got $STATUS: $(body_head)" ;;
	esac
done
req GET "/v2/$REPO/tags/list?n=abc"
expect_error 400 PAGINATION_NUMBER_INVALID
req GET "/v2/_catalog?n=-3"
expect_error 400 PAGINATION_NUMBER_INVALID
for bad in "$md5" sha256:zz "sha256:$(openssl rand -hex 32 | tr a-f A-F)" latest 'sha256:..%2F..'; do
	req GET "/v2/$REPO/referrers/$bad"
	expect_error 400 DIGEST_INVALID
done
req GET "/v2/$REPO/manifests/$md5"
expect_error 400 DIGEST_INVALID
req GET "/v2/$REPO/blobs/$md5"
expect_error 400 DIGEST_INVALID
req DELETE "/v2/$REPO/manifests/$md5"
expect_error 400 DIGEST_INVALID
req DELETE "/v2/$REPO/blobs/$md5"
expect_error 400 DIGEST_INVALID
expect_store_unchanged "garbage n/last, unknown algorithms, malformed referrers digests"

# A mount from an invalid name: a session (202), and no blob linked.
store_mark blobs repos
for from in T100/DELETES "$REPO/../$REPO" "/$REPO" "$REPO%00" "$REPO/" '..' "$(printf 'a%.0s' $(seq 300))"; do
	req POST "/v2/other/target/blobs/uploads/?mount=$D_L1&from=$from"
	expect_status 202
	expect_header_match Location "^$URL/v2/other/target/blobs/uploads/[^/]+$"
done
req HEAD "/v2/other/target/blobs/$D_L1"
expect_status 404
expect_store_unchanged "mounts from invalid repository names link nothing"

# ---------------------------------------------------------------- delete_force = false

# The default: a child of an index in the repository cannot be deleted.
store_mark blobs repos
req DELETE "/v2/$REPO/manifests/$D_M1"
expect_error 403 DENIED
req GET "/v2/$REPO/manifests/$D_M1"
expect_status 200
expect_store_unchanged "a refused DELETE of an index child"

# ---------------------------------------------------------------- delete_enabled = false

berth_conf delete_enabled false
berth_restart_pool
run_suite "conformance.sh --no-delete, delete_enabled = false" --no-delete

store_mark
req DELETE "/v2/$REPO/manifests/$D_M2"
expect_error 405 UNSUPPORTED
req DELETE "/v2/$REPO/manifests/v2"
expect_error 405 UNSUPPORTED
req DELETE "/v2/$REPO/manifests/multi"
expect_error 405 UNSUPPORTED
req DELETE "/v2/$REPO/blobs/$D_L1"
expect_error 405 UNSUPPORTED
req DELETE "/v2/$REPO/manifests/nosuchtag"
expect_error 405 UNSUPPORTED
req DELETE "/v2/$REPO/blobs/sha256:$(openssl rand -hex 32)"
expect_error 405 UNSUPPORTED
expect_store_unchanged "DELETEs with delete_enabled = false"
req GET "/v2/$REPO/manifests/v2" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_header Docker-Content-Digest "$D_M2"
req GET "/v2/$REPO/blobs/$D_L1"
expect_status 200
expect_body_file "$F/l1.tgz"

# ---------------------------------------------------------------- delete_force = true

berth_conf delete_enabled true
berth_conf delete_force true
berth_restart_pool
req DELETE "/v2/$REPO/manifests/$D_M1"
expect_status 202
req GET "/v2/$REPO/manifests/$D_M1"
expect_error 404 MANIFEST_UNKNOWN
req GET "/v2/$REPO/manifests/v1"
expect_error 404 MANIFEST_UNKNOWN
# The index stays, as pushed; its other child too.
req GET "/v2/$REPO/manifests/multi" -H "Accept: $MT_OCI_INDEX"
expect_status 200
expect_body_file "$F/idx.json"
req GET "/v2/$REPO/manifests/v2" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
# The referrer of the deleted manifest is still listed (it was not deleted).
req GET "/v2/$REPO/referrers/$D_M1"
expect_status 200
expect_eq "referrers of the deleted m1 still name its referrer" \
	"$(jq -r '[.manifests[].digest] | join(",")' "$BODY" 2>/dev/null)" "$(digest_of "$F/ref.json")"
req GET "/v2/$REPO/tags/list"
expect_status 200
expect_eq "tags after the forced delete" "$(jq -c .tags "$BODY" 2>/dev/null)" '["multi","v2"]'

test_done
