#!/bin/bash
# t50-errors: bad repository names are refused on every endpoint before
# anything touches the disk; every error answer is the spec's JSON body with
# the API version header; routes and methods that do not exist.  An error
# answer carries the headers it needs (Allow on a 405, the challenge of a
# 401 under auth = token) and none of those meant for a success.
. "$(dirname "$0")/../lib.sh"

berth_start

F=$TRASH/fix
mkdir -p "$F"
mk_layer "$F/layer.tgz"
D=$(digest_of "$F/layer.tgz")
ok "setup: a repository with a blob" push_blob team/app "$F/layer.tgz"
mk_config "$F/config.json" "$F/layer.tgz"
ok "setup: config" push_blob team/app "$F/config.json"
mk_image_manifest "$F/m.json" "$MT_OCI_MANIFEST" "$F/config.json" "$F/layer.tgz"
ok "setup: manifest team/app:latest" push_manifest team/app latest "$F/m.json" "$MT_OCI_MANIFEST"

# A live session of team/app, to be addressed under bad names.
req POST /v2/team/app/blobs/uploads/
UUID=$(hdr Docker-Upload-UUID)
ok "setup: an upload session" test "$STATUS" = 202 -a -n "$UUID"

long_name=$(printf 'a%.0s' $(seq 256))
long_path=$(printf 'abcdefghi/%.0s' $(seq 26))x    # 261 chars in components
BAD_NAMES=(
	"team/../team/app"      # .. (curl sends it as is; nginx would squash it)
	"team/./app"            # .
	"team%2Fapp"            # an encoded slash
	"team%2fapp"
	"%2e%2e/team/app"       # encoded ..
	"Team/App"              # upper case
	"team/App"
	"team//app"             # empty component
	"/team/app"             # leading slash (path //team/app)
	"team/app/"             # trailing slash
	"-team/app"             # separators only between alphanumerics
	"team-/app"
	"team/app_"
	"team/a..b"
	"team/a___b"
	"team%20app"            # blank
	"team%09app"
	"team:app"
	"team@app"
	"team/app%3Fx"
	"${long_name}"          # 256 characters
	"${long_path}"
)

# check_bad_name NAME: every endpoint answers 400 NAME_INVALID and the store
# (every file and directory of it) is unchanged.
check_bad_name() {
	local n=$1 s
	store_mark
	req GET "/v2/$n/manifests/latest"
	expect_error 400 NAME_INVALID
	req HEAD "/v2/$n/manifests/latest"
	expect_status 400
	expect_api_version
	req PUT "/v2/$n/manifests/latest" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/m.json"
	expect_error 400 NAME_INVALID
	req GET "/v2/$n/blobs/$D"
	expect_error 400 NAME_INVALID
	req HEAD "/v2/$n/blobs/$D"
	expect_status 400
	req POST "/v2/$n/blobs/uploads/"
	expect_error 400 NAME_INVALID
	req POST "/v2/$n/blobs/uploads/?digest=$D" --data-binary @"$F/layer.tgz"
	expect_error 400 NAME_INVALID
	req GET "/v2/$n/blobs/uploads/$UUID"
	expect_error 400 NAME_INVALID
	req PATCH "/v2/$n/blobs/uploads/$UUID" --data-binary @"$F/layer.tgz"
	expect_error 400 NAME_INVALID
	req PUT "/v2/$n/blobs/uploads/$UUID?digest=$D" --data-binary @"$F/layer.tgz"
	expect_error 400 NAME_INVALID
	req DELETE "/v2/$n/blobs/uploads/$UUID"
	expect_error 400 NAME_INVALID
	expect_store_unchanged "every endpoint under the name '${n:0:40}'"
}

for n in "${BAD_NAMES[@]}"; do
	check_bad_name "$n"
done

# NUL in a name: nginx itself refuses "%00" in a path (400) before any
# worker sees it; whoever answers, it is a 400 with a JSON errors body.
store_mark
for path in "/v2/team%00app/manifests/latest" "/v2/team/app%00/blobs/$D" \
	"/v2/team%00/blobs/uploads/"; do
	req GET "$path"
	expect_status 400
	expect_api_version
	expect_error_code_in NAME_INVALID UNSUPPORTED
	req POST "$path" --data-binary @"$F/layer.tgz"
	expect_status 400
done
expect_store_unchanged "names with NUL"

# The session addressed under bad names is still alive and untouched.
req GET "/v2/team/app/blobs/uploads/$UUID"
expect_status 204
expect_header Range 0-0

# Valid names at the edges of the grammar work.
edge_names=(
	"a"
	"0"
	"a.b/c_d/e__f/g-h/i--j"
	"team/app/api/v1/x"
	"$(printf 'a%.0s' $(seq 255))"
)
for n in "${edge_names[@]}"; do
	req POST "/v2/$n/blobs/uploads/?digest=$D" --data-binary @"$F/layer.tgz"
	expect_status 201
	expect_header Location "$URL/v2/$n/blobs/$D"
	req HEAD "/v2/$n/blobs/$D"
	expect_status 200
done

# Routes that do not exist and methods an endpoint does not take.
req GET /v2/team/app
expect_status 404
expect_api_version
req GET /v2/team/app/unknown/route
expect_status 404
expect_api_version
req PATCH /v2/team/app/manifests/latest --data-binary @"$F/m.json"
expect_error 405 UNSUPPORTED
expect_header Allow "GET, HEAD, PUT, DELETE"
req POST "/v2/team/app/blobs/$D" --data-binary @"$F/layer.tgz"
expect_error 405 UNSUPPORTED
req POST /v2/ -d x
expect_error 405 UNSUPPORTED

# Every worker-made error above was JSON; check the type once more on one.
req GET /v2/team/app/manifests/nope
expect_error 404 MANIFEST_UNKNOWN
ok "error answers are application/json" expect_json_content_type
ok "the errors body has code, message and detail" \
	jq -e '.errors[0] | has("code") and has("message") and has("detail")' "$BODY"

# ---- the same data under auth = token: a 401 keeps its challenge.
berth_stop
rm -f "$DATA/berth.conf"
BERTH_AUTH=token
berth_setup
berth_start
for m in GET HEAD; do
	req "$m" /v2/team/app/manifests/latest
	expect_status 401
	expect_api_version
	expect_header WWW-Authenticate \
		"Bearer realm=\"$URL/token\",service=\"berth\",scope=\"repository:team/app:pull\""
	expect_no_header Docker-Content-Digest
	expect_no_header ETag
done
req GET /v2/
expect_error 401 UNAUTHORIZED
expect_header WWW-Authenticate "Bearer realm=\"$URL/token\",service=\"berth\""

test_done
