#!/bin/sh
# tests/layers.sh [DIR] - no #include runs upward.
#
# berth's C folders are layers, bottom to top (README, "The source"):
#
#   util (1) -> oci (2) -> store, auth (3) -> fcgi, ctl (4)
#
# A file may include its own folder and any folder below it; it may not
# include a folder above it, nor the one beside it on the same floor (store
# and auth know nothing of each other, nor do fcgi and ctl).  tests/ and
# bench/ sit above everything: they may include anything and nothing may
# include them.  The rule is what lets a layer be understood, tested and
# replaced (a second store backend, auth without HTTP) from below: a single
# upward include is a cycle waiting to happen, so it fails `make test`.
#
# Both "..." and <...> includes are read (the build has -I.); a first path
# component that is not one of our folders (<openssl/sha.h>) is not ours to
# judge, and an include without a folder names a file beside the includer.
#
# Before the tree, the script checks itself on a made-up tree holding one
# example of every kind of violation and of every allowed include, so a
# check that silently passes everything fails here instead.  Output: one
# line per violation ("file:line: includes X: <why>") and the count line
# "layers.sh: N passed, N failed" that tests/run.sh adds up (a check per
# source file, plus the self-test's).  Exit status 0 only if nothing failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$top}
n_pass=0
n_fail=0

# scan DIR: print every violation under DIR, one per line.
scan() {
	(cd "$1" && find util oci store auth fcgi ctl -type f \( -name '*.c' -o -name '*.h' \) \
		2>/dev/null | LC_ALL=C sort | xargs -r awk '
	function level(d) {
		if (d == "util") return 1
		if (d == "oci") return 2
		if (d == "store" || d == "auth") return 3
		if (d == "fcgi" || d == "ctl") return 4
		if (d == "tests" || d == "bench") return 9
		return 0
	}
	FNR == 1 { split(FILENAME, p, "/"); own = p[1] }
	/^[ \t]*#[ \t]*include[ \t]*["<]/ {
		line = $0
		sub(/^[ \t]*#[ \t]*include[ \t]*["<]/, "", line)
		sub(/[">].*$/, "", line)
		if (index(line, "/") == 0)
			next
		dir = substr(line, 1, index(line, "/") - 1)
		if (dir == own || level(dir) == 0)
			next
		if (level(dir) > level(own))
			why = dir " is above " own
		else if (level(dir) == level(own))
			why = dir " is beside " own " (same floor)"
		else
			next
		printf "%s:%d: includes %s: %s\n", FILENAME, FNR, line, why
	}')
}

# files DIR: the number of files scan() reads.
files() {
	(cd "$1" && find util oci store auth fcgi ctl -type f \( -name '*.c' -o -name '*.h' \) \
		2>/dev/null | wc -l)
}

check() { # check OK DESCRIPTION
	if [ "$1" = 1 ]; then
		n_pass=$((n_pass + 1))
	else
		n_fail=$((n_fail + 1))
		echo "layers.sh: self-test: $2"
	fi
}

# A tree with one of each: the scan must name exactly the bad lines.
self_test() {
	t=$(mktemp -d "${TMPDIR:-/tmp}/berth-layers.XXXXXX") || return 1
	mkdir -p "$t/util" "$t/oci" "$t/store" "$t/auth" "$t/fcgi" "$t/ctl"
	printf '#include "util/err.h"\n#include "oci/ref.h"\n' >"$t/util/up.c"
	printf '#include <stdio.h>\n#include <openssl/sha.h>\n#include "fs.h"\n' >"$t/util/ok.c"
	printf '#include "util/err.h"\n  #  include <store/store.h>\n' >"$t/oci/up.h"
	printf '#include "oci/ref.h"\n#include "util/fs.h"\n#include "auth/x.h"\n' >"$t/store/beside.c"
	printf '#include "store/store.h"\n' >"$t/auth/beside.c"
	printf '#include "tests/unit/unit.h"\n' >"$t/auth/tests.c"
	printf '#include "store/store.h"\n#include "auth/access.h"\n#include "ctl/ctl.h"\n' \
		>"$t/fcgi/beside.c"
	printf '#include "fcgi/request.h"\n' >"$t/ctl/beside.c"
	printf '#include "auth/access.h"\n#include "store/store.h"\n#include "ctl.h"\n' \
		>"$t/ctl/ok.c"
	printf '/* #include "fcgi/request.h" in a comment */\n' >"$t/store/comment.c"
	got=$(scan "$t")
	want="auth/beside.c:1: includes store/store.h: store is beside auth (same floor)
auth/tests.c:1: includes tests/unit/unit.h: tests is above auth
ctl/beside.c:1: includes fcgi/request.h: fcgi is beside ctl (same floor)
fcgi/beside.c:3: includes ctl/ctl.h: ctl is beside fcgi (same floor)
oci/up.h:2: includes store/store.h: store is above oci
store/beside.c:3: includes auth/x.h: auth is beside store (same floor)
util/up.c:2: includes oci/ref.h: oci is above util"
	check "$([ "$got" = "$want" ] && echo 1)" "scan of the sample tree gave:
$got"
	check "$([ "$(files "$t")" = 10 ] && echo 1)" "sample tree: $(files "$t") files, want 10"
	rm -rf "$t"
}

self_test
bad=$(scan "$root")
total=$(files "$root")
nbad=0
if [ -n "$bad" ]; then
	printf '%s\n' "$bad"
	nbad=$(printf '%s\n' "$bad" | cut -d: -f1 | sort -u | wc -l)
fi
n_pass=$((n_pass + total - nbad))
n_fail=$((n_fail + nbad))
[ "$total" -gt 0 ] || { echo "layers.sh: no source files under $root"; n_fail=$((n_fail + 1)); }
echo "layers.sh: $n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]
