#!/bin/sh
# run.sh - `make run`: berth in the foreground on https://$LISTEN:$PORT/.
#
# Environment: BUILD (default build), PORT (default 5443), DATA (default
# ./var, made absolute), RUN_USER (as root: the account berth runs as,
# default berth), LISTEN (default 127.0.0.1: the addresses nginx listens
# on, e.g. 0.0.0.0 or "0.0.0.0 [::]" for other hosts; util/mkconf.sh puts
# them, or the host's addresses, in the certificate).  Creates the
# CA/server certificate and the configs if needed (util/mkconf.sh), starts
# berthd and nginx, prints how to trust the CA, then waits.  Ctrl-C or SIGTERM stops nginx first (no new requests)
# and then berthd (graceful: requests in flight finish), each by its PID.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
port=${PORT:-5443}
data=${DATA:-./var}
mkdir -p "$data"
data=$(cd "$data" && pwd)
run=$data/run
LISTEN=${LISTEN:-127.0.0.1}
export LISTEN
# Where this host reaches nginx: the first address of LISTEN, loopback for
# a wildcard.
set -f
# shellcheck disable=SC2046 # split into words on purpose
set -- $(printf '%s' "$LISTEN" | tr ',' ' ')
set +f
host=${1:-127.0.0.1}
case $host in
0.0.0.0) host=127.0.0.1 ;;
::|'[::]') host='[::1]' ;;
\[*) ;;
*:*) host="[$host]" ;;
esac
url=https://$host:$port

die() { echo "run: $*" >&2; exit 1; }

[ -x "$build/berthd" ] || die "$build/berthd not built (run make)"
command -v nginx >/dev/null 2>&1 || die "nginx not found (apt-get install nginx)"
if command -v ss >/dev/null 2>&1 &&
   ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
	die "port $port is in use; pick another with PORT="
fi

# Started as root, berth runs as the system account berth, created when
# missing (RUN_USER=NAME: another account; RUN_USER= : keep root).  The
# store and auth files become its; the signer keeps root and the key
# (util/runas.sh, util/privs.h).
if [ "$(id -u)" = 0 ]; then
	RUN_USER=${RUN_USER-berth}
	export RUN_USER
fi
sh "$top/util/mkconf.sh" "$data" "$port"

# With token authentication, the first start creates the user "admin" with a
# random password, kept in <data>/admin.password (0600).
conf_get() { awk -v key="$1" -f "$top/util/conf-get.awk" "$data/berth.conf"; }
users_file=$(conf_get users_file)
admin_note=
if [ -n "$users_file" ]; then
	if ! grep -q '^admin:' "$users_file" 2>/dev/null; then
		pw=$(openssl rand -base64 24 | tr -d '/+=\n' | cut -c1-24)
		(umask 077; printf '%s\n' "$pw" >"$data/admin.password.tmp")
		printf '%s\n' "$pw" | "$build/berthctl" -c "$data/berth.conf" user add admin --password-stdin >/dev/null ||
			die "could not create the admin user"
		mv -f "$data/admin.password.tmp" "$data/admin.password"
		echo "run: created user admin; its password is in $data/admin.password: $pw"
	fi
	admin_note="
Log in as admin (password in $data/admin.password):
  podman login --cert-dir $data/tls -u admin --password-stdin $host:$port < $data/admin.password
  skopeo login --cert-dir $data/tls -u admin --password-stdin $host:$port < $data/admin.password
  docker login -u admin --password-stdin $host:$port < $data/admin.password
More users: $build/berthctl -c $data/berth.conf user add NAME"
fi

