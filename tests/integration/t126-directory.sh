#!/bin/bash
# t126-directory.sh - the directory process (auth/directory.c) against a real
# slapd (tests/ldap/slapd.sh, tests/ldap/users.ldif with ppolicy), berth's
# token service behind nginx, curl and skopeo.
#
#   1. identity: ALICE, " alice" and "alice " get tokens whose sub is alice;
#      a user:alice rule applies to them, the memberUid group devs is found
#      for the directory's spelling; skopeo logs in as ALICE and pushes to
#      alice/ (the ${user} namespace of the real name);
#   2. the bind password (a distinctive one, from ldap_bind_password_file) is
#      in the directory processes' memory and in no berthd process (master,
#      API and token workers): /proc/PID/mem scanned;
#   3. berthctl ldap test: DN, name, groups, grants, --json, exit codes;
#   4. refresh tokens end when the password changes (ppolicy pwdChangedTime)
#      or the account is locked (pwdAccountLockedTime); a fresh login works;
#   5. slapd stopped: clients read "the directory is unavailable; try again
#      later" and nothing internal, the log has the URI and libldap's words;
#      berthctl ldap test exits 3; slapd hung (SIGSTOP): logins end
#      "unavailable" within the client's bound while a pull stays fast;
#   6. SIGHUP onto ldaps:// without ldap_ca_file: the directory process is
#      restarted with it, logins fail, the log names the certificate failure.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd jq openssl ldapmodify ldapadd python3 skopeo
LDIR=$TRASH/ldap
SLAPD_SH=$BERTH_TOP/tests/ldap/slapd.sh
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

ldap_root() { "$@" -x -H "$LDAP_URI" -D "$LDAP_ROOT_DN" -w "$LDAP_ROOT_PW" >>"$TRASH/ldap-root.out" 2>&1; }

# A service account whose password appears nowhere else.
SVC_PW="DirSvc-$(openssl rand -hex 12)-pw"
printf 'dn: cn=svc,%s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc\nuserPassword: %s\n' \
	"$LDAP_BASE" "$SVC_PW" | ldap_root ldapadd || bail "adding cn=svc"
printf '%s\n' "$SVC_PW" >"$TRASH/svc.pw"
chmod 600 "$TRASH/svc.pw"

