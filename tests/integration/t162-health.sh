#!/bin/bash
# t162-health.sh - what a load balancer and an operator see at the front
# door: /healthz, /readyz, /metrics's allow list, and X-Request-Id.
#
# The stack runs with token auth, a real slapd as the directory (a closed
# port where slapd is not installed) and, as root, the store on a 16 MiB
# tmpfs:
#   a. /healthz answers 200 "ok" and /readyz 200 with a line per check;
#      with slapd stopped the directory is reported down and the host stays
#      ready; both without a token, GET and HEAD only (405 with Allow);
#   b. every answer carries one X-Request-Id of 32 hex digits, a new one
#      per request: the 401 without a token, a manifest GET, a blob GET
#      served by nginx (X-Accel-Redirect), its 416 for a bad Range, a 404
#      of the worker and nginx's own, nginx's 413 and 400, the 403 of
#      /metrics and nginx's 502 when the pool is gone; nginx's access log
#      has the id too;
#   c. /metrics: loopback passes nginx (the handler's answer, never 403),
#      127.0.0.2 gets 403 DENIED until <data>/metrics.allow names it;
#   d. the store full (a filler file) and read-only (remount): /readyz 503
#      naming the cause, /healthz still 200, back to 200 once fixed;
#   e. the signer hung (SIGSTOP) and killed (with the master stopped, so
#      that it is not restarted at once): 503 naming it; 200 again after
#      SIGCONT and after the master has started a new one.
. "$(dirname "$0")/../lib.sh"

need_cmd jq mount umount dd
# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_conf max_manifest 1024
LDIR=$TRASH/ldap
SLAPD_SH=$BERTH_TOP/tests/ldap/slapd.sh
DIR_DOWN='directory: down (no directory server answered)'
if sh "$SLAPD_SH" start "$LDIR" >"$TRASH/slapd.out" 2>"$TRASH/slapd.err"; then
	. "$LDIR/env"
	SLAPD=1
	DIR_LINE='directory: ok'
	berth_conf ldap_uri "$LDAP_URI"
	berth_conf ldap_bind_dn "cn=reader,$LDAP_BASE"
	berth_conf ldap_bind_password reader-pw
	berth_conf ldap_user_base "ou=people,$LDAP_BASE"
else
	# A directory nobody answers for: logins through it fail, tokens work.
	note "no slapd ($(head -n 1 "$TRASH/slapd.err")): the directory is a closed port"
	SLAPD=
	DIR_LINE=$DIR_DOWN
	DEAD_PORT=$(berth_free_port) || bail "no free port"
	berth_conf ldap_uri "ldap://127.0.0.1:$DEAD_PORT"
	berth_conf ldap_user_base "ou=people,dc=example,dc=org"
fi
berth_conf ldap_network_timeout 1
berth_conf ldap_timeout 1
berth_setup
TMPFS=
if mount -t tmpfs -o size=16m,mode=0755 berth-t162 "$STORE" 2>/dev/null; then
	TMPFS=1
else
	note "cannot mount a tmpfs on the store (needs root): part d skipped"
fi
BERTHCTL=$BUILD/berthctl
printf 'pusher-Pw-1\n' | "$BERTHCTL" -c "$DATA/berth.conf" user add pusher --password-stdin >/dev/null ||
	fail "berthctl user add pusher"
printf 'user:pusher  **  *\n' >"$DATA/auth/policy"
MASTER_STOPPED=''
SIGNER_STOPPED=''
t162_on_exit() {
	local rc=$?
	[ -z "$MASTER_STOPPED" ] || kill -CONT "$BERTHD_PID" 2>/dev/null
	[ -z "$SIGNER_STOPPED" ] || kill -CONT "$SIGNER_STOPPED" 2>/dev/null
	[ -z "$SLAPD" ] || sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1
	if [ -n "$TMPFS" ]; then
		berth_stop >/dev/null 2>&1
		mount -o remount,rw "$STORE" 2>/dev/null
		umount "$STORE" 2>/dev/null || umount -l "$STORE" 2>/dev/null
	fi
	(exit "$rc")
	berth_cleanup
}
trap t162_on_exit EXIT
berth_start
W=$TRASH/work
mkdir -p "$W"