berthd_pid=
nginx_pid=
stop() {
	trap - INT TERM EXIT
	echo
	echo "run: stopping"
	if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
		kill -TERM "$nginx_pid" 2>/dev/null || true
		wait "$nginx_pid" 2>/dev/null || true
	fi
	if [ -n "$berthd_pid" ] && kill -0 "$berthd_pid" 2>/dev/null; then
		kill -TERM "$berthd_pid" 2>/dev/null || true
		# Graceful: in-flight requests finish.  Do not wait forever.
		i=0
		while kill -0 "$berthd_pid" 2>/dev/null && [ $i -lt 300 ]; do
			sleep 0.1; i=$((i + 1))
		done
		if kill -0 "$berthd_pid" 2>/dev/null; then
			echo "run: berthd did not stop in 30 s, killing it" >&2
			kill -KILL "$berthd_pid" 2>/dev/null || true
		fi
		wait "$berthd_pid" 2>/dev/null || true
	fi
	echo "run: stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop' EXIT

# Both run in sessions of their own, so that Ctrl-C reaches only this script,
# which then stops them in order (nginx first, then a graceful berthd).
own_session=
command -v setsid >/dev/null 2>&1 && own_session=setsid

$own_session "$build/berthd" -c "$data/berth.conf" &
berthd_pid=$!

# The sockets (API, upload, token pools) appear once berthd is listening.
socks="$(conf_get socket) $(conf_get upload_socket) $(conf_get token_socket)"
i=0
while [ $i -lt 100 ]; do
	kill -0 "$berthd_pid" 2>/dev/null || die "berthd exited; see its messages above"
	all=1
	for s in $socks; do
		case $s in
		/*) [ -S "$s" ] || all= ;;
		*) ;;    # TCP: nginx retries until it answers
		esac
	done
	[ -z "$all" ] || break
	sleep 0.1; i=$((i + 1))
done

$own_session nginx -e "$run/nginx-error.log" -p "$run" -c "$data/nginx.conf" -g 'daemon off;' &
nginx_pid=$!

i=0
# /v2/ answers 200, or 401 when a token is needed: either means it is up.
until code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$data/tls/ca.crt" "$url/v2/" 2>/dev/null) &&
      { [ "$code" = 200 ] || [ "$code" = 401 ]; }; do
	kill -0 "$nginx_pid" 2>/dev/null || die "nginx exited; see $run/nginx-error.log"
	kill -0 "$berthd_pid" 2>/dev/null || die "berthd exited; see its messages above"
	i=$((i + 1))
	[ $i -lt 100 ] || die "no answer from $url/v2/ after 10 s; see $run/nginx-error.log"
	sleep 0.1
done

ca=$data/tls/ca.crt
# Listening beyond loopback: how other hosts reach it (docker verifies TLS
# for any registry that is not on loopback, so certs.d is needed there).
remote_note=''
remote=''
set -f
for a in $(printf '%s' "$LISTEN" | tr ',' ' '); do
	case $a in 127.*|::1|'[::1]'|localhost) ;; *) remote=1 ;; esac
done
set +f
case $remote in
'') ;;
*)
	names=$(openssl x509 -in "$data/tls-private/server.crt" -noout -ext subjectAltName 2>/dev/null |
		tail -n +2 | sed -e 's/^ *//' -e 's/IP Address://g' -e 's/DNS://g')
	remote_note="

Other hosts: https://$(hostname):$port/ (the certificate names: $names).
  Copy $ca to them, e.g. /etc/docker/certs.d/$(hostname):$port/ca.crt
  (docker verifies TLS for every registry that is not on loopback)."
	;;
esac
cat <<EOF

berth is running at $url/   (store: $data/store, config: $data/berth.conf)

Clients must trust the CA $ca:
  podman:  mkdir -p /etc/containers/certs.d/$host:$port
           cp $ca /etc/containers/certs.d/$host:$port/ca.crt
           podman push IMAGE $host:$port/team/app:1.0
  skopeo:  skopeo copy --dest-cert-dir $data/tls \\
               oci-archive:image.tar docker://$host:$port/team/app:1.0
           (--src-cert-dir / --cert-dir the same way; that directory holds only ca.crt)
  docker:  mkdir -p /etc/docker/certs.d/$host:$port
           cp $ca /etc/docker/certs.d/$host:$port/ca.crt
           docker push $host:$port/team/app:1.0
  curl:    curl --cacert $ca $url/v2/
$admin_note$remote_note

Logs: berthd on this terminal, nginx in $run/nginx-error.log and nginx-access.log.
Ctrl-C stops both.
EOF

# Wait until either process ends (or a signal arrives: `wait` is interruptible,
# a foreground sleep would delay Ctrl-C).
while kill -0 "$berthd_pid" 2>/dev/null && kill -0 "$nginx_pid" 2>/dev/null; do
	sleep 1 &
	wait $! 2>/dev/null || true
done
kill -0 "$nginx_pid" 2>/dev/null || echo "run: nginx exited; see $run/nginx-error.log" >&2
kill -0 "$berthd_pid" 2>/dev/null || echo "run: berthd exited" >&2
exit 1
