#!/bin/bash
# soak.sh - `make soak`: an hour of mixed load on the real stack, with the
# collector and worker kills running through it, and proof that nothing was
# lost.  Not part of `make test`.
#
#   SOAK_TIME=3600      seconds of load
#   SOAK_CLIENTS=6      concurrent clients (threads of bench/soak-load.py)
#   SOAK_GC_EVERY       seconds between `berthctl gc --grace 1m` (default
#                       180, or SOAK_TIME/5 when shorter)
#   SOAK_KILL_EVERY     seconds between SIGKILLs of a random FastCGI worker
#                       (default 120, or SOAK_TIME/6 when shorter)
#   SOAK_SEED=1         the load's random seed (same seed, same operations)
#   SOAK_REPORT=bench/results/soak-<UTC date>.md
#   BUILD=build         where berthd and berthctl are
#
# The stack is tests/lib.sh's: nginx with TLS and berthd on free loopback
# ports in a trash directory, token authentication on (a user "soak" that
# may do everything, and "soak-wrong" for the wrong-password logins).  What
# the load does and how each answer is judged: bench/soak-load.py.  At the
# end, with the load stopped:
#   - 0 unexpected errors (answers under a worker kill are counted apart);
#   - every acknowledged push, still in the ledger, pulled again byte for
#     byte (soak-load.py), and tags/list of every repository as the ledger
#     says;
#   - `berthctl fsck` clean;
#   - no worker died other than by our SIGKILLs (berthd's log);
#   - the pool's memory (sum of RSS and PSS of berthd's processes), idle
#     before the load against idle after it (once the upload pool has
#     shrunk back to its minimum).
# The figures go to $SOAK_REPORT; the exit status says whether it held.
. "$(dirname "$0")/../tests/lib.sh"
. "$(dirname "$0")/../tests/lib-clients.sh"

need_cmd python3
SOAK_TIME=${SOAK_TIME:-3600}
SOAK_CLIENTS=${SOAK_CLIENTS:-6}
SOAK_SEED=${SOAK_SEED:-1}
short() { local d=$(($1 / $2)); [ "$d" -ge 1 ] || d=1; [ "$d" -lt "$3" ] && echo "$d" || echo "$3"; }
SOAK_GC_EVERY=${SOAK_GC_EVERY:-$(short "$SOAK_TIME" 5 180)}
SOAK_KILL_EVERY=${SOAK_KILL_EVERY:-$(short "$SOAK_TIME" 6 120)}
SOAK_REPORT=${SOAK_REPORT:-$BERTH_TOP/bench/results/soak-$(date -u +%Y-%m-%d-%H%M).md}
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built (make all)"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_setup
PASSWORD=soak-$RANDOM$RANDOM
printf '%s\n' "$PASSWORD" | "$BERTHCTL" -c "$DATA/berth.conf" user add soak --password-stdin >/dev/null ||
	bail "berthctl user add soak"
printf 'soak-wrong-%s\n' "$RANDOM" | "$BERTHCTL" -c "$DATA/berth.conf" user add soak-wrong \
	--password-stdin >/dev/null || bail "berthctl user add soak-wrong"
printf '# soak.sh\nuser:soak  **  *\n' >"$DATA/auth/policy"
berth_start
LOG=$RUN/berthd.log
W=$TRASH/soak
mkdir -p "$W"

