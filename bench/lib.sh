# bench/lib.sh - the pieces of `make bench` (bench/run.sh sources it, bash).
#
#   install      the tools, from Debian's packages, only those missing
#   processes    every process started here is tracked by PID and stopped by
#                the EXIT trap; the temp directory $BT goes with it
#   the stacks   berth (util/mkconf.sh: its nginx with TLS, the pool, token
#                auth with a local user) and the reference (docker-registry
#                behind nginx with the same TLS, basic auth), each on a free
#                loopback port, both stores under $BT; the reference's
#                nginx also serves the ceilings (static files, a PUT sink,
#                and bench/fcgi-sink.c behind FastCGI: sinks_up)
#   measuring    one figure per function, one run per call; run.sh alternates
#                A B A B and keeps every run in $RAW ("KEY SYSTEM VALUE")
#   accounting   CPU seconds and PSS/RSS of groups of processes, from /proc

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$BENCH_TOP/$BUILD ;; esac

MIB=1048576
PIDS=()          # everything to stop at exit, in order
BT=              # the temp directory (stores, configs, test files)
RAW=             # every single measurement: "key system value"

say() { printf '%s\n' "$*"; }
note() { printf '# %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- install

# bench_install: the tools the bench drives, from Debian, only if missing.
bench_install() {
	local entry pkg cmd missing=
	for entry in docker-registry:docker-registry nginx:nginx wrk:wrk apache2-utils:ab \
		apache2-utils:htpasswd skopeo:skopeo curl:curl openssl:openssl jq:jq \
		python3:python3 iproute2:ss slapd:slapd ldap-utils:ldapsearch; do
		pkg=${entry%%:*} cmd=${entry#*:}
		command -v "$cmd" >/dev/null 2>&1 && continue
		[ -x "/usr/sbin/$cmd" ] && continue
		case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
	done
	[ -n "$missing" ] || return 0
	[ "$(id -u)" = 0 ] || die "missing:$missing; as root: apt-get install$missing"
	note "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q $missing >"${TMPDIR:-/tmp}/bench-apt.log" 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  apt-get install -y -q $missing >>"${TMPDIR:-/tmp}/bench-apt.log" 2>&1; } ||
		die "apt-get install$missing failed; see ${TMPDIR:-/tmp}/bench-apt.log"
	# Debian starts the services it installs: the bench starts its own.
	for pkg in docker-registry slapd; do
		case " $missing " in *" $pkg "*)
			systemctl stop "$pkg" >/dev/null 2>&1 || true ;;
		esac
	done
}

# ---------------------------------------------------------------- processes

bench_track() { PIDS+=("$1"); }

# descendants PID: every process below PID (from /proc).
descendants() {
	local parent=$1 f line fields kids=()
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		read -r -a fields <<<"${line##*) }"
		[ "${fields[1]:-}" = "$parent" ] && { f=${f#/proc/}; kids+=("${f%/stat}"); }
	done
	for f in "${kids[@]}"; do echo "$f"; descendants "$f"; done
}

# group PID: PID and its descendants, one line.
group() { { echo "$1"; descendants "$1"; } | tr '\n' ' '; }

# stop_pid PID [SECONDS]: TERM, wait, then KILL what is left of PID and the
# descendants it had when asked (a master's workers).
stop_pid() {
	local pid=$1 secs=${2:-10} kids i
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # one word per PID
	kill -KILL "$pid" $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

bench_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${PIDS[$i]}" 15
	done
	# A slapd stopped for the hung-directory figure must wake to hear TERM.
	[ -n "${SLAPD_PID:-}" ] && kill -CONT "$SLAPD_PID" 2>/dev/null
	[ -n "${LDAP_DIR:-}" ] && sh "$BENCH_TOP/tests/ldap/slapd.sh" stop "$LDAP_DIR" >/dev/null 2>&1
	if [ -n "$BT" ] && [ -d "$BT" ]; then
		if [ -n "${BENCH_KEEP:-}" ]; then note "kept $BT"; else rm -rf "$BT"; fi
	fi
	exit "$rc"
}

# free_port: a loopback TCP port nobody listens on (below the ephemeral range).
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 12000))
		case " ${TAKEN_PORTS:-} " in *" $p "*) continue ;; esac
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			TAKEN_PORTS="${TAKEN_PORTS:-} $p"
			echo "$p"
			return 0
		fi
	done
	return 1
}

