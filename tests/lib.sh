# tests/lib.sh - the integration test harness (bash), in the spirit of git's
# t/test-lib.sh.  Every tests/integration/tNN-*.sh sources it:
#
#   . "$(dirname "$0")/../lib.sh"
#   need_cmd curl jq
#   berth_start
#   req GET /v2/
#   expect_status 200
#   test_done
#
# What it gives a test:
#   - a trash directory $TRASH under ${TMPDIR:-/tmp} (mode 0755 so nginx's
#     workers can traverse it) holding the data directory $DATA (configs
#     rendered by util/mkconf.sh, the store $STORE, the run directory $RUN);
#   - berthd + nginx on a free loopback port ($PORT, $URL), started by
#     berth_start and stopped by berth_stop or, whatever happens, by the
#     EXIT trap, which ends every process the harness started by its PID and
#     removes $TRASH (kept when a test failed and BERTH_KEEP=1, or always
#     with BERTH_KEEP=always);
#   - assertions (ok, expect_*) that count passes and failures, and
#     test_done, which prints "<file>: N passed, N failed" and sets the exit
#     status.  Failures are always printed; passes with BERTH_VERBOSE=1.
#   - req METHOD PATH [curl args]: one HTTPS request through nginx with TLS
#     checked against the test CA, setting $STATUS, $HDRS (header file) and
#     $BODY (body file); hdr NAME reads a header of the last answer.
#
# Environment: BUILD (default build), BERTH_VERBOSE, BERTH_KEEP, TMPDIR.

set -u

BERTH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$BERTH_TOP/$BUILD ;; esac
TEST_FILE=$(basename "$0")
TEST_NAME=${TEST_FILE%.sh}

N_PASS=0
N_FAIL=0
N_ASSERT=0
BERTH_DONE=
BERTHD_PID=
NGINX_PID=
BERTH_EXTRA_PIDS=()
BERTH_CONF_OVERRIDES=()
PORT=
URL=

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/berth-$TEST_NAME.XXXXXX") || {
	echo "$TEST_FILE: cannot create a trash directory" >&2
	echo "$TEST_FILE: 0 passed, 1 failed"
	exit 1
}
chmod 0755 "$TRASH"
DATA=$TRASH/data
STORE=$DATA/store
RUN=$DATA/run
HDRS=$TRASH/last.hdrs
BODY=$TRASH/last.body
STATUS=
LAST_REQ=

# ---------------------------------------------------------------- reporting

say() { printf '%s\n' "$*"; }
note() { [ -z "${BERTH_VERBOSE:-}" ] || printf '# %s\n' "$*"; }

pass() {
	N_PASS=$((N_PASS + 1)); N_ASSERT=$((N_ASSERT + 1))
	[ -z "${BERTH_VERBOSE:-}" ] || say "ok $N_ASSERT - $1"
}

# fail DESCRIPTION [DETAIL...]
fail() {
	N_FAIL=$((N_FAIL + 1)); N_ASSERT=$((N_ASSERT + 1))
	say "not ok $N_ASSERT - $TEST_NAME: $1"
	shift
	local line
	for line in "$@"; do say "#   $line"; done
}

# ok DESCRIPTION CMD [ARGS...]: passes when CMD exits 0.  CMD's output is
# shown only when it fails.
ok() {
	local desc=$1; shift
	if "$@" >"$TRASH/ok.out" 2>&1; then
		pass "$desc"
	else
		fail "$desc" "command failed: $*" "$(head -c 400 "$TRASH/ok.out")"
	fi
}

# ok_not DESCRIPTION CMD [ARGS...]: passes when CMD exits non-zero.
ok_not() {
	local desc=$1; shift
	if "$@" >"$TRASH/ok.out" 2>&1; then
		fail "$desc" "command unexpectedly succeeded: $*" "$(head -c 400 "$TRASH/ok.out")"
	else
		pass "$desc"
	fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got:  '$2'" "want: '$3'"; fi
}

# skip_all REASON: the whole file cannot run here (a tool is missing).
skip_all() {
	say "$TEST_FILE: skipped: $*"
	BERTH_DONE=1
	say "$TEST_FILE: 0 passed, 0 failed"
	exit 0
}

