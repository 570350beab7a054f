# tests/fault/lib-fault.sh - fault injection for the integration tests, with
# libberthfault.so (tests/fault/fault.c, built by `make` into
# $BUILD/tests/).  Sourced after tests/lib.sh, before berth_start:
#
#   . "$(dirname "$0")/../fault/lib-fault.sh"
#   fault_preload                       # berthd starts with the shim
#   berth_start
#   fault_set "fsync ENOSPC $STORE/uploads/"
#   req PATCH ...                       # fails with 507
#   fault_clear
#
# The shim reads its rules from $FAULT_FILE on every wrapped call, so faults
# go on and off between requests without a restart; each one it injects is
# a line of $FAULT_LOG (fault_fired counts them, so a test can tell that
# the fault it set up was hit).  Under an ASan build (make check) the ASan
# runtime is preloaded first, as it demands.

FAULT_LIB=$BUILD/tests/libberthfault.so
FAULT_FILE=$TRASH/fault.rules
FAULT_LOG=$TRASH/fault.log

# fault_preload: berthd (and fault_ctl) will run with the shim.
fault_preload() {
	local asan
	[ -f "$FAULT_LIB" ] || skip_all "$FAULT_LIB not built (make BUILD=...)"
	asan=$(ldd "$BUILD/berthd" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
	BERTHD_PRELOAD="${asan:+$asan }$FAULT_LIB"
	export BERTH_FAULT_FILE=$FAULT_FILE BERTH_FAULT_LOG=$FAULT_LOG
	rm -f "$FAULT_FILE"
	: >"$FAULT_LOG"
}

# fault_set RULE...: replace the rules ("OP ERRNO SUBSTRING [COUNT]", see
# tests/fault/fault.c), atomically.
fault_set() {
	printf '%s\n' "$@" >"$FAULT_FILE.new" && mv -f "$FAULT_FILE.new" "$FAULT_FILE"
}

fault_clear() { rm -f "$FAULT_FILE"; }

# fault_fired: how many faults the shim has injected so far.
fault_fired() { wc -l <"$FAULT_LOG" | tr -d ' '; }

# fault_ctl ARGS...: berthctl with the shim (gc under faults).
fault_ctl() {
	env LD_PRELOAD="$BERTHD_PRELOAD" "$BUILD/berthctl" -c "$DATA/berth.conf" "$@"
}
