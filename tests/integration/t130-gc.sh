#!/bin/bash
# t130-gc.sh - online garbage collection and the store commands of berthctl.
#
#   a. Three curl clients and a skopeo client push images that share two
#      layers (a push that loses a blob to the collector retries, like a real
#      client), two readers pull images pushed before, while `berthctl gc
#      --grace 0` runs over and over.  Then every pushed image pulls back
#      byte-identical, no read of an already-pushed image ever failed, and
#      `berthctl fsck` exits 0.
#   b. gc killed with SIGKILL at random moments over a store full of
#      garbage, then run again: consistent, and every image still pulls.
#   c. Each command (gc, repo, tag, du, uploads, fsck --repair), its
#      errors (unknown repository, bad tag, bad name, another gc running,
#      store unreadable), --help and --json (checked with jq).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd sha256sum python3
BERTHCTL=${BERTHCTL:-$BUILD/berthctl}
berth_start
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
R=$(reg)

ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
"$BERTHCTL" -c "$CONF" gc --help >/dev/null 2>&1 ||
	bail "$BERTHCTL has no gc command (ctl/ctl_store.c not wired into ctl/berthctl.c?)"

# code URL-or-path curl-args...: the status of one request (own files, so
# that concurrent clients do not share lib.sh's $HDRS / $BODY).
code() {
	local u=$1; shift
	case $u in http*) ;; *) u=$URL$u ;; esac
	ccurl --max-time 60 -o /dev/null -w '%{http_code}' "$@" "$u" 2>/dev/null
}

# push_one REPO TAG DIR: blobs (HEAD first, upload when missing, like
# docker/skopeo), then the manifest; 0 when the manifest PUT got 201.
push_one() {
	local repo=$1 tag=$2 dir=$3 f d c
	for f in "$W/shared1.tgz" "$W/shared2.tgz" "$dir/own.tgz" "$dir/config.json"; do
		d=$(digest_of "$f")
		[ "$(code "/v2/$repo/blobs/$d" --head)" = 200 ] && continue
		c=$(code "/v2/$repo/blobs/uploads/?digest=$d" -X POST --data-binary @"$f" \
			-H 'Content-Type: application/octet-stream')
		[ "$c" = 201 ] || return 1
	done
	[ "$(code "/v2/$repo/manifests/$tag" -X PUT -H "Content-Type: $MT_OCI_MANIFEST" \
		--data-binary @"$dir/manifest.json")" = 201 ]
}

mk_image() {
	local dir=$1
	mkdir -p "$dir"
	mk_layer "$dir/own.tgz"
	rm -f "$dir/own.tgz.tar"
	mk_config "$dir/config.json" "$W/shared1.tgz" "$W/shared2.tgz" "$dir/own.tgz"
	mk_image_manifest "$dir/manifest.json" "$MT_OCI_MANIFEST" "$dir/config.json" \
		"$W/shared1.tgz" "$W/shared2.tgz" "$dir/own.tgz"
}

# curl_client N IMAGES: pushes gc/cN%2:cN-i, retrying an image up to 15 times.
curl_client() {
	local n=$1 i try repo=gc/c$(($1 % 2)) dir
	exec >/dev/null 2>&1
	for i in $(seq 1 "$2"); do
		dir=$W/c$n-$i
		mk_image "$dir"
		for try in $(seq 1 15); do
			if push_one "$repo" "c$n-$i" "$dir"; then
				echo "$repo c$n-$i $dir" >>"$W/pushed.$n"
				break
			fi
			echo "$repo c$n-$i" >>"$W/retries.$n"
		done
	done
}

# An OCI layout of a mk_image directory, for skopeo.
mk_layout() {
	local dir=$1 tag=$2 f
	mkdir -p "$dir/layout/blobs/sha256"
	for f in "$W/shared1.tgz" "$W/shared2.tgz" "$dir/own.tgz" "$dir/config.json" "$dir/manifest.json"; do
		cp "$f" "$dir/layout/blobs/sha256/$(digest_of "$f" | cut -d: -f2)"
	done
	printf '{"imageLayoutVersion":"1.0.0"}' >"$dir/layout/oci-layout"
	jq -n --arg d "$(digest_of "$dir/manifest.json")" --argjson s "$(size_of "$dir/manifest.json")" \
		--arg t "$tag" --arg mt "$MT_OCI_MANIFEST" '{schemaVersion: 2, manifests: [{mediaType: $mt,
		digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]}' \
		>"$dir/layout/index.json"
}

