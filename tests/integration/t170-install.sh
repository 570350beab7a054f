#!/usr/bin/env bash
# t170-install.sh - `make install`, the systemd units, the man pages, and
# berthd started the way berthd.service starts it.
#
#   - make install DESTDIR=… PREFIX=/usr lays out the FHS tree (binaries in
#     usr/sbin, /etc/berth/berth.conf and policy, units in lib/systemd/system,
#     tmpfiles.d and sysusers.d, the nginx snippet, man pages), with the
#     modes a package would have; a second install keeps an edited
#     berth.conf and policy byte for byte; make uninstall removes all but
#     the configuration;
#   - PREFIX=<dir> (no DESTDIR) rewrites the units' and config's paths to
#     that prefix, and `systemd-analyze verify` passes on every unit of
#     that installed tree, the Documentation= man pages found in it (a
#     PREFIX tree is verified rather than the DESTDIR one because verify
#     checks that ExecStart's binary exists, which /usr/sbin/berthd does
#     not on a test machine; the DESTDIR units are shown to differ from
#     the verified ones only in those paths);
#   - the sysusers.d and tmpfiles.d files apply cleanly (systemd-sysusers
#     and systemd-tmpfiles --root into the DESTDIR tree);
#   - the man pages render without a warning (groff -ww, mandoc -Tlint)
#     and berth.conf(5) names every key util/config.c knows;
#   - the installed berth-signer.service and berthd.service, their
#     ExecStart lines run as the units say (as root: the signer as
#     berth-signer, group berth, berthd as berth, both with an empty
#     bounding set and no_new_privs, in the directories made by the
#     installed tmpfiles file; the berth-signer account made by the
#     installed sysusers file if missing), each tell a NOTIFY_SOCKET that
#     a test reads: the signer READY=1 and, on SIGTERM, STOPPING=1 and exit
#     0 with its socket gone; berthd READY=1 with its MAINPID, RELOADING=1
#     then READY=1 on SIGHUP (also for a refused reload), STOPPING=1 on
#     SIGTERM; meanwhile berthd forks no signer, none of its processes has
#     a capability, berth cannot read the signing key, and a login through
#     the token socket gets a token signed by the external signer.
. "$(dirname "$0")/../lib.sh"

need_cmd python3 systemd-analyze groff make

INST=$TRASH/inst          # DESTDIR
PFX=$TRASH/prefix         # PREFIX without DESTDIR
NOTIFY=$TRASH/notify.sock
NOTES=$TRASH/notify.log

# ------------------------------------------------------------------ layout

make -s --no-print-directory -C "$BERTH_TOP" BUILD="$BUILD" install DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/install1.out" 2>&1 || bail "make install failed: $(tail -5 "$TRASH/install1.out")"

# mode_of PATH: octal mode, e.g. 755
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }

for f in usr/sbin/berthd usr/sbin/berthctl; do
	expect_eq "$f installed 0755" "$(mode_of "$INST/$f")" 755
done
for f in etc/berth/berth.conf etc/berth/policy \
	lib/systemd/system/berthd.service lib/systemd/system/berth-signer.service \
	lib/systemd/system/berth-gc.service \
	lib/systemd/system/berth-gc.timer usr/lib/tmpfiles.d/berth.conf \
	usr/lib/sysusers.d/berth.conf usr/share/berth/nginx/berth.conf.in \
	usr/share/berth/nginx/fastcgi_params usr/share/man/man8/berthd.8 \
	usr/share/man/man8/berthctl.8 usr/share/man/man5/berth.conf.5 \
	usr/share/doc/berth/policy.example; do
	expect_eq "$f installed 0644" "$(mode_of "$INST/$f")" 644
done
ok "nothing under usr/local or usr/etc with PREFIX=/usr" \
	test ! -e "$INST/usr/local" -a ! -e "$INST/usr/etc"

unit=$INST/lib/systemd/system/berthd.service
expect_eq "berthd.service starts /usr/sbin/berthd with /etc/berth/berth.conf" \
	"$(sed -n 's/^ExecStart=//p' "$unit")" "/usr/sbin/berthd -c /etc/berth/berth.conf"
