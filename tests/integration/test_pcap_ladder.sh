#!/usr/bin/env bash
# What synack shows of a connection:
#   1. --pcap FILE: every frame synack sent and received (the same TCP segments tcpdump sees on
#      synack's veth, ARP aside), readable by tshark with IP and TCP checksum validation on and no
#      expert-info error or warning on a clean run (--close fin);
#   2. --ladder after ping -c 1: the SYN / SYN,ACK / ACK / FIN rows carry the sequence numbers of
#      the wire, with our state beside each, the column heads name both endpoints, and the
#      diagram ends in CLOSED.
# Runs over IPv4 and, as integration.test_pcap_ladder.ipv6, over IPv6 (it_family in lib.sh; the
# --pcap then holds IPv6 frames, NDP aside, with the addresses tcpdump saw).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
netns_require_tools tshark

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"

it_section "--pcap: tshark reads it cleanly"
NETNS_CAP_NS=$NETNS_C NETNS_CAP_IF=$NETNS_IF_C it_capture_start own "tcp port 8080"
it_synack pcap 60 ping "$IT_IP_S" -p 8080 -c 3 -i 0.05 --pcap "$NETNS_TMP/synack.pcap" --msl 0.2
it_capture_stop own
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
[ -s "$NETNS_TMP/synack.pcap" ] || fail "--pcap wrote nothing"
tshark -r "$NETNS_TMP/synack.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -q -z expert \
  >"$NETNS_TMP/expert.txt" 2>"$NETNS_TMP/expert.err" || { cat "$NETNS_TMP/expert.err"; fail "tshark cannot read the file"; }
cat "$NETNS_TMP/expert.txt"
if grep -Eq '^(Errors|Warnings) \(' "$NETNS_TMP/expert.txt"; then fail "tshark expert info has errors or warnings"; fi
bad=$(tshark -r "$NETNS_TMP/synack.pcap" -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE \
  -Y 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || tcp.analysis.flags || _ws.malformed' 2>/dev/null | wc -l)
[ "$bad" = 0 ] || fail "$bad frames with bad checksums, TCP analysis flags or malformed"
good=$(tshark -r "$NETNS_TMP/synack.pcap" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == "Good"' 2>/dev/null | wc -l)
[ "$good" -ge 1 ] || fail "tshark verified no TCP checksum as good"
if [ "$IT_FAMILY" = 6 ]; then fam_filter='ipv6 && tcp'; else fam_filter='ip && tcp'; fi
nfam=$(tshark -r "$NETNS_TMP/synack.pcap" -Y "$fam_filter" 2>/dev/null | wc -l)
[ "$nfam" -ge 18 ] || fail "expected at least 18 $IT_FAMILY_NAME TCP frames in --pcap (3 x handshake + close), got $nfam"
ok "--pcap: $nfam $IT_FAMILY_NAME TCP frames, no bad checksum ($good verified good) or expert warning"
it_py "$NETNS_TMP/synack.pcap" "$NETNS_TMP/own.pcap" "$IT_IP_C" <<'EOF2' || fail "pcap contents differ from the wire"
import sys
from it import *
mine, wire, cip = sys.argv[1:4]
key = lambda s: (s['src'], s['sport'], s['dst'], s['dport'], s['flags'], s['seq'], s['ack'], s['len'])
a = [key(s) for s in segments(mine)]
b = [key(s) for s in segments(wire)]
check(len(a) > 0 and sorted(a) == sorted(b), "--pcap has %d TCP segments, tcpdump on the veth %d; differ: %r" % (
    len(a), len(b), sorted(set(a) ^ set(b))[:6]))
done("--pcap holds the %d TCP segments tcpdump saw" % len(a))
EOF2

it_section "--ladder after ping -c 1"
it_capture_start lad "tcp port 8080"
it_synack ladder 30 ping "$IT_IP_S" -p 8080 -c 1 --ladder --msl 0.2
it_capture_stop lad
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
cat "$IT_OUT"
it_py "$IT_OUT" "$NETNS_TMP/lad.pcap" "$IT_IP_C" "$IT_IP_S" <<'EOF2' || fail "ladder checks failed"
import sys, re
from it import *
out, pcap, cip, sip = sys.argv[1:5]
# The column heads name both endpoints as synack does ("1.2.3.4:80", "[v6]:80").
heads = [l for l in open(out) if hp(sip, 8080) in l and hp(cip, '') in l and '|' not in l]
check(heads, "no ladder head naming %s and %s" % (hp(cip, 'PORT'), hp(sip, 8080)))
rows = []
for line in open(out):
    m = re.match(r'^\s*[\d.]+ (?:us|ms|s)\s+(\S+)\s+\|(.*)\|$', line.rstrip('\n'))
    if m:
        rows.append((m.group(1), m.group(2)))
arrows = [(st, mid) for st, mid in rows if '--' in mid]
wire = [s for s in segments(pcap)]
check(len(arrows) == len(wire), "ladder has %d arrows, the wire %d segments" % (len(arrows), len(wire)))
names = {'S': 'SYN', 'S.': 'SYN,ACK', '.': 'ACK', 'F.': 'FIN,ACK', 'R': 'RST', 'R.': 'RST,ACK', 'P.': 'PSH,ACK', 'FP.': 'FIN,PSH,ACK'}
for (st, mid), s in zip(arrows, wire):
    out_dir = s['src'] == cip
    check(mid.startswith('---') == out_dir and mid.startswith('<--') != out_dir, "direction of %r vs %s" % (mid, s['line']))
    check(' %s seq %d' % (names.get(s['flags'], s['flags']), s['seq']) in mid, "row %r vs wire %s" % (mid, s['line']))
    if s['ack'] is not None:
        check('ack %d' % s['ack'] in mid, "row %r lacks ack %d" % (mid, s['ack']))
states = [st for st, _ in rows]
check(states[:1] == ['SYN_SENT'] and 'ESTABLISHED' in states and 'TIME_WAIT' in states and states[-1] == 'CLOSED',
      "states %r" % states)
done("ladder: %d arrows match the wire; states %s" % (len(arrows), ' '.join(states)))
EOF2

echo "PASS $(basename "$0") ($(it_elapsed))"
