#!/bin/sh
# tls.sh [-p PRIVATE] DIR [HOSTNAME|IP ...] - a private CA and a server
# certificate for nginx.
#
# Creates, each only if absent (an administrator's own files are never
# replaced):
#   DIR/ca.crt                          the CA: what clients trust
#   PRIVATE/ca.key                      the CA's key
#   PRIVATE/server.key PRIVATE/server.crt  signed by the CA, for 127.0.0.1,
#                                       ::1, localhost, $(hostname) and every
#                                       argument; nginx reads them
# PRIVATE defaults to DIR (one folder for a test's slapd); util/mkconf.sh
# keeps them apart because DIR is the folder clients are told to use:
# `podman --cert-dir DIR`, `skopeo --cert-dir DIR` (containers/image) read
# every *.crt there as a CA to trust and refuse a *.key without its
# client *.cert ("missing client certificate ca.cert for key ca.key").  So
# DIR holds ca.crt and nothing private.  A DIR from before this split (keys
# and server certificate beside ca.crt) has them moved to PRIVATE, never
# regenerated: the clients that trust the CA keep trusting it.
#
# PRIVATE is mode 0700, keys 0600.  Files are written under temporary names
# and renamed, so an interrupted run never leaves half a key behind.
set -eu

usage() { echo "usage: $0 [-p PRIVATE] DIR [HOSTNAME|IP ...]" >&2; exit 2; }
priv=
while getopts p: opt; do
	case $opt in
	p) priv=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
dir=$1; shift
priv=${priv:-$dir}
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$dir"
umask 077
mkdir -p "$priv"
[ "$priv" = "$dir" ] || chmod 0700 "$priv"

# The old layout: DIR's private files go to PRIVATE.  One already there
# (a run that stopped half-way) wins if equal; a different one is kept
# beside it, renamed, for the administrator to look at.
if [ "$priv" != "$dir" ]; then
	for f in ca.key server.key server.crt; do
		[ -f "$dir/$f" ] || continue
		if [ ! -e "$priv/$f" ]; then
			mv "$dir/$f" "$priv/$f"
			echo "tls: moved $dir/$f to $priv/ (clients read $dir)" >&2
		elif cmp -s "$dir/$f" "$priv/$f"; then
			rm -f "$dir/$f"
		else
			mv -f "$dir/$f" "$priv/$f.from-$(basename "$dir")"
			echo "tls: $dir/$f differs from $priv/$f: kept as $priv/$f.from-$(basename "$dir")" >&2
		fi
	done
fi

tmp=$(mktemp -d "$priv/.tls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# Subject Alternative Names: IP addresses as IP:, everything else as DNS:.
san="IP:127.0.0.1,IP:::1,DNS:localhost"
host=$(hostname 2>/dev/null || true)
for name in ${host:+"$host"} "$@"; do
	case $name in
	127.0.0.1|::1|localhost|'') continue ;;
	*[!0-9.]*)
		case $name in
		*:*) san="$san,IP:$name" ;;     # IPv6
		*)   san="$san,DNS:$name" ;;
		esac ;;
	*) san="$san,IP:$name" ;;           # IPv4
	esac
done

if [ ! -f "$dir/ca.crt" ] || [ ! -f "$priv/ca.key" ]; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$tmp/ca.key" 2>/dev/null
	openssl req -x509 -new -sha256 -days 3650 -key "$tmp/ca.key" \
		-subj "/CN=berth local CA ${host:-}/O=berth" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$tmp/ca.crt"
	chmod 0600 "$tmp/ca.key"
	chmod 0644 "$tmp/ca.crt"
	mv -f "$tmp/ca.key" "$priv/ca.key"
	mv -f "$tmp/ca.crt" "$dir/ca.crt"
	# A new CA invalidates a server certificate signed by an older one.
	rm -f "$priv/server.crt"
	echo "tls: created CA $dir/ca.crt"
fi

if [ ! -f "$priv/server.crt" ] || [ ! -f "$priv/server.key" ]; then
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$tmp/server.key" 2>/dev/null
	openssl req -new -sha256 -key "$tmp/server.key" \
		-subj "/CN=${host:-localhost}/O=berth" -out "$tmp/server.csr"
	cat >"$tmp/ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	openssl x509 -req -sha256 -days 825 -in "$tmp/server.csr" \
		-CA "$dir/ca.crt" -CAkey "$priv/ca.key" -CAcreateserial \
		-CAserial "$tmp/ca.srl" -extfile "$tmp/ext" \
		-out "$tmp/server.crt" 2>/dev/null
	chmod 0600 "$tmp/server.key"
	chmod 0644 "$tmp/server.crt"
	mv -f "$tmp/server.key" "$priv/server.key"
	mv -f "$tmp/server.crt" "$priv/server.crt"
	echo "tls: created server certificate $priv/server.crt ($san)"
fi