expect_eq "berthd.service is Type=notify" "$(sed -n 's/^Type=//p' "$unit")" notify
expect_eq "berthd.service reloads with SIGHUP" "$(sed -n 's/^ExecReload=//p' "$unit")" \
	'/bin/kill -HUP $MAINPID'
expect_eq "berth-gc.service runs /usr/sbin/berthctl" \
	"$(sed -n 's/^ExecStart=//p' "$INST/lib/systemd/system/berth-gc.service")" \
	"/usr/sbin/berthctl -c /etc/berth/berth.conf gc --grace 1h"
ok "the installed berthctl shows its usage" "$INST/usr/sbin/berthctl" help

# A local edit survives the next install, byte for byte.
printf '\n# a local edit\nworkers = 3\n' >>"$INST/etc/berth/berth.conf"
printf 'user:ops  **  pull  # local\n' >>"$INST/etc/berth/policy"
cp "$INST/etc/berth/berth.conf" "$TRASH/conf.edited"
cp "$INST/etc/berth/policy" "$TRASH/policy.edited"
make -s --no-print-directory -C "$BERTH_TOP" BUILD="$BUILD" install DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/install2.out" 2>&1 || fail "second make install failed" "$(tail -5 "$TRASH/install2.out")"
ok "second install keeps the edited berth.conf" cmp "$TRASH/conf.edited" "$INST/etc/berth/berth.conf"
ok "second install keeps the edited policy" cmp "$TRASH/policy.edited" "$INST/etc/berth/policy"
ok "second install says it kept berth.conf" grep -q "keeping $INST/etc/berth/berth.conf" "$TRASH/install2.out"
ok "second install still installs the units" test -s "$unit"

# ------------------------------------------------------------------ units

make -s --no-print-directory -C "$BERTH_TOP" BUILD="$BUILD" install PREFIX="$PFX" >"$TRASH/install3.out" 2>&1 ||
	fail "make install PREFIX=$PFX failed" "$(tail -5 "$TRASH/install3.out")"
expect_eq "PREFIX install: ExecStart under the prefix, config in PREFIX/etc" \
	"$(sed -n 's/^ExecStart=//p' "$PFX/lib/systemd/system/berthd.service")" \
	"$PFX/sbin/berthd -c $PFX/etc/berth/berth.conf"
expect_eq "PREFIX install: berth.conf's policy_file in PREFIX/etc" \
	"$(awk -v key=policy_file -f "$BERTH_TOP/util/conf-get.awk" "$PFX/etc/berth/berth.conf")" \
	"$PFX/etc/berth/policy"
for u in berthd.service berth-signer.service berth-gc.service berth-gc.timer; do
	# the same unit but for the paths make install rewrites
	ok "$u: DESTDIR and PREFIX installs differ only in paths" cmp \
		<(sed -e "s|$PFX/sbin/|/usr/sbin/|g" -e "s|$PFX/etc/berth/|/etc/berth/|g" \
			"$PFX/lib/systemd/system/$u") "$INST/lib/systemd/system/$u"
done
MANPATH=$PFX/share/man systemd-analyze verify "$PFX"/lib/systemd/system/berthd.service \
	"$PFX"/lib/systemd/system/berth-signer.service \
	"$PFX"/lib/systemd/system/berth-gc.service "$PFX"/lib/systemd/system/berth-gc.timer \
	>"$TRASH/verify.out" 2>&1
expect_eq "systemd-analyze verify: exit 0 on every unit" "$?" 0
expect_eq "systemd-analyze verify: not a word of complaint" "$(cat "$TRASH/verify.out")" ""

