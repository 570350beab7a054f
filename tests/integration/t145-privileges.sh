#!/bin/bash
# t145-privileges.sh - berth started as root runs unprivileged.
#
# The data directory is made as `make run` makes it as root (util/mkconf.sh
# with RUN_USER=berth: the account is created when missing, berth.conf gets
# `user = berth`, the store and auth/ become berth's, the signing key goes
# to signer/, root's alone).  The stack runs with token auth and a
# directory configured (ldap_uri to a closed port: the directory process
# starts all the same, and is only looked at).  Checked:
#   - by /proc: the master and the signer run as root; every worker, the
#     directory process and its children, and nginx's workers as berth;
#   - the sweeper runs as berth: at start it removes an old temporary of
#     berth's from store/tmp but cannot remove one in a directory of root's
#     (a sweeper running as root would remove both);
#   - a login, a push and a pull work; what the push created in the store
#     is berth's;
#   - berth cannot read the signing key (su berth -c 'cat KEY' fails), and
#     the key is 0600 root in a 0700 root directory;
#   - berthctl run as root (user add, lock/unlock, gc, fsck --repair, token
#     create) leaves nothing of root's in the store or auth/, and a later
#     push and gc (as berth) work;
#   - a berth.conf without `user` (an existing data directory) gets it
#     added once, its key moved out of auth/.
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq openssl su useradd
[ "$(id -u)" = 0 ] || skip_all "needs root"
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
export RUN_USER=berth
berth_conf ldap_uri "ldap://127.0.0.1:1"
berth_conf ldap_bind_dn "cn=svc,dc=example,dc=org"
berth_conf ldap_bind_password_file "$TRASH/svc.pw"
berth_conf ldap_user_base "ou=people,dc=example,dc=org"
(umask 077; echo 'svc-secret-t145' >"$TRASH/svc.pw")
berth_setup
CONF=$DATA/berth.conf
ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
uid_of() { awk '/^Uid:/ { print $2 "/" $3 }' "/proc/$1/status" 2>/dev/null; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
BERTH_UID=$(id -u berth)

# ---------------------------------------------------------------- the layout
ok "the account berth exists" id berth
expect_eq "berth.conf: user" "$(berth_conf_get user)" berth
KEY=$(berth_conf_get signing_key)
expect_eq "the key lives in signer/" "$KEY" "$DATA/signer/signing.pem"
expect_eq "the store is berth's" "$(stat -c %U "$STORE")" berth
expect_eq "auth/ is berth's" "$(stat -c %U "$DATA/auth")" berth
expect_eq "signer/ is root's, 0700" "$(stat -c '%U %a' "$DATA/signer")" "root 700"
ok "nginx.conf: user berth" grep -Eq '^[[:space:]]*user berth [a-z]+;' "$DATA/nginx.conf"

cat >"$DATA/auth/policy" <<'EOF'
user:alice     **      *
EOF
ok "berthctl user add (as root)" sh -c "printf 'alice-Pw-1\n' | '$BERTHCTL' -c '$CONF' user add alice --password-stdin"
expect_eq "the users file is berth's" "$(stat -c %U "$DATA/auth/users")" berth

# Two old temporaries for the sweep at start: one of berth's, one in a
# directory of root's.
install -d -o berth -g berth "$STORE/tmp"
: >"$STORE/tmp/old-berth"
chown berth: "$STORE/tmp/old-berth"
mkdir -p "$STORE/tmp/old-root"
: >"$STORE/tmp/old-root/x"
touch -h -d '3 hours ago' "$STORE/tmp/old-berth" "$STORE/tmp/old-root/x" "$STORE/tmp/old-root"

berth_start

# ---------------------------------------------------------------- processes
MASTER=$(berth_pool_pid)
expect_eq "master runs as root" "$(uid_of "$MASTER")" "0/0"
signer='' directory='' nworkers=0 bad=''
for p in $(berth_children "$MASTER"); do
	c=$(comm_of "$p") u=$(uid_of "$p")
	case $c in
	berth-signer) signer=$p ;;
	berth-directory) directory=$p ;;
	berthd)
		nworkers=$((nworkers + 1))
		[ "$u" = "$BERTH_UID/$BERTH_UID" ] || bad="$bad $p($u)" ;;
	esac
done
ok "pool workers found" test "$nworkers" -ge 4
expect_eq "every worker runs as berth" "$bad" ""
ok "signer found" test -n "$signer"
[ -z "$signer" ] || expect_eq "signer runs as root" "$(uid_of "$signer")" "0/0"
ok "directory process found" test -n "$directory"
if [ -n "$directory" ]; then
	expect_eq "directory process runs as berth" "$(uid_of "$directory")" "$BERTH_UID/$BERTH_UID"
	bad=
	for p in $(berth_children "$directory"); do
		[ "$(uid_of "$p")" = "$BERTH_UID/$BERTH_UID" ] || bad="$bad $p"
	done
	expect_eq "directory children run as berth" "$bad" ""
fi
expect_eq "nginx master runs as root" "$(uid_of "$NGINX_PID")" "0/0"
bad='' n=0
for p in $(berth_children "$NGINX_PID"); do
	n=$((n + 1))
	[ "$(uid_of "$p")" = "$BERTH_UID/$BERTH_UID" ] || bad="$bad $p($(comm_of "$p"))"
