#!/bin/bash
# t128-docker-login.sh - real `docker login` against berth's token service
# with directory users, through a private dockerd (lib-clients.sh) and a
# real slapd (tests/ldap/slapd.sh, users of tests/ldap/users.ldif).
#
# docker login sends GET /token?account=…&client_id=docker&offline_token=true
# without a scope, keeps the refresh token it gets as an "identitytoken"
# (the password is not stored) and from then on asks for tokens with
# POST /token grant_type=refresh_token: both are checked in nginx's access
# log.  alice (group devs) pushes and pulls; after `docker logout` the
# registry is closed to docker; bob (readers) pulls but his push is refused
# with docker's "denied: requested access to the resource is denied"; a
# repository token (berthctl token create) works as a docker password
# within its scope only.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd dockerd docker jq tar ldapsearch ldapadd
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
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
dockerd_start || skip_all "cannot start a private dockerd here: $DOCKERD_WHY"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_conf login_fail_limit 1000
berth_conf ldap_uri "$LDAP_URI"
berth_conf ldap_bind_dn "cn=reader,$LDAP_BASE"
berth_conf ldap_bind_password reader-pw
berth_conf ldap_user_base "ou=people,$LDAP_BASE"
berth_conf ldap_user_filter "(uid=%s)"
berth_conf ldap_group_mode member
berth_conf ldap_group_base "ou=groups,$LDAP_BASE"
berth_setup
cat >"$DATA/auth/policy" <<'EOF'
# t128's policy
group:devs         team/**        pull,push,delete
group:readers      team/**        pull
authenticated      ${user}/**     *
EOF
berth_start
R=$(reg)
W=$TRASH/work
mkdir -p "$W"
DLOG=$CLIENTS_DIR/docker.log
ACCESS_LOG=$RUN/nginx-access.log
DCONF=$DOCKER_CONFIG/config.json

dk() { timeout 120 docker "$@" 2>"$DLOG"; }
dk_fail() { fail "$1" "$(tail -n 3 "$DLOG")"; }
# dk_login USER PASSWORD: docker login with the password on stdin.
dk_login() { printf '%s\n' "$2" | dk login -u "$1" --password-stdin "$R"; }
log_says() { # DESC FILE REGEX
	if grep -Eqi -- "$3" "$2"; then pass "$1"
	else fail "$1" "want /$3/ in:" "$(tail -n 3 "$2")"; fi
}
# Lines of nginx's access log written since mark_log.
mark_log() { LOG_MARK=$(wc -l <"$ACCESS_LOG"); }
log_since() { tail -n +"$((LOG_MARK + 1))" "$ACCESS_LOG"; }
auth_entry() { jq -c --arg r "$R" '.auths[$r] // empty' "$DCONF" 2>/dev/null; }

mk_rootfs_tar "$W/rootfs.tar" 200000
if dk import "$W/rootfs.tar" berth-login:v1 >/dev/null; then
	pass "docker import a rootfs tarball"
else
	dk_fail "docker import a rootfs tarball"
fi
ID=$(dk image inspect --format '{{.Id}}' berth-login:v1)
# A copy to load back whenever a step removed the image (same image ID).
dk save -o "$W/image.tar" berth-login:v1 || dk_fail "docker save"
have_image() { dk image inspect "$ID" >/dev/null 2>&1 || dk load -i "$W/image.tar" >/dev/null; }
# dk_tag_new REF: the test image under REF (loaded back if it is gone).
dk_tag_new() { have_image; dk tag "$ID" "$1"; }

# ---------------------------------------------------------------- alice

mark_log
if dk_login alice alice-pw >"$W/login.out"; then
	pass "docker login as alice (directory user, --password-stdin)"
else
	dk_fail "docker login as alice (directory user, --password-stdin)"
fi
log_says "docker says: Login Succeeded" "$W/login.out" "login succeeded"
log_since >"$W/log.login"
log_says "docker login asked GET /token with account=alice" "$W/log.login" \
	'"GET /token\?[^"]*account=alice'
log_says "... client_id=docker" "$W/log.login" '"GET /token\?[^"]*client_id=docker'
log_says "... offline_token=true" "$W/log.login" '"GET /token\?[^"]*offline_token=true'
ok_not "... and no scope" grep -Eq '"GET /token\?[^"]*scope=' "$W/log.login"
E=$(auth_entry)
expect_eq "docker keeps an identity token (the refresh token)" \
	"$(jq -r '(.identitytoken // "") | length > 20' <<<"$E" 2>/dev/null)" true
ok_not "docker did not store alice's password" grep -qF "$(printf 'alice:alice-pw' | base64)" "$DCONF"

ok "docker tag $R/team/docker:v1" dk_tag_new "$R/team/docker:v1"
mark_log
if dk push "$R/team/docker:v1" >"$W/push.out"; then
	pass "docker push team/docker:v1 as alice"
else
	dk_fail "docker push team/docker:v1 as alice"
fi
log_since >"$W/log.push"
log_says "docker push got its token with POST /token (refresh_token grant)" "$W/log.push" \
	'"POST /token HTTP/[0-9.]+" 200'
ok_not "docker push sent no password login (GET /token with Basic)" \
	grep -Eq '"GET /token\?[^"]*" 200' "$W/log.push"
DIGEST=$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\) size.*/\1/p' "$W/push.out" | tail -n 1)
expect_eq "docker push reports a digest" "${DIGEST:+yes}" yes
ok "docker rmi" dk rmi -f "$ID"
if dk pull "$R/team/docker:v1" >/dev/null; then
	pass "docker pull team/docker:v1 as alice"