# need_cmd CMD...: skip_all unless every command is on PATH.
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
	done
}

# bail REASON: the test cannot go on (the stack did not start, ...).
bail() {
	fail "$*"
	test_done
}

test_done() {
	BERTH_DONE=1
	say "$TEST_FILE: $N_PASS passed, $N_FAIL failed"
	if [ "$N_FAIL" -gt 0 ]; then exit 1; fi
	exit 0
}

# ---------------------------------------------------------------- cleanup

berth_track_pid() { BERTH_EXTRA_PIDS+=("$1"); }

berth_cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	if [ -z "$BERTH_DONE" ]; then
		# The script died before test_done: that is a failure.
		fail "test script ended early (exit $rc)"
		say "$TEST_FILE: $N_PASS passed, $N_FAIL failed"
		rc=1
	fi
	berth_stop >/dev/null 2>&1
	berth_reap_orphans >/dev/null 2>&1
	for pid in "${BERTH_EXTRA_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	if [ "$N_FAIL" -gt 0 ] && [ -n "${BERTH_KEEP:-}" ] || [ "${BERTH_KEEP:-}" = always ]; then
		say "# $TEST_FILE: kept $TRASH"
	elif awk -v d="$TRASH/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts 2>/dev/null; then
		# rm -rf must never walk into a mount a client left behind.
		say "# $TEST_FILE: something is still mounted below $TRASH; not removing it"
	else
		rm -rf "$TRASH"
	fi
	exit "$rc"
}
trap berth_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- processes

# berth_free_port: a loopback TCP port nobody listens on, below the
# ephemeral range so that outgoing connections cannot take it meanwhile.
berth_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# berth_conf KEY VALUE: set a berth.conf key for the next berth_setup/start
# (e.g. berth_conf upload_ttl 2).  After the stack has started, call
# berth_restart_pool (or berth_reload) for it to take effect.
berth_conf() {
	BERTH_CONF_OVERRIDES+=("$1=$2")
	if [ -f "$DATA/berth.conf" ]; then berth_apply_conf; fi
}