done
ok "nginx workers found" test "$n" -ge 1
expect_eq "nginx workers run as berth" "$bad" ""

# The sweep at start, as berth.
for _ in $(seq 1 50); do [ -e "$STORE/tmp/old-berth" ] || break; sleep 0.1; done
ok_not "sweeper removed berth's old temporary" test -e "$STORE/tmp/old-berth"
ok "sweeper could not remove root's (it is not root)" test -e "$STORE/tmp/old-root/x"
rm -rf "$STORE/tmp/old-root"

# ---------------------------------------------------------------- the key
expect_eq "key is 0600 root" "$(stat -c '%U %a' "$KEY")" "root 600"
ok_not "berth cannot read the key" su -s /bin/sh berth -c "cat '$KEY'"
ok_not "berth cannot read the bind password" su -s /bin/sh berth -c "cat '$TRASH/svc.pw'"

# ---------------------------------------------------------------- login, push, pull
token() {
	curl -sS --cacert "$CACERT" -G -u "alice:alice-Pw-1" "$URL/token" \
		--data-urlencode "service=berth" --data-urlencode "scope=repository:$1:pull,push,delete" |
		jq -r .token
}
T=$(token priv/app)
ok "login as alice" test -n "$T" -a "$T" != null
AUTHH=(-H "Authorization: Bearer $T")
pushb() { # REPO FILE
	req POST "/v2/$1/blobs/uploads/?digest=$(digest_of "$2")" "${AUTHH[@]}" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$2"
	[ "$STATUS" = 201 ]
}
W=$TRASH/w; mkdir -p "$W"
mk_layer "$W/l1.tgz"
mk_config "$W/config.json" "$W/l1.tgz"
MT=application/vnd.oci.image.manifest.v1+json
mk_image_manifest "$W/m.json" "$MT" "$W/config.json" "$W/l1.tgz"
ok "push layer" pushb priv/app "$W/l1.tgz"
ok "push config" pushb priv/app "$W/config.json"
req PUT /v2/priv/app/manifests/1.0 "${AUTHH[@]}" -H "Content-Type: $MT" --data-binary @"$W/m.json"
expect_status 201
req GET "/v2/priv/app/blobs/$(digest_of "$W/l1.tgz")" "${AUTHH[@]}" -L
expect_status 200
expect_body_file "$W/l1.tgz"
req GET /v2/priv/app/manifests/1.0 "${AUTHH[@]}" -H "Accept: $MT"
expect_status 200
expect_eq "store: nothing of root's after the push" "$(find "$STORE" ! -user berth | head -3)" ""

# ---------------------------------------------------------------- berthctl as root
ok "berthctl lock (as root)" ctl lock priv/app --no-delete --reason t145
ok "berthctl unlock (as root)" ctl unlock priv/app
ok "berthctl token create (as root)" ctl token create ci --scope repository:priv/app:pull
ok "berthctl user revoke (as root)" ctl user revoke alice
ok "berthctl gc --grace 0s (as root)" ctl gc --grace 0s
ok "berthctl fsck --repair (as root)" ctl fsck --repair
expect_eq "store: nothing of root's after berthctl" "$(find "$STORE" ! -user berth | head -3)" ""
expect_eq "auth/: nothing of root's after berthctl" "$(find "$DATA/auth" ! -user berth | head -3)" ""

# A later push (a new token: alice's were revoked, up to this second) and
# gc as berth.
sleep 1.1
T=$(token priv/app)
AUTHH=(-H "Authorization: Bearer $T")
mk_layer "$W/l2.tgz"
ok "push after berthctl" pushb priv/app "$W/l2.tgz"
ok "gc as berth after berthctl" su -s /bin/sh berth -c "'$BERTHCTL' -c '$CONF' gc --grace 0s"
ok "berthctl fsck clean" ctl fsck

# ---------------------------------------------------------------- an old berth.conf
OLD=$TRASH/old
mkdir -p "$OLD"
(unset RUN_USER; AUTH=token sh "$BERTH_TOP/util/mkconf.sh" "$OLD" 1 >/dev/null 2>&1)
sed -i '/^user[[:space:]]*=/d' "$OLD/berth.conf"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OLD/auth/signing.pem" 2>/dev/null
ok "old data dir: mkconf as root" sh -c "RUN_USER=berth AUTH=token sh '$BERTH_TOP/util/mkconf.sh' '$OLD' 1 2>'$TRASH/mkconf.err'"
ok "old data dir: the change is said" grep -q "added 'user = berth'" "$TRASH/mkconf.err"
expect_eq "old data dir: user added" "$(awk -v key=user -f "$BERTH_TOP/util/conf-get.awk" "$OLD/berth.conf")" berth
expect_eq "old data dir: key moved" \
	"$(awk -v key=signing_key -f "$BERTH_TOP/util/conf-get.awk" "$OLD/berth.conf")" "$OLD/signer/signing.pem"
ok "old data dir: key file moved" test -f "$OLD/signer/signing.pem" -a ! -e "$OLD/auth/signing.pem"
ok "old data dir: checks with berthd -t" "$BUILD/berthd" -t -c "$OLD/berth.conf"
sh "$BERTH_TOP/util/mkconf.sh" "$OLD" 1 2>"$TRASH/mkconf2.err" >/dev/null
expect_eq "old data dir: added only once" "$(grep -c '^user[[:space:]]*=' "$OLD/berth.conf")" 1

test_done
