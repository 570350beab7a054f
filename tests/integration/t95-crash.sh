#!/bin/bash
# t95-crash.sh - uploads survive dead workers; the store survives SIGKILL.
#
#   a. A chunked upload whose first chunk was served by worker X goes on
#      after X is SIGKILLed (X found by the session file it holds open while
#      the chunk streams), and after every upload worker is SIGKILLed.
#   b. A PATCH killed mid-stream: the client asks the session's status, gets
#      the committed Range, sends the rest from there and finishes.
#   c. Rounds of concurrent uploads and manifest PUTs with the whole pool
#      (master and workers) SIGKILLed at a random moment, restarted each
#      time; then `berthctl fsck` must find nothing wrong, every blob file
#      must hash to its name, and everything that got a 201 must be
#      readable with the right digest.
#   d. Two clients pushing the same blob, and the same tag, at once: both
#      succeed and the result is one of them, whole.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd sha256sum
berth_conf upload_workers 4
berth_start
W=$TRASH/work
mkdir -p "$W"
LOG=$RUN/berthd.log
BERTHCTL=$BUILD/berthctl

# Header NAME from a header file.
fhdr() { HDRS=$1 hdr "$2"; }

# new_session REPO: POST; sets SESS_URL (absolute) and SESS_ID.
new_session() {
	req POST "/v2/$1/blobs/uploads/"
	expect_status 202
	SESS_ID=$(hdr Docker-Upload-UUID)
	SESS_URL=$(hdr Location)
	case $SESS_URL in http*) ;; *) SESS_URL=$URL$SESS_URL ;; esac
}

# put_url URL DIGEST: URL with ?digest= (or &digest=) added.
put_url() { case $1 in *\?*) echo "$1&digest=$2" ;; *) echo "$1?digest=$2" ;; esac; }

# ================================================================ a

head -c $((4 * 1024 * 1024)) /dev/urandom >"$W/a1"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$W/a2"
head -c $((1024 * 1024 + 17)) /dev/urandom >"$W/a3"
cat "$W/a1" "$W/a2" "$W/a3" >"$W/a.all"
A_DIGEST=$(digest_of "$W/a.all")
S1=$(size_of "$W/a1"); S2=$(size_of "$W/a2"); S3=$(size_of "$W/a3")
NUP=$(pool_workers upload | wc -w)
expect_eq "upload pool has 4 workers" "$NUP" 4

# a1: kill exactly the worker that took the first chunk.
new_session crash/a/one
# Slow enough (2 s) to see which worker holds the session's files.
ccurl -X PATCH --limit-rate 2M -T - <"$W/a1" -o /dev/null -D "$W/a1.hdrs" -w '%{http_code}' \
	-H "Content-Range: 0-$((S1 - 1))" -H "Content-Length: $S1" \
	-H 'Content-Type: application/octet-stream' "$SESS_URL" >"$W/a1.code" &
cpid=$!
X=
for i in $(seq 1 100); do
	X=$(upload_holder "$SESS_ID")
	[ -z "$X" ] || break
	sleep 0.05
done
wait "$cpid"
expect_eq "PATCH chunk 1 (Content-Range 0-$((S1 - 1))): 202" "$(cat "$W/a1.code")" 202
expect_eq "PATCH chunk 1: Range" "$(fhdr "$W/a1.hdrs" Range)" "0-$((S1 - 1))"
if [ -n "$X" ]; then
	pass "found the upload worker that served chunk 1 (pid $X)"
	kill -KILL "$X"
	berth_wait_gone "$X"
	ok "worker $X is respawned" wait_respawned upload "$NUP" "$X"
	ok "the master logs the dead worker" grep -q "upload worker $X was killed by signal 9" "$LOG"
else
	fail "found the upload worker that served chunk 1" "no worker held $STORE/uploads/$SESS_ID/"
fi
loc=$(fhdr "$W/a1.hdrs" Location)
case $loc in http*) ;; *) loc=$URL$loc ;; esac
req PATCH "$loc" -T - <"$W/a2" -H "Content-Range: $S1-$((S1 + S2 - 1))" \
	-H "Content-Length: $S2" -H 'Content-Type: application/octet-stream'