# shellcheck disable=SC2034 # read by lib.sh
BERTH_AUTH=token
berth_conf login_spray_limit 1000
berth_conf ldap_uri "$LDAP_URI"
berth_conf ldap_bind_dn "cn=svc,$LDAP_BASE"
berth_conf ldap_bind_password_file "$TRASH/svc.pw"
berth_conf ldap_user_base "ou=people,$LDAP_BASE"
berth_conf ldap_user_filter "(uid=%s)"
berth_conf ldap_group_mode memberuid
berth_conf ldap_group_base "ou=posix,$LDAP_BASE"
berth_conf ldap_network_timeout 2
berth_conf ldap_timeout 2
berth_setup
BERTHCTL=$BUILD/berthctl
cat >"$DATA/auth/policy" <<'EOF'
# t126's policy
user:alice         ops/**         pull
group:devs         team/**        pull,push
authenticated      ${user}/**     *
EOF
berth_start
R=$(reg)
LOG=$RUN/berthd.log

b64url_dec() {
	local s
	s=$(printf '%s' "$1" | tr -- '-_' '+/')
	while [ $((${#s} % 4)) -ne 0 ]; do s=$s=; done
	printf '%s' "$s" | openssl base64 -d -A
}
jwt_claims() { b64url_dec "$(printf '%s' "$1" | cut -d. -f2)"; }
actions_of() { # TOKEN REPO: its actions there, sorted, comma-joined
	jwt_claims "$1" | jq -r --arg r "$2" \
		'[.access[]? | select(.name == $r) | .actions[]] | sort | join(",")' 2>/dev/null
}
tget() { # CRED [curl args]: GET /token (TOKEN, REFRESH, STATUS)
	local cred=$1; shift
	req GET /token -G -u "$cred" --data-urlencode service=berth "$@"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
refresh() { # REFRESH-TOKEN: POST /token grant_type=refresh_token
	req POST /token -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-urlencode grant_type=refresh_token --data-urlencode service=berth \
		--data-urlencode "refresh_token=$1" --data-urlencode "scope=repository:team/app:pull"
}
detail() { jq -r '.errors[0].detail // empty' "$BODY" 2>/dev/null; }
expect_detail() { expect_eq "$LAST_REQ: detail" "$(detail)" "$1"; }
no_internals() { # DESC: the body names no URI and no libldap text
	if grep -Eqi 'ldaps?://|127\.0\.0\.1|contact LDAP|bind|libldap|certificate' "$BODY"; then
		fail "$1: the client sees nothing internal" "body: $(body_head)"
	else
		pass "$1: the client sees nothing internal"
	fi
}
log_has() { # DESC REGEX: the berthd log (with its children's) matches
	if grep -Eq -- "$2" "$LOG"; then pass "$1"; else fail "$1" "want /$2/ in $LOG:" "$(tail -n 5 "$LOG")"; fi
}

# ---------------------------------------------------------------- 1. identity

for cred in "ALICE:alice-pw" " alice:alice-pw" "alice :alice-pw"; do
	tget "$cred" --data-urlencode "scope=repository:ops/tools:pull" \
		--data-urlencode "scope=repository:team/app:pull,push"
	expect_status 200
	expect_eq "'${cred%%:*}': sub is the directory's alice" "$(jwt_claims "$TOKEN" | jq -r .sub)" alice
	expect_eq "'${cred%%:*}': user:alice grants ops/tools pull" "$(actions_of "$TOKEN" ops/tools)" pull
	expect_eq "'${cred%%:*}': memberUid group devs grants team/app" \
		"$(actions_of "$TOKEN" team/app)" pull,push
done
tget "alice:wrong-pw"
expect_status 401
expect_detail "invalid username or password"

# A directory account never logs in as a local user of the same name (in
# any case): rules such as user:admin must not reach whoever can create
# directory accounts.  eve's refresh token ends too once the clash exists.
tget "eve:eve-pw" --data-urlencode client_id=t126 --data-urlencode offline_token=true
expect_status 200
EVE_REFRESH=$REFRESH
printf 'local-eve-pw\n' | "$BUILD/berthctl" -c "$DATA/berth.conf" user add Eve --password-stdin >/dev/null ||
	fail "berthctl user add Eve"
tget "eve:eve-pw"
expect_status 401
expect_detail "invalid username or password"
log_has "the log says why eve's directory login was refused" \
	"login of directory user eve refused: a local user has that name"
refresh "$EVE_REFRESH"
expect_status 401
expect_detail "the user is not in the directory; log in again"
tget "Eve:local-eve-pw"
expect_status 200
expect_eq "the local Eve keeps her own login" "$(jwt_claims "$TOKEN" | jq -r .sub)" Eve
"$BUILD/berthctl" -c "$DATA/berth.conf" user rm Eve >/dev/null || fail "berthctl user rm Eve"
tget "eve:eve-pw"
expect_status 200

mk_oci_layout "$TRASH/oci" v1 1
AUTH_A=$TRASH/auth-alice.json
if printf 'alice-pw\n' | sko login --authfile "$AUTH_A" --cert-dir "$CERTDIR" -u ALICE --password-stdin "$R" >/dev/null; then
	pass "skopeo login as ALICE"
else
	fail "skopeo login as ALICE" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
if sko copy --authfile "$AUTH_A" --dest-cert-dir "$CERTDIR" "oci:$TRASH/oci:v1" "docker://$R/alice/app:v1"; then
	pass "skopeo, logged in as ALICE, pushes to alice/app (her namespace)"
else
	fail "skopeo, logged in as ALICE, pushes to alice/app" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi

# ---------------------------------------------------------------- 2. the bind password

# PIDs of this test's berthd master and everything below it, with comm.
tree_pids() {
	local todo=("$BERTHD_PID") p c
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}; todo=("${todo[@]:1}")
		echo "$p $(cat "/proc/$p/comm" 2>/dev/null)"
		for c in $(berth_children "$p"); do todo+=("$c"); done
	done
}
# has_secret PID: 0 if the password is in PID's readable memory.
has_secret() {
	python3 - "$1" "$SVC_PW" <<'PY'
import sys
pid, secret = sys.argv[1], sys.argv[2].encode()
found = False
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        f = line.split()
        if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if hi - lo > 1 << 30:
            continue
        try:
            mem.seek(lo)
            if secret in mem.read(hi - lo):
                found = True
                break
        except OSError:
            pass
sys.exit(0 if found else 1)
PY
}
dirs=0 workers=0
while read -r pid comm; do
	case $comm in
	berth-directory)
		dirs=$((dirs + 1))
		ok "directory process $pid holds the bind password (the scan finds it)" has_secret "$pid" ;;
	berthd)
		workers=$((workers + 1))
		ok_not "berthd process $pid (master, API or token worker) never holds the bind password" \
			has_secret "$pid" ;;
	esac
done < <(tree_pids)
ok "directory processes found (1 + directory_workers)" test "$dirs" -ge 3
ok "berthd processes scanned" test "$workers" -ge 3

# Written inline in berth.conf, the password is read by the master with the
# file, but the workers wipe their copy when they start.
sed -i -e '/^[[:space:]]*ldap_bind_password_file[[:space:]]*=/d' "$DATA/berth.conf"
berth_conf ldap_bind_password "\"$SVC_PW\""
berth_restart_pool
tget "alice:alice-pw"
expect_status 200
workers=0
while read -r pid comm; do
	[ "$comm" = berthd ] && [ "$pid" != "$BERTHD_PID" ] || continue
	workers=$((workers + 1))
	ok_not "inline password: worker $pid does not hold it" has_secret "$pid"
done < <(tree_pids)
ok "inline password: workers scanned" test "$workers" -ge 3
sed -i -e '/^[[:space:]]*ldap_bind_password[[:space:]]*=/d' "$DATA/berth.conf"
berth_conf ldap_bind_password_file "$TRASH/svc.pw"
berth_restart_pool

# ---------------------------------------------------------------- 3. berthctl ldap test

"$BERTHCTL" -c "$DATA/berth.conf" ldap test ALICE >"$TRASH/ctl.out" 2>"$TRASH/ctl.err"
expect_eq "berthctl ldap test ALICE: exit 0" "$?" 0
ok "berthctl prints the DN" grep -q "^dn: *uid=alice,ou=people,$LDAP_BASE\$" "$TRASH/ctl.out"
ok "berthctl prints the directory's name" grep -q "^name: *alice\$" "$TRASH/ctl.out"
ok "berthctl prints the memberUid group" grep -q "^  devs\$" "$TRASH/ctl.out"
ok "berthctl prints the user:alice rule" grep -q "user:alice.*ops/\*\*" "$TRASH/ctl.out"
ok "berthctl prints the devs rule" grep -q "group:devs.*team/\*\*" "$TRASH/ctl.out"
"$BERTHCTL" -c "$DATA/berth.conf" ldap test alice --json >"$TRASH/ctl.json" 2>/dev/null
expect_eq "berthctl ldap test --json: name and groups" \
	"$(jq -c '[.name, .groups]' "$TRASH/ctl.json" 2>/dev/null)" '["alice",["devs"]]'
"$BERTHCTL" -c "$DATA/berth.conf" ldap test ghost >/dev/null 2>"$TRASH/ctl.err"
expect_eq "berthctl ldap test ghost: exit 1 (not found)" "$?" 1
"$BERTHCTL" -c "$DATA/berth.conf" ldap test >/dev/null 2>&1
expect_eq "berthctl ldap test without USER: exit 2" "$?" 2

# ---------------------------------------------------------------- 4. refresh tokens end

offline() { tget "$1" --data-urlencode client_id=t126 --data-urlencode offline_token=true; }
offline "bob:bob-pw"
expect_status 200
RB=$REFRESH
offline "carol:carol-pw"
CR=$REFRESH
refresh "$RB"
expect_status 200
sleep 1   # pwdChangedTime has seconds: change it after the token's iat
printf 'dn: uid=bob,ou=people,%s\nchangetype: modify\nreplace: userPassword\nuserPassword: bob-pw-2\n' \
	"$LDAP_BASE" | ldap_root ldapmodify || fail "changing bob's password"
refresh "$RB"
expect_status 401
expect_detail "the password has changed; log in again"
log_has "the log says why bob's refresh was refused" "refresh of bob refused: the password changed"
sleep 1
offline "bob:bob-pw-2"
expect_status 200
refresh "$REFRESH"
expect_status 200
tget "bob:bob-pw"
expect_status 401

refresh "$CR"
expect_status 200
printf 'dn: uid=carol,ou=people,%s\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' \
	"$LDAP_BASE" | ldap_root ldapmodify || fail "locking carol"
refresh "$CR"
expect_status 401
expect_detail "the account is disabled; log in again"
printf 'dn: uid=carol,ou=people,%s\nchangetype: modify\ndelete: pwdAccountLockedTime\n' \
	"$LDAP_BASE" | ldap_root ldapmodify || fail "unlocking carol"
refresh "$CR"
expect_status 200

# ---------------------------------------------------------------- 5. slapd stopped

offline "alice:alice-pw"
AR=$REFRESH
sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1
tget "alice:alice-pw" --data-urlencode "scope=repository:team/app:pull"
expect_status 401
expect_detail "the directory is unavailable; try again later"
no_internals "login with slapd stopped"
refresh "$AR"
expect_status 401
expect_detail "the directory is unavailable; try again later"
no_internals "refresh with slapd stopped"
log_has "the log has the URI and libldap's reason" "ldap $LDAP_URI: .*Can't contact LDAP server"
"$BERTHCTL" -c "$DATA/berth.conf" ldap test alice >/dev/null 2>"$TRASH/ctl.err"
expect_eq "berthctl ldap test with slapd stopped: exit 3" "$?" 3
ok "berthctl says the directory could not be reached" grep -q "could not be reached" "$TRASH/ctl.err"
sh "$SLAPD_SH" start "$LDIR" >/dev/null 2>&1 || bail "slapd restart failed"
. "$LDIR/env"
tget "alice:alice-pw" --data-urlencode "scope=repository:alice/app:pull"
expect_status 200
AT=$TOKEN

# slapd hung (SIGSTOP): 4 logins at once wait on the directory process's
# 2 connections, not on the API workers; a pull with a token stays fast and
# every login ends "unavailable" within the client's bound (here 24 s).
kill -STOP "$SLAPD_PID"
pids=()
for i in 1 2 3 4; do
	curl -s -o "$TRASH/hung-$i.json" -w '%{http_code} %{time_total}\n' --cacert "$CACERT" \
		--max-time 40 -u alice:alice-pw "$URL/token?service=berth" >"$TRASH/hung-$i.out" 2>&1 &
	pids+=($!)
done
sleep 1
pull=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --cacert "$CACERT" --max-time 10 \
	-H "Authorization: Bearer $AT" -H "Accept: application/vnd.oci.image.manifest.v1+json" \
	"$URL/v2/alice/app/manifests/v1")
expect_eq "a pull with a token while logins wait on a hung slapd: 200" "${pull%% *}" 200
ok "... and it takes under 1 s (took ${pull#* } s)" awk -v t="${pull#* }" 'BEGIN { exit !(t < 1.0) }'
wait "${pids[@]}"
kill -CONT "$SLAPD_PID"
for i in 1 2 3 4; do
	read -r code secs <"$TRASH/hung-$i.out"
	expect_eq "login $i with slapd hung: 401" "$code" 401
	expect_eq "login $i: the directory is unavailable" \
		"$(jq -r '.errors[0].detail' "$TRASH/hung-$i.json" 2>/dev/null)" \
		"the directory is unavailable; try again later"
	ok "login $i ended within the client's bound (took $secs s)" awk -v t="$secs" 'BEGIN { exit !(t < 25) }'
done
tget "alice:alice-pw"
expect_status 200

# ---------------------------------------------------------------- 6. ldaps:// without the CA, by SIGHUP

old_dir=$(tree_pids | awk '$2 == "berth-directory" { print $1; exit }')
sed -i "s|^ldap_uri *=.*|ldap_uri = $LDAPS_URI|" "$DATA/berth.conf"
berth_reload
for _ in $(seq 1 50); do
	grep -q "directory ready on .*$LDAPS_URI" "$LOG" && break
	sleep 0.1
done
log_has "SIGHUP starts a directory process with the new ldap_uri" "directory ready on .*$LDAPS_URI"
for _ in $(seq 1 50); do [ -d "/proc/$old_dir" ] || break; sleep 0.1; done
ok_not "the old directory process is gone" test -d "/proc/$old_dir"
tget "alice:alice-pw"
expect_status 401
expect_detail "the directory is unavailable; try again later"
no_internals "login over ldaps:// with an unknown CA"
log_has "the log names a certificate failure, and why" \
	"ldap $LDAPS_URI: .*TLS handshake failed, certificate not accepted: unable to get local issuer certificate"

test_done
