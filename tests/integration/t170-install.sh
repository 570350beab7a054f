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
#   - the installed berthd, run as the installed unit's ExecStart line
#     says (as root: inside the unit's CapabilityBoundingSet, with
#     no_new_privs, the directories made by the installed tmpfiles file),
#     tells a NOTIFY_SOCKET that a test reads: READY=1 with its MAINPID,
#     RELOADING=1 then READY=1 on SIGHUP (also for a refused reload),
#     STOPPING=1 on SIGTERM; meanwhile its workers run as berth, the
#     signer as root, and a login through the token socket gets a token
#     (the signer works within those capabilities); and without any one of
#     CAP_SETUID, CAP_CHOWN or CAP_DAC_OVERRIDE it refuses to start.
. "$(dirname "$0")/../lib.sh"

need_cmd python3 systemd-analyze groff make

INST=$TRASH/inst          # DESTDIR
PFX=$TRASH/prefix         # PREFIX without DESTDIR
NOTIFY=$TRASH/notify.sock
NOTES=$TRASH/notify.log

# ------------------------------------------------------------------ layout

make -s -C "$BERTH_TOP" BUILD="$BUILD" install DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/install1.out" 2>&1 || bail "make install failed: $(tail -5 "$TRASH/install1.out")"

# mode_of PATH: octal mode, e.g. 755
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }

for f in usr/sbin/berthd usr/sbin/berthctl; do
	expect_eq "$f installed 0755" "$(mode_of "$INST/$f")" 755
done
for f in etc/berth/berth.conf etc/berth/policy \
	lib/systemd/system/berthd.service lib/systemd/system/berth-gc.service \
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
make -s -C "$BERTH_TOP" BUILD="$BUILD" install DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/install2.out" 2>&1 || fail "second make install failed" "$(tail -5 "$TRASH/install2.out")"
ok "second install keeps the edited berth.conf" cmp "$TRASH/conf.edited" "$INST/etc/berth/berth.conf"
ok "second install keeps the edited policy" cmp "$TRASH/policy.edited" "$INST/etc/berth/policy"
ok "second install says it kept berth.conf" grep -q "keeping $INST/etc/berth/berth.conf" "$TRASH/install2.out"
ok "second install still installs the units" test -s "$unit"

# ------------------------------------------------------------------ units

make -s -C "$BERTH_TOP" BUILD="$BUILD" install PREFIX="$PFX" >"$TRASH/install3.out" 2>&1 ||
	fail "make install PREFIX=$PFX failed" "$(tail -5 "$TRASH/install3.out")"
expect_eq "PREFIX install: ExecStart under the prefix, config in PREFIX/etc" \
	"$(sed -n 's/^ExecStart=//p' "$PFX/lib/systemd/system/berthd.service")" \
	"$PFX/sbin/berthd -c $PFX/etc/berth/berth.conf"
expect_eq "PREFIX install: berth.conf's policy_file in PREFIX/etc" \
	"$(awk -v key=policy_file -f "$BERTH_TOP/util/conf-get.awk" "$PFX/etc/berth/berth.conf")" \
	"$PFX/etc/berth/policy"
for u in berthd.service berth-gc.service berth-gc.timer; do
	# the same unit but for the paths make install rewrites
	ok "$u: DESTDIR and PREFIX installs differ only in paths" cmp \
		<(sed -e "s|$PFX/sbin/|/usr/sbin/|g" -e "s|$PFX/etc/berth/|/etc/berth/|g" \
			"$PFX/lib/systemd/system/$u") "$INST/lib/systemd/system/$u"
done
MANPATH=$PFX/share/man systemd-analyze verify "$PFX"/lib/systemd/system/berthd.service \
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
	expect_eq "tmpfiles: signer/ is root's 0700" \
		"$(stat -c '%a %u' "$INST/var/lib/berth/signer" 2>/dev/null)" "700 0"
	expect_eq "tmpfiles: auth/ 0700" "$(mode_of "$INST/var/lib/berth/auth")" 700
	expect_eq "tmpfiles: /run/berth 0755" "$(mode_of "$INST/run/berth")" 755
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
if [ "$(id -u)" = 0 ] && id berth >/dev/null 2>&1 && command -v setpriv >/dev/null &&
	command -v systemd-tmpfiles >/dev/null; then
	asroot=1
	moved "$INST/usr/lib/tmpfiles.d/berth.conf" >"$TRASH/tmpfiles.conf"
	ok "the installed tmpfiles file makes the service's directories" \
		systemd-tmpfiles --create "$TRASH/tmpfiles.conf"
	expect_eq "store/ belongs to berth" "$(stat -c %U "$SYS/var/lib/berth/store" 2>/dev/null)" berth
