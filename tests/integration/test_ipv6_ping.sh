#!/usr/bin/env bash
# What of synack ping over IPv6 no family twin checks (the twins integration.test_ping_handshake,
# _ping_close, _ping_errors, _ping_loss, _ping_wire, _pcap_ladder and _rst_guard .ipv6 check the
# handshake, both closes, refused / timed_out / host_unreachable after neighbour solicitations,
# loss, --kernel, --pcap, --trace, --ladder and the ip6tables rule over IPv6). Against the Linux
# kernel's TCP (python3 -m http.server on ::):
#   - the SYN's MSS fits IPv6 (<= 1440 on a 1500-byte link: 60 bytes of IPv6 and TCP headers);
#     with --kernel, both engines' NDJSON name "[fd00:111::1]:PORT" / "[fd00:111::2]:8080";
#   - neighbour discovery by synack: the kernel's neighbour table emptied, synack's own
#     solicitation to the solicited-node group ff02::1:ffXX:XXXX (33:33:ff:..) with hop limit 255
#     answered, the probe ok;
# ICMPv6 errors against the kernel's connect() are test_icmp_errors.ipv6's, bench --engine both
# test_bench_both.ipv6's, and the rest of the ping tests have their .ipv6 twins.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
it_require_ipv6
command -v ip6tables >/dev/null || fail "ip6tables is not installed"

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
S6=$NETNS_IP6_S
C6=$NETNS_IP6_C

# ------------------------------------------------------------------------------------------------
it_section "the SYN's MSS fits IPv6; both engines name IPv6 endpoints (4 probes each, --kernel)"
N=4
it_capture_start hs "tcp port 8080"
it_synack hs 60 ping "$S6" -p 8080 -c "$N" -i 0.05 -W 5 --json --kernel
it_capture_stop hs
[ "$IT_RC" = 0 ] || fail "expected exit 0 (all probes ok), got $IT_RC"
it_py "$NETNS_TMP/hs.out" "$NETNS_TMP/hs.pcap" "$C6" "$S6" "$N" <<'EOF' || fail "IPv6 MSS checks failed (see above)"
import re, sys
from it import *
out, pcap, cip, sip, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
recs = ndjson(out)
ours = set()
for engine in ('synack', 'kernel'):
    P = probes(recs, engine)
    check(len(P) == n, "%s: expected %d probe records, got %d" % (engine, n, len(P)))
    for p in P:
        tag = "%s probe %s" % (engine, p.get('seq'))
        check(p.get('ok') is True, "%s: ok is %r (error %r)" % (tag, p.get('ok'), p.get('error')))
        check(p.get('remote') == '[%s]:8080' % sip, "%s: remote is %r" % (tag, p.get('remote')))
        check(str(p.get('local', '')).startswith('[%s]:' % cip), "%s: local is %r" % (tag, p.get('local')))
        if engine == 'synack' and p.get('local'):
            ours.add(int(str(p['local']).rsplit(':', 1)[1]))
conns = by_client_port(segments(pcap), cip)
check(set(conns) >= ours and len(ours) == n, "synack's ports %s not all on the wire %s" % (sorted(ours), sorted(conns)))
for lp, s in sorted((lp, s) for lp, s in conns.items() if lp in ours):
    syns = [x for x in s if x['src'] == cip and x['syn']]
    if not check(len(syns) == 1, "port %d: %d SYNs on the wire" % (lp, len(syns))):
        continue
    m = re.search(r'mss (\d+)', syns[0]['options'])
    check(m is not None and 0 < int(m.group(1)) <= 1440, "port %d: SYN options %r (MSS must be <= 1440 over IPv6)"
          % (lp, syns[0]['options']))
done("%d synack SYNs over IPv6 with MSS <= 1440; [IPv6]:port endpoints from both engines" % n)
EOF

# ------------------------------------------------------------------------------------------------
it_section "neighbour discovery by synack (kernel's neighbour table has no entry)"
ip netns exec "$NETNS_C" ip -6 neigh flush dev "$NETNS_IF_C"
# The kernel would resolve the peer again for anything it sends; nothing kernel-made goes there
# now, so the entry stays absent and synack must solicit it itself.
NETNS_CAP_IF=$NETNS_IF_S it_capture_start ndp "icmp6"
it_synack ndp 60 ping "$S6" -p 8080 -c 1 --json
it_capture_stop ndp
[ "$IT_RC" = 0 ] || fail "expected exit 0 after neighbour discovery, got $IT_RC"
it_py "$NETNS_TMP/ndp.pcap" "$S6" <<'EOF' || fail "no neighbour solicitation from synack on the wire"
import sys, socket, struct
from it import *
from it import _read_pcap
target = socket.inet_pton(socket.AF_INET6, sys.argv[2])
found = False
for t, lt, fr in _read_pcap(sys.argv[1]):
    if lt != 1 or len(fr) < 14 + 40 + 24 or struct.unpack('>H', fr[12:14])[0] != 0x86dd:
        continue
    ip = fr[14:]
    if ip[6] == 58 and ip[40] == 135 and bytes(ip[48:64]) == target:
        group_mac = bytes(fr[0:3]) == b'\x33\x33\xff' and bytes(fr[3:6]) == target[13:16]
        check(group_mac, "NS for the peer not sent to its solicited-node MAC: %s" % fr[0:6].hex())
        check(ip[7] == 255, "NS hop limit %d, expected 255" % ip[7])
        found = True
check(found, "no neighbour solicitation for %s seen" % sys.argv[2])
EOF
ok "synack solicited the peer (ff02::1:ff.. group MAC, hop limit 255) and the probe succeeded"

echo "PASS $(basename "$0") ($(it_elapsed))"
