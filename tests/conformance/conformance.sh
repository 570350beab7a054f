#!/bin/bash
# conformance.sh - an OCI distribution-spec 1.1 conformance suite that runs
# against any registry:
#
#   tests/conformance/conformance.sh [--cacert FILE | --insecure]
#       [--user USER:PASSWORD] [--namespace NAME] [--no-delete] URL
#
#   URL          the registry, e.g. https://127.0.0.1:5443 (no path)
#   --cacert     trust this CA for the registry's certificate
#   --insecure   do not check the certificate at all
#   --user       HTTP basic credentials (no token flow)
#   --namespace  repositories are made under NAME/<random>/ (default
#                "conformance"), so every run starts from nothing and the
#                suite can be rerun against the same registry
#   --no-delete  for a registry with deletion disabled: skip content
#                management and every other DELETE
#
# It is organised like the spec's four workflows: pull, push, content
# discovery, content management.  Every check prints "ok WHAT" or
# "FAIL WHAT: expected X, got Y"; the last line is "N passed, N failed" and
# the exit status is 0 only when nothing failed (2: usage, 3: the registry
# is not there at all).
#
# What it checks is exact: status codes, the headers of the spec
# (Location, Range, Link, Docker-Content-Digest, OCI-Subject,
# OCI-Filters-Applied, Content-Type, Content-Length) and the code of JSON
# error bodies.  Where the spec lets a registry choose and berth promises
# the stricter answer (mount without "from", refusing to delete a manifest
# an index still refers to, the artifactType filter, rejecting a manifest
# whose blobs are missing) the check says "stricter than the spec" when it
# fails, so that a comparison with another registry reads right.
#
# Needs bash, curl, jq, sha256sum and openssl; writes only under a temporary
# directory that it removes.
set -u

usage() {
	echo "usage: $0 [--cacert FILE | --insecure] [--user U:P] [--namespace NAME] [--no-delete] URL" >&2
	exit 2
}

TLS=()
AUTH=()
NAMESPACE=conformance
DELETE=1
URL=
while [ $# -gt 0 ]; do
	case $1 in
	--cacert) [ $# -ge 2 ] || usage; TLS=(--cacert "$2"); shift 2 ;;
	--insecure|-k) TLS=(--insecure); shift ;;
	--user|-u) [ $# -ge 2 ] || usage; AUTH=(--user "$2"); shift 2 ;;
	--namespace) [ $# -ge 2 ] || usage; NAMESPACE=$2; shift 2 ;;
	--no-delete) DELETE=; shift ;;
	-h|--help) usage ;;
	-*) echo "$0: unknown option $1" >&2; usage ;;
	*) [ -z "$URL" ] || usage; URL=$1; shift ;;
	esac
done
[ -n "$URL" ] || usage
URL=${URL%/}
case $URL in
http://*|https://*) ;;
*) echo "$0: URL must start with http:// or https://" >&2; exit 2 ;;
esac
# scheme://host[:port] of the registry, to resolve relative Locations and to
# compare absolute ones.
ORIGIN=$(printf '%s' "$URL" | sed -E 's|^(https?://[^/]+).*|\1|')
NAME_RE='^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$'
if ! printf '%s' "$NAMESPACE" | grep -Eq "$NAME_RE"; then
	echo "$0: --namespace '$NAMESPACE' is not a valid repository name" >&2
	exit 2
fi
for c in curl jq sha256sum openssl; do
	command -v "$c" >/dev/null 2>&1 || { echo "$0: $c is required" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
HDRS=$WORK/last.hdrs
BODY=$WORK/last.body
F=$WORK/fix
mkdir -p "$F"

RUN_ID=r$(openssl rand -hex 5)
NS=$NAMESPACE/$RUN_ID
R_PULL=$NS/pull
R_PUSH=$NS/push
R_MOUNT=$NS/mount
R_DISC=$NS/discovery
R_MGMT=$NS/management
R_OTHER=$NS/management-other

MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
MT_OCI_LAYER=application/vnd.oci.image.layer.v1.tar+gzip
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_DOCKER_CONFIG=application/vnd.docker.container.image.v1+json
MT_DOCKER_LAYER=application/vnd.docker.image.rootfs.diff.tar.gzip
MT_EMPTY=application/vnd.oci.empty.v1+json
EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
EMPTY_BLOB_DIGEST=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
ACCEPT_ALL="$MT_OCI_MANIFEST, $MT_OCI_INDEX, $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST"
AT_SIG=application/vnd.example.signature.v1
AT_SBOM=application/vnd.example.sbom.v1+json

# ---------------------------------------------------------------- reporting

N_PASS=0
N_FAIL=0
STATUS=
LAST_REQ=

# Long hex digests make lines unreadable: keep their first 12 digits.
short() {
	printf '%s' "$*" | sed -E -e 's/([0-9a-f]{12})[0-9a-f]{20,}/\1…/g' \
		-e 's/=([^&: ]{24})[^&: ]{8,}/=\1…/g'
}
section() { printf '# %s\n' "$*"; }
pass() { N_PASS=$((N_PASS + 1)); printf 'ok %s\n' "$(short "$1")"; }
# fail WHAT EXPECTED GOT
fail() {
	N_FAIL=$((N_FAIL + 1))
	printf 'FAIL %s: expected %s, got %s\n' "$(short "$1")" "$(short "$2")" "$(short "$3")"
}
check_eq() {   # WHAT GOT WANT
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "'$3'" "'$2'"; fi
}
body_snippet() { head -c 200 "$BODY" 2>/dev/null | tr -d '\0' | tr '\n' ' '; }

# ---------------------------------------------------------------- requests

# req METHOD PATH-OR-URL [curl args...]: sets STATUS; headers in $HDRS, body
# in $BODY.  A path is taken relative to the registry's URL.
req() {
	local method=$1 target=$2 m out=$BODY
	shift 2
	case $target in http://*|https://*) ;; *) target=$URL$target ;; esac
	LAST_REQ="$method ${target#"$ORIGIN"}"
	m=(-X "$method")
	[ "$method" = HEAD ] && { m=(--head); out=/dev/null; }
	: >"$HDRS"; : >"$BODY"
	STATUS=$(curl -sS --path-as-is --max-time 300 ${TLS[@]+"${TLS[@]}"} \
		${AUTH[@]+"${AUTH[@]}"} "${m[@]}" -D "$HDRS" -o "$out" -w '%{http_code}' \
		"$@" "$target" 2>"$WORK/curl.err")
	[ -n "$STATUS" ] || STATUS=000
}

# hdr NAME: the header's value in the final header block ('' if absent).
hdr() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { v = ""; next }
		{
			i = index($0, ":"); if (i == 0) next
			if (tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v) }
		}
		END { print v }' "$HDRS"
}
has_hdr() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") } /^HTTP\// { f = 0; next }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) f = 1 }
		END { exit !f }' "$HDRS"
}

