#!/usr/bin/env bash
# Data integrity of `synack serve --echo` under real concurrency (issue 12): kernel clients in the
# peer namespace, one OS thread each (and several processes for the large run), all released at
# once by a barrier, each sending its own random bytes; even-numbered clients half-close right
# after sending, odd ones wait for the echo. Every byte of every echo is checked and a wrong range
# is looked up in every other client's data (integrity_clients.py names the owner of foreign
# bytes). Runs with the veth's GRO/GSO/TSO on and off: 200 x 64 KiB (threads) and 1,000 x 16 KiB
# (4 processes x 250 threads). Afterwards nothing may be left in CLOSE_WAIT (or any state but
# TIME_WAIT) on synack's side, and SIGTERM ends the server cleanly.
#
# Before the fix, 20-36 of 200 echoes held another client's bytes from its offset 0: an engine
# call made by the server (receive) delivered events re-entrantly, an accept inside it serviced
# a new connection into the server's shared receive buffer, and the outer call then echoed that.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
cp "$IT_DIR/integrity_clients.py" "$NETNS_TMP/"
CLIENT_TIMEOUT=60
[ "${SYNACK_SANITIZED:-0}" = 1 ] && CLIENT_TIMEOUT=120

offloads() {  # offloads on|off: GRO/GSO/TSO on both ends of the veth
  ip netns exec "$NETNS_C" ethtool -K "$NETNS_IF_C" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  ip netns exec "$NETNS_S" ethtool -K "$NETNS_IF_S" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  echo "   offloads $1: $(ip netns exec "$NETNS_S" ethtool -k "$NETNS_IF_S" 2>/dev/null \
    | grep -E '^(generic-receive-offload|tcp-segmentation-offload):' | tr -s ' \n' ' ')"
}

# integrity LABEL N SIZE PROCS: one barrier-released run; every echo byte-exact or fail.
integrity() {
  local label=$1 n=$2 size=$3 procs=$4 got rc=0
  got=$(ip netns exec "$NETNS_S" timeout $((CLIENT_TIMEOUT * 3 + 60)) python3 "$NETNS_TMP/integrity_clients.py" \
    "$NETNS_IP_C" "$SERVE_PORT" "$n" "$size" --procs "$procs" --timeout "$CLIENT_TIMEOUT") || rc=$?
  echo "   $label: $got"
  it_py "$got" "$n" "$label" <<'PY' || { serve_table; grep '^counters:' "$NETNS_TMP/table.txt" || true; fail "$label"; }
import json, sys
from it import *
r, n, label = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
leaks = [f for f in r['foreign'] if f['owner'] is not None and f['owner'] != f['client']]
check(not leaks, "%s: %d echoes carry another connection's bytes (seed %d): %s"
      % (label, len(leaks), r['seed'], leaks[:5]))
check(r['ok'] == n, "%s: %d of %d echoes byte-exact (mismatch %d, short %d, errors %d: %s; seed %d; %s)"
      % (label, r['ok'], n, r['mismatch'], r['short'], r['errors'], r['error_samples'], r['seed'], r['foreign'][:5]))
done("%s: %d x %d bytes echoed byte-exact (%d bytes checked) in %.1f s"
     % (label, n, r['size'], r['bytes_checked'], r['seconds']))
PY
  [ "$rc" = 0 ] || fail "$label: the client run exited $rc"
}

no_close_wait() {  # nothing but TIME_WAIT (or nothing) in synack's table, within a deadline
  only_time_wait() {
    serve_table
    local s
    s=$(serve_states)
    [ -z "$s" ] || [[ "$s" =~ ^TIME_WAIT=[0-9]+$ ]]
  }
  netns_wait_until 30 "only TIME_WAIT in synack's table" only_time_wait \
    || { tail -n 20 "$NETNS_TMP/table.txt"; fail "connections left in other states: $(serve_states)"; }
  ok "synack's table afterwards: $(serve_states)"
}

# --msl 1: TIME_WAITs of one run are gone before the next reuses the clients' ports.
serve_start serve --echo --backlog 1024 --msl 1 --stats "$NETNS_TMP/stats.json"

for mode in on off; do
  it_section "offloads $mode: 200 threads x 64 KiB"
  offloads "$mode"
  integrity "offloads $mode, 200 x 64 KiB" 200 65536 1
  no_close_wait
  it_section "offloads $mode: 1,000 clients x 16 KiB (4 processes x 250 threads)"
  integrity "offloads $mode, 1000 x 16 KiB" 1000 16384 4
  no_close_wait
done

serve_stop
echo "PASS ($(it_elapsed))"
