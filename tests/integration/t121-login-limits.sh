#!/bin/bash
# t121-login-limits.sh - failed logins slow guessing without locking anyone
# out, every failure and throttle is logged, and sessions end when they
# should; driven with curl through nginx.
#
# Each "address" is a loopback address that curl binds to (--interface
# 127.0.0.N): nginx sees it as $remote_addr and hands it to berth as
# REMOTE_ADDR (X-Forwarded-For is not trusted).  The rules (auth/ratelimit.h)
# run with login_fail_limit 3, login_account_limit 12 and login_spray_limit 4
# so that a few requests reach them; delays double from 1 s, so reaching a
# delay of 8 s takes 1 + 2 + 4 s of waiting (throttle_to), 4 s takes 3 s.
#
# What is checked, in order:
#   - a colleague's 20 typos from the shared address do not stop another
#     user there, nor the colleague from elsewhere; the log names user,
#     address and reason;
#   - 20 wrong secrets (and wrong passwords) for a CI token's name are never
#     refused with 429, and the real token keeps working;
#   - one pair slowed: 429 with Retry-After, also for the right password,
#     any spelling of the name; the wait over, the right password works;
#   - many failures of one account from many addresses slow unfamiliar
#     addresses (429, "for this account") while the owner's familiar address
#     still logs in;
#   - spraying 5+ accounts from one address slows that address for accounts
#     it is not familiar with, not for one it knows, not elsewhere;
#   - berthctl user revoke ends a refresh token (POST grant_type=
#     refresh_token -> 401) and a new login works; so do user passwd and
#     user rm; usage errors exit 2.
. "$(dirname "$0")/../lib.sh"

need_cmd curl jq
BERTHCTL=$BUILD/berthctl
[ -x "$BERTHCTL" ] || bail "$BERTHCTL not built"

