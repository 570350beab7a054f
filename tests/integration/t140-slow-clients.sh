#!/bin/bash
# t140-slow-clients.sh - a worker never waits on a slow client (issue 11).
#
# berth.conf: auth = token (user alice), read_timeout 3, upload_min_rate 100
# bytes/s over upload_rate_window 5 s, max_manifest 100000.  The slow
# clients are TLS sockets from python3 (slow.py below) and curl fed by a
# pipe, all on 127.0.0.1:
#   - slowloris on /token: 8 connections send "POST /token" headers with
#     Content-Length: 1000 and then a byte every 2 s; while they stay open
#     (nginx holds them, no worker does) GET /v2/ answers in under 2 s, a
#     login works and a blob pulls byte for byte.  The same with 8 manifest
#     PUTs, and a manifest push works meanwhile;
#   - a chunked PATCH fed 1 byte a second (HTTP/1.1 and HTTP/2) is cut off
#     after the 5 s window with 408 BLOB_UPLOAD_INVALID naming the minimum;
#     a PATCH that sends headers and no body is cut off after read_timeout
#     with 408 naming it, and nginx closes the connection; GET on the session
#     then shows the last committed offset and a normal PATCH + PUT finishes
#     the blob with the right digest;
#   - a manifest body that sends nothing: nginx drops the connection after
#     its 10 s client_body_timeout without an answer (nginx never answers
#     its own 408);
#   - a manifest body over max_manifest, with Content-Length or chunked, is
#     refused by nginx with 413 and the registry's JSON SIZE_INVALID body;
#     an image push with curl still works.
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq python3 sha256sum
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"
BERTH_AUTH=token
berth_conf read_timeout 3
berth_conf upload_rate_window 5
berth_conf upload_min_rate 100
berth_conf max_manifest 100000
berth_setup
printf 'alice-Pw-1\n' | "$BERTHCTL" -c "$DATA/berth.conf" user add alice --password-stdin \
	>/dev/null || bail "berthctl user add alice"
cat >"$DATA/auth/policy" <<'POLICY'
authenticated      **             pull,push
POLICY
berth_start
W=$TRASH/work
mkdir -p "$W"
REPO=slow/app
MT=$MT_OCI_MANIFEST

cat >"$W/slow.py" <<'PY'
# slow.py PORT CA loris N SECONDS INTERVAL METHOD PATH [HEADER...]
#     N connections send METHOD PATH with Content-Length: 1000, then one body
#     byte each every INTERVAL s for SECONDS s; prints "open K": K connections
#     the server neither answered nor closed meanwhile.
# slow.py PORT CA stall WAIT METHOD PATH [HEADER...]
#     one connection sends the headers (Content-Length: 1000) and no body;
#     prints "status S" ("none": no answer in WAIT s), "seconds T" until the
#     answer or the close, "closed C" (1: the server closed the connection
#     within 10 s after that) and, after a "body" line, the body.
import socket, ssl, sys, time

def connect(port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.set_alpn_protocols(["http/1.1"])
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return ctx.wrap_socket(s, server_hostname="127.0.0.1")

def head(method, path, port, extra):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port,
             "Content-Length: 1000"] + extra
    return ("\r\n".join(lines) + "\r\n\r\n").encode()

def answered(c):
    c.setblocking(False)
    try:
        c.recv(1)
        return True          # an answer or a close: not held open
    except (ssl.SSLWantReadError, BlockingIOError):
        return False
    finally:
        c.setblocking(True)

def loris(port, ca, n, secs, interval, method, path, extra):
    conns = []
    for _ in range(n):
        c = connect(port, ca)
        c.sendall(head(method, path, port, extra))
        conns.append(c)
    end = time.time() + secs
    alive = set(range(n))
    while time.time() < end:
        time.sleep(interval)
        for i in list(alive):
            try:
                if answered(conns[i]):
                    alive.discard(i)
                else:
                    conns[i].sendall(b"a")
            except OSError:
                alive.discard(i)
    print("open", len(alive), flush=True)

