#!/usr/bin/env bash
# `synack impair` under bad input, from a raw AF_PACKET sender in $NETNS_C (impair_tool.py):
#   - short frames: 1-13 bytes are refused by the sending kernel (an Ethernet device takes nothing
#     shorter than its 14-byte header), so no runt can reach the box; 14-60 byte frames are legal on
#     a veth (no padding) and must all come out on the far side, byte counts unchanged;
#   - frames over the MTU: the box's ingress side (veth-c, imp-c) gets MTU 9000, its egress side
#     stays 1500; 1515-, 3000- and 9014-byte frames must be counted as "oversize" and dropped, and
#     nothing else lost;
#   - a flood: 60-byte frames as fast as python3 can send them for 2 s through a box with
#     --delay 1 --limit 100: the box keeps running, its counters add up and show the drops
#     (queue drops; ring drops if any), and afterwards 1,000 UDP probes all arrive.
# Each time the box must exit 0 on SIGTERM.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init_impaired "$1" --json
PY=$(netns_python)
MAC_S=$(ip netns exec "$NETNS_S" cat "/sys/class/net/$NETNS_IF_S/address")

raw_send() {  # raw_send NAME ARGS... -> $NETNS_TMP/NAME.raw.json
  local name=$1; shift
  ip netns exec "$NETNS_C" "$PY" "$NETNS_TMP/impair_tool.py" raw-send "$NETNS_IF_C" "$MAC_S" "$@" \
    >"$NETNS_TMP/$name.raw.json" 2>"$NETNS_TMP/$name.raw.err" || { cat "$NETNS_TMP/$name.raw.err"; fail "raw sender failed"; }
  echo "   raw $name: $(cat "$NETNS_TMP/$name.raw.json")"
}

it_section "short frames"
it_capture_start short "ether proto 0x88b5"
raw_send short sizes 1,5,13,14,15,20,42,59,60
it_capture_stop short
it_py "$NETNS_TMP/short.raw.json" "$NETNS_TMP/short.pcap" <<'EOF2' || fail "short frame checks failed"
import json, sys
from it import *
r = json.load(open(sys.argv[1]))
import it
got = sorted(len(f) for _t, _lt, f in it._read_pcap(sys.argv[2]) if len(f) >= 14 and f[12:14] == b'\x88\xb5')
print("sender: sent %d, refused %d (%r); the peer saw frames of %r bytes" % (r['sent'], r['refused'], r['errors'], got))
check(r['refused'] == 3, "expected the kernel to refuse the 1, 5 and 13 byte frames")
check(got == [14, 15, 20, 42, 59, 60], "short frames not forwarded unchanged: %r" % got)
done("short frames forwarded")
EOF2

it_section "frames over the egress MTU"
ip -n "$NETNS_C" link set "$NETNS_IF_C" mtu 9000
ip -n "$NETNS_M" link set "$NETNS_IF_MC" mtu 9000
it_impair_restart --json   # sizes its receive ring for the new MTU
raw_send big sizes 1515,3000,9014,1514,100
it_udp_probe after_big 500 5000
it_impair_stop
tail -n 1 "$NETNS_IMPAIR_OUT" >"$NETNS_TMP/big.box.json"
it_py "$NETNS_TMP/big.box.json" "$NETNS_TMP/after_big.json" <<'EOF2' || fail "oversize checks failed"
import json, sys
from it import *
b = json.load(open(sys.argv[1]))['a2b']; r = json.load(open(sys.argv[2]))
print("box a2b:", {k: v for k, v in b.items() if k not in ('from', 'to', 'late_us')})
check(b['oversize'] == 3, "oversize %d, expected 3 (1515, 3000 and 9014 bytes)" % b['oversize'])
check(r['unique'] == 500, "after the oversize frames only %d of 500 probes arrived" % r['unique'])
check(b['tx_errors'] == 0 and b['ring_drops'] == 0, "unintended drops")
done("oversize frames counted and dropped; forwarding goes on")
EOF2

it_section "a 2 s flood at line rate"
it_impair_restart --delay 1 --limit 100 --json
raw_send flood flood 2 60
netns_pid_alive "$NETNS_IMPAIR_PID" || fail "the box died during the flood"
it_udp_probe after_flood 1000 10000
netns_impair_counters >"$NETNS_TMP/flood.mid.json" || fail "the box did not answer SIGUSR1 after the flood"
it_impair_stop
tail -n 1 "$NETNS_IMPAIR_OUT" >"$NETNS_TMP/flood.box.json"
it_py "$NETNS_TMP/flood.raw.json" "$NETNS_TMP/flood.box.json" "$NETNS_TMP/after_flood.json" <<'EOF2' || fail "flood checks failed"
import json, sys
from it import *
s = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))['a2b']; r = json.load(open(sys.argv[3]))
print("flood: sent %d frames in 2 s (%d refused by the sending kernel)" % (s['sent'], s['refused']))
print("box a2b:", {k: v for k, v in b.items() if k not in ('from', 'to')})
seen = b['received'] + b['ring_drops']
check(seen >= 0.95 * s['sent'], "the box saw %d of %d flood frames (received + ring drops)" % (seen, s['sent']))
check(b['queue_drops'] > 0, "no queue drops with --limit 100 under a flood")
check(b['received'] + b['duplicated'] == b['forwarded'] + b['tx_errors'] + b['dropped'] + b['queue_drops']
      + b['oversize'] + b['runts'] + b['held'], "counters do not add up")
check(r['unique'] == 1000, "after the flood only %d of 1000 probes arrived" % r['unique'])
done("the box survived the flood, counted %d queue drops and %d ring drops, and forwards again"
     % (b['queue_drops'], b['ring_drops']))
EOF2

echo "PASS $(basename "$0") ($(it_elapsed))"
