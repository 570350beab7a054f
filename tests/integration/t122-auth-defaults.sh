#!/bin/bash
# t122-auth-defaults.sh - token auth as a new administrator switches it on:
# the default policy, settings checked before they are used, '#' in values,
# `berthctl policy explain`, and 401 insufficient_scope decided at request
# time.
#
#   1. A fresh data directory's policy (util/mkconf.sh): admin may do
#      everything; bob pushes bob/x but not alice/x or x (403 DENIED);
#      the catalog shows bob only what he may pull.  An existing data
#      directory keeps its policy when mkconf runs again.
#   2. `berthd -t` refuses settings that cannot work (ldap_group_mode =
#      members, a missing ldap_bind_password_file or ldap_ca_file, StartTLS
#      on ldaps://, a broken policy file, svc#pass unquoted), exit 1, naming
#      the key; "svc#pass" in quotes is valid.
#   3. A running pool sent SIGHUP after a bad edit refuses it (the log says
#      why) and keeps serving logins with the old settings; a good edit
#      (the directory switched on, its reader's password "svc#pass" quoted)
#      applies: a directory user logs in, so the quoted password reached the
#      bind.  Needs slapd (tests/ldap/slapd.sh); skipped without it.
#   4. `berthctl policy explain`: the granting rule by file and line, default
#      deny, --group, tokens, --json, exit codes 0/1/2.
#   5. A token that names the repository but lacks the action: 401
#      insufficient_scope with the scope to ask for when the policy (or a
#      repository token's own scopes) would grant it, and a client that
#      widens its token as containerd's and docker's do (fetch a token for
#      the challenge's scope, retry) then deletes; a policy "no" stays 403
#      DENIED; anonymous and unnamed repositories unchanged.
. "$(dirname "$0")/../lib.sh"

need_cmd jq openssl curl
# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_setup
BERTHCTL=$BUILD/berthctl
BERTHD=$BUILD/berthd
[ -x "$BERTHCTL" ] && [ -x "$BERTHD" ] || bail "$BUILD/berthctl or berthd not built"
CONF=$DATA/berth.conf
POLICY=$DATA/auth/policy
W=$TRASH/work
mkdir -p "$W"
ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
ADMIN_PW=admin-Pw-1 BOB_PW=bob-Pw-1 ALICE_PW=alice-Pw-1
for u in admin:$ADMIN_PW bob:$BOB_PW alice:$ALICE_PW; do
	printf '%s\n' "${u#*:}" | ctl user add "${u%%:*}" --password-stdin >/dev/null ||
		bail "berthctl user add ${u%%:*}"
done
berth_start

# ---------------------------------------------------------------- helpers

