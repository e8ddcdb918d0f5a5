#!/usr/bin/env bash
# Data integrity of `synack serve --echo` through `synack impair` (issue 12): 1% loss, 5%
# reordering, 1% duplication and 2 ms delay each way between the kernel clients and synack, so
# retransmission, reassembly, SACK recovery and duplicate suppression all run while hundreds of
# connections move their own random bytes at once (threads released together, even-numbered
# clients half-closing early; integrity_clients.py checks every byte and names foreign ones).
# Runs over IPv4 and, as integration.test_serve_integrity_impaired.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
IMPAIR=(--loss 1% --reorder 5% --duplicate 1% --delay 2 --seed 11 --json)
it_init_impaired "$1" "${IMPAIR[@]}"
INTEGRITY_TIMEOUT=90
[ "${SYNACK_SANITIZED:-0}" = 1 ] && INTEGRITY_TIMEOUT=180


# --max-half-open 4096: no SYN cookies here. While cookies are out, a duplicated last ACK of a
# finished echo connection (both directions advanced by the same number of bytes, so ack-1 and
# seq-1 keep the cookie's relation) passes the cookie check and opens an idle ESTABLISHED ghost,
# as it would on Linux (cookie_v4_check has the same arithmetic); the box duplicates 1% of frames.
serve_counters() { serve_table; grep '^counters:' "$NETNS_TMP/table.txt" || true; }
integrity() { integrity_run "$1" "$SERVE_PORT" "$2" "$3" "$4" serve_counters; }

serve_start serve --echo --backlog 1024 --max-half-open 4096 --msl 1 --stats "$NETNS_TMP/stats.json"

it_section "impaired (${IMPAIR[*]}): 200 threads x 64 KiB"
integrity "impaired, 200 x 64 KiB" 200 65536 1
it_section "impaired (${IMPAIR[*]}): 1,000 clients x 16 KiB (4 processes x 250 threads)"
integrity "impaired, 1000 x 16 KiB" 1000 16384 4

it_section "the box impaired what it forwarded"
netns_impair_counters >"$NETNS_TMP/box.json" || fail "no counters from the box"
it_py "$(tail -n 1 "$NETNS_TMP/box.json")" <<'PY' || fail "impairment counters"
import json, sys
from it import *
c = json.loads(sys.argv[1])
tot = lambda k: sum(d.get(k, 0) for d in (c.get('a2b', {}), c.get('b2a', {})))
check(tot('dropped') > 0 and tot('reordered') > 0 and tot('duplicated') > 0, "box counters: %s" % c)
done("the box lost %d, reordered %d, duplicated %d frames" % (tot('dropped'), tot('reordered'), tot('duplicated')))
PY

only_time_wait() {
  serve_table
  local s
  s=$(serve_states)
  [ -z "$s" ] || [[ "$s" =~ ^TIME_WAIT=[0-9]+$ ]]
}
netns_wait_until 60 "only TIME_WAIT in synack's table" only_time_wait \
  || { grep -v TIME_WAIT "$NETNS_TMP/table.txt" | head -n 30
         echo "kernel side:"; ip netns exec "$NETNS_S" ss -tanoi "dport = :$SERVE_PORT" | grep -v TIME-WAIT | head -n 40
         fail "connections left in other states: $(serve_states)"; }
ok "synack's table afterwards: $(serve_states)"
serve_stop
it_impair_stop
echo "PASS ($(it_elapsed))"
