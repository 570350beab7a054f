# bench/report.sh - the table of `make bench`, from $RAW (sourced by run.sh).
#
# Prints the table and writes bench/results/<date>.md: the table, the CPU
# shares behind the transfer figures, the machine and its load, and every
# single run.  Targets are issue 6's; "met" is judged on the medians.

# f VALUE [DECIMALS]: a number for the table ("–" when missing).
f() { [ -n "$1" ] && awk -v v="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, v }' || printf '–'; }
kib_mib() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%.1f", v / 1024 }'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else printf "–" }' || printf '–'; }
# yes A OP B: "yes" or "**no**" for A OP B (OP: ge, lt, le).
yes() {
	[ -n "$1" ] && [ -n "$3" ] || { printf '?'; return; }
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		ok = (op == "ge") ? a >= b : (op == "lt") ? a < b : a <= b
		printf "%s", ok ? "yes" : "**no**" }'
}
both() { if [ "$1" = yes ] && [ "$2" = yes ]; then echo yes; else echo "**no**"; fi; }
m() { med "$1" "$2"; }
mul() { [ -n "$1" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a * b }'; }

SHA=$(m ceil_sha256 machine)
STATIC_GET=$(m ceil_static_get machine)
STATIC_PUT=$(m ceil_static_put machine)
DISK=$(m ceil_disk machine)
FCGI=$(m ceil_fcgi_sink machine)
FCGI_SHA=$(m ceil_fcgi_sink_sha machine)
SMALL_RPS=$(m ceil_small.rps machine)

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"); }

# Section 4's rows (berth alone: the reference has no token service).
login_rows() {
	local k what b
	row "token logins/s, local user (bcrypt 10), 8 conns" "$(f "$(m login_local.rps berth)")" "n/a (no token service)" "–" "–" "–" "–"
	if [ -n "$LDAP_DIR" ]; then
		row "token logins/s, LDAP (slapd), 8 conns" "$(f "$(m login_ldap.rps berth)")" "n/a" "–" "–" "–" "–"
	else
		row "token logins/s, LDAP" "not measured: $LDAP_NOTE" "n/a" "–" "–" "–" "–"
	fi
	for k in token:"repository token" local:"local user"; do
		what="login storm, ${k#*:}: $STORM_N token requests, $STORM_CONNS clients, a new TLS connection each"
		b=${k%%:*}
		row "$what: logins/s" "$(f "$(m storm_$b.rps berth)")" "n/a" "–" "–" "–" "–"
		row "$what: p50 / p99, ms" "$(f "$(m storm_$b.p50 berth)") / $(f "$(m storm_$b.p99 berth)")" "n/a" "–" "–" "–" "–"
		row "$what: CPU per login, ms: berth's pool / nginx" \
			"$(f "$(m storm_$b.cpu_berth berth)" 2) / $(f "$(m storm_$b.cpu_nginx berth)" 2)" "n/a" "–" "–" "–" "–"
	done
	if [ -n "$LDAP_DIR" ] && [ -n "$(m hung_manifest.p99 berth)" ]; then
		b=$(m hung_manifest.p99 berth)
		row "manifest GET p99 with a token held, $CONNS conns, while slapd is hung (SIGSTOP) and 8 clients log in, ms" \
			"$(f "$b" 2)" "n/a" "–" "the same GETs, directory answering: $(f "$(m hung_before.p99 berth)" 2)" "< 25 ms" "$(yes "$b" lt 25)"
		row "… req/s of those GETs; logins answered meanwhile (non-2xx)" \
			"$(f "$(m hung_manifest.rps berth)") ; $(f "$(m hung_logins.answered berth)") ($(f "$(m hung_logins.non2xx berth)"))" \
			"n/a" "–" "directory answering: $(f "$(m hung_before.rps berth)") req/s" "–" "–"
	else
		row "manifest GET p99 while the directory is hung" "not measured: ${LDAP_NOTE:-no slapd}" "n/a" "–" "–" "–" "–"
	fi
}

# BENCH_ONLY=logins: section 4's table alone, printed; no results file
# (bench/results holds whole runs only).
if [ -n "${BENCH_ONLY:-}" ]; then
	login_rows
	echo
	echo "| figure | berth | reference | ratio berth/ref | ceiling | target | met? |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	awk '$1 ~ /\.err$/ && $3 > 0 { printf "errors: %s %s: %s non-2xx/errors\n", $1, $2, $3 }' "$RAW"
	echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); took ${T_TOTAL} s; $RUNS runs per figure (medians); nproc $(nproc)"
	echo "- load at start: ${LOAD_START#*load average}; at end: ${LOAD_END#*load average}"
	echo "- berth: $(git -C "$BENCH_TOP" rev-parse --short HEAD 2>/dev/null)$(git -C "$BENCH_TOP" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' + uncommitted changes')"
	echo "- every run:"
	sed 's/^/    /' "$RAW"
	echo "(BENCH_ONLY=logins: no results file written)"
	return 0
fi