expect_status 202
expect_header Range "0-$((S1 + S2 - 1))"
loc=$(hdr Location)
case $loc in http*) ;; *) loc=$URL$loc ;; esac
req PUT "$(put_url "$loc" "$A_DIGEST")" -T - <"$W/a3" \
	-H "Content-Range: $((S1 + S2))-$((S1 + S2 + S3 - 1))" -H "Content-Length: $S3" \
	-H 'Content-Type: application/octet-stream'
expect_status 201
expect_header Docker-Content-Digest "$A_DIGEST"
expect_eq "GET the blob continued after its worker died" \
	"$(ccurl "$URL/v2/crash/a/one/blobs/$A_DIGEST" | sha256_stdin)" "$A_DIGEST"

# a2: kill every upload worker between the chunks.
new_session crash/a/two
req PATCH "$SESS_URL" -T - <"$W/a1" -H "Content-Range: 0-$((S1 - 1))" -H "Content-Length: $S1"
expect_status 202
loc=$(hdr Location); case $loc in http*) ;; *) loc=$URL$loc ;; esac
dead=$(pool_workers upload)
kill -KILL $dead
berth_wait_gone $dead
ok "all upload workers respawned" wait_respawned upload "$NUP" $dead
req PATCH "$loc" -T - <"$W/a2" -H "Content-Range: $S1-$((S1 + S2 - 1))" -H "Content-Length: $S2"
expect_status 202
expect_header Range "0-$((S1 + S2 - 1))"
loc=$(hdr Location); case $loc in http*) ;; *) loc=$URL$loc ;; esac
# Out of order after the respawn: 416 with the current Range.
req PATCH "$loc" -T - <"$W/a3" -H "Content-Range: 0-$((S3 - 1))" -H "Content-Length: $S3"
expect_status 416
expect_header Range "0-$((S1 + S2 - 1))"
req PUT "$(put_url "$loc" "$A_DIGEST")" -T - <"$W/a3" -H "Content-Length: $S3"
expect_status 201
expect_header Docker-Content-Digest "$A_DIGEST"
req HEAD "/v2/crash/a/two/blobs/$A_DIGEST"
expect_status 200
expect_header Content-Length "$((S1 + S2 + S3))"

# ================================================================ b

head -c $((2 * 1024 * 1024)) /dev/urandom >"$W/b1"
head -c $((6 * 1024 * 1024)) /dev/urandom >"$W/b2"
cat "$W/b1" "$W/b2" >"$W/b.all"
B_DIGEST=$(digest_of "$W/b.all")
B_SIZE=$(size_of "$W/b.all")
new_session crash/b
req PATCH "$SESS_URL" -T - <"$W/b1" -H "Content-Length: $(size_of "$W/b1")"
expect_status 202
loc=$(hdr Location); case $loc in http*) ;; *) loc=$URL$loc ;; esac
# The rest streamed slowly (6 s), no length (chunked), killed after ~2 s.
cat "$W/b2" | ccurl --http1.1 -X PATCH --limit-rate 1M -T - -o /dev/null \
	-w '%{http_code}' -H 'Content-Type: application/octet-stream' "$loc" >"$W/b.code" 2>/dev/null &
cpid=$!
sleep 2
Y=$(upload_holder "$SESS_ID")
if [ -n "$Y" ]; then
	pass "found the worker streaming the PATCH (pid $Y)"
	kill -KILL "$Y"
else
	fail "found the worker streaming the PATCH" "no worker held $STORE/uploads/$SESS_ID/"
fi
wait "$cpid"
code=$(cat "$W/b.code")
case $code in 202|201) fail "killed PATCH did not succeed" "got $code" ;;
*) pass "killed PATCH did not succeed (status ${code:-none})" ;;
esac
req GET "$loc"
expect_status 204
range=$(hdr Range)
end=${range#0-}
note "committed after the kill: $range"
case $end in
''|*[!0-9]*) fail "status Range after the kill is 0-N" "got '$range'" ; end=$((2 * 1024 * 1024 - 1)) ;;
*)
	if [ "$end" -ge $((2 * 1024 * 1024 - 1)) ] && [ "$end" -lt "$B_SIZE" ]; then
		pass "status Range after the kill keeps the first chunk ($range)"
	else
		fail "status Range after the kill keeps the first chunk" "got $range"
	fi ;;
esac
tail -c +$((end + 2)) "$W/b.all" >"$W/b.rest"
req PATCH "$loc" -T - <"$W/b.rest" -H "Content-Range: $((end + 1))-$((B_SIZE - 1))" \
	-H "Content-Length: $(size_of "$W/b.rest")"
