#!/bin/sh
# mkdeb.sh - `make deb`: berth_<version>_<arch>.deb into $BUILD.
#
# A binary package put together with dpkg-deb from a `make install
# DESTDIR=` tree rather than dpkg-buildpackage with debhelper: the tree is
# exactly what `make install PREFIX=/usr` lays out (and t170 checks), the
# build needs dpkg-dev alone, and nothing is laid out twice.  What
# debhelper would add is done here in its manner: binaries built with
# dpkg-buildflags (hardening) and stripped, man pages and the changelog
# gzipped with -9n (reproducible), Depends from dpkg-shlibdeps, the control
# file from debian/control and debian/changelog by dpkg-gencontrol,
# md5sums, files owned by root (dpkg-deb --root-owner-group, no fakeroot).
# debian/ holds what is the package's own: control, changelog, copyright,
# the maintainer scripts.  Everything below /etc is a conffile, so dpkg
# never overwrites an administrator's berth.conf or policy.
#
# Environment: BUILD (default build), VERSION (the Makefile's; must match
# debian/changelog).  Work tree: $BUILD/deb/.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
version=${VERSION:?VERSION not set}
cd "$top"

for c in dpkg-deb dpkg-shlibdeps dpkg-gencontrol dpkg-buildflags dpkg-parsechangelog; do
	command -v "$c" >/dev/null 2>&1 ||
		{ echo "mkdeb: $c missing (apt-get install dpkg-dev)" >&2; exit 1; }
done
clog=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "$clog" != "$version" ]; then
	echo "mkdeb: debian/changelog is at $clog, the Makefile's VERSION is $version:" >&2
	echo "mkdeb: add a changelog entry (dch -v $version) first" >&2
	exit 1
fi
arch=$(dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture)

work=$build/deb
obj=$work/obj
root=$work/root
rm -rf "$root"
mkdir -p "$obj"
umask 022

# Hardened objects of their own (flags are not make's prerequisites, so
# they must not share objects with the ordinary build).
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
make -s -C "$top" BUILD="$obj" VERSION="$version" "$obj/berthd" "$obj/berthctl"
make -s -C "$top" BUILD="$obj" VERSION="$version" install DESTDIR="$root" PREFIX=/usr >/dev/null

for b in "$root"/usr/sbin/*; do
	strip --remove-section=.comment --remove-section=.note --strip-unneeded "$b"
done
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
doc=$root/usr/share/doc/berth
install -m 0644 debian/copyright "$doc/copyright"
# A native package (no Debian revision): its changelog is changelog.gz.
gzip -9nc debian/changelog >"$doc/changelog.gz"

mkdir -p "$root/DEBIAN"
for s in postinst prerm postrm; do
	install -m 0755 "debian/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
# misc:Depends is debhelper's; nothing here adds to it.
echo 'misc:Depends=' >"$work/substvars"
dpkg-shlibdeps -T"$work/substvars" "$root"/usr/sbin/berthd "$root"/usr/sbin/berthctl
dpkg-gencontrol -pberth -v"$version" -cdebian/control -ldebian/changelog \
	-T"$work/substvars" -f"$work/files" -P"$root"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
	xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

deb=$build/berth_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