skopeo_client() {
	local i try dir
	exec >/dev/null 2>&1
	for i in $(seq 1 "$1"); do
		dir=$W/s-$i
		mk_image "$dir"
		mk_layout "$dir" "s-$i"
		for try in $(seq 1 10); do
			if sko copy --retry-times 2 --dest-cert-dir "$CERTDIR" "oci:$dir/layout:s-$i" \
				"docker://$R/gc/sko:s-$i"; then
				echo "gc/sko s-$i $dir" >>"$W/pushed.s"
				break
			fi
			echo "gc/sko s-$i" >>"$W/retries.s"
		done
	done
}

# same_image REPO TAG DIR: manifest and every blob pull back identical.
same_image() {
	local repo=$1 tag=$2 dir=$3 f
	get_manifest "$repo" "$tag" >"$W/got.$BASHPID" 2>/dev/null &&
		cmp -s "$W/got.$BASHPID" "$dir/manifest.json" || return 1
	for f in "$W/shared1.tgz" "$W/shared2.tgz" "$dir/own.tgz" "$dir/config.json"; do
		[ "$(ccurl -f "$URL/v2/$repo/blobs/$(digest_of "$f")" | sha256_stdin)" = "$(digest_of "$f")" ] || return 1
	done
}

# reader: pulls the images pushed before the run until $W/stop; logs failures.
reader() {
	local line repo tag dir
	exec >/dev/null 2>&1
	while [ ! -e "$W/stop" ]; do
		while read -r repo tag dir; do
			same_image "$repo" "$tag" "$dir" || echo "$repo:$tag" >>"$W/pullfail.$1"
			echo . >>"$W/pulls.$1"
		done <"$W/pushed.base"
	done
}

pushed_count() { cat "$W"/pushed.[0-9s] 2>/dev/null | wc -l; }

gc_loop() {
	local n=0 last=-1 i
	exec >/dev/null 2>&1
	while [ ! -e "$W/stop" ]; do
		# With grace 0 a blob uploaded but not yet named by a manifest is
		# fair game (its push then fails and is retried).  So that the
		# pushes cannot starve however slow the machine is, a run that
		# would follow one with no push through in between waits for one
		# (at most 10 s).
		for i in $(seq 1 100); do
			[ ! -e "$W/stop" ] && [ "$(pushed_count)" -le "$last" ] || break
			sleep 0.1
		done
		last=$(pushed_count)
		ctl gc --grace 0 >>"$W/gc.out" 2>>"$W/gc.err" || echo "exit $?" >>"$W/gc.fail"
		n=$((n + 1))
		echo "$n" >"$W/gc.runs"
		sleep "0.$((RANDOM % 6 + 4))"
	done
}

# ================================================================ a

mk_layer "$W/shared1.tgz"; mk_layer "$W/shared2.tgz"
for i in 1 2 3; do
	mk_image "$W/base$i"
	ok "push base image $i" push_one gc/base "b$i" "$W/base$i"
	echo "gc/base b$i $W/base$i" >>"$W/pushed.base"
done

gc_loop & GCPID=$!; berth_track_pid "$GCPID"
reader 1 & RD1=$!; berth_track_pid "$RD1"
reader 2 & RD2=$!; berth_track_pid "$RD2"
pids=()
for n in 0 1 2; do curl_client "$n" 8 & pids+=($!); done
skopeo_client 4 & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
touch "$W/stop"
wait "$GCPID" "$RD1" "$RD2"

runs=$(cat "$W/gc.runs" 2>/dev/null || echo 0)
pushed=$(cat "$W"/pushed.[0-9s] 2>/dev/null | wc -l)
retries=$(cat "$W"/retries.* 2>/dev/null | wc -l)
pulls=$(cat "$W"/pulls.* 2>/dev/null | wc -l)
say "# $runs gc runs during $pushed pushes ($retries retried after losing a blob to gc), $pulls pulls"
ok "gc ran at least 5 times during the pushes" test "$runs" -ge 5
ok "the readers pulled while gc ran" test "$pulls" -gt 0
ok "no gc run failed" test ! -s "$W/gc.fail"
ok "gc removed something while clients pushed" grep -q 'removed [1-9]' "$W/gc.out"
expect_eq "every image was pushed (24 with curl, 4 with skopeo)" "$pushed" 28
ok "no pull of an image pushed before failed while gc ran" test -z "$(cat "$W"/pullfail.* 2>/dev/null)"
bad=0
while read -r repo tag dir; do
	same_image "$repo" "$tag" "$dir" || { bad=$((bad + 1)); say "#   $repo:$tag differs"; }
done < <(cat "$W"/pushed.*)
expect_eq "every pushed image pulls back byte-identical" "$bad" 0
ok "berthctl fsck exits 0 after the run" ctl fsck

# ================================================================ b

# garbage_blobs N: N small unreferenced blobs written straight into the store.
garbage_blobs() {
	python3 - "$STORE" "$1" "$RANDOM" <<'PY'
import hashlib, os, sys
root, n, salt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    data = ("garbage %s %d" % (salt, i)).encode()
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(root, "blobs", "sha256", h[:2])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
PY
}