for mode in mono stream; do
	b=$(m push_$mode berth) r=$(m push_$mode ref)
	[ $mode = mono ] && name="push 1 GiB, monolithic (POST + PUT), MiB/s" ||
		name="push 1 GiB, streamed (one chunked PATCH), MiB/s"
	ok=$(both "$(yes "$b" ge "$(mul "$r" 5)")" "$(yes "$b" ge "$(mul "$SHA" 0.5)")")
	row "$name" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" \
		"sha256 $(f "$SHA"); nginx PUT $(f "$STATIC_PUT"); disk+fdatasync $(f "$DISK"); FastCGI transport $(f "$FCGI"); + sha256 $(f "$FCGI_SHA")" \
		"≥ 5× ref and ≥ $(f "$(mul "$SHA" 0.5)") (50% sha256)" "$ok"
done
b=$(m pull berth) r=$(m pull ref)
row "pull 1 GiB, MiB/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "nginx static $(f "$STATIC_GET")" \
	"≥ $(f "$(mul "$STATIC_GET" 0.9)") (90% static)" "$(yes "$b" ge "$(mul "$STATIC_GET" 0.9)")"
b=$(m pull_range berth) r=$(m pull_range ref)
row "pull 512 MiB Range, MiB/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "nginx static $(f "$STATIC_GET")" "–" "–"

b=$(m manifest.rps berth) r=$(m manifest.rps ref)
row "manifest GET by tag, $CONNS conns, req/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" \
	"nginx small static $(f "$SMALL_RPS")" "≥ 10× ref" "$(yes "$b" ge "$(mul "$r" 10)")"
b=$(m manifest.p50 berth) r=$(m manifest.p50 ref)
row "manifest GET p50, ms" "$(f "$b" 2)" "$(f "$r" 2)" "$(ratio "$b" "$r")" "$(f "$(m ceil_small.p50 machine)" 2)" "–" "–"
b=$(m manifest.p99 berth) r=$(m manifest.p99 ref)
row "manifest GET p99, ms" "$(f "$b" 2)" "$(f "$r" 2)" "$(ratio "$b" "$r")" "$(f "$(m ceil_small.p99 machine)" 2)" "< 25 ms" "$(yes "$b" lt 25)"
b=$(m head.rps berth) r=$(m head.rps ref)
row "blob HEAD (ab -i -k), req/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "–" "≥ 10× ref" "$(yes "$b" ge "$(mul "$r" 10)")"
b=$(m head.p99 berth) r=$(m head.p99 ref)
row "blob HEAD p99, ms" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "–" "–" "–"
b=$(m base.rps berth) r=$(m base.rps ref)
row "GET /v2/ with credential, req/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "nginx small static $(f "$SMALL_RPS")" "–" "–"
b=$(m base.p99 berth) r=$(m base.p99 ref)
row "GET /v2/ p99, ms" "$(f "$b" 2)" "$(f "$r" 2)" "$(ratio "$b" "$r")" "–" "–" "–"
login_rows
for k in skopeo_push:"skopeo push, 10 layers, s" skopeo_pull:"skopeo pull, 10 layers, s" \
	skopeo_push8:"8 skopeo pushes at once, s"; do
	b=$(m "${k%%:*}" berth) r=$(m "${k%%:*}" ref)
	row "${k#*:}" "$(f "$b" 2)" "$(f "$r" 2)" "$(ratio "$b" "$r")" "–" "–" "–"
done
b=$(kib_mib "$(m mem_rest_pss berth)") r=$(kib_mib "$(m mem_rest_pss ref)")
row "memory at rest, PSS, MiB (berth: the pool's $(m pool_procs berth) processes)" "$b" "$r" "$(ratio "$b" "$r")" "–" "< 32" "$(yes "$b" lt 32)"
b=$(kib_mib "$(m mem_peak_pss berth)") r=$(kib_mib "$(m mem_peak_pss ref)")
row "memory peak during a 4 GiB streamed push, PSS, MiB" "$b" "$r" "$(ratio "$b" "$r")" "–" "< 32" "$(yes "$b" lt 32)"
b=$(kib_mib "$(m mem_rest_rss berth)") r=$(kib_mib "$(m mem_rest_rss ref)")
row "memory at rest, RSS sum, MiB (shared pages counted per process)" "$b" "$r" "$(ratio "$b" "$r")" "–" "(PSS judged)" "–"
b=$(kib_mib "$(m mem_peak_rss berth)") r=$(kib_mib "$(m mem_peak_rss ref)")
row "memory peak, RSS sum, MiB" "$b" "$r" "$(ratio "$b" "$r")" "–" "(PSS judged)" "–"
b=$(m push_4g berth) r=$(m push_4g ref)
row "push 4 GiB streamed (one run), MiB/s" "$(f "$b")" "$(f "$r")" "$(ratio "$b" "$r")" "–" "–" "–"

TABLE=$(
	echo "| figure | berth | reference | ratio berth/ref | ceiling | target | met? |"
	echo "|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
)