if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	mkdir -p "$INST/var/lib" "$INST/var/log" "$INST/run"
	ok "sysusers.d/berth.conf creates the account (--root)" \
		systemd-sysusers --root="$INST" "$INST/usr/lib/sysusers.d/berth.conf"
	ok "the account has no login shell" grep -q '^berth:.*:/usr/sbin/nologin$' "$INST/etc/passwd"
	ok "tmpfiles.d/berth.conf applies cleanly (--root)" \
		systemd-tmpfiles --root="$INST" --create "$INST/usr/lib/tmpfiles.d/berth.conf"
	ok "the signer's account exists too" grep -q '^berth-signer:.*:/usr/sbin/nologin$' "$INST/etc/passwd"
	# ids of the tree's own accounts (--root), not this machine's
	iid() { awk -F: -v n="$2" '$1 == n { print $3 }' "$INST/etc/$1"; }
	expect_eq "tmpfiles: signer/ is berth-signer's 0700" \
		"$(stat -c '%a %u' "$INST/var/lib/berth/signer" 2>/dev/null)" "700 $(iid passwd berth-signer)"
	expect_eq "tmpfiles: /run/berth-signer 0750 berth-signer:berth" \
		"$(stat -c '%a %u:%g' "$INST/run/berth-signer" 2>/dev/null)" \
		"750 $(iid passwd berth-signer):$(iid group berth)"
	expect_eq "tmpfiles: auth/ 0700" "$(mode_of "$INST/var/lib/berth/auth")" 700
	expect_eq "tmpfiles: /run/berth 0755 berth's" "$(stat -c '%a %u' "$INST/run/berth")" \
		"755 $(iid passwd berth)"
else
	note "systemd-sysusers or systemd-tmpfiles missing: their files not applied"
fi

# ------------------------------------------------------------------ man pages

for m in usr/share/man/man8/berthd.8 usr/share/man/man8/berthctl.8 usr/share/man/man5/berth.conf.5; do
	out=$(groff -ww -man -Tutf8 -z "$INST/$m" 2>&1)
	expect_eq "$m: groff -ww -man renders without a warning" "$out" ""
	if command -v mandoc >/dev/null; then
		out=$(mandoc -Tlint -W all "$INST/$m" 2>&1)
		expect_eq "$m: mandoc -Tlint is clean" "$out" ""
	fi
done
# every key of util/config.c's table has its entry in berth.conf(5)
missing=
for k in $(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)",.*/\1/p' "$BERTH_TOP/util/config.c"); do
	grep -Eq "^\.BR? (.*\" )?$k( |\$)" "$INST/usr/share/man/man5/berth.conf.5" ||
		missing="$missing $k"
done
expect_eq "berth.conf(5) has an entry for every key of util/config.c" "${missing# }" ""

# ------------------------------------------------------------------ berthd as the unit runs it

# The installed config, its paths moved into the trash directory.  The
# directories come from the installed tmpfiles file, with the same paths
# moved, against this machine's accounts.
SYS=$TRASH/sys
mkdir -p "$DATA" "$SYS"
chmod 0755 "$DATA" "$SYS"
moved() { sed -e "s|/var/lib/berth|$SYS/var/lib/berth|g" -e "s|/run/berth|$SYS/run/berth|g" \
	-e "s|/var/log/berth|$SYS/var/log/berth|g" -e "s|/etc/berth/|$INST/etc/berth/|g" "$1"; }
moved "$INST/etc/berth/berth.conf" >"$DATA/berth.conf"
RUN=$SYS/run/berth

asroot=
if [ "$(id -u)" = 0 ] && id berth >/dev/null 2>&1 && ! id berth-signer >/dev/null 2>&1 &&
	command -v systemd-sysusers >/dev/null; then
	# the one change to this machine: the account a package install makes
	ok "the installed sysusers file makes the berth-signer account" \
		systemd-sysusers "$INST/usr/lib/sysusers.d/berth.conf"
fi
if [ "$(id -u)" = 0 ] && id berth >/dev/null 2>&1 && id berth-signer >/dev/null 2>&1 &&
	command -v setpriv >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	asroot=1
	moved "$INST/usr/lib/tmpfiles.d/berth.conf" >"$TRASH/tmpfiles.conf"
	ok "the installed tmpfiles file makes the service's directories" \
		systemd-tmpfiles --create "$TRASH/tmpfiles.conf"
	expect_eq "store/ belongs to berth" "$(stat -c %U "$SYS/var/lib/berth/store" 2>/dev/null)" berth