# expect_request_id: the last answer carries exactly one X-Request-Id, 32
# hex digits (nginx's $request_id), unlike the previous answer's.
LAST_ID=
expect_request_id() {
	local n id
	n=$(hdr_count X-Request-Id)
	id=$(hdr X-Request-Id)
	if [ "$n" = 1 ] && printf '%s' "$id" | grep -Eq '^[0-9a-f]{32}$' && [ "$id" != "$LAST_ID" ]; then
		pass "$LAST_REQ ($STATUS): one new X-Request-Id"
	else
		fail "$LAST_REQ ($STATUS): one new X-Request-Id" "got $n: '$id' (previous '$LAST_ID')"
	fi
	LAST_ID=$id
}
body_is() { expect_eq "$LAST_REQ: body" "$(cat "$BODY")" "$1"; }

# ---------------------------------------------------------------- a. health
req GET /healthz
expect_status 200
body_is ok
expect_header Content-Type "text/plain; charset=utf-8"
expect_header Cache-Control no-store
expect_api_version
expect_request_id
req HEAD /healthz
expect_status 200
expect_request_id
req GET /readyz
expect_status 200
body_is "store: ok
signer: ok
$DIR_LINE"
expect_request_id
if [ -n "$SLAPD" ]; then
	sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1 && SLAPD=
	req GET /readyz
	expect_status 200
	body_is "store: ok
signer: ok
$DIR_DOWN"
fi
req HEAD /readyz
expect_status 200
req POST /healthz --data-binary 'x=1'
expect_status 405
expect_header Allow "GET, HEAD"
expect_request_id
req DELETE /readyz
expect_status 405

# ---------------------------------------------------------------- b. request ids
req GET /v2/
expect_status 401
expect_request_id

req GET /token -G -u pusher:pusher-Pw-1 --data-urlencode service=berth \
	--data-urlencode "scope=repository:team/app:pull,push"
expect_status 200
expect_request_id
AUTHZ="Authorization: Bearer $(jq -r .token "$BODY")"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$W/config.json"
CFG_D=$(digest_of "$W/config.json")
req POST "/v2/team/app/blobs/uploads/?digest=$CFG_D" -H "$AUTHZ" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$W/config.json"
expect_status 201
expect_request_id
jq -n --arg d "$CFG_D" --argjson s "$(size_of "$W/config.json")" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", size: $s, digest: $d},
	layers: []}' >"$W/manifest.json"
req PUT /v2/team/app/manifests/v1 -H "$AUTHZ" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/manifest.json"
expect_status 201
expect_request_id

req GET /v2/team/app/manifests/v1 -H "$AUTHZ" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_request_id
req GET "/v2/team/app/blobs/$CFG_D" -H "$AUTHZ"
expect_status 200
expect_body_file "$W/config.json"
expect_header Docker-Content-Digest "$CFG_D"
expect_api_version
expect_request_id
BLOB_ID=$LAST_ID
logged() {
	for _ in $(seq 1 50); do
		grep -q "\"GET /v2/team/app/blobs/$CFG_D HTTP/[0-9.]*\" 200 .* id=$BLOB_ID t=" \
			"$RUN/nginx-access.log" && return 0
		sleep 0.1
	done
	return 1
}
ok "nginx's access log has the blob GET with its id" logged
req GET "/v2/team/app/blobs/$CFG_D" -H "$AUTHZ" -H 'Range: bytes=99999-'
expect_status 416
expect_request_id
req GET /v2/team/app/manifests/nope -H "$AUTHZ"
expect_error 404 MANIFEST_UNKNOWN
expect_request_id
req GET "/v2/team/app/blobs/sha256:$(printf "%064d" 0)" -H "$AUTHZ"
expect_error 404 BLOB_UNKNOWN
expect_request_id
req GET /not-the-registry
expect_error 404 NOT_FOUND
expect_request_id
head -c 2048 /dev/zero | tr '\0' ' ' >"$W/big.json"
req PUT /v2/team/app/manifests/v2 -H "$AUTHZ" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/big.json"
expect_error 413 SIZE_INVALID
expect_request_id
req GET '/v2/team/a%00b/tags/list'
expect_status 400
expect_request_id

# ---------------------------------------------------------------- c. /metrics
req GET /metrics
case $STATUS in
200|404) pass "GET /metrics from 127.0.0.1 passes nginx (status $STATUS)" ;;
*) fail "GET /metrics from 127.0.0.1 passes nginx" "status $STATUS: $(body_head)" ;;
esac
expect_request_id
req GET /metrics --interface 127.0.0.2
expect_error 403 DENIED
expect_request_id
ok "nginx.conf allows loopback only" sh -c \
	'! grep -E "^[[:space:]]*allow" "$1" | grep -Ev "allow +(127\.0\.0\.1|::1);"' - "$DATA/nginx.conf"
