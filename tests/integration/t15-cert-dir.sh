#!/bin/bash
# t15-cert-dir.sh - the README's `--cert-dir var/tls` works, on a data
# directory made before the CA key left tls/ (issue 12).
#
# containers/image (podman, skopeo) reads every *.crt of a --cert-dir as a
# CA and refuses a *.key without its client *.cert: with the CA key (or the
# server key) in tls/, every command the README shows failed with "missing
# client certificate ca.cert for key ca.key".  Now tls/ holds ca.crt alone
# and the keys and nginx's certificate live in tls-private/ (0700).
#   a. A data directory in the old layout (made by util/tls.sh DIR, which
#      still writes that layout for a test's slapd) is started like `make
#      run` does (util/mkconf.sh): its CA key, server key and certificate
#      move to tls-private/ unchanged (the CA clients trust stays the same,
#      nginx serves the same certificate) and tls/ keeps ca.crt alone.
#   b. The README's commands, verbatim but for the paths: skopeo copy
#      --dest-cert-dir, skopeo inspect --cert-dir, skopeo copy
#      --src-cert-dir, podman push --cert-dir, podman pull --cert-dir.
#   c. The control: a copy of the old tls/ (key inside) is still refused by
#      both clients with containers/image's message, so b proves the fix.
#   d. Starting again moves nothing; a fresh data directory gets the new
#      layout from the start and its server certificate verifies.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd skopeo podman openssl jq tar
W=$TRASH/work
mkdir -p "$W"

# files DIR: the plain files directly in DIR, sorted, one line.
files() { (cd "$1" && find . -maxdepth 1 -type f -printf '%f\n' | sort | tr '\n' ' '); }
mode() { stat -c %a "$1" 2>/dev/null; }
# fingerprint of a PEM certificate file, or of what the server presents
fp_file() { openssl x509 -noout -fingerprint -sha256 -in "$1" 2>/dev/null; }
fp_served() {
	openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null
}

# ---- a. an existing install in the old layout
mkdir -p "$DATA"
sh "$BERTH_TOP/util/tls.sh" "$DATA/tls" >/dev/null || bail "util/tls.sh (old layout) failed"
mkdir -p "$DATA/tls/client"
cp "$DATA/tls/ca.crt" "$DATA/tls/client/ca.crt"
expect_eq "setup: the old layout keeps keys beside ca.crt" "$(files "$DATA/tls")" \
	"ca.crt ca.key server.crt server.key "
cp -a "$DATA/tls" "$W/old-tls"
rm -rf "$W/old-tls/client"

berth_start
R=$(reg)
expect_eq "tls/ holds ca.crt alone" "$(files "$DATA/tls")" "ca.crt "
expect_eq "tls-private/ holds the CA key, the server key and certificate" \
	"$(files "$DATA/tls-private")" "ca.key server.crt server.key "
expect_eq "tls-private/ is 0700" "$(mode "$DATA/tls-private")" 700
expect_eq "the CA key is 0600" "$(mode "$DATA/tls-private/ca.key")" 600
expect_eq "the server key is 0600" "$(mode "$DATA/tls-private/server.key")" 600
ok "the CA clients trust is the one they trusted before" cmp "$W/old-tls/ca.crt" "$DATA/tls/ca.crt"
ok "the CA key moved, unchanged" cmp "$W/old-tls/ca.key" "$DATA/tls-private/ca.key"
ok "the server key moved, unchanged" cmp "$W/old-tls/server.key" "$DATA/tls-private/server.key"
ok "the server certificate moved, unchanged" \
	cmp "$W/old-tls/server.crt" "$DATA/tls-private/server.crt"
expect_eq "nginx serves that certificate" "$(fp_served)" "$(fp_file "$W/old-tls/server.crt")"
ok "tls/client/ca.crt (older scripts) is the same CA" cmp "$DATA/tls/ca.crt" "$DATA/tls/client/ca.crt"

# ---- b. the README's commands, with var/ = $DATA
mk_oci_layout "$W/image" 1.0 2
if sko copy --dest-cert-dir "$DATA/tls" "oci:$W/image:1.0" "docker://$R/team/app:1.0"; then
	pass "skopeo copy --dest-cert-dir var/tls oci:./image docker://…/team/app:1.0"
else
	fail "skopeo copy --dest-cert-dir var/tls" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
if sko inspect --cert-dir "$DATA/tls" "docker://$R/team/app:1.0" >"$W/inspect.json"; then
	pass "skopeo inspect --cert-dir var/tls docker://…/team/app:1.0"
