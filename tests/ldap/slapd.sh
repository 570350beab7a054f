#!/bin/sh
# tests/ldap/slapd.sh - a throwaway OpenLDAP slapd for berth's tests.
#
#   slapd.sh start DIR     create DIR (config, mdb database, TLS certificates
#                          from util/tls.sh), start slapd on two free loopback
#                          ports (ldap:// with StartTLS, ldaps://), load
#                          tests/ldap/users.ldif on first start, and print
#                          (and write to DIR/env) shell assignments:
#                            LDAP_URI=ldap://127.0.0.1:PORT
#                            LDAPS_URI=ldaps://127.0.0.1:PORT
#                            LDAP_CA=DIR/tls/ca.crt
#                            LDAP_BASE=dc=example,dc=org
#                            LDAP_ROOT_DN=cn=admin,dc=example,dc=org LDAP_ROOT_PW=...
#                            SLAPD_PID=PID
#   slapd.sh stop DIR      stop that slapd by its PID (TERM, then KILL)
#   slapd.sh restart DIR   stop, then start again on the same ports and data
#
# Exit status 0 on success, 3 when slapd is not installed (callers skip),
# 1 on any other failure (its reason on stderr, slapd's log in DIR/slapd.log).
# Nothing outside DIR is touched; only 127.0.0.1 is listened on.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/tests/ldap
SLAPD=${SLAPD:-$(command -v slapd 2>/dev/null || echo /usr/sbin/slapd)}
SCHEMA=${LDAP_SCHEMA_DIR:-/etc/ldap/schema}
MODULES=${LDAP_MODULE_DIR:-/usr/lib/ldap}
BASE="dc=example,dc=org"
ROOT_DN="cn=admin,$BASE"
ROOT_PW=berth-test-root

usage() { echo "usage: $0 start|stop|restart DIR" >&2; exit 2; }
die() { echo "slapd.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# A free loopback port below the ephemeral range, different from $1.
free_port() {
	i=0
	while [ $i -lt 200 ]; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 12000 + 20000 ))
		if [ "$p" != "${1:-}" ] && port_free "$p"; then echo "$p"; return 0; fi
		i=$((i + 1))
	done
	return 1
}

write_conf() {
	cat >"$dir/slapd.conf" <<CONF
include $SCHEMA/core.schema
include $SCHEMA/cosine.schema
include $SCHEMA/inetorgperson.schema
include $SCHEMA/nis.schema
modulepath $MODULES
moduleload back_mdb
moduleload memberof
moduleload ppolicy
pidfile $dir/slapd.pid
argsfile $dir/slapd.args
TLSCACertificateFile $dir/tls/ca.crt
TLSCertificateFile $dir/tls/server.crt
TLSCertificateKeyFile $dir/tls/server.key

database mdb
maxsize 67108864
suffix "$BASE"
rootdn "$ROOT_DN"
rootpw $ROOT_PW
directory $dir/db
index objectClass,uid,member,uniqueMember,memberUid eq
overlay memberof
# ppolicy keeps pwdChangedTime (refresh tokens end when it moves) and
# honours pwdAccountLockedTime (a locked account).  The default policy
# (users.ldif) locks nobody out on failures: tests send wrong passwords.
overlay ppolicy
ppolicy_default "cn=default,ou=policies,$BASE"
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
CONF
}

wait_up() {
	i=0
	while [ $i -lt 100 ]; do
		if ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D "$ROOT_DN" -w "$ROOT_PW" \
			-b "" -s base "(objectClass=*)" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

load() {
	# alice's password as {SSHA}, as a real directory would hold it.
	ssha=$(slappasswd -s alice-pw)
	sed "s|^userPassword: alice-pw\$|userPassword: $ssha|" "$here/users.ldif" >"$dir/load.ldif"
	ldapadd -x -H "ldap://127.0.0.1:$port" -D "$ROOT_DN" -w "$ROOT_PW" \
		-f "$dir/load.ldif" >"$dir/load.log" 2>&1 || { cat "$dir/load.log" >&2; return 1; }
	touch "$dir/loaded"
}

start() {
	[ -x "$SLAPD" ] || { echo "slapd.sh: slapd not found (apt-get install slapd ldap-utils)" >&2; exit 3; }
	command -v ldapadd >/dev/null 2>&1 || { echo "slapd.sh: ldapadd not found (apt-get install ldap-utils)" >&2; exit 3; }
	mkdir -p "$dir/db"
	if [ ! -f "$dir/ports" ]; then
		port=$(free_port) && sport=$(free_port "$port") || die "no free port"
		echo "$port $sport" >"$dir/ports"
	fi
	read -r port sport <"$dir/ports"
	sh "$top/util/tls.sh" "$dir/tls" >/dev/null || die "util/tls.sh failed"
	write_conf
	rm -f "$dir/slapd.pid"
	"$SLAPD" -f "$dir/slapd.conf" -n berth-test-slapd -d 0 \
		-h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$sport/" >"$dir/slapd.log" 2>&1 &
	echo $! >"$dir/slapd.pid.shell"
	wait_up || { tail -n 20 "$dir/slapd.log" >&2; die "slapd did not come up on port $port"; }
	[ -f "$dir/loaded" ] || load || die "loading users.ldif failed"
	cat >"$dir/env" <<ENV
LDAP_URI=ldap://127.0.0.1:$port
LDAPS_URI=ldaps://127.0.0.1:$sport
LDAP_CA=$dir/tls/ca.crt
LDAP_BASE=$BASE
LDAP_ROOT_DN=$ROOT_DN
LDAP_ROOT_PW=$ROOT_PW
SLAPD_PID=$(cat "$dir/slapd.pid.shell")
ENV
	cat "$dir/env"
}

# Is PID our slapd, still running?  A zombie (exited, not yet reaped by
# whoever inherited it) counts as stopped; a reused PID is not ours.
ours() {
	[ -r "/proc/$1/cmdline" ] || return 1
	grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null && return 1
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$dir/slapd.conf"
}

stop() {
	[ -f "$dir/slapd.pid.shell" ] || return 0
	pid=$(cat "$dir/slapd.pid.shell")
	if ours "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while ours "$pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
	fi
	rm -f "$dir/slapd.pid.shell"
}

case $cmd in
start) start ;;
stop) stop ;;
restart) stop; start ;;
*) usage ;;
esac
