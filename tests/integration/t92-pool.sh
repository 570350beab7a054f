#!/bin/bash
# t92-pool.sh - the process model, as a client sees it.
#
#   - SIGHUP while a streamed upload runs and requests run in a loop: no
#     request fails, the upload completes, every worker is replaced (the one
#     streaming leaves once its request is done);
#   - a change of `workers` / `upload_workers` / `token_workers` takes
#     effect on SIGHUP;
#   - SIGTERM with an upload in flight: the upload gets its 201, then the
#     master exits;
#   - a SIGKILLed API worker is respawned (and logged), requests keep working;
#   - more concurrent slow uploads than upload workers: the extra ones wait
#     in the backlog and succeed, while /v2/ and manifest GETs still answer.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd sha256sum
berth_conf workers 2
berth_conf upload_workers 2
berth_start
W=$TRASH/work
mkdir -p "$W"
LOG=$RUN/berthd.log

push_image team/pool v1 "$MT_OCI_MANIFEST" "$W/img" >/dev/null

# count_is POOL N: POOL has exactly N workers (polls up to 15 s).
count_is() {
	local i
	for i in $(seq 1 150); do
		[ "$(pool_workers "$1" | wc -w)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# all_gone PID...: none of them runs any more (polls up to 15 s).
all_gone() {
	local i p alive
	for i in $(seq 1 150); do
		alive=
		for p in "$@"; do [ -d "/proc/$p" ] && alive=1; done
		[ -n "$alive" ] || return 0
		sleep 0.1
	done
	return 1
}

# api_loop FILE: GET /v2/ and a manifest until $W/stop-loop exists, one
# status per line in FILE.
api_loop() {
	local out=$1
	exec 2>/dev/null
	while [ ! -e "$W/stop-loop" ]; do
		ccurl --max-time 30 -o /dev/null -w '%{http_code} /v2/\n' "$URL/v2/" >>"$out"
		ccurl --max-time 30 -o /dev/null -w '%{http_code} manifest\n' \
			-H "Accept: $MT_OCI_MANIFEST" "$URL/v2/team/pool/manifests/v1" >>"$out"
	done
}

# slow_push FILE RATE OUT: a session, one streamed (chunked) PATCH at RATE,
# then PUT ?digest=; writes the PUT's status to OUT ("PATCH <status>" if the
# PATCH failed; its answer is left in OUT.body).
slow_push() {
	local f=$1 rate=$2 out=$3 loc code
	(
		loc=$(upload_start team/pool/up)
		code=$(cat "$f" | ccurl --http1.1 -X PATCH -T - --limit-rate "$rate" -o "$out.body" \
			-w '%{http_code}' -D "$out.hdrs" "$loc")
		[ "$code" = 202 ] || { echo "PATCH $code"; exit 1; }
		loc=$(HDRS=$out.hdrs hdr Location)
		case $loc in http*) ;; *) loc=$URL$loc ;; esac
		case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
		ccurl -X PUT -o /dev/null -w '%{http_code}' "${loc}digest=$(digest_of "$f")"
	) >"$out" 2>/dev/null
}

# slow_mono FILE RATE OUT: monolithic POST ?digest= streamed at RATE.
slow_mono() {
	ccurl -X POST -T - --limit-rate "$2" -H "Content-Length: $(size_of "$1")" \
		-o "$3.body" -w '%{http_code}' \
		"$URL/v2/team/pool/up/blobs/uploads/?digest=$(digest_of "$1")" <"$1" >"$3" 2>/dev/null
}

# expect_code DESC FILE WANT: the status written to FILE by slow_push or
# slow_mono; on failure shows the answer's body.
expect_code() {
	local got
	got=$(cat "$2" 2>/dev/null)
	if [ "$got" = "$3" ]; then pass "$1"
	else fail "$1" "got: $got, want: $3" "body: $(head -c 300 "$2.body" 2>/dev/null)"; fi
}

expect_loop_clean() {
	local n bad
	n=$(wc -l <"$1")
	bad=$(grep -vc '^200 ' "$1")
	if [ "$n" -gt 0 ] && [ "$bad" = 0 ]; then
		pass "$2: $n requests, all 200"
	else
		fail "$2: all requests 200" "$bad of $n failed: $(grep -v '^200 ' "$1" | sort | uniq -c | tr '\n' ';')"
	fi
}

# ================================================================ SIGHUP

head -c $((6 * 1024 * 1024)) /dev/urandom >"$W/hup.bin"
rm -f "$W/stop-loop"
api_loop "$W/hup.loop" &
LOOP=$!
berth_track_pid "$LOOP"
slow_push "$W/hup.bin" 1500k "$W/hup.code" &
UP=$!
berth_track_pid "$UP"
sleep 1.5
OLD=$(berth_worker_pids)
berth_reload
ok "SIGHUP: a new generation of 2 api workers" wait_respawned api 2 $OLD
ok "SIGHUP: a new generation of 2 upload workers" wait_respawned upload 2 $OLD
ok "SIGHUP: a new generation of 2 token workers" wait_respawned token 2 $OLD
wait "$UP"
expect_code "upload streamed across SIGHUP: PUT 201" "$W/hup.code" 201
if [ "$(cat "$W/hup.code")" = 201 ]; then
	expect_eq "upload streamed across SIGHUP: blob reads back" \
		"$(ccurl "$URL/v2/team/pool/up/blobs/$(digest_of "$W/hup.bin")" | sha256_stdin)" "$(digest_of "$W/hup.bin")"