# The path of a Location-like URL when it is on the registry's origin (or
# relative); anything else unchanged.
url_path() {
	case $1 in
	"$ORIGIN"/*) printf '%s' "${1#"$ORIGIN"}" ;;
	*) printf '%s' "$1" ;;
	esac
}
# An absolute URL for a Location (relative ones resolve against the origin).
abs_url() {
	case $1 in
	http://*|https://*) printf '%s' "$1" ;;
	/*) printf '%s%s' "$ORIGIN" "$1" ;;
	*) printf '%s/%s' "$URL" "$1" ;;
	esac
}
# set_loc [new]: LOC follows the last answer's Location; "new" (after the
# POST that starts a session) when there must be one: without it, LOC names
# nothing, so that what follows fails visibly instead of going elsewhere.
set_loc() {
	local l
	l=$(hdr Location)
	if [ -n "$l" ]; then LOC=$(abs_url "$l")
	elif [ "${1:-}" = new ]; then LOC=$URL/v2/no-location-given; fi
}
# with_query URL "k=v": append a query parameter.
with_query() {
	case $1 in *\?*) printf '%s&%s' "$1" "$2" ;; *) printf '%s?%s' "$1" "$2" ;; esac
}
uri() { jq -rn --arg v "$1" '$v | @uri'; }
urldecode() { local s=${1//+/ }; printf '%b' "${s//%/\\x}"; }

# ---------------------------------------------------------------- expectations

want_status() {   # CODE...
	local c
	for c in "$@"; do
		if [ "$STATUS" = "$c" ]; then pass "$LAST_REQ: status $STATUS"; return 0; fi
	done
	local got="$STATUS"
	[ "$STATUS" = 000 ] && got="no answer ($(head -c 200 "$WORK/curl.err"))"
	[ -s "$BODY" ] && got="$got ($(body_snippet))"
	fail "$LAST_REQ: status" "$(printf '%s' "$*" | sed 's/ / or /g')" "$got"
	return 1
}
want_header() {   # NAME VALUE
	local got
	got=$(hdr "$1")
	if has_hdr "$1" && [ "$got" = "$2" ]; then pass "$LAST_REQ: $1: $2"
	elif has_hdr "$1"; then fail "$LAST_REQ: $1" "'$2'" "'$got'"
	else fail "$LAST_REQ: $1" "'$2'" "no $1 header (status $STATUS)"; fi
}
want_no_header() {
	if has_hdr "$1"; then fail "$LAST_REQ: no $1 header" "none" "$1: $(hdr "$1")"
	else pass "$LAST_REQ: no $1 header"; fi
}
# want_location PATH: Location names PATH (relative, or absolute on the
# registry's origin).
want_location() {
	local got
	got=$(hdr Location)
	if [ -n "$got" ] && [ "$(url_path "$got")" = "$1" ]; then pass "$LAST_REQ: Location $1"
	else fail "$LAST_REQ: Location" "$1" "'$got'"; fi
}
# want_session_location NAME: a Location for an upload session of NAME.
want_session_location() {
	local got
	got=$(hdr Location)
	case $(url_path "$got") in
	/v2/"$1"/blobs/uploads/?*) pass "$LAST_REQ: Location is an upload session of $1" ;;
	*) fail "$LAST_REQ: Location" "/v2/$1/blobs/uploads/<session>" "'$got'" ;;
	esac
}
# want_error_code CODE...: the body is {"errors":[{"code": one of CODE...}]}
# with a JSON Content-Type.
want_error_code() {
	local got c ct
	got=$(jq -r 'if (.errors | type) == "array" and (.errors | length) > 0
		then (.errors[0].code | tostring) else "(no errors array)" end' "$BODY" 2>/dev/null)
	[ -n "$got" ] || got="(not JSON: $(body_snippet))"
	for c in "$@"; do
		if [ "$got" = "$c" ]; then
			ct=$(hdr Content-Type)
			case $ct in
			application/json*) pass "$LAST_REQ: error code $got" ;;
			*) fail "$LAST_REQ: Content-Type of the $got error" "application/json" "'$ct'" ;;
			esac
			return 0
		fi
	done
	fail "$LAST_REQ: error code" "$(printf '%s' "$*" | sed 's/ / or /g')" "$got"
}
want_error() {   # STATUS CODE...
	local s=$1; shift
	want_status "$s"
	want_error_code "$@"
}
want_body_file() {
	if cmp -s "$BODY" "$1"; then pass "$LAST_REQ: body is the $(wc -c <"$1") bytes pushed"
	else fail "$LAST_REQ: body" "the $(wc -c <"$1") bytes pushed" "$(wc -c <"$BODY") other bytes"; fi
}
want_body_empty() {
	if [ -s "$BODY" ]; then fail "$LAST_REQ: body" "empty" "'$(body_snippet)'"
	else pass "$LAST_REQ: empty body"; fi
}
# want_json WHAT JQ-FILTER WANT: the filter's compact output on the body.
want_json() {
	local got
	got=$(jq -cS "$2" "$BODY" 2>/dev/null) || got="(not JSON: $(body_snippet))"
	if [ "$got" = "$3" ]; then pass "$LAST_REQ: $1"; else fail "$LAST_REQ: $1" "$3" "$got"; fi
}
# Never a server error, whatever the input.
want_no_5xx() {
	case $STATUS in
	5*|000) fail "$LAST_REQ: not a server error" "a 2xx or 4xx answer" "$STATUS ($(body_snippet))" ;;
	*) pass "$LAST_REQ: not a server error ($STATUS)" ;;
	esac
}

# ---------------------------------------------------------------- fixtures

dg() { printf 'sha256:%s' "$(sha256sum <"$1" | cut -d' ' -f1)"; }
sz() { wc -c <"$1" | tr -d ' '; }
mkrand() { openssl rand -out "$1" "$2"; }
# descriptor MEDIATYPE FILE: {mediaType, digest, size} of FILE.
descriptor() {
	jq -cn --arg mt "$1" --arg d "$(dg "$2")" --argjson s "$(sz "$2")" \
		'{mediaType: $mt, digest: $d, size: $s}'
}
# mk_config FILE: a small image config, different every time.
mk_config() {
	jq -n --arg id "$(openssl rand -hex 8)" '{
		architecture: "amd64", os: "linux", created: "2024-01-01T00:00:00Z",
		config: { Labels: { "conformance.id": $id } },
		rootfs: { type: "layers", diff_ids: [] }
	}' >"$1"
}
# mk_manifest OUT MEDIATYPE CONFIG-DESCRIPTOR LAYER-DESCRIPTOR... [-- JQ-EXPR]:
# an image manifest; a trailing "-- EXPR" is applied to it (artifactType,
# subject, annotations).
mk_manifest() {
	local out=$1 mt=$2 cfg=$3 layers=() extra=.
	shift 3
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { extra=$2; break; }
		layers+=("$1"); shift
	done
	printf '%s\n' ${layers[@]+"${layers[@]}"} | jq -s --arg mt "$mt" --argjson c "$cfg" \
		"{schemaVersion: 2, mediaType: \$mt, config: \$c, layers: .} | $extra" >"$out"
}
# mk_index OUT MEDIATYPE CHILD-DESCRIPTOR... [-- JQ-EXPR]
mk_index() {
	local out=$1 mt=$2 kids=() extra=.
	shift 2
	while [ $# -gt 0 ]; do
		[ "$1" = -- ] && { extra=$2; break; }
		kids+=("$1"); shift
	done
	printf '%s\n' ${kids[@]+"${kids[@]}"} | jq -s --arg mt "$mt" \
		"{schemaVersion: 2, mediaType: \$mt, manifests: .} | $extra" >"$out"
}
# platform DESCRIPTOR ARCH: the descriptor with a linux/ARCH platform.
platform() { jq -c --arg a "$2" '. + {platform: {architecture: $a, os: "linux"}}' <<<"$1"; }

# push_blob REPO FILE: monolithic POST then PUT; one check.
push_blob() {
	local repo=$1 file=$2 d loc
	d=$(dg "$file")
	req POST "/v2/$repo/blobs/uploads/" -H 'Content-Length: 0'
	loc=$(hdr Location)
	if [ "$STATUS" != 202 ] || [ -z "$loc" ]; then
		fail "setup: push blob $d to $repo" "POST 202 with a Location" "$STATUS ($(body_snippet))"
		return 1
	fi
	req PUT "$(with_query "$(abs_url "$loc")" "digest=$d")" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$file"
	if [ "$STATUS" = 201 ]; then pass "setup: push blob $d to $repo"
	else fail "setup: push blob $d to $repo" "PUT 201" "$STATUS ($(body_snippet))"; return 1; fi
}

# put_manifest REPO REF FILE MEDIATYPE: PUT with the checks every manifest
# PUT gets: 201, Location by digest, Docker-Content-Digest.
put_manifest() {
	local repo=$1 ref=$2 file=$3 mt=$4 d
	d=$(dg "$file")
	req PUT "/v2/$repo/manifests/$ref" -H "Content-Type: $mt" --data-binary @"$file"
	want_status 201 || return 1
	want_location "/v2/$repo/manifests/$d"
	want_header Docker-Content-Digest "$d"
}

# get_manifest REPO REF FILE MEDIATYPE: GET and HEAD serve FILE's bytes.
get_manifest() {
	local repo=$1 ref=$2 file=$3 mt=$4 d
	d=$(dg "$file")
	req GET "/v2/$repo/manifests/$ref" -H "Accept: $ACCEPT_ALL"
	want_status 200
	want_body_file "$file"
	want_header Content-Type "$mt"
	want_header Docker-Content-Digest "$d"
	want_header Content-Length "$(sz "$file")"
	req HEAD "/v2/$repo/manifests/$ref" -H "Accept: $ACCEPT_ALL"
	want_status 200
	want_header Content-Type "$mt"
	want_header Docker-Content-Digest "$d"
	want_header Content-Length "$(sz "$file")"
}

# get_blob REPO FILE: GET and HEAD serve FILE's bytes.
get_blob() {
	local repo=$1 file=$2 d
	d=$(dg "$file")
	req GET "/v2/$repo/blobs/$d"
	want_status 200
	want_body_file "$file"
	want_header Docker-Content-Digest "$d"
	want_header Content-Length "$(sz "$file")"
	req HEAD "/v2/$repo/blobs/$d"
	want_status 200
	want_header Docker-Content-Digest "$d"
	want_header Content-Length "$(sz "$file")"
}

# A digest nothing has: of random bytes.
random_digest() { printf 'sha256:%s' "$(openssl rand -hex 32)"; }
MD5_DIGEST=md5:$(openssl rand -hex 16)

# ---------------------------------------------------------------- start

printf '# conformance of %s, repositories under %s/\n' "$URL" "$NS"
req GET /v2/
case $STATUS in
200) ;;
000) echo "FAIL GET /v2/: expected an answer, got none: $(head -c 300 "$WORK/curl.err")"
     echo "0 passed, 1 failed"; exit 3 ;;
esac

################################################################ 1. pull
section "1. pull"

req GET /v2/
want_status 200
want_header Docker-Distribution-API-Version registry/2.0

mk_config "$F/pull-config.json"
mkrand "$F/pull-l1" 4096
mkrand "$F/pull-l2" 1500
for b in pull-config.json pull-l1 pull-l2; do push_blob "$R_PULL" "$F/$b"; done
cp "$F/pull-config.json" "$F/pull-dconfig.json"
C_OCI=$(descriptor "$MT_OCI_CONFIG" "$F/pull-config.json")
C_DOCKER=$(descriptor "$MT_DOCKER_CONFIG" "$F/pull-config.json")
mk_manifest "$F/pull-oci.json" "$MT_OCI_MANIFEST" "$C_OCI" \
	"$(descriptor "$MT_OCI_LAYER" "$F/pull-l1")" "$(descriptor "$MT_OCI_LAYER" "$F/pull-l2")"
mk_manifest "$F/pull-docker.json" "$MT_DOCKER_MANIFEST" "$C_DOCKER" \
	"$(descriptor "$MT_DOCKER_LAYER" "$F/pull-l1")" "$(descriptor "$MT_DOCKER_LAYER" "$F/pull-l2")"
mk_index "$F/pull-index.json" "$MT_OCI_INDEX" \
	"$(platform "$(descriptor "$MT_OCI_MANIFEST" "$F/pull-oci.json")" amd64)"
mk_index "$F/pull-list.json" "$MT_DOCKER_LIST" \
	"$(platform "$(descriptor "$MT_DOCKER_MANIFEST" "$F/pull-docker.json")" amd64)"
put_manifest "$R_PULL" oci "$F/pull-oci.json" "$MT_OCI_MANIFEST"
put_manifest "$R_PULL" docker "$F/pull-docker.json" "$MT_DOCKER_MANIFEST"
put_manifest "$R_PULL" index "$F/pull-index.json" "$MT_OCI_INDEX"
put_manifest "$R_PULL" list "$F/pull-list.json" "$MT_DOCKER_LIST"

# Manifests by tag and by digest, GET and HEAD, all four media types.
for spec in "oci:pull-oci.json:$MT_OCI_MANIFEST" "docker:pull-docker.json:$MT_DOCKER_MANIFEST" \
	"index:pull-index.json:$MT_OCI_INDEX" "list:pull-list.json:$MT_DOCKER_LIST"; do
	IFS=: read -r tag file mt <<<"$spec"
	get_manifest "$R_PULL" "$tag" "$F/$file" "$mt"
	get_manifest "$R_PULL" "$(dg "$F/$file")" "$F/$file" "$mt"
done

# Blobs, whole and in part.
get_blob "$R_PULL" "$F/pull-l1"
get_blob "$R_PULL" "$F/pull-config.json"
D_L1=$(dg "$F/pull-l1")
req GET "/v2/$R_PULL/blobs/$D_L1" -H 'Range: bytes=100-1123'
want_status 206
want_header Content-Range "bytes 100-1123/4096"
want_header Content-Length 1024
tail -c +101 "$F/pull-l1" | head -c 1024 >"$F/pull-l1.part"
want_body_file "$F/pull-l1.part"
req GET "/v2/$R_PULL/blobs/$D_L1" -H 'Range: bytes=4000-'
want_status 206
want_header Content-Range "bytes 4000-4095/4096"
req GET "/v2/$R_PULL/blobs/$D_L1" -H 'Range: bytes=5000-6000'
want_status 416
want_header Content-Range "bytes */4096"

# What is not there.
req GET "/v2/$R_PULL/manifests/nonexistent"
want_error 404 MANIFEST_UNKNOWN
req HEAD "/v2/$R_PULL/manifests/nonexistent"
want_status 404
req GET "/v2/$R_PULL/manifests/$(random_digest)"
want_error 404 MANIFEST_UNKNOWN
req HEAD "/v2/$R_PULL/manifests/$(random_digest)"
want_status 404
req GET "/v2/$R_PULL/blobs/$(random_digest)"
want_error 404 BLOB_UNKNOWN
req HEAD "/v2/$R_PULL/blobs/$(random_digest)"
want_status 404
req GET "/v2/$NS/nonexistent/manifests/latest"
want_error 404 NAME_UNKNOWN
req GET "/v2/$NS/nonexistent/blobs/$D_L1"
want_error 404 BLOB_UNKNOWN NAME_UNKNOWN
# A reference that can be no tag names no manifest: 404, as the spec's own
# conformance tests ask with this very reference.
req GET "/v2/$R_PULL/manifests/.INVALID_MANIFEST_NAME"
want_error 404 MANIFEST_UNKNOWN
req HEAD "/v2/$R_PULL/manifests/.INVALID_MANIFEST_NAME"
want_status 404

# Bad input: a digest of an unknown algorithm, a malformed digest, an
# invalid repository name.
req GET "/v2/$R_PULL/manifests/$MD5_DIGEST"
want_error 400 DIGEST_INVALID
req GET "/v2/$R_PULL/blobs/$MD5_DIGEST"
want_error 400 DIGEST_INVALID
req HEAD "/v2/$R_PULL/blobs/$MD5_DIGEST"
want_status 400
req GET "/v2/$R_PULL/blobs/sha256:zz"
want_error 400 DIGEST_INVALID
req GET "/v2/$NS/Upper-Case/manifests/latest"
want_error 400 NAME_INVALID
req GET "/v2/$NS/a..b/tags/list"
want_error 400 NAME_INVALID

################################################################ 2. push
section "2. push"

# ---- streamed: POST, PATCH without Content-Range, PUT ?digest=.
mkrand "$F/push-streamed" 70000
D=$(dg "$F/push-streamed")
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
want_status 202
want_session_location "$R_PUSH"
set_loc new
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/push-streamed"
want_status 202
want_session_location "$R_PUSH"
want_header Range 0-69999
set_loc
req PUT "$(with_query "$LOC" "digest=$D")" -H 'Content-Length: 0'
want_status 201
want_location "/v2/$R_PUSH/blobs/$D"
want_header Docker-Content-Digest "$D"
get_blob "$R_PUSH" "$F/push-streamed"

# ---- monolithic: POST then PUT with the body.
mkrand "$F/push-mono" 3000
D=$(dg "$F/push-mono")
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
want_status 202
want_session_location "$R_PUSH"
set_loc new
req PUT "$(with_query "$LOC" "digest=$D")" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/push-mono"
want_status 201
want_location "/v2/$R_PUSH/blobs/$D"
want_header Docker-Content-Digest "$D"
get_blob "$R_PUSH" "$F/push-mono"

# ---- monolithic: a single POST ?digest=.
mkrand "$F/push-single" 2500
D=$(dg "$F/push-single")
req POST "/v2/$R_PUSH/blobs/uploads/?digest=$D" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/push-single"
want_status 201
want_location "/v2/$R_PUSH/blobs/$D"
want_header Docker-Content-Digest "$D"
get_blob "$R_PUSH" "$F/push-single"

# ---- chunked, with chunks out of order and repeated.
mkrand "$F/chunk1" 1000
mkrand "$F/chunk2" 2000
mkrand "$F/chunk3" 1500
cat "$F/chunk1" "$F/chunk2" "$F/chunk3" >"$F/push-chunked"
D=$(dg "$F/push-chunked")
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
want_status 202
set_loc new
# The first chunk must start at 0.
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 1000-2999' \
	--data-binary @"$F/chunk2"
want_status 416
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-999' \
	--data-binary @"$F/chunk1"
want_status 202
want_session_location "$R_PUSH"
want_header Range 0-999
set_loc
req GET "$LOC"
want_status 204
want_header Range 0-999
want_session_location "$R_PUSH"
# A gap, then the same chunk again: 416 with the session's Range, nothing kept.
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 3000-4499' \
	--data-binary @"$F/chunk3"
want_status 416
want_header Range 0-999
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-999' \
	--data-binary @"$F/chunk1"
want_status 416
want_header Range 0-999
req GET "$LOC"
want_status 204
want_header Range 0-999
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 1000-2999' \
	--data-binary @"$F/chunk2"
want_status 202
want_header Range 0-2999
set_loc
# The last chunk comes with the closing PUT.
req PUT "$(with_query "$LOC" "digest=$D")" -H 'Content-Type: application/octet-stream' \
	-H 'Content-Range: 3000-4499' --data-binary @"$F/chunk3"
want_status 201
want_location "/v2/$R_PUSH/blobs/$D"
want_header Docker-Content-Digest "$D"
get_blob "$R_PUSH" "$F/push-chunked"

# ---- chunked, closed by a zero-length PUT.
mkrand "$F/chunkA" 777
mkrand "$F/chunkB" 333
cat "$F/chunkA" "$F/chunkB" >"$F/push-chunked2"
D=$(dg "$F/push-chunked2")
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
want_status 202
set_loc new
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-776' \
	--data-binary @"$F/chunkA"
want_status 202
want_header Range 0-776
set_loc
req PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 777-1109' \
	--data-binary @"$F/chunkB"
want_status 202
want_header Range 0-1109
set_loc
req PUT "$(with_query "$LOC" "digest=$D")" -H 'Content-Length: 0'
want_status 201
want_location "/v2/$R_PUSH/blobs/$D"
get_blob "$R_PUSH" "$F/push-chunked2"

# ---- the empty blob: single POST, and POST + zero-length PUT.
: >"$F/empty"
check_eq "sha256 of zero bytes" "$(dg "$F/empty")" "$EMPTY_BLOB_DIGEST"
req POST "/v2/$R_PUSH/blobs/uploads/?digest=$EMPTY_BLOB_DIGEST" \
	-H 'Content-Type: application/octet-stream' -H 'Content-Length: 0'
want_status 201
want_location "/v2/$R_PUSH/blobs/$EMPTY_BLOB_DIGEST"
get_blob "$R_PUSH" "$F/empty"
req POST "/v2/$R_MOUNT/blobs/uploads/" -H 'Content-Length: 0'
want_status 202
set_loc new
req PUT "$(with_query "$LOC" "digest=$EMPTY_BLOB_DIGEST")" -H 'Content-Length: 0'
want_status 201
want_location "/v2/$R_MOUNT/blobs/$EMPTY_BLOB_DIGEST"
get_blob "$R_MOUNT" "$F/empty"

# ---- uploads that must fail.
mkrand "$F/push-wrong" 1234
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
set_loc new
WRONG=$(random_digest)
req PUT "$(with_query "$LOC" "digest=$WRONG")" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/push-wrong"
want_error 400 DIGEST_INVALID
req HEAD "/v2/$R_PUSH/blobs/$WRONG"
want_status 404
req HEAD "/v2/$R_PUSH/blobs/$(dg "$F/push-wrong")"
want_status 404
req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
set_loc new
req PUT "$(with_query "$LOC" "digest=$MD5_DIGEST")" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/push-wrong"
want_error 400 DIGEST_INVALID
req POST "/v2/$R_PUSH/blobs/uploads/?digest=$MD5_DIGEST" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/push-wrong"
want_error 400 DIGEST_INVALID
req GET "/v2/$R_PUSH/blobs/uploads/$(openssl rand -hex 4)-$(openssl rand -hex 2)-$(openssl rand -hex 2)-$(openssl rand -hex 2)-$(openssl rand -hex 6)"
want_error 404 BLOB_UPLOAD_UNKNOWN
if [ -n "$DELETE" ]; then
	req POST "/v2/$R_PUSH/blobs/uploads/" -H 'Content-Length: 0'
	set_loc new
	req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/push-wrong"
	want_status 202
	set_loc
	req DELETE "$LOC"
	want_status 204
	req GET "$LOC"
	want_error 404 BLOB_UPLOAD_UNKNOWN
	req PATCH "$LOC" -H 'Content-Type: application/octet-stream' --data-binary @"$F/push-wrong"
	want_error 404 BLOB_UPLOAD_UNKNOWN
fi

# A blob of one repository is not in another.
req GET "/v2/$R_PUSH/blobs/$(dg "$F/pull-l2")"
want_error 404 BLOB_UNKNOWN

# ---- manifests of the four media types, by tag and by digest.
mk_config "$F/push-config.json"
mkrand "$F/push-layer" 2048
push_blob "$R_PUSH" "$F/push-config.json"
push_blob "$R_PUSH" "$F/push-layer"
L_OCI=$(descriptor "$MT_OCI_LAYER" "$F/push-layer")
L_DOCKER=$(descriptor "$MT_DOCKER_LAYER" "$F/push-layer")
C_OCI=$(descriptor "$MT_OCI_CONFIG" "$F/push-config.json")
C_DOCKER=$(descriptor "$MT_DOCKER_CONFIG" "$F/push-config.json")
mk_manifest "$F/push-oci.json" "$MT_OCI_MANIFEST" "$C_OCI" "$L_OCI"
mk_manifest "$F/push-oci-arm.json" "$MT_OCI_MANIFEST" "$C_OCI" "$L_OCI" \
	-- '. + {annotations: {"org.example.arch": "arm64"}}'
mk_manifest "$F/push-docker.json" "$MT_DOCKER_MANIFEST" "$C_DOCKER" "$L_DOCKER"
mk_manifest "$F/push-docker2.json" "$MT_DOCKER_MANIFEST" "$C_DOCKER" "$L_DOCKER" "$L_DOCKER"
put_manifest "$R_PUSH" v1-oci "$F/push-oci.json" "$MT_OCI_MANIFEST"
put_manifest "$R_PUSH" "$(dg "$F/push-oci-arm.json")" "$F/push-oci-arm.json" "$MT_OCI_MANIFEST"
put_manifest "$R_PUSH" v1-docker "$F/push-docker.json" "$MT_DOCKER_MANIFEST"
put_manifest "$R_PUSH" "$(dg "$F/push-docker2.json")" "$F/push-docker2.json" "$MT_DOCKER_MANIFEST"
mk_index "$F/push-index.json" "$MT_OCI_INDEX" \
	"$(platform "$(descriptor "$MT_OCI_MANIFEST" "$F/push-oci.json")" amd64)" \
	"$(platform "$(descriptor "$MT_OCI_MANIFEST" "$F/push-oci-arm.json")" arm64)"
mk_index "$F/push-list.json" "$MT_DOCKER_LIST" \
	"$(platform "$(descriptor "$MT_DOCKER_MANIFEST" "$F/push-docker.json")" amd64)" \
	"$(platform "$(descriptor "$MT_DOCKER_MANIFEST" "$F/push-docker2.json")" arm64)"
put_manifest "$R_PUSH" v1-index "$F/push-index.json" "$MT_OCI_INDEX"
put_manifest "$R_PUSH" "$(dg "$F/push-index.json")" "$F/push-index.json" "$MT_OCI_INDEX"
put_manifest "$R_PUSH" "$(dg "$F/push-list.json")" "$F/push-list.json" "$MT_DOCKER_LIST"
put_manifest "$R_PUSH" v1-list "$F/push-list.json" "$MT_DOCKER_LIST"
get_manifest "$R_PUSH" v1-oci "$F/push-oci.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" "$(dg "$F/push-oci-arm.json")" "$F/push-oci-arm.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" v1-docker "$F/push-docker.json" "$MT_DOCKER_MANIFEST"
get_manifest "$R_PUSH" "$(dg "$F/push-docker2.json")" "$F/push-docker2.json" "$MT_DOCKER_MANIFEST"
get_manifest "$R_PUSH" v1-index "$F/push-index.json" "$MT_OCI_INDEX"
get_manifest "$R_PUSH" v1-list "$F/push-list.json" "$MT_DOCKER_LIST"
# The same manifest again under the same tag, and a tag moved to another one.
put_manifest "$R_PUSH" v1-oci "$F/push-oci.json" "$MT_OCI_MANIFEST"
put_manifest "$R_PUSH" moving "$F/push-oci.json" "$MT_OCI_MANIFEST"
put_manifest "$R_PUSH" moving "$F/push-oci-arm.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" moving "$F/push-oci-arm.json" "$MT_OCI_MANIFEST"

# ---- artifacts.
printf '{}' >"$F/empty.json"
check_eq "the empty descriptor's digest" "$(dg "$F/empty.json")" "$EMPTY_DIGEST"
push_blob "$R_PUSH" "$F/empty.json"
get_blob "$R_PUSH" "$F/empty.json"
C_EMPTY=$(descriptor "$MT_EMPTY" "$F/empty.json")
check_eq "the empty descriptor" "$C_EMPTY" \
	"{\"mediaType\":\"$MT_EMPTY\",\"digest\":\"$EMPTY_DIGEST\",\"size\":2}"
printf '{"tool":"conformance","run":"%s"}' "$RUN_ID" >"$F/art-config.json"
printf 'hello from the conformance suite %s\n' "$RUN_ID" >"$F/art-file.txt"
push_blob "$R_PUSH" "$F/art-config.json"
push_blob "$R_PUSH" "$F/art-file.txt"
# Any config media type, any layer media type.
mk_manifest "$F/art-config-type.json" "$MT_OCI_MANIFEST" \
	"$(descriptor application/vnd.example.thing.config.v1+json "$F/art-config.json")" \
	"$(descriptor application/vnd.example.thing.file.v1 "$F/art-file.txt")"
put_manifest "$R_PUSH" artifact-config "$F/art-config-type.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" artifact-config "$F/art-config-type.json" "$MT_OCI_MANIFEST"
# artifactType with the empty config.
mk_manifest "$F/art-type.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor text/plain "$F/art-file.txt")" \
	-- '. + {artifactType: "application/vnd.example.thing.v1"}'
put_manifest "$R_PUSH" artifact-type "$F/art-type.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" artifact-type "$F/art-type.json" "$MT_OCI_MANIFEST"
# No blobs at all but the empty config (the spec allows an empty list).
mk_manifest "$F/art-nolayers.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	-- '. + {artifactType: "application/vnd.example.nothing.v1"}'
put_manifest "$R_PUSH" artifact-nolayers "$F/art-nolayers.json" "$MT_OCI_MANIFEST"
get_manifest "$R_PUSH" artifact-nolayers "$F/art-nolayers.json" "$MT_OCI_MANIFEST"
# The empty descriptor as the one layer.
mk_manifest "$F/art-emptylayer.json" "$MT_OCI_MANIFEST" "$C_EMPTY" "$C_EMPTY" \
	-- '. + {artifactType: "application/vnd.example.marker.v1"}'
put_manifest "$R_PUSH" artifact-emptylayer "$F/art-emptylayer.json" "$MT_OCI_MANIFEST"
# An index of artifacts, with an artifactType of its own.
mk_index "$F/art-index.json" "$MT_OCI_INDEX" \
	"$(descriptor "$MT_OCI_MANIFEST" "$F/art-config-type.json")" \
	"$(descriptor "$MT_OCI_MANIFEST" "$F/art-type.json")" \
	-- '. + {artifactType: "application/vnd.example.bundle.v1"}'
put_manifest "$R_PUSH" artifact-index "$F/art-index.json" "$MT_OCI_INDEX"
get_manifest "$R_PUSH" artifact-index "$F/art-index.json" "$MT_OCI_INDEX"
# A subject: OCI-Subject in the answer.
mk_manifest "$F/art-subject.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor text/plain "$F/art-file.txt")" \
	-- ". + {artifactType: \"$AT_SIG\", subject: $(descriptor "$MT_OCI_MANIFEST" "$F/push-oci.json")}"
put_manifest "$R_PUSH" "$(dg "$F/art-subject.json")" "$F/art-subject.json" "$MT_OCI_MANIFEST"
want_header OCI-Subject "$(dg "$F/push-oci.json")"
# A manifest without a subject gets no OCI-Subject.
put_manifest "$R_PUSH" artifact-type "$F/art-type.json" "$MT_OCI_MANIFEST"
want_no_header OCI-Subject

# ---- manifests that must be refused.
printf '{"schemaVersion": 2, "mediaType": "%s", "config": ' "$MT_OCI_MANIFEST" >"$F/bad-json.json"
req PUT "/v2/$R_PUSH/manifests/invalid" -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/bad-json.json"
want_error 400 MANIFEST_INVALID
mk_manifest "$F/missing-blob.json" "$MT_OCI_MANIFEST" "$C_OCI" \
	"$(jq -c --arg d "$(random_digest)" '.digest = $d' <<<"$L_OCI")"
req PUT "/v2/$R_PUSH/manifests/missing-blob" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$F/missing-blob.json"
if [ "$STATUS" = 400 ]; then want_error_code MANIFEST_BLOB_UNKNOWN
else fail "$LAST_REQ: a manifest naming a missing blob (stricter than the spec)" \
	"400 MANIFEST_BLOB_UNKNOWN" "$STATUS"; fi
req PUT "/v2/$R_PUSH/manifests/$(dg "$F/push-docker.json")" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$F/push-oci.json"
want_error 400 DIGEST_INVALID
req PUT "/v2/$R_PUSH/manifests/$MD5_DIGEST" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$F/push-oci.json"
want_error 400 DIGEST_INVALID
req GET "/v2/$R_PUSH/manifests/invalid"
want_error 404 MANIFEST_UNKNOWN

# ---- cross-repository mount.
D_STREAMED=$(dg "$F/push-streamed")
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$D_STREAMED&from=$R_PUSH" -H 'Content-Length: 0'
want_status 201
want_location "/v2/$R_MOUNT/blobs/$D_STREAMED"
want_header Docker-Content-Digest "$D_STREAMED"
get_blob "$R_MOUNT" "$F/push-streamed"
# Not in "from": an upload session instead, which works.
D_MONO=$(dg "$F/push-mono")
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$(dg "$F/pull-l2")&from=$R_PUSH" -H 'Content-Length: 0'
want_status 202
want_session_location "$R_MOUNT"
set_loc new
req HEAD "/v2/$R_MOUNT/blobs/$(dg "$F/pull-l2")"
want_status 404
req PUT "$(with_query "$LOC" "digest=$(dg "$F/pull-l1")")" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$F/pull-l1"
want_status 201
want_location "/v2/$R_MOUNT/blobs/$(dg "$F/pull-l1")"
# An unknown digest: a session.
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$(random_digest)&from=$R_PUSH" -H 'Content-Length: 0'
want_status 202
want_session_location "$R_MOUNT"
# Without "from": berth mounts from any repository that has the blob.
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$(dg "$F/pull-l2")" -H 'Content-Length: 0'
if [ "$STATUS" = 201 ]; then
	pass "$LAST_REQ: status 201"
	want_location "/v2/$R_MOUNT/blobs/$(dg "$F/pull-l2")"
	want_header Docker-Content-Digest "$(dg "$F/pull-l2")"
	get_blob "$R_MOUNT" "$F/pull-l2"
else
	fail "$LAST_REQ: mount without from (stricter than the spec, which allows 202)" 201 "$STATUS"
fi
# Bad input: "from" is not a valid name (nothing mounted, never a 500).
for from in "$(printf '%s' "$R_PUSH" | tr a-z A-Z)" "$R_PUSH/../$R_PUSH" "/$R_PUSH" "$R_PUSH%00"; do
	req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$D_MONO&from=$from" -H 'Content-Length: 0'
	want_status 202
	want_session_location "$R_MOUNT"
	req HEAD "/v2/$R_MOUNT/blobs/$D_MONO"
	want_status 404
done
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=sha256:zz&from=$R_PUSH" -H 'Content-Length: 0'
want_no_5xx
[ "$STATUS" = 400 ] && want_error_code DIGEST_INVALID
req POST "/v2/$R_MOUNT/blobs/uploads/?mount=$MD5_DIGEST&from=$R_PUSH" -H 'Content-Length: 0'
want_no_5xx
[ "$STATUS" = 400 ] && want_error_code DIGEST_INVALID

################################################################ 3. content discovery
section "3. content discovery"

mk_config "$F/disc-config.json"
mkrand "$F/disc-layer" 1024
push_blob "$R_DISC" "$F/disc-config.json"
push_blob "$R_DISC" "$F/disc-layer"
push_blob "$R_DISC" "$F/empty.json"
mk_manifest "$F/subject.json" "$MT_OCI_MANIFEST" "$(descriptor "$MT_OCI_CONFIG" "$F/disc-config.json")" \
	"$(descriptor "$MT_OCI_LAYER" "$F/disc-layer")"
D_SUBJECT=$(dg "$F/subject.json")

# ---- tags.
TAGS=(v2 latest v10 alpha 1.0 beta-1 beta.2 zeta)
SORTED=$(printf '%s\n' "${TAGS[@]}" | LC_ALL=C sort | jq -R . | jq -sc .)
for t in "${TAGS[@]}"; do put_manifest "$R_DISC" "$t" "$F/subject.json" "$MT_OCI_MANIFEST"; done
tags_page() { jq -c "$1" <<<"$SORTED"; }
tag_at() { jq -r ".[$1]" <<<"$SORTED"; }

req GET "/v2/$R_DISC/tags/list"
want_status 200
want_json "name and every tag in lexical order" . "{\"name\":\"$R_DISC\",\"tags\":$SORTED}"
case $(hdr Content-Type) in
application/json*) pass "$LAST_REQ: Content-Type JSON" ;;
*) fail "$LAST_REQ: Content-Type" application/json "'$(hdr Content-Type)'" ;;
esac
want_no_header Link

