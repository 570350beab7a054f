#!/bin/bash
# t163-listen.sh - `make run LISTEN=...`: the addresses nginx listens on.
#
#   a. util/mkconf.sh renders one `listen` line per address of LISTEN
#      (default 127.0.0.1; IPv6 with or without brackets; blanks or commas
#      between), and refuses an address that is none, leaving nginx.conf
#      as it was; nginx -t accepts what it renders;
#   b. nginx's certificate names the addresses: a new one is made, by the
#      same CA, when LISTEN names one it lacks; a wildcard brings in the
#      host's own addresses (hostname -I);
#   c. util/run.sh (what `make run` runs) with LISTEN=127.0.0.2 answers on
#      127.0.0.2 with a certificate that verifies for it, and not on
#      127.0.0.1; it prints that URL, and Ctrl-C (SIGTERM) stops it.
. "$(dirname "$0")/../lib.sh"

need_cmd nginx curl openssl ss
MK=$BERTH_TOP/util/mkconf.sh
D=$TRASH/mk
P=$(berth_free_port) || bail "no free port"

# listens FILE: the listen lines of a rendered nginx.conf, one a line.
listens() { grep -E '^[[:space:]]*listen[[:space:]]' "$1" | sed -e 's/^[[:space:]]*listen[[:space:]]*//' -e 's/;$//'; }
mk() { env "$@" AUTH=none sh "$MK" "$D" "$P"; }
# has_ip ADDR: nginx's certificate in $D is valid for ADDR.
has_ip() { openssl x509 -in "$D/tls-private/server.crt" -noout -checkip "$1" | grep -q 'does match'; }

# ---------------------------------------------------------------- a. listen lines
ok "mkconf.sh with no LISTEN" mk
expect_eq "default: 127.0.0.1" "$(listens "$D/nginx.conf")" "127.0.0.1:$P ssl http2"
ok "LISTEN=0.0.0.0" mk LISTEN=0.0.0.0
expect_eq "LISTEN=0.0.0.0: one line" "$(listens "$D/nginx.conf")" "0.0.0.0:$P ssl http2"
ok "LISTEN='0.0.0.0 [::]'" mk LISTEN="0.0.0.0 [::]"
expect_eq "LISTEN='0.0.0.0 [::]': both" "$(listens "$D/nginx.conf")" "0.0.0.0:$P ssl http2
[::]:$P ssl http2"
ok "LISTEN='127.0.0.2,::1' (bare IPv6, a comma)" mk LISTEN="127.0.0.2,::1"
expect_eq "LISTEN='127.0.0.2,::1': bracketed" "$(listens "$D/nginx.conf")" "127.0.0.2:$P ssl http2
[::1]:$P ssl http2"
ok "nginx -t accepts it" nginx -t -q -p "$D/run" -c "$D/nginx.conf"
ok "LISTEN_ADDR, the older name, still works" mk LISTEN_ADDR=127.0.0.3
expect_eq "LISTEN_ADDR=127.0.0.3" "$(listens "$D/nginx.conf")" "127.0.0.3:$P ssl http2"
cp "$D/nginx.conf" "$TRASH/nginx.before"
for bad in '1.2.3.4;' '127.0.0.1 ssl; include /etc/passwd' '[::1' 'ho$t' ' '; do
	ok_not "LISTEN='$bad' is refused" mk LISTEN="$bad"
done
ok "nginx.conf is unchanged by a refused LISTEN" cmp -s "$D/nginx.conf" "$TRASH/nginx.before"
ok "listen lines are not rendered in comments" sh -c '! grep -E "^[[:space:]]*#.*127\.0\.0\.3" "$1"' - "$D/nginx.conf"

# ---------------------------------------------------------------- b. the certificate
cp "$D/tls/ca.crt" "$TRASH/ca.before"
ok "the certificate has 127.0.0.3 (LISTEN named it)" has_ip 127.0.0.3
ok_not "... and not 127.0.0.9" has_ip 127.0.0.9
ok "LISTEN=127.0.0.9" mk LISTEN=127.0.0.9
ok "a new certificate names 127.0.0.9" has_ip 127.0.0.9
ok "the CA is the same" cmp -s "$D/tls/ca.crt" "$TRASH/ca.before"
ok "the new certificate verifies with it" openssl verify -CAfile "$D/tls/ca.crt" "$D/tls-private/server.crt"
HOST_IP=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -v '%' | grep . | head -n 1)
if [ -n "$HOST_IP" ]; then
	ok "LISTEN=0.0.0.0" mk LISTEN=0.0.0.0
	ok "a wildcard: the certificate names the host's $HOST_IP" has_ip "$HOST_IP"
else
	note "hostname -I names no address: wildcard certificate check skipped"
fi
ok "LISTEN=127.0.0.9" mk LISTEN=127.0.0.9
cp "$D/tls-private/server.crt" "$TRASH/crt.before"
ok "LISTEN=127.0.0.9 again" mk LISTEN=127.0.0.9
ok "a certificate that has the names is kept" cmp -s "$D/tls-private/server.crt" "$TRASH/crt.before"

# ---------------------------------------------------------------- c. make run
[ -x "$BUILD/berthd" ] || bail "$BUILD/berthd not built"
RD=$TRASH/run-data
RP=$(berth_free_port) || bail "no free port"
RUN_OUT=$TRASH/run.out
# setsid: its own process group, as from a terminal; RUN_USER= keeps root.
env BUILD="$BUILD" PORT="$RP" DATA="$RD" LISTEN=127.0.0.2 RUN_USER= \
	setsid sh "$BERTH_TOP/util/run.sh" >"$RUN_OUT" 2>&1 </dev/null &
RUN_PID=$!
berth_track_pid "$RUN_PID"
for _ in $(seq 1 300); do
	grep -q '^berth is running' "$RUN_OUT" && break
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.1
done
ok "run.sh says where it runs" grep -q "^berth is running at https://127.0.0.2:$RP/ " "$RUN_OUT" ||
	say "#   $(tail -n 5 "$RUN_OUT" | tr '\n' ' ')"
ok "its hints name 127.0.0.2" grep -q "docker push 127.0.0.2:$RP/" "$RUN_OUT"
code=$(curl -sS -o "$TRASH/hz" -w '%{http_code}' --max-time 10 --cacert "$RD/tls/ca.crt" \
	"https://127.0.0.2:$RP/healthz" 2>"$TRASH/curl.err")
expect_eq "https://127.0.0.2:$RP/healthz, certificate verified: 200" "$code" 200
expect_eq "... ok" "$(cat "$TRASH/hz")" ok
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -k "https://127.0.0.1:$RP/healthz")
expect_eq "nothing answers on 127.0.0.1:$RP" "$code" 000
ok "nginx listens on 127.0.0.2:$RP only" sh -c \
	'ss -Htln "sport = :$1" | awk "{ print \$4 }" | grep -qx "127.0.0.2:$1" &&
	 [ "$(ss -Htln "sport = :$1" | wc -l)" = 1 ]' - "$RP"
kill -TERM "$RUN_PID" 2>/dev/null
for _ in $(seq 1 300); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
ok "run.sh stops on SIGTERM" sh -c '! kill -0 "$1" 2>/dev/null' - "$RUN_PID"
ok "... saying so" grep -q '^run: stopped' "$RUN_OUT"
ok "... and nginx with it" sh -c '! ss -Htln "sport = :$1" | grep -q .' - "$RP"

test_done
