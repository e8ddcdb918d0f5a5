#!/usr/bin/env bash
# `synack impair` between two kernels (no synack endpoint): UDP probes from $NETNS_C to $NETNS_S
# through the box in $NETNS_M at 10,000 datagrams/s (tests/integration/impair_tool.py; each probe
# carries its sequence number and send time, the receiver uses the kernel's receive timestamp).
# Asserts:
#   - no impairment: every probe arrives once (the box loses nothing it was not told to);
#   - --loss 10% over 10,000 probes: measured loss within +-2 percentage points, and the box's
#     "dropped" counter accounts for the missing probes;
#   - --delay 10: no loss; the median added delay (minus the no-impairment median) within 0.2 ms
#     of 10 ms;
#   - --delay 10 --reorder 10% --duplicate 1%, counted in a capture on the peer's veth: the share of
#     probes that skipped the delay is 10% +- 2 pp, duplicates 1% +- 0.5 pp, and probes really
#     arrive out of order.
# Why this is not flaky: with n = 10,000 the standard deviation of a measured share p is
# sqrt(p(1-p)/n): 0.3 pp at 10% (the +-2 pp band is 6.7 sigma) and 0.1 pp at 1% (+-0.5 pp is
# 5 sigma). The seeds are fixed, so the box's decisions repeat from run to run.
# Runs over IPv4 and, as integration.test_impair_netem.ipv6, over IPv6 (it_family in lib.sh): the
# probes are UDP over IPv6 through the same box (it bridges Ethernet frames, whatever they carry).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init_impaired "$1" --json

box_json() {  # the box's last counters line (after it_impair_stop: the final one)
  tail -n 1 "$NETNS_IMPAIR_OUT"
}

it_section "no impairment: 5,000 probes at 10,000/s"
it_udp_probe_family base 5000 10000
it_impair_stop
box_json >"$NETNS_TMP/base.box.json"
it_py "$NETNS_TMP/base.json" "$NETNS_TMP/base.box.json" <<'EOF2' || fail "baseline checks failed"
import json, sys
from it import *
r = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print("received %d unique, %d duplicates, median one-way %.1f us" % (r['unique'], r['duplicates'], r['median_us']))
print("box a2b:", {k: v for k, v in b['a2b'].items() if k not in ('from', 'to')})
check(r['unique'] == 5000, "lost %d of 5000 probes with no impairment" % (5000 - r['unique']))
check(r['duplicates'] == 0, "%d duplicates with no impairment" % r['duplicates'])
check(b['a2b']['ring_drops'] == 0 and b['a2b']['tx_errors'] == 0, "box ring drops / tx errors")
check(b['final'] is True, "the last counters line is not the final one")
done("baseline median %.1f us" % r['median_us'])
EOF2

it_section "--loss 10%: 10,000 probes"
it_impair_restart --loss 10% --seed 7 --json
it_udp_probe_family loss 10000 10000
it_impair_stop
box_json >"$NETNS_TMP/loss.box.json"
it_py "$NETNS_TMP/loss.json" "$NETNS_TMP/loss.box.json" <<'EOF2' || fail "loss checks failed"
import json, sys
from it import *
r = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))['a2b']
lost = 10000 - r['unique']
pct = lost / 100.0
print("measured loss %.2f%% (%d of 10000); box dropped %d, received %d" % (pct, lost, b['dropped'], b['received']))
check(abs(pct - 10.0) <= 2.0, "measured loss %.2f%% is not within 2 pp of 10%%" % pct)
check(abs(lost - b['dropped']) <= 3, "receiver misses %d probes but the box dropped %d" % (lost, b['dropped']))
check(b['ring_drops'] == 0 and b['tx_errors'] == 0 and b['queue_drops'] == 0, "unintended drops: %r" % b)
done("loss %.2f%%" % pct)
EOF2

it_section "--delay 10: 10,000 probes"
it_impair_restart --delay 10 --json
it_udp_probe_family delay 10000 10000
it_impair_stop
box_json >"$NETNS_TMP/delay.box.json"
it_py "$NETNS_TMP/delay.json" "$NETNS_TMP/base.json" "$NETNS_TMP/delay.box.json" <<'EOF2' || fail "delay checks failed"
import json, sys
from it import *
r = json.load(open(sys.argv[1])); base = json.load(open(sys.argv[2])); b = json.load(open(sys.argv[3]))['a2b']
added = r['median_us'] - base['median_us']
d = sorted(r['delays_us'])
print("median one-way %.1f us, baseline %.1f us: added %.1f us (error %+.1f us); p10 %.1f p90 %.1f us"
      % (r['median_us'], base['median_us'], added, added - 10000, d[len(d) // 10], d[len(d) * 9 // 10]))
print("box release lateness (us):", b['late_us'])
check(r['unique'] == 10000, "lost %d probes with delay only" % (10000 - r['unique']))
check(abs(added - 10000) <= 200, "median added delay %.1f us is not within 200 us of 10 ms" % added)
done("added delay %.1f us" % added)
EOF2

it_section "--delay 10 --reorder 10% --duplicate 1%: 10,000 probes, counted in a capture"
it_impair_restart --delay 10 --reorder 10% --duplicate 1% --seed 11 --json
it_capture_start mix "udp port 9000"
it_udp_probe_family mix 10000 10000
it_capture_stop mix
it_impair_stop
box_json >"$NETNS_TMP/mix.box.json"
python3 "$NETNS_TMP/impair_tool.py" pcap-udp "$NETNS_TMP/mix.pcap" 9000 "$NETNS_TMP/mix.cap.json"
it_py "$NETNS_TMP/mix.cap.json" "$NETNS_TMP/mix.json" "$NETNS_TMP/mix.box.json" <<'EOF2' || fail "reorder/duplicate checks failed"
import json, sys
from it import *
cap = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2])); b = json.load(open(sys.argv[3]))['a2b']
for name, s in (("capture", cap), ("receiver", r)):
    early = sum(1 for x in s['delays_us'] if x < 5000)  # skipped the 10 ms delay
    print("%s: %d frames, %d unique, %d duplicates (%.2f%%), %d skipped the delay (%.2f%%), %d out of order"
          % (name, s['arrivals'], s['unique'], s['duplicates'], s['duplicates'] / 100.0, early, early / 100.0,
             s['out_of_order']))
    check(s['unique'] == 10000, "%s: %d probes missing" % (name, 10000 - s['unique']))
    check(abs(s['duplicates'] / 100.0 - 1.0) <= 0.5, "%s: duplicates %.2f%% not within 0.5 pp of 1%%" % (name, s['duplicates'] / 100.0))
    check(abs(early / 100.0 - 10.0) <= 2.0, "%s: reordered %.2f%% not within 2 pp of 10%%" % (name, early / 100.0))
    check(s['out_of_order'] > early, "%s: only %d probes out of order" % (name, s['out_of_order']))
print("box a2b: duplicated %d, reordered %d" % (b['duplicated'], b['reordered']))
check(b['duplicated'] == cap['duplicates'], "box duplicated %d, capture shows %d" % (b['duplicated'], cap['duplicates']))
done("reorder and duplicate shares as requested")
EOF2

echo "PASS $(basename "$0") ($(it_elapsed))"
