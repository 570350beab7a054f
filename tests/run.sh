#!/bin/sh
# tests/run.sh [unit|integration|all] - run berth's tests and add them up.
#
#   unit         tests/layers.sh (no #include runs upward), then every
#                $BUILD/tests/test_* program (built from tests/unit/)
#   integration  every tests/integration/t[0-9]*.sh, in numeric order
#   all          both (the default; what `make test` runs)
#
# Each test prints "<file>: N passed, N failed" as its last count line; this
# script shows every file's output as it runs and ends with exactly one line
# "N passed, N failed" over all of them.  A test that crashed, timed out,
# printed no count or exited non-zero with 0 failures counts as 1 failed.
# Exit status 0 only if nothing failed.
#
# Environment: BUILD (default build), BERTH_TEST_TIMEOUT (seconds per file,
# default 1800), BERTH_VERBOSE=1 (print passing assertions too),
# BERTH_KEEP=1 (keep the trash directory of a failed integration test).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
export BUILD
what=${1:-all}
timeout_s=${BERTH_TEST_TIMEOUT:-1800}

case $what in
unit|integration|all) ;;
*) echo "usage: $0 [unit|integration|all]" >&2; exit 2 ;;
esac

total_pass=0
total_fail=0
child=
out=$(mktemp "${TMPDIR:-/tmp}/berth-run.XXXXXX")
trap 'rm -f "$out"' EXIT
# Ctrl-C or SIGTERM: the running test gets SIGTERM, on which it stops what
# it started and removes its trash directory; then we stop too.
on_signal() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# run_one NAME CMD...: run CMD in the background (so that a signal reaches
# us at once), show its output live, then add up its count line.
run_one() {
	name=$1; shift
	: >"$out"
	if command -v timeout >/dev/null 2>&1; then
		# --foreground: stay in our process group, so that nothing a test
		# starts escapes a Ctrl-C.
		timeout --foreground -k 30 "$timeout_s" "$@" >"$out" 2>&1 &
	else
		"$@" >"$out" 2>&1 &
	fi
	child=$!
	tail -n +1 -f --pid="$child" "$out" 2>/dev/null &
	tailer=$!
	wait "$child"
	rc=$?
	child=
	wait "$tailer" 2>/dev/null
	line=$(grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "$name: no count printed (exit $rc): counted as 1 failed"
		total_fail=$((total_fail + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/')
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "$name: exited $rc after reporting no failure: counted as 1 failed"
		f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

if [ "$what" != integration ]; then
	run_one layers.sh sh "$top/tests/layers.sh"
	for t in "$BUILD"/tests/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		run_one "$(basename "$t")" "$t"
	done
fi

if [ "$what" != unit ]; then
	# In numeric order (t95 before t100); test file names have no blanks.
	for t in $(cd "$top/tests/integration" && ls t[0-9]*.sh 2>/dev/null | sort -V); do
		run_one "$t" bash "$top/tests/integration/$t"
	done
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