# shellcheck disable=SC2034 # read by lib.sh (berth_setup -> util/mkconf.sh)
BERTH_AUTH=token
berth_conf login_fail_limit 3
berth_conf login_account_limit 12
berth_conf login_spray_limit 4
berth_conf login_fail_window 900
berth_conf login_delay_max 900
berth_setup
W=$TRASH/work
mkdir -p "$W"
CONF=$DATA/berth.conf
LOG=$RUN/berthd.log
cat >"$DATA/auth/policy" <<'EOF'
authenticated      ${user}/**     *
EOF

ctl() { "$BERTHCTL" -c "$CONF" "$@"; }
ctl_in() { local in=$1; shift; printf '%s\n' "$in" | ctl "$@"; }

# from N CRED [curl args]: GET /token from 127.0.0.N with Basic CRED.
from() {
	local n=$1 cred=$2; shift 2
	req GET /token -G --interface "127.0.0.$n" -u "$cred" --data-urlencode service=berth "$@"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
	REFRESH=$(jq -r '.refresh_token // empty' "$BODY" 2>/dev/null)
}
# refresh N TOKEN: docker's refresh (POST grant_type=refresh_token).
refresh() {
	req POST /token --interface "127.0.0.$1" -H 'Content-Type: application/x-www-form-urlencoded' \
		--data-urlencode grant_type=refresh_token --data-urlencode service=berth \
		--data-urlencode client_id=docker --data-urlencode "refresh_token=$2" \
		--data-urlencode "scope=repository:x/y:pull"
	TOKEN=$(jq -r '.token // empty' "$BODY" 2>/dev/null)
}
expect_detail() {
	local got
	got=$(jq -r '.errors[0].detail // .errors[0].message // empty' "$BODY" 2>/dev/null)
	if printf '%s' "$got" | grep -qiF -- "$1"; then
		pass "$LAST_REQ: detail mentions '$1'"
	else
		fail "$LAST_REQ: detail mentions '$1'" "got: '$got' (status $STATUS)"
	fi
}
# expect_retry_after MIN MAX: a 429 with Retry-After in [MIN, MAX].
expect_retry_after() {
	local ra
	ra=$(hdr Retry-After)
	case $ra in '' | *[!0-9]*) ra=-1 ;; esac
	if [ "$STATUS" = 429 ] && [ "$ra" -ge "$1" ] && [ "$ra" -le "$2" ]; then
		pass "$LAST_REQ: 429, Retry-After $ra in [$1, $2]"
	else
		fail "$LAST_REQ: 429, Retry-After in [$1, $2]" "got $STATUS, Retry-After '$(hdr Retry-After)'"
	fi
}
# expect_log DESC EXTENDED-REGEX: a line of the pool's log at info or above.
expect_log() {
	if grep -E ' (info|warn|error): ' "$LOG" | grep -Eq -- "$2"; then
		pass "log: $1"
	else
		fail "log: $1" "no line ~ $2" "$(grep -i login "$LOG" | tail -n 5)"
	fi
}
# throttle_to N CRED MIN: wrong logins from 127.0.0.N, waiting out each
# delay, until a delay of at least MIN s.
# one failing login.  Bounded: 16 tries, ~20 s.
throttle_to() {
	local n=$1 cred=$2 min=$3 i ra=0
	for i in $(seq 1 16); do
		from "$n" "$cred"
		ra=$(hdr Retry-After)
		case $ra in '' | *[!0-9]*) ra=0 ;; esac
		if [ "$STATUS" = 429 ]; then
			[ "$ra" -ge "$min" ] && return 0
			[ "$ra" -le 8 ] || return 1
			sleep "$ra"
		fi
	done
	return 1
}

ALICE_PW='alice-Pw-1'
ok "berthctl user add alice" ctl_in "$ALICE_PW" user add alice --password-stdin
ok "berthctl user add bob" ctl_in bob-Pw-2 user add bob --password-stdin
ok "berthctl user add carol" ctl_in carol-Pw-3 user add carol --password-stdin
ok "berthctl user add dave" ctl_in dave-Pw-4 user add dave --password-stdin
ok "berthctl user add erin" ctl_in erin-Pw-5 user add erin --password-stdin
if ctl token create ci --scope repository:ci/app:pull >"$W/ci.out" 2>&1; then
	pass "berthctl token create ci"
else
	fail "berthctl token create ci" "$(head -c 300 "$W/ci.out")"
fi
CI_SECRET=$(grep -oE 'berth_[A-Za-z0-9_-]{20,}' "$W/ci.out" | head -n 1)
berth_start

# ---------------------------------------------------------------- colleagues

# carol mistypes her password 20 times from the office address .20.
n401=0 n429=0
for i in $(seq 1 20); do
	from 20 "carol:typo$i"
	case $STATUS in 401) n401=$((n401 + 1)) ;; 429) n429=$((n429 + 1)) ;; esac
done
expect_eq "carol's 20 typos: 401 or 429 only" "$((n401 + n429))" 20
ok "carol's typos beyond the allowance are slowed (some 429)" test "$n429" -gt 0
from 20 "dave:dave-Pw-4"
expect_status 200
ok "dave logs in from the same address" test -n "$TOKEN"
from 21 "carol:carol-Pw-3"
expect_status 200
expect_log "carol's typo: user, address, reason" 'login of carol from 127\.0\.0\.20 failed: bad password'
expect_log "carol slowed: user, address, delay" 'login of carol from 127\.0\.0\.20 throttled for [0-9]+ s'

# ---------------------------------------------------------------- CI tokens

n401=0
for i in $(seq 1 20); do
	from 40 "ci:berth_wrongsecret$i"
	[ "$STATUS" != 401 ] || n401=$((n401 + 1))
done
expect_eq "20 wrong secrets for the token's name: 401 each time, never 429" "$n401" 20
# Passwords that are no token secret count like any other failure: after
# login_fail_limit of them the next ones are held back.  Bounded loop, not
# "the 6th is 429": on a loaded machine the 1 s delay after the 3rd can run
# out before the 6th request arrives, which then counts as a 4th failure.
for i in $(seq 1 12); do
	from 40 "ci:not-a-token-$i"
	[ "$STATUS" != 429 ] || break
done
expect_status 429
from 40 "ci:$CI_SECRET" --data-urlencode scope=repository:ci/app:pull
expect_status 200
ok "the real CI token works from the attacker's address" test -n "$TOKEN"
from 41 "ci:$CI_SECRET" --data-urlencode scope=repository:ci/app:pull
expect_status 200
expect_log "a wrong token secret is logged, not counted" \
	'login of ci from 127\.0\.0\.40 failed: wrong secret or no such repository token \(not counted\)'

# ---------------------------------------------------------------- one pair

ok "bob from .50: wrong passwords until a delay of 8 s" throttle_to 50 "bob:guess" 8
from 50 "bob:bob-Pw-2"
expect_retry_after 4 900
expect_error_code TOOMANYREQUESTS
expect_detail "this account from this address"
from 50 "BOB :bob-Pw-2"
ok "another spelling of bob is slowed too" test "$STATUS" = 429
from 51 "bob:bob-Pw-2"
expect_status 200
from 50 "alice:$ALICE_PW"
expect_status 200
expect_log "bob slowed, with the delay" 'login of bob from 127\.0\.0\.50 throttled for [0-9]+ s: too many failed logins for this account from this address'
# The 429s were not failures: the wait over, the right password works.
from 50 "bob:bob-Pw-2"
RA=$(hdr Retry-After)
case $RA in '' | *[!0-9]*) RA=0 ;; esac
[ "$RA" -le 20 ] && sleep "$RA"
from 50 "bob:bob-Pw-2"
expect_status 200

# ---------------------------------------------------------------- one account, many addresses

# erin logs in from her machine (.60): a familiar address from now on.
from 60 "erin:erin-Pw-5"
expect_status 200
# until_delayed TRIES TRY NEXT: TRY (one wrong login) until it answers 429
# with Retry-After >= 4, sleeping out shorter delays, NEXT after each try
# that did not end it; fails after TRIES tries or on a delay above 8 s.
until_delayed() {
	local tries=$1 try=$2 next_cmd=$3 i ra
	for i in $(seq 1 "$tries"); do
		"$try"
		ra=$(hdr Retry-After)
		case $ra in '' | *[!0-9]*) ra=0 ;; esac
		if [ "$STATUS" = 429 ]; then
			[ "$ra" -ge 4 ] && return 0
			[ "$ra" -le 8 ] || return 1
			sleep "$ra"
		fi
		"$next_cmd"
	done
	return 1
}
# A guesser spread over addresses .101 .. : one or two tries each.
next=101
erin_try() { from "$next" "erin:guess$next"; }
erin_next() { next=$((next + 1)); }
account_throttled() { until_delayed 24 erin_try erin_next; } # wrong logins of erin from new addresses
ok "erin from many addresses: wrong passwords until a delay of 4 s" account_throttled
from 90 "erin:erin-Pw-5"
expect_retry_after 1 900
expect_detail "for this account"
from 60 "erin:erin-Pw-5"
expect_status 200
ok "erin still logs in from her familiar address" test -n "$TOKEN"
expect_log "erin slowed for an unfamiliar address" 'login of erin from 127\.0\.0\.90 throttled for [0-9]+ s: too many failed logins for this account;'

# ---------------------------------------------------------------- spraying

# alice has logged in from .70 before: it is familiar for her.
from 70 "alice:$ALICE_PW"
expect_status 200
sprayed=0
spray_try() { from 70 "victim$sprayed:Summer2026!"; }
spray_next() { sprayed=$((sprayed + 1)); }
spray() { until_delayed 16 spray_try spray_next; } # one wrong login per new account from .70
ok "spraying accounts from .70 until a delay of 4 s" spray
ok "more than login_spray_limit (4) accounts were sprayed" test "$sprayed" -gt 4
from 70 "dave:dave-Pw-4"
expect_retry_after 1 900
expect_detail "different accounts from this address"
from 70 "alice:$ALICE_PW"
expect_status 200
from 71 "dave:dave-Pw-4"
expect_status 200
expect_log "the sprayer's failures" 'login of victim1 from 127\.0\.0\.70 failed: unknown user'
expect_log "the sprayer slowed" 'login of dave from 127\.0\.0\.70 throttled for [0-9]+ s: too many failed logins for different accounts'

# ---------------------------------------------------------------- sessions

from 80 "alice:$ALICE_PW" --data-urlencode offline_token=true --data-urlencode client_id=docker
expect_status 200
R1=$REFRESH
ok "a refresh token for alice" test -n "$R1"
refresh 80 "$R1"
expect_status 200
if ctl user revoke alice >"$W/revoke.out" 2>&1; then
	pass "berthctl user revoke alice"
else
	fail "berthctl user revoke alice" "$(head -c 300 "$W/revoke.out")"
fi
expect_eq "berthctl user revoke says so" "$(cat "$W/revoke.out")" "revoked the refresh tokens of alice"
refresh 80 "$R1"
expect_error 401 UNAUTHORIZED
expect_eq "no token after the revocation" "$TOKEN" ""
from 80 "alice:$ALICE_PW" --data-urlencode offline_token=true
expect_status 200
R2=$REFRESH
refresh 80 "$R2"
expect_status 200
ok "a new refresh token works after the revocation" test -n "$TOKEN"
# A directory user's name: '@', a blank, UTF-8.
ok "berthctl user revoke 'Jürgen Groß@corp'" ctl user revoke 'Jürgen Groß@corp'
ok "the revocation is keyed on a hash, not the name" \
	test -z "$(find "$DATA/auth/state/revoked" -name '*rgen*')"

# user passwd ends the old sessions, like docker's stored refresh token.
from 80 "bob:bob-Pw-2" --data-urlencode offline_token=true
expect_status 200
RB=$REFRESH
refresh 80 "$RB"
expect_status 200
ok "berthctl user passwd bob" ctl_in bob-New-9 user passwd bob --password-stdin
refresh 80 "$RB"
expect_error 401 UNAUTHORIZED
from 80 "bob:bob-Pw-2"
expect_error 401 UNAUTHORIZED
from 80 "bob:bob-New-9" --data-urlencode offline_token=true
expect_status 200
RB=$REFRESH
ok "berthctl user rm bob" ctl user rm bob
refresh 80 "$RB"
expect_error 401 UNAUTHORIZED

ctl user revoke >"$W/u.out" 2>&1
expect_eq "berthctl user revoke without NAME: exit 2" "$?" 2
ctl user revoke a b >"$W/u.out" 2>&1
expect_eq "berthctl user revoke with two NAMEs: exit 2" "$?" 2
ok "berthctl user --help names revoke" sh -c "'$BERTHCTL' -c '$CONF' user --help | grep -q 'user revoke NAME'"
grep -v '^state_dir' "$CONF" >"$W/nostate.conf"
"$BERTHCTL" -c "$W/nostate.conf" user revoke alice >"$W/u.out" 2>&1
expect_eq "berthctl user revoke without state_dir: exit 2" "$?" 2

# No password or secret ever reaches the log.
ok_not "no password in the log" grep -qE "typo1|guess6|Summer2026|$ALICE_PW|$CI_SECRET|wrongsecret" "$LOG"

test_done
