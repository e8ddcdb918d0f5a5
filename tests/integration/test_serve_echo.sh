#!/usr/bin/env bash
# `synack serve --echo` against 1,000 concurrent kernel clients (python3 asyncio in the peer
# namespace): each sends 64 KiB and must get the same bytes back; half of them close first, the
# other half wait for the server to close (its --idle-timeout, 5 s, 20 s when synack is
# built with sanitizers: well after any client-first close). Afterwards the server's SIGUSR1
# table shows nothing but TIME_WAIT (one per server-closed connection) and the kernel side nothing
# but TIME-WAIT; SIGTERM ends the server with exit 0 and no firewall rule left.
# Runs over IPv4 and, as integration.test_serve_echo.ipv6, over IPv6 (it_family in lib.sh). In
# the sanitizer stage (IT_INSTRUMENTED=1) the IPv6 run is skipped (exit 77, shown as skipped): it
# is the longest test there (64 s: the instrumented server's idle timeout must be 20 s), the IPv4
# run checks the same server code for memory errors, and the other IPv6 serve twins
# (integrity, limits, flood, http) take the IPv6 paths through the sanitizers.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
if [ "${IT_INSTRUMENTED:-0}" = 1 ] && [ "${IT_FAMILY:-4}" = 6 ]; then
  echo "SKIP: the IPv6 run of test_serve_echo is stage 1's only (CI time; see the header)" >&2
  exit 77
fi
it_init "$@"
N=${SERVE_ECHO_CLIENTS:-1000}
# The server-first half ends by the server's idle timeout. It must outlast any stall of a client's
# upload: an instrumented (ASan) server drains its ring slowly under the 1,000-client burst, frames
# are lost and a kernel client's retransmissions back off (0.2, 0.4, 0.8, 1.6, 3.2 s...); a connection
# with nothing received for IDLE seconds is rightly closed as idle.
IDLE=5
[ "${SYNACK_SANITIZED:-0}" = 1 ] && IDLE=20

# ------------------------------------------------------------------------------------------------
it_section "one client: echo, then the server closes an idle connection"
serve_start serve --echo --idle-timeout "$IDLE" --backlog 1024 --stats "$NETNS_TMP/stats.json"
got=$(ip netns exec "$NETNS_S" timeout $((IDLE + 20)) python3 "$IT_DIR/serve_clients.py" echo "$IT_IP_C" "$SERVE_PORT" 2 1000) \
  || fail "the two-client echo run failed: $got"
echo "   $got"
it_py "$got" <<'PY' || fail "two-client echo"
import json, sys
from it import *
r = json.loads(sys.argv[1])
check(r['ok'] == 2, "expected 2 good echoes, got %s" % r)
done("2 connections echoed; one closed by each side")
PY

# ------------------------------------------------------------------------------------------------
# In the background while the big section runs: a client that stops reading for longer than the
# idle timeout while its echo backs up (zero window). Bytes waiting to be sent are not idleness:
# the server must not FIN before the whole echo went out, and must FIN once it has (idle then).
STALL_SIZE=$((1 << 20))
ip netns exec "$NETNS_S" timeout $((3 * IDLE + 60)) python3 "$IT_DIR/serve_clients.py" stall "$IT_IP_C" "$SERVE_PORT" \
  "$STALL_SIZE" $((IDLE + 3)) >"$NETNS_TMP/stall.json" 2>"$NETNS_TMP/stall.err" &
stall_pid=$!

it_section "$N concurrent clients x 64 KiB"
# On failure: what synack counted (SIGUSR1 table and --stats JSON) and the kernel clients' losses.
echo_diagnostics() {
  serve_table
  grep '^counters:' "$NETNS_TMP/table.txt" || true
  cat "$NETNS_TMP/stats.json" 2>/dev/null || true
  echo
  ip netns exec "$NETNS_S" nstat -az 2>/dev/null | grep -E 'Retrans|Timeout|Drop|Loss|Prune|Collapse' || true
}
got=$(ip netns exec "$NETNS_S" timeout $((IDLE + 75)) python3 "$IT_DIR/serve_clients.py" echo "$IT_IP_C" "$SERVE_PORT" "$N" 65536) \
  || fail "the client run failed or timed out: $got"
