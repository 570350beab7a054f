#!/bin/sh
# mkconf.sh [DATA [PORT]] - lay out a berth data directory and its configs.
#
# The one place that writes configuration, used by `make run` (util/run.sh)
# and by the integration tests (tests/lib.sh).  DATA and PORT may also come
# from the environment (defaults ./var and 5443).  LISTEN (default
# 127.0.0.1; LISTEN_ADDR is its older name) holds the addresses nginx
# listens on, blank- or comma-separated: IPv4 (0.0.0.0 for all), IPv6 with
# or without brackets ([::] for all), or a host name; each gets its own
# `listen` line.  nginx's certificate names every address given, and the
# host's own addresses (hostname -I) for a wildcard, so that clients on
# other hosts can verify it; one our CA made without them is made again
# (same CA: the clients' trust stays), an administrator's own is kept.
#
#   DATA/berth.conf    the pool's config.  Written only if absent: from then
#                      on it is the administrator's file.
#   DATA/nginx.conf    rendered from nginx/berth.conf.in every time, with the
#                      store, sockets and blob location read back from
#                      berth.conf so that both always agree.
#   DATA/fastcgi_params  copy of nginx/fastcgi_params, included by nginx.conf
#   DATA/store/        the content store
#   DATA/run/          sockets, pid files, logs, nginx temp directories
#   DATA/tls/          ca.crt alone: what clients trust, the directory for
#                      `podman/skopeo --cert-dir` (util/tls.sh says why
#                      nothing else may sit there)
#   DATA/tls/client/   the same ca.crt, for scripts written when tls/ still
#                      held the keys
#   DATA/tls-private/  (0700) the CA key and nginx's server certificate and
#                      key (util/tls.sh); an older DATA's are moved here
#   DATA/metrics.allow (optional, yours) addresses or CIDR ranges, one a
#                      line, that may scrape /metrics besides loopback
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-${DATA:-./var}}
port=${2:-${PORT:-5443}}
listen_list=${LISTEN:-${LISTEN_ADDR:-127.0.0.1}}

case $port in
''|*[!0-9]*) echo "$0: bad port '$port'" >&2; exit 2 ;;
esac

mkdir -p "$data"
data=$(cd "$data" && pwd)
# nginx's workers and berthd may run as another user than the one that made
# the directory: they must be able to traverse it.
chmod 0755 "$data"
mkdir -p "$data/store" "$data/run" "$data/tls" "$data/log"

# LISTEN's addresses as nginx writes them (IPv6 in brackets), one a line;
# anything else is refused before it reaches nginx.conf.
listen_addrs() {
	set -f   # "[::]" is a glob pattern too
	for a in $(printf '%s' "$listen_list" | tr ',' ' '); do
		case $a in
		\[*\]) v=${a#\[}; v=${v%\]} ;;
		*:*) v=$a; a="[$a]" ;;
		*) v= ;;
		esac
		if [ -n "$v" ]; then
			case $v in *[!0-9A-Fa-f:.]*|'') echo "$0: bad IPv6 address '$a' in LISTEN" >&2; exit 2 ;; esac
		else
			case $a in *[!0-9A-Za-z.-]*|''|-*) echo "$0: bad address '$a' in LISTEN" >&2; exit 2 ;; esac
		fi
		echo "$a"
	done
	set +f
}
listen_addrs >/dev/null || exit 2
[ -n "$(listen_addrs)" ] || { echo "$0: LISTEN names no address" >&2; exit 2; }

