# Shared by the echo-integrity tests (sourced after lib.sh; not a test itself): kernel clients in
# the peer namespace that check every echoed byte (integrity_clients.py) and the veth offloads.

INTEGRITY_TIMEOUT=60  # per client operation; an instrumented synack gets more
[ "${SYNACK_SANITIZED:-0}" = 1 ] && INTEGRITY_TIMEOUT=120

# integrity_offloads on|off: GRO/GSO/TSO on both ends of the two-namespace veth.
integrity_offloads() {
  ip netns exec "$NETNS_C" ethtool -K "$NETNS_IF_C" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  ip netns exec "$NETNS_S" ethtool -K "$NETNS_IF_S" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  echo "   offloads $1: $(ip netns exec "$NETNS_S" ethtool -k "$NETNS_IF_S" 2>/dev/null \
    | grep -E '^(generic-receive-offload|tcp-segmentation-offload):' | tr -s ' \n' ' ')"
}

# integrity_run LABEL PORT N SIZE PROCS [ON_FAIL]: N clients (one thread each, PROCS processes)
# released together against ${INTEGRITY_HOST:-$IT_IP_C}:PORT (the family's address; INTEGRITY_HOST
# names another, e.g. $NETNS_IP_C on an IPv6 twin's dual-stack server; the clients run in
# ${INTEGRITY_NS:-$NETNS_S}: INTEGRITY_NS=$NETNS_C for clients on synack's own host, issue 15); every echo byte-exact, no foreign bytes, or fail
# (after running the command ON_FAIL, e.g. a function that prints the server's counters).
integrity_run() {
  local label=$1 port=$2 n=$3 size=$4 procs=$5 on_fail=${6:-true} got rc=0
  [ -f "$NETNS_TMP/integrity_clients.py" ] || cp "$IT_DIR/integrity_clients.py" "$NETNS_TMP/"
  got=$(ip netns exec "${INTEGRITY_NS:-$NETNS_S}" timeout $((INTEGRITY_TIMEOUT * 3 + 60)) python3 "$NETNS_TMP/integrity_clients.py" \
    "${INTEGRITY_HOST:-${IT_IP_C:-$NETNS_IP_C}}" "$port" "$n" "$size" --procs "$procs" --timeout "$INTEGRITY_TIMEOUT") || rc=$?
  echo "   $label: $got"
  it_py "$got" "$n" "$label" <<'PY' || { $on_fail; fail "$label"; }
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
  [ "$rc" = 0 ] || { $on_fail; fail "$label: the client run exited $rc"; }
}