else
	# Not root (or no berth account): everything as the current user.
	sed -i '/^user[[:space:]]*=/d' "$DATA/berth.conf"
	mkdir -p "$SYS/var/lib/berth/store" "$SYS/var/lib/berth/auth/state" \
		"$SYS/var/lib/berth/signer" "$SYS/var/log/berth" "$RUN" "$SYS/run/berth-signer"
	note "not root with a berth account and setpriv: berthd runs as $(id -un), no capability bound"
fi
ok "berthd -t accepts the installed berth.conf" "$INST/usr/sbin/berthd" -t -c "$DATA/berth.conf"
ok "berthd --signer -t accepts it too" "$INST/usr/sbin/berthd" --signer -t -c "$DATA/berth.conf"
sed '/^signer[[:space:]]*=/d' "$DATA/berth.conf" >"$TRASH/internal.conf"
ok "berthd --signer refuses a config whose signer is internal" sh -c \
	'! "$1" --signer -t -c "$2" 2>&1 | grep -q "needs \"signer = external\"" && exit 1
	 ! "$1" --signer -t -c "$2" >/dev/null 2>&1' - "$INST/usr/sbin/berthd" "$TRASH/internal.conf"
expect_eq "the installed berth.conf has an external signer" \
	"$(awk -v key=signer -f "$BERTH_TOP/util/conf-get.awk" "$DATA/berth.conf")" external
SIGSOCK=$(awk -v key=signer_socket -f "$BERTH_TOP/util/conf-get.awk" "$DATA/berth.conf")
KEY=$(awk -v key=signing_key -f "$BERTH_TOP/util/conf-get.awk" "$DATA/berth.conf")
expect_eq "its socket is in /run/berth-signer" "$SIGSOCK" "$SYS/run/berth-signer/signer.sock"

# The receiving end of the sd_notify protocol, as systemd sets it up: a
# datagram socket with SO_PASSCRED.  One line per datagram: the sender's
# pid, then the message with its newlines as '|'.  Bounded to 120 s.
# notify_listener SOCKET LOG: one per unit, as systemd has one per service.
notify_listener() {
	python3 - "$1" "$2" <<'PY' &
import os, socket, struct, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.settimeout(1)
end = time.time() + 120
with open(out, "a", buffering=1) as f:
    while time.time() < end:
        try:
            msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            continue
        pid = 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        f.write("%d %s\n" % (pid, msg.decode().replace("\n", "|")))
PY
	berth_track_pid $!
	for i in $(seq 1 50); do [ -S "$1" ] && break; sleep 0.1; done
	: >>"$2"
}
SNOTIFY=$TRASH/notify-signer.sock
SNOTES=$TRASH/notify-signer.log
notify_listener "$NOTIFY" "$NOTES"
notify_listener "$SNOTIFY" "$SNOTES"

# wait_note N PATTERN [LOG]: the N-th datagram (1-based) matches PATTERN,
# within 20 s; LOG is berthd's by default
wait_note() {
	local i log=${3:-$NOTES}
	for i in $(seq 1 200); do
		[ "$(wc -l <"$log")" -ge "$1" ] && break
		sleep 0.1
	done
	sed -n "${1}p" "$log" | grep -Eq "$2"
}

