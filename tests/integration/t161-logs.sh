#!/bin/bash
# t161-logs.sh - the access log, the audit log and `berthctl audit` on the
# real stack (nginx + the pool, auth = token), as util/mkconf.sh sets them
# up for `make run`: <data>/log/access.log and <data>/log/audit.log.
#
#   a. one access-log line per request: its request_id is the X-Request-Id
#      nginx answered with; user, route, repository, reference, status,
#      bytes sent (a blob sent by nginx: the blob's size) and received;
#   b. skopeo pushes team/app:v1 as alice; a tag is deleted with the API;
#      berthctl locks and unlocks the repository; a login fails: the audit
#      log holds each change once, in order, with who and from where, and
#      nothing for a change that was refused;
#   c. berthctl audit --repo/--user/--since/--json answer "who pushed this
#      image, and when?"; a torn last line is skipped and said;
#   d. logrotate: rename both files, SIGUSR1 to the master; new lines go to
#      new files, the workers live on.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd curl jq skopeo
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_setup
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
ACCESS=$(berth_conf_get access_log)
AUDIT=$(berth_conf_get audit_log)
expect_eq "make run's berth.conf sets access_log" "$ACCESS" "$DATA/log/access.log"
expect_eq "make run's berth.conf sets audit_log" "$AUDIT" "$DATA/log/audit.log"
cat >"$DATA/auth/policy" <<'EOF'
user:alice     team/**     pull,push,delete
EOF
ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
ALICE_PW='alice-Pw-161'
printf '%s\n' "$ALICE_PW" | ctl user add alice --password-stdin >/dev/null ||
	bail "berthctl user add alice failed"
berth_start
R=$(reg)

# access_line ID: the access log's line with request_id ID (empty if none).
access_line() { jq -c --arg id "$1" 'select(.request_id == $id)' "$ACCESS" 2>/dev/null; }
# expect_access DESC JQ-FILTER: the line of the last request passes the filter.
expect_access() {
	local id line
	id=$(hdr X-Request-Id)
	line=$(access_line "$id")
	if [ -z "$id" ]; then
		fail "$1" "the answer has no X-Request-Id"
	elif [ -z "$line" ]; then
		fail "$1" "no access-log line with request_id $id" "$(tail -n 3 "$ACCESS" 2>&1)"
	elif [ "$(jq -r "$2" <<<"$line")" = true ]; then
		pass "$1"
	else
		fail "$1" "line: $line" "wanted: $2"
	fi
}
token() { # token SCOPE: TOKEN for alice
	req GET /token -G -u "alice:$ALICE_PW" --data-urlencode service=berth --data-urlencode "scope=$1"
	TOKEN=$(jq -r '.token // empty' "$BODY")
}
areq() { local m=$1 p=$2; shift 2; req "$m" "$p" -H "Authorization: Bearer $TOKEN" "$@"; }
audit_json() { ctl audit --json "$@" 2>"$W/audit.err"; }

# ---------------------------------------------------------------- a. access log
req GET /v2/
expect_status 401
expect_header_match X-Request-Id '^[0-9a-f]{32}$'
expect_access "anonymous /v2/: one line, route base, status 401, no user" \
	'.method == "GET" and .route == "base" and .status == 401 and (has("user") | not)
	 and .remote_addr == "127.0.0.1" and (.time | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$"))
	 and (.duration_ms | type) == "number" and .bytes_sent > 0'
n=$(grep -c . "$ACCESS")
req GET /v2/
expect_eq "a second request adds exactly one line" "$(grep -c . "$ACCESS")" $((n + 1))
ok "every line of the access log is one JSON object" jq -e -s 'all(type == "object")' "$ACCESS"

# ---------------------------------------------------------------- b. changes
mk_oci_layout "$W/oci" v1 2
AUTHF=$W/auth.json
printf '%s\n' "$ALICE_PW" | sko login --authfile "$AUTHF" --cert-dir "$CERTDIR" -u alice \
	--password-stdin "$R" >/dev/null || fail "skopeo login as alice" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
if sko copy --authfile "$AUTHF" --dest-cert-dir "$CERTDIR" "oci:$W/oci:v1" "docker://$R/team/app:v1"; then
	pass "skopeo copy (push) team/app:v1 as alice"
else
	fail "skopeo copy (push) team/app:v1 as alice" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
MDIG=$(digest_of "$W/oci.manifest.json")
MSIZE=$(size_of "$W/oci.manifest.json")
LDIG=$(digest_of "$W/oci.layer1.tgz")
LSIZE=$(size_of "$W/oci.layer1.tgz")

token "repository:team/app:pull,push,delete"
[ -n "$TOKEN" ] || bail "no token for alice"
areq GET /v2/team/app/manifests/v1 -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_access "manifest GET: user, repository, reference, bytes sent" \
	".user == \"alice\" and .route == \"manifest\" and .repository == \"team/app\"
	 and .reference == \"v1\" and .status == 200 and .bytes_sent == $MSIZE and .bytes_received == 0"
areq GET "/v2/team/app/blobs/$LDIG"
expect_status 200
expect_access "blob GET sent by nginx: bytes_sent is the blob's size" \
	".route == \"blob\" and .reference == \"$LDIG\" and .status == 200 and .bytes_sent == $LSIZE"
areq PUT /v2/team/app/manifests/v2 -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "@$W/oci.manifest.json"
expect_status 201
expect_access "manifest PUT: bytes received is the manifest" \
	".method == \"PUT\" and .reference == \"v2\" and .status == 201 and .bytes_received == $MSIZE"

# a refused change leaves no audit record: v2 locked, then a PUT to it
ok "berthctl lock team/app:v2 --no-write" ctl lock team/app:v2 --no-write
areq PUT /v2/team/app/manifests/v2 -H "Content-Type: $MT_OCI_MANIFEST" --data-binary "@$W/oci.manifest.json"
expect_status 403
ok "berthctl unlock team/app:v2" ctl unlock team/app:v2
areq DELETE /v2/team/app/manifests/v2
expect_status 202
expect_access "tag DELETE: one line, 202" '.method == "DELETE" and .status == 202'
ok "berthctl lock team/app" ctl lock team/app
ok "berthctl unlock team/app" ctl unlock team/app
req GET /token -G -u "alice:wrong-password" --data-urlencode service=berth
expect_status 401

# ---------------------------------------------------------------- c. berthctl audit
ok "the audit log is mode 0640" test "$(stat -c %a "$AUDIT")" = 640
audit_json --repo team/app >"$W/app.json"
ok "berthctl audit --repo --json: every line is a record" jq -e -s 'length > 0' "$W/app.json"
expect_eq "the changes to team/app, in order" \
	"$(jq -r '[.action, (.tag // "-")] | join(":")' "$W/app.json" | tr '\n' ' ')" \
	"push:v1 push:v2 lock:v2 unlock:v2 delete_tag:v2 lock:- unlock:- "
P=$(jq -c 'select(.action == "push" and .tag == "v1")' "$W/app.json")
expect_eq "who pushed team/app:v1" "$(jq -r .actor.user <<<"$P")" alice
expect_eq "from which address" "$(jq -r .actor.address <<<"$P")" 127.0.0.1
expect_eq "which digest" "$(jq -r .digest <<<"$P")" "$MDIG"
ok "with a request id and the host" jq -e '(.actor.request_id | test("^[0-9a-f]{32}$")) and (.host | length > 0)' <<<"$P"
PUTID=$(jq -r 'select(.action == "push" and .tag == "v2") | .actor.request_id' "$W/app.json")
ok "the push's request id finds its access-log line" test -n "$(access_line "$PUTID")"
ME=$(id -un)
[ "$(id -u)" != 0 ] || [ -z "${SUDO_USER:-}" ] || ME=$SUDO_USER
expect_eq "the lock names who ran berthctl" \
	"$(jq -r 'select(.action == "lock" and (has("tag") | not)) | .actor.user' "$W/app.json")" "$ME"
audit_json --user alice >"$W/alice.json"
expect_eq "--user alice: the failed login is there, from 127.0.0.1" \
	"$(jq -r 'select(.action == "login_failed") | .actor.address' "$W/alice.json")" 127.0.0.1
ok "--user alice: no record of someone else" jq -e -s 'all(.actor.user == "alice")' "$W/alice.json"
ok "--user alice: skopeo's login is there" jq -e -s 'any(.action == "login_ok")' "$W/alice.json"
expect_eq "--since 1h shows what --since 7d shows" "$(audit_json --since 1h | wc -l)" "$(audit_json --since 7d | wc -l)"
ctl audit --repo team/app >"$W/table"
ok "the table names alice's push of v1" grep -Eq "push +alice +127\.0\.0\.1 +team/app +v1@$MDIG" "$W/table"
ok_not "--since nonsense is refused" ctl audit --since soon
printf '{"time":"2026-12-08T00:00:00Z","action":"pu' >>"$AUDIT"
n=$(audit_json | wc -l)
ok "a torn last line is skipped and said" grep -q "1 line of .* skipped" "$W/audit.err"
req GET /token -G -u "alice:wrong-again" --data-urlencode service=berth
expect_eq "the next record after a torn line is whole" "$(audit_json | wc -l)" $((n + 1))

# ---------------------------------------------------------------- d. rotation
mv "$ACCESS" "$ACCESS.1"
mv "$AUDIT" "$AUDIT.1"
kill -USR1 "$(berth_pool_pid)"
sleep 1
req GET /v2/
expect_status 401
rid=$(hdr X-Request-Id)
ok "after SIGUSR1 the access log is a new file with the new line" grep -q "$rid" "$ACCESS"
ok_not "the rotated access log does not get it" grep -q "$rid" "$ACCESS.1"
req GET /token -G -u "alice:wrong-3" --data-urlencode service=berth
ok "after SIGUSR1 the audit log is a new file" test "$(grep -c login_failed "$AUDIT" 2>/dev/null)" = 1
expect_eq "the rotated audit log kept its records" "$(grep -c '"action":"[a-z_]*"' "$AUDIT.1")" "$((n + 1))"
ok_not "no process of the pool died of SIGUSR1" grep -q "killed by signal $(kill -l USR1 >/dev/null 2>&1; echo 10)" "$RUN/berthd.log"
ok "berthctl audit --file reads a rotated file" test "$(ctl audit --json --file "$AUDIT.1" 2>/dev/null | wc -l)" -ge 8

# ---------------------------------------------------------------- e. the policy
# The master records the policy a host started with, and each edit of it,
# once (fcgi/policy_audit.c): the workers reread it each on its own.
ok "the start recorded the policy in force" grep -q '"action":"policy_loaded"' "$AUDIT.1"
old=$(sha256sum "$DATA/auth/policy" | cut -d' ' -f1)
echo "# an edit" >>"$DATA/auth/policy"
new=$(sha256sum "$DATA/auth/policy" | cut -d' ' -f1)
for _ in $(seq 1 40); do grep -q '"policy_change"' "$AUDIT" 2>/dev/null && break; sleep 0.25; done
sleep 1
expect_eq "an edit of the policy is recorded once" "$(grep -c '"action":"policy_change"' "$AUDIT")" 1
ok "naming its new and its old content" grep -q "sha256:$new (was sha256:$old)" "$AUDIT"
touch "$DATA/auth/policy"
sleep 6
expect_eq "a touch that changes nothing records nothing" "$(grep -c '"action":"policy_change"' "$AUDIT")" 1
ok "berthctl audit shows it" grep -q policy_change <<<"$(ctl audit 2>/dev/null)"

test_done