printf '# Prometheus\n127.0.0.2\n' >"$DATA/metrics.allow"
ok "mkconf.sh renders metrics.allow" env AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT"
ok "nginx.conf allows 127.0.0.2" grep -Eq "^[[:space:]]*allow +127\.0\.0\.2;" "$DATA/nginx.conf"
kill -HUP "$NGINX_PID"
for _ in $(seq 1 50); do
	req GET /metrics --interface 127.0.0.2
	[ "$STATUS" = 403 ] || break
	sleep 0.1
done
case $STATUS in
200|404) pass "GET /metrics from 127.0.0.2, now allowed (status $STATUS)" ;;
*) fail "GET /metrics from 127.0.0.2, now allowed" "status $STATUS: $(body_head)" ;;
esac
printf 'evil; deny none\n' >"$DATA/metrics.allow"
ok_not "mkconf.sh refuses a metrics.allow line that is no address" \
	env AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT"
rm -f "$DATA/metrics.allow"

# ---------------------------------------------------------------- d. the store
# expect_unready LINE: /readyz is 503 and its body has LINE (a regex).
expect_unready() {
	req GET /readyz
	expect_status 503
	ok "$LAST_REQ: body says '$1'" grep -Eq -- "$1" "$BODY"
	expect_request_id
}
# wait_ready: /readyz answers 200 within 10 s.
wait_ready() {
	for _ in $(seq 1 100); do
		req GET /readyz
		[ "$STATUS" = 200 ] && { pass "/readyz 200 again: $1"; return 0; }
		sleep 0.1
	done
	fail "/readyz 200 again: $1" "status $STATUS: $(body_head)"
}
if [ -n "$TMPFS" ]; then
	dd if=/dev/zero of="$STORE/filler" bs=1M count=32 2>/dev/null
	expect_unready '^store: full \(0 B free of 16\.0 MiB, at least 164 KiB needed\)$'
	ok "the other checks are still listed" grep -qx 'signer: ok' "$BODY"
	req GET /healthz
	expect_status 200
	rm -f "$STORE/filler"
	wait_ready "filler removed"
	body_is "store: ok
signer: ok
$DIR_DOWN"

	mount -o remount,ro "$STORE" || fail "remount the store read-only"
	expect_unready '^store: not writable \(tmp/readyz\.[0-9a-f]+: Read-only file system\)$'
	ok "the body names no path of the store" sh -c '! grep -qF -- "$1" "$2"' - "$STORE" "$BODY"
	req GET /healthz
	expect_status 200
	ok "berthd.log says why the host is not ready" \
		grep -q "warn: readyz: not ready: store: not writable" "$RUN/berthd.log"
	mount -o remount,rw "$STORE" || fail "remount the store read-write"
	wait_ready "store writable"
	ok "no probe file is left in tmp/" test -z "$(ls -A "$STORE/tmp")"
fi

# ---------------------------------------------------------------- e. the signer
signer_pid() {
	local p
	for p in $(berth_children "$BERTHD_PID"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = berth-signer ] && { echo "$p"; return 0; }
	done
	return 1
}
SIGNER=$(signer_pid) || bail "no berth-signer process below the master"
kill -STOP "$SIGNER" && SIGNER_STOPPED=$SIGNER
expect_unready '^signer: down \(no answer within 1000 ms\)$'
ok "the store is fine meanwhile" grep -qx 'store: ok' "$BODY"
kill -CONT "$SIGNER" && SIGNER_STOPPED=
wait_ready "signer woken"

kill -STOP "$BERTHD_PID" && MASTER_STOPPED=1
kill -KILL "$SIGNER"
berth_wait_gone "$SIGNER"
expect_unready '^signer: down \(connect: Connection refused\)$'
kill -CONT "$BERTHD_PID" && MASTER_STOPPED=
wait_ready "the master started a new signer"
NEW=$(signer_pid)
ok "a new signer runs ($NEW, was $SIGNER)" test -n "$NEW" -a "$NEW" != "$SIGNER"

# ---------------------------------------------------------------- b. nginx's 502
berth_stop_pool
req GET /healthz
expect_error 502 UNAVAILABLE
expect_request_id

test_done