CPU_TABLE=$(
	echo "| transfer | system | MiB/s | curl (client) | nginx | server (berth pool / docker-registry) | CPU s per GiB, all three |"
	echo "|---|---|---|---|---|---|---|"
	for k in push_mono push_stream pull pull_range; do
		for sys in berth ref; do
			cc=$(m $k.cpu_client $sys) cn=$(m $k.cpu_nginx $sys) cs=$(m $k.cpu_server $sys) v=$(m $k $sys)
			per=$([ -n "$v" ] && [ -n "$cc" ] && awk -v a="$cc" -v b="$cn" -v c="$cs" -v v="$v" \
				'BEGIN { printf "%.2f", (a + b + c) / 100 * 1024 / v }')
			echo "| $k | $sys | $(f "$v") | $(f "$cc")% | $(f "$cn")% | $(f "$cs")% | ${per:-–} |"
		done
	done
)

# What the ceiling column's figures are (in the results file).
CEILINGS=$(cat <<'EOF2'
- sha256: `openssl speed -evp sha256` on 16 KiB blocks, one core (MiB/s).
- disk+fdatasync: `dd bs=1M conv=fdatasync` of the 1 GiB file into the stores' filesystem.
- nginx PUT: the 1 GiB file PUT over the same TLS to nginx's own WebDAV PUT (body spooled to its temp file, then renamed): receiving plus a disk write, no FastCGI.
- FastCGI transport: the 1 GiB file PUT over the same TLS to nginx, which streams it (`fastcgi_request_buffering off`, berth's upload-location settings) over a unix socket to bench/fcgi-sink.c, a trivial libfcgi responder that reads it to the end in 64 KiB `FCGX_GetStr` pieces, as berth's upload worker does, and discards it: the most any libfcgi application behind this nginx can receive, before doing any work of its own.
- + sha256: the same, the responder also SHA-256-hashing every byte (OpenSSL EVP, one update per piece): what any FastCGI application that must hash the body can reach on this machine (no storing).
- nginx static / small static: nginx serving the 1 GiB file / the manifest from disk over the same TLS (curl; wrk with the same connections).
EOF2
)

ERRS=$(awk '$1 ~ /\.err$/ && $3 > 0 { printf "%s %s: %s non-2xx/errors\n", $1, $2, $3 }' "$RAW")

machine() {
	echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); bench took ${T_TOTAL} s; $RUNS runs per figure, alternating berth/reference"
	echo "- nproc: $(nproc); CPU: $(lscpu 2>/dev/null | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }'); sha_ni: $(grep -q sha_ni /proc/cpuinfo && echo yes || echo no)"
	echo "- memory: $(free -m | awk '/^Mem:/ { print $2 " MiB" }'); kernel: $(uname -r); filesystem of the stores: $(df -T "$BT" | awk 'NR == 2 { print $2 " (" $1 ")" }')"
	echo "- load at start: ${LOAD_START#*load average}; at end: ${LOAD_END#*load average} (load average; the machine is shared)"
	echo "- berth: $(git -C "$BENCH_TOP" rev-parse --short HEAD 2>/dev/null)$(git -C "$BENCH_TOP" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo ' + uncommitted changes'), pool: 4 API + 4 to 32 upload (dynamic) + 2 token workers + master + signer, token auth"
	echo "- reference: $(docker-registry --version 2>&1 | head -n 1), filesystem driver, basic auth in nginx (htpasswd -B, cost 5)"
	echo "- $(nginx -v 2>&1); $(curl --version | head -n 1 | cut -d' ' -f1-2,5); $(openssl version); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2); ab $(ab -V | awk 'NR == 1 { print $5 }'); $(skopeo --version)"
	echo "- clients: curl --http1.1 (one connection), wrk -t2 -c$CONNS, ab -i -k -c$CONNS; TLS 1.3 over loopback"
}

DATE=$(date '+%Y-%m-%d-%H%M')
OUT=$BENCH_TOP/bench/results/$DATE.md
mkdir -p "$BENCH_TOP/bench/results"
{
	echo "# make bench, $DATE"
	echo
	echo "berth (token auth) against CNCF Distribution 2.8.2 (basic auth in nginx), both behind nginx with the same TLS settings on loopback. Medians of $RUNS runs."
	echo
	echo "$TABLE"
	echo
	if [ -n "$ERRS" ]; then
		echo "Errors seen (the figure is not valid where these are many):"
		echo '```'
		echo "$ERRS"
		echo '```'
		echo
	fi
	echo "## The ceilings (MiB/s unless said)"
	echo
	echo "$CEILINGS"
	echo
	echo "## Where the CPU went during the transfers (% of one core; the machine has $(nproc))"
	echo
	echo "$CPU_TABLE"
	echo
	echo "## Machine"
	echo
	machine
	echo
	echo "## Every run (key system value)"
	echo
	echo '```'
	cat "$RAW"
	echo '```'
} >"$OUT"

echo
echo "$TABLE"
echo
echo "$CPU_TABLE"
[ -z "$ERRS" ] || { echo; echo "Errors:"; echo "$ERRS"; }
echo
machine
echo
echo "written to ${OUT#"$BENCH_TOP"/}"
