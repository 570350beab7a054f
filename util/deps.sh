#!/bin/sh
# deps.sh - install what berth needs to build, run and be tested, and only that.
#
# Checks each Debian package (dpkg-query, or the command it provides being on
# PATH, for tools installed some other way) and installs only the missing
# ones, with one `apt-get update` first and only when something is missing.
# As root on Debian 12 this is all `make run`/`make test`/CI need; as another
# user it prints the apt-get line to run and exits 1.
#
# Not installed here: clang (only for `make fuzz`: apt-get install clang).
set -eu

# package:command - the command is checked too, so that e.g. a docker that
# came from elsewhere counts; an empty command means "dpkg only".
build="gcc:gcc make:make pkg-config:pkg-config libfcgi-dev: libssl-dev: libjansson-dev: libldap-dev:"
runtime="nginx:nginx openssl:openssl"
# Test tools: curl/jq drive the API, skopeo/podman/docker are real clients,
# slapd/ldap-utils back the LDAP tests, iproute2 gives `ss` (free ports),
# prometheus gives promtool and the server that scrapes the stack (t160).
tests="curl:curl jq:jq skopeo:skopeo podman:podman docker.io:dockerd slapd:slapd ldap-utils:ldapsearch iproute2:ss prometheus:promtool systemd:systemd-analyze groff-base:groff mandoc:mandoc libfcgi-bin:cgi-fcgi dpkg-dev:dpkg-shlibdeps lintian:lintian"

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=
for entry in $build $runtime $tests; do
	pkg=${entry%%:*}
	cmd=${entry#*:}
	if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	if command -v dpkg-query >/dev/null 2>&1 && installed "$pkg"; then
		continue
	fi
	missing="$missing $pkg"
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "berth needs these Debian packages, missing here:$missing" >&2
	echo "install them as root:  apt-get install$missing" >&2
	exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Installing a daemon (nginx, slapd, dockerd) must not start the system's
# copy of it: berth starts its own instances on loopback ports.  Debian's
# maintainer scripts ask /usr/sbin/policy-rc.d, and 101 means "don't".
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT INT TERM

apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q -o Dpkg::Options::=--force-confdef \
	-o Dpkg::Options::=--force-confold $missing
