#!/bin/bash
# t141-upload-pool.sh - the upload pool grows under load, shrinks when idle,
# and one client cannot take it.
#
# berth.conf: upload_workers_min 2, upload_workers 10, upload_idle_timeout 3,
# upload_client_workers 3, auth = token (alice and bob, local users).
# Slow uploads are chunked PATCHes fed a few KiB a second (upload_min_rate 0,
# so only the limits under test apply).  Clients get distinct source
# addresses from 127.0.0.0/8 (curl --interface), which nginx hands the
# worker as REMOTE_ADDR.
#   - at rest the pool runs 2 workers;
#   - 3 slow uploads by alice from 127.0.0.2: the pool grows beyond them
#     (idle spares), a 4th upload from that address answers 429
#     TOOMANYREQUESTS with Retry-After at once, naming the address;
#   - bob pushes a blob from 127.0.0.3 meanwhile: 201 in under 3 s;
#   - alice from another address (127.0.0.4) is refused too: the limit is
#     per user as well; bob from 127.0.0.2 is refused (per address);
#   - 12 slow uploads from 12 addresses: the pool grows to 10 and no more,
#     the 2 beyond wait in the backlog and all 12 finish with 201;
#   - once all is idle the pool shrinks back to 2 within a few seconds;
#   - a killed upload worker gives its place back (the master clears its
#     claim): the client's next upload is admitted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd curl jq sha256sum
BERTHCTL=$BUILD/berthctl
BERTH_AUTH=token
berth_conf upload_workers_min 2
berth_conf upload_workers 10
berth_conf upload_idle_timeout 3
berth_conf upload_client_workers 3
berth_conf upload_min_rate 0
berth_setup
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
cat >"$DATA/auth/policy" <<'EOF'
authenticated      **             pull,push
EOF
printf 'alice-Pw-1\n' | ctl user add alice --password-stdin >/dev/null || bail "user add alice"
printf 'bob-Pw-2\n' | ctl user add bob --password-stdin >/dev/null || bail "user add bob"
berth_start

# token USER PASS: a push token for pool/*.
token() {
	ccurl -G -u "$1:$2" "$URL/token" --data-urlencode "service=berth" \
		--data-urlencode "scope=repository:pool/x:pull,push" | jq -r .token
}
TA=$(token alice alice-Pw-1)
TB=$(token bob bob-Pw-2)
[ -n "$TA" ] && [ "$TA" != null ] && [ -n "$TB" ] || bail "no tokens"

# start_session TOKEN: Location of a new upload session in pool/x.
start_session() {
	ccurl -X POST -H "Authorization: Bearer $1" -o /dev/null -D - "$URL/v2/pool/x/blobs/uploads/" |
		awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }'
}

# slow_patch TOKEN ADDR SECONDS OUT: PATCH 4 KiB a second for SECONDS from
# source address ADDR, in the background; the status goes to OUT.
slow_patch() {
	local tok=$1 addr=$2 secs=$3 out=$4 loc
	loc=$(start_session "$tok")
	(
		for _ in $(seq 1 "$secs"); do head -c 4096 /dev/urandom; sleep 1; done |
			ccurl --interface "$addr" -X PATCH -H "Authorization: Bearer $tok" \
				-H "Content-Type: application/octet-stream" -T - \
				-o "$out.body" -w '%{http_code}\n' "$loc" >"$out" 2>/dev/null
	) &
	berth_track_pid $!
}

upload_count() { pool_workers upload | wc -w; }