expect_status 202
expect_header Range "0-$((B_SIZE - 1))"
loc=$(hdr Location); case $loc in http*) ;; *) loc=$URL$loc ;; esac
req PUT "$(put_url "$loc" "$B_DIGEST")"
expect_status 201
expect_eq "GET the blob resumed after a killed PATCH" \
	"$(ccurl "$URL/v2/crash/b/blobs/$B_DIGEST" | sha256_stdin)" "$B_DIGEST"

# ================================================================ c

# crash_client N: pushes small images until $W/stop exists.  Records what
# got a 201 in $W/ok.N ("blob REPO DIGEST", "manifest REPO TAG DIGEST") and
# every manifest PUT to the shared tag "latest" it tried ("latest REPO DIGEST").
crash_client() {
	local n=$1 i=0 repo f d cd md code loc size mode tag h
	local cf=$W/c$n cur
	exec >/dev/null 2>&1
	while [ ! -e "$W/stop" ]; do
		i=$((i + 1))
		repo=crash/c/r$((i % 2))
		f=$cf.layer
		size=$(( (RANDOM * 37 + RANDOM) % (1536 * 1024) + 1 ))
		head -c "$size" /dev/urandom >"$f"
		d=$(digest_of "$f")
		mode=$(( (n + i) % 3 ))
		code=
		case $mode in
		0)	# monolithic
			code=$(ccurl --max-time 20 -X POST -T - <"$f" -H "Content-Length: $size" -o /dev/null \
				-w '%{http_code}' "$URL/v2/$repo/blobs/uploads/?digest=$d") ;;
		*)	# session: one streamed PATCH (mode 1) or two Content-Range chunks (2)
			loc=$(ccurl --max-time 20 -X POST -o /dev/null -D - "$URL/v2/$repo/blobs/uploads/" |
				awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }')
			[ -n "$loc" ] || continue
			if [ $mode = 1 ]; then
				cat "$f" | ccurl --max-time 20 --http1.1 -X PATCH -T - -o /dev/null -D "$cf.h" "$loc" || continue
			else
				h=$((size / 2))
				head -c "$h" "$f" | ccurl --max-time 20 -X PATCH -T - -H "Content-Length: $h" \
					-H "Content-Range: 0-$((h - 1))" -o /dev/null -D "$cf.h" "$loc" || continue
				loc=$(HDRS=$cf.h hdr Location)
				tail -c +$((h + 1)) "$f" | ccurl --max-time 20 -X PATCH -T - \
					-H "Content-Length: $((size - h))" -H "Content-Range: $h-$((size - 1))" \
					-o /dev/null -D "$cf.h" "$loc" || continue
			fi
			loc=$(HDRS=$cf.h hdr Location)
			[ -n "$loc" ] || continue
			code=$(ccurl --max-time 20 -X PUT -o /dev/null -w '%{http_code}' "$(put_url "$loc" "$d")") ;;
		esac
		[ "$code" = 201 ] || continue
		echo "blob $repo $d" >>"$W/ok.$n"

		printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]},"n":"%s-%s-%s"}' \
			"$d" "$n" "$i" "$RANDOM" >"$cf.config"
		cd=$(digest_of "$cf.config")
		code=$(ccurl --max-time 20 -X POST --data-binary @"$cf.config" -o /dev/null -w '%{http_code}' \
			-H 'Content-Type: application/octet-stream' "$URL/v2/$repo/blobs/uploads/?digest=$cd")
		[ "$code" = 201 ] || continue
		echo "blob $repo $cd" >>"$W/ok.$n"

		printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
			"$MT_OCI_MANIFEST" "$cd" "$(size_of "$cf.config")" "$d" "$size" >"$cf.manifest"
		md=$(digest_of "$cf.manifest")
		tag=c$n-$i
		[ $((i % 3)) = 0 ] && tag=latest
		[ "$tag" = latest ] && echo "latest $repo $md" >>"$W/tried.$n"
		code=$(ccurl --max-time 20 -X PUT --data-binary @"$cf.manifest" -o /dev/null -w '%{http_code}' \
			-H "Content-Type: $MT_OCI_MANIFEST" "$URL/v2/$repo/manifests/$tag")
		# A 201 on "latest" only promises the manifest (others move the tag).
		if [ "$code" = 201 ]; then
			if [ "$tag" = latest ]; then echo "manifest $repo $md $md" >>"$W/ok.$n"
			else echo "manifest $repo $tag $md" >>"$W/ok.$n"; fi
		fi
		# Sometimes the same manifest by digest as well.
		if [ $((i % 4)) = 1 ]; then
			code=$(ccurl --max-time 20 -X PUT --data-binary @"$cf.manifest" -o /dev/null -w '%{http_code}' \
				-H "Content-Type: $MT_OCI_MANIFEST" "$URL/v2/$repo/manifests/$md")
			[ "$code" = 201 ] && echo "manifest $repo $md $md" >>"$W/ok.$n"
		fi
	done
}

