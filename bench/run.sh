#!/bin/bash
# bench/run.sh - `make bench`: berth against the reference registry (CNCF
# Distribution 2.8.2, Debian's docker-registry), side by side, same machine,
# same nginx TLS settings, stores on the same filesystem.  Nothing is
# asserted: it reports.
#
#   berth       its own nginx (nginx/berth.conf.in via util/mkconf.sh) ->
#               FastCGI pool; token auth (bearer JWT from /token, a local
#               user, bcrypt cost 10 at login only)
#   reference   nginx (bench/nginx-ref.conf.in, same TLS) -> docker-registry
#               (bench/registry.yml.in); basic auth in nginx (htpasswd -B,
#               bcrypt cost 5, checked on every request)
#
# Each figure is measured alternately on berth and the reference (A B A B),
# RUNS times (default 3), and the median is reported with the ratio
# berth/reference, the machine's ceiling and whether issue 6's target is
# met.  The table is printed and written to bench/results/<date>.md with the
# machine's description, its load, and every single run.
#
# Environment: BUILD (default build; berthd/berthctl are built there), RUNS,
# BENCH_KEEP=1 (keep the temp directory), TMPDIR (where the temp directory
# goes: the stores, a 1 GiB test file; at most ~6 GiB at once during the
# 4 GiB push, removed at the end), BENCH_ONLY=logins (berth's login figures
# of section 4 alone, in a few minutes: no reference, nothing else; the
# table is printed, no results file is written).
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-3}
BENCH_ONLY=${BENCH_ONLY:-}
case $BENCH_ONLY in ''|logins) ;; *) die "BENCH_ONLY: want logins (or nothing: everything)" ;; esac
SYSTEMS="berth ref"
[ -z "$BENCH_ONLY" ] || SYSTEMS=berth
WRK_SECS=${WRK_SECS:-10}     # manifest GET (issue 6: 10 s)
SHORT_SECS=${SHORT_SECS:-5}  # /v2/, blob HEAD, logins, small static file
CONNS=64
LAYER_BYTES=$((4 * MIB))
T_START=$(date +%s)

bench_install
command -v make >/dev/null 2>&1 || die "make not found"
note "building berthd and berthctl in $BUILD"
make -s -C "$BENCH_TOP" BUILD="$BUILD" "$BUILD/berthd" "$BUILD/berthctl" >/dev/null ||
	die "build failed"

BT=$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX") || die "mktemp failed"
chmod 0755 "$BT"
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
RAW=$BT/raw.txt
: >"$RAW"
: >"$BT/tools.log"
LOAD_START=$(uptime)

# ---------------------------------------------------------------- start

LDAP_NOTE=
LDAP_DIR=$BT/ldap
if out=$(sh "$BENCH_TOP/tests/ldap/slapd.sh" start "$LDAP_DIR" 2>"$BT/slapd.err"); then
	eval "$(printf '%s\n' "$out" | grep -E '^(LDAP_URI|LDAP_BASE|SLAPD_PID)=')"
else
	LDAP_NOTE="slapd did not start: $(head -n 1 "$BT/slapd.err")"
	LDAP_DIR=
fi
berth_up
if [ -z "$BENCH_ONLY" ]; then
	ref_up
	sinks_up
	note "berth at $B_URL (token auth), reference at $R_URL (basic auth)"
fi

# ---------------------------------------------------------------- test data

BIG=$BT/big.bin
if [ -z "$BENCH_ONLY" ]; then
	note "making a 1 GiB random file"
	openssl enc -aes-128-ctr -nosalt -pass pass:berth-bench </dev/zero 2>/dev/null |
		head -c $((1024 * MIB)) >"$BIG"
	BIG_SIZE=$(stat -c %s "$BIG")
	DIG=sha256:$(openssl dgst -sha256 -r "$BIG" | cut -d' ' -f1)
	ln "$BIG" "$STATIC/big"
fi