# The names nginx's certificate must carry: each address (no brackets) and,
# for a wildcard, the host's addresses; loopback names it has anyway.
cert_names() {
	set -f
	for a in $(listen_addrs); do
		a=${a#\[}; a=${a%\]}
		case $a in
		0.0.0.0|::) hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '%' ;;
		*) echo "$a" ;;
		esac
	done | grep -v -x -e '' -e 127.0.0.1 -e ::1 -e localhost | sort -u
	set +f
}
names=$(cert_names)
# shellcheck disable=SC2086 # one word per name
sh "$top/util/tls.sh" -p "$data/tls-private" "$data/tls" $names >/dev/null
# A certificate our CA made before LISTEN named these addresses: made again.
missing=
for n in $names; do
	case $n in
	*[!0-9.]*) case $n in *:*) chk=-checkip ;; *) chk=-checkhost ;; esac ;;
	*) chk=-checkip ;;
	esac
	openssl x509 -in "$data/tls-private/server.crt" -noout $chk "$n" 2>/dev/null |
		grep -q 'does match' || missing="$missing $n"
done
if [ -n "$missing" ]; then
	if openssl verify -CAfile "$data/tls/ca.crt" "$data/tls-private/server.crt" >/dev/null 2>&1; then
		echo "mkconf: nginx's certificate lacks$missing: making a new one (same CA)" >&2
		rm -f "$data/tls-private/server.crt" "$data/tls-private/server.key"
		# shellcheck disable=SC2086
		sh "$top/util/tls.sh" -p "$data/tls-private" "$data/tls" $names >/dev/null
	else
		echo "mkconf: warning: $data/tls-private/server.crt (not made by this CA) lacks$missing; clients there will not verify it" >&2
	fi
fi
mkdir -p "$data/tls/client"
cp "$data/tls/ca.crt" "$data/tls/client/ca.crt.tmp"
mv -f "$data/tls/client/ca.crt.tmp" "$data/tls/client/ca.crt"

# Authentication: AUTH=token (the default: the token service with local
# users, repository tokens and the policy file) or AUTH=none.
auth=${AUTH:-token}
case $auth in token|none) ;; *) echo "$0: AUTH must be token or none" >&2; exit 2 ;; esac
auth_conf=
# Started as root with a run-as account (util/runas.sh), the key lives in
# signer/, root's alone: the account owns auth/.
key_path=$data/auth/signing.pem
[ "$(id -u)" != 0 ] || [ -z "${RUN_USER:-}" ] || key_path=$data/signer/signing.pem
if [ "$auth" = token ]; then
	mkdir -p "$data/auth/state"
	chmod 0700 "$data/auth"
	auth_conf="
# Authentication: docker/podman/skopeo login against the users below (and
# LDAP if configured: see README), tokens signed by the signer process.
auth           = token
signing_key    = $key_path
signer_socket  = $data/run/signer.sock
users_file     = $data/auth/users
tokens_file    = $data/auth/tokens
policy_file    = $data/auth/policy
state_dir      = $data/auth/state
# ldap_uri       = ldaps://ldap.example.org
# ldap_ca_file   = /etc/ssl/certs/ca-certificates.crt
# ldap_bind_dn   = cn=berth,ou=services,dc=example,dc=org
# ldap_bind_password_file = /etc/berth/ldap.password
#   or inline: ldap_bind_password = \"svc#pass\"  (quote a value that holds
#   a '#', which would otherwise start a comment; \\\" and \\\\ inside quotes)
# ldap_user_base = ou=people,dc=example,dc=org
# ldap_user_filter = (uid=%s)
# ldap_group_mode = member
# ldap_group_base = ou=groups,dc=example,dc=org
"
	# The default policy: the local admin (util/run.sh creates it) may do
	# everything; every other user who logs in, local or from the
	# directory, only works in the namespace named after them.  Written
	# only when absent: an existing data directory keeps its policy.
	if [ ! -f "$data/auth/policy" ]; then
		printf '%s\n' \
			'# Who may do what (see docs/policy.example and the README section on' \
			'# LDAP for group rules).  Default deny: what no rule grants is refused.' \
			'# SUBJECT        REPOSITORIES   ACTIONS' \
			'' \
			'# The local administrator: every repository, every action, the catalog.' \
			'user:admin       **             *' \
			'' \
			'# Everyone who logs in: their own namespace NAME/... and nothing else.' \
			'authenticated    ${user}/**     pull,push,delete' \
			'' \
			'# The catalog lists only the repositories the caller may pull.' \
			'authenticated    **             catalog' >"$data/auth/policy.tmp"
		mv -f "$data/auth/policy.tmp" "$data/auth/policy"
	fi