else
	fail "skopeo inspect --cert-dir var/tls" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
expect_eq "skopeo inspect: the digest pushed" "$(jq -r .Digest "$W/inspect.json" 2>/dev/null)" \
	"$(digest_of "$W/image.manifest.json")"
if sko copy --src-cert-dir "$DATA/tls" "docker://$R/team/app:1.0" "dir:$W/out"; then
	pass "skopeo copy --src-cert-dir var/tls docker://…/team/app:1.0 dir:./out"
else
	fail "skopeo copy --src-cert-dir var/tls" "$(tail -n 3 "$CLIENTS_DIR/skopeo.log")"
fi
ok "skopeo copy: the manifest came back unchanged" cmp "$W/out/manifest.json" "$W/image.manifest.json"

mk_rootfs_tar "$W/rootfs.tar" 100000
ok "setup: podman import myimage" pm import "$W/rootfs.tar" localhost/myimage:latest
id=$(pm image inspect --format '{{.Id}}' localhost/myimage:latest)
if pm push --cert-dir "$DATA/tls" myimage "$R/team/app:2.0"; then
	pass "podman push --cert-dir var/tls myimage …/team/app:2.0"
else
	fail "podman push --cert-dir var/tls" "$(tail -n 5 "$CLIENTS_DIR/podman.log")"
fi
pm rmi -f "$id" >/dev/null 2>&1
if pm pull --cert-dir "$DATA/tls" "$R/team/app:2.0" >/dev/null; then
	pass "podman pull --cert-dir var/tls …/team/app:2.0"
else
	fail "podman pull --cert-dir var/tls" "$(tail -n 5 "$CLIENTS_DIR/podman.log")"
fi
expect_eq "podman pull: the image pushed" \
	"$(pm image inspect --format '{{.Id}}' "$R/team/app:2.0" 2>/dev/null)" "$id"

# ---- c. the control: the old folder, key inside, is what clients refused
ok_not "skopeo inspect --cert-dir <old tls/> is refused" \
	sko inspect --cert-dir "$W/old-tls" "docker://$R/team/app:1.0"
ok "... for the key without a client certificate" \
	grep -q 'missing client certificate .*\.cert for key .*\.key' "$CLIENTS_DIR/skopeo.log"
ok_not "podman push --cert-dir <old tls/> is refused" \
	pm push --cert-dir "$W/old-tls" "$R/team/app:2.0" "$R/team/app:3.0"
ok "... for the same reason" grep -q 'missing client certificate' "$CLIENTS_DIR/podman.log"

# ---- d. again: nothing moves; a fresh directory starts in the new layout
berth_stop
AUTH=none sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT" >"$W/mkconf2.out" 2>&1 ||
	bail "util/mkconf.sh failed the second time: $(cat "$W/mkconf2.out")"
ok_not "a second start says nothing about tls" grep -q 'tls' "$W/mkconf2.out"
expect_eq "... tls/ unchanged" "$(files "$DATA/tls")" "ca.crt "
ok "... the CA unchanged" cmp "$W/old-tls/ca.crt" "$DATA/tls/ca.crt"
ok "... the server certificate unchanged" cmp "$W/old-tls/server.crt" "$DATA/tls-private/server.crt"
berth_start
ok "... and it serves: skopeo inspect --cert-dir var/tls" \
	sko inspect --cert-dir "$DATA/tls" "docker://$R/team/app:1.0"

F=$TRASH/fresh
AUTH=none sh "$BERTH_TOP/util/mkconf.sh" "$F" "$PORT" >"$W/fresh.out" 2>&1 ||
	fail "util/mkconf.sh on a fresh directory" "$(cat "$W/fresh.out")"
expect_eq "fresh: tls/ holds ca.crt alone" "$(files "$F/tls")" "ca.crt "
expect_eq "fresh: tls-private/ holds the rest" "$(files "$F/tls-private")" \
	"ca.key server.crt server.key "
expect_eq "fresh: tls-private/ is 0700" "$(mode "$F/tls-private")" 700
ok "fresh: the server certificate verifies against tls/ca.crt" \
	openssl verify -CAfile "$F/tls/ca.crt" "$F/tls-private/server.crt"
ok "fresh: nginx.conf reads the server certificate from tls-private/" \
	grep -q "ssl_certificate[[:space:]]*$F/tls-private/server.crt;" "$F/nginx.conf"

test_done