rm -f "$W/stop"
NCLIENTS=4
CPIDS=()
for n in $(seq 1 $NCLIENTS); do
	crash_client "$n" &
	CPIDS+=($!)
	berth_track_pid "$!"
done
ROUNDS=5
for round in $(seq 1 $ROUNDS); do
	# 1.0 .. 3.9 s of traffic, then the whole pool dies at once.
	sleep "$((1 + RANDOM % 3)).$((RANDOM % 10))"
	berth_kill_pool
	note "round $round: pool killed"
	sleep 0.3
	berth_start_pool
	berth_wait_ready
done
sleep 1
touch "$W/stop"
for p in "${CPIDS[@]}"; do wait "$p"; done
cat "$W"/ok.* 2>/dev/null | sort -u >"$W/ok"
cat "$W"/tried.* 2>/dev/null | sort -u >"$W/tried"
nblobs=$(grep -c '^blob ' "$W/ok")
nman=$(grep -c '^manifest ' "$W/ok")
say "# $TEST_FILE: $ROUNDS pool kills; $nblobs blobs and $nman manifests acknowledged with 201"
if [ "$nblobs" -gt 10 ] && [ "$nman" -gt 3 ]; then
	pass "clients got work done between the kills"
else
	fail "clients got work done between the kills" "$nblobs blobs, $nman manifests"
fi

# The scan: exit 0 and nothing reported.
if "$BERTHCTL" -c "$DATA/berth.conf" fsck >"$W/fsck.out" 2>&1; then
	pass "berthctl fsck after $ROUNDS pool kills: exit 0"
else
	fail "berthctl fsck after $ROUNDS pool kills: exit 0" "$(head -n 8 "$W/fsck.out")"
fi
"$BERTHCTL" -c "$DATA/berth.conf" fsck --json >"$W/fsck.json" 2>/dev/null
note "fsck --json: $(head -c 300 "$W/fsck.json")"

# Independently of fsck: every published blob hashes to its name.
bad=0; nfiles=0
while read -r sum path; do
	nfiles=$((nfiles + 1))
	[ "$sum" = "$(basename "$path")" ] || { bad=$((bad + 1)); say "# corrupt blob file: $path"; }
done < <(find "$STORE/blobs/sha256" -type f -print0 | xargs -0 -r sha256sum)
expect_eq "every blob file hashes to its name ($nfiles files)" "$bad" 0

# Everything acknowledged is readable and right.
bad=0
while read -r kind repo a b; do
	case $kind in
	blob)
		got=$(ccurl "$URL/v2/$repo/blobs/$a" | sha256_stdin)
		[ "$got" = "$a" ] || { bad=$((bad + 1)); say "# blob $repo $a: GET gives $got"; } ;;
	manifest)
		ccurl -D "$W/m.hdrs" -o "$W/m.body" -H "Accept: $MT_OCI_MANIFEST" "$URL/v2/$repo/manifests/$a"
		got=$(sha256_stdin <"$W/m.body")
		if [ "$got" != "$b" ] || [ "$(fhdr "$W/m.hdrs" Docker-Content-Digest)" != "$b" ]; then
			bad=$((bad + 1)); say "# manifest $repo:$a: GET gives $got, want $b"
		fi ;;
	esac
done <"$W/ok"
expect_eq "every blob and manifest acknowledged with 201 reads back right" "$bad" 0