# want_next_link PATH N LAST: Link: <PATH?n=N&last=LAST>; rel="next" (the
# URL relative or on the origin, n and last in either order).
want_next_link() {
	local got l path query kv n='' last='' others=''
	got=$(hdr Link)
	l=$(printf '%s' "$got" | sed -nE 's/^<([^>]*)>;[ ]*rel="next"$/\1/p')
	path=$(url_path "${l%%\?*}")
	query=${l#*\?}
	[ "$query" != "$l" ] || query=
	for kv in ${query//&/ }; do
		case $kv in
		n=*) n=${kv#n=} ;;
		last=*) last=$(urldecode "${kv#last=}") ;;
		*) others=1 ;;
		esac
	done
	if [ -n "$l" ] && [ "$path" = "$1" ] && [ "$n" = "$2" ] && [ "$last" = "$3" ] && [ -z "$others" ]; then
		pass "$LAST_REQ: Link to the next page after $3"
		NEXT=$(abs_url "$l")
	else
		fail "$LAST_REQ: Link" "<$1?n=$2&last=$3>; rel=\"next\"" "'$got'"
		NEXT=
	fi
}
NEXT=

req GET "/v2/$R_DISC/tags/list?n=3"
want_status 200
want_json "the first 3 tags" .tags "$(tags_page '.[0:3]')"
want_next_link "/v2/$R_DISC/tags/list" 3 "$(tag_at 2)"
if [ -n "$NEXT" ]; then
	req GET "$NEXT"
	want_status 200
	want_json "tags 4 to 6" .tags "$(tags_page '.[3:6]')"
	want_next_link "/v2/$R_DISC/tags/list" 3 "$(tag_at 5)"
