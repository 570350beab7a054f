#!/usr/bin/env bash
# t171-deb.sh - the Debian package, installed on this machine and purged.
#
#   - `make deb` builds berth_<version>_<arch>.deb; lintian reports no
#     error and no warning on it;
#   - `dpkg -i` installs it: binaries, units, tmpfiles.d and sysusers.d
#     files, gzipped man pages, the rendered nginx snippets; berth.conf and
#     policy are conffiles, and a reinstall keeps an edited berth.conf byte
#     for byte; postinst has made the account and /var/lib/berth;
#   - berth-signer and berthd started as the installed units' ExecStart
#     lines say (systemd is not PID 1 here: as t170 does, the signer as
#     berth-signer with group berth, berthd as berth, both with an empty
#     bounding set and no_new_privs), postinst having made both accounts;
#     berth cannot read the signing key; berthd forks no signer; an nginx of
#     the test's own whose server {} holds nothing of berth's but
#     `include /usr/share/berth/nginx/berth-locations.conf` (and the http
#     snippet in http {}); a user made with the installed berthctl logs in
#     with skopeo, pushes an image and pulls it back, byte for byte;
#   - `dpkg --purge berth` leaves nothing of the package (no file it held,
#     no /etc/berth, no /var/log/berth, dpkg knows it no more) but the data:
#     /var/lib/berth/store with the pushed blobs.
#
# It changes this machine (/usr/sbin, /etc/berth, /lib/systemd/system,
# /var/lib/berth), so it runs only where none of it exists yet, and its
# EXIT trap stops what it started, purges the package and removes the
# /var/lib/berth it made, whatever happened.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-clients.sh"

need_cmd make dpkg dpkg-deb dpkg-shlibdeps lintian skopeo nginx setpriv jq openssl curl
[ "$(id -u)" = 0 ] || skip_all "needs root (dpkg -i)"
id berth >/dev/null 2>&1 || command -v systemd-sysusers >/dev/null 2>&1 ||
	command -v adduser >/dev/null 2>&1 || skip_all "no way to make the berth account"
if dpkg-query -W -f='${Status}' berth 2>/dev/null | grep -q 'installed\|config-files'; then
	skip_all "a berth package is installed on this machine: not touching it"
fi
for p in /etc/berth /var/lib/berth /var/log/berth /run/berth /run/berth-signer /usr/sbin/berthd \
	/usr/share/berth; do
	[ ! -e "$p" ] || skip_all "$p exists on this machine: not touching it"
done

W=$TRASH/work
NG=$TRASH/nginx
mkdir -p "$W" "$NG"
DEB_INSTALLED=
SIGNER_PID=

# Whatever happens: the stack stopped (lib.sh's berth_stop, by PID), the
# package purged, the /var/lib/berth this test made removed; then the
# clients' and lib.sh's own cleanup.
deb_on_exit() {
	local rc=$?
	berth_stop >/dev/null 2>&1
	if [ -n "$SIGNER_PID" ]; then
		kill -TERM "$SIGNER_PID" 2>/dev/null && wait "$SIGNER_PID" 2>/dev/null
	fi
	if [ -n "$DEB_INSTALLED" ]; then
		dpkg --purge berth >"$TRASH/purge-trap.out" 2>&1 ||
			say "# t171: dpkg --purge berth failed in cleanup: $(tail -2 "$TRASH/purge-trap.out")"
	fi
	rm -rf /var/lib/berth /run/berth /run/berth-signer /var/log/berth
	(exit "$rc")
	clients_on_exit
}
trap deb_on_exit EXIT

# ------------------------------------------------------------------ build

if ! make -s --no-print-directory -C "$BERTH_TOP" BUILD="$BUILD" deb >"$TRASH/make-deb.out" 2>&1; then
	bail "make deb failed: $(tail -5 "$TRASH/make-deb.out")"
fi
DEB=$(grep '\.deb$' "$TRASH/make-deb.out" | tail -n 1)
ok "make deb names a berth_<version>_<arch>.deb in the build directory" \
	test -f "$DEB" -a "$(dirname "$DEB")" = "$BUILD"
version=$(dpkg-deb -f "$DEB" Version)
expect_eq "the file name carries the package's version and architecture" \
	"$(basename "$DEB")" "berth_${version}_$(dpkg-deb -f "$DEB" Architecture).deb"