def stall(port, ca, wait, method, path, extra):
    c = connect(port, ca)
    t0 = time.time()
    c.sendall(head(method, path, port, extra))
    c.settimeout(wait)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = c.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, OSError):
        pass
    took = time.time() - t0
    hdr, _, body = data.partition(b"\r\n\r\n")
    status = hdr.split(b" ")[1].decode() if hdr.startswith(b"HTTP/") else "none"
    closed = 0
    c.settimeout(10)
    try:
        while True:
            b = c.recv(65536)
            if not b:
                closed = 1
                break
            body += b
    except (socket.timeout, OSError):
        pass
    print("status", status)
    print("seconds", round(took, 1))
    print("closed", closed)
    print("body")
    print(body.decode(errors="replace"), flush=True)

port, ca, mode, a = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
if mode == "loris":
    loris(port, ca, int(a[0]), float(a[1]), float(a[2]), a[3], a[4], a[5:])
else:
    stall(port, ca, float(a[0]), a[1], a[2], a[3:])
PY
slow() { python3 "$W/slow.py" "$PORT" "$CACERT" "$@"; }

# lt A B: A < B for decimals.
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
detail() { jq -r '.errors[0].detail // empty' "$BODY" 2>/dev/null; }
field() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# login: GET /token as alice with push rights on $REPO; sets STATUS, TOKEN.
login() {
	req GET /token -G -u alice:alice-Pw-1 --data-urlencode service=berth \
		--data-urlencode "scope=repository:$REPO:pull,push" "$@"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
}
login
[ "$STATUS" = 200 ] && [ -n "$TOKEN" ] || bail "no token for alice (status $STATUS)"
AUTHZ="Authorization: Bearer $TOKEN"
areq() { local m=$1 p=$2; shift 2; req "$m" "$p" -H "$AUTHZ" "$@"; }

# A blob and an image to pull while the slow clients hold on.
mk_random "$W/blob" 200000
BLOB_D=$(digest_of "$W/blob")
areq POST "/v2/$REPO/blobs/uploads/?digest=$BLOB_D" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$W/blob"
expect_status 201

# still_served WHAT: /v2/ (3 times), a login and a blob pull each answer in
# under 2 s, right.
still_served() {
	local i t
	for i in 1 2 3; do
		t=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 \
			--cacert "$CACERT" -H "$AUTHZ" "$URL/v2/")
		expect_eq "$1: GET /v2/ ($i) answers 200" "${t% *}" 200
		ok "$1: GET /v2/ ($i) in under 2 s (took ${t#* } s)" lt "${t#* }" 2
	done
	t=$(curl -sS -o "$W/tok.json" -w '%{http_code} %{time_total}' --max-time 5 --cacert "$CACERT" \
		-G -u alice:alice-Pw-1 --data-urlencode service=berth "$URL/token")
	expect_eq "$1: a login answers 200" "${t% *}" 200
	ok "$1: the login took under 2 s (${t#* } s)" lt "${t#* }" 2
	ok "$1: the login gave a token" jq -e '.token | length > 20' "$W/tok.json"
	t=$(curl -sS -o "$W/pulled" -w '%{http_code} %{time_total}' --max-time 5 --cacert "$CACERT" \
		-H "$AUTHZ" "$URL/v2/$REPO/blobs/$BLOB_D")
	expect_eq "$1: a blob pull answers 200" "${t% *}" 200
	ok "$1: the blob pull took under 2 s (${t#* } s)" lt "${t#* }" 2
	ok "$1: the pulled blob is byte-identical" cmp -s "$W/pulled" "$W/blob"
}

# ---- slowloris on /token: 8 bodies at a byte every 2 s
slow loris 8 9 2 POST /token 'Content-Type: application/x-www-form-urlencoded' \
	>"$W/loris-token.out" 2>&1 &
LORIS=$!
berth_track_pid "$LORIS"
sleep 2
still_served "8 slow POST /token"
wait "$LORIS"
expect_eq "nginx held the 8 slow /token bodies open (not a worker, not closed)" \
	"$(cat "$W/loris-token.out")" "open 8"

