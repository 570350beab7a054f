#!/bin/bash
# t160-metrics.sh - /metrics on the real stack, scraped by Debian's Prometheus.
#
#   a. With auth = token and a directory that is down: a login that fails,
#      a directory login that finds the directory unavailable, a login that
#      succeeds, then an image pushed with curl (a chunked upload: POST,
#      PATCH, PUT; a monolithic one; the manifest PUT) and a blob pulled.
#      One scrape of https://127.0.0.1:PORT/metrics (no token: nginx lets
#      loopback in) shows it: the manifest PUT as route="manifest",
#      method="PUT",code="2xx", the upload bytes equal to the bytes sent,
#      the blob bytes handed to nginx equal to the blob's size, the logins
#      by source and result, the directory call and its latency, the tokens
#      issued, busy and idle workers of all three pools, one open upload
#      session, the build information.  `promtool check metrics` passes on
#      the answer.  POST /metrics is 405 with Allow: GET, HEAD.
#   b. An API worker killed with SIGKILL counts as a restart of that pool;
#      `berthctl gc` leaves its report in the store and the next scrape
#      shows one run, the blobs and their bytes as gc counted them.
#   c. Prometheus itself (its own config, temp storage and loopback port)
#      scrapes the stack over https with the CA file; its HTTP API then
#      answers that the target is up, that the manifest PUT happened, and
#      that upload bytes arrived.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd curl jq sha256sum promtool prometheus

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
# A directory that is down (nothing listens on port 1): a login of a name
# no local user has goes to it and comes back "unavailable".
berth_conf ldap_uri ldap://127.0.0.1:1
berth_conf ldap_bind_dn cn=reader,dc=example,dc=org
berth_conf ldap_bind_password reader-pw
berth_conf ldap_user_base ou=people,dc=example,dc=org
berth_conf ldap_user_filter "(uid=%s)"
berth_conf ldap_network_timeout 1
berth_conf ldap_timeout 1
berth_setup
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
printf 'pusher-Pw-1\n' | "$BERTHCTL" -c "$DATA/berth.conf" user add pusher --password-stdin ||
	fail "berthctl user add pusher"
cat >"$DATA/auth/policy" <<'EOF'
# t160's policy
user:pusher        **             *
EOF
berth_start
W=$TRASH/work
mkdir -p "$W"

# metric NAME{LABELS}: the value of that series in $W/metrics ('' if absent).
metric() {
	awk -v s="$1" 'index($0, s " ") == 1 { print $NF; exit }' "$W/metrics"
}
scrape() {
	req GET /metrics
	cp "$BODY" "$W/metrics"
}
# gt A B: A > B, for numbers as Prometheus prints them.
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }
not_grep() { ! grep -q -- "$1" "$2"; }
# promtool_check FILE: the exposition parses and passes promtool's lint.
promtool_check() { promtool check metrics <"$1"; }

# ---------------------------------------------------------------- a. a push
req GET /token -G -u pusher:wrong --data-urlencode service=berth
expect_status 401
req GET /token -G -u alice:alice-pw --data-urlencode service=berth
expect_status 401
req GET /token -G -u pusher:pusher-Pw-1 --data-urlencode service=berth \
	--data-urlencode "scope=repository:team/app:pull,push"
expect_status 200
TOKEN=$(jq -r '.token // empty' "$BODY")
ok "pusher has a token" test -n "$TOKEN"
AUTHZ=(-H "Authorization: Bearer $TOKEN")

mk_layer "$W/layer.tgz"
mk_config "$W/config.json" "$W/layer.tgz"
mk_image_manifest "$W/manifest.json" "$MT_OCI_MANIFEST" "$W/config.json" "$W/layer.tgz"
LAYER=$(digest_of "$W/layer.tgz")
CONFIG=$(digest_of "$W/config.json")
LSIZE=$(size_of "$W/layer.tgz")
CSIZE=$(size_of "$W/config.json")

# the layer in a chunked upload: POST, PATCH, PUT
req POST /v2/team/app/blobs/uploads/ "${AUTHZ[@]}"
expect_status 202
LOC=$(hdr Location)
req PATCH "$LOC" "${AUTHZ[@]}" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$W/layer.tgz"
expect_status 202
LOC=$(hdr Location)
case $LOC in *\?*) sep='&' ;; *) sep='?' ;; esac
req PUT "$LOC${sep}digest=$LAYER" "${AUTHZ[@]}"
expect_status 201
# the config in one POST
req POST "/v2/team/app/blobs/uploads/?digest=$CONFIG" "${AUTHZ[@]}" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$W/config.json"
expect_status 201
req PUT /v2/team/app/manifests/1.0 "${AUTHZ[@]}" -H "Content-Type: $MT_OCI_MANIFEST" \
	--data-binary @"$W/manifest.json"
expect_status 201
# a pull of the layer: nginx sends it (X-Accel-Redirect)
req GET "/v2/team/app/blobs/$LAYER" "${AUTHZ[@]}" -o "$W/pulled.tgz"
expect_status 200
# an upload left open
req POST /v2/team/app/blobs/uploads/ "${AUTHZ[@]}"
expect_status 202

scrape
expect_status 200
expect_header_match Content-Type '^text/plain; version=0\.0\.4'
expect_eq "manifest PUT counted" \
	"$(metric 'berth_http_requests_total{route="manifest",method="PUT",code="2xx"}')" 1
