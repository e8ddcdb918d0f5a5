#!/usr/bin/env bash
# When the network says no, synack ping exits 1 and says why, per probe:
#   1. a closed port on the kernel peer: the kernel answers our SYN with a RST (acking ISN+1);
#      exit 1, every probe ok=false with "error":"connection_refused", summary failed = sent;
#      text mode exits 1 too.
#   2. a port whose SYNs the peer silently drops (iptables / ip6tables DROP in the peer namespace):
#      exit 1, "error":"timed_out" after about -W seconds.
#   3. an address on the link that nobody owns (10.111.0.3, fd00:111::3): ARP requests (IPv6:
#      neighbour solicitations) for it go out (seen on the wire), no SYN does; exit 1,
#      "error":"host_unreachable".
# Runs over IPv4 and, as integration.test_ping_errors.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

# ------------------------------------------------------------------------------------------------
it_section "closed port -> connection_refused"
it_capture_start refused "tcp port 9"
it_synack refused 30 ping "$IT_IP_S" -p 9 -c 2 -i 0.1 -W 3 --json
it_capture_stop refused
[ "$IT_RC" = 1 ] || fail "a closed port: expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/refused.out" "$NETNS_TMP/refused.pcap" "$IT_IP_C" "$IT_IP_S" <<'EOF' \
  || fail "connection_refused checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip = sys.argv[1:5]
recs = ndjson(out)
P = probes(recs)
check(len(P) == 2, "expected 2 probe records, got %d" % len(P))
for p in P:
    check(p.get('ok') is False, "probe %s: ok is %r" % (p.get('seq'), p.get('ok')))
    check(p.get('error') == 'connection_refused', "probe %s: error is %r, expected connection_refused" % (p.get('seq'), p.get('error')))
s = summary(recs)
check(s.get('sent') == 2 and s.get('ok') == 0 and s.get('failed') == 2,
      "summary sent/ok/failed = %r/%r/%r, expected 2/0/2" % (s.get('sent'), s.get('ok'), s.get('failed')))
conns = by_client_port(segments(pcap), cip)
check(len(conns) == 2, "expected 2 SYNs to port 9 on the wire, got %d connections" % len(conns))
for port, segs in conns.items():
    syn = [x for x in segs if x['src'] == cip and x['syn']]
    rst = [x for x in segs if x['src'] == sip and x['rst']]
    if check(syn and rst, "port %d: expected our SYN and the kernel's RST" % port):
        check(rst[0]['ack'] == (syn[0]['seq'] + 1) % 2**32, "port %d: the kernel's RST does not ack ISN+1" % port)
    check(not any(x['src'] == cip and x['rst'] for x in segs), "port %d: we answered the RST with a RST" % port)
done("closed port: connection_refused")
EOF
it_synack refused_text 30 ping "$IT_IP_S" -p 9 -c 1 -W 3
[ "$IT_RC" = 1 ] || fail "a closed port, text mode: expected exit 1, got $IT_RC"
ok "text mode: exit 1 on a closed port"

# ------------------------------------------------------------------------------------------------
it_section "SYNs dropped by the peer -> timed_out"
ip netns exec "$NETNS_S" "$IT_IPT" -A INPUT -p tcp --dport 8082 -j DROP
T0=$(date +%s%N)
it_synack blackhole 60 ping "$IT_IP_S" -p 8082 -c 1 -W 2 --json
ELAPSED_MS=$(( ($(date +%s%N) - T0) / 1000000 ))
[ "$IT_RC" = 1 ] || fail "SYNs dropped: expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/blackhole.out" <<'EOF' || fail "timed_out checks failed (see above)"
import sys
from it import *
P = probes(ndjson(sys.argv[1]))
check(len(P) == 1, "expected 1 probe record, got %d" % len(P))
if P:
    check(P[0].get('ok') is False and P[0].get('error') == 'timed_out',
          "ok/error = %r/%r, expected false/timed_out" % (P[0].get('ok'), P[0].get('error')))
done("dropped SYNs: timed_out")
EOF
# -W 2 plus TIME_WAIT-free exit and start-up: generous, but must not hang on the probe.
[ "$ELAPSED_MS" -lt 15000 ] || fail "a probe with -W 2 took ${ELAPSED_MS} ms"
ok "the -W 2 probe gave up after ${ELAPSED_MS} ms"

# ------------------------------------------------------------------------------------------------
it_section "an address on the link nobody owns -> host_unreachable"
it_capture_start unreach "arp or tcp or icmp6"
it_synack unreach 60 ping "$IT_IP_NOBODY" -p 8080 -c 1 -W 10 --json
it_capture_stop unreach
[ "$IT_RC" = 1 ] || fail "an unowned address: expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/unreach.out" "$NETNS_TMP/unreach.pcap" "$IT_IP_NOBODY" <<'EOF' \
  || fail "host_unreachable checks failed (see above)"
import re, socket, subprocess, sys
from it import *
out, pcap, nobody = sys.argv[1:4]
recs = ndjson(out)
P = probes(recs)
check(len(P) == 1, "expected 1 probe record, got %d" % len(P))
if P:
    check(P[0].get('ok') is False, "ok is %r" % P[0].get('ok'))
    check(P[0].get('error') == 'host_unreachable', "error is %r, expected host_unreachable" % P[0].get('error'))
s = summary(recs)
check(s.get('failed') == 1, "summary failed is %r, expected 1" % s.get('failed'))
text = subprocess.run(['tcpdump', '-nn', '-r', pcap], capture_output=True, text=True).stdout
if family_of(nobody) == socket.AF_INET6:   # tcpdump: "ICMP6, neighbor solicitation, who has ADDR"
    check(re.search(r'neighbor solicitation, who has %s\b' % re.escape(nobody), text),
          "no neighbour solicitation for %s on the wire" % nobody)
else:
    check('who-has %s' % nobody in text, "no ARP request for %s on the wire" % nobody)
check(not any(x['dst'] == nobody for x in segments(pcap)), "a TCP segment was sent to %s without an ARP/NDP reply" % nobody)
done("unowned address: ARP/NDP tried, host_unreachable")
EOF

echo "PASS $(basename "$0") ($(it_elapsed))"