wait_listen() { # PORT PID WHAT
	local i
	for i in $(seq 1 100); do
		ss -Htln "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$2" 2>/dev/null || die "$3 exited at start"
		sleep 0.1
	done
	die "$3 does not listen on $1"
}

# ---------------------------------------------------------------- the stacks

# conf_set FILE KEY VALUE: set a berth.conf key (last one wins).
conf_set() {
	sed -i -e "/^[[:space:]]*$2[[:space:]]*=/d" "$1"
	printf '%s = %s\n' "$2" "$3" >>"$1"
}

# berth_up: berth's data dir, pool and nginx; sets B_URL B_PORT B_CA B_POOL
# B_NGINX B_DATA B_USER B_PASS.  LDAP settings from $LDAP_DIR/env if set.
berth_up() {
	B_DATA=$BT/berth
	B_PORT=$(free_port) || die "no free port"
	AUTH=token sh "$BENCH_TOP/util/mkconf.sh" "$B_DATA" "$B_PORT" >/dev/null ||
		die "util/mkconf.sh failed"
	local conf=$B_DATA/berth.conf
	conf_set "$conf" log_level warn
	conf_set "$conf" login_fail_limit 1000000
	if [ -n "${LDAP_URI:-}" ]; then
		conf_set "$conf" ldap_uri "$LDAP_URI"
		conf_set "$conf" ldap_bind_dn "cn=reader,$LDAP_BASE"
		conf_set "$conf" ldap_bind_password reader-pw
		conf_set "$conf" ldap_user_base "ou=people,$LDAP_BASE"
		conf_set "$conf" ldap_user_filter "(uid=%s)"
		conf_set "$conf" ldap_group_mode member
		conf_set "$conf" ldap_group_base "ou=groups,$LDAP_BASE"
	fi
	AUTH=token sh "$BENCH_TOP/util/mkconf.sh" "$B_DATA" "$B_PORT" >/dev/null ||
		die "util/mkconf.sh failed"
	B_USER=bench
	B_PASS=$(openssl rand -hex 12)
	printf '%s\n' "$B_PASS" | "$BUILD/berthctl" -c "$conf" user add "$B_USER" --password-stdin \
		>/dev/null || die "berthctl user add failed"
	"$BUILD/berthd" -c "$conf" >>"$B_DATA/run/berthd.log" 2>&1 &
	B_POOL=$!
	bench_track "$B_POOL"
	local i
	for i in $(seq 1 100); do
		[ -S "$B_DATA/run/api.sock" ] && [ -S "$B_DATA/run/upload.sock" ] &&
			[ -S "$B_DATA/run/token.sock" ] && break
		kill -0 "$B_POOL" 2>/dev/null || die "berthd exited: $(tail -n 3 "$B_DATA/run/berthd.log")"
		sleep 0.1
	done
	nginx -e "$B_DATA/run/nginx-error.log" -p "$B_DATA/run" -c "$B_DATA/nginx.conf" \
		-g 'daemon off;' >>"$B_DATA/run/nginx.out" 2>&1 &
	B_NGINX=$!
	bench_track "$B_NGINX"
	wait_listen "$B_PORT" "$B_NGINX" "berth's nginx"
	B_URL=https://127.0.0.1:$B_PORT
	B_CA=$B_DATA/tls/ca.crt
	B_CERTDIR=$B_DATA/tls/client
	for i in $(seq 1 100); do
		case $(curl -s -o /dev/null -w '%{http_code}' --cacert "$B_CA" "$B_URL/v2/") in
		401|200) return 0 ;;
		esac
		sleep 0.1
	done
	die "berth does not answer on $B_URL/v2/"
}

