#!/bin/bash
# t127-token-pool.sh - logins on their own pool: a hung directory stays the
# directory's problem.
#
# /token is served by the token pool (berth.conf token_socket, 2 workers),
# the pulls of token holders by the API pool (4 workers).  With a real
# slapd (tests/ldap/slapd.sh) as the directory:
#   - the three sockets exist and berthd's start line names the pools;
#   - /token reaches the token pool: with its workers stopped (SIGSTOP) a
#     login waits while manifest GETs answer, and it is served once they
#     go on;
#   - slapd hung with SIGSTOP, 8 clients logging in in a loop: 100 manifest
#     GETs with a token issued before all answer 200, their p99 stays under
#     1 s (it was 9 s when /token shared the API workers); the logins answer
#     401 "the directory is unavailable; try again later", a lone one within
#     the LDAP timeouts; after SIGCONT logins work again;
#   - a bad auth setting (ldap_group_mode = members): `berthd -t` names it
#     and exits 1; a reload to it, or to a file that does not parse, is
#     refused and logged, the same workers keep serving;
#   - a berth.conf without token_socket (a data directory made before the
#     token pool) still serves /token, from the API pool.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd jq
LDIR=$TRASH/ldap
SLAPD_SH=$BERTH_TOP/tests/ldap/slapd.sh
SLAPD_PID=
# slapd goes (by its PID, which slapd.sh keeps) before the rest of the
# stack; a stopped slapd is woken first so that it can hear its TERM.
ldap_on_exit() {
	local rc=$?
	[ -z "$SLAPD_PID" ] || kill -CONT "$SLAPD_PID" 2>/dev/null
	sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1
	(exit "$rc")
	clients_on_exit
}
trap ldap_on_exit EXIT
sh "$SLAPD_SH" start "$LDIR" >"$TRASH/slapd.out" 2>"$TRASH/slapd.err"
case $? in
0) ;;
3) skip_all "slapd not installed: $(head -n 1 "$TRASH/slapd.err")" ;;
*) bail "tests/ldap/slapd.sh start failed: $(head -c 400 "$TRASH/slapd.err")" ;;
esac
. "$LDIR/env"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
LDAP_TMO=2
berth_conf ldap_uri "$LDAP_URI"
berth_conf ldap_bind_dn "cn=reader,$LDAP_BASE"
berth_conf ldap_bind_password reader-pw
berth_conf ldap_user_base "ou=people,$LDAP_BASE"
berth_conf ldap_user_filter "(uid=%s)"
berth_conf ldap_group_mode member
berth_conf ldap_group_base "ou=groups,$LDAP_BASE"
berth_conf ldap_network_timeout "$LDAP_TMO"
berth_conf ldap_timeout "$LDAP_TMO"
berth_conf token_ttl 900
# This test is about capacity, not about throttling.
berth_conf login_fail_limit 100000
berth_conf login_spray_limit 100000
berth_conf login_account_limit 100000
berth_setup
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
printf 'pusher-Pw-1\n' | "$BERTHCTL" -c "$DATA/berth.conf" user add pusher --password-stdin ||
	fail "berthctl user add pusher"
