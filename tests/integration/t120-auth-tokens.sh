#!/bin/bash
# t120-auth-tokens.sh - the token service with local users and repository
# tokens, driven with curl the way docker and containers/image drive it.
#
# berth runs with `auth = token` (util/mkconf.sh's AUTH=token config: local
# users file, repository tokens file, policy file, state directory, signer)
# and this policy:
#
#   anonymous      public/**    pull
#   authenticated  ${user}/**   *
#   authenticated  **           catalog
#   user:alice     team/**      pull,push,delete
#   user:alice     public/**    push
#   user:bob       team/**      pull
#
# Users alice, bob (password with ':' and a blank) and carol are made with
# `berthctl user add --password-stdin`; the repository token "ci" with
# `berthctl token create ci --scope repository:ci/app:pull,push`.
#
# What is checked, in order: the challenge of every route kind; docker's
# login and push step by step (GET /token with account, client_id=docker,
# offline_token=true and no scope; then POST grant_type=refresh_token for a
# push scope) and the OAuth2 password grant; "less, never an error";
# insufficient_scope (401) against DENIED (403); the catalog filtered by what
# the caller may pull; anonymous pulls; repository tokens and their
# revocation; user passwd/rm; forged tokens (expired, not yet valid,
# alg none, HS256 keyed with the public key, another key, an edited payload,
# wrong issuer/audience, refresh and access tokens swapped); wrong, empty
# and malformed credentials; and last the failed-login delays (429 with
# Retry-After), per user and address and per address (curl --interface
# 127.0.0.N gives nginx a distinct $remote_addr on the loopback).
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq openssl xxd
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
# The limits are raised for everything but the brute-force part at the end
# (which lowers them and restarts the pool): the checks before it fail logins
# on purpose, all from 127.0.0.1.
berth_conf login_fail_limit 1000
berth_conf login_spray_limit 1000
berth_conf login_account_limit 1000
berth_conf login_fail_window 120
berth_setup
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
cat >"$DATA/auth/policy" <<'EOF'
# t120's policy
anonymous          public/**      pull
authenticated      ${user}/**     *
authenticated      **             catalog
user:alice         team/**        pull,push,delete
user:alice         public/**      push
user:bob           team/**        pull
EOF

ALICE_PW='alice-Pw-7c1'
BOB_PW='bob:pass word'
CAROL_PW='carol-Pw-93e'

ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
ctl_in() { local in=$1; shift; printf '%s\n' "$in" | ctl "$@"; } # password on stdin

# ---------------------------------------------------------------- helpers

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
b64url_dec() {
	local s
	s=$(printf '%s' "$1" | tr -- '-_' '+/')
	while [ $((${#s} % 4)) -ne 0 ]; do s=$s=; done
	printf '%s' "$s" | openssl base64 -d -A
}
jwt_header() { b64url_dec "$(printf '%s' "$1" | cut -d. -f1)"; }
jwt_claims() { b64url_dec "$(printf '%s' "$1" | cut -d. -f2)"; }
# The access claim, actions sorted, compact: what a token grants.
jwt_access() {
	jwt_claims "$1" | jq -c '[.access[]? | {type, name, actions: (.actions | sort)}]' 2>/dev/null
}

# es256_sig KEY INPUT: the JWS ES256 signature (base64url of R || S, each
# 32 bytes) of INPUT by the PEM private KEY.  openssl writes a DER
# ECDSA-Sig-Value; its two INTEGERs are left-padded (or stripped of a sign
# byte) to 32 bytes each.
es256_sig() {
	printf '%s' "$2" | openssl dgst -sha256 -sign "$1" -binary >"$W/sig.der" || return 1
	openssl asn1parse -inform DER -in "$W/sig.der" | sed -n 's/.*prim: *INTEGER *://p' |
		while read -r h; do
			while [ ${#h} -lt 64 ]; do h=0$h; done
			printf '%s' "${h:$((${#h} - 64))}"
		done | xxd -r -p | b64url
}
# jwt_es256 KEY HEADER-JSON CLAIMS-JSON: a compact JWS.
jwt_es256() {
	local in
	in=$(printf '%s' "$2" | jq -c . | tr -d '\n' | b64url).$(printf '%s' "$3" | jq -c . | tr -d '\n' | b64url)
	printf '%s.%s' "$in" "$(es256_sig "$1" "$in")"
}
# jwt_hs256 SECRET-FILE HEADER-JSON CLAIMS-JSON: HMAC-SHA256 keyed with the
# file's bytes (the classic "public key as HMAC secret" confusion).
jwt_hs256() {
	local in
	in=$(printf '%s' "$2" | jq -c . | tr -d '\n' | b64url).$(printf '%s' "$3" | jq -c . | tr -d '\n' | b64url)
	printf '%s.%s' "$in" "$(printf '%s' "$in" | openssl dgst -sha256 -mac HMAC \
		-macopt "hexkey:$(xxd -p "$1" | tr -d '\n')" -binary | b64url)"
}

# tget CRED [curl args]: GET /token (CRED user:password, or '' for none);
# the query is built by the caller with -G --data-urlencode.  Sets TOKEN
# and REFRESH from the answer (empty when absent).
tget() {
	local cred=$1; shift
	if [ -n "$cred" ]; then
		req GET /token -G -u "$cred" "$@"
	else
		req GET /token -G "$@"
	fi
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
# tpost FORM-FIELD... : POST /token, form-encoded as docker sends it.
tpost() {
	local args=() f
	for f in "$@"; do args+=(--data-urlencode "$f"); done
	req POST /token -H 'Content-Type: application/x-www-form-urlencoded' "${args[@]}"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
# tok CRED SCOPE...: GET /token for these scopes (TOKEN, REFRESH, STATUS).
tok() {
	local cred=$1 s args=(--data-urlencode service=berth)
	shift
	for s in "$@"; do args+=(--data-urlencode "scope=$s"); done
	tget "$cred" "${args[@]}"
}

# areq METHOD PATH TOKEN [curl args]: a registry request with a bearer token.
areq() {
	local m=$1 p=$2 t=$3
	shift 3
	req "$m" "$p" -H "Authorization: Bearer $t" "$@"
}

# expect_challenge [SCOPE [ERROR]]: the exact WWW-Authenticate of a 401.
expect_challenge() {
	local want="Bearer realm=\"$URL/token\",service=\"berth\""
	[ -z "${1:-}" ] || want="$want,scope=\"$1\""
	[ -z "${2:-}" ] || want="$want,error=\"$2\""
	expect_header WWW-Authenticate "$want"
}

# expect_detail SUBSTRING: the error's detail says so (case-insensitive).
expect_detail() {
	local got
	got=$(jq -r '.errors[0].detail // empty' "$BODY" 2>/dev/null)
	if printf '%s' "$got" | grep -qiF -- "$1"; then
		pass "$LAST_REQ: detail mentions '$1'"
	else
		fail "$LAST_REQ: detail mentions '$1'" "got detail: '$got' (status $STATUS)" "body: $(body_head)"
	fi
}

# expect_no_token: the answer carries no token of any kind.
expect_no_token() {
	if jq -e '.token // .access_token // .refresh_token' "$BODY" >/dev/null 2>&1; then
		fail "$LAST_REQ: no token handed out" "body: $(body_head)"
	else
		pass "$LAST_REQ: no token handed out"
	fi
}

# expect_access DESC TOKEN WANT-JSON (compact, actions sorted)
expect_access() { expect_eq "$1" "$(jwt_access "$2")" "$3"; }
acc() { # acc NAME ACTIONS... -> one access entry
	local n=$1; shift
	printf '{"type":"repository","name":"%s","actions":%s}' "$n" \
		"$(printf '%s\n' "$@" | jq -R 'select(. != "")' | jq -sc 'sort')"
}

# Image fixtures pushed with a bearer token.
apush_blob() { # REPO FILE TOKEN
	areq POST "/v2/$1/blobs/uploads/?digest=$(digest_of "$2")" "$3" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$2"
	[ "$STATUS" = 201 ]
}
apush_manifest() { # REPO REF FILE TOKEN
	areq PUT "/v2/$1/manifests/$2" "$4" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$3"
	[ "$STATUS" = 201 ]
}
mk_image() { # DIR
	mkdir -p "$1"
	mk_layer "$1/layer.tgz"
	rm -f "$1/layer.tgz.tar"
	mk_config "$1/config.json" "$1/layer.tgz"
	mk_image_manifest "$1/manifest.json" "$MT_OCI_MANIFEST" "$1/config.json" "$1/layer.tgz"
}
apush_image() { # REPO TAG TOKEN DIR
	mk_image "$4"
	ok "push layer to $1 with a token" apush_blob "$1" "$4/layer.tgz" "$3"
	ok "push config to $1 with a token" apush_blob "$1" "$4/config.json" "$3"
	ok "push manifest $1:$2 with a token" apush_manifest "$1" "$2" "$4/manifest.json" "$3"
}

# ---------------------------------------------------------------- users

ok "berthctl user add alice --password-stdin" ctl_in "$ALICE_PW" user add alice --password-stdin
ok "berthctl user add bob (password with ':' and a blank)" ctl_in "$BOB_PW" user add bob --password-stdin
ok "berthctl user add carol" ctl_in "$CAROL_PW" user add carol --password-stdin
ok_not "berthctl user add alice again is refused" ctl_in other user add alice --password-stdin
ok_not "berthctl user add 'a*b' (bad name) is refused" ctl_in x user add 'a*b' --password-stdin
ok_not "berthctl user add with an empty password is refused" ctl_in "" user add dan --password-stdin
if ctl user ls --json >"$W/users.json" 2>"$W/users.err"; then
	pass "berthctl user ls --json"
else
	fail "berthctl user ls --json" "$(head -c 300 "$W/users.err")"
fi
user_names() { # the names of a `user ls --json` listing, sorted, one line
	jq -r '(if type == "array" then . else (.users // []) end)[]
		| if type == "string" then . else .name end' "$1" 2>/dev/null | sort | tr '\n' ' '
}
expect_eq "user ls --json lists alice, bob, carol" "$(user_names "$W/users.json")" "alice bob carol "
UF=$DATA/auth/users
expect_eq "users file is mode 0600" "$(stat -c %a "$UF" 2>/dev/null)" 600
ok "users file holds bcrypt hashes" grep -q '^alice:\$2[aby]\$' "$UF"
ok_not "users file holds no password in clear" grep -qF -e "$ALICE_PW" -e "$BOB_PW" "$UF"

berth_start
expect_eq "signing key is mode 0600" "$(stat -c %a "$DATA/auth/signing.pem" 2>/dev/null)" 600

# ---------------------------------------------------------------- challenges

# Every route kind, without a token: 401 UNAUTHORIZED with the challenge
# for exactly the scope the route needs.
D0=sha256:$(printf 'x' | sha256sum | cut -d' ' -f1)
challenge_case() { # METHOD PATH SCOPE
	req "$1" "$2"
	expect_status 401
	expect_challenge "$3"
	expect_api_version
	if [ "$1" != HEAD ]; then expect_error_code UNAUTHORIZED; fi
}
challenge_case GET /v2/ ""
challenge_case HEAD /v2/ ""
challenge_case GET /v2/_catalog "registry:catalog:*"
challenge_case GET /v2/team/app/tags/list "repository:team/app:pull"
challenge_case GET /v2/team/app/manifests/v1 "repository:team/app:pull"
challenge_case HEAD /v2/team/app/manifests/v1 "repository:team/app:pull"
challenge_case PUT /v2/team/app/manifests/v1 "repository:team/app:pull,push"
challenge_case DELETE "/v2/team/app/manifests/$D0" "repository:team/app:delete"
challenge_case GET "/v2/team/app/blobs/$D0" "repository:team/app:pull"
challenge_case HEAD "/v2/team/app/blobs/$D0" "repository:team/app:pull"
challenge_case DELETE "/v2/team/app/blobs/$D0" "repository:team/app:delete"
challenge_case POST /v2/team/app/blobs/uploads/ "repository:team/app:pull,push"
challenge_case GET /v2/team/app/blobs/uploads/0123456789abcdef0123456789abcdef "repository:team/app:pull,push"
challenge_case PATCH /v2/team/app/blobs/uploads/0123456789abcdef0123456789abcdef "repository:team/app:pull,push"
challenge_case PUT "/v2/team/app/blobs/uploads/0123456789abcdef0123456789abcdef?digest=$D0" "repository:team/app:pull,push"
challenge_case DELETE /v2/team/app/blobs/uploads/0123456789abcdef0123456789abcdef "repository:team/app:pull,push"
challenge_case GET "/v2/team/app/referrers/$D0" "repository:team/app:pull"
challenge_case GET /v2/team/sub/app/manifests/latest "repository:team/sub/app:pull"
# A Basic header or junk instead of a bearer token changes nothing.
req GET /v2/team/app/manifests/v1 -u "alice:$ALICE_PW"
expect_status 401
expect_challenge "repository:team/app:pull"
areq GET /v2/team/app/manifests/v1 not-a-token
expect_status 401
expect_challenge "repository:team/app:pull"
expect_error_code UNAUTHORIZED

# ---------------------------------------------------------------- docker login

# 1. docker login: GET /v2/ (401 above), then GET /token with account,
#    client_id=docker, offline_token=true and no scope.
tget "alice:$ALICE_PW" --data-urlencode account=alice --data-urlencode client_id=docker \
	--data-urlencode offline_token=true --data-urlencode service=berth
expect_status 200
expect_api_version
ok "token answer is JSON" expect_json_content_type
expect_eq "login: token and access_token are the same" \
	"$(jq -r '(.token != null and .token == .access_token)' "$BODY" 2>/dev/null)" true
expect_eq "login: expires_in = token_ttl (300)" "$(jq -r .expires_in "$BODY" 2>/dev/null)" 300
ok "login: issued_at is RFC 3339" grep -Eq '"issued_at":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"' "$BODY"
expect_eq "login: offline_token=true gives a refresh_token" "${REFRESH:+yes}" yes
LOGIN_TOKEN=$TOKEN
ALICE_REFRESH=$REFRESH
H=$(jwt_header "$LOGIN_TOKEN")
C=$(jwt_claims "$LOGIN_TOKEN")
expect_eq "token header alg is ES256" "$(jq -r .alg <<<"$H" 2>/dev/null)" ES256
expect_eq "token iss" "$(jq -r .iss <<<"$C" 2>/dev/null)" berth
expect_eq "token aud" "$(jq -r 'if (.aud | type) == "array" then .aud[0] else .aud end' <<<"$C" 2>/dev/null)" berth
expect_eq "token sub" "$(jq -r .sub <<<"$C" 2>/dev/null)" alice
expect_eq "token exp - iat = token_ttl" "$(jq -r '.exp - .iat' <<<"$C" 2>/dev/null)" 300
expect_eq "token nbf <= iat <= now" \
	"$(jq -r --argjson now "$(date +%s)" '.nbf <= .iat and .iat <= $now + 5' <<<"$C" 2>/dev/null)" true
expect_eq "token has a jti" "$(jq -r '(.jti | type) == "string" and (.jti | length) >= 16' <<<"$C" 2>/dev/null)" true
expect_access "login token (no scope) grants nothing" "$LOGIN_TOKEN" "[]"
expect_eq "refresh token is a JWT for alice" "$(jwt_claims "$ALICE_REFRESH" | jq -r .sub 2>/dev/null)" alice
ALICE_KID=$(jq -r '.kid // empty' <<<"$H" 2>/dev/null)

# 2. The login token opens /v2/ and nothing else.
areq GET /v2/ "$LOGIN_TOKEN"
expect_status 200
expect_api_version
areq POST /v2/alice/app/blobs/uploads/ "$LOGIN_TOKEN"
expect_status 401
expect_challenge "repository:alice/app:pull,push" insufficient_scope
expect_error_code UNAUTHORIZED

# 3. docker push: POST /token grant_type=refresh_token for the push scope.
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" \
	"scope=repository:alice/app:pull,push" service=berth client_id=docker
expect_status 200
expect_api_version
expect_access "refresh grant: alice/app pull,push" "$TOKEN" "[$(acc alice/app pull push)]"
ok "refresh grant: a new jti" test "$(jwt_claims "$TOKEN" | jq -r .jti)" != "$(jwt_claims "$LOGIN_TOKEN" | jq -r .jti)"
T_ALICE_APP=$TOKEN
apush_image alice/app v1 "$T_ALICE_APP" "$W/img-alice"
areq GET /v2/alice/app/manifests/v1 "$T_ALICE_APP" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$W/img-alice/manifest.json"
areq GET "/v2/alice/app/blobs/$(digest_of "$W/img-alice/layer.tgz")" "$T_ALICE_APP"
expect_status 200
expect_body_file "$W/img-alice/layer.tgz"
# 4. The refresh token is reusable.
tpost grant_type=refresh_token "refresh_token=$ALICE_REFRESH" \
	"scope=repository:alice/app:pull" service=berth client_id=docker
expect_status 200
expect_access "refresh token used a second time" "$TOKEN" "[$(acc alice/app pull)]"

# The OAuth2 password grant (containers/image, docker with identity tokens).
tpost grant_type=password username=alice "password=$ALICE_PW" \
	"scope=repository:team/app:pull,push" service=berth client_id=berth-tests access_type=offline
expect_status 200
expect_access "password grant: team/app pull,push" "$TOKEN" "[$(acc team/app pull push)]"
expect_eq "password grant with access_type=offline: refresh_token" "${REFRESH:+yes}" yes
T_ALICE_TEAM=$TOKEN
apush_image team/app v1 "$T_ALICE_TEAM" "$W/img-team"
tpost grant_type=password username=alice "password=$ALICE_PW" \
	"scope=repository:team/app:pull" service=berth client_id=berth-tests
expect_status 200
expect_eq "password grant without access_type=offline: no refresh_token" "${REFRESH:-none}" none

# ---------------------------------------------------------------- less, never an error

tok "bob:$BOB_PW" "repository:team/app:pull,push,delete"; T=$TOKEN
expect_access "bob asks pull,push,delete on team/app, gets pull" "$T" "[$(acc team/app pull)]"
T_BOB_TEAM=$T
tok "carol:$CAROL_PW" "repository:team/app:pull"; T=$TOKEN
expect_access "carol asks team/app pull, gets the repository with []" "$T" "[$(acc team/app)]"
T_CAROL_TEAM=$T
tok "bob:$BOB_PW" "repository:team/app:pull" "repository:alice/app:pull" "repository:bob/tools:*"; T=$TOKEN
expect_access "several scopes: each repository appears" "$T" \
	"[$(acc team/app pull),$(acc alice/app),$(acc bob/tools delete pull push)]"
tok "bob:$BOB_PW" "repository:team/app:pull repository:team/other:pull"; T=$TOKEN
expect_eq "space-separated scopes in one parameter" "$(jwt_access "$T" | jq -r 'map(.name) | sort | join(" ")')" "team/app team/other"
tget "alice:$ALICE_PW" --data-urlencode service=berth --data-urlencode "scope=frobnicate:x:y" \
	--data-urlencode "scope=repository:Bad..Name:pull" --data-urlencode "scope=repository:team/app:fly"
expect_status 200
expect_access "unknown scope types, bad names and actions are ignored" "$TOKEN" "[]"
tget "alice:$ALICE_PW" --data-urlencode service=not-berth --data-urlencode "scope=repository:team/app:pull"
ok "a token for another service is not handed out" test "$STATUS" != 200
expect_no_token

# ---------------------------------------------------------------- insufficient_scope vs DENIED

MANIFEST=$W/img-team/manifest.json
store_mark
areq GET /v2/team/app/manifests/v1 "$T_BOB_TEAM" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$MANIFEST"
# The token names team/app but not push: the policy said no.
areq PUT /v2/team/app/manifests/v2 "$T_BOB_TEAM" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$MANIFEST"
expect_error 403 DENIED
expect_eq "DENIED message is docker's" "$(jq -r '.errors[0].message' "$BODY" 2>/dev/null)" \
	"requested access to the resource is denied"
expect_no_header WWW-Authenticate
areq POST /v2/team/app/blobs/uploads/ "$T_BOB_TEAM"
expect_error 403 DENIED
areq DELETE "/v2/team/app/manifests/$(digest_of "$MANIFEST")" "$T_BOB_TEAM"
expect_error 403 DENIED
areq GET /v2/team/app/manifests/v1 "$T_CAROL_TEAM"
expect_error 403 DENIED
# A repository the token does not name: the client should fetch a new token.
areq GET /v2/team/other/manifests/v1 "$T_BOB_TEAM"
expect_error 401 UNAUTHORIZED
expect_challenge "repository:team/other:pull" insufficient_scope
areq PUT /v2/alice/app/manifests/stolen "$T_ALICE_TEAM" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$MANIFEST"
expect_error 401 UNAUTHORIZED
expect_challenge "repository:alice/app:pull,push" insufficient_scope
expect_store_unchanged "refused pushes and deletes wrote nothing"

# ---------------------------------------------------------------- the policy file changes

# Reread when it changes (written aside and renamed, as an editor or a
# config management tool would).  A broken file is not applied, not even
# its good lines: each worker keeps the policy it had (or, if it never had
# one, denies), so the bad file must not give bob push in any worker.
POLICY=$DATA/auth/policy
cp "$POLICY" "$W/policy.orig"
put_policy() { cat >"$POLICY.new" && mv -f "$POLICY.new" "$POLICY"; }
{ cat "$W/policy.orig"; echo 'user:bob  team/app  push'; echo 'user:bob  team/[app  fly'; } | put_policy
for i in 1 2 3 4 5 6; do
	tok "bob:$BOB_PW" "repository:team/app:pull,push"
	expect_status 200
	ok "a broken policy file is not applied ($i): no push for bob" \
		test "$(jwt_access "$TOKEN" | jq -r '.[0].actions | index("push") == null')" = true
done
{ cat "$W/policy.orig"; echo 'user:bob           team/app       push'; } | put_policy
tok "bob:$BOB_PW" "repository:team/app:pull,push"
expect_access "policy edited: bob may push team/app now" "$TOKEN" "[$(acc team/app pull push)]"
tok "bob:$BOB_PW" "repository:team/other:pull,push"
expect_access "... but only team/app" "$TOKEN" "[$(acc team/other pull)]"
put_policy <"$W/policy.orig"
for i in 1 2 3 4; do
	tok "bob:$BOB_PW" "repository:team/app:pull,push"
	expect_access "policy restored ($i): bob pulls only" "$TOKEN" "[$(acc team/app pull)]"
done

# ---------------------------------------------------------------- anonymous, catalog

tok "alice:$ALICE_PW" "repository:public/base:pull,push"; T=$TOKEN
expect_access "alice may push public/base" "$T" "[$(acc public/base pull push)]"
apush_image public/base v1 "$T" "$W/img-public"
tok "alice:$ALICE_PW" "repository:team/other:pull,push"; T=$TOKEN
apush_image team/other v1 "$T" "$W/img-other"
tok "bob:$BOB_PW" "repository:bob/tools:pull,push"; T=$TOKEN
expect_access "bob's personal namespace" "$T" "[$(acc bob/tools pull push)]"
apush_image bob/tools v1 "$T" "$W/img-bob"

tget "" --data-urlencode service=berth --data-urlencode "scope=repository:public/base:pull,push" \
	--data-urlencode offline_token=true
expect_status 200
expect_access "anonymous: public/base pull only" "$TOKEN" "[$(acc public/base pull)]"
expect_eq "anonymous: no refresh token" "${REFRESH:-none}" none
T_ANON=$TOKEN
areq GET /v2/public/base/manifests/v1 "$T_ANON" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200
expect_body_file "$W/img-public/manifest.json"
areq PUT /v2/public/base/manifests/v2 "$T_ANON" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/img-public/manifest.json"
expect_error 403 DENIED
tok "" "repository:team/app:pull"; T=$TOKEN
expect_access "anonymous: team/app nothing" "$T" "[$(acc team/app)]"
areq GET /v2/team/app/manifests/v1 "$T"
expect_error 403 DENIED

catalog_as() { # CRED: CATALOG = the repositories listed, on one line
	tok "$1" "registry:catalog:*"
	areq GET /v2/_catalog "$TOKEN"
	CATALOG=$(jq -r '.repositories | join(" ")' "$BODY" 2>/dev/null)
}
tok "alice:$ALICE_PW" "registry:catalog:*"; T=$TOKEN
expect_eq "catalog token's access claim" "$(jwt_claims "$T" | jq -c '.access | map({type, name, actions})' 2>/dev/null)" \
	'[{"type":"registry","name":"catalog","actions":["*"]}]'
catalog_as "alice:$ALICE_PW"
expect_eq "catalog as alice: what alice may pull" "$CATALOG" \
	"alice/app public/base team/app team/other"
expect_status 200
catalog_as "bob:$BOB_PW"
expect_eq "catalog as bob: what bob may pull" "$CATALOG" \
	"bob/tools public/base team/app team/other"
catalog_as "carol:$CAROL_PW"
expect_eq "catalog as carol: public only" "$CATALOG" "public/base"
# Anonymous has no catalog right: its token lacks the scope.
tok "" "registry:catalog:*"; T=$TOKEN
expect_access "anonymous catalog token grants nothing" "$T" "[]"
areq GET /v2/_catalog "$T"
expect_error 401 UNAUTHORIZED
expect_challenge "registry:catalog:*" insufficient_scope
areq GET /v2/_catalog "$T_BOB_TEAM"
expect_error 401 UNAUTHORIZED
expect_challenge "registry:catalog:*" insufficient_scope

# ---------------------------------------------------------------- repository tokens

if ctl token create ci --scope repository:ci/app:pull,push --expires 90d >"$W/ci.out" 2>"$W/ci.err"; then
	pass "berthctl token create ci --scope repository:ci/app:pull,push --expires 90d"
else
	fail "berthctl token create ci" "$(head -c 300 "$W/ci.err")"
fi
CI_SECRET=$(grep -oE 'berth_[A-Za-z0-9_-]{20,}' "$W/ci.out" | head -n 1)
expect_eq "token create prints a berth_ secret" "${CI_SECRET:+yes}" yes
ok_not "berthctl token create ci again is refused" ctl token create ci --scope repository:ci/app:pull
ok_not "a token without --scope is refused" ctl token create ci2 --expires 1d
ok_not "a token with a malformed scope is refused" ctl token create ci3 --scope 'repository:ci app:pull'
TF=$DATA/auth/tokens
expect_eq "tokens file is mode 0600" "$(stat -c %a "$TF" 2>/dev/null)" 600
ok_not "tokens file does not hold the secret" grep -qF "${CI_SECRET:-berth_}" "$TF"
if ctl token ls --json >"$W/tokens.json" 2>"$W/tokens.err"; then
	pass "berthctl token ls --json"
else
	fail "berthctl token ls --json" "$(head -c 300 "$W/tokens.err")"
fi
tok_entry() { # FILE NAME: the listing's object for NAME, compact
	jq -c --arg n "$2" '(if type == "array" then . else (.tokens // []) end)[] | select(.name == $n)' "$1" 2>/dev/null
}
E=$(tok_entry "$W/tokens.json" ci)
expect_eq "token ls: ci's scopes" "$(jq -c '.scopes' <<<"$E" 2>/dev/null)" '["repository:ci/app:pull,push"]'
tok_status() { jq -r 'if has("status") then .status elif .revoked then "revoked" else "active" end' 2>/dev/null; }
expect_eq "token ls: ci is active" "$(tok_status <<<"$E")" active
expect_eq "token ls: ci expires in 90 days" \
	"$(jq -r --argjson now "$(date +%s)" '(.expires | if type == "number" then . else (sub("\\.[0-9]+"; "") | fromdateiso8601) end) as $e
		| ($e - $now) > 89*86400 and ($e - $now) <= 90*86400 + 60' <<<"$E" 2>/dev/null)" true
ok_not "token ls does not show the secret" grep -qF "${CI_SECRET:-berth_}" "$W/tokens.json"

tget "ci:$CI_SECRET" --data-urlencode account=ci --data-urlencode client_id=docker \
	--data-urlencode offline_token=true --data-urlencode service=berth
expect_status 200
CI_REFRESH=$REFRESH
expect_eq "docker login -u ci with the secret: refresh token" "${CI_REFRESH:+yes}" yes
tok "ci:$CI_SECRET" "repository:ci/app:pull,push" "repository:ci/other:pull" \
	"repository:team/app:pull" "repository:public/base:pull"
T=$TOKEN
expect_access "token ci: only its scope (and what anonymous may)" "$T" \
	"[$(acc ci/app pull push),$(acc ci/other),$(acc team/app),$(acc public/base pull)]"
T_CI=$T
apush_image ci/app v1 "$T_CI" "$W/img-ci"
areq GET /v2/team/app/manifests/v1 "$T_CI"
expect_error 403 DENIED
tok "ci:$CI_SECRET" "repository:ci/app:delete"; T=$TOKEN
expect_access "token ci: no delete" "$T" "[$(acc ci/app)]"
tok "ci:$CI_SECRET" "registry:catalog:*"; T=$TOKEN
expect_access "token ci: no catalog (authenticated rules are for users)" "$T" "[]"
catalog_as "alice:$ALICE_PW"
expect_eq "catalog as alice now lists ci/app? (no: not hers)" "$CATALOG" \
	"alice/app public/base team/app team/other"
tget "ci:berth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" --data-urlencode service=berth
expect_error 401 UNAUTHORIZED
expect_detail "invalid username or password"
expect_no_token
tget "bob:$CI_SECRET" --data-urlencode service=berth
expect_error 401 UNAUTHORIZED
expect_no_token

ok "berthctl token revoke ci" ctl token revoke ci
tget "ci:$CI_SECRET" --data-urlencode service=berth --data-urlencode "scope=repository:ci/app:pull"
expect_error 401 UNAUTHORIZED
expect_detail "revoked"
expect_no_token
tpost grant_type=refresh_token "refresh_token=$CI_REFRESH" "scope=repository:ci/app:pull" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
ctl token ls --json >"$W/tokens2.json" 2>/dev/null
expect_eq "token ls: ci is revoked" "$(tok_entry "$W/tokens2.json" ci | tok_status)" revoked

# ---------------------------------------------------------------- user passwd, rm

tget "carol:$CAROL_PW" --data-urlencode offline_token=true --data-urlencode service=berth
CAROL_REFRESH=$REFRESH
ok "berthctl user passwd carol --password-stdin" ctl_in carol-New-Pw user passwd carol --password-stdin
tget "carol:$CAROL_PW" --data-urlencode service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
tget "carol:carol-New-Pw" --data-urlencode service=berth
expect_status 200
ok_not "berthctl user passwd nobody is refused" ctl_in x user passwd nobody --password-stdin
ok "berthctl user rm carol" ctl user rm carol
ok_not "berthctl user rm carol again is refused" ctl user rm carol
ctl user ls --json >"$W/users2.json" 2>/dev/null
expect_eq "user ls after rm" "$(user_names "$W/users2.json")" "alice bob "
tget "carol:carol-New-Pw" --data-urlencode service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
tpost grant_type=refresh_token "refresh_token=$CAROL_REFRESH" "scope=registry:catalog:*" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token

# ---------------------------------------------------------------- forged tokens

KEY=$DATA/auth/signing.pem
openssl ec -in "$KEY" -pubout -out "$W/pub.pem" 2>/dev/null ||
	fail "derive the public key from $KEY"
openssl ecparam -name prime256v1 -genkey -noout -out "$W/other.pem" 2>/dev/null ||
	fail "generate another P-256 key"
NOW=$(date +%s)
HDR=$(jq -nc --arg kid "$ALICE_KID" '{alg: "ES256", typ: "JWT"} + (if $kid != "" then {kid: $kid} else {} end)')
claims() { # JQ-UPDATE: alice's claims for team/app with every right, then the update
	jq -nc --argjson now "$NOW" '{iss: "berth", aud: "berth", sub: "alice",
		iat: $now, nbf: ($now - 1), exp: ($now + 300), jti: "0123456789abcdef0123456789abcdef",
		berth: {kind: "local", groups: []},
		access: [{type: "repository", name: "team/app", actions: ["pull", "push", "delete"]}]}' |
		jq -c "$1"
}
# The helper itself: signed with the real key, the same claims are accepted.
T=$(jwt_es256 "$KEY" "$HDR" "$(claims .)")
areq GET /v2/team/app/manifests/v1 "$T" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200

store_mark
forged_case() { # DESC TOKEN DETAIL: refused on pull, push and delete
	local desc=$1 t=$2 d=$3
	note "forged: $desc"
	areq GET /v2/team/app/manifests/v1 "$t"
	expect_error 401 UNAUTHORIZED
	expect_challenge "repository:team/app:pull"
	[ -z "$d" ] || expect_detail "$d"
	areq PUT /v2/team/app/manifests/forged "$t" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$MANIFEST"
	expect_error 401 UNAUTHORIZED
	areq DELETE "/v2/team/app/manifests/$(digest_of "$MANIFEST")" "$t"
	expect_error 401 UNAUTHORIZED
}
forged_case "expired an hour ago" \
	"$(jwt_es256 "$KEY" "$HDR" "$(claims '.iat -= 3700 | .nbf -= 3700 | .exp -= 3600')")" "expired"
forged_case "not valid before an hour from now" \
	"$(jwt_es256 "$KEY" "$HDR" "$(claims '.nbf += 3600 | .exp += 3600')")" "not yet valid"
forged_case "issued in the future" \
	"$(jwt_es256 "$KEY" "$HDR" "$(claims '.iat += 3600 | .exp += 3600')")" ""
forged_case "without exp" "$(jwt_es256 "$KEY" "$HDR" "$(claims 'del(.exp)')")" "exp"
forged_case "another issuer" "$(jwt_es256 "$KEY" "$HDR" "$(claims '.iss = "evil"')")" "issuer"
forged_case "another audience" "$(jwt_es256 "$KEY" "$HDR" "$(claims '.aud = "other-registry"')")" "audience"
# alg none, with an empty signature and with a real token's signature.
NONE_IN=$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(claims . | b64url)
forged_case "alg none, no signature" "$NONE_IN." "none"
forged_case "alg none, a real signature" "$NONE_IN.${T_ALICE_TEAM##*.}" "none"
forged_case "alg NONE" "$(printf '{"alg":"NONE"}' | b64url).$(claims . | b64url)." ""
# HS256 keyed with the public key (PEM, with and without the final newline).
forged_case "HS256 with the public key as secret" \
	"$(jwt_hs256 "$W/pub.pem" "$(jq -c '.alg = "HS256"' <<<"$HDR")" "$(claims .)")" "HS256"
head -c -1 "$W/pub.pem" >"$W/pub-nonl.pem"
forged_case "HS256 with the public key (no newline)" \
	"$(jwt_hs256 "$W/pub-nonl.pem" '{"alg":"HS256","typ":"JWT"}' "$(claims .)")" ""
# Another P-256 key, claiming the real key id and without a key id.
forged_case "signed by another key (real kid)" "$(jwt_es256 "$W/other.pem" "$HDR" "$(claims .)")" "signature"
forged_case "signed by another key (no kid)" \
	"$(jwt_es256 "$W/other.pem" '{"alg":"ES256","typ":"JWT"}' "$(claims .)")" ""
# A real token with an edited payload (more rights, another user).
REAL=$T_BOB_TEAM
EDIT=$(jwt_claims "$REAL" | jq -c '.access = [{type: "repository", name: "team/app", actions: ["pull","push","delete"]}]' | b64url)
forged_case "bob's token, access edited" "${REAL%%.*}.$EDIT.${REAL##*.}" "signature"
EDIT=$(jwt_claims "$REAL" | jq -c '.sub = "alice"' | b64url)
forged_case "bob's token, sub edited" "${REAL%%.*}.$EDIT.${REAL##*.}" "signature"
EDIT=$(jwt_claims "$REAL" | jq -c '.exp += 86400' | b64url)
forged_case "bob's token, exp edited" "${REAL%%.*}.$EDIT.${REAL##*.}" "signature"
forged_case "truncated signature" "${REAL%??????????}" ""
forged_case "two parts only" "${REAL%.*}" ""
# A refresh token is no access token.
forged_case "a refresh token as the access token" "$ALICE_REFRESH" "refresh"
expect_store_unchanged "no forged token wrote anything"
# ... and an access token is no refresh token.
tpost grant_type=refresh_token "refresh_token=$T_ALICE_TEAM" "scope=repository:team/app:pull" service=berth
expect_error 401 UNAUTHORIZED
expect_detail "not a refresh token"
expect_no_token
tpost grant_type=refresh_token "refresh_token=$(jwt_es256 "$W/other.pem" "$HDR" \
	"$(claims '.berth.refresh = true | del(.access)')")" "scope=repository:team/app:pull" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
tpost grant_type=refresh_token "refresh_token=not-a-token" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
tpost grant_type=client_credentials client_id=x service=berth
ok "grant_type=client_credentials is refused" test "$STATUS" != 200
expect_no_token

# ---------------------------------------------------------------- bad credentials

bad_login() { # DESC DETAIL [curl args]: GET /token is refused with 401
	local desc=$1 d=$2
	shift 2
	note "bad login: $desc"
	req GET /token -G --data-urlencode service=berth \
		--data-urlencode "scope=repository:team/app:pull" "$@"
	expect_error 401 UNAUTHORIZED
	expect_no_token
	[ -z "$d" ] || expect_detail "$d"
}
bad_login "alice, wrong password" "invalid username or password" -u "alice:wrong"
expect_header_match WWW-Authenticate '^Basic realm='
bad_login "alice, password of bob" "invalid username or password" -u "alice:$BOB_PW"
bad_login "alice, her password in upper case" "" -u "alice:${ALICE_PW^^}"
bad_login "unknown user" "invalid username or password" -u "mallory:$ALICE_PW"
bad_login "alice, empty password" "empty password" -u "alice:"
bad_login "alice, no colon at all" "" -H "Authorization: Basic $(printf 'alice' | openssl base64 -A)"
bad_login "'*' with alice's password" "" -u "*:$ALICE_PW"
bad_login "')(uid=*' with alice's password" "" -u ")(uid=*:$ALICE_PW"
bad_login "'alice)(uid=*' with alice's password" "" -u "alice)(uid=*:$ALICE_PW"
bad_login "NUL after alice in Basic" "" \
	-H "Authorization: Basic $(printf 'alice\0x:%s' "$ALICE_PW" | openssl base64 -A)"
bad_login "NUL in the password" "" \
	-H "Authorization: Basic $(printf 'alice:%s\0' "$ALICE_PW" | openssl base64 -A)"
bad_login "Basic that is not base64" "" -H "Authorization: Basic %%%%not-base64%%%%"
bad_login "an oversized Basic header" "" \
	-H "Authorization: Basic $(head -c 3000 /dev/zero | tr '\0' a | openssl base64 -A)"
# An access token is no login: /token treats the caller as anonymous.
tget "" -H "Authorization: Bearer $T_ALICE_TEAM" --data-urlencode service=berth \
	--data-urlencode "scope=repository:team/app:pull,push" --data-urlencode offline_token=true
expect_access "a Bearer token on /token gets no more than anonymous" "$TOKEN" "[$(acc team/app)]"
expect_eq "... and no refresh token" "${REFRESH:-none}" none
tpost grant_type=password username=alice password= "scope=repository:team/app:pull" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
tpost grant_type=password username=alice "scope=repository:team/app:pull" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
# NUL in a form field (alice%00x with alice's password) must not become "alice".
req POST /token -H 'Content-Type: application/x-www-form-urlencoded' \
	--data "grant_type=password&username=alice%00x&password=$(jq -rn --arg p "$ALICE_PW" '$p | @uri')&service=berth&scope=repository%3Ateam%2Fapp%3Apull"
expect_error 401 UNAUTHORIZED
expect_no_token
tpost grant_type=password 'username=*' "password=$ALICE_PW" service=berth
expect_error 401 UNAUTHORIZED
expect_no_token
# The right credentials still work after all that (limit not reached).
tok "alice:$ALICE_PW" "repository:team/app:pull"; T=$TOKEN
expect_access "alice still logs in" "$T" "[$(acc team/app pull)]"

# ---------------------------------------------------------------- brute force

# A fresh count and low limits: 4 free failures per (user, address), then
# delays doubling from 1 s; 3 failing accounts per address.  The detail
# (auth/ratelimit.h, t121-login-limits.sh) is not repeated here.
rm -rf "$DATA/auth/state/logins"
berth_conf login_fail_limit 4
berth_conf login_spray_limit 3
berth_conf login_fail_window 120
berth_conf token_ttl 60
berth_restart_pool
as_from() { # ADDR CRED: GET /token from 127.0.0.ADDR
	req GET /token -G --interface "127.0.0.$1" -u "$2" --data-urlencode service=berth \
		--data-urlencode "scope=repository:team/app:pull"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
}
# slow_down ADDR CRED-PREFIX: failing logins from ADDR (CRED-PREFIX + a
# counter: one user's guesses, or many users' when the prefix ends in the
# user name's stem), waiting out each delay, until a delay of 4 s or more.
slow_down() {
	local i ra
	for i in $(seq 1 16); do
		as_from "$1" "$2$i:nope$i"
		ra=$(hdr Retry-After)
		case $ra in '' | *[!0-9]*) ra=0 ;; esac
		if [ "$STATUS" = 429 ]; then
			[ "$ra" -ge 4 ] && return 0
			[ "$ra" -le 4 ] || return 1
			sleep "$ra"
		elif [ "$STATUS" != 401 ]; then
			return 1
		fi
	done
	return 1
}
as_from 2 "alice:$ALICE_PW"
expect_status 200
for i in 1 2 3 4; do
	as_from 2 "alice:guess$i"
	expect_error 401 UNAUTHORIZED
done
# One user's guesses from one address: that pair is slowed, even with the
# right password, in any spelling of the name.
ok "alice's guesses from 127.0.0.2 slow her there" slow_down 2 "alice:guess"
as_from 2 "alice:$ALICE_PW"
expect_error 429 TOOMANYREQUESTS
expect_no_token
expect_detail "this account from this address"
RA=$(hdr Retry-After)
expect_eq "Retry-After is 1..120 seconds" "$(case $RA in ''|*[!0-9]*) echo "'$RA'" ;; *) [ "$RA" -ge 1 ] && [ "$RA" -le 120 ] && echo ok || echo "$RA" ;; esac)" ok
as_from 2 "ALICE:$ALICE_PW"
expect_error 429 TOOMANYREQUESTS
# Not elsewhere: alice from another address, by password grant too.
as_from 3 "alice:$ALICE_PW"
expect_status 200
tpost grant_type=password username=alice "password=$ALICE_PW" service=berth
expect_status 200
as_from 3 "bob:$BOB_PW"
expect_status 200
# Many failing users from 127.0.0.4: bob, not yet familiar there, is slowed
# there, whatever X-Forwarded-For claims, but not from 127.0.0.5.
ok "failing users from 127.0.0.4 slow that address" slow_down 4 "u"
as_from 4 "bob:$BOB_PW"
expect_error 429 TOOMANYREQUESTS
expect_detail "address"
expect_header_present Retry-After
expect_no_token
req GET /token -G --interface 127.0.0.4 -u "bob:$BOB_PW" -H 'X-Forwarded-For: 10.9.8.7' \
	-H 'X-Real-IP: 10.9.8.7' --data-urlencode service=berth
expect_error 429 TOOMANYREQUESTS
as_from 5 "bob:$BOB_PW"
expect_status 200
expect_eq "token_ttl 60: expires_in" "$(jq -r .expires_in "$BODY" 2>/dev/null)" 60
expect_eq "token_ttl 60: exp - iat" "$(jwt_claims "$TOKEN" | jq -r '.exp - .iat' 2>/dev/null)" 60
# Tokens already issued are not affected by the lock.
areq GET /v2/team/app/manifests/v1 "$T_BOB_TEAM" -H "Accept: $MT_OCI_MANIFEST"
expect_status 200

test_done