fi

conf=$data/berth.conf
if [ ! -f "$conf" ]; then
	cat >"$conf.tmp" <<EOF
# berth.conf - the configuration of berthd and berthctl (-c $conf).
# Written once by util/mkconf.sh; it is yours now and is never rewritten.
# The nginx config beside it (nginx.conf) is regenerated from this file's
# store, socket, upload_socket, token_socket, blob_location, max_manifest and
# read_timeout on every start.
# Reference: util/config.h.

store          = $data/store
socket         = $data/run/api.sock
upload_socket  = $data/run/upload.sock
token_socket   = $data/run/token.sock
pidfile        = $data/run/berthd.pid
access_log     = $data/log/access.log
audit_log      = $data/log/audit.log
${RUN_USER:+user           = $RUN_USER}

# workers        = 4        API workers (manifests, HEAD, blob redirects)
# upload_workers = 32       most upload workers (each streamed push holds one)
# upload_workers_min = 4    upload workers always running; the pool grows under load
# upload_client_workers = 8 upload workers one address, or one user, may hold
# upload_min_rate = 1024    bytes/s an upload must keep over upload_rate_window (60 s)
# read_timeout   = 60       seconds one read of a body may wait
# manifest_max_descriptors = 4096
# token_workers  = 2        token workers (/token: logins, refreshes)
# backlog        = 1024     requests beyond the pools wait here
# socket_mode    = 0660
# upload_ttl     = 86400    seconds an idle upload session is kept
# sweep_interval = 3600
# blob_location  = /_berth/blobs/
# max_manifest   = 4194304
# log_level      = info
$auth_conf
EOF
	mv -f "$conf.tmp" "$conf"
fi

# Value of KEY in berth.conf, or empty (util/conf-get.awk: the rules of
# util/config.c).
conf_get() {
	awk -v key="$1" -f "$top/util/conf-get.awk" "$conf"
}

# nginx's name for a berth socket: a path is a unix socket, else HOST:PORT.
nginx_sock() {
	case $1 in
	/*) echo "unix:$1" ;;
	*:*) echo "$1" ;;
	*) echo "$0: socket '$1' in $conf is neither an absolute path nor HOST:PORT" >&2; exit 1 ;;
	esac
}

store=$(conf_get store)
sock=$(conf_get socket)
upload_sock=$(conf_get upload_socket)
token_sock=$(conf_get token_socket)
blob_location=$(conf_get blob_location)
[ -n "$store" ] || { echo "$0: $conf has no store" >&2; exit 1; }
[ -n "$sock" ] || sock=/run/berth/api.sock       # config.h default
[ -n "$upload_sock" ] || upload_sock=$sock        # uploads served by the API pool
[ -n "$token_sock" ] || token_sock=$sock          # /token served by the API pool
[ -n "$blob_location" ] || blob_location=/_berth/blobs/
# nginx's body limit outside uploads is berth's manifest limit; it waits
# for upload bytes a little longer than the worker does (config.h defaults).
max_body=$(conf_get max_manifest)
read_timeout=$(conf_get read_timeout)
[ -n "$max_body" ] || max_body=4194304
[ -n "$read_timeout" ] || read_timeout=60
case $max_body$read_timeout in
*[!0-9]*) echo "$0: max_manifest or read_timeout in $conf is not a number" >&2; exit 1 ;;
esac
store=${store%/}

# As root: the run-as account (created when missing) owns the store and the
# auth files, and nginx's workers run as it (util/runas.sh).
run_user=
if [ "$(id -u)" = 0 ]; then
	sh "$top/util/runas.sh" "$data" "$conf"
	run_user=$(conf_get user)
fi
if [ -n "$run_user" ]; then
	user_line="user $run_user $(id -gn "$run_user");"
elif [ "$(id -u)" = 0 ]; then
	user_line="user $(id -un) $(id -gn);"
else
	user_line="# user: not root, so nginx's workers run as $(id -un) anyway"
fi

# sed replacement text: escape \, & and the delimiter |.
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

# <data>/metrics.allow: who may scrape /metrics besides loopback.  Each
# word (up to a '#') must be an address, a CIDR range or "all".
metrics_allow() {
	[ -f "$data/metrics.allow" ] || return 0
	sed -e 's/#.*//' "$data/metrics.allow" | tr -s ' \t,' '\n' | grep -v '^$' |
	while read -r a; do
		case $a in
		all) ;;
		*[!0-9A-Fa-f:./]*) echo "$0: $data/metrics.allow: '$a' is no address or CIDR range" >&2; exit 1 ;;
		esac
		echo "$a"
	done
}
allow=$(metrics_allow) || exit 1