# ref_up: docker-registry behind its nginx; sets R_URL R_PORT R_REG R_NGINX
# R_DATA R_USER R_PASS, STATIC (the ceiling files' directory) and SINK_SOCK
# SINK_HASH_SOCK (the FastCGI sinks' sockets, which sinks_up starts).
ref_up() {
	R_DATA=$BT/ref
	STATIC=$R_DATA/static
	SINK_SOCK=$R_DATA/run/fcgi-sink.sock
	SINK_HASH_SOCK=$R_DATA/run/fcgi-sink-hash.sock
	mkdir -p "$R_DATA/store" "$R_DATA/run" "$STATIC/sink"
	R_PORT=$(free_port) || die "no free port"
	local rport user_line
	rport=$(free_port) || die "no free port"
	R_USER=bench
	R_PASS=$(openssl rand -hex 12)
	# htpasswd -B: bcrypt at htpasswd's default cost (5), as Distribution's
	# recipe makes it.
	htpasswd -Bbc "$R_DATA/htpasswd" "$R_USER" "$R_PASS" >/dev/null 2>&1 ||
		die "htpasswd failed"
	sed -e "s|@STORE@|$R_DATA/store|" -e "s|@ADDR@|127.0.0.1:$rport|" \
		-e "s|@SECRET@|$(openssl rand -hex 16)|" \
		"$BENCH_TOP/bench/registry.yml.in" >"$R_DATA/config.yml"
	if [ "$(id -u)" = 0 ]; then user_line="user $(id -un) $(id -gn);"; else user_line=; fi
	sed -e '/^[[:space:]]*#/d' -e "s|@USER@|$user_line|" -e "s|@RUN@|$R_DATA/run|g" \
		-e "s|@LISTEN@|127.0.0.1:$R_PORT|" -e "s|@TLS_CERT@|$B_DATA/tls-private/server.crt|" \
		-e "s|@TLS_KEY@|$B_DATA/tls-private/server.key|" -e "s|@REGISTRY@|127.0.0.1:$rport|" \
		-e "s|@HTPASSWD@|$R_DATA/htpasswd|" -e "s|@STATIC@|$STATIC|g" \
		-e "s|@FASTCGI_PARAMS@|$BENCH_TOP/nginx/fastcgi_params|g" \
		-e "s|@SINK_SOCK@|$SINK_SOCK|" -e "s|@SINK_HASH_SOCK@|$SINK_HASH_SOCK|" \
		"$BENCH_TOP/bench/nginx-ref.conf.in" >"$R_DATA/nginx.conf"
	docker-registry serve "$R_DATA/config.yml" >>"$R_DATA/run/registry.log" 2>&1 &
	R_REG=$!
	bench_track "$R_REG"
	wait_listen "$rport" "$R_REG" "docker-registry"
	nginx -e "$R_DATA/run/nginx-error.log" -p "$R_DATA/run" -c "$R_DATA/nginx.conf" \
		-g 'daemon off;' >>"$R_DATA/run/nginx.out" 2>&1 &
	R_NGINX=$!
	bench_track "$R_NGINX"
	wait_listen "$R_PORT" "$R_NGINX" "the reference's nginx"
	R_URL=https://127.0.0.1:$R_PORT
	[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$B_CA" -u "$R_USER:$R_PASS" \
		"$R_URL/v2/")" = 200 ] || die "the reference does not answer on $R_URL/v2/"
}

