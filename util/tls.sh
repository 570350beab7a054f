#!/bin/sh
# tls.sh DIR [HOSTNAME|IP ...] - a private CA and a server certificate for nginx.
#
# Creates, each only if absent (an administrator's own files are never
# replaced):
#   DIR/ca.key  DIR/ca.crt          the CA; clients trust ca.crt
#   DIR/server.key DIR/server.crt   signed by the CA, for 127.0.0.1, ::1,
#                                   localhost, $(hostname) and every argument
# Keys are mode 0600.  Files are written under temporary names and renamed,
# so an interrupted run never leaves half a key behind.
set -eu

usage() { echo "usage: $0 DIR [HOSTNAME|IP ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
dir=$1; shift
command -v openssl >/dev/null 2>&1 || { echo "$0: openssl not found (apt-get install openssl)" >&2; exit 1; }

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d "$dir/.tls.XXXXXX")
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

if [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
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
	mv -f "$tmp/ca.key" "$dir/ca.key"
	mv -f "$tmp/ca.crt" "$dir/ca.crt"
	# A new CA invalidates a server certificate signed by an older one.
	rm -f "$dir/server.crt"
	echo "tls: created CA $dir/ca.crt"
fi

if [ ! -f "$dir/server.crt" ] || [ ! -f "$dir/server.key" ]; then
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
		-CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-CAserial "$tmp/ca.srl" -extfile "$tmp/ext" \
		-out "$tmp/server.crt" 2>/dev/null
	chmod 0600 "$tmp/server.key"
	chmod 0644 "$tmp/server.crt"
	mv -f "$tmp/server.key" "$dir/server.key"
	mv -f "$tmp/server.crt" "$dir/server.crt"
	echo "tls: created server certificate $dir/server.crt ($san)"
fi
