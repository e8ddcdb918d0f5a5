#!/usr/bin/env bash
# Fault: SIGTERM to `synack serve --echo` while 1,000 kernel clients hold connections open.
#   1. 1,000 python3 clients connect and each gets an 8-byte echo back (all accepted and served);
#      the server's table shows 1,000 ESTABLISHED;
#   2. SIGTERM: serve exits 0 within --grace (2 s) + 10 s of slack, prints its "stopped" line;
#   3. every client saw its connection end (FIN or RST), none is left open;
#   4. no firewall rule is left, no synack process either.
# Runs over IPv4 and, as integration.test_fault_sigterm_1000.ipv6, over IPv6 (serve listens on the
# client's IPv6 address; the kernel clients connect over IPv6).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
# shellcheck disable=SC2034  # read by serve_start (serve_lib.sh)
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
N=${FAULT_CONNECTIONS:-1000}
GRACE=2
SLACK=10
cp "$IT_DIR/fault_clients.py" "$NETNS_TMP/fault_clients.py"

it_section "$N connections to synack serve"
serve_start serve --echo --backlog 2048 --max-half-open 2048 --grace "$GRACE" --stats "$NETNS_TMP/stats.json"
ip netns exec "$NETNS_S" "$(netns_python)" -u "$NETNS_TMP/fault_clients.py" hold "$IT_IP_C" "$SERVE_PORT" "$N" \
  "$NETNS_TMP/ready" "$NETNS_TMP/result.json" --deadline 45 >"$NETNS_TMP/clients.log" 2>&1 &
CPID=$!
NETNS_PIDS+=("$CPID")
netns_wait_until 60 "$N clients connected and echoed" test -s "$NETNS_TMP/ready" \
  || { cat "$NETNS_TMP/clients.log"; fail "the clients did not get ready"; }
read -r _ opened _ failed <"$NETNS_TMP/ready"
[ "$opened" = "$N" ] && [ "$failed" = 0 ] || fail "only $opened of $N connections echoed ($failed failed)"
ok "$N connections open, each echoed 8 bytes"
serve_table
est=$(serve_states | tr ' ' '\n' | sed -n 's/^ESTABLISHED=//p')
[ "${est:-0}" -ge "$N" ] || fail "serve's table shows ${est:-0} ESTABLISHED, expected $N: $(serve_states)"
ok "serve's table: $(serve_states)"

it_section "SIGTERM closes all $N, removes the rule, exits in time"
t0=$(date +%s%N)
kill -TERM "$SERVE_PID"
it_wait_bg serve "$SERVE_PID" $((GRACE + SLACK))
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$IT_RC" = 0 ] || fail "synack serve exited $IT_RC after SIGTERM"
grep -q 'stopped' "$SERVE_OUT" || fail "no 'stopped' line"
ok "exit 0 ${ms} ms after SIGTERM (bound $((GRACE + SLACK)) s): $(grep stopped "$SERVE_OUT" | cut -c1-120)"
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules)"
ok "no firewall rule left"
netns_wait_exit "$CPID" 30 || fail "the clients did not finish"
wait "$CPID" || true
cat "$NETNS_TMP/clients.log"
it_py "$NETNS_TMP/result.json" "$N" <<'EOF'
import json, sys
from it import *
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
check(r['opened'] == n, "opened %d, expected %d" % (r['opened'], n))
check(r['open'] == 0, "%d connections were still open on the clients' side" % r['open'])
check(r['fin'] + r['rst'] == n, "fin %d + rst %d != %d" % (r['fin'], r['rst'], n))
done("all %d clients saw their connection end: %d by FIN, %d by RST" % (n, r['fin'], r['rst']))
EOF
it_py "$NETNS_TMP/stats.json" <<'EOF'
import json, sys
from it import *
j = json.load(open(sys.argv[1]))
check(j.get('connections', -1) <= j['listener']['accepted'], "stats: %s" % j.get('connections'))
done("stats written at exit: accepted %d, %d connections left in the table (TIME_WAIT)" % (j['listener']['accepted'], j['connections']))
EOF
[ -z "$(ip netns pids "$NETNS_C" 2>/dev/null)" ] || fail "processes left in $NETNS_C: $(ip netns pids "$NETNS_C")"
ok "nothing left running in $NETNS_C"

echo "PASS $(basename "$0") ($(it_elapsed))"