# ---- slowloris on manifest PUT; a manifest push works meanwhile
slow loris 8 9 2 PUT "/v2/$REPO/manifests/loris" "Content-Type: $MT" "$AUTHZ" \
	>"$W/loris-manifest.out" 2>&1 &
LORIS=$!
berth_track_pid "$LORIS"
sleep 2
still_served "8 slow manifest PUTs"
printf '{}' >"$W/config.json"
areq POST "/v2/$REPO/blobs/uploads/?digest=$(digest_of "$W/config.json")" \
	-H 'Content-Type: application/octet-stream' --data-binary @"$W/config.json"
expect_status 201
mk_image_manifest "$W/m1.json" "$MT" "$W/config.json" "$W/blob"
areq PUT "/v2/$REPO/manifests/during" -H "Content-Type: $MT" --data-binary @"$W/m1.json" --max-time 5
expect_status 201
wait "$LORIS"
expect_eq "nginx held the 8 slow manifest bodies open" "$(cat "$W/loris-manifest.out")" "open 8"
areq GET "/v2/$REPO/manifests/loris"
expect_error 404 MANIFEST_UNKNOWN

# ---- a manifest body that never comes: nginx drops it (in the background)
slow stall 15 PUT "/v2/$REPO/manifests/stalled" "Content-Type: $MT" "$AUTHZ" \
	>"$W/stall-manifest.out" 2>&1 &
STALL_M=$!
berth_track_pid "$STALL_M"

# ---- uploads: a committed first chunk, then slow and stalled chunks
# session: POST a session; prints its Location.
session() {
	curl -sS --cacert "$CACERT" -X POST -H "$AUTHZ" -o /dev/null -D - "$URL/v2/$REPO/blobs/uploads/" |
		awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }'
}
mk_random "$W/part1" 1000
mk_random "$W/part2" 2000
cat "$W/part1" "$W/part2" >"$W/whole"
WHOLE_D=$(digest_of "$W/whole")
LOC=$(session)
LOC2=$(session)
[ -n "$LOC" ] && [ -n "$LOC2" ] || bail "no upload session"
for l in "$LOC" "$LOC2"; do
	areq PATCH "$l" -H 'Content-Type: application/octet-stream' --data-binary @"$W/part1"
	expect_status 202
	expect_header Range 0-999
done

# trickle LOC PROTO OUT: PATCH LOC fed 1 byte a second (at most 20) over
# PROTO (--http1.1 or --http2); OUT gets the body, OUT.st "status seconds".
trickle() {
	(for _ in $(seq 1 20); do printf x || exit 0; sleep 1; done) |
		curl -sS --cacert "$CACERT" "$2" -X PATCH -H "$AUTHZ" -T - --max-time 30 \
			-H 'Content-Type: application/octet-stream' -o "$3" \
			-w '%{http_code} %{time_total}\n' "$1" >"$3.st" 2>"$3.err"
}
trickle "$LOC" --http1.1 "$W/trickle1" &
T1=$!
trickle "$LOC2" --http2 "$W/trickle2" &
T2=$!
berth_track_pid "$T1"
berth_track_pid "$T2"
wait "$T1" "$T2"
for n in 1 2; do
	read -r st secs <"$W/trickle$n.st"
	proto=$([ $n = 1 ] && echo HTTP/1.1 || echo HTTP/2)
	expect_eq "a PATCH at 1 byte/s ($proto): 408" "$st" 408
	expect_eq "... code BLOB_UPLOAD_INVALID" "$(jq -r '.errors[0].code' "$W/trickle$n")" BLOB_UPLOAD_INVALID
	ok "... the detail names the minimum rate: $(jq -r '.errors[0].detail' "$W/trickle$n")" \
		grep -q 'the minimum is 100 bytes/s over 5 s (upload_min_rate, upload_rate_window)' "$W/trickle$n"
	ok "... cut off after the 5 s window, not before, within 9 s (took $secs s)" \
		awk -v s="$secs" 'BEGIN { exit !(s >= 4.5 && s < 9) }'
done

areq GET "$LOC"
expect_status 204
expect_header Range 0-999

# A stalled PATCH: headers, then nothing.
slow stall 15 PATCH "${LOC#"$URL"}" 'Content-Type: application/octet-stream' "$AUTHZ" \
	>"$W/stall-patch.out" 2>&1