cp "$top/nginx/fastcgi_params" "$data/fastcgi_params.tmp"
mv -f "$data/fastcgi_params.tmp" "$data/fastcgi_params"

# Placeholders are replaced on every line but comments, so the template's
# own documentation of them stays readable in the rendered file.  The line
# with @LISTEN@ is repeated for each address, the one with @METRICS_ALLOW@
# once per allowed address (and dropped when there is none).
{
	echo "# Generated by util/mkconf.sh from nginx/berth.conf.in: regenerated on"
	echo "# every start, edit the template or $conf instead."
	echo
	awk -v listen="$(listen_addrs | sed "s/\$/:$port/" | tr '\n' ' ')" \
	    -v allow="$(printf '%s' "$allow" | tr '\n' ' ')" '
		# the line once per word of words, with ph replaced by
		# before word after
		function each(line, ph, words, before, after,    n, w, i, l) {
			n = split(words, w, " ")
			for (i = 1; i <= n; i++) {
				l = line
				sub(ph, before w[i] after, l)
				print l
			}
		}
		/^[[:space:]]*#/ { print; next }
		/@LISTEN@/ { each($0, "@LISTEN@", listen, "", ""); next }
		/@METRICS_ALLOW@/ { each($0, "@METRICS_ALLOW@", allow, "allow                    ", ";"); next }
		{ print }' "$top/nginx/berth.conf.in" |
	sed -e '/^[[:space:]]*#/b' \
	    -e "s|@USER@|$(esc "$user_line")|g" \
	    -e "s|@RUN@|$(esc "$data/run")|g" \
	    -e "s|@PORT@|$(esc "$port")|g" \
	    -e "s|@TLS_CERT@|$(esc "$data/tls-private/server.crt")|g" \
	    -e "s|@TLS_KEY@|$(esc "$data/tls-private/server.key")|g" \
	    -e "s|@FASTCGI_PARAMS@|$(esc "$data/fastcgi_params")|g" \
	    -e "s|@API_SOCK@|$(esc "$(nginx_sock "$sock")")|g" \
	    -e "s|@UPLOAD_SOCK@|$(esc "$(nginx_sock "$upload_sock")")|g" \
	    -e "s|@TOKEN_SOCK@|$(esc "$(nginx_sock "$token_sock")")|g" \
	    -e "s|@STORE@|$(esc "$store")|g" \
	    -e "s|@BLOB_LOCATION@|$(esc "$blob_location")|g" \
	    -e "s|@MAX_BODY@|$max_body|g" \
	    -e "s|@UPLOAD_BODY_TIMEOUT@|$((read_timeout + 5))|g"
} >"$data/nginx.conf.tmp"
if grep -v '^[[:space:]]*#' "$data/nginx.conf.tmp" | grep -n '@[A-Z_]*@' >&2; then
	echo "$0: unreplaced placeholders above" >&2
	exit 1
fi
mv -f "$data/nginx.conf.tmp" "$data/nginx.conf"
