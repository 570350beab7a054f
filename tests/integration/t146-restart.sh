#!/bin/bash
# t146-restart.sh - a master killed with SIGKILL is replaced at once.
#
# Three times: a slow PATCH (4 s of chunked body at 64 KiB/s) is in flight
# through nginx when the master gets SIGKILL; berthd is started again at
# once, without the harness removing anything (the pid file and the three
# socket files of the dead master are still there, and the upload worker
# finishing the PATCH still holds the old upload socket).  Checked each
# time:
#   - the new master comes up and /v2/ answers within 5 s of the kill;
#   - it took the sockets over (new inodes) and wrote its pid file;
#   - the in-flight PATCH completes with 202 and its whole length, and the
#     upload is finished with a PUT ?digest= (201) and pulled back byte
#     for byte;
#   - `berthctl fsck` is clean.
# And once: a second berthd started while one runs is refused, naming it,
# and leaves the running one's sockets alone.
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
berth_start
CONF=$DATA/berth.conf
PIDFILE=$(berth_conf_get pidfile)
UPSOCK=$(berth_conf_get upload_socket)
W=$TRASH/w; mkdir -p "$W"
now_ms() { date +%s%3N; }
inode() { stat -c %i "$1" 2>/dev/null; }

# A second master while one runs: refused, the first keeps serving.
ino=$(inode "$UPSOCK")
"$BUILD/berthd" -c "$CONF" >"$W/second.log" 2>&1 &
second=$!
berth_track_pid "$second"
for _ in $(seq 1 50); do kill -0 "$second" 2>/dev/null || break; sleep 0.1; done
ok_not "a second berthd exits" kill -0 "$second"
ok "it names the running one" grep -q "berthd $(berth_pool_pid) (pid file" "$W/second.log"
expect_eq "the running one's socket stays" "$(inode "$UPSOCK")" "$ino"
req GET /v2/
expect_status 200

for round in 1 2 3; do
	note "round $round"
	F=$W/blob$round
	mk_random "$F" $((256 * 1024))
	D=$(digest_of "$F")
	req POST /v2/restart/app/blobs/uploads/
	expect_status 202
	LOC=$(hdr Location)
	case $LOC in http*) ;; *) LOC=$URL$LOC ;; esac

	# The slow PATCH, chunked, in the background.
	curl -sS --cacert "$CACERT" --max-time 60 --http1.1 -X PATCH \
		-H 'Transfer-Encoding: chunked' -H 'Content-Type: application/octet-stream' \
		--limit-rate 64K --data-binary @"$F" -D "$W/patch$round.hdrs" -o /dev/null \
		-w '%{http_code}' "$LOC" >"$W/patch$round.code" 2>"$W/patch$round.err" &
	patch=$!
	berth_track_pid "$patch"
	sleep 1

	old=$(berth_pool_pid)
	ino=$(inode "$UPSOCK")
	t0=$(now_ms)
	kill -KILL "$old"
	wait "$old" 2>/dev/null
	# Started again at once, over what the dead master left.
	ok "round $round: the pid file is left behind" test -s "$PIDFILE"
	"$BUILD/berthd" -c "$CONF" >>"$RUN/berthd.log" 2>&1 &
	BERTHD_PID=$!
	up=
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CACERT" --max-time 1 "$URL/v2/")
		if [ "$code" = 200 ] && [ "$(inode "$UPSOCK")" != "$ino" ]; then up=1; break; fi
		kill -0 "$BERTHD_PID" 2>/dev/null || break
		sleep 0.05
	done
	dt=$(($(now_ms) - t0))
	note "round $round: up again after $dt ms"
	ok "round $round: the new master serves" test -n "$up"
	ok "round $round: up within 5 s ($dt ms)" test "$dt" -lt 5000
	expect_eq "round $round: pid file names the new master" "$(cat "$PIDFILE" 2>/dev/null)" "$BERTHD_PID"
	ok "round $round: the takeover is logged" grep -q "taking over from berthd $old" "$RUN/berthd.log"

	wait "$patch"
	expect_eq "round $round: the in-flight PATCH completed" "$(cat "$W/patch$round.code")" 202
	expect_eq "round $round: it holds the whole body" \
		"$(awk -F': ' 'tolower($1) == "range" { sub(/\r$/, "", $2); print $2 }' "$W/patch$round.hdrs")" \
		"0-$((256 * 1024 - 1))"
	req PUT "$LOC$(case $LOC in *\?*) echo '&' ;; *) echo '?' ;; esac)digest=$D"
	expect_status 201
	req GET "/v2/restart/app/blobs/$D"
	expect_status 200
	expect_body_file "$F"
	ok "round $round: berthctl fsck clean" "$BERTHCTL" -c "$CONF" fsck
done

test_done