killed=0
for round in 1 2 3 4 5 6 7 8; do
	garbage_blobs 1500
	"$BERTHCTL" -c "$CONF" gc --grace 0 >/dev/null 2>&1 & g=$!
	sleep "0.0$((RANDOM % 9 + 1))"
	kill -KILL "$g" 2>/dev/null && killed=$((killed + 1))
	wait "$g" 2>/dev/null
done
say "# killed $killed of 8 collectors mid-run"
ok "fsck right after the kills (nothing referenced is ever moved)" ctl fsck --quick
ok "gc after the kills takes over the lock and finishes" ctl gc --grace 0
ok "no trash left behind" test -z "$(ls -A "$STORE/gc/trash")"
ok "fsck exits 0 after the kills" ctl fsck
bad=0
while read -r repo tag dir; do same_image "$repo" "$tag" "$dir" || bad=$((bad + 1)); done < <(cat "$W"/pushed.*)
expect_eq "every image pulls back after the kills" "$bad" 0

# ================================================================ c

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
	expect_eq "$desc: exit $want" "$RC" "$want"
}

for c in "gc" "repo ls" "repo rm" "tag ls" "tag rm" "du" "uploads ls" "uploads purge" "fsck"; do
	# shellcheck disable=SC2086 # two words for the subcommands
	ctl $c --help >"$W/out" 2>&1
	expect_eq "berthctl $c --help: exit 0" "$?" 0
	ok "berthctl $c --help shows its usage" grep -q "usage: berthctl $c" "$W/out"
done
expect_rc "gc with an unknown option" 2 gc --bogus
expect_rc "gc --grace with a bad duration" 2 gc --grace soon
expect_rc "gc --older-than without --untagged" 2 gc --older-than 7d
expect_rc "repo without subcommand" 2 repo
expect_rc "repo frobnicate" 2 repo frobnicate

# repo ls
expect_rc "repo ls --json" 0 repo ls --json
expect_eq "repo ls --json lists gc/base, gc/c0, gc/c1, gc/sko" \
	"$(jq -c '[.repositories[].name]' <<<"$OUT")" '["gc/base","gc/c0","gc/c1","gc/sko"]'
expect_eq "repo ls --json: gc/base has 3 tags" \
	"$(jq '.repositories[] | select(.name == "gc/base") | .tags' <<<"$OUT")" 3
expect_rc "repo ls" 0 repo ls
ok "repo ls prints a line per repository" grep -q '^gc/sko ' "$W/out"

# tag ls / tag rm
expect_rc "tag ls gc/base --json" 0 tag ls gc/base --json
expect_eq "tag ls --json: tags and digests" "$(jq -c '[.tags[].tag]' <<<"$OUT")" '["b1","b2","b3"]'
expect_eq "tag ls --json: b1's digest" "$(jq -r '.tags[0].digest' <<<"$OUT")" \
	"$(digest_of "$W/base1/manifest.json")"
expect_rc "tag ls of an unknown repository" 1 tag ls no/such/repo
ok "tag ls of an unknown repository says so" grep -q 'repository no/such/repo is not known' "$W/err"
expect_rc "tag ls of a malformed name" 2 tag ls 'Bad..Name'
expect_rc "tag rm gc/base:b3 --json" 0 tag rm gc/base:b3 --json
expect_eq "tag rm --json names the manifest" "$(jq -r .digest <<<"$OUT")" "$(digest_of "$W/base3/manifest.json")"
expect_rc "tag rm of a tag that is gone" 1 tag rm gc/base:b3
ok "tag rm of a missing tag says so" grep -q 'tag b3 is not in repository gc/base' "$W/err"
expect_rc "tag rm of a malformed tag" 2 tag rm 'gc/base:-bad'
expect_rc "tag rm without a tag" 2 tag rm gc/base
expect_rc "tag rm in an unknown repository" 1 tag rm no/such:tag

# gc --dry-run changes nothing; --untagged removes the now untagged b3
store_mark blobs repos
expect_rc "gc --dry-run --untagged --grace 0 --json" 0 gc --dry-run --untagged --grace 0 --json
expect_eq "gc --dry-run --json: dry_run" "$(jq .dry_run <<<"$OUT")" true
expect_eq "gc --dry-run --json: would remove the untagged manifest" \
	"$(jq -r '[.removed[] | select(.kind == "manifest") | .object] | join(" ")' <<<"$OUT")" \
	"gc/base@$(digest_of "$W/base3/manifest.json")"