# sinks_up: builds bench/fcgi-sink.c into $BT and starts it twice, plain on
# $SINK_SOCK and hashing on $SINK_HASH_SOCK (after ref_up, whose nginx
# passes /fcgi-sink/ and /fcgi-sink-hash/ to them); sets SINK_PID
# SINK_HASH_PID.
sinks_up() {
	local i
	cc -std=gnu11 -O2 -Wall -Wextra -o "$BT/fcgi-sink" "$BENCH_TOP/bench/fcgi-sink.c" \
		-lfcgi -lcrypto 2>"$BT/fcgi-sink.cc.log" ||
		die "building bench/fcgi-sink.c failed: $(head -n 3 "$BT/fcgi-sink.cc.log")"
	"$BT/fcgi-sink" "$SINK_SOCK" >>"$R_DATA/run/fcgi-sink.log" 2>&1 &
	SINK_PID=$!
	bench_track "$SINK_PID"
	"$BT/fcgi-sink" "$SINK_HASH_SOCK" hash >>"$R_DATA/run/fcgi-sink.log" 2>&1 &
	SINK_HASH_PID=$!
	bench_track "$SINK_HASH_PID"
	for i in $(seq 1 100); do
		[ -S "$SINK_SOCK" ] && [ -S "$SINK_HASH_SOCK" ] && return 0
		kill -0 "$SINK_PID" 2>/dev/null && kill -0 "$SINK_HASH_PID" 2>/dev/null ||
			break
		sleep 0.1
	done
	die "bench/fcgi-sink did not start: $(tail -n 2 "$R_DATA/run/fcgi-sink.log")"
}

# ---------------------------------------------------------------- clients

# Per system (berth|ref): URL, and curl's credential arguments.  berth's is a
# bearer token for repositories bench/{big,small,mem} (token_refresh); the
# reference's is basic auth.
TOKEN=
TOKEN_AT=0
url_of() { if [ "$1" = berth ]; then echo "$B_URL"; else echo "$R_URL"; fi; }

# token_refresh: a new bearer token in $TOKEN when the one held is older
# than 60 s.  Called in the main shell before each measurement, never inside
# $(...) (a subshell's TOKEN would not come back, and every request would
# pay for a login).
token_refresh() {
	local now
	now=$(date +%s)
	if [ -z "$TOKEN" ] || [ $((now - TOKEN_AT)) -gt 60 ]; then
		TOKEN=$(curl -sS --cacert "$B_CA" -u "$B_USER:$B_PASS" -G "$B_URL/token" \
			--data-urlencode service=berth \
			--data-urlencode "scope=repository:bench/big:pull,push" \
			--data-urlencode "scope=repository:bench/small:pull,push" \
			--data-urlencode "scope=repository:bench/mem:pull,push" | jq -r '.token // empty')
		[ -n "$TOKEN" ] || die "no token from berth's /token"
		TOKEN_AT=$now
	fi
}

# auth_hdr SYSTEM: the Authorization header value.
auth_hdr() {
	if [ "$1" = berth ]; then echo "Bearer $TOKEN"
	else echo "Basic $(printf '%s:%s' "$R_USER" "$R_PASS" | openssl base64 -A)"; fi
}

# c SYSTEM ARGS...: curl over HTTP/1.1 with the system's credential.
c() {
	local sys=$1; shift
	curl -sS --http1.1 --cacert "$B_CA" --max-time 300 -H "Authorization: $(auth_hdr "$sys")" "$@"
}

# ---------------------------------------------------------------- accounting

CLK_TCK=$(getconf CLK_TCK)

# cpu_ticks PIDS...: utime+stime of these processes (ticks).
cpu_ticks() {
	local p line fields t=0
	for p in "$@"; do
		{ read -r line <"/proc/$p/stat"; } 2>/dev/null || continue
		read -r -a fields <<<"${line##*) }"
		t=$((t + fields[11] + fields[12]))
	done
	echo "$t"
}

# mem_kib FIELD PIDS...: sum of Pss or Rss (KiB) from smaps_rollup.
mem_kib() {
	local field=$1 p; shift
	for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
		awk -v f="$field:" '$1 == f { s += $2 } END { print s + 0 }'
}

# The processes of each system: berth = the pool (master, workers, signer);
# ref = docker-registry.  nginx separately.
server_pids() { if [ "$1" = berth ]; then group "$B_POOL"; else echo "$R_REG"; fi; }
nginx_pids() { if [ "$1" = berth ]; then group "$B_NGINX"; else group "$R_NGINX"; fi; }

# ---------------------------------------------------------------- recording