fi
if [ -n "$NEXT" ]; then
	req GET "$NEXT"
	want_status 200
	want_json "the last 2 tags" .tags "$(tags_page '.[6:]')"
	want_no_header Link
fi
req GET "/v2/$R_DISC/tags/list?n=0"
want_status 200
want_json "n=0: an empty list" .tags '[]'
want_no_header Link
req GET "/v2/$R_DISC/tags/list?n=8"
want_status 200
want_json "n=8 of 8: all" .tags "$SORTED"
want_no_header Link
req GET "/v2/$R_DISC/tags/list?n=1000"
want_status 200
want_json "n=1000: all" .tags "$SORTED"
want_no_header Link
req GET "/v2/$R_DISC/tags/list?last=alpha"
want_status 200
want_json "last=alpha: the tags after alpha" .tags "$(tags_page '[.[] | select(. > "alpha")]')"
req GET "/v2/$R_DISC/tags/list?n=2&last=beta-2"
want_status 200
want_json "last=beta-2 (not a tag): the 2 tags after it" .tags \
	"$(tags_page '[.[] | select(. > "beta-2")] | .[0:2]')"
req GET "/v2/$R_DISC/tags/list?last=zeta"
want_status 200
want_json "last=zeta: nothing after the last tag" .tags '[]'
# Bad input: garbage in n and last.
for n in abc -1 1.5 3x '%20'; do
	req GET "/v2/$R_DISC/tags/list?n=$n"
	want_error 400 PAGINATION_NUMBER_INVALID