# pool_mem: "processes rss_kib pss_kib" of the master and its descendants.
pool_mem() {
	local p n=0 rss=0 pss=0 r s
	for p in "$BERTHD_PID" $(berth_descendants "$BERTHD_PID"); do
		read -r r s < <(awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' \
			"/proc/$p/smaps_rollup" 2>/dev/null) || continue
		n=$((n + 1)); rss=$((rss + r)); pss=$((pss + s))
	done
	echo "$n $rss $pss"
}

# pool_mem_by_role: "role processes rss_kib pss_kib" for the api, upload
# and token workers and the rest (master, signer, sweeper, directory).
pool_mem_by_role() {
	local role pids all p r s
	all=" $(berth_descendants "$BERTHD_PID" | tr '\n' ' ') $BERTHD_PID "
	for role in api upload token other; do
		if [ "$role" = other ]; then
			pids=$all
		else
			pids=$(pool_workers "$role" | tr '\n' ' ')
			for p in $pids; do all=${all/ $p / }; done
		fi
		for p in $pids; do
			awk '/^Rss:/ { r = $2 } /^Pss:/ { s = $2 } END { print r + 0, s + 0 }' \
				"/proc/$p/smaps_rollup" 2>/dev/null
		done | awk -v role="$role" '{ n++; r += $1; s += $2 } END { print role, n + 0, r + 0, s + 0 }'
	done
}

# upload_pool_at_min: the upload pool is back to upload_workers_min.
upload_pool_at_min() {
	local min
	min=$(berth_conf_get upload_workers_min); min=${min:-4}
	[ "$(pool_workers upload | wc -w)" -le "$min" ]
}

MEM0=$(pool_mem)
pool_mem_by_role >"$W/mem0"
DATE0=$(date -u '+%Y-%m-%d %H:%M UTC')
say "# soak: ${SOAK_TIME}s, $SOAK_CLIENTS clients, gc every ${SOAK_GC_EVERY}s, a worker killed every ${SOAK_KILL_EVERY}s ($URL)"
python3 "$BERTH_TOP/bench/soak-load.py" --url "$URL" --cacert "$CACERT" \
	--user soak --password "$PASSWORD" --wrong-user soak-wrong \
	--duration "$SOAK_TIME" --clients "$SOAK_CLIENTS" --seed "$SOAK_SEED" \
	--master-pid "$BERTHD_PID" --sockets "$(berth_sockets | paste -sd, -)" \
	--berthctl "$BERTHCTL" --conf "$DATA/berth.conf" --store "$STORE" \
	--gc-every "$SOAK_GC_EVERY" --kill-every "$SOAK_KILL_EVERY" \
	--out "$W/result.json" --ledger "$W/ledger.json" 2>"$W/load.err"
LOAD_RC=$?
ok "the load generator ran to its end (exit 0 or 1)" test "$LOAD_RC" -le 1 -a -s "$W/result.json"
[ -s "$W/result.json" ] || { tail -n 20 "$W/load.err"; bail "no result from soak-load.py"; }

# Idle again: the upload pool shrinks to its minimum after upload_idle_timeout.
for _ in $(seq 1 60); do upload_pool_at_min && break; sleep 1; done
MEM1=$(pool_mem)
pool_mem_by_role >"$W/mem1"
"$BERTHCTL" -c "$DATA/berth.conf" fsck >"$W/fsck.out" 2>&1
FSCK_RC=$?

R=$W/result.json
UNEXPECTED=$(jq '[.unexpected[]] | add // 0' "$R")
UNDER_KILL=$(jq '[.under_kill[]] | add // 0' "$R")
LEDGER=$(jq .ledger "$R")
VERIFIED=$(jq .verified "$R")
KILLS=$(jq '[.events[] | select(test("kill worker"))] | length' "$R")
GCS=$(jq '[.events[] | select(test(" gc exit 0 "))] | length' "$R")
# Worker deaths the log reports: ours are "killed by signal 9"; another
# signal or a non-zero exit status is a crash.
OTHER_DEATHS=$(grep -Ec 'worker [0-9]+ (was killed by signal ([0-8]|[1-9][0-9])|exited with status [1-9])' "$LOG")
SIG9=$(grep -Ec 'worker [0-9]+ was killed by signal 9;' "$LOG")

expect_eq "0 unexpected errors" "$UNEXPECTED" 0
ok "every ledger entry pulled back byte for byte ($VERIFIED of $LEDGER)" test "$VERIFIED" = "$LEDGER"
ok "some pushes were acknowledged ($LEDGER in the ledger)" test "$LEDGER" -gt 0
expect_eq "berthctl fsck exit status" "$FSCK_RC" 0
ok "workers were killed ($KILLS) and the log saw each ($SIG9)" test "$KILLS" -gt 0 -a "$SIG9" -ge "$KILLS"
ok "gc ran ($GCS times, each exit 0)" test "$GCS" -gt 0
expect_eq "no worker died other than by our SIGKILLs" "$OTHER_DEATHS" 0

# ---------------------------------------------------------------- report

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
read -r N0 RSS0 PSS0 <<<"$MEM0"
read -r N1 RSS1 PSS1 <<<"$MEM1"
{
	echo "# soak: $DATE0"
	echo
	echo "\`SOAK_TIME=$SOAK_TIME make soak\` (bench/soak.sh, bench/soak-load.py): $SOAK_CLIENTS clients,"
	echo "seed $SOAK_SEED, \`berthctl gc --grace 1m\` every ${SOAK_GC_EVERY}s, SIGKILL of a random"
	echo "FastCGI worker every ${SOAK_KILL_EVERY}s; token auth on; $(nproc) CPUs"
	echo "($(uname -sr)), shared with other work while it ran."
	echo
	echo "| result | |"
	echo "|---|---|"
	echo "| load | $(jq .load_seconds "$R") s, $(jq .requests "$R") HTTP requests |"
	echo "| unexpected errors | **$UNEXPECTED** |"
	echo "| failed under a worker kill (expected) | $UNDER_KILL ($(jq -c .under_kill "$R")) |"
	echo "| pushes acknowledged and still in the ledger | $LEDGER ($(jq .ledger_blobs "$R") blobs, $(mib $(($(jq .ledger_bytes "$R") / 1024))) MiB of layers), deleted $(jq .deleted "$R"), in doubt $(jq .in_doubt "$R") |"
	echo "| pulled back byte-identical at the end | $VERIFIED of $LEDGER |"
	echo "| \`berthctl fsck\` | exit $FSCK_RC: $(tail -n 1 "$W/fsck.out") |"
	echo "| workers killed / deaths in the log by SIGKILL / other deaths | $KILLS / $SIG9 / $OTHER_DEATHS |"
	echo "| gc runs (exit 0) | $GCS |"
	echo "| pool memory idle before: processes, RSS, PSS | $N0, $(mib "$RSS0") MiB, $(mib "$PSS0") MiB |"
	echo "| pool memory idle after | $N1, $(mib "$RSS1") MiB, $(mib "$PSS1") MiB |"
	echo
	echo "Pool memory idle, by role (processes, RSS KiB, PSS KiB), before -> after:"
	echo
	paste -d' ' "$W/mem0" "$W/mem1" |
		awk '{ printf "    %-7s %d, %d, %d -> %d, %d, %d\n", $1, $2, $3, $4, $6, $7, $8 }'
	echo
	echo "Operations that succeeded:"
	echo
	jq -r '.ok | to_entries | sort_by(.key)[] | "- \(.key): \(.value)"' "$R"
	echo
	echo "Pool memory under load (every 30 s: seconds, processes, RSS KiB, PSS KiB):"
	echo
	jq -r '.memory[] | "    \(.[0])s  \(.[1])  \(.[2])  \(.[3])"' "$R"
	echo
	echo "Chaos events:"
	echo
	jq -r '.events[] | "    \(.)"' "$R"
	echo
	echo "Failures under a worker kill (first 50; counted apart, expected):"
	echo
	jq -r '.kill_notes[] | "    \(.)"' "$R"
	if [ "$UNEXPECTED" != 0 ]; then
		echo
		echo "Unexpected errors (first 50):"
		echo
		jq -r '.errors[] | "    \(.)"' "$R"
	fi
} >"$SOAK_REPORT"
say "# soak: report in $SOAK_REPORT"
[ "$UNEXPECTED" = 0 ] || jq -r '.errors[]' "$R" | head -n 20 | sed 's/^/#   /'
test_done