expect_store_unchanged "gc --dry-run removes nothing"
expect_rc "gc --untagged --grace 0 --json" 0 gc --untagged --grace 0 --json
expect_eq "gc --json: one manifest removed" "$(jq .manifests.removed <<<"$OUT")" 1
ok "gc --json: its own layer removed" jq -e --arg d "$(digest_of "$W/base3/own.tgz")" \
	'[.removed[] | select(.kind == "blob" and .object == $d)] | length == 1' "$W/out"
ok "gc --json: counts and time" jq -e '(.blobs.kept > 0) and (.seconds >= 0) and (.epoch > 0)' "$W/out"
ok "gc --json: shared layers stay" test -f "$(blob_path "$(digest_of "$W/shared1.tgz")")"
req GET "/v2/gc/base/manifests/$(digest_of "$W/base3/manifest.json")"
expect_status 404
expect_rc "gc (text)" 0 gc --grace 0
ok "gc prints what it kept and removed, and the time" grep -q '^took ' "$W/out"

# a second gc while one runs: refused, naming the holder
printf '%s %s %s feedbeef\n' "$(hostname)" "$$" "$(date +%s)" >"$STORE/gc/lock"
expect_rc "gc while another holds gc/lock" 1 gc --grace 0
ok "the refusal names host and pid" grep -q "another gc is running on $(hostname) pid $$ since" "$W/err"
rm -f "$STORE/gc/lock"

# du
expect_rc "du --json" 0 du --json
ok "du --json: deduplication saves the shared layers" \
	jq -e '(.dedup_saved_bytes > 0) and (.total_bytes == .unique_bytes + .dedup_saved_bytes) and (.stored_bytes >= .unique_bytes)' "$W/out"
ok "du --json: bytes per repository" jq -e '[.repositories[] | select(.bytes > 0)] | length == 4' "$W/out"
expect_rc "du" 0 du
ok "du says what deduplication saves" grep -q 'deduplication saves' "$W/out"

# uploads
SESS=$(upload_start gc/up)
expect_rc "uploads ls --json" 0 uploads ls --json
expect_eq "uploads ls --json lists the open session" \
	"$(jq -r '.uploads[] | select(.repository == "gc/up") | .id' <<<"$OUT")" "${SESS##*/}"
expect_rc "uploads purge without --older-than" 2 uploads purge
expect_rc "uploads purge --older-than 1d" 0 uploads purge --older-than 1d --json
expect_eq "uploads purge --older-than 1d keeps a fresh session" "$(jq .removed <<<"$OUT")" 0
sleep 1.2
expect_rc "uploads purge --older-than 0" 0 uploads purge --older-than 0 --json
ok "uploads purge --older-than 0 removes it" jq -e '.removed >= 1' "$W/out"
expect_eq "the session is gone" "$(code "$SESS")" 404

# fsck --repair: a corrupt layer goes to quarantine/, its manifest with it
victim=$(blob_path "$(digest_of "$W/base2/own.tgz")")
echo garbage >"$victim"
expect_rc "fsck finds the corrupt blob" 1 fsck --json
expect_eq "fsck --json: corrupt-blob" "$(jq -r '[.problems[].kind] | unique | join(",")' <<<"$OUT")" corrupt-blob
expect_rc "fsck --repair --json" 0 fsck --repair --json
ok "fsck --repair --json: repairs listed" jq -e '(.repaired >= 2) and (.problem_count == 0) and ([.repairs[].kind] | index("corrupt-blob") != null)' "$W/out"
ok "the corrupt blob is in quarantine/" test -n "$(ls "$STORE/quarantine/")"
expect_rc "fsck after the repair" 0 fsck

# repo rm
expect_rc "repo rm of an unknown repository" 1 repo rm no/such
expect_rc "repo rm of a malformed name" 2 repo rm '/etc'
expect_rc "repo rm gc/c1 --json" 0 repo rm gc/c1 --json
ok "repo rm --json counts what went" jq -e '(.removed == "gc/c1") and (.manifests > 0)' "$W/out"
expect_rc "repo ls after repo rm" 0 repo ls --json
expect_eq "gc/c1 is no longer listed" "$(jq '[.repositories[].name] | index("gc/c1")' <<<"$OUT")" null
expect_rc "gc after repo rm" 0 gc --grace 0 --json
ok "gc after repo rm frees its blobs" jq -e '.blobs.removed > 0' "$W/out"
ok "fsck exits 0 at the end" ctl fsck

# store unreadable
echo "not a directory" >"$W/notastore"
sed "s|^store *=.*|store = $W/notastore|" "$CONF" >"$W/bad.conf"
for c in gc du "repo ls" fsck; do
	# shellcheck disable=SC2086
	"$BERTHCTL" -c "$W/bad.conf" $c >/dev/null 2>"$W/err"
	expect_eq "berthctl $c on an unreadable store: exit 3" "$?" 3
done
ok "the error names the store" grep -q "$W/notastore" "$W/err"

test_done
