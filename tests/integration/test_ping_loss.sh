#!/usr/bin/env bash
# 30% random loss on the way into the kernel peer (iptables -m statistic inside the peer
# namespace, ip6tables for IPv6; no netem on this kernel). tcpdump on the peer's veth sees every frame before
# netfilter drops it, so a lost segment and its retransmission both appear in the capture.
# Asserts:
#   - at least 27 of 30 probes succeed (-W 30), exit status 0 if all did, else 1, and the summary
#     agrees with the probe records;
#   - the capture shows at least one retransmitted SYN and one retransmitted FIN from us;
#   - each successful probe's "syn_retransmits" equals the number of extra SYNs on the wire.
#
# Why this is not flaky (each segment we send is dropped independently with p = 0.3; nothing the
# peer sends is dropped):
#   - With an initial RTO of 1 s doubling (RFC 6298), a probe sends SYNs at 0, 1, 3, 7, 15 s within
#     -W 30, so it fails only if all 5 are dropped: q = 0.3^5 = 2.4e-3. (Even with a 3 s initial RTO,
#     4 SYNs: q = 8.1e-3.) P(4 or more of 30 probes fail) <= C(30,4) q^4 = 27405 * 3.5e-11 < 1e-6
#     (1.2e-4 with q = 8.1e-3).
#   - P(no SYN retransmission) = P(none of the 30 first SYNs dropped) = 0.7^30 = 2.3e-5.
#   - P(no FIN retransmission) = P(none of the >= 27 first FINs dropped) <= 0.7^27 = 6.6e-5
#     (the kernel peer, python3's http.server, closes only after our FIN arrives, so a dropped FIN
#     must be retransmitted).
#   Total failure probability < 1e-4 (< 2.2e-4 with the slower RTO).
# Runs over IPv4 and, as integration.test_ping_loss.ipv6, over IPv6 (ip6tables in the peer).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

netns_http_server 8080 || fail "python3 -m http.server did not start"

it_section "30% loss into the peer: 30 probes, -W 30"
ip netns exec "$NETNS_S" "$IT_IPT" -A INPUT -p tcp --dport 8080 \
  -m statistic --mode random --probability 0.3 -j DROP
ip netns exec "$NETNS_S" "$IT_IPT-save" | grep -q -- '--mode random' || fail "the statistic rule is not in place"
N=30
it_capture_start loss "tcp port 8080"
it_synack loss 200 ping "$IT_IP_S" -p 8080 -c "$N" -i 0.05 -W 30 --close fin --json
it_capture_stop loss
echo "   peer's INPUT counters: $(ip netns exec "$NETNS_S" "$IT_IPT" -L INPUT -v -n -x | awk '/statistic/{print $1" packets dropped"}')"
it_py "$NETNS_TMP/loss.out" "$NETNS_TMP/loss.pcap" "$IT_IP_C" "$N" "$IT_RC" <<'EOF' \
  || fail "loss checks failed (see above)"
import sys
from it import *
out, pcap, cip, n, rc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
recs = ndjson(out)
P = probes(recs)
check(len(P) == n, "expected %d probe records, got %d" % (n, len(P)))
okp = [p for p in P if p.get('ok') is True]
bad = [p for p in P if p.get('ok') is not True]
print("probes ok: %d of %d; failures: %s" % (len(okp), len(P), [(p.get('seq'), p.get('error')) for p in bad]))
check(len(okp) >= n - 3, "only %d of %d probes succeeded under 30%% loss with -W 30" % (len(okp), n))
check(rc == (0 if not bad else 1), "exit status %d with %d failed probes" % (rc, len(bad)))
s = summary(recs)
check(s.get('sent') == n and s.get('ok') == len(okp) and s.get('failed') == len(bad),
      "summary sent/ok/failed = %r/%r/%r, probe records say %d/%d/%d"
      % (s.get('sent'), s.get('ok'), s.get('failed'), n, len(okp), len(bad)))
conns = by_client_port(segments(pcap), cip)
syn_rtx = fin_rtx = 0
for port, segs in conns.items():
    cs = [x for x in segs if x['src'] == cip]
    syns = [x for x in cs if x['syn']]
    fins = [x for x in cs if x['fin']]
    syn_rtx += max(0, len(syns) - 1)
    fin_rtx += max(0, len(fins) - 1)
    check(len(set(x['seq'] for x in syns)) <= 1, "port %d: retransmitted SYNs carry different ISNs" % port)
    check(len(set(x['seq'] for x in fins)) <= 1, "port %d: retransmitted FINs carry different seqs" % port)
print("on the wire: %d SYN retransmissions, %d FIN retransmissions" % (syn_rtx, fin_rtx))
check(syn_rtx >= 1, "no SYN retransmission on the wire under 30% loss")
check(fin_rtx >= 1, "no FIN retransmission on the wire under 30% loss")
for p in okp:
    try:
        port = int(str(p.get('local')).rsplit(':', 1)[1])
    except (ValueError, IndexError):
        check(False, "probe %s: bad local %r" % (p.get('seq'), p.get('local')))
        continue
    wire = sum(1 for x in conns.get(port, []) if x['src'] == cip and x['syn']) - 1
    check(p.get('syn_retransmits') == wire, "probe %s (port %d): syn_retransmits %r, but %d SYN retransmissions on the wire"
          % (p.get('seq'), port, p.get('syn_retransmits'), wire))
done("%d/%d probes ok under 30%% loss; %d SYN and %d FIN retransmissions seen" % (len(okp), n, syn_rtx, fin_rtx))
EOF

echo "PASS $(basename "$0") ($(it_elapsed))"