echo "   $got"
it_py "$got" "$N" <<'PY' || { echo_diagnostics; fail "echo results"; }
import json, sys
from it import *
r, n = json.loads(sys.argv[1]), int(sys.argv[2])
check(r['ok'] == n, "expected %d good echoes, got %d (mismatch %d, errors %s %s)"
      % (n, r['ok'], r['mismatch'], r['connect_errors'], r['errors']))
check(r['client_closed_first'] == (n + 1) // 2, "client-first closes: %d" % r['client_closed_first'])
check(r['server_closed_first'] == n // 2, "server-first closes: %d" % r['server_closed_first'])
done("%d x 64 KiB echoed in %.1f s; %d closed by the client first, %d by the server first"
     % (n, r['seconds'], r['client_closed_first'], r['server_closed_first']))
PY

# ------------------------------------------------------------------------------------------------
it_section "a reader that stalls past the idle timeout gets its whole echo"
wait "$stall_pid" || fail "the stalling client failed: $(cat "$NETNS_TMP/stall.err" "$NETNS_TMP/stall.json")"
got=$(cat "$NETNS_TMP/stall.json")
echo "   $got"
it_py "$got" "$STALL_SIZE" "$IDLE" <<'PY' || fail "stalled reader"
import json, sys
from it import *
r, size, idle = json.loads(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
check(r['echoed'] == size and r['match'], "echo cut short while the reader stalled: %s" % r)
check(r.get('extra') == 0, "no FIN after the echo (or bytes beyond it): %s" % r)
# Idle time starts once the echo is out: the FIN comes an idle timeout after the stall (+3 s) ended.
check(r['eof_after_s'] >= (idle + 3) + idle - 0.5, "FIN too soon after the echo went out: %s" % r)
done("%d bytes echoed across a stall longer than the idle timeout; FIN %.1f s in" % (size, r['eof_after_s']))
PY

# ------------------------------------------------------------------------------------------------
it_section "afterwards: only TIME_WAIT on either side"
only_time_wait() {
  serve_table
  local s
  s=$(serve_states)
  [ -z "$s" ] && return 0
  [[ "$s" =~ ^TIME_WAIT=[0-9]+$ ]]
}
netns_wait_until 15 "only TIME_WAIT in synack's table" only_time_wait \
  || { cat "$NETNS_TMP/table.txt" | tail -n 5; fail "connections left in other states: $(serve_states)"; }
tw=$(serve_states | sed -n 's/^TIME_WAIT=//p')
# The server-first half and the stalled reader, plus the first section's one unless a new client
# reused its port (a new SYN ends TIME_WAIT, as on Linux).
[ "${tw:-0}" -ge $(( N / 2 + 1 )) ] && [ "${tw:-0}" -le $(( N / 2 + 2 )) ] \
  || fail "expected $(( N / 2 + 1 ))..$(( N / 2 + 2 )) TIME_WAIT (server-closed), table says ${tw:-0}"
ok "synack's table: $(serve_states); $(grep '^counters:' "$NETNS_TMP/table.txt")"
kernel_states() { ip netns exec "$NETNS_S" ss -Htan "dport = :$SERVE_PORT" | awk '{print $1}' | sort | uniq -c | tr -s ' '; }
netns_wait_until 10 "only TIME-WAIT on the kernel side" \
  bash -c "! ip netns exec '$NETNS_S' ss -Htan 'dport = :$SERVE_PORT' | grep -qv TIME-WAIT" \
  || fail "kernel side has connections not in TIME-WAIT: $(kernel_states)"
ok "kernel side: $(kernel_states)"

serve_stop
echo "PASS ($(it_elapsed))"