expect_eq "the version is the Makefile's" "$version" \
	"$(sed -n 's/^VERSION ?= //p' "$BERTH_TOP/Makefile")"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libfcgi0ldbl libssl3 libjansson4 libldap-2.5-0 libcrypt1 libc6; do
	ok "Depends names $lib (dpkg-shlibdeps)" grep -q "\(^\|, \)$lib\( \|,\|$\)" <<<"$depends"
done

lintian --pedantic -I "$DEB" >"$TRASH/lintian.out" 2>"$TRASH/lintian.err"
note "lintian: $(tr '\n' ';' <"$TRASH/lintian.out")"
expect_eq "lintian: no error, no warning" "$(grep -E '^[EW]: ' "$TRASH/lintian.out")" ""
ok "lintian ran (it prints no crash)" sh -c '! grep -qi "internal error\|died\|usage:" "$1"' - "$TRASH/lintian.err"

# ------------------------------------------------------------------ install

DEB_INSTALLED=1
if ! dpkg -i "$DEB" >"$TRASH/dpkg-i.out" 2>&1; then
	bail "dpkg -i failed: $(tail -5 "$TRASH/dpkg-i.out")"
fi
expect_eq "dpkg: berth is installed" "$(dpkg-query -W -f='${Status}' berth)" "install ok installed"
dpkg -L berth >"$TRASH/dpkg-L.txt"
for f in /usr/sbin/berthd /usr/sbin/berthctl /lib/systemd/system/berthd.service \
	/lib/systemd/system/berth-signer.service \
	/lib/systemd/system/berth-gc.service /lib/systemd/system/berth-gc.timer \
	/usr/lib/tmpfiles.d/berth.conf /usr/lib/sysusers.d/berth.conf \
	/usr/share/man/man8/berthd.8.gz /usr/share/man/man8/berthctl.8.gz \
	/usr/share/man/man5/berth.conf.5.gz /usr/share/berth/nginx/berth-locations.conf \
	/usr/share/berth/nginx/berth-http.conf /usr/share/berth/nginx/fastcgi_params \
	/usr/share/doc/berth/copyright /usr/share/doc/berth/changelog.gz \
	/etc/berth/berth.conf /etc/berth/policy; do
	ok "installed: $f" test -f "$f"
	ok "dpkg -L lists $f" grep -qx "$f" "$TRASH/dpkg-L.txt"
done
ok "the man pages are gzip data" gzip -t /usr/share/man/man8/berthd.8.gz
ok "/usr/sbin/berthd is stripped" sh -c '! readelf -S "$1" | grep -q "\.symtab"' - /usr/sbin/berthd
expect_eq "conffiles: berth.conf and policy" \
	"$(dpkg-query -W -f='${Conffiles}\n' berth | awk 'NF { print $1 }' | sort | tr '\n' ' ')" \
	"/etc/berth/berth.conf /etc/berth/policy "
ok "the account berth exists (postinst makes it where missing)" id berth
ok "so does berth-signer" id berth-signer
expect_eq "postinst made /var/lib/berth/store (berth's)" \
	"$(stat -c '%U %a' /var/lib/berth/store 2>/dev/null)" "berth 755"
expect_eq "postinst made /var/lib/berth/signer (berth-signer's alone)" \
	"$(stat -c '%U %a' /var/lib/berth/signer 2>/dev/null)" "berth-signer 700"
expect_eq "postinst made /run/berth-signer (berth-signer's, group berth)" \
	"$(stat -c '%U %G %a' /run/berth-signer 2>/dev/null)" "berth-signer berth 750"
expect_eq "the snippet serves blobs from the installed store" \
	"$(awk '$1 == "alias" { print $2 }' /usr/share/berth/nginx/berth-locations.conf)" \
	"/var/lib/berth/store/blobs/;"
ok "the snippet passes the API to /run/berth/api.sock" \
	grep -q 'server unix:/run/berth/api.sock;' /usr/share/berth/nginx/berth-http.conf
ok "the snippet includes the installed fastcgi_params" \
	grep -q 'include  *\/usr\/share\/berth\/nginx\/fastcgi_params;' /usr/share/berth/nginx/berth-locations.conf

# An edited conffile survives a reinstall, byte for byte, without a question.
printf '\n# a local edit (t171)\nworkers = 3\n' >>/etc/berth/berth.conf
cp /etc/berth/berth.conf "$TRASH/conf.edited"
if dpkg -i "$DEB" </dev/null >"$TRASH/dpkg-i2.out" 2>&1; then
	pass "dpkg -i again"
else
	fail "dpkg -i again" "$(tail -5 "$TRASH/dpkg-i2.out")"