# Every tag resolves, and "latest" names one of the manifests pushed to it.
bad=0
for repo in crash/c/r0 crash/c/r1; do
	for tag in $(ccurl "$URL/v2/$repo/tags/list" | jq -r '.tags[]?'); do
		ccurl -D "$W/m.hdrs" -o "$W/m.body" -H "Accept: $MT_OCI_MANIFEST" "$URL/v2/$repo/manifests/$tag"
		got=$(sha256_stdin <"$W/m.body")
		if [ "$(fhdr "$W/m.hdrs" Docker-Content-Digest)" != "$got" ]; then
			bad=$((bad + 1)); say "# $repo:$tag: body $got, header $(fhdr "$W/m.hdrs" Docker-Content-Digest)"
		elif [ "$tag" = latest ] && ! grep -qx "latest $repo $got" "$W/tried"; then
			bad=$((bad + 1)); say "# $repo:latest names $got, which nobody pushed to it"
		fi
	done
done
expect_eq "every tag listed resolves to a whole manifest" "$bad" 0

# ================================================================ d

# Same blob, twice at once, monolithic and by session.  (Never a bare
# `wait`: berthd and nginx are children of this shell too.)
head -c $((12 * 1024 * 1024)) /dev/urandom >"$W/d.blob"
D=$(digest_of "$W/d.blob")
DS=$(size_of "$W/d.blob")
DP=()
for k in 1 2; do
	ccurl -X POST -T - <"$W/d.blob" -H "Content-Length: $DS" -o /dev/null -w '%{http_code}' \
		"$URL/v2/crash/d/blobs/uploads/?digest=$D" >"$W/d.mono.$k" &
	DP+=($!)
done
wait "${DP[@]}"
expect_eq "same blob pushed monolithic twice at once: both 201" \
	"$(cat "$W/d.mono.1") $(cat "$W/d.mono.2")" "201 201"
DP=()
for k in 1 2; do
	(
		loc=$(upload_start crash/d2)
		cat "$W/d.blob" | ccurl --http1.1 -X PATCH -T - -o /dev/null -D "$W/d.h.$k" "$loc"
		loc=$(HDRS=$W/d.h.$k hdr Location)
		case $loc in http*) ;; *) loc=$URL$loc ;; esac
		ccurl -X PUT -o /dev/null -w '%{http_code}' "$(put_url "$loc" "$D")"
	) >"$W/d.sess.$k" 2>/dev/null &
	DP+=($!)
done
wait "${DP[@]}"
expect_eq "same blob pushed by two sessions at once: both 201" \
	"$(cat "$W/d.sess.1") $(cat "$W/d.sess.2")" "201 201"
for r in crash/d crash/d2; do
	expect_eq "$r: the blob reads back whole" "$(ccurl "$URL/v2/$r/blobs/$D" | sha256_stdin)" "$D"
done

# Same tag, two different manifests at once, a few times.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/d.config"
push_blob crash/d "$W/d.config" >/dev/null
both_ok=0; whole=0
for round in 1 2 3 4 5; do
	DP=()
	for k in 1 2; do
		printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}],"annotations":{"client":"%s-%s"}}' \
			"$MT_OCI_MANIFEST" "$(digest_of "$W/d.config")" "$(size_of "$W/d.config")" \
			"$D" "$DS" "$k" "$round" >"$W/d.m$k"
	done
	for k in 1 2; do
		ccurl -X PUT --data-binary @"$W/d.m$k" -o /dev/null -w '%{http_code}' \
			-H "Content-Type: $MT_OCI_MANIFEST" "$URL/v2/crash/d/manifests/same" >"$W/d.t$k" &
		DP+=($!)
	done
	wait "${DP[@]}"
	[ "$(cat "$W/d.t1") $(cat "$W/d.t2")" = "201 201" ] && both_ok=$((both_ok + 1))
	ccurl -o "$W/d.got" -H "Accept: $MT_OCI_MANIFEST" "$URL/v2/crash/d/manifests/same"
	if cmp -s "$W/d.got" "$W/d.m1" || cmp -s "$W/d.got" "$W/d.m2"; then whole=$((whole + 1)); fi
done
expect_eq "same tag pushed by two clients at once: both 201 (5 rounds)" "$both_ok" 5
expect_eq "same tag: the tag names one of the two manifests, whole (5 rounds)" "$whole" 5

# And the store is still consistent.
if "$BERTHCTL" -c "$DATA/berth.conf" fsck >"$W/fsck2.out" 2>&1; then
	pass "berthctl fsck at the end: exit 0"
else
	fail "berthctl fsck at the end: exit 0" "$(head -n 8 "$W/fsck2.out")"
fi

test_done
