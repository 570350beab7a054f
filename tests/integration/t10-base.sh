#!/bin/bash
# t10-base: the stack comes up; GET /v2/; every answer (the workers' and
# nginx's own errors alike) carries Docker-Distribution-API-Version; HTTP/2;
# Locations are absolute and follow the Host the client used.
. "$(dirname "$0")/../lib.sh"

berth_start

req GET /v2/
expect_status 200
expect_api_version

req HEAD /v2/
expect_status 200
expect_api_version

# Both protocols nginx offers.
v=$(curl -sS --cacert "$CACERT" --http2 -o /dev/null -w '%{http_version} %{http_code}' "$URL/v2/")
expect_eq "GET /v2/ over HTTP/2" "$v" "2 200"
v=$(curl -sS --cacert "$CACERT" --http1.1 -o /dev/null -w '%{http_version} %{http_code}' "$URL/v2/")
expect_eq "GET /v2/ over HTTP/1.1" "$v" "1.1 200"

# TLS is really checked: without the test CA curl refuses the server.
ok_not "TLS: the server certificate is not trusted without the CA" \
	curl -sS -o /dev/null --max-time 10 "$URL/v2/"
ok "TLS: chain verifies against the CA" \
	sh -c "openssl verify -CAfile '$CACERT' '$DATA/tls-private/server.crt' >/dev/null"

# Worker-made errors.
req GET /v2/nosuchrepo/manifests/latest
expect_error 404 NAME_UNKNOWN
req GET /v2/nosuchrepo/manifests/latest --http2
expect_error 404 NAME_UNKNOWN
req GET "/v2/nosuchrepo/blobs/sha256:$(printf x | sha256sum | cut -c1-64)"
expect_status 404
expect_api_version
req GET /v2/Bad/manifests/latest
expect_error 400 NAME_INVALID
ok "error answers are JSON" expect_json_content_type

# nginx-made answers: outside /v2/, the internal blob location asked for
# directly, a request nginx refuses to parse, and the pool being down.
req GET /
expect_status 404
expect_api_version
ok "nginx 404 is JSON" expect_json_content_type
req GET /_berth/blobs/sha256/00/00
expect_status 404
expect_api_version
req GET /v2/a%00b/manifests/latest
expect_status 400
expect_api_version
ok "nginx 400 has an errors body" jq -e '.errors[0].code' "$BODY"

berth_stop_pool
req GET /v2/
expect_status 502
expect_api_version
ok "nginx 502 has an errors body" jq -e '.errors[0].code' "$BODY"
req POST /v2/team/app/blobs/uploads/
expect_status 502
expect_api_version
berth_start_pool
berth_wait_ready
req GET /v2/
expect_status 200

# Locations are absolute, built from the scheme and the Host of the request.
req POST /v2/team/app/blobs/uploads/
expect_status 202
expect_api_version
expect_header_match Location "^https://127\.0\.0\.1:$PORT/v2/team/app/blobs/uploads/[^/]+$"
req POST /v2/team/app/blobs/uploads/ --http2
expect_status 202
expect_header_match Location "^https://127\.0\.0\.1:$PORT/v2/team/app/blobs/uploads/[^/]+$"
req POST /v2/team/app/blobs/uploads/ --http1.1 -H "Host: registry.example:$PORT"
expect_status 202
expect_header_match Location "^https://registry\.example:$PORT/v2/team/app/blobs/uploads/[^/]+$"

# The pool restarts (graceful stop, start) with nginx still up.
pid=$(berth_pool_pid)
berth_restart_pool
ok "restart gives a new pool" test "$(berth_pool_pid)" != "$pid"
ok "the new pool has workers" test -n "$(berth_worker_pids)"
req GET /v2/
expect_status 200
expect_api_version

test_done