fi
ok "a reinstall keeps the edited berth.conf" cmp "$TRASH/conf.edited" /etc/berth/berth.conf

# ------------------------------------------------------------------ run it

unit=/lib/systemd/system/berthd.service
sunit=/lib/systemd/system/berth-signer.service
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
sexec=$(sed -n 's/^ExecStart=//p' "$sunit")
expect_eq "ExecStart runs the installed berthd on the installed config" "$execstart" \
	"/usr/sbin/berthd -c /etc/berth/berth.conf"
expect_eq "the signer's ExecStart too" "$sexec" "/usr/sbin/berthd --signer -c /etc/berth/berth.conf"
expect_eq "berthd.service: User=berth, no capability" \
	"$(sed -n 's/^User=//p' "$unit") [$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")]" "berth []"
expect_eq "berth-signer.service: User=berth-signer Group=berth, no capability" \
	"$(sed -n 's/^User=//p' "$sunit") $(sed -n 's/^Group=//p' "$sunit") [$(sed -n 's/^CapabilityBoundingSet=//p' "$sunit")]" \
	"berth-signer berth []"
printf 'pw-of-pusher\n' | /usr/sbin/berthctl -c /etc/berth/berth.conf \
	user add pusher --password-stdin >"$TRASH/useradd.out" 2>&1
ok "the installed berthctl adds a user" grep -q pusher /var/lib/berth/auth/users

# The run directories are tmpfiles' (made by postinst, gone on a reboot).
[ -d /run/berth ] && [ -d /run/berth-signer ] ||
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/berth.conf
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
(umask 077; exec setpriv --reuid=berth-signer --regid=berth --init-groups --no-new-privs \
	--bounding-set=-all --inh-caps=-all $sexec) >>"$TRASH/signer.log" 2>&1 &
SIGNER_PID=$!
for _ in $(seq 1 100); do
	[ -S /run/berth-signer/signer.sock ] || ! kill -0 "$SIGNER_PID" 2>/dev/null && break
	sleep 0.1
done
ok "the installed signer listens on /run/berth-signer/signer.sock" test -S /run/berth-signer/signer.sock
expect_eq "it made the key, berth-signer's 0600" \
	"$(stat -c '%U %a' /var/lib/berth/signer/signing.pem 2>/dev/null)" "berth-signer 600"
ok "berth cannot read the key" sh -c \
	'! setpriv --reuid=berth --regid=berth --init-groups cat /var/lib/berth/signer/signing.pem >/dev/null 2>&1'
# shellcheck disable=SC2086
setpriv --reuid=berth --regid=berth --init-groups --no-new-privs --bounding-set=-all \
	--inh-caps=-all $execstart >>"$TRASH/berthd.log" 2>&1 &
BERTHD_PID=$!
up=
for _ in $(seq 1 150); do
	kill -0 "$BERTHD_PID" 2>/dev/null || break
	if [ -S /run/berth/api.sock ] && [ -S /run/berth/upload.sock ] && [ -S /run/berth/token.sock ]; then
		up=1; break
	fi
	sleep 0.1
done
[ -n "$up" ] || bail "the installed berthd did not open its sockets in 15 s: $(tail -5 "$TRASH/berthd.log")"
pass "the installed berthd opens /run/berth/{api,upload,token}.sock"
nberth=0
for c in $(berth_children "$BERTHD_PID"); do
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$c/status" 2>/dev/null)" = "$(id -u berth)" ] &&
		nberth=$((nberth + 1))
done
ok "its workers run as berth" test "$nberth" -ge 4
signers=0
for c in $(berth_children "$BERTHD_PID"); do
	[ "$(cat "/proc/$c/comm" 2>/dev/null)" = berth-signer ] && signers=$((signers + 1))
done
expect_eq "berthd forked no signer" "$signers" 0