# execline UNIT: the unit's ExecStart line, with the installed tree's paths
execline() {
	local e
	e=$(sed -n 's/^ExecStart=//p' "$1")
	e=${e/\/usr\/sbin\//$INST/usr/sbin/}
	printf '%s' "${e/\/etc\/berth\/berth.conf/$DATA/berth.conf}"
}
# unit_key UNIT KEY: a [Service] setting's value
unit_key() { sed -n "s/^$2=//p" "$1"; }

# The signer first, as berth-signer.service runs it: User=berth-signer,
# Group=berth (and berth-signer's own groups), UMask=0077, no capability.
sunit=$INST/lib/systemd/system/berth-signer.service
expect_eq "berth-signer.service: berthd --signer on the installed config" \
	"$(unit_key "$sunit" ExecStart)" "/usr/sbin/berthd --signer -c /etc/berth/berth.conf"
expect_eq "berth-signer.service: User=berth-signer Group=berth, no capability" \
	"$(unit_key "$sunit" User) $(unit_key "$sunit" Group) [$(unit_key "$sunit" CapabilityBoundingSet)]" \
	"berth-signer berth []"
expect_eq "berthd.service: User=berth Group=berth, no capability" \
	"$(unit_key "$unit" User) $(unit_key "$unit" Group) [$(unit_key "$unit" CapabilityBoundingSet)]" \
	"berth berth []"
ok "berthd.service is ordered after berth-signer.service" grep -q '^After=.*berth-signer.service' "$unit"
sexec=$(execline "$sunit")
note "signer ExecStart: $sexec"
if [ -n "$asroot" ]; then
	# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
	(umask 077; NOTIFY_SOCKET=$SNOTIFY exec setpriv --reuid=berth-signer --regid=berth \
		--init-groups --no-new-privs --bounding-set=-all --inh-caps=-all $sexec) \
		>>"$TRASH/signer.log" 2>&1 &
else
	# shellcheck disable=SC2086
	(umask 077; NOTIFY_SOCKET=$SNOTIFY exec $sexec) >>"$TRASH/signer.log" 2>&1 &
fi
SIGNER_PID=$!
berth_track_pid "$SIGNER_PID"
if wait_note 1 "^$SIGNER_PID READY=1" "$SNOTES"; then
	pass "the signer: READY=1 from its main process"
else
	fail "the signer: READY=1 from its main process" "$(cat "$SNOTES")" "$(tail -5 "$TRASH/signer.log")"
	test_done
fi
ok "the signer's socket listens when READY=1 arrives" test -S "$SIGSOCK"
ok "the signer made the key" test -s "$KEY"
if [ -n "$asroot" ]; then
	expect_eq "the signer runs as berth-signer, group berth" \
		"$(ps -o uid=,gid= -p "$SIGNER_PID" | tr -s ' ' | sed 's/^ //')" \
		"$(id -u berth-signer) $(id -g berth)"
	expect_eq "the key: berth-signer's, 0600" "$(stat -c '%U %a' "$KEY")" "berth-signer 600"
	expect_eq "the signer's socket: group berth, 0660" "$(stat -c '%G %a' "$SIGSOCK")" "berth 660"
	expect_eq "the signer has no capability (CapBnd CapPrm CapEff)" \
		"$(awk '/^Cap(Bnd|Prm|Eff):/ { printf "%s ", $2 }' "/proc/$SIGNER_PID/status")" \
		"0000000000000000 0000000000000000 0000000000000000 "
	if setpriv --reuid=berth --regid=berth --init-groups cat "$KEY" >/dev/null 2>&1; then
		fail "berth cannot read the signing key" "cat as berth succeeded"
	else
		pass "berth cannot read the signing key"
	fi
	ok "nor list the signer's directory" sh -c '! setpriv --reuid=berth --regid=berth --init-groups ls "$1" >/dev/null 2>&1' - "${KEY%/*}"
	ok "nobody outside group berth may reach the socket" \
		sh -c '! setpriv --reuid=nobody --regid=nogroup --clear-groups test -w "$1"' - "$SIGSOCK"
fi

# Then berthd, as berthd.service runs it: User=berth, no capability.
execstart=$(execline "$unit")
note "ExecStart: $execstart"
if [ -n "$asroot" ]; then
	# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
	NOTIFY_SOCKET=$NOTIFY setpriv --reuid=berth --regid=berth --init-groups --no-new-privs \
		--bounding-set=-all --inh-caps=-all $execstart >>"$TRASH/berthd.log" 2>&1 &
else
	# shellcheck disable=SC2086
	NOTIFY_SOCKET=$NOTIFY $execstart >>"$TRASH/berthd.log" 2>&1 &
fi
BERTHD_PID=$!

if wait_note 1 "^$BERTHD_PID READY=1\|MAINPID=$BERTHD_PID(\||\$)"; then
	pass "READY=1 with MAINPID from the master itself"
else
	fail "READY=1 with MAINPID from the master itself" "$(cat "$NOTES")" "$(tail -5 "$TRASH/berthd.log")"
	test_done
fi
for s in api upload token; do
	ok "$s socket is listening when READY=1 arrives" test -S "$RUN/$s.sock"
done

if [ -n "$asroot" ]; then
	expect_eq "api socket given to berth, mode 0660" "$(stat -c '%U %a' "$RUN/api.sock")" "berth 660"
	nberth=0 other='' capped=''
	for c in $(berth_children "$BERTHD_PID"); do
		u=$(awk '/^Uid:/ { print $2 }' "/proc/$c/status" 2>/dev/null)
		case $u in
		"$(id -u berth)") nberth=$((nberth + 1)) ;;
		"") ;;
		*) other="$other $c:$u" ;;
		esac
		[ "$(cat "/proc/$c/comm" 2>/dev/null)" = berth-signer ] && other="$other signer:$c"
		awk '/^Cap(Prm|Eff):/ && $2 != "0000000000000000" { f = 1 } END { exit !f }' \
			"/proc/$c/status" 2>/dev/null && capped="$capped $c"
	done
	expect_eq "every child of berthd is berth's, and none is a signer" "${other# }" ""
	ok "the workers run as berth" test "$nberth" -ge 4
	expect_eq "no child has a capability" "${capped# }" ""
	expect_eq "the master runs as berth with no capability (CapBnd CapPrm CapEff)" \
		"$(ps -o user= -p "$BERTHD_PID") $(awk '/^Cap(Bnd|Prm|Eff):/ { printf "%s ", $2 }' "/proc/$BERTHD_PID/status")" \
		"berth 0000000000000000 0000000000000000 0000000000000000 "