# location_of HEADERS-FILE URL: the Location header, absolute.
location_of() {
	local loc
	loc=$(awk 'tolower($1) == "location:" { sub(/\r$/, ""); print $2 }' "$1" | tail -n 1)
	case $loc in /*) loc=$2$loc ;; esac
	echo "$loc"
}
with_query() { case $1 in *\?*) echo "$1&$2" ;; *) echo "$1?$2" ;; esac; }

# A small image for the request-rate figures: config, one layer, manifest.
SMALL=$BT/small
mkdir -p "$SMALL"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$SMALL/config"
head -c 1024 /dev/urandom >"$SMALL/layer"
d_cfg=sha256:$(openssl dgst -sha256 -r "$SMALL/config" | cut -d' ' -f1)
d_lay=sha256:$(openssl dgst -sha256 -r "$SMALL/layer" | cut -d' ' -f1)
MT=application/vnd.oci.image.manifest.v1+json
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
	"$MT" "$d_cfg" "$(stat -c %s "$SMALL/config")" "$d_lay" "$(stat -c %s "$SMALL/layer")" >"$SMALL/manifest"
[ -n "$BENCH_ONLY" ] || cp "$SMALL/manifest" "$STATIC/small"
SMALL_LAYER=$d_lay
for sys in $SYSTEMS; do
	token_refresh
	u=$(url_of $sys)
	for f in config layer; do
		d=sha256:$(openssl dgst -sha256 -r "$SMALL/$f" | cut -d' ' -f1)
		# POST + PUT ?digest= (Distribution 2.8 has no single-POST upload).
		c $sys -o /dev/null -D "$BT/h0" -X POST "$u/v2/bench/small/blobs/uploads/"
		code=$(c $sys -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
			--data-binary @"$SMALL/$f" "$(with_query "$(location_of "$BT/h0" "$u")" "digest=$d")")
		[ "$code" = 201 ] || die "$sys: small $f push answered $code"
	done
	code=$(c $sys -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary @"$SMALL/manifest" "$u/v2/bench/small/manifests/v1")
	[ "$code" = 201 ] || die "$sys: small manifest push answered $code"
done

# ---------------------------------------------------------------- 4. logins (the functions)

# Section 4 runs after section 3, or alone with BENCH_ONLY=logins.
basic() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | openssl base64 -A)"; }
TOKEN_URL="$B_URL/token?service=berth&scope=repository:bench/small:pull"
STORM_N=500
STORM_CONNS=50

# login_rates: logins/s with 8 clients on keep-alive connections.
login_rates() {
	local i
	for i in $(seq 1 "$RUNS"); do
		wrk_run login_local berth 8 "$SHORT_SECS" "$TOKEN_URL" "Authorization: $(basic "$B_USER" "$B_PASS")"
		if [ -n "$LDAP_DIR" ]; then
			wrk_run login_ldap berth 8 "$SHORT_SECS" "$TOKEN_URL" "Authorization: $(basic alice alice-pw)"
		fi
	done
}

# per_login KEY TICKS: CPU ms per login of the storm from a tick count.
per_login() {
	rec "$1" berth "$(awk -v t="$2" -v h="$CLK_TCK" -v n="$STORM_N" 'BEGIN { printf "%.2f", 1000 * t / h / n }')"
}

# login_storm: a release storm: STORM_N token requests from STORM_CONNS
# clients at once, each on a new connection, with one repository token
# and with one local user; CPU per login of berth's pool (workers, signer,
# master) and of nginx (mostly the TLS handshakes).
login_storm() {
	local out secret i kind cred s0 n0
	out=$("$BUILD/berthctl" -c "$B_DATA/berth.conf" token create bench-ci \
		--scope repository:bench/small:pull) || die "berthctl token create failed"
	secret=$(printf '%s\n' "$out" | sed -n 3p)
	[ -n "$secret" ] || die "berthctl token create printed no secret"
	for i in $(seq 1 "$RUNS"); do
		for kind in token local; do
			cred=bench-ci:$secret
			[ $kind = local ] && cred=$B_USER:$B_PASS
			# shellcheck disable=SC2046 # one word per PID
			s0=$(cpu_ticks $(server_pids berth))
			# shellcheck disable=SC2046
			n0=$(cpu_ticks $(nginx_pids berth))
			ab_count "storm_$kind" berth "$STORM_N" "$STORM_CONNS" "$TOKEN_URL" "$cred"
			# shellcheck disable=SC2046
			per_login "storm_$kind.cpu_berth" $(($(cpu_ticks $(server_pids berth)) - s0))
			# shellcheck disable=SC2046
			per_login "storm_$kind.cpu_nginx" $(($(cpu_ticks $(nginx_pids berth)) - n0))
		done
	done
}

# ldap_login_works: alice logs in (at most 60 s of tries).
ldap_login_works() {
	local i
	for i in $(seq 1 60); do
		[ "$(curl -sS --cacert "$B_CA" --max-time 20 -o /dev/null -w '%{http_code}' \
			-u alice:alice-pw "$TOKEN_URL" 2>/dev/null)" = 200 ] && return 0
		sleep 1
	done
	return 1
}

# hung_directory: manifest GETs with a token held ($CONNS connections),
# first with the directory answering, then with slapd stopped (SIGSTOP)
# while 8 clients log in in a loop, all waiting on it.
hung_directory() {
	local i u lp
	if [ -z "$LDAP_DIR" ] || [ -z "${SLAPD_PID:-}" ]; then
		note "no slapd: the hung-directory figure is not measured"
		return 0
	fi
	u=$B_URL/v2/bench/small/manifests/v1
	for i in $(seq 1 "$RUNS"); do
		token_refresh
		wrk_run hung_before berth "$CONNS" "$SHORT_SECS" "$u" "Authorization: Bearer $TOKEN" "Accept: $MT"
		kill -STOP "$SLAPD_PID"
		# Long enough for logins to come back through the directory's
		# timeouts (ldap_timeout, 5 s by default, per try).
		wrk -t1 -c8 -d"$((SHORT_SECS + 12))s" --timeout 60s -H "Authorization: $(basic alice alice-pw)" \
			"$TOKEN_URL" >"$BT/wrk.logins" 2>&1 &
		lp=$!
		sleep 2
		wrk_run hung_manifest berth "$CONNS" "$SHORT_SECS" "$u" "Authorization: Bearer $TOKEN" "Accept: $MT"
		wait "$lp"
		kill -CONT "$SLAPD_PID"
		rec hung_logins.answered berth "$(awk '/ requests in / { print $1 }' "$BT/wrk.logins")"
		rec hung_logins.non2xx berth "$(awk '/Non-2xx or 3xx/ { n = $NF } END { print n + 0 }' "$BT/wrk.logins")"
		sed "s/^/  [hung_logins berth] /" "$BT/wrk.logins" >>"$BT/tools.log"
		ldap_login_works || note "the directory did not come back after SIGCONT"
	done
}

logins() {
	note "4. token issuing (berth): local user and LDAP; a storm of $STORM_N; the directory hung"
	login_rates
	login_storm
	hung_directory
}

if [ -n "$BENCH_ONLY" ]; then
	logins
	LOAD_END=$(uptime)
	T_TOTAL=$(($(date +%s) - T_START))
	. "$BENCH_TOP/bench/report.sh"
	exit 0
fi

note "making $((3 + 8)) 10-layer images for skopeo"
python3 "$BENCH_TOP/bench/mkimage.py" "$BT/img" 11 10 "$LAYER_BYTES" || die "mkimage.py failed"
CLIENTS=$BT/clients
mkdir -p "$CLIENTS/tmp"
printf '{ "default": [ { "type": "insecureAcceptAnything" } ] }\n' >"$CLIENTS/policy.json"
: >"$CLIENTS/registries.conf"

# ---------------------------------------------------------------- memory at rest (cold)

sleep 1
for sys in berth ref; do
	# shellcheck disable=SC2046 # one word per PID
	rec mem_cold_pss "$sys" "$(mem_kib Pss $(server_pids $sys))"
	# shellcheck disable=SC2046
	rec mem_cold_rss "$sys" "$(mem_kib Rss $(server_pids $sys))"
done
rec pool_procs berth "$(server_pids berth | wc -w)"

# ---------------------------------------------------------------- ceilings

note "ceilings: sha256, disk (nginx over TLS, nginx -> FastCGI sink: beside each figure below)"
sp=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '/^sha256/ { print $2 }')
rec ceil_sha256 machine "$(awk -v k="${sp%k}" 'BEGIN { printf "%.0f", k * 1000 / 1048576 }')"
t0=$(now_ns)
dd if="$BIG" of="$BT/dd.out" bs=1M conv=fdatasync status=none
rec ceil_disk machine "$(mibps "$BIG_SIZE" $(($(now_ns) - t0)))"
rm -f "$BT/dd.out"

# ---------------------------------------------------------------- 1. push 1 GiB

# The ceilings that need the network path are measured in the same loops
# as the figures they bound (A B ceilings, A B ceilings, ...), so that the
# load of a shared machine weighs on them all alike.
ceil_static_get() {
	local t0
	t0=$(now_ns)
	curl -sS --http1.1 --cacert "$B_CA" -o /dev/null "$R_URL/static/big"
	rec ceil_static_get machine "$(mibps "$BIG_SIZE" $(($(now_ns) - t0)))"
}
ceil_static_put() {
	local t0 code
	t0=$(now_ns)
	code=$(curl -sS --http1.1 --cacert "$B_CA" -o /dev/null -w '%{http_code}' -H 'Expect:' \
		-T "$BIG" "$R_URL/sink/big")
	rec ceil_static_put machine "$(mibps "$BIG_SIZE" $(($(now_ns) - t0)))"
	[ "$code" = 201 ] || [ "$code" = 204 ] || note "nginx PUT answered $code"
	rm -f "$STATIC/sink/big"
}
# ceil_fcgi KEY PATH: the 1 GiB PUT through nginx to bench/fcgi-sink (the
# FastCGI transport ceiling; PATH fcgi-sink-hash: plus SHA-256 of every
# byte).  Recorded only when the sink got every byte (and the right digest).
ceil_fcgi() {
	local key=$1 path=$2 t0 ns code got dig
	t0=$(now_ns)
	code=$(curl -sS --http1.1 --cacert "$B_CA" --max-time 600 -o /dev/null -D "$BT/h.sink" \
		-w '%{http_code}' -H 'Expect:' -T "$BIG" "$R_URL/$path/x")
	ns=$(($(now_ns) - t0))
	[ "$code" = 201 ] || { note "$path: PUT answered $code"; return 1; }
	got=$(awk 'tolower($1) == "x-sink-bytes:" { sub(/\r$/, ""); print $2 }' "$BT/h.sink")
	[ "$got" = "$BIG_SIZE" ] || { note "$path: the sink read ${got:-?} of $BIG_SIZE bytes"; return 1; }
	if [ "$path" = fcgi-sink-hash ]; then
		dig=$(awk 'tolower($1) == "x-sink-digest:" { sub(/\r$/, ""); print $2 }' "$BT/h.sink")
		[ "$dig" = "${DIG#sha256:}" ] ||
			{ note "$path: the sink's digest ${dig:-(none)} is not ${DIG#sha256:}"; return 1; }
	fi
	rec "$key" machine "$(mibps "$BIG_SIZE" "$ns")"
}
ceil_fcgi_sink() { ceil_fcgi ceil_fcgi_sink fcgi-sink; }
ceil_fcgi_sink_sha() { ceil_fcgi ceil_fcgi_sink_sha fcgi-sink-hash; }



# cpu_begin SYS / cpu_end KEY SYS NS: CPU share (% of one core) of the server
# processes, nginx and the client (curl, from bash's `time`) over NS.
cpu_begin() {
	# shellcheck disable=SC2046
	CPU_S0=$(cpu_ticks $(server_pids "$1"))
	# shellcheck disable=SC2046
	CPU_N0=$(cpu_ticks $(nginx_pids "$1"))
}
cpu_end() {
	local key=$1 sys=$2 ns=$3 s n
	# shellcheck disable=SC2046
	s=$(cpu_ticks $(server_pids "$sys"))
	# shellcheck disable=SC2046
	n=$(cpu_ticks $(nginx_pids "$sys"))
	rec "$key.cpu_server" "$sys" "$(awk -v t=$((s - CPU_S0)) -v h="$CLK_TCK" -v ns="$ns" 'BEGIN { printf "%.0f", 100 * t / h / (ns / 1e9) }')"
	rec "$key.cpu_nginx" "$sys" "$(awk -v t=$((n - CPU_N0)) -v h="$CLK_TCK" -v ns="$ns" 'BEGIN { printf "%.0f", 100 * t / h / (ns / 1e9) }')"
	rec "$key.cpu_client" "$sys" "$(awk -v u="$(cat "$BT/client.cpu" 2>/dev/null)" -v ns="$ns" 'BEGIN { printf "%.0f", 100 * u / (ns / 1e9) }')"
}

# timed CMD...: run CMD; its user+sys seconds go to $BT/client.cpu (a file:
# timed runs inside $(...), whose variables do not come back).
timed() {
	local TIMEFORMAT='%U %S' tf=$BT/time.out rc
	{ time "$@" 2>"$tf.err"; } 2>"$tf"
	rc=$?
	awk '{ print $1 + $2 }' "$tf" >"$BT/client.cpu"
	cat "$tf.err" >&2
	return $rc
}

push_once() { # MODE SYS REPO [SOURCE-CMD]: one push of $BIG (or SOURCE-CMD's output)
	local mode=$1 sys=$2 repo=$3 u loc code t0 ns auth
	u=$(url_of "$sys")
	auth=$(auth_hdr "$sys")
	rm -f "$BT/client.cpu"
	cpu_begin "$sys"
	t0=$(now_ns)
	c "$sys" -o /dev/null -D "$BT/h1" -X POST "$u/v2/$repo/blobs/uploads/" || return 1
	loc=$(location_of "$BT/h1" "$u")
	if [ "$mode" = mono ]; then
		code=$(timed curl -sS --http1.1 --cacert "$B_CA" --max-time 600 -H "Authorization: $auth" \
			-H 'Expect:' -H 'Content-Type: application/octet-stream' -o /dev/null \
			-w '%{http_code}' -T "$BIG" "$(with_query "$loc" "digest=$DIG")")
		[ "$code" = 201 ] || { note "$sys: monolithic PUT answered $code"; return 1; }
	else
		code=$(timed curl -sS --http1.1 --cacert "$B_CA" --max-time 600 -H "Authorization: $auth" \
			-H 'Expect:' -H 'Content-Type: application/octet-stream' -D "$BT/h2" -o /dev/null \
			-w '%{http_code}' -X PATCH -T - "$loc" <"$BIG")
		[ "$code" = 202 ] || { note "$sys: streamed PATCH answered $code"; return 1; }
		loc=$(location_of "$BT/h2" "$u")
		code=$(c "$sys" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Length: 0' \
			"$(with_query "$loc" "digest=$DIG")")
		[ "$code" = 201 ] || { note "$sys: PUT after PATCH answered $code"; return 1; }
	fi
	ns=$(($(now_ns) - t0))
	rec "push_$mode" "$sys" "$(mibps "$BIG_SIZE" "$ns")"
	cpu_end "push_$mode" "$sys" "$ns"
}

note "1. push 1 GiB, monolithic and streamed"
for mode in mono stream; do
	for i in $(seq 1 "$RUNS"); do
		for sys in berth ref; do
			token_refresh
			push_once "$mode" "$sys" bench/big || note "$sys: $mode push $i failed"
		done
		if [ "$mode" = mono ]; then
			ceil_static_put
			ceil_fcgi_sink
			ceil_fcgi_sink_sha
		fi
	done
done

# ---------------------------------------------------------------- 2. pull

pull_once() { # KEY SYS [curl args]
	local key=$1 sys=$2 out
	shift 2
	cpu_begin "$sys"
	out=$(timed c "$sys" -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$@" \
		"$(url_of "$sys")/v2/bench/big/blobs/$DIG") || return 1
	set -- $out
	case $1 in 200|206) ;; *) note "$sys: $key answered $1"; return 1 ;; esac
	rec "$key" "$sys" "$(awk -v b="$2" -v t="$3" 'BEGIN { printf "%.1f", b / 1048576 / t }')"
	cpu_end "$key" "$sys" "$(awk -v t="$3" 'BEGIN { printf "%.0f", t * 1e9 }')"
}

note "2. pull 1 GiB, and a 512 MiB Range"
for i in $(seq 1 "$RUNS"); do
	for sys in berth ref; do
		token_refresh
		pull_once pull "$sys" || note "$sys: pull $i failed"
		pull_once pull_range "$sys" -r "$((256 * MIB))-$((768 * MIB - 1))" ||
			note "$sys: range pull $i failed"
	done
	ceil_static_get
done

# ---------------------------------------------------------------- 3. request rates

note "3. manifest GET (${WRK_SECS}s), /v2/ and blob HEAD (${SHORT_SECS}s), $CONNS connections"
for i in $(seq 1 "$RUNS"); do
	for sys in berth ref; do
		token_refresh
		u=$(url_of "$sys")
		wrk_run manifest "$sys" "$CONNS" "$WRK_SECS" "$u/v2/bench/small/manifests/v1" \
			"Authorization: $(auth_hdr "$sys")" "Accept: $MT"
		wrk_run base "$sys" "$CONNS" "$SHORT_SECS" "$u/v2/" "Authorization: $(auth_hdr "$sys")"
		ab_head head "$sys" "$CONNS" "$SHORT_SECS" "$u/v2/bench/small/blobs/$SMALL_LAYER" \
			"$(auth_hdr "$sys")"
	done
	wrk_run ceil_small machine "$CONNS" "$SHORT_SECS" "$R_URL/static/small"
done

# ---------------------------------------------------------------- 4. logins

logins

# ---------------------------------------------------------------- 5. skopeo

sko() {
	TMPDIR=$CLIENTS/tmp CONTAINERS_REGISTRIES_CONF=$CLIENTS/registries.conf \
		skopeo --policy "$CLIENTS/policy.json" --tmpdir "$CLIENTS/tmp" \
		--command-timeout 600s "$@"
}
sko_push() { # SYS N
	local u=${1/berth/$B_PORT}
	u=${u/ref/$R_PORT}
	local cred=$B_USER:$B_PASS
	[ "$1" = ref ] && cred=$R_USER:$R_PASS
	sko copy --quiet --dest-cert-dir "$B_CERTDIR" --dest-creds "$cred" \
		"oci:$BT/img/img$2:latest" "docker://127.0.0.1:$u/bench/img$2:latest" \
		>>"$CLIENTS/skopeo.log" 2>&1
}
sko_pull() { # SYS N
	local u=${1/berth/$B_PORT}
	u=${u/ref/$R_PORT}
	local cred=$B_USER:$B_PASS
	[ "$1" = ref ] && cred=$R_USER:$R_PASS
	rm -rf "$CLIENTS/pulled"
	sko copy --quiet --src-cert-dir "$B_CERTDIR" --src-creds "$cred" \
		"docker://127.0.0.1:$u/bench/img$2:latest" "dir:$CLIENTS/pulled" >>"$CLIENTS/skopeo.log" 2>&1
	local rc=$?
	rm -rf "$CLIENTS/pulled"
	return $rc
}
secs_since() { awk -v t0="$1" -v t1="$(now_ns)" 'BEGIN { printf "%.2f", (t1 - t0) / 1e9 }'; }

note "5. skopeo: 10-layer image ($((10 * LAYER_BYTES / MIB)) MiB) push, pull, 8 pushes at once"
for i in $(seq 1 "$RUNS"); do
	for sys in berth ref; do
		t0=$(now_ns)
		if sko_push "$sys" "$i"; then rec skopeo_push "$sys" "$(secs_since "$t0")"
		else note "$sys: skopeo push $i failed (see $CLIENTS/skopeo.log)"; fi
	done
done
for i in $(seq 1 "$RUNS"); do
	for sys in berth ref; do
		t0=$(now_ns)
		if sko_pull "$sys" "$i"; then rec skopeo_pull "$sys" "$(secs_since "$t0")"
		else note "$sys: skopeo pull $i failed"; fi
	done
done
for sys in berth ref; do
	t0=$(now_ns)
	pids=()
	for n in $(seq 4 11); do sko_push "$sys" "$n" & pids+=($!); done
	ok=1
	for p in "${pids[@]}"; do wait "$p" || ok=; done
	if [ -n "$ok" ]; then rec skopeo_push8 "$sys" "$(secs_since "$t0")"
	else note "$sys: one of the 8 parallel pushes failed"; fi
done
rm -rf "$BT/img"

# ---------------------------------------------------------------- 6. memory

note "6. memory at rest, and its peak during a 4 GiB streamed push"
sleep 2
for sys in berth ref; do
	# shellcheck disable=SC2046
	rec mem_rest_pss "$sys" "$(mem_kib Pss $(server_pids $sys))"
	# shellcheck disable=SC2046
	rec mem_rest_rss "$sys" "$(mem_kib Rss $(server_pids $sys))"
done

# mem_sampler SYS OUT: every 0.1 s, the largest PSS and RSS sums so far.
mem_sampler() {
	local pids p r mp=0 mr=0
	pids=$(server_pids "$1")
	while :; do
		# shellcheck disable=SC2086
		p=$(mem_kib Pss $pids); r=$(mem_kib Rss $pids)
		[ "$p" -gt "$mp" ] && mp=$p
		[ "$r" -gt "$mr" ] && mr=$r
		echo "$mp $mr" >"$2.tmp" && mv -f "$2.tmp" "$2"
		sleep 0.1
	done
}
for sys in berth ref; do
	token_refresh
	u=$(url_of "$sys")
	mem_sampler "$sys" "$BT/mem.$sys" &
	sampler=$!
	bench_track "$sampler"
	t0=$(now_ns)
	c "$sys" -o /dev/null -D "$BT/h1" -X POST "$u/v2/bench/mem/blobs/uploads/"
	loc=$(location_of "$BT/h1" "$u")
	code=$(cat "$BIG" "$BIG" "$BIG" "$BIG" | c "$sys" --max-time 600 -H 'Expect:' \
		-H 'Content-Type: application/octet-stream' -D "$BT/h2" -o /dev/null \
		-w '%{http_code}' -X PATCH -T - "$loc")
	ns=$(($(now_ns) - t0))
	sleep 0.3
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
	[ "$code" = 202 ] || note "$sys: 4 GiB PATCH answered $code"
	rec push_4g "$sys" "$(mibps $((4 * BIG_SIZE)) "$ns")"
	read -r mp mr <"$BT/mem.$sys"
	rec mem_peak_pss "$sys" "$mp"
	rec mem_peak_rss "$sys" "$mr"
	# The session (4 GiB of data) goes.
	loc2=$(location_of "$BT/h2" "$u")
	c "$sys" -o /dev/null -X DELETE "${loc2:-$loc}" || true
done

# ---------------------------------------------------------------- report

LOAD_END=$(uptime)
T_TOTAL=$(($(date +%s) - T_START))
. "$BENCH_TOP/bench/report.sh"