# nginx: the test's own main config; of berth only the two includes.
sh "$BERTH_TOP/util/tls.sh" -p "$NG/private" "$NG/tls" >/dev/null || bail "util/tls.sh failed"
CERTDIR=$NG/tls
# shellcheck disable=SC2034 # read by lib.sh (req, berth_wait_ready)
CACERT=$CERTDIR/ca.crt
PORT=$(berth_free_port) || bail "no free port"
URL=https://127.0.0.1:$PORT
chmod 0755 "$NG" "$NG/tls"
cat >"$NG/nginx.conf" <<EOF
user berth berth;
worker_processes 1;
pid $NG/nginx.pid;
events { worker_connections 256; }
http {
    access_log            $NG/access.log;
    client_body_temp_path $NG/client-body;
    fastcgi_temp_path     $NG/fastcgi;
    proxy_temp_path       $NG/proxy;
    uwsgi_temp_path       $NG/uwsgi;
    scgi_temp_path        $NG/scgi;
    include /usr/share/berth/nginx/berth-http.conf;
    server {
        listen 127.0.0.1:$PORT ssl http2;
        server_name _;
        ssl_certificate     $NG/private/server.crt;
        ssl_certificate_key $NG/private/server.key;
        include /usr/share/berth/nginx/berth-locations.conf;
    }
}
EOF
ok "nginx -t accepts a server {} that includes the installed snippets" \
	nginx -t -q -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf"
nginx -e "$NG/error.log" -p "$NG" -c "$NG/nginx.conf" -g 'daemon off;' >"$NG/nginx.out" 2>&1 &
NGINX_PID=$!
RUN=$NG   # berth_show_logs, berth_wait_ready
berth_wait_ready
req GET /v2/
expect_status 401
expect_header_present "X-Request-Id"

# ------------------------------------------------------------------ push, pull

R=$(reg)
AUTHF=$W/auth.json
if printf 'pw-of-pusher\n' | sko login --authfile "$AUTHF" --cert-dir "$CERTDIR" \
	-u pusher --password-stdin "$R" >/dev/null; then
	pass "skopeo login as the user berthctl made"
else
	fail "skopeo login as the user berthctl made" "$(tail -3 "$CLIENTS_DIR/skopeo.log")"
fi
mk_oci_layout "$W/img" v1 2
if sko copy --authfile "$AUTHF" --dest-cert-dir "$CERTDIR" "oci:$W/img:v1" "docker://$R/pusher/app:v1"; then
	pass "skopeo pushes an image through the snippet"
else
	fail "skopeo pushes an image through the snippet" "$(tail -3 "$CLIENTS_DIR/skopeo.log")"
fi
if sko copy --authfile "$AUTHF" --src-cert-dir "$CERTDIR" "docker://$R/pusher/app:v1" "dir:$W/back"; then
	pass "skopeo pulls it back"
else
	fail "skopeo pulls it back" "$(tail -3 "$CLIENTS_DIR/skopeo.log")"
fi
ok "the manifest comes back byte for byte" cmp "$W/img.manifest.json" "$W/back/manifest.json"
layers=()
for i in 1 2; do
	d=$(digest_of "$W/img.layer$i.tgz")
	layers+=("${d#sha256:}")
	ok "layer $i comes back byte for byte (nginx's blob location)" cmp "$W/img.layer$i.tgz" "$W/back/${d#sha256:}"
done
ok "the layers went out through nginx (200 in its access log)" \
	grep -q 'GET /v2/pusher/app/blobs/sha256:.* 200 ' "$NG/access.log"

# ------------------------------------------------------------------ purge

berth_stop
ok "berthd stopped" test -z "$BERTHD_PID"
kill -TERM "$SIGNER_PID"
wait "$SIGNER_PID"
expect_eq "the signer exits 0 on SIGTERM" "$?" 0
SIGNER_PID=
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' >"$TRASH/files.txt"
if dpkg --purge berth >"$TRASH/purge.out" 2>&1; then
	pass "dpkg --purge berth"
	DEB_INSTALLED=
else
	fail "dpkg --purge berth" "$(tail -5 "$TRASH/purge.out")"
fi
ok "dpkg knows berth no more (dpkg -L fails)" sh -c '! dpkg -L berth'
ok "dpkg-query: not installed, no config-files left" sh -c \
	'! dpkg-query -W -f="\${Status}" berth 2>/dev/null | grep -q "install ok\|config-files"'
left=
while read -r f; do [ ! -e "$f" ] || left="$left $f"; done <"$TRASH/files.txt"
expect_eq "every file of the package is gone ($(wc -l <"$TRASH/files.txt") files)" "${left# }" ""
for d in /etc/berth /usr/share/berth /usr/share/doc/berth /var/log/berth /run/berth /run/berth-signer; do
	ok "$d is gone" test ! -e "$d"
done
ok "the data stays: /var/lib/berth/store" test -d /var/lib/berth/store
for h in "${layers[@]}"; do
	ok "the data stays: pushed blob ${h:0:12}" test -f "/var/lib/berth/store/blobs/sha256/${h:0:2}/$h"
done
ok "the data stays: the users file" test -f /var/lib/berth/auth/users

test_done