expect_eq "upload PATCH counted" \
	"$(metric 'berth_http_requests_total{route="upload",method="PATCH",code="2xx"}')" 1
expect_eq "the failed logins counted as 4xx of /token" \
	"$(metric 'berth_http_requests_total{route="token",method="GET",code="4xx"}')" 2
# the monolithic POST carried its body through the upload-start route
ok "upload-start POSTs counted" gt \
	"$(metric 'berth_http_requests_total{route="upload-start",method="POST",code="2xx"}')" 1
expect_eq "upload bytes: the layer and the config" \
	"$(metric berth_upload_received_bytes_total)" $((LSIZE + CSIZE))
expect_eq "blob bytes handed to nginx: the layer's size" \
	"$(metric berth_blob_redirect_bytes_total)" "$LSIZE"
expect_eq "one login failed (local user, bad password)" \
	"$(metric 'berth_logins_total{source="local",result="failure"}')" 1
expect_eq "one login succeeded" \
	"$(metric 'berth_logins_total{source="local",result="success"}')" 1
expect_eq "the directory login: unavailable" \
	"$(metric 'berth_logins_total{source="directory",result="unavailable"}')" 1
expect_eq "the directory call counted as unavailable" \
	"$(metric 'berth_directory_requests_total{result="unavailable"}')" 1
expect_eq "and timed" "$(metric berth_directory_request_duration_seconds_count)" 1
expect_eq "one access token issued" "$(metric 'berth_tokens_issued_total{type="access"}')" 1
expect_eq "one upload session open" "$(metric berth_upload_sessions)" 1
expect_eq "the scrape itself holds a busy API worker" \
	"$(metric 'berth_workers{pool="api",state="busy"}')" 1
ok "idle API workers" gt "$(metric 'berth_workers{pool="api",state="idle"}')" 0
ok "idle upload workers" gt "$(metric 'berth_workers{pool="upload",state="idle"}')" 0
ok "idle token workers" gt "$(metric 'berth_workers{pool="token",state="idle"}')" 0
ok "a latency histogram per route" grep -Eq \
	'^berth_http_request_duration_seconds_bucket\{route="manifest",le="\+Inf"\} [1-9]' "$W/metrics"
ok "build information" grep -Eq '^berth_build_info\{version="[^"]+",commit="[^"]+"\} 1$' "$W/metrics"
ok "no repository name in any label" not_grep 'team/app' "$W/metrics"
ok "promtool check metrics passes" promtool_check "$W/metrics"

req POST /metrics
expect_status 405
expect_header Allow "GET, HEAD"
req HEAD /metrics
expect_status 200

# ---------------------------------------------------------------- b. restarts, gc
VICTIM=$(pool_workers api | head -n 1)
ok "an API worker to kill" test -n "$VICTIM"
[ -n "$VICTIM" ] && kill -KILL "$VICTIM"
restarts=
for _ in $(seq 1 100); do
	scrape
	restarts=$(metric 'berth_worker_restarts_total{pool="api"}')
	[ "$restarts" = 1 ] && break
	sleep 0.1
done
expect_eq "the killed API worker counted as a restart" "$restarts" 1
expect_eq "no upload worker restarted" "$(metric 'berth_worker_restarts_total{pool="upload"}')" 0

expect_eq "no gc yet" "$(metric berth_gc_runs_total)" 0
ok "berthctl gc" "$BERTHCTL" -c "$DATA/berth.conf" gc
scrape
expect_eq "one gc run" "$(metric berth_gc_runs_total)" 1
expect_eq "blobs as gc counted them" "$(metric berth_store_blobs)" "$(store_blob_count)"
expect_eq "their bytes" "$(metric berth_store_blob_bytes)" \
	"$(find "$STORE/blobs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')"
ok "when it ran" gt "$(metric berth_gc_last_run_timestamp_seconds)" 1700000000
ok "promtool check metrics passes after gc" promtool_check "$W/metrics"

# ---------------------------------------------------------------- c. Prometheus
P=$TRASH/prometheus
mkdir -p "$P/data"
PPORT=$(berth_free_port) || bail "no free port for prometheus"
cat >"$P/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: berth
    scheme: https
    tls_config:
      ca_file: $CACERT
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$P/log" 2>&1 &
berth_track_pid $!

# pq QUERY: the first result's value, '' if none (yet).
pq() {
	curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
up=
for _ in $(seq 1 300); do   # at most 30 s: start, first scrapes
	up=$(pq 'up{job="berth"}')
	[ "$up" = 1 ] && [ -n "$(pq berth_upload_received_bytes_total)" ] && break
	sleep 0.1
done
expect_eq "Prometheus scrapes berth over https (up == 1)" "$up" 1
[ "$up" = 1 ] || say "# prometheus log: $(tail -5 "$P/log")"
expect_eq "Prometheus: the manifest PUT" \
	"$(pq 'berth_http_requests_total{route="manifest",method="PUT",code="2xx"}')" 1
ok "Prometheus: upload bytes > 0" gt "$(pq 'sum(berth_upload_received_bytes_total)')" 0
expect_eq "Prometheus: the build information" "$(pq 'count(berth_build_info)')" 1
expect_eq "Prometheus: a histogram quantile over the manifest route" \
	"$(pq 'histogram_quantile(0.99, sum by (le) (berth_http_request_duration_seconds_bucket{route="manifest"})) >= 0' | grep -c .)" 1

test_done