done
for last in "$(printf 'x%.0s' $(seq 300))" '%00' '%ff%fe' '..%2F..'; do
	req GET "/v2/$R_DISC/tags/list?n=2&last=$last"
	want_no_5xx
	case $STATUS in
	200) want_json "garbage last: a list" '.tags | type' '"array"' ;;
	*) want_status 400; want_error_code PAGINATION_NUMBER_INVALID TAG_INVALID ;;
	esac
done
req GET "/v2/$R_DISC/tags/list"
want_json "the tags are unchanged after bad input" .tags "$SORTED"
req GET "/v2/$NS/nonexistent/tags/list"
want_error 404 NAME_UNKNOWN

# ---- catalog.
req GET "/v2/_catalog?n=1000&last=$NS"
want_status 200
case $(hdr Content-Type) in
application/json*) pass "$LAST_REQ: Content-Type JSON" ;;
*) fail "$LAST_REQ: Content-Type" application/json "'$(hdr Content-Type)'" ;;
esac
CATALOG=$(jq -c --arg p "$NS/" '[.repositories[] | select(startswith($p))]' "$BODY" 2>/dev/null)
[ -n "$CATALOG" ] || CATALOG='[]'
for r in "$R_PULL" "$R_PUSH" "$R_DISC"; do
	check_eq "catalog lists $r" "$(jq --arg r "$r" 'index($r) != null' <<<"$CATALOG")" true