fi
sleep 0.5
touch "$W/stop-loop"
wait "$LOOP"
expect_loop_clean "$W/hup.loop" "requests during SIGHUP"
ok "old workers all left after SIGHUP" all_gone $OLD
NEW=" $(berth_worker_pids) "
same=0
for p in $OLD; do case $NEW in *" $p "*) same=$((same + 1)) ;; esac; done
expect_eq "no worker of the old generation remains" "$same" 0
ok "reload logged" grep -q 'reloaded .*2 api, 2 upload and 2 token workers' "$LOG"

# ================================================================ workers on SIGHUP

berth_conf workers 3
berth_conf upload_workers 1
berth_conf token_workers 1
berth_reload
ok "workers = 3 on SIGHUP: 3 api workers" count_is api 3
ok "upload_workers = 1 on SIGHUP: 1 upload worker" count_is upload 1
ok "token_workers = 1 on SIGHUP: 1 token worker" count_is token 1
ok "reload logged with the new sizes" grep -q 'reloaded .*3 api, 1 upload and 1 token workers' "$LOG"
req GET /v2/
expect_status 200
ok "an upload works with one upload worker" push_blob team/pool/up "$W/img/config.json"
berth_conf workers 2
berth_conf upload_workers 2
berth_conf token_workers 2
berth_reload
ok "back to 2 api workers" count_is api 2
ok "back to 2 upload workers" count_is upload 2
ok "back to 2 token workers" count_is token 2

# ================================================================ SIGTERM

head -c $((4 * 1024 * 1024)) /dev/urandom >"$W/term.bin"
slow_mono "$W/term.bin" 1M "$W/term.code" &
UP=$!
berth_track_pid "$UP"
sleep 1.5
MASTER=$(berth_pool_pid)
kill -TERM "$MASTER"
sleep 0.5
ok "master still runs while the upload is in flight" test -d "/proc/$MASTER"
wait "$UP"
expect_code "upload in flight at SIGTERM: 201" "$W/term.code" 201
ok "master exits after the upload" all_gone "$MASTER"
berth_stop_pool TERM
ok "the log says it stopped" grep -q 'stopped' "$LOG"
berth_start_pool
berth_wait_ready
if [ "$(cat "$W/term.code")" = 201 ]; then
	req HEAD "/v2/team/pool/up/blobs/$(digest_of "$W/term.bin")"
	expect_status 200
	expect_header Content-Length "$(size_of "$W/term.bin")"
fi

# ================================================================ dead API worker

V=$(pool_workers api | head -n 1)
kill -KILL "$V"
berth_wait_gone "$V"
ok "killed api worker $V is respawned" wait_respawned api 2 "$V"
ok "the master logs it" grep -q "api worker $V was killed by signal 9; respawning" "$LOG"
for i in 1 2 3 4; do
	req GET /v2/team/pool/manifests/v1 -H "Accept: $MT_OCI_MANIFEST"
	expect_status 200
done
expect_body_file "$W/img/manifest.json"

# ================================================================ backlog

# 4 uploads of 3 MiB at 1 MiB/s on 2 upload workers.
for k in 1 2 3 4; do head -c $((3 * 1024 * 1024)) /dev/urandom >"$W/bl.$k"; done
UPS=()
for k in 1 2 3 4; do
	if [ $((k % 2)) = 0 ]; then slow_push "$W/bl.$k" 1M "$W/bl.$k.code" &
	else slow_mono "$W/bl.$k" 1M "$W/bl.$k.code" & fi
	UPS+=($!)
	berth_track_pid "$!"
done
sleep 1
busy=0
for p in $(pool_workers upload); do
	for fd in /proc/"$p"/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in
		"$STORE/uploads/"*) busy=$((busy + 1)); break ;;
		esac
	done
done
expect_eq "both upload workers busy" "$busy" 2
rm -f "$W/stop-loop"
api_loop "$W/bl.loop" &
LOOP=$!
berth_track_pid "$LOOP"
sleep 2
touch "$W/stop-loop"
wait "$LOOP"
expect_loop_clean "$W/bl.loop" "API requests while every upload worker is busy"
wait "${UPS[@]}"
for k in 1 2 3 4; do
	expect_code "upload $k of 4 on 2 workers: 201" "$W/bl.$k.code" 201
	expect_eq "upload $k of 4: blob reads back" \
		"$(ccurl "$URL/v2/team/pool/up/blobs/$(digest_of "$W/bl.$k")" | sha256_stdin)" "$(digest_of "$W/bl.$k")"
done

test_done