# wait_count OP N SECS: the pool's size OP N (-ge, -le, -eq) within SECS.
wait_count() {
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(upload_count)" "$1" "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

ok "at rest the upload pool runs upload_workers_min (2) workers" wait_count -eq 2 10

for i in 1 2 3; do slow_patch "$TA" 127.0.0.2 10 "$W/a$i"; done
ok "3 slow uploads: the pool grows beyond 3 (spares kept ready)" wait_count -ge 5 5

# wait until the three hold their workers (their first bytes went through)
sleep 2
loc=$(start_session "$TA")
t0=$(date +%s%N)
code=$(head -c 1000 /dev/urandom | ccurl --interface 127.0.0.2 -X PATCH -H "Authorization: Bearer $TA" \
	-H "Content-Type: application/octet-stream" --data-binary @- -D "$W/h4" -o "$W/b4" \
	-w '%{http_code}' "$loc")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a 4th upload from the same address: 429" "$code" 429
expect_eq "... with code TOOMANYREQUESTS" "$(jq -r '.errors[0].code' "$W/b4")" TOOMANYREQUESTS
ok "... naming the address" grep -q '127.0.0.2' "$W/b4"
ok "... with Retry-After" grep -qi '^retry-after: [0-9]' "$W/h4"
ok "... at once (${ms} ms)" test "$ms" -lt 2000

# bob, elsewhere, pushes a blob while alice's three run.
head -c 300000 /dev/urandom >"$W/blob"
dg=sha256:$(sha256sum "$W/blob" | cut -d' ' -f1)
t0=$(date +%s%N)
code=$(ccurl --interface 127.0.0.3 -X POST -H "Authorization: Bearer $TB" \
	-H "Content-Type: application/octet-stream" --data-binary @"$W/blob" -o /dev/null \
	-w '%{http_code}' "$URL/v2/pool/x/blobs/uploads/?digest=$dg")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "bob pushes a blob from another address meanwhile: 201" "$code" 201
ok "... in under 3 s (${ms} ms)" test "$ms" -lt 3000

loc=$(start_session "$TA")
code=$(head -c 1000 /dev/urandom | ccurl --interface 127.0.0.4 -X PATCH -H "Authorization: Bearer $TA" \
	-H "Content-Type: application/octet-stream" --data-binary @- -o "$W/b5" -w '%{http_code}' "$loc")
expect_eq "alice from another address is refused too (per user): 429" "$code" 429
ok "... naming the user" grep -q 'alice' "$W/b5"
loc=$(start_session "$TB")
code=$(head -c 1000 /dev/urandom | ccurl --interface 127.0.0.2 -X PATCH -H "Authorization: Bearer $TB" \
	-H "Content-Type: application/octet-stream" --data-binary @- -o "$W/b6" -w '%{http_code}' "$loc")
expect_eq "bob from alice's address is refused (per address): 429" "$code" 429

for i in 1 2 3; do
	for _ in $(seq 1 150); do [ -s "$W/a$i" ] && break; sleep 0.1; done
done
expect_eq "alice's three slow uploads finish: 202 202 202" "$(cat "$W/a1" "$W/a2" "$W/a3" | tr '\n' ' ')" "202 202 202 "

# 12 slow uploads from 12 addresses, as bob and alice (6 each would pass
# the per-user limit of 3 only in turns: give each user its own limit room
# by raising it for this part).
berth_conf upload_client_workers 0
berth_reload
sleep 1
for i in $(seq 1 12); do slow_patch "$TB" "127.0.1.$i" 6 "$W/m$i"; done
max=0
end=$((SECONDS + 4))
while [ $SECONDS -lt $end ]; do
	n=$(upload_count); [ "$n" -gt "$max" ] && max=$n
	sleep 0.1
done
expect_eq "12 slow uploads: the pool grows to upload_workers (10) and no more" "$max" 10
for i in $(seq 1 12); do
	for _ in $(seq 1 300); do [ -s "$W/m$i" ] && break; sleep 0.1; done
done
expect_eq "... and all 12 finish with 202 (the 2 beyond waited)" \
	"$(cat "$W"/m* | sort | uniq -c | awk '{ print $1 " " $2 }')" "12 202"
ok "idle again, the pool shrinks back to 2" wait_count -eq 2 15

# A SIGKILLed worker's claim goes with it.
berth_conf upload_client_workers 1
berth_reload
sleep 1
slow_patch "$TA" 127.0.0.5 30 "$W/k1"
victim=
for _ in $(seq 1 50); do
	for p in $(pool_workers upload); do
		ls -l /proc/"$p"/fd 2>/dev/null | grep -q "$STORE/uploads/" && victim=$p && break
	done
	[ -n "$victim" ] && break
	sleep 0.2
done
ok "the worker streaming alice's upload is found" test -n "$victim"
kill -KILL "$victim" 2>/dev/null
sleep 1
loc=$(start_session "$TA")
code=$(head -c 1000 /dev/urandom | ccurl --interface 127.0.0.5 -X PATCH -H "Authorization: Bearer $TA" \
	-H "Content-Type: application/octet-stream" --data-binary @- -o /dev/null -w '%{http_code}' "$loc")
expect_eq "after SIGKILL of her worker, alice's next upload is admitted: 202" "$code" 202

test_done