else
	# Not root (or no berth account): everything as the current user.
	sed -i '/^user[[:space:]]*=/d' "$DATA/berth.conf"
	mkdir -p "$SYS/var/lib/berth/store" "$SYS/var/lib/berth/auth/state" \
		"$SYS/var/lib/berth/signer" "$SYS/var/log/berth" "$RUN"
	note "not root with a berth account and setpriv: berthd runs as $(id -un), no capability bound"
fi
ok "berthd -t accepts the installed berth.conf" "$INST/usr/sbin/berthd" -t -c "$DATA/berth.conf"

# The receiving end of the sd_notify protocol, as systemd sets it up: a
# datagram socket with SO_PASSCRED.  One line per datagram: the sender's
# pid, then the message with its newlines as '|'.  Bounded to 120 s.
python3 - "$NOTIFY" "$NOTES" <<'PY' &
import os, socket, struct, sys, time
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
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
for i in $(seq 1 50); do [ -S "$NOTIFY" ] && break; sleep 0.1; done
: >>"$NOTES"

# wait_note N PATTERN: the N-th datagram (1-based) matches PATTERN, within 20 s
wait_note() {
	local i
	for i in $(seq 1 200); do
		[ "$(wc -l <"$NOTES")" -ge "$1" ] && break
		sleep 0.1
	done
	sed -n "${1}p" "$NOTES" | grep -Eq "$2"
}

# The command line the unit runs, with the installed tree's paths.
execstart=$(sed -n 's/^ExecStart=//p' "$unit")
execstart=${execstart/\/usr\/sbin\//$INST/usr/sbin/}
execstart=${execstart/\/etc\/berth\/berth.conf/$DATA/berth.conf}
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z' | sed -e 's/cap_/+/g' -e 's/ /,/g')
note "ExecStart: $execstart; bounding set: -all,$caps"
if [ -n "$asroot" ]; then
	# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
	NOTIFY_SOCKET=$NOTIFY setpriv --no-new-privs --bounding-set="-all,$caps" \
		--inh-caps=-all $execstart >>"$TRASH/berthd.log" 2>&1 &
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
	nroot=0 nberth=0 other=
	for c in $(berth_children "$BERTHD_PID"); do
		u=$(awk '/^Uid:/ { print $2 }' "/proc/$c/status" 2>/dev/null)
		case $u in
		0) nroot=$((nroot + 1)); other="$other $(cat "/proc/$c/comm")" ;;
		"$(id -u berth)") nberth=$((nberth + 1)) ;;
		esac
	done
	expect_eq "the one child left root is the signer" "$nroot${other}" "1 berth-signer"
	ok "the workers run as berth" test "$nberth" -ge 4
	master_caps=$(awk '/^CapBnd:/ { print $2 }' "/proc/$BERTHD_PID/status")
	expect_eq "the master's bounding set is the unit's" "$master_caps" \
		"$(printf '%016x' $(( (1<<0) | (1<<1) | (1<<5) | (1<<6) | (1<<7) )))"
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

# The bounding set holds nothing berthd could do without: each of these
# missing refuses the start (CAP_KILL missing shows only at stop, as
# workers that cannot be told to leave: not tried here).
if [ -n "$asroot" ]; then
	for drop in setuid chown dac_override; do
		fewer=$(printf '%s' "$caps" | tr ',' '\n' | grep -vx "+$drop" | paste -sd, -)
		rm -f "$RUN"/*.sock
		# shellcheck disable=SC2086
		setpriv --no-new-privs --bounding-set="-all,$fewer" --inh-caps=-all \
			timeout -k 5 20 $execstart >"$TRASH/without-$drop.log" 2>&1
		rc=$?
		if [ "$rc" = 1 ]; then
			pass "without CAP_${drop^^} berthd refuses to start"
		else
			fail "without CAP_${drop^^} berthd refuses to start" "exit $rc" \
				"$(tail -3 "$TRASH/without-$drop.log")"
		fi
	done
fi

# ------------------------------------------------------------------ uninstall

make -s -C "$BERTH_TOP" BUILD="$BUILD" uninstall DESTDIR="$INST" PREFIX=/usr \
	>"$TRASH/uninstall.out" 2>&1 || fail "make uninstall failed" "$(cat "$TRASH/uninstall.out")"
ok "uninstall removes the binaries" test ! -e "$INST/usr/sbin/berthd" -a ! -e "$INST/usr/sbin/berthctl"
ok "uninstall removes the units" test ! -e "$unit"
ok "uninstall removes the man pages" test ! -e "$INST/usr/share/man/man8/berthd.8"
ok "uninstall removes share/berth" test ! -e "$INST/usr/share/berth"
ok "uninstall keeps the edited berth.conf" cmp "$TRASH/conf.edited" "$INST/etc/berth/berth.conf"

test_done