expect_eq "a stalled PATCH: 408" "$(field status "$W/stall-patch.out")" 408
sed '1,/^body$/d' "$W/stall-patch.out" >"$W/stall-patch.json"
expect_eq "... code BLOB_UPLOAD_INVALID" "$(jq -r '.errors[0].code' "$W/stall-patch.json" 2>/dev/null)" \
	BLOB_UPLOAD_INVALID
expect_eq "... detail" "$(jq -r '.errors[0].detail' "$W/stall-patch.json" 2>/dev/null)" \
	"no body bytes for 3 s (read_timeout)"
secs=$(field seconds "$W/stall-patch.out")
ok "... cut off after read_timeout (3 s), within 6 s (took $secs s)" \
	awk -v s="$secs" 'BEGIN { exit !(s >= 2.5 && s < 6) }'
expect_eq "... and nginx then closes the connection" "$(field closed "$W/stall-patch.out")" 1

# The session kept its committed chunk: resume and finish it.
areq GET "$LOC"
expect_status 204
expect_header Range 0-999
areq PATCH "$LOC" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 1000-2999' \
	--data-binary @"$W/part2"
expect_status 202
expect_header Range 0-2999
case $LOC in *\?*) put="$LOC&digest=$WHOLE_D" ;; *) put="$LOC?digest=$WHOLE_D" ;; esac
areq PUT "$put" -H 'Content-Length: 0'
expect_status 201
expect_header Docker-Content-Digest "$WHOLE_D"
areq GET "/v2/$REPO/blobs/$WHOLE_D"
expect_status 200
expect_body_file "$W/whole"

wait "$STALL_M"
expect_eq "a stalled manifest body: nginx gives no answer" "$(field status "$W/stall-manifest.out")" none
secs=$(field seconds "$W/stall-manifest.out")
ok "... and closes the connection at its client_body_timeout, 10 s (took $secs s)" \
	awk -v s="$secs" 'BEGIN { exit !(s >= 9 && s < 14) }'
areq GET "/v2/$REPO/manifests/stalled"
expect_error 404 MANIFEST_UNKNOWN

# ---- over max_manifest: nginx answers 413 with the registry's error
jq --arg pad "$(head -c 110000 /dev/zero | tr '\0' a)" '. + {annotations: {pad: $pad}}' \
	"$W/m1.json" >"$W/huge.json"
store_mark
areq PUT "/v2/$REPO/manifests/huge" -H "Content-Type: $MT" --data-binary @"$W/huge.json"
expect_error 413 SIZE_INVALID
ok "... the JSON body comes from nginx and names max_manifest" \
	grep -q 'exceeds the registry limit of 100000 bytes (max_manifest)' "$BODY"
ok "... Content-Type is JSON" expect_json_content_type
areq PUT "/v2/$REPO/manifests/huge" --http1.1 -H 'Transfer-Encoding: chunked' -H "Content-Type: $MT" \
	--data-binary @"$W/huge.json"
expect_error 413 SIZE_INVALID
expect_store_unchanged "manifests over max_manifest"

# ---- a whole image still pushes and pulls
mk_layer "$W/layer.tgz"
mk_config "$W/cfg.json" "$W/layer.tgz"
for f in layer.tgz cfg.json; do
	areq POST "/v2/$REPO/blobs/uploads/?digest=$(digest_of "$W/$f")" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$W/$f"
	expect_status 201
done
mk_image_manifest "$W/img.json" "$MT" "$W/cfg.json" "$W/layer.tgz"
areq PUT "/v2/$REPO/manifests/1.0" -H "Content-Type: $MT" --data-binary @"$W/img.json"
expect_status 201
expect_header Docker-Content-Digest "$(digest_of "$W/img.json")"
areq GET "/v2/$REPO/manifests/1.0" -H "Accept: $MT"
expect_status 200
expect_body_file "$W/img.json"
areq GET "/v2/$REPO/blobs/$(digest_of "$W/layer.tgz")"
expect_status 200
expect_body_file "$W/layer.tgz"

test_done