else
	dk_fail "docker pull team/docker:v1 as alice"
fi
expect_eq "pulled image ID" "$(dk image inspect --format '{{.Id}}' "$R/team/docker:v1")" "$ID"
expect_eq "RepoDigests" "$(dk image inspect --format '{{join .RepoDigests " "}}' "$R/team/docker:v1")" \
	"$R/team/docker@$DIGEST"
ok "docker tag $R/alice/personal:v1" dk_tag_new "$R/alice/personal:v1"
if dk push "$R/alice/personal:v1" >/dev/null; then
	pass "docker push to alice's own namespace"
else
	dk_fail "docker push to alice's own namespace"
fi

if dk logout "$R" >/dev/null; then pass "docker logout"; else dk_fail "docker logout"; fi
expect_eq "docker config no longer holds the registry" "$(auth_entry)" ""
ok "docker rmi" dk rmi -f "$ID"
if dk pull "$R/team/docker:v1" >/dev/null; then
	fail "after logout, docker pull team/docker:v1 is refused" "it succeeded"
else
	pass "after logout, docker pull team/docker:v1 is refused"
fi
log_says "docker says: denied or unauthorized" "$DLOG" "denied|unauthorized"

# ---------------------------------------------------------------- bob

if dk_login alice wrong-pw; then
	fail "docker login with a wrong password fails" "it succeeded"
else
	pass "docker login with a wrong password fails"
fi
log_says "docker tells the user the password was wrong" "$DLOG" "invalid username or password"
expect_eq "a failed login stores nothing" "$(auth_entry)" ""
if dk_login alice ""; then
	fail "docker login with an empty password fails" "it succeeded"
else
	pass "docker login with an empty password fails"
fi
if dk_login bob bob-pw >/dev/null; then pass "docker login as bob"; else dk_fail "docker login as bob"; fi
if dk pull "$R/team/docker:v1" >/dev/null; then
	pass "docker pull team/docker:v1 as bob"
else
	dk_fail "docker pull team/docker:v1 as bob"
fi
ok "docker tag $R/team/docker:bob" dk_tag_new "$R/team/docker:bob"
store_mark
if dk push "$R/team/docker:bob" >"$W/push-bob.out"; then
	fail "docker push as bob (pull only) is refused" "it succeeded"
else
	pass "docker push as bob (pull only) is refused"