berth_apply_conf() {
	local kv key val
	for kv in "${BERTH_CONF_OVERRIDES[@]}"; do
		key=${kv%%=*}; val=${kv#*=}
		sed -i -e "/^[[:space:]]*${key}[[:space:]]*=/d" "$DATA/berth.conf"
		printf '%s = %s\n' "$key" "$val" >>"$DATA/berth.conf"
	done
	BERTH_CONF_OVERRIDES=()
}

# berth_setup: render the configs (util/mkconf.sh) on a free port.
berth_setup() {
	# A unix socket path has room for 107 bytes.
	[ ${#RUN} -le 80 ] || bail "TMPDIR too long for unix socket paths: $RUN/upload.sock"
	PORT=$(berth_free_port) || bail "no free port"
	URL=https://127.0.0.1:$PORT
	AUTH=${BERTH_AUTH:-none} sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT" || bail "util/mkconf.sh failed"
	if [ ${#BERTH_CONF_OVERRIDES[@]} -gt 0 ]; then
		berth_apply_conf
		AUTH=${BERTH_AUTH:-none} sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT" || bail "util/mkconf.sh failed"
	fi
	CACERT=$DATA/tls/ca.crt
	CERTDIR=$DATA/tls
}

# berth_conf_get KEY: its value in berth.conf, or empty (util/conf-get.awk:
# the rules of util/config.c).
berth_conf_get() {
	awk -v key="$1" -f "$BERTH_TOP/util/conf-get.awk" "$DATA/berth.conf"
}

# Socket paths of the pools from berth.conf (unix sockets only): socket,
# upload_socket, token_socket.
berth_sockets() {
	local k v
	for k in socket upload_socket token_socket; do
		v=$(berth_conf_get "$k")
		case $v in /*) echo "$v" ;; esac
	done
}

# berth_start_pool: start berthd and wait for its sockets.
berth_start_pool() {
	local s i
	[ -x "$BUILD/berthd" ] || bail "$BUILD/berthd not built"
	for s in $(berth_sockets); do rm -f "$s"; done
	# BERTHD_PRELOAD: an LD_PRELOAD for berthd alone (tests/fault/lib-fault.sh)
	env ${BERTHD_PRELOAD:+LD_PRELOAD="$BERTHD_PRELOAD"} \
		"$BUILD/berthd" -c "$DATA/berth.conf" >>"$RUN/berthd.log" 2>&1 &
	BERTHD_PID=$!
	for i in $(seq 1 100); do
		if ! kill -0 "$BERTHD_PID" 2>/dev/null; then
			wait "$BERTHD_PID" 2>/dev/null
			BERTHD_PID=
			berth_show_logs
			bail "berthd exited at start"
		fi
		local all=1
		for s in $(berth_sockets); do [ -S "$s" ] || all=; done
		[ -z "$all" ] || return 0
		sleep 0.1
	done
	berth_show_logs
	bail "berthd did not create its sockets in 10 s"
}

# berth_stop_pool [SIGNAL]: stop berthd (default TERM: graceful) and wait.
berth_stop_pool() {
	local sig=${1:-TERM} i
	[ -n "$BERTHD_PID" ] || return 0
	kill -"$sig" "$BERTHD_PID" 2>/dev/null
	for i in $(seq 1 300); do
		kill -0 "$BERTHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BERTHD_PID" 2>/dev/null; then
		say "# berthd did not stop in 30 s after SIG$sig; killing it"
		berth_kill_pool
		return 0
	fi
	wait "$BERTHD_PID" 2>/dev/null
	BERTHD_PID=
	berth_reap_orphans
}

# berth_kill_pool: SIGKILL the master and every worker at once (a crash).
berth_kill_pool() {
	local pids
	[ -n "$BERTHD_PID" ] || return 0
	pids=$(berth_worker_pids)
	# shellcheck disable=SC2086 # one word per PID
	kill -KILL "$BERTHD_PID" $pids 2>/dev/null
	wait "$BERTHD_PID" 2>/dev/null
	BERTHD_PID=
	# shellcheck disable=SC2086
	berth_wait_gone $pids
	berth_reap_orphans
}

# berth_reap_orphans: SIGKILL any berthd process still running on this
# test's config once the master is gone (a worker forked just before the
# master died would otherwise keep serving the socket).  Found by its
# command line, which names this test's own $DATA, and killed by PID.
berth_reap_orphans() {
	local f p args left=()
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}; p=${p%/cmdline}
		{ mapfile -d '' args <"$f"; } 2>/dev/null || continue
		[ ${#args[@]} -gt 0 ] && [ "${args[0]##*/}" = berthd ] || continue
		case " ${args[*]} " in
		*" -c $DATA/berth.conf "*) left+=("$p") ;;
		esac
	done
	[ ${#left[@]} -gt 0 ] || return 0
	kill -KILL "${left[@]}" 2>/dev/null
	berth_wait_gone "${left[@]}"
}

berth_wait_gone() {
	local p i
	for p in "$@"; do
		for i in $(seq 1 100); do [ -d "/proc/$p" ] || break; sleep 0.05; done
	done
}

# berth_restart_pool: stop berthd gracefully and start it again (same store,
# same sockets); nginx stays up.  Waits until /v2/ answers.
berth_restart_pool() {
	berth_stop_pool TERM
	berth_start_pool
	berth_wait_ready
}

# berth_reload: SIGHUP (reread berth.conf, replace workers).
berth_reload() {
	[ -n "$BERTHD_PID" ] && kill -HUP "$BERTHD_PID"
}

berth_pool_pid() { echo "$BERTHD_PID"; }

# berth_children PID: direct children of PID (from /proc, no procps needed).
berth_children() {
	local parent=$1 f line fields
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		# The command name in parentheses may hold blanks: skip past it.
		read -r -a fields <<<"${line##*) }"
		if [ "${fields[1]:-}" = "$parent" ]; then
			f=${f#/proc/}; echo "${f%/stat}"
		fi
	done
}

# berth_descendants PID: every process below PID.
berth_descendants() {
	local p
	for p in $(berth_children "$1"); do
		echo "$p"
		berth_descendants "$p"
	done
}

# berth_worker_pids: every process of the pool but the master.
berth_worker_pids() {
	[ -n "$BERTHD_PID" ] || return 0
	berth_descendants "$BERTHD_PID" | tr '\n' ' '
	echo
}

# berth_start_nginx: start nginx; if it cannot bind its port (someone took
# it meanwhile) pick another one and render the config again.
berth_start_nginx() {
	local i
	for _ in 1 2 3 4 5; do
		: >"$RUN/nginx-error.log"
		nginx -e "$RUN/nginx-error.log" -p "$RUN" -c "$DATA/nginx.conf" \
			-g 'daemon off;' >>"$RUN/nginx.out" 2>&1 &
		NGINX_PID=$!
		for i in $(seq 1 100); do
			if ! kill -0 "$NGINX_PID" 2>/dev/null; then break; fi
			if ss -Htln "sport = :$PORT" 2>/dev/null | grep -q .; then return 0; fi
			sleep 0.1
		done
		if kill -0 "$NGINX_PID" 2>/dev/null; then
			berth_show_logs
			bail "nginx runs but does not listen on $PORT"
		fi
		wait "$NGINX_PID" 2>/dev/null
		NGINX_PID=
		if grep -q 'Address already in use' "$RUN/nginx-error.log" "$RUN/nginx.out" 2>/dev/null; then
			note "port $PORT taken, trying another"
			PORT=$(berth_free_port) || bail "no free port"
			URL=https://127.0.0.1:$PORT
			AUTH=${BERTH_AUTH:-none} sh "$BERTH_TOP/util/mkconf.sh" "$DATA" "$PORT" || bail "util/mkconf.sh failed"
			continue
		fi
		berth_show_logs
		bail "nginx did not start"
	done
	bail "nginx could not bind a port in 5 tries"
}

berth_stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

# berth_wait_ready: until https://127.0.0.1:$PORT/v2/ is answered by a worker.
berth_wait_ready() {
	local i code
	for i in $(seq 1 150); do
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CACERT" \
			--max-time 2 "$URL/v2/" 2>/dev/null)
		case $code in 200|401) return 0 ;; esac
		sleep 0.1
	done
	berth_show_logs
	bail "$URL/v2/ not answered in 15 s (last status $code)"
}

# berth_start: the whole stack, ready to serve.
berth_start() {
	need_cmd nginx curl jq ss openssl
	[ -n "$PORT" ] || berth_setup
	berth_start_pool
	berth_start_nginx
	berth_wait_ready
	note "berth at $URL, data $DATA"
}

berth_stop() {
	berth_stop_nginx
	berth_stop_pool TERM
}

berth_show_logs() {
	local f
	for f in "$RUN/berthd.log" "$RUN/nginx-error.log" "$RUN/nginx.out"; do
		[ -s "$f" ] || continue
		say "# --- tail of $f"
		tail -n 15 "$f" | sed 's/^/#   /'
	done
}

# ---------------------------------------------------------------- requests

# req METHOD PATH-OR-URL [curl args...]: one request through nginx.
# Sets STATUS, and writes the answer's headers to $HDRS and body to $BODY.
# PATH is sent as is (no ".." or "//" squashing by curl).
req() {
	local method=$1 target=$2; shift 2
	case $target in http*://*) ;; *) target=$URL$target ;; esac
	LAST_REQ="$method ${target#"$URL"}"
	# curl never reads a body for HEAD (and would write the headers to -o).
	local m=(-X "$method") out=$BODY
	[ "$method" = HEAD ] && { m=(--head); out=/dev/null; }
	: >"$HDRS"; : >"$BODY"
	STATUS=$(curl -sS --path-as-is --cacert "$CACERT" --max-time 600 \
		"${m[@]}" -D "$HDRS" -o "$out" -w '%{http_code}' "$@" "$target" 2>"$TRASH/curl.err")
	[ -n "$STATUS" ] || STATUS=000
	note "$LAST_REQ -> $STATUS"
}

# hdr NAME: value of header NAME in the last answer ('' if absent).  Only the
# final header block counts (not a "100 Continue").
hdr() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { v = ""; found = 0; next }
		{
			i = index($0, ":"); if (i == 0) next
			k = tolower(substr($0, 1, i - 1))
			if (k == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); found = 1 }
		}
		END { if (found) print v }' "$HDRS"
}

# hdr_count NAME: how many times NAME appears in the final header block.
hdr_count() {
	awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" '
		{ sub(/\r$/, "") }
		/^HTTP\// { c = 0; next }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) c++ }
		END { print c + 0 }' "$HDRS"
}

body_head() { head -c 300 "$BODY" | tr -d '\0'; }

expect_status() {
	if [ "$STATUS" = "$1" ]; then
		pass "$LAST_REQ: status $1"
	else
		fail "$LAST_REQ: status $1" "got status $STATUS" "body: $(body_head)" \
			"$(cat "$TRASH/curl.err" 2>/dev/null)"
	fi
}

expect_header() {
	local got
	got=$(hdr "$1")
	if [ "$got" = "$2" ]; then
		pass "$LAST_REQ: $1: $2"
	else
		fail "$LAST_REQ: $1: $2" "got $1: '$got' (status $STATUS)"
	fi
}

# expect_header_match NAME EXTENDED-REGEX (anchored by the caller)
expect_header_match() {
	local got
	got=$(hdr "$1")
	if printf '%s' "$got" | grep -Eq -- "$2"; then
		pass "$LAST_REQ: $1 ~ $2"
	else
		fail "$LAST_REQ: $1 ~ $2" "got $1: '$got' (status $STATUS)"
	fi
}

expect_header_present() {
	if [ "$(hdr_count "$1")" -gt 0 ]; then pass "$LAST_REQ: has $1"
	else fail "$LAST_REQ: has $1" "no $1 header (status $STATUS)"; fi
}

expect_no_header() {
	if [ "$(hdr_count "$1")" -eq 0 ]; then pass "$LAST_REQ: no $1"
	else fail "$LAST_REQ: no $1" "got $1: '$(hdr "$1")'"; fi
}

# The one header every answer must carry, exactly once.
expect_api_version() {
	local n
	n=$(hdr_count Docker-Distribution-API-Version)
	if [ "$n" = 1 ] && [ "$(hdr Docker-Distribution-API-Version)" = registry/2.0 ]; then
		pass "$LAST_REQ: Docker-Distribution-API-Version: registry/2.0"
	else
		fail "$LAST_REQ: Docker-Distribution-API-Version: registry/2.0" \
			"got $n header(s): '$(hdr Docker-Distribution-API-Version)'"
	fi
}

# expect_error_code CODE: body is {"errors":[{"code":CODE,"message":...}]}
# and Content-Type is JSON.
expect_error_code() {
	local got
	got=$(jq -r 'if (.errors | type) == "array" and (.errors | length) > 0
		and (.errors[0].message | type) == "string"
		then .errors[0].code else "(not an errors body)" end' "$BODY" 2>/dev/null)
	[ -n "$got" ] || got="(not JSON)"
	if [ "$got" = "$1" ]; then
		pass "$LAST_REQ: error code $1"
	else
		fail "$LAST_REQ: error code $1" "got $got (status $STATUS)" "body: $(body_head)"
	fi
}

# expect_error_code_in CODE...: one of several acceptable codes (where the
# specs leave the choice to the registry).
expect_error_code_in() {
	local got c
	got=$(jq -r '.errors[0].code // "(none)"' "$BODY" 2>/dev/null)
	[ -n "$got" ] || got="(not JSON)"
	for c in "$@"; do
		if [ "$got" = "$c" ]; then pass "$LAST_REQ: error code in $*"; return; fi
	done
	fail "$LAST_REQ: error code in $*" "got $got (status $STATUS)" "body: $(body_head)"
}

# expect_error STATUS CODE: the usual pair, plus the API version header.
expect_error() {
	expect_status "$1"
	expect_error_code "$2"
	expect_api_version
}

# expect_json_content_type: for ok/ok_not (no counting of its own).
expect_json_content_type() {
	case $(hdr Content-Type) in application/json*) return 0 ;; esac
	echo "#   Content-Type: '$(hdr Content-Type)'"
	return 1
}

# expect_body_file FILE: the body is exactly FILE's bytes.
expect_body_file() {
	if cmp -s "$BODY" "$1"; then
		pass "$LAST_REQ: body = $(basename "$1")"
	else
		fail "$LAST_REQ: body = $(basename "$1")" \
			"got $(wc -c <"$BODY") bytes, want $(wc -c <"$1")"
	fi
}

expect_body_empty() {
	if [ ! -s "$BODY" ]; then pass "$LAST_REQ: empty body"
	else fail "$LAST_REQ: empty body" "got: $(body_head)"; fi
}

# ---------------------------------------------------------------- the store

# store_state [SUBDIR...]: every file, directory and link of the store (or
# of the given parts of it, e.g. "blobs repos"), with the content hash of
# files; two equal states mean nothing changed there.
store_state() {
	(
		cd "$STORE" 2>/dev/null || exit 0
		local parts=("$@") p
		[ ${#parts[@]} -gt 0 ] || parts=(.)
		for p in "${parts[@]}"; do [ -e "$p" ] || continue
			find "$p" -mindepth 1 \( -type d -printf 'd %p\n' \) -o \
				\( -type l -printf 'l %p -> %l\n' \) -o \( -type f -printf 'f %p\n' \)
			find "$p" -type f -exec sha256sum {} +
		done | sort
	)
}

# store_mark [SUBDIR...]; ...; expect_store_unchanged DESC
STORE_MARK_SCOPE=()
store_mark() {
	STORE_MARK_SCOPE=("$@")
	store_state "$@" >"$TRASH/store.mark"
}
expect_store_unchanged() {
	store_state "${STORE_MARK_SCOPE[@]}" >"$TRASH/store.now"
	if cmp -s "$TRASH/store.mark" "$TRASH/store.now"; then
		pass "store unchanged: $1"
	else
		fail "store unchanged: $1" \
			"$(diff "$TRASH/store.mark" "$TRASH/store.now" | grep '^[<>]' | head -5 | tr '\n' ';')"
	fi
}

# store_files_of KIND: the files of the store (for "no new blob" checks).
store_blob_count() { find "$STORE/blobs" -type f 2>/dev/null | wc -l; }

# The store's file for a blob, for white-box checks.
blob_path() { local alg=${1%%:*} hex=${1#*:}; echo "$STORE/blobs/$alg/${hex:0:2}/$hex"; }

# ---------------------------------------------------------------- fixtures

# digest_of FILE [ALG]: "sha256:<hex>" (or sha512) of a file's bytes.
digest_of() {
	local alg=${2:-sha256}
	echo "$alg:$("${alg}sum" <"$1" | cut -d' ' -f1)"
}

size_of() { stat -c %s "$1"; }

# mk_random FILE BYTES
mk_random() { head -c "$2" /dev/urandom >"$1"; }

# mk_layer FILE: a small, real gzip'd tar layer (a few files), different on
# every call.  Prints nothing; see layer_diffid for its uncompressed digest.
mk_layer() {
	local out=$1 dir
	dir=$(mktemp -d "$TRASH/layer.XXXXXX")
	mkdir -p "$dir/etc" "$dir/usr/bin"
	echo "berth test layer $RANDOM$RANDOM $(date +%s%N)" >"$dir/etc/berth-release"
	head -c 2048 /dev/urandom >"$dir/usr/bin/payload"
	printf '#!/bin/sh\necho hello from berth\n' >"$dir/usr/bin/hello"
	chmod 0755 "$dir/usr/bin/hello"
	tar -C "$dir" --owner=0 --group=0 --numeric-owner -cf "$out.tar" etc usr
	gzip -n -c "$out.tar" >"$out"
	rm -rf "$dir"
}

# layer_diffid FILE: digest of the uncompressed tar (what a config lists).
layer_diffid() { echo "sha256:$(gzip -dc "$1" | sha256sum | cut -d' ' -f1)"; }

# mk_config FILE LAYER...: a real image config (OCI/Docker share the format).
mk_config() {
	local out=$1 l ids=()
	shift
	for l in "$@"; do ids+=("$(layer_diffid "$l")"); done
	jq -n --argjson ids "$(printf '%s\n' "${ids[@]}" | jq -R . | jq -s .)" '{
		architecture: "amd64", os: "linux",
		created: "2024-01-01T00:00:00Z",
		config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
		          Cmd: ["/usr/bin/hello"], WorkingDir: "/" },
		rootfs: { type: "layers", diff_ids: $ids },
		history: [ { created: "2024-01-01T00:00:00Z", created_by: "berth tests" } ]
	}' >"$out"
}

# mk_image_manifest FILE MEDIATYPE CONFIG LAYER...: an image manifest of
# either flavour (docker v2s2 or OCI), referencing the given files.
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
mk_image_manifest() {
	local out=$1 mt=$2 cfg=$3 cfg_mt layer_mt l layers=()
	shift 3
	if [ "$mt" = "$MT_DOCKER_MANIFEST" ]; then
		cfg_mt=application/vnd.docker.container.image.v1+json
		layer_mt=application/vnd.docker.image.rootfs.diff.tar.gzip
	else
		cfg_mt=application/vnd.oci.image.config.v1+json
		layer_mt=application/vnd.oci.image.layer.v1.tar+gzip
	fi
	for l in "$@"; do
		layers+=("$(jq -n --arg mt "$layer_mt" --arg d "$(digest_of "$l")" \
			--argjson s "$(size_of "$l")" '{mediaType: $mt, size: $s, digest: $d}')")
	done
	jq -n --arg mt "$mt" --arg cmt "$cfg_mt" --arg cd "$(digest_of "$cfg")" \
		--argjson cs "$(size_of "$cfg")" \
		--argjson layers "$(printf '%s\n' "${layers[@]}" | jq -s .)" '{
		schemaVersion: 2, mediaType: $mt,
		config: { mediaType: $cmt, size: $cs, digest: $cd },
		layers: $layers
	}' >"$out"
}

# mk_index FILE MEDIATYPE CHILD-MEDIATYPE MANIFEST...: a manifest list / index.
mk_index() {
	local out=$1 mt=$2 cmt=$3 m arch=(amd64 arm64 ppc64le s390x) i=0 entries=()
	shift 3
	for m in "$@"; do
		entries+=("$(jq -n --arg mt "$cmt" --arg d "$(digest_of "$m")" \
			--argjson s "$(size_of "$m")" --arg a "${arch[$i]}" \
			'{mediaType: $mt, size: $s, digest: $d, platform: {architecture: $a, os: "linux"}}')")
		i=$((i + 1))
	done
	jq -n --arg mt "$mt" --argjson m "$(printf '%s\n' "${entries[@]}" | jq -s .)" \
		'{schemaVersion: 2, mediaType: $mt, manifests: $m}' >"$out"
}

# push_blob REPO FILE [ALG]: monolithic upload (POST ?digest=), for setup.
# Returns non-zero unless the registry answered 201.
push_blob() {
	local d
	d=$(digest_of "$2" "${3:-sha256}")
	req POST "/v2/$1/blobs/uploads/?digest=$d" \
		-H 'Content-Type: application/octet-stream' --data-binary @"$2"
	[ "$STATUS" = 201 ]
}

# push_manifest REPO REFERENCE FILE MEDIATYPE: PUT, for setup.
push_manifest() {
	req PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" --data-binary @"$3"
	[ "$STATUS" = 201 ]
}

# push_image REPO TAG MEDIATYPE DIR: layers, config and manifest made in DIR
# (DIR/layer1.tgz DIR/layer2.tgz DIR/config.json DIR/manifest.json) and
# pushed; asserts each step.
push_image() {
	local repo=$1 tag=$2 mt=$3 dir=$4
	mkdir -p "$dir"
	mk_layer "$dir/layer1.tgz"
	mk_layer "$dir/layer2.tgz"
	mk_config "$dir/config.json" "$dir/layer1.tgz" "$dir/layer2.tgz"
	mk_image_manifest "$dir/manifest.json" "$mt" "$dir/config.json" \
		"$dir/layer1.tgz" "$dir/layer2.tgz"
	ok "push layer 1 to $repo" push_blob "$repo" "$dir/layer1.tgz"
	ok "push layer 2 to $repo" push_blob "$repo" "$dir/layer2.tgz"
	ok "push config to $repo" push_blob "$repo" "$dir/config.json"
	ok "push manifest $repo:$tag" push_manifest "$repo" "$tag" "$dir/manifest.json" "$mt"
}
