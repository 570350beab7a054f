#!/bin/sh
# run.sh - build the libFuzzer targets with clang and run each for a bounded
# time.  Exits non-zero if a target fails to build or finds a crash, leak or
# sanitizer report (the reproducer is left in $BUILD/fuzz/<target>/).
#
#   BUILD=build-fuzz  output directory      FUZZ_TIME=20  seconds per target
#   CLANG=clang       compiler              TARGETS="digest ref range manifest jwt scope
#                                           basic query form request"
#
# The seeds in tests/fuzz/corpus/<target>/ are read but never written: new
# inputs go to $BUILD/fuzz/<target>/corpus so runs accumulate coverage
# without touching the source tree.
set -u

BUILD=${BUILD:-build-fuzz}
CLANG=${CLANG:-clang}
FUZZ_TIME=${FUZZ_TIME:-20}
TARGETS=${TARGETS:-"digest ref range manifest jwt scope basic query form request"}
FLAGS="-std=gnu11 -g -O1 -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer"
COMMON="util/err.c util/log.c"

cd "$(dirname "$0")/../.." || exit 1
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found (apt-get install clang)" >&2
	exit 1
fi

sources() {
	case $1 in
	digest)   echo "oci/digest.c $COMMON -lcrypto" ;;
	ref)      echo "oci/ref.c $COMMON -lcrypto" ;;
	range)    echo "fcgi/range.c $COMMON" ;;
	manifest) echo "oci/manifest.c oci/digest.c util/mem.c $COMMON -ljansson -lcrypto" ;;
	jwt)   echo "auth/jwt.c auth/keyring.c auth/b64url.c util/fs.c util/mem.c $COMMON -ljansson -lcrypto" ;;
	scope) echo "auth/scope.c oci/ref.c $COMMON -ljansson -lcrypto" ;;
	basic) echo "auth/basic.c util/mem.c $COMMON -lcrypto" ;;
	query) echo "fcgi/request.c util/mem.c $COMMON -ljansson" ;;
	form)  echo "fcgi/request.c util/mem.c auth/scope.c oci/ref.c $COMMON -ljansson -lcrypto" ;;
	request) echo "fcgi/request.c fcgi/errors.c util/mem.c $COMMON -ljansson" ;;
	*)        return 1 ;;
	esac
}

failed=0
passed=0
for t in $TARGETS; do
	src=$(sources "$t") || { echo "fuzz: unknown target $t" >&2; failed=$((failed + 1)); continue; }
	out="$BUILD/fuzz/$t"
	mkdir -p "$out/corpus"
	# shellcheck disable=SC2086
	if ! $CLANG $FLAGS -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" $src; then
		echo "fuzz: $t: build failed" >&2
		failed=$((failed + 1))
		continue
	fi
	dict=
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	echo "fuzz: $t: running for ${FUZZ_TIME}s"
	# shellcheck disable=SC2086
	if "$out/fuzz_$t" -max_total_time="$FUZZ_TIME" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" $dict \
		"$out/corpus" "tests/fuzz/corpus/$t" >"$out/log" 2>&1; then
		echo "fuzz: $t: ok ($(ls "$out/corpus" | wc -l) inputs in corpus)"
		passed=$((passed + 1))
	else
		echo "fuzz: $t: FAILED, see $out/log; reproducer:" >&2
		ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null >&2
		tail -n 40 "$out/log" >&2
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