cat >"$DATA/auth/policy" <<'EOF'
# t127's policy
user:pusher        **             *
authenticated      team/**        pull
EOF
berth_start
LOG=$RUN/berthd.log
W=$TRASH/work
mkdir -p "$W"

# tok CRED SCOPE [curl args]: GET /token; sets STATUS and TOKEN.
tok() {
	local cred=$1 scope=$2
	shift 2
	req GET /token -G -u "$cred" --data-urlencode service=berth \
		--data-urlencode "scope=$scope" "$@"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
}
detail() { jq -r '.errors[0].detail // empty' "$BODY" 2>/dev/null; }
# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE.
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((NR * p + 99) / 100); if (i < 1) i = 1; print v[i] }'; }
# lt A B: A < B for decimals.
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
# count_is POOL N: POOL has exactly N workers (polls up to 15 s).
count_is() {
	local i
	for i in $(seq 1 150); do
		[ "$(pool_workers "$1" | wc -w)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_for_log REGEX: berthd's log matches (polls up to 10 s).
wait_for_log() {
	local i
	for i in $(seq 1 100); do
		grep -Eq -- "$1" "$LOG" && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- the three pools

for s in api upload token; do
	ok "$s.sock is a socket" test -S "$RUN/$s.sock"
done
ok "4 api workers" count_is api 4
ok "2 token workers" count_is token 2
ok "the start line names the three pools" grep -Eq \
	"listening: api on $RUN/api.sock \(4 workers\), upload on $RUN/upload.sock \(4 to 32 workers\), token on $RUN/token.sock \(2 workers\)" "$LOG"
ok "nginx passes /token to the token socket" grep -Eq "server unix:$RUN/token.sock;" "$DATA/nginx.conf"

# An image to pull: a config and a manifest, pushed by the local user.
tok pusher:pusher-Pw-1 "repository:team/app:pull,push"
expect_status 200
T_PUSH=$TOKEN
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/config.json"
CFG_D=$(digest_of "$W/config.json")
req POST "/v2/team/app/blobs/uploads/?digest=$CFG_D" -H "Authorization: Bearer $T_PUSH" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$W/config.json"
expect_status 201
jq -n --arg d "$CFG_D" --argjson s "$(size_of "$W/config.json")" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", size: $s, digest: $d},
	layers: []}' >"$W/manifest.json"
req PUT /v2/team/app/manifests/v1 -H "Authorization: Bearer $T_PUSH" \
	-H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$W/manifest.json"
expect_status 201

# A directory user's pull token, issued while the directory answers.
tok alice:alice-pw "repository:team/app:pull"
expect_status 200
T=$TOKEN
ok "alice has a token" test -n "$T"

# gets N OUT: N manifest GETs with $T, one "status seconds" per line.
gets() {
	local i
	: >"$2"
	for i in $(seq 1 "$1"); do
		ccurl --max-time 20 -o /dev/null -w '%{http_code} %{time_total}\n' \
			-H "Authorization: Bearer $T" -H "Accept: $MT_OCI_MANIFEST" \
			"$URL/v2/team/app/manifests/v1" >>"$2" 2>/dev/null
	done
}

gets 20 "$W/base.txt"
expect_eq "unloaded: 20 manifest GETs answer 200" "$(awk '$1 != 200' "$W/base.txt" | wc -l)" 0
awk '{ print $2 }' "$W/base.txt" >"$W/base.t"
note "unloaded manifest GET: p50 $(pct "$W/base.t" 50) s, max $(pct "$W/base.t" 100) s"

# ---------------------------------------------------------------- /token is the token pool's

STOPPED=$(pool_workers token | tr '\n' ' ')
# shellcheck disable=SC2086 # one word per PID
kill -STOP $STOPPED
ccurl --max-time 3 -o /dev/null -w '%{http_code}' -u pusher:pusher-Pw-1 \
	"$URL/token?service=berth" >"$W/stopped.code" 2>/dev/null
expect_eq "token workers stopped: a login waits (no answer in 3 s)" "$(cat "$W/stopped.code")" 000
gets 5 "$W/stopped.txt"
expect_eq "token workers stopped: manifest GETs answer 200" "$(awk '$1 != 200' "$W/stopped.txt" | wc -l)" 0
# shellcheck disable=SC2086
kill -CONT $STOPPED
tok pusher:pusher-Pw-1 "repository:team/app:pull"
expect_status 200

# ---------------------------------------------------------------- the directory hangs

# login_loop K: alice logs in until $W/stop exists (at most 40 tries, 90 s);
# "status milliseconds detail" per line in $W/login.K.
login_loop() {
	local k=$1 n=0 t0 code end=$((SECONDS + 90))
	exec 2>/dev/null
	while [ ! -e "$W/stop" ] && [ $n -lt 40 ] && [ $SECONDS -lt $end ]; do
		t0=$(date +%s%N)
		code=$(ccurl --max-time 40 -o "$W/login.$k.body" -w '%{http_code}' -u alice:alice-pw \
			"$URL/token?service=berth&scope=repository:team/app:pull")
		echo "${code:-000} $((($(date +%s%N) - t0) / 1000000)) $(jq -r '.errors[0].detail // empty' "$W/login.$k.body")" >>"$W/login.$k"
		n=$((n + 1))
	done
}

ok "slapd hung (SIGSTOP)" kill -STOP "$SLAPD_PID"
LOOPS=()
for k in 1 2 3 4 5 6 7 8; do
	login_loop "$k" &
	LOOPS+=($!)
done
sleep 1
gets 100 "$W/hung.txt"
touch "$W/stop"
wait "${LOOPS[@]}"

expect_eq "directory hung: 100 manifest GETs answer 200" "$(awk '$1 != 200' "$W/hung.txt" | wc -l)" 0
awk '{ print $2 }' "$W/hung.txt" >"$W/hung.t"
P99=$(pct "$W/hung.t" 99)
MAX=$(pct "$W/hung.t" 100)
ok "directory hung, 8 clients logging in: manifest GET p99 $P99 s < 1 s (max $MAX s, unloaded $(pct "$W/base.t" 100) s)" lt "$P99" 1
cat "$W"/login.[1-8] >"$W/logins"
NL=$(wc -l <"$W/logins")
note "$NL logins while hung; slowest $(awk '{ print $2 }' "$W/logins" | sort -n | tail -n 1) ms"
ok "the clients logged in meanwhile ($NL tries)" test "$NL" -ge 8
expect_eq "every login while hung: 401" "$(awk '$1 != 401' "$W/logins" | head -n 3)" ""
expect_eq "every login while hung says the directory is unavailable" \
	"$(grep -cv ' the directory is unavailable; try again later$' "$W/logins")" 0

# A lone login, the pool idle: the LDAP timeouts bound it (one operation
# against a silent server; 2 s of slack).
t0=$(date +%s%N)
tok alice:alice-pw "repository:team/app:pull"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_status 401
expect_eq "lone login while hung: detail" "$(detail)" "the directory is unavailable; try again later"
ok "lone login while hung answers within the LDAP timeouts ($ms ms)" test "$ms" -lt $(((2 * LDAP_TMO + 2) * 1000))
# The local user does not need the directory.
tok pusher:pusher-Pw-1 "repository:team/app:pull"
expect_status 200

ok "slapd goes on (SIGCONT)" kill -CONT "$SLAPD_PID"
# Connections abandoned while it was stopped may cost each worker one more
# try: at most 10 logins, 30 s.
end=$((SECONDS + 30))
for i in $(seq 1 10); do
	tok alice:alice-pw "repository:team/app:pull"
	[ "$STATUS" = 200 ] || [ $SECONDS -ge $end ] || { sleep 0.5; continue; }
	break
done
expect_status 200
for i in 1 2 3 4; do
	tok alice:alice-pw "repository:team/app:pull"
	expect_eq "login $i after slapd went on" "$STATUS" 200
done
req GET /v2/team/app/manifests/v1 -H "Authorization: Bearer $TOKEN" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$W/manifest.json"

# ---------------------------------------------------------------- bad settings refused

# An auth setting that cannot work (auth/check.h): `berthd -t` says so, and
# a reload to it is refused, the running configuration and workers kept.
cp "$DATA/berth.conf" "$W/berth.conf.good"
berth_conf ldap_group_mode members
"$BUILD/berthd" -t -c "$DATA/berth.conf" >"$W/t.out" 2>&1
expect_eq "berthd -t with ldap_group_mode = members: exit 1" "$?" 1
ok "berthd -t names the key" grep -q "^berthd: ldap_group_mode: " "$W/t.out"
OLD=$(pool_workers api; pool_workers token)
berth_reload
ok "a reload to a bad auth setting is refused and logged" wait_for_log \
	"reload refused: ldap_group_mode: .*; keeping the running configuration"
echo "no_such_key = 1" >>"$DATA/berth.conf"
berth_reload
ok "a reload to a file that does not parse is refused and logged" wait_for_log \
	"reload refused: .*no_such_key.*; keeping the running configuration"
cp "$W/berth.conf.good" "$DATA/berth.conf"
expect_eq "refused reloads: the same workers serve" "$(pool_workers api; pool_workers token)" "$OLD"
tok alice:alice-pw "repository:team/app:pull"
expect_status 200
ok "berthd -t: the good file is valid" "$BUILD/berthd" -t -c "$DATA/berth.conf"

# ---------------------------------------------------------------- no token_socket

# A data directory made before the token pool: its berth.conf has no
# token_socket; nginx.conf, rendered again, sends /token to the API pool.
berth_stop
sed -i '/^[[:space:]]*token_socket[[:space:]]*=/d' "$DATA/berth.conf"
AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT" || fail "util/mkconf.sh without token_socket"
MARK=$(wc -l <"$LOG")
berth_start_pool
berth_start_nginx
berth_wait_ready
expect_eq "nginx's token upstream is the API socket" \
	"$(awk '/upstream berth_token/ { getline; print $2 }' "$DATA/nginx.conf")" "unix:$RUN/api.sock;"
ok_not "no token.sock" test -e "$RUN/token.sock"
ok "the start line says who serves /token" grep -q "token served by the api pool" \
	<(tail -n +"$((MARK + 1))" "$LOG")
tok pusher:pusher-Pw-1 "repository:team/app:pull"
expect_status 200
req GET /v2/team/app/manifests/v1 -H "Authorization: Bearer $TOKEN" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
tok alice:alice-pw "repository:team/app:pull"
expect_status 200

test_done