done
check_eq "catalog is in lexical order" "$(jq -c 'sort' <<<"$CATALOG")" "$CATALOG"
ALL=$(jq -c '.repositories' "$BODY" 2>/dev/null)
req GET "/v2/_catalog?n=2&last=$NS"
want_status 200
want_json "catalog n=2: the first 2" .repositories "$(jq -c '.[0:2]' <<<"$ALL")"
want_next_link /v2/_catalog 2 "$(jq -r '.[1]' <<<"$ALL")"
if [ -n "$NEXT" ]; then
	req GET "$NEXT"
	want_status 200
	want_json "catalog: the next 2" .repositories "$(jq -c '.[2:4]' <<<"$ALL")"
fi
req GET "/v2/_catalog?n=0"
want_status 200
want_json "catalog n=0: an empty list" .repositories '[]'
want_no_header Link
for n in abc -5; do
	req GET "/v2/_catalog?n=$n"
	want_error 400 PAGINATION_NUMBER_INVALID
done

# ---- referrers.
# Subject S (tagged above), and:
#   A  image manifest, artifactType from its config's media type (sbom)
#   B  manifest with artifactType signature, the empty config
#   C  index with artifactType signature
#   D  signature of S2, a manifest pushed only afterwards
#   E  signature of B (a referrer of a referrer)
#   G  pushed after the first listing (the list follows)
printf '{"sbom":"%s"}' "$RUN_ID" >"$F/sbom-config.json"
printf '{"spdxVersion":"SPDX-2.3","name":"%s"}' "$RUN_ID" >"$F/sbom.json"
printf 'signature %s\n' "$(openssl rand -hex 16)" >"$F/sig-b"
printf 'signature %s\n' "$(openssl rand -hex 16)" >"$F/sig-d"
for b in sbom-config.json sbom.json sig-b sig-d; do push_blob "$R_DISC" "$F/$b"; done
S_DESC=$(descriptor "$MT_OCI_MANIFEST" "$F/subject.json")
mk_manifest "$F/ref-a.json" "$MT_OCI_MANIFEST" "$(descriptor "$AT_SBOM" "$F/sbom-config.json")" \
	"$(descriptor application/spdx+json "$F/sbom.json")" \
	-- ". + {subject: $S_DESC, annotations: {\"org.example.name\": \"a\"}}"
