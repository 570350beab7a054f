#!/bin/bash
# t125-auth-ldap.sh - directory logins: a real OpenLDAP slapd
# (tests/ldap/slapd.sh, users and groups of tests/ldap/users.ldif), berth's
# token service, and skopeo and podman logging in, pushing and pulling
# through nginx with TLS.
#
# Policy:   group:devs team/** pull,push,delete   group:readers team/** pull
#           group:ops ops/** pull   authenticated ${user}/** *   authenticated ** catalog
# Users (users.ldif): alice (devs; ops by uniqueMember), bob (readers),
# carol (no group), dave (devs; a DN full of ( ) * , characters), jürgen
# (readers, non-ASCII uid), eve (same mail as carol).
#
# Directory set-ups, each after a pool restart:
#   1. ldap:// + search with a bind DN, groups by member/uniqueMember search:
#      curl logins and their grants; wrong and empty passwords; filter
#      injection in user names; skopeo login/push/pull/logout; podman
#      login/pull/push/logout; a pull-only user refused with "denied";
#      refresh after losing the group (ldapmodify); slapd stopped mid-test
#      (logins fail saying the directory is down, issued tokens keep
#      working, a local user still logs in and his failures still count
#      toward the limit) and restarted (every worker reconnects);
#   2. ldaps:// + ldap_ca_file, groups from memberOf (and ldaps:// without
#      the CA: the server's certificate is checked, no login);
#   3. StartTLS, a dead first URI (failover), posixGroup memberUid, and a
#      filter on uid or mail where "team" is ambiguous (carol and eve);
#   4. a first URI that accepts connections and never answers: logins fail
#      over (or fail) within the configured timeouts.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd skopeo podman jq openssl ldapmodify ldapsearch
LDIR=$TRASH/ldap
SLAPD_SH=$BERTH_TOP/tests/ldap/slapd.sh
# slapd goes (by its PID, which slapd.sh keeps) before the rest of the stack.
ldap_on_exit() {
	local rc=$?
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
berth_conf login_fail_limit 1000
berth_conf login_spray_limit 1000   # the injection tests fail with many names
berth_conf login_account_limit 1000
berth_conf ldap_uri "$LDAP_URI"
berth_conf ldap_bind_dn "cn=reader,$LDAP_BASE"
berth_conf ldap_bind_password reader-pw
berth_conf ldap_user_base "ou=people,$LDAP_BASE"
berth_conf ldap_user_filter "(uid=%s)"
berth_conf ldap_group_mode member
berth_conf ldap_group_base "ou=groups,$LDAP_BASE"
berth_conf ldap_network_timeout 2
berth_conf ldap_timeout 3
berth_setup
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
# A local user beside the directory (the administrator's way in when the
# directory is down).
printf 'local-Pw-1\n' | "$BERTHCTL" -c "$DATA/berth.conf" user add localadmin --password-stdin ||
	fail "berthctl user add localadmin"
cat >"$DATA/auth/policy" <<'EOF'
# t125's policy
group:devs         team/**        pull,push,delete
group:readers      team/**        pull
group:ops          ops/**         pull
authenticated      ${user}/**     *
authenticated      **             catalog
user:localadmin    **             *
EOF
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"

# ---------------------------------------------------------------- helpers

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
b64url_dec() {
	local s
	s=$(printf '%s' "$1" | tr -- '-_' '+/')
	while [ $((${#s} % 4)) -ne 0 ]; do s=$s=; done
	printf '%s' "$s" | openssl base64 -d -A
}
jwt_claims() { b64url_dec "$(printf '%s' "$1" | cut -d. -f2)"; }
jwt_access() {
	jwt_claims "$1" | jq -c '[.access[]? | {type, name, actions: (.actions | sort)}]' 2>/dev/null
}
acc() { # NAME ACTIONS...: one access entry, as jwt_access prints it
	local n=$1; shift
	printf '{"type":"repository","name":"%s","actions":%s}' "$n" \
		"$(printf '%s\n' "$@" | jq -R 'select(. != "")' | jq -sc 'sort')"
}
expect_access() { expect_eq "$1" "$(jwt_access "$2")" "$3"; }

# tget CRED [curl args]: GET /token; sets TOKEN and REFRESH.
tget() {
	local cred=$1; shift
	req GET /token -G -u "$cred" --data-urlencode service=berth "$@"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
tok() { # CRED SCOPE...: GET /token for these scopes (TOKEN, REFRESH, STATUS)
	local cred=$1 s args=()
	shift
	for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
	tget "$cred" "${args[@]}"
}
tpost() { # FORM-FIELD...: POST /token
	local args=() f
	for f in "$@"; do args+=(--data-urlencode "$f"); done
	req POST /token -H 'Content-Type: application/x-www-form-urlencoded' "${args[@]}"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
areq() { # METHOD PATH TOKEN [curl args]
	local m=$1 p=$2 t=$3
	shift 3
	req "$m" "$p" -H "Authorization: Bearer $t" "$@"
}
expect_detail() { # SUBSTRING (case-insensitive)
	local got
	got=$(jq -r '.errors[0].detail // empty' "$BODY" 2>/dev/null)
	if printf '%s' "$got" | grep -qiF -- "$1"; then
		pass "$LAST_REQ: detail mentions '$1'"
	else
		fail "$LAST_REQ: detail mentions '$1'" "got detail: '$got' (status $STATUS)"
	fi
}
expect_no_token() {
	if jq -e '.token // .access_token // .refresh_token' "$BODY" >/dev/null 2>&1; then
		fail "$LAST_REQ: no token handed out" "body: $(body_head)"
	else
		pass "$LAST_REQ: no token handed out"
	fi
}
groups_of() { jwt_claims "$1" | jq -c '.berth.groups | sort' 2>/dev/null; }

ldap_modify() { # LDIF on stdin, as the directory's root
	ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOT_DN" -w "$LDAP_ROOT_PW" >"$W/ldapmodify.out" 2>&1
}
# The workers' LDAP settings come from berth.conf: restart the pool (nginx
# stays; the signing key stays, so tokens issued before stay valid).
reconfigure() { berth_restart_pool; }

sko_fail() { fail "$1" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"; }
pm_fail() { fail "$1" "$(tail -n 3 "$CLIENTS_DIR/podman.log")"; }
# log_says DESC LOGFILE REGEX: the client told its user REGEX (grep -Ei).
log_says() {
	if grep -Eqi -- "$3" "$2"; then pass "$1"
	else fail "$1" "want /$3/ in:" "$(tail -n 3 "$2")"; fi
}

# ---------------------------------------------------------------- 1. member groups, curl

tok "alice:alice-pw" "repository:team/app:pull,push" "repository:ops/tools:pull,push"; T=$TOKEN
expect_status 200
expect_access "alice (devs, ops): team/app pull,push; ops/tools pull" "$T" \
	"[$(acc team/app pull push),$(acc ops/tools pull)]"
expect_eq "alice's token: sub" "$(jwt_claims "$T" | jq -r .sub 2>/dev/null)" alice
expect_eq "alice's groups (member and uniqueMember)" "$(groups_of "$T")" '["devs","ops"]'
tok "bob:bob-pw" "repository:team/app:pull,push,delete"; T=$TOKEN
expect_access "bob (readers): team/app pull" "$T" "[$(acc team/app pull)]"
tok "carol:carol-pw" "repository:team/app:pull" "repository:carol/x:pull,push"; T=$TOKEN
expect_access "carol (no group): only her own namespace" "$T" "[$(acc team/app),$(acc carol/x pull push)]"
tok "dave:dave-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_access "dave (DN with ( ) * , in it) is found in devs" "$T" "[$(acc team/app pull push)]"
tok "jürgen:jürgen-pw" "repository:team/app:pull"; T=$TOKEN
expect_status 200
expect_access "jürgen (non-ASCII uid) logs in, readers: pull" "$T" "[$(acc team/app pull)]"
# docker login's request: no scope, offline_token=true.
tget "bob:bob-pw" --data-urlencode account=bob --data-urlencode client_id=docker \
	--data-urlencode offline_token=true
expect_status 200
expect_eq "docker-style login of a directory user: refresh token" "${REFRESH:+yes}" yes

# Wrong passwords, empty passwords, names that would be LDAP filters.
bad_login() { # DESC CRED DETAIL
	tget "$2" --data-urlencode "scope=repository:team/app:pull"
	expect_status 401
	expect_error_code UNAUTHORIZED
	expect_no_token
	[ -z "$3" ] || expect_detail "$3"
}
bad_login "alice, wrong password" "alice:bob-pw" "invalid username or password"
bad_login "alice, password differing in case" "alice:Alice-pw" "invalid username or password"
bad_login "unknown user" "zed:alice-pw" "invalid username or password"
bad_login "alice, empty password" "alice:" "empty password"
bad_login "bob, empty password" "bob:" "empty password"
bad_login "'*' with alice's password" "*:alice-pw" ""
bad_login "'al*' with alice's password" "al*:alice-pw" ""
bad_login "'a*e' with alice's password" "a*e:alice-pw" ""
bad_login "')(uid=*' with alice's password" ")(uid=*:alice-pw" ""
bad_login "'alice)(uid=*' with alice's password" "alice)(uid=*:alice-pw" ""
bad_login "'*)(|(uid=*' with alice's password" "*)(|(uid=*:alice-pw" ""
bad_login "'alice)(|(objectClass=*' with any password" "alice)(|(objectClass=*:x" ""
bad_login "the bind DN as user name" "cn=reader,$LDAP_BASE:reader-pw" ""
bad_login "'alice\\2a' (an escape sequence)" 'alice\2a:alice-pw' ""
req GET /token -G --data-urlencode service=berth \
	-H "Authorization: Basic $(printf 'alice\0:alice-pw' | openssl base64 -A)"
expect_status 401
expect_no_token
tpost grant_type=password 'username=*' password=alice-pw service=berth "scope=repository:team/app:pull"
expect_status 401
expect_no_token
req POST /token -H 'Content-Type: application/x-www-form-urlencoded' \
	--data 'grant_type=password&username=alice%00&password=alice-pw&service=berth'
expect_status 401
expect_no_token
tpost grant_type=password username=alice password= service=berth "scope=repository:team/app:pull"
expect_status 401
expect_no_token

# ---------------------------------------------------------------- 1. skopeo

mk_oci_layout "$W/oci" v1 2
AUTH_A=$W/auth-alice.json
AUTH_B=$W/auth-bob.json
if printf 'alice-pw\n' | sko login --authfile "$AUTH_A" --cert-dir "$CERTDIR" -u alice --password-stdin "$R" >"$W/sko-login.out"; then
	pass "skopeo login as alice"
else
	sko_fail "skopeo login as alice"
fi
log_says "skopeo login says it succeeded" "$W/sko-login.out" "login succeeded"
if sko copy --authfile "$AUTH_A" --dest-cert-dir "$CERTDIR" "oci:$W/oci:v1" "docker://$R/team/app:v1"; then
	pass "skopeo copy (push) team/app:v1 as alice"
else
	sko_fail "skopeo copy (push) team/app:v1 as alice"
fi
tok "alice:alice-pw" "repository:team/app:pull"; T=$TOKEN
areq GET /v2/team/app/manifests/v1 "$T" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$W/oci.manifest.json"

if printf 'bob-pw\n' | sko login --authfile "$AUTH_B" --cert-dir "$CERTDIR" -u bob --password-stdin "$R" >/dev/null; then
	pass "skopeo login as bob"
else
	sko_fail "skopeo login as bob"
fi
rm -rf "$W/bob-dir"
if sko copy --authfile "$AUTH_B" --src-cert-dir "$CERTDIR" "docker://$R/team/app:v1" "dir:$W/bob-dir"; then
	pass "skopeo copy (pull) team/app:v1 as bob"
else
	sko_fail "skopeo copy (pull) team/app:v1 as bob"
fi
ok "bob pulled the manifest alice pushed" cmp "$W/bob-dir/manifest.json" "$W/oci.manifest.json"
store_mark
if sko copy --authfile "$AUTH_B" --dest-cert-dir "$CERTDIR" "oci:$W/oci:v1" "docker://$R/team/app:bob"; then
	fail "skopeo push as bob (pull only) is refused" "it succeeded"
else
	pass "skopeo push as bob (pull only) is refused"
fi
log_says "skopeo tells bob: denied" "$CLIENTS_DIR/skopeo.log" "denied"
expect_store_unchanged "bob's refused push wrote nothing"
if printf 'wrong\n' | sko login --authfile "$W/auth-x.json" --cert-dir "$CERTDIR" -u alice --password-stdin "$R"; then
	fail "skopeo login with a wrong password fails" "it succeeded"
else
	pass "skopeo login with a wrong password fails"
fi
log_says "skopeo says the credentials were refused" "$CLIENTS_DIR/skopeo.log" "invalid username|unauthorized|401"
if sko logout --authfile "$AUTH_B" "$R"; then pass "skopeo logout (bob)"; else sko_fail "skopeo logout (bob)"; fi
expect_eq "bob's auth file no longer names the registry" \
	"$(jq -r --arg r "$R" '.auths[$r] // "gone"' "$AUTH_B" 2>/dev/null)" gone
if sko inspect --authfile "$AUTH_B" --cert-dir "$CERTDIR" "docker://$R/team/app:v1" >/dev/null; then
	fail "after logout, skopeo inspect team/app is refused" "it succeeded"
else
	pass "after logout, skopeo inspect team/app is refused"
fi

# ---------------------------------------------------------------- 1. podman

AUTH_P=$W/auth-podman.json
AUTH_PB=$W/auth-podman-bob.json
if printf 'dave-pw\n' | pm login --authfile "$AUTH_P" --cert-dir "$CERTDIR" -u dave --password-stdin "$R" >"$W/pm-login.out"; then
	pass "podman login as dave"
else
	pm_fail "podman login as dave"
fi
log_says "podman login says it succeeded" "$W/pm-login.out" "login succeeded"
if pm pull --authfile "$AUTH_P" --cert-dir "$CERTDIR" "$R/team/app:v1" >/dev/null; then
	pass "podman pull team/app:v1 as dave"
else
	pm_fail "podman pull team/app:v1 as dave"
fi
ok "podman tag team/podman:v1" pm tag "$R/team/app:v1" "$R/team/podman:v1"
if pm push --authfile "$AUTH_P" --cert-dir "$CERTDIR" "$R/team/podman:v1"; then
	pass "podman push team/podman:v1 as dave"
else
	pm_fail "podman push team/podman:v1 as dave"
fi
tok "bob:bob-pw" "repository:team/podman:pull"; T=$TOKEN
areq GET /v2/team/podman/manifests/v1 "$T" -H "Accept: $MT_ACCEPT_ALL"
expect_status 200
if printf 'bob-pw\n' | pm login --authfile "$AUTH_PB" --cert-dir "$CERTDIR" -u bob --password-stdin "$R" >/dev/null; then
	pass "podman login as bob"
else
	pm_fail "podman login as bob"
fi
ok "podman tag team/podman:bob" pm tag "$R/team/app:v1" "$R/team/podman:bob"
store_mark
if pm push --authfile "$AUTH_PB" --cert-dir "$CERTDIR" "$R/team/podman:bob"; then
	fail "podman push as bob (pull only) is refused" "it succeeded"
else
	pass "podman push as bob (pull only) is refused"
fi
log_says "podman tells bob: denied" "$CLIENTS_DIR/podman.log" "denied"
expect_store_unchanged "bob's refused podman push wrote nothing"
if pm logout --authfile "$AUTH_P" "$R" >/dev/null; then pass "podman logout (dave)"; else pm_fail "podman logout (dave)"; fi
if pm push --authfile "$AUTH_P" --cert-dir "$CERTDIR" "$R/team/podman:v1"; then
	fail "after logout, podman push is refused" "it succeeded"
else
	pass "after logout, podman push is refused"
fi

# ---------------------------------------------------------------- 1. refresh after losing the group

tget "alice:alice-pw" --data-urlencode offline_token=true --data-urlencode client_id=docker
ALICE_REFRESH=$REFRESH
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" "scope=repository:team/app:pull,push" \
	service=berth client_id=docker
expect_status 200
expect_access "refresh while in devs: pull,push" "$TOKEN" "[$(acc team/app pull push)]"
ok "ldapmodify: alice leaves devs" ldap_modify <<EOF
dn: cn=devs,ou=groups,$LDAP_BASE
changetype: modify
delete: member
member: uid=alice,ou=people,$LDAP_BASE
EOF
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" "scope=repository:team/app:pull,push" \
	service=berth client_id=docker
expect_status 200
expect_access "refresh after leaving devs: nothing on team/app" "$TOKEN" "[$(acc team/app)]"
expect_eq "refreshed token's groups" "$(groups_of "$TOKEN")" '["ops"]'
areq PUT /v2/team/app/manifests/after "$TOKEN" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/oci.manifest.json"
expect_error 403 DENIED
ok "ldapmodify: alice rejoins devs" ldap_modify <<EOF
dn: cn=devs,ou=groups,$LDAP_BASE
changetype: modify
add: member
member: uid=alice,ou=people,$LDAP_BASE
EOF
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" "scope=repository:team/app:pull,push" service=berth
expect_access "refresh after rejoining: pull,push again" "$TOKEN" "[$(acc team/app pull push)]"

# ---------------------------------------------------------------- 1. the directory goes down

tget "bob:bob-pw" --data-urlencode "scope=repository:team/app:pull" --data-urlencode offline_token=true
T_BOB=$TOKEN
BOB_REFRESH=$REFRESH
tok "alice:alice-pw" "repository:team/app:pull,push"; T_ALICE=$TOKEN
ok "slapd stopped" sh "$SLAPD_SH" stop "$LDIR"
# Every worker (4 API workers) sees it, whether it had a connection or not.
for i in 1 2 3 4 5 6; do
	t0=$(date +%s%N)
	tget "alice:alice-pw" --data-urlencode "scope=repository:team/app:pull"
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_status 401
	expect_no_token
	expect_detail "directory"
	ok "login with the directory down answers within the LDAP timeouts ($ms ms)" test "$ms" -lt 8000
done
# A refresh needs the user's groups as of now; what it does while the
# directory is down is noted, not asserted (docker refreshes on every pull).
tpost grant_type=refresh_token "refresh_token=$BOB_REFRESH" "scope=repository:team/app:pull" service=berth
note "refresh with the directory down: $STATUS $(body_head)"
# Tokens issued before keep working: pull, and push.
areq GET /v2/team/app/manifests/v1 "$T_BOB" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$W/oci.manifest.json"
areq PUT /v2/team/app/manifests/while-down "$T_ALICE" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/oci.manifest.json"
expect_status 201
if printf 'alice-pw\n' | sko login --authfile "$W/auth-down.json" --cert-dir "$CERTDIR" -u alice --password-stdin "$R"; then
	fail "skopeo login with the directory down fails" "it succeeded"
else
	pass "skopeo login with the directory down fails"
fi
note "skopeo, directory down: $(tail -n 1 "$CLIENTS_DIR/skopeo.log")"

# Local users do not need the directory, and their failures are theirs:
# told as such, and counted toward the failed-login limit (3 here) however
# many directory logins fail meanwhile (those are not the caller's fault).
# One API worker, so that every request below meets the same worker state.
rm -rf "$DATA/auth/state/logins"
berth_conf login_fail_limit 3
berth_conf login_spray_limit 1
berth_conf workers 1
berth_restart_pool
tok "zed:x" "repository:team/app:pull"
expect_status 401
expect_detail "directory"
tok "localadmin:local-Pw-1" "repository:team/app:pull,push"
expect_status 200
expect_access "local user logs in while the directory is down" "$TOKEN" "[$(acc team/app pull push)]"
tok "localadmin:wrong" "repository:team/app:pull"
expect_status 401
expect_detail "invalid username or password"
tok "localadmin:" "repository:team/app:pull"
expect_status 401
expect_detail "empty password"
tok "alice:" "repository:team/app:pull"
expect_status 401
expect_detail "empty password"
# Failures of the directory's users while it is down are not the caller's
# fault and do not make the address a sprayer's (limit 1 here); the local
# user's own wrong passwords, past the 3 free ones, delay that account from
# that address, while another address is not affected: a colleague's typos
# lock nobody out.
for i in 1 2 3; do
	req GET /token -G --interface 127.0.0.9 -u "zed-$i:x" --data-urlencode service=berth
done
req GET /token -G --interface 127.0.0.9 -u "zed-4:x" --data-urlencode service=berth
expect_status 401
expect_detail "directory"
for i in 1 2 3 4 5 6 7 8; do
	req GET /token -G --interface 127.0.0.9 -u "localadmin:guess-$i" --data-urlencode service=berth
	[ "$STATUS" != 429 ] || break
done
expect_status 429
expect_no_token
req GET /token -G --interface 127.0.0.10 -u "localadmin:local-Pw-1" --data-urlencode service=berth
expect_status 200
rm -rf "$DATA/auth/state/logins"
berth_conf login_fail_limit 1000
berth_conf login_spray_limit 1000
berth_conf workers 4
berth_restart_pool

if sh "$SLAPD_SH" restart "$LDIR" >"$TRASH/slapd.out" 2>"$TRASH/slapd.err"; then
	pass "slapd restarted"
else
	fail "slapd restarted" "$(head -c 300 "$TRASH/slapd.err")"
fi
. "$LDIR/env"
for i in 1 2 3 4 5 6 7 8; do
	tget "alice:alice-pw" --data-urlencode "scope=repository:team/app:pull,push"
	expect_status 200
	expect_access "login $i after slapd came back" "$TOKEN" "[$(acc team/app pull push)]"
done
if printf 'alice-pw\n' | sko login --authfile "$W/auth-up.json" --cert-dir "$CERTDIR" -u alice --password-stdin "$R" >/dev/null; then
	pass "skopeo login works again"
else
	sko_fail "skopeo login works again"
fi

# ---------------------------------------------------------------- 2. ldaps://, memberOf

berth_conf ldap_uri "$LDAPS_URI"
berth_conf ldap_ca_file "$LDAP_CA"
berth_conf ldap_group_mode memberof
reconfigure
tok "alice:alice-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_status 200
expect_access "ldaps, memberOf: alice pull,push" "$T" "[$(acc team/app pull push)]"
expect_eq "ldaps, memberOf: alice's groups" "$(groups_of "$T")" '["devs"]'
tok "bob:bob-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_access "ldaps, memberOf: bob pull" "$T" "[$(acc team/app pull)]"
bad_login "ldaps: wrong password" "bob:alice-pw" "invalid username or password"
mk_oci_layout "$W/oci2" v2 1
if sko copy --authfile "$AUTH_A" --dest-cert-dir "$CERTDIR" "oci:$W/oci2:v2" "docker://$R/team/app:v2"; then
	pass "ldaps: skopeo push team/app:v2 as alice"
else
	sko_fail "ldaps: skopeo push team/app:v2 as alice"
fi
# Losing the group shows in memberOf too.
tget "alice:alice-pw" --data-urlencode offline_token=true
ALICE_REFRESH=$REFRESH
ok "ldapmodify: alice leaves devs" ldap_modify <<EOF
dn: cn=devs,ou=groups,$LDAP_BASE
changetype: modify
delete: member
member: uid=alice,ou=people,$LDAP_BASE
EOF
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" "scope=repository:team/app:pull,push" service=berth
expect_access "memberOf: refresh after leaving devs" "$TOKEN" "[$(acc team/app)]"
ldap_modify <<EOF
dn: cn=devs,ou=groups,$LDAP_BASE
changetype: modify
add: member
member: uid=alice,ou=people,$LDAP_BASE
EOF
# Without the CA, the directory's certificate cannot be verified: no login.
berth_conf ldap_ca_file ""
reconfigure
tget "alice:alice-pw" --data-urlencode "scope=repository:team/app:pull"
expect_status 401
expect_no_token
expect_detail "directory"

# ---------------------------------------------------------------- 3. StartTLS, failover, memberUid

DEAD=$(berth_free_port)
berth_conf ldap_uri "ldap://127.0.0.1:$DEAD $LDAP_URI"
berth_conf ldap_starttls true
berth_conf ldap_ca_file "$LDAP_CA"
berth_conf ldap_group_mode memberuid
berth_conf ldap_group_base "ou=posix,$LDAP_BASE"
berth_conf ldap_user_filter "(|(uid=%s)(mail=%s@example.org))"
reconfigure
tok "alice:alice-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_status 200
expect_access "StartTLS, failover, memberUid: alice pull,push" "$T" "[$(acc team/app pull push)]"
expect_eq "memberUid: alice's groups" "$(groups_of "$T")" '["devs"]'
tok "bob:bob-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_access "memberUid: bob pull" "$T" "[$(acc team/app pull)]"
tok "carol:carol-pw" "repository:team/app:pull"; T=$TOKEN
expect_access "memberUid: carol nothing" "$T" "[$(acc team/app)]"
# "team" is the mail of carol and eve: two entries, so nobody.
bad_login "'team' (two entries match) with carol's password" "team:carol-pw" "invalid username or password"
bad_login "'team' (two entries match) with eve's password" "team:eve-pw" "invalid username or password"
bad_login "StartTLS: empty password" "carol:" "empty password"
ok "ldapmodify: alice leaves the posix group devs" ldap_modify <<EOF
dn: cn=devs,ou=posix,$LDAP_BASE
changetype: modify
delete: memberUid
memberUid: alice
EOF
tok "alice:alice-pw" "repository:team/app:pull,push"; T=$TOKEN
expect_access "memberUid: alice without the group" "$T" "[$(acc team/app)]"

# ---------------------------------------------------------------- 4. a directory that never answers

# A listener that accepts connections and never says a word: the first
# URI costs at most the timeouts, then the next one answers; when it is
# the only one, the login fails in bounded time, saying so.
if command -v python3 >/dev/null 2>&1; then
	BH=$(berth_free_port)
	python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64); held = []
while True:
    c, _ = s.accept(); held.append(c)' "$BH" >/dev/null 2>&1 &
	BH_PID=$!
	berth_track_pid "$BH_PID"
	for i in $(seq 1 50); do ss -Htln "sport = :$BH" | grep -q . && break; sleep 0.1; done
	berth_conf ldap_uri "ldap://127.0.0.1:$BH $LDAP_URI"
	berth_conf ldap_network_timeout 1
	berth_conf ldap_timeout 2
	reconfigure
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		tok "carol:carol-pw" "repository:carol/x:pull"
		ms=$((($(date +%s%N) - t0) / 1000000))
		expect_status 200
		ok "silent first URI: login $i fails over within the timeouts ($ms ms)" test "$ms" -lt 7000
	done
	berth_conf ldap_uri "ldap://127.0.0.1:$BH"
	reconfigure
	t0=$(date +%s%N)
	tok "carol:carol-pw" "repository:carol/x:pull"
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_status 401
	expect_no_token
	expect_detail "directory"
	ok "silent directory: the login fails within the timeouts ($ms ms)" test "$ms" -lt 7000
	kill "$BH_PID" 2>/dev/null
else
	note "python3 missing: no silent-directory check"
fi

test_done