# rec KEY SYSTEM VALUE: one measurement.
rec() { printf '%s %s %s\n' "$1" "$2" "$3" >>"$RAW"; }

# med KEY SYSTEM: median of the runs recorded (empty if none).
med() {
	awk -v k="$1" -v s="$2" '$1 == k && $2 == s { print $3 }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

now_ns() { date +%s%N; }
mibps() { awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f", b / 1048576 / (ns / 1e9) }'; }

# ---------------------------------------------------------------- wrk / ab

# to_ms VALUE-WITH-UNIT (wrk: 1.23us 4.56ms 1.2s)
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
		else { sub(/s$/, "", v); print v * 1000 } }'
}

# wrk_run KEY SYSTEM CONNS SECS URL [HEADER...]: records KEY.rps, KEY.p50,
# KEY.p99 and KEY.err (non-2xx/3xx answers and socket errors).
wrk_run() {
	local key=$1 sys=$2 conns=$3 secs=$4 url=$5 out h args=()
	shift 5
	for h in "$@"; do args+=(-H "$h"); done
	out=$BT/wrk.out
	wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s --latency "${args[@]}" "$url" >"$out" 2>&1
	rec "$key.rps" "$sys" "$(awk '/^Requests\/sec:/ { print $2 }' "$out")"
	rec "$key.p50" "$sys" "$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")"
	rec "$key.p99" "$sys" "$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")"
	rec "$key.err" "$sys" "$(awk '/Non-2xx or 3xx/ { n += $NF } /Socket errors/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i } END { print n + 0 }' "$out")"
	sed "s/^/  [$key $sys] /" "$out" >>"$BT/tools.log"
}

# ab_count KEY SYSTEM N CONNS URL USER:PASS: N GETs with basic auth, CONNS at
# once, a new connection (and TLS handshake) for each, as a storm of nodes
# each logging in once would make; records KEY.rps, KEY.p50, KEY.p99 (ms)
# and KEY.err (non-2xx answers and failed connections; answers of another
# length than the first are not errors: every token differs).
ab_count() {
	local key=$1 sys=$2 n=$3 conns=$4 url=$5 out
	out=$BT/ab.out
	ab -q -n "$n" -c "$conns" -s 60 -A "$6" "$url" >"$out" 2>&1
	rec "$key.rps" "$sys" "$(awk '/^Requests per second:/ { print $4 }' "$out")"
	rec "$key.p50" "$sys" "$(awk '$1 == "50%" { print $2 }' "$out")"
	rec "$key.p99" "$sys" "$(awk '$1 == "99%" { print $2 }' "$out")"
	rec "$key.err" "$sys" "$(awk -v total="$n" '/^Non-2xx responses:/ { e += $3 }
		/^Complete requests:/ { done = $3 }
		/\(Connect: / { gsub(/[(),]/, ""); e += $2 + $4 + $8 }
		END { print e + (total - done) }' "$out")"
	sed "s/^/  [$key $sys] /" "$out" >>"$BT/tools.log"
}

# ab_head KEY SYSTEM CONNS SECS URL AUTH-HEADER: HEAD with keep-alive.
ab_head() {
	local key=$1 sys=$2 conns=$3 secs=$4 url=$5 out
	out=$BT/ab.out
	ab -q -i -k -c "$conns" -t "$secs" -n 5000000 -H "Authorization: $6" "$url" >"$out" 2>&1
	rec "$key.rps" "$sys" "$(awk '/^Requests per second:/ { print $4 }' "$out")"
	rec "$key.p50" "$sys" "$(awk '$1 == "50%" { print $2 }' "$out")"
	rec "$key.p99" "$sys" "$(awk '$1 == "99%" { print $2 }' "$out")"
	rec "$key.err" "$sys" "$(awk '/^Non-2xx responses:/ { n += $3 } /^Failed requests:/ { n += $3 }
		END { print n + 0 }' "$out")"
	sed "s/^/  [$key $sys] /" "$out" >>"$BT/tools.log"
}