mk_manifest "$F/ref-b.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor application/vnd.example.signature.v1.sig "$F/sig-b")" \
	-- ". + {artifactType: \"$AT_SIG\", subject: $S_DESC,
	        annotations: {\"org.example.name\": \"b\", \"org.opencontainers.image.created\": \"2024-05-01T00:00:00Z\"}}"
mk_index "$F/ref-c.json" "$MT_OCI_INDEX" "$(descriptor "$MT_OCI_MANIFEST" "$F/ref-a.json")" \
	-- ". + {artifactType: \"$AT_SIG\", subject: $S_DESC, annotations: {\"org.example.name\": \"c\"}}"
mk_manifest "$F/subject2.json" "$MT_OCI_MANIFEST" "$(descriptor "$MT_OCI_CONFIG" "$F/disc-config.json")" \
	"$(descriptor "$MT_OCI_LAYER" "$F/disc-layer")" -- '. + {annotations: {"org.example.name": "s2"}}'
D_SUBJECT2=$(dg "$F/subject2.json")
mk_manifest "$F/ref-d.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor application/vnd.example.signature.v1.sig "$F/sig-d")" \
	-- ". + {artifactType: \"$AT_SIG\", subject: $(descriptor "$MT_OCI_MANIFEST" "$F/subject2.json")}"
mk_manifest "$F/ref-e.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor application/vnd.example.signature.v1.sig "$F/sig-d")" \
	-- ". + {artifactType: \"$AT_SIG\", subject: $(descriptor "$MT_OCI_MANIFEST" "$F/ref-b.json")}"
mk_manifest "$F/ref-g.json" "$MT_OCI_MANIFEST" "$C_EMPTY" \
	"$(descriptor application/spdx+json "$F/sbom.json")" \
	-- ". + {artifactType: \"$AT_SBOM\", subject: $S_DESC, annotations: {\"org.example.name\": \"g\"}}"

for x in a b d e; do
	put_manifest "$R_DISC" "$(dg "$F/ref-$x.json")" "$F/ref-$x.json" "$MT_OCI_MANIFEST"
	case $x in
	d) want_header OCI-Subject "$D_SUBJECT2" ;;
	e) want_header OCI-Subject "$(dg "$F/ref-b.json")" ;;
	*) want_header OCI-Subject "$D_SUBJECT" ;;
	esac
done
put_manifest "$R_DISC" "$(dg "$F/ref-c.json")" "$F/ref-c.json" "$MT_OCI_INDEX"
want_header OCI-Subject "$D_SUBJECT"