fi
log_says "docker tells bob: denied: requested access to the resource is denied" "$DLOG" \
	"denied: requested access to the resource is denied"
expect_store_unchanged "bob's refused push wrote nothing"
ok "docker logout (bob)" dk logout "$R"

# ---------------------------------------------------------------- the directory goes down

# docker shows "<code>: <message>" of the registry's error (or a top-level
# "details"), not the "detail" field: that is what the user reads.
if dk_login alice alice-pw >/dev/null; then pass "docker login as alice again"; else dk_fail "docker login as alice again"; fi
ok "slapd stopped" sh "$SLAPD_SH" stop "$LDIR"
ok "docker logout" dk logout "$R"
if dk_login alice alice-pw; then
	fail "docker login with the directory down fails" "it succeeded"
else
	pass "docker login with the directory down fails"
fi
log_says "docker tells the user the directory is down" "$DLOG" "directory"
if dk_login alice wrong-pw; then
	fail "docker login with a wrong password fails (directory down)" "it succeeded"
else
	pass "docker login with a wrong password fails (directory down)"
fi
if sh "$SLAPD_SH" restart "$LDIR" >"$TRASH/slapd.out" 2>"$TRASH/slapd.err"; then
	pass "slapd restarted"
else
	fail "slapd restarted" "$(head -c 300 "$TRASH/slapd.err")"
fi
if dk_login alice alice-pw >/dev/null; then
	pass "docker login works again once the directory is back"
else
	dk_fail "docker login works again once the directory is back"
fi
ok "docker rmi" dk rmi -f "$ID"
if dk pull "$R/team/docker:v1" >/dev/null; then
	pass "docker pull after the directory came back"
else
	dk_fail "docker pull after the directory came back"
fi
ok "docker logout" dk logout "$R"

# ---------------------------------------------------------------- a repository token

"$BERTHCTL" -c "$DATA/berth.conf" token create ci-docker --scope repository:ci/app:pull,push \
	--expires 1d >"$W/token.out" 2>"$W/token.err" || fail "berthctl token create ci-docker" "$(head -c 300 "$W/token.err")"
SECRET=$(grep -oE 'berth_[A-Za-z0-9_-]{20,}' "$W/token.out" | head -n 1)
expect_eq "berthctl prints the token's secret" "${SECRET:+yes}" yes
if dk_login ci-docker "$SECRET" >/dev/null; then
	pass "docker login -u ci-docker with the token's secret"
else
	dk_fail "docker login -u ci-docker with the token's secret"
fi
ok "docker tag $R/ci/app:v1" dk_tag_new "$R/ci/app:v1"
if dk push "$R/ci/app:v1" >/dev/null; then
	pass "docker push ci/app:v1 with the repository token"
else
	dk_fail "docker push ci/app:v1 with the repository token"
fi
ok "docker tag $R/team/docker:ci" dk_tag_new "$R/team/docker:ci"
if dk push "$R/team/docker:ci" >/dev/null; then
	fail "the repository token cannot push outside its scope" "it succeeded"
else
	pass "the repository token cannot push outside its scope"
fi
log_says "docker says: denied" "$DLOG" "denied"
ok "berthctl token revoke ci-docker" "$BERTHCTL" -c "$DATA/berth.conf" token revoke ci-docker
ok "docker tag $R/ci/app:v2" dk_tag_new "$R/ci/app:v2"
# docker still holds the token's refresh token: it is refused now.
if dk push "$R/ci/app:v2" >/dev/null; then
	fail "after revoke, docker push with the kept refresh token is refused" "it succeeded"
else
	pass "after revoke, docker push with the kept refresh token is refused"
fi
T=$(curl -sS --cacert "$CACERT" -u "ci-docker:$SECRET" "$URL/token?service=berth&scope=repository:ci/app:pull" |
	jq -r '.token // empty' 2>/dev/null)
expect_eq "a revoked token's secret gets no token" "${T:-none}" none
ok "docker logout (ci-docker)" dk logout "$R"

test_done