jwt_access() { # TOKEN: its access claim, compact and sorted
	local p
	p=$(printf '%s' "$1" | cut -d. -f2 | tr -- '-_' '+/')
	while [ $((${#p} % 4)) -ne 0 ]; do p=$p=; done
	printf '%s' "$p" | openssl base64 -d -A |
		jq -c '[.access[]? | {type, name, actions: (.actions | sort)}]' 2>/dev/null
}
tok() { # CRED SCOPE...: GET /token (CRED "" = anonymous); sets TOKEN
	local cred=$1 s args=()
	shift
	for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
	[ -n "$cred" ] && args+=(-u "$cred")
	req GET /token -G --data-urlencode service=berth "${args[@]}"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
}
areq() { # METHOD PATH TOKEN [curl args]
	local m=$1 p=$2 t=$3
	shift 3
	req "$m" "$p" -H "Authorization: Bearer $t" "$@"
}
expect_message() { # SUBSTRING: in .errors[0].message or .detail
	local got
	got=$(jq -r '.errors[0] | "\(.message) \(.detail // "")"' "$BODY" 2>/dev/null)
	case $got in
	*"$1"*) pass "$LAST_REQ: says '$1'" ;;
	*) fail "$LAST_REQ: says '$1'" "got: '$got' (status $STATUS)" ;;
	esac
}
# apush REPO TAG TOKEN: one small image (layer, config, manifest) with TOKEN;
# 0 when every step answered 201.  MANIFEST_DIGEST is the manifest's digest.
apush() {
	local repo=$1 tag=$2 t=$3 d=$W/img-${1//\//_}-$2 f
	mkdir -p "$d"
	mk_layer "$d/layer.tgz"
	mk_config "$d/config.json" "$d/layer.tgz"
	mk_image_manifest "$d/manifest.json" "$MT_OCI_MANIFEST" "$d/config.json" "$d/layer.tgz"
	for f in layer.tgz config.json; do
		areq POST "/v2/$repo/blobs/uploads/?digest=$(digest_of "$d/$f")" "$t" \
			-H 'Content-Type: application/octet-stream' --data-binary @"$d/$f"
		[ "$STATUS" = 201 ] || return 1
	done
	areq PUT "/v2/$repo/manifests/$tag" "$t" -H "Content-Type: $MT_OCI_MANIFEST" \
		--data-binary @"$d/manifest.json"
	MANIFEST_DIGEST=$(digest_of "$d/manifest.json")
	[ "$STATUS" = 201 ]
}
challenge_param() { # NAME: a parameter of the last answer's WWW-Authenticate
	hdr WWW-Authenticate | sed -n "s/.*[ ,]$1=\"\\([^\"]*\\)\".*/\\1/p"
}

# ---------------------------------------------------------------- 1. the default policy

expect_eq "mkconf's policy: admin everything, users their namespace, the catalog" \
	"$(grep -v '^#' "$POLICY" | grep -v '^$' | tr -s ' ')" \
	"$(printf '%s\n' 'user:admin ** *' 'authenticated ${user}/** pull,push,delete' \
		'authenticated ** catalog')"

tok "admin:$ADMIN_PW" repository:x:pull,push repository:alice/x:pull,push repository:bob/y:pull,push
expect_status 200
ADMIN_TOKEN=$TOKEN
ok "admin pushes x" apush x 1 "$ADMIN_TOKEN"
ok "admin pushes alice/x" apush alice/x 1 "$ADMIN_TOKEN"
ok "admin pushes into bob's namespace too (bob/y)" apush bob/y 1 "$ADMIN_TOKEN"

tok "bob:$BOB_PW" repository:bob/x:pull,push,delete
expect_eq "bob's token for his own namespace: everything asked for" "$(jwt_access "$TOKEN")" \
	'[{"type":"repository","name":"bob/x","actions":["delete","pull","push"]}]'
ok "bob pushes bob/x" apush bob/x 1 "$TOKEN"

for repo in alice/x x; do
	tok "bob:$BOB_PW" "repository:$repo:pull,push"
	expect_eq "bob's token for $repo carries no action" "$(jwt_access "$TOKEN")" \
		"[{\"type\":\"repository\",\"name\":\"$repo\",\"actions\":[]}]"
	areq POST "/v2/$repo/blobs/uploads/" "$TOKEN"
	expect_error 403 DENIED
	expect_message "requested access to $repo (pull,push) is denied"
	if grep -qi 'lock' "$BODY"; then
		fail "$LAST_REQ: the refusal speaks of the policy, not of a lockout" "body: $(body_head)"
	else
		pass "$LAST_REQ: the refusal speaks of the policy, not of a lockout"
	fi
	areq GET "/v2/$repo/manifests/1" "$TOKEN"
	expect_error 403 DENIED
done

tok "bob:$BOB_PW" 'registry:catalog:*'
areq GET /v2/_catalog "$TOKEN"
expect_status 200
expect_eq "the catalog as bob shows only what bob may pull" \
	"$(jq -c .repositories "$BODY")" '["bob/x","bob/y"]'
tok "admin:$ADMIN_PW" 'registry:catalog:*'
areq GET /v2/_catalog "$TOKEN"
expect_eq "the catalog as admin shows everything" \
	"$(jq -c '.repositories | sort' "$BODY")" '["alice/x","bob/x","bob/y","x"]'
tok "" 'registry:catalog:*' repository:bob/x:pull
expect_eq "anonymous gets nothing by default" "$(jwt_access "$TOKEN")" \
	'[{"type":"repository","name":"bob/x","actions":[]}]'

# An existing data directory keeps its policy (and an old, open one stays).
printf '# my own\nauthenticated  **  *\n' >"$POLICY"
cp "$POLICY" "$W/policy.mine"
ok "util/mkconf.sh again on the existing data directory" \
	env AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT"
ok "the existing policy is kept byte for byte" cmp "$POLICY" "$W/policy.mine"
rm -f "$POLICY"
ok "util/mkconf.sh writes the default again when the policy is gone" \
	env AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT"
ok "... the default" grep -q '^user:admin  *\*\*  *\*$' "$POLICY"

# ---------------------------------------------------------------- 2. berthd -t

LDAP_COMMON="ldap_uri = ldap://127.0.0.1:9
ldap_user_base = ou=people,dc=example,dc=org
ldap_bind_dn = cn=reader,dc=example,dc=org"
# check_t DESCRIPTION WANT-EXIT WANT-TEXT [CONF LINES...]: berthd -t on
# berth.conf plus those lines.
check_t() {
	local desc=$1 want_rc=$2 want=$3 rc
	shift 3
	{ cat "$CONF"; printf '%s\n' "$@"; } >"$W/t.conf"
	"$BERTHD" -t -c "$W/t.conf" >"$W/t.out" 2>&1
	rc=$?
	if [ "$rc" = "$want_rc" ] && grep -qF -- "$want" "$W/t.out"; then
		pass "berthd -t: $desc"
	else
		fail "berthd -t: $desc" "exit $rc, want $want_rc; output: $(head -c 300 "$W/t.out")" \
			"want the output to hold: $want"
	fi
}
printf 'pw\n' >"$W/bind.pw"
check_t "the running configuration is valid" 0 "is valid"
check_t "ldap_group_mode = members is refused, naming the allowed values" 1 \
	'ldap_group_mode: "members" is not one of none, memberof, member, memberuid' \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" "ldap_group_mode = members"
check_t "a missing ldap_bind_password_file is refused, naming the file" 1 \
	"ldap_bind_password_file: $W/missing.pw does not exist" \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/missing.pw"
check_t "a bind DN with no password is refused" 1 "ldap_bind_dn: set, but no password" \
	"$LDAP_COMMON"
check_t "a missing ldap_ca_file is refused, naming the file" 1 \
	"ldap_ca_file: $W/missing-ca.crt does not exist" \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" "ldap_ca_file = $W/missing-ca.crt"
check_t "an ldap_ca_file that is a directory is refused" 1 \
	"ldap_ca_file: $W is not a regular file" \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" "ldap_ca_file = $W"
check_t "StartTLS on ldaps:// is refused" 1 "ldap_starttls: ldaps://127.0.0.1:9 is TLS already" \
	"ldap_uri = ldaps://127.0.0.1:9" "ldap_user_base = ou=people,dc=example,dc=org" \
	"ldap_starttls = true"
check_t "ldap_group_mode = member without ldap_group_base is refused" 1 \
	"ldap_group_base: not set" "$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" \
	"ldap_group_mode = member"
check_t "a user filter without %s is refused" 1 "ldap_user_filter: \"(uid=alice)\" has no %s" \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" "ldap_user_filter = (uid=alice)"
check_t "an unknown URI scheme is refused" 1 'ldap_uri: "http://x" is not ldap://' \
	"ldap_uri = http://x" "ldap_user_base = ou=people,dc=example,dc=org"
check_t "a complete directory configuration is valid (no connection made)" 0 "is valid" \
	"$LDAP_COMMON" "ldap_bind_password_file = $W/bind.pw" "ldap_group_mode = member" \
	"ldap_group_base = ou=groups,dc=example,dc=org"
NLINES=$(wc -l <"$CONF")
check_t "svc#pass unquoted is refused with its line, telling to quote it" 1 \
	":$((NLINES + 4)): ldap_bind_password: '#' inside a value; put the value in double quotes" \
	"$LDAP_COMMON" 'ldap_bind_password = svc#pass'
check_t '"svc#pass" in quotes is valid' 0 "is valid" \
	"$LDAP_COMMON" 'ldap_bind_password = "svc#pass"   # the reader'
printf 'user:bob  team/**  pull\nuser:bob  Team/**  pull\n' >"$W/bad.policy"
check_t "a policy file that does not parse is refused with its line" 1 \
	"policy_file: $W/bad.policy:2: pattern \"Team/**\" has upper case" \
	"policy_file = $W/bad.policy"
check_t "a missing policy file is refused" 1 "policy_file: $W/none.policy does not exist" \
	"policy_file = $W/none.policy"

# ---------------------------------------------------------------- 3. SIGHUP

reload_and_wait() { # WORD: SIGHUP, then wait (<= 10 s) for a new log line with WORD
	local before i
	before=$(grep -c -- "$1" "$RUN/berthd.log")
	berth_reload
	for i in $(seq 1 100); do
		[ "$(grep -c -- "$1" "$RUN/berthd.log")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
SLAPD_SH=$BERTH_TOP/tests/ldap/slapd.sh
LDIR=$TRASH/ldap
HAVE_SLAPD=
# slapd goes (by the PID slapd.sh keeps) before the rest of the stack.
t122_on_exit() {
	local rc=$?
	sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1
	(exit "$rc")
	berth_cleanup
}
trap t122_on_exit EXIT
if command -v ldapmodify >/dev/null 2>&1; then
	sh "$SLAPD_SH" start "$LDIR" >"$TRASH/slapd.out" 2>"$TRASH/slapd.err"
	case $? in
	0) HAVE_SLAPD=1 ;;
	3) say "# slapd not installed: skipping the directory reload checks" ;;
	*) fail "tests/ldap/slapd.sh start" "$(head -c 300 "$TRASH/slapd.err")" ;;
	esac
fi
if [ -n "$HAVE_SLAPD" ]; then
	# shellcheck disable=SC1091
	. "$LDIR/env"
	# the service account's password gets a '#'
	ldapmodify -x -H "$LDAP_URI" -D "$LDAP_ROOT_DN" -w "$LDAP_ROOT_PW" >"$W/ldapmodify.out" 2>&1 <<EOF
dn: cn=reader,$LDAP_BASE
changetype: modify
replace: userPassword
userPassword: svc#pass
EOF
	ok "ldapmodify: the reader's password is now svc#pass" test $? = 0
	cp "$CONF" "$W/conf.good"
	set_ldap() { # GROUP-MODE PASSWORD-LINE
		{ cat "$W/conf.good"
		  printf '%s\n' "ldap_uri = $LDAP_URI" "ldap_bind_dn = cn=reader,$LDAP_BASE" \
			"ldap_user_base = ou=people,$LDAP_BASE" "ldap_group_mode = $1" \
			"ldap_group_base = ou=groups,$LDAP_BASE" "$2"
		} >"$CONF.new" && mv -f "$CONF.new" "$CONF"
	}
	tok "carol:carol-pw" repository:carol/x:pull
	expect_status 401
	set_ldap members 'ldap_bind_password = "svc#pass"'
	ok "SIGHUP with ldap_group_mode = members: refused" reload_and_wait "reload refused"
	ok "... the log says why" grep -q 'reload refused: ldap_group_mode: "members" is not one of' \
		"$RUN/berthd.log"
	tok "bob:$BOB_PW" repository:bob/x:pull
	expect_status 200
	tok "carol:carol-pw" repository:carol/x:pull
	expect_status 401
	set_ldap member 'ldap_bind_password = svc#pass'
	ok "SIGHUP with svc#pass unquoted: refused" reload_and_wait "reload refused"
	ok "... the log names the line and says to quote" \
		grep -q "berth.conf:[0-9]*: ldap_bind_password: '#' inside a value; put the value in double quotes" \
		"$RUN/berthd.log"
	tok "bob:$BOB_PW" repository:bob/x:pull
	expect_status 200
	set_ldap member 'ldap_bind_password = "svc#pass"   # quoted'
	ok "SIGHUP with a good edit: reloaded" reload_and_wait "reloaded"
	for i in $(seq 1 50); do      # the new workers take over
		tok "carol:carol-pw" repository:carol/x:pull
		[ "$STATUS" = 200 ] && break
		sleep 0.2
	done
	expect_status 200
	expect_eq "carol (directory, reader bound with \"svc#pass\") gets her namespace" \
		"$(jwt_access "$TOKEN")" '[{"type":"repository","name":"carol/x","actions":["pull"]}]'
	tok "bob:$BOB_PW" repository:bob/x:pull
	expect_status 200
	sh "$SLAPD_SH" stop "$LDIR" >/dev/null 2>&1
	cp "$W/conf.good" "$CONF"
	ok "SIGHUP back to no directory: reloaded" reload_and_wait "reloaded"
fi

# ---------------------------------------------------------------- 4. policy explain

cat >"$POLICY" <<'EOF'
# t122's policy
user:admin       **             *
authenticated    ${user}/**     pull,push,delete
authenticated    **             catalog
user:bob         team/**        pull
group:devs       team/**        pull,push
token:ci         ci/**          pull
EOF
explain() { # WANT-EXIT ARGS...: berthctl policy explain ARGS; output in $W/explain.out
	local want=$1 rc
	shift
	ctl policy explain "$@" >"$W/explain.out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then
		pass "policy explain $*: exit $want"
	else
		fail "policy explain $*: exit $want" "exit $rc: $(head -c 300 "$W/explain.out")"
	fi
}
explain_says() { # TEXT
	if grep -qF -- "$1" "$W/explain.out"; then pass "... says: $1"
	else fail "... says: $1" "got: $(head -c 400 "$W/explain.out")"; fi
}
explain 0 user:bob bob/x push
explain_says "granted: user:bob may push bob/x"
explain_says "$POLICY:3: grants: authenticated    \${user}/**     pull,push,delete"
explain 1 user:bob alice/x push
explain_says "denied: no rule grants user:bob push on alice/x (default deny)"
explain_says "$POLICY:3: other repository: authenticated"
explain 1 user:bob team/app push
explain_says "$POLICY:5: other action: user:bob         team/**        pull"
explain 0 user:bob team/app push --group devs
explain_says "$POLICY:6: grants: group:devs"
explain 0 user:admin any/thing delete
explain_says "$POLICY:2: grants: user:admin"
explain 1 anonymous bob/x pull
explain_says "denied: no rule of $POLICY names anonymous (default deny)"
explain 0 user:bob - catalog
explain_says "granted: user:bob may list the catalog"
explain 0 token:ci ci/app pull
explain_says "$POLICY:7: grants: token:ci"
explain 1 token:ci ci/app push
explain 1 user:bob alice/x push --json
expect_eq "--json: the answer as JSON" \
	"$(jq -c '[.granted, .subject, .repository, .action, (.rules | map(.line))]' "$W/explain.out")" \
	'[false,"user:bob","alice/x","push",[3,4,5]]'
explain 2 user:bob bob/x
explain 2 user:bob bob/x fly
explain_says 'action "fly": want pull, push, delete or catalog'
explain 2 root bob/x pull
explain_says 'subject "root": want user:NAME, token:NAME or anonymous'
explain 2 user:bob Bob/x pull
explain 2 user:bob bob/x pull --bogus

# ---------------------------------------------------------------- 5. insufficient_scope

# A client that widens its token as containerd's resolver and docker do: on
# 401 with error="insufficient_scope", fetch a token for the challenge's
# scope plus what it asked before, and retry once.
# wreq CRED METHOD PATH SCOPE...: sets STATUS, WIDENED (the scope fetched).
wreq() {
	local cred=$1 m=$2 p=$3 scope
	shift 3
	tok "$cred" "$@"
	areq "$m" "$p" "$TOKEN"
	WIDENED=
	[ "$STATUS" = 401 ] || return 0
	[ "$(challenge_param error)" = insufficient_scope ] || return 0
	scope=$(challenge_param scope)
	WIDENED=$scope
	tok "$cred" "$@" "$scope"
	areq "$m" "$p" "$TOKEN"
}

tok "bob:$BOB_PW" repository:bob/x:pull,push
ok "bob pushes bob/x:2 with a pull,push token" apush bob/x 2 "$TOKEN"
areq DELETE "/v2/bob/x/manifests/$MANIFEST_DIGEST" "$TOKEN"
expect_error 401 UNAUTHORIZED
expect_eq "the challenge says insufficient_scope" "$(challenge_param error)" insufficient_scope
expect_eq "... and asks for what the token had plus delete" "$(challenge_param scope)" \
	"repository:bob/x:pull,push,delete"
expect_eq "... at the token service" "$(challenge_param realm)" "$URL/token"
wreq "bob:$BOB_PW" DELETE "/v2/bob/x/manifests/$MANIFEST_DIGEST" repository:bob/x:pull,push
expect_status 202
expect_eq "the widening client fetched the challenge's scope" "$WIDENED" \
	"repository:bob/x:pull,push,delete"
tok "bob:$BOB_PW" repository:bob/x:pull
areq GET "/v2/bob/x/manifests/$MANIFEST_DIGEST" "$TOKEN"
expect_error 404 MANIFEST_UNKNOWN

# pull only, then push: ask for pull,push
tok "bob:$BOB_PW" repository:bob/x:pull
areq POST /v2/bob/x/blobs/uploads/ "$TOKEN"
expect_status 401
expect_eq "pull-only token pushing: asks for pull,push" "$(challenge_param scope)" \
	"repository:bob/x:pull,push"

# a policy "no" stays 403: bob may only pull team/**
tok "admin:$ADMIN_PW" repository:team/app:pull,push
ok "admin pushes team/app" apush team/app 1 "$TOKEN"
wreq "bob:$BOB_PW" DELETE "/v2/team/app/manifests/$MANIFEST_DIGEST" repository:team/app:pull
expect_error 403 DENIED
expect_eq "no widening where the policy says no" "$WIDENED" ""
tok "bob:$BOB_PW" repository:team/app:pull
areq PUT /v2/team/app/manifests/2 "$TOKEN" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary '{}'
expect_error 403 DENIED

# a repository token: its own scopes count, as the token service counts them
printf 'token:ci  ci/**  pull\n' >>"$POLICY"
tok "admin:$ADMIN_PW" repository:ci/app:pull,push
ok "admin pushes ci/app" apush ci/app 1 "$TOKEN"
CI_SECRET=$(ctl token create ci-del --scope repository:ci/app:pull,delete --expires 1d 2>/dev/null |
	grep -o 'berth_[A-Za-z0-9_-]*' | head -n 1)
CI2_SECRET=$(ctl token create ci-ro --scope repository:ci/app:pull --expires 1d 2>/dev/null |
	grep -o 'berth_[A-Za-z0-9_-]*' | head -n 1)
expect_eq "berthctl token create ci-del, ci-ro" "${CI_SECRET:+y}${CI2_SECRET:+y}" yy
tok "ci-del:$CI_SECRET" repository:ci/app:pull
areq DELETE "/v2/ci/app/manifests/$MANIFEST_DIGEST" "$TOKEN"
expect_error 401 UNAUTHORIZED
expect_eq "repository token with delete in its scopes: asked to widen" \
	"$(challenge_param scope)" "repository:ci/app:pull,delete"
wreq "ci-del:$CI_SECRET" DELETE "/v2/ci/app/manifests/$MANIFEST_DIGEST" repository:ci/app:pull
expect_status 202
wreq "ci-ro:$CI2_SECRET" PUT /v2/ci/app/manifests/x repository:ci/app:pull
expect_error 403 DENIED
ok "revoke ci-del" ctl token revoke ci-del

# anonymous, and a repository the token does not name: as before
printf 'anonymous  public/**  pull\n' >>"$POLICY"
tok "" repository:public/a:pull
areq PUT /v2/public/a/manifests/1 "$TOKEN" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary '{}'
expect_error 403 DENIED
tok "bob:$BOB_PW" repository:bob/x:pull
areq GET /v2/bob/other/manifests/1 "$TOKEN"
expect_error 401 UNAUTHORIZED
expect_eq "a repository the token does not name: insufficient_scope for it" \
	"$(challenge_param error) $(challenge_param scope)" "insufficient_scope repository:bob/other:pull"
req GET /v2/bob/x/manifests/1
expect_error 401 UNAUTHORIZED
expect_eq "no token: a plain challenge" "$(challenge_param error)" ""

test_done