# ref_descriptor FILE: what the referrers list must say about FILE.
ref_descriptor() {
	jq -cS --arg d "$(dg "$1")" --argjson s "$(sz "$1")" '{
		mediaType: .mediaType, digest: $d, size: $s,
		artifactType: (.artifactType // .config.mediaType)
	} + (if (.annotations // {}) != {} then {annotations} else {} end)' "$1"
}
# want_referrers WHAT FILE...: the body is an OCI index listing exactly
# the descriptors of FILE... (in any order).
want_referrers() {
	local what=$1 f want
	shift
	want=$(for f in "$@"; do ref_descriptor "$f"; done | jq -sc 'sort_by(.digest)')
	want_header Content-Type "$MT_OCI_INDEX"
	want_json "an OCI index" '[.schemaVersion, .mediaType]' "[2,\"$MT_OCI_INDEX\"]"
	want_json "$what" '[.manifests[] | {mediaType, digest, size, artifactType}
		+ (if (.annotations // {}) != {} then {annotations} else {} end)] | sort_by(.digest)' \
		"$want"
}

req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
want_status 200
want_referrers "referrers of S: A, B, C" "$F/ref-a.json" "$F/ref-b.json" "$F/ref-c.json"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT?artifactType=$(uri "$AT_SIG")"
want_status 200
want_header OCI-Filters-Applied artifactType
want_referrers "signatures of S: B, C" "$F/ref-b.json" "$F/ref-c.json"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT?artifactType=$(uri "$AT_SBOM")"
want_status 200
want_header OCI-Filters-Applied artifactType
want_referrers "SBOMs of S (artifactType from the config): A" "$F/ref-a.json"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT?artifactType=application/vnd.example.none"
want_status 200
want_header OCI-Filters-Applied artifactType
want_referrers "no referrer of that type" 
req GET "/v2/$R_DISC/referrers/$D_SUBJECT2"
want_status 200
want_referrers "referrers of S2, pushed before S2 itself: D" "$F/ref-d.json"
want_no_header OCI-Filters-Applied
put_manifest "$R_DISC" s2 "$F/subject2.json" "$MT_OCI_MANIFEST"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT2"
want_status 200
want_referrers "referrers of S2 once S2 is there: D" "$F/ref-d.json"
req GET "/v2/$R_DISC/referrers/$(dg "$F/ref-b.json")"
want_status 200
want_referrers "referrers of B: E" "$F/ref-e.json"
req GET "/v2/$R_DISC/referrers/$(random_digest)"
want_status 200
want_referrers "an unknown subject: an empty index"
req GET "/v2/$R_PUSH/referrers/$D_SUBJECT"
want_status 200
want_referrers "S's referrers are not in another repository"
put_manifest "$R_DISC" "$(dg "$F/ref-g.json")" "$F/ref-g.json" "$MT_OCI_MANIFEST"
want_header OCI-Subject "$D_SUBJECT"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
want_status 200
want_referrers "referrers of S after one more PUT: A, B, C, G" \
	"$F/ref-a.json" "$F/ref-b.json" "$F/ref-c.json" "$F/ref-g.json"
# The same referrer again, now under a tag: listed once.
put_manifest "$R_DISC" sbom-a "$F/ref-a.json" "$MT_OCI_MANIFEST"
want_header OCI-Subject "$D_SUBJECT"
req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
want_status 200
want_referrers "referrers of S after A is PUT again by tag: A, B, C, G" \
	"$F/ref-a.json" "$F/ref-b.json" "$F/ref-c.json" "$F/ref-g.json"
# Eight referrers of one subject PUT at the same time: all of them listed.
mk_manifest "$F/subject3.json" "$MT_OCI_MANIFEST" "$C_EMPTY" -- '. + {annotations: {"org.example.name": "s3"}}'
S3_DESC=$(descriptor "$MT_OCI_MANIFEST" "$F/subject3.json")
par=()
for i in 1 2 3 4 5 6 7 8; do
	mk_manifest "$F/par-$i.json" "$MT_OCI_MANIFEST" "$C_EMPTY" "$C_EMPTY" \
		-- ". + {artifactType: \"application/vnd.example.parallel.v$i\", subject: $S3_DESC}"
	par+=("$F/par-$i.json")
	curl -sS --path-as-is --max-time 120 ${TLS[@]+"${TLS[@]}"} ${AUTH[@]+"${AUTH[@]}"} \
		-X PUT -H "Content-Type: $MT_OCI_MANIFEST" --data-binary @"$F/par-$i.json" \
		-o /dev/null -w '%{http_code}' "$URL/v2/$R_DISC/manifests/$(dg "$F/par-$i.json")" \
		>"$F/par-$i.status" 2>/dev/null &
done
wait
check_eq "8 concurrent PUTs of referrers: all 201" \
	"$(for i in 1 2 3 4 5 6 7 8; do printf '%s ' "$(cat "$F/par-$i.status")"; done)" \
	"201 201 201 201 201 201 201 201 "
req GET "/v2/$R_DISC/referrers/$(dg "$F/subject3.json")"
want_status 200
want_referrers "referrers after 8 concurrent PUTs: all 8" "${par[@]}"

# Bad input: malformed digests and unknown algorithms.
for bad in sha256:zz "sha256:$(openssl rand -hex 31)" "$MD5_DIGEST" latest \
	"sha256:$(openssl rand -hex 32 | tr a-f A-F)"; do
	req GET "/v2/$R_DISC/referrers/$bad"
	want_error 400 DIGEST_INVALID
done
req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
want_referrers "referrers of S unchanged by bad requests" \
	"$F/ref-a.json" "$F/ref-b.json" "$F/ref-c.json" "$F/ref-g.json"

################################################################ 4. content management
section "4. content management"

if [ -z "$DELETE" ]; then
	section "skipped (--no-delete)"
else
	mk_config "$F/mgmt-config.json"
	mkrand "$F/mgmt-l1" 3333
	mkrand "$F/mgmt-l2" 4444
	for b in mgmt-config.json mgmt-l1 mgmt-l2; do push_blob "$R_MGMT" "$F/$b"; done
	push_blob "$R_OTHER" "$F/mgmt-l1"
	C_OCI=$(descriptor "$MT_OCI_CONFIG" "$F/mgmt-config.json")
	mk_manifest "$F/m1.json" "$MT_OCI_MANIFEST" "$C_OCI" "$(descriptor "$MT_OCI_LAYER" "$F/mgmt-l1")"
	mk_manifest "$F/m2.json" "$MT_OCI_MANIFEST" "$C_OCI" "$(descriptor "$MT_OCI_LAYER" "$F/mgmt-l2")"
	mk_manifest "$F/m3.json" "$MT_OCI_MANIFEST" "$C_OCI" \
		"$(descriptor "$MT_OCI_LAYER" "$F/mgmt-l1")" "$(descriptor "$MT_OCI_LAYER" "$F/mgmt-l2")"
	mk_index "$F/mi.json" "$MT_OCI_INDEX" \
		"$(platform "$(descriptor "$MT_OCI_MANIFEST" "$F/m2.json")" amd64)" \
		"$(platform "$(descriptor "$MT_OCI_MANIFEST" "$F/m3.json")" arm64)"
	D_M1=$(dg "$F/m1.json"); D_M2=$(dg "$F/m2.json"); D_MI=$(dg "$F/mi.json")
	put_manifest "$R_MGMT" t1 "$F/m1.json" "$MT_OCI_MANIFEST"
	put_manifest "$R_MGMT" t2 "$F/m1.json" "$MT_OCI_MANIFEST"
	put_manifest "$R_MGMT" t3 "$F/m2.json" "$MT_OCI_MANIFEST"
	put_manifest "$R_MGMT" "$(dg "$F/m3.json")" "$F/m3.json" "$MT_OCI_MANIFEST"
	put_manifest "$R_MGMT" idx "$F/mi.json" "$MT_OCI_INDEX"

	# ---- a tag: only the tag goes.
	req DELETE "/v2/$R_MGMT/manifests/t1"
	want_status 202
	req GET "/v2/$R_MGMT/manifests/t1"
	want_error 404 MANIFEST_UNKNOWN
	req HEAD "/v2/$R_MGMT/manifests/t1"
	want_status 404
	get_manifest "$R_MGMT" t2 "$F/m1.json" "$MT_OCI_MANIFEST"
	get_manifest "$R_MGMT" "$D_M1" "$F/m1.json" "$MT_OCI_MANIFEST"
	req GET "/v2/$R_MGMT/tags/list"
	want_json "tags after deleting t1" .tags '["idx","t2","t3"]'
	req DELETE "/v2/$R_MGMT/manifests/t1"
	want_error 404 MANIFEST_UNKNOWN

	# ---- a manifest by digest: its tags go with it.
	req DELETE "/v2/$R_MGMT/manifests/$D_M1"
	want_status 202
	req GET "/v2/$R_MGMT/manifests/$D_M1"
	want_error 404 MANIFEST_UNKNOWN
	req HEAD "/v2/$R_MGMT/manifests/$D_M1"
	want_status 404
	req GET "/v2/$R_MGMT/manifests/t2"
	want_error 404 MANIFEST_UNKNOWN
	req GET "/v2/$R_MGMT/tags/list"
	want_json "tags after deleting the manifest of t2" .tags '["idx","t3"]'
	req DELETE "/v2/$R_MGMT/manifests/$D_M1"
	want_error 404 MANIFEST_UNKNOWN
	req DELETE "/v2/$R_MGMT/manifests/$(random_digest)"
	want_error 404 MANIFEST_UNKNOWN
	req DELETE "/v2/$R_MGMT/manifests/$MD5_DIGEST"
	want_error 400 DIGEST_INVALID
	req DELETE "/v2/$NS/nonexistent/manifests/$D_M1"
	want_error 404 NAME_UNKNOWN

	# ---- a manifest an index refers to.
	req DELETE "/v2/$R_MGMT/manifests/$D_M2"
	if [ "$STATUS" = 403 ]; then
		want_error_code DENIED
	else
		fail "$LAST_REQ: deleting a child of an index (stricter than the spec)" "403 DENIED" "$STATUS"
	fi
	get_manifest "$R_MGMT" t3 "$F/m2.json" "$MT_OCI_MANIFEST"
	req DELETE "/v2/$R_MGMT/manifests/$D_MI"
	want_status 202
	req GET "/v2/$R_MGMT/manifests/idx"
	want_error 404 MANIFEST_UNKNOWN
	req DELETE "/v2/$R_MGMT/manifests/$D_M2"
	want_status 202
	req GET "/v2/$R_MGMT/manifests/t3"
	want_error 404 MANIFEST_UNKNOWN
	req GET "/v2/$R_MGMT/tags/list"
	want_json "no tags left" '.tags // []' '[]'

	# ---- blobs: unlinked from this repository only.
	D=$(dg "$F/mgmt-l1")
	req DELETE "/v2/$R_MGMT/blobs/$D"
	want_status 202
	req GET "/v2/$R_MGMT/blobs/$D"
	want_error 404 BLOB_UNKNOWN
	req HEAD "/v2/$R_MGMT/blobs/$D"
	want_status 404
	req DELETE "/v2/$R_MGMT/blobs/$D"
	want_error 404 BLOB_UNKNOWN
	get_blob "$R_OTHER" "$F/mgmt-l1"
	get_blob "$R_MGMT" "$F/mgmt-l2"
	req DELETE "/v2/$R_MGMT/blobs/$MD5_DIGEST"
	want_error 400 DIGEST_INVALID
	req DELETE "/v2/$R_MGMT/blobs/sha256:zz"
	want_error 400 DIGEST_INVALID
	# Pushed again, it is back.
	push_blob "$R_MGMT" "$F/mgmt-l1"
	get_blob "$R_MGMT" "$F/mgmt-l1"

	# ---- referrers follow deletes.
	req DELETE "/v2/$R_DISC/manifests/sbom-a"
	want_status 202
	req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
	want_status 200
	want_referrers "referrers of S after deleting A's tag only: A, B, C, G" \
		"$F/ref-a.json" "$F/ref-b.json" "$F/ref-c.json" "$F/ref-g.json"
	req DELETE "/v2/$R_DISC/manifests/$(dg "$F/ref-b.json")"
	want_status 202
	req GET "/v2/$R_DISC/referrers/$D_SUBJECT"
	want_status 200
	want_referrers "referrers of S after deleting B: A, C, G" \
		"$F/ref-a.json" "$F/ref-c.json" "$F/ref-g.json"
	req GET "/v2/$R_DISC/referrers/$D_SUBJECT?artifactType=$(uri "$AT_SIG")"
	want_status 200
	want_referrers "signatures of S after deleting B: C" "$F/ref-c.json"
	req DELETE "/v2/$R_DISC/manifests/$(dg "$F/ref-d.json")"
	want_status 202
	req GET "/v2/$R_DISC/referrers/$D_SUBJECT2"
	want_status 200
	want_referrers "referrers of S2 after deleting D: none"
fi

printf '%d passed, %d failed\n' "$N_PASS" "$N_FAIL"
[ "$N_FAIL" -eq 0 ]