fi

if command -v cgi-fcgi >/dev/null; then
	# fcgi REQUEST_URI SOCKET [VAR=VALUE...]: one request as nginx would pass it
	fcgi() {
		local uri=$1 sock=$2 q=; shift 2
		case $uri in *\?*) q=${uri#*\?} ;; esac
		env -i REQUEST_METHOD=GET REQUEST_URI="$uri" QUERY_STRING="$q" \
			SCRIPT_NAME="${uri%%\?*}" SERVER_NAME=127.0.0.1 HTTP_HOST=127.0.0.1 \
			REQUEST_SCHEME=https HTTPS=on REMOTE_ADDR=127.0.0.1 SERVER_PROTOCOL=HTTP/1.1 \
			"$@" "$(command -v timeout)" 20 "$(command -v cgi-fcgi)" -bind -connect "$sock" 2>&1
	}
	out=$(fcgi /v2/ "$RUN/api.sock")
	ok "a worker answers /v2/ with 401 (auth = token)" grep -q '^Status: 401' <<<"$out"
	printf 'pw-of-admin\n' | "$INST/usr/sbin/berthctl" -c "$DATA/berth.conf" \
		user add admin --password-stdin >"$TRASH/useradd.out" 2>&1
	ok "the installed berthctl adds a user" grep -q admin "$TRASH/useradd.out"
	out=$(fcgi "/token?service=berth&scope=repository:admin/app:pull" "$RUN/token.sock" \
		HTTP_AUTHORIZATION="Basic $(printf 'admin:pw-of-admin' | base64)")
	ok "a login gets a token signed by the signer" grep -q '"token"' <<<"$out"
	# its kid is the external signer's key's: the signer logged it
	kid=$(sed -n 's/.*signer ready on .*, key \([^ ]*\).*/\1/p' "$TRASH/signer.log" | tail -1)
	hdr=$(sed -n 's/.*"token": *"\([^".]*\)\..*/\1/p' <<<"$out" | tr '_-' '/+')
	while [ $(( ${#hdr} % 4 )) != 0 ]; do hdr="$hdr="; done
	ok "the token's kid is the external signer's key (${kid:-none logged})" test -n "$kid" -a \
		"$(printf '%s' "$hdr" | base64 -d 2>/dev/null | grep -o "\"kid\": *\"$kid\"")" != ""
	ok "the installed config's audit log records the login" \
		grep -q admin "$SYS/var/log/berth/audit.log"
else
	note "cgi-fcgi missing: no request sent"
fi

# SIGHUP: RELOADING=1, then READY=1 again.
kill -HUP "$BERTHD_PID"
ok "SIGHUP: RELOADING=1 (with MONOTONIC_USEC)" wait_note 2 "^$BERTHD_PID RELOADING=1\|MONOTONIC_USEC=[0-9]+"
ok "SIGHUP: then READY=1" wait_note 3 "^$BERTHD_PID READY=1"

# A reload the config refuses still ends with READY=1 (else systemd would
# wait in "reloading" until its timeout).
cp "$DATA/berth.conf" "$TRASH/conf.good"
echo "no_such_key = 1" >>"$DATA/berth.conf"
kill -HUP "$BERTHD_PID"
ok "refused reload: RELOADING=1" wait_note 4 "^$BERTHD_PID RELOADING=1"
ok "refused reload: READY=1 all the same" wait_note 5 "^$BERTHD_PID READY=1"
ok "refused reload: berthd still runs" kill -0 "$BERTHD_PID"
ok "refused reload: the log says why" grep -q "reload refused.*no_such_key" "$TRASH/berthd.log"
cp "$TRASH/conf.good" "$DATA/berth.conf"

# SIGTERM: STOPPING=1, then a clean exit.
kill -TERM "$BERTHD_PID"
ok "SIGTERM: STOPPING=1" wait_note 6 "^$BERTHD_PID STOPPING=1"
for i in $(seq 1 300); do kill -0 "$BERTHD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$BERTHD_PID"
expect_eq "berthd exits 0 after SIGTERM" "$?" 0
BERTHD_PID=
ok "the sockets are gone" test ! -e "$RUN/api.sock" -a ! -e "$RUN/token.sock"
ok "the pid file is gone" test ! -e "$RUN/berthd.pid"
expect_eq "six datagrams in all, nothing from a worker" "$(wc -l <"$NOTES")" 6
ok "berthd left the signer running" kill -0 "$SIGNER_PID"

# SIGTERM to the signer: STOPPING=1, exit 0, its socket gone.
kill -TERM "$SIGNER_PID"
ok "the signer: SIGTERM sends STOPPING=1" wait_note 2 "^$SIGNER_PID STOPPING=1" "$SNOTES"
for i in $(seq 1 100); do kill -0 "$SIGNER_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SIGNER_PID"
expect_eq "the signer exits 0 after SIGTERM" "$?" 0
ok "the signer's socket is gone" test ! -e "$SIGSOCK"
expect_eq "two datagrams from the signer in all" "$(wc -l <"$SNOTES")" 2

# ------------------------------------------------------------------ uninstall

make -s --no-print-directory -C "$BERTH_TOP" BUILD="$BUILD" uninstall DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/uninstall.out" 2>&1 || fail "make uninstall failed" "$(cat "$TRASH/uninstall.out")"
ok "uninstall removes the binaries" test ! -e "$INST/usr/sbin/berthd" -a ! -e "$INST/usr/sbin/berthctl"
ok "uninstall removes the units" test ! -e "$unit"
ok "uninstall removes the man pages" test ! -e "$INST/usr/share/man/man8/berthd.8"
ok "uninstall removes share/berth" test ! -e "$INST/usr/share/berth"
ok "uninstall keeps the edited berth.conf" cmp "$TRASH/conf.edited" "$INST/etc/berth/berth.conf"

test_done
