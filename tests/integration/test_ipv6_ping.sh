#!/usr/bin/env bash
# synack ping over IPv6 against the Linux kernel's TCP (python3 -m http.server on ::), the IPv6
# twin of test_ping_handshake / test_ping_close / test_ping_errors / test_ping_loss / test_rst_guard:
#   - handshake: N probes with --kernel interleaved (both engines in the same run), every probe ok,
#     "[fd00:111::1]:PORT" local/remote in the NDJSON, on the wire (tcpdump on the peer): one SYN
#     per probe with MSS <= 1440 (1500 - 60: IPv6 headers), the kernel's SYN-ACK acking ISN+1;
#   - four-way close (--close fin: our FIN and the kernel's, each acked) and RST close (--close rst);
#   - neighbour discovery by synack: the kernel's neighbour table emptied and the peer's entry
#     made unusable, synack's own solicitation to ff02::1:ffXX:XXXX (33:33:ff:..) answered, the
#     probe ok; a destination nobody owns: host_unreachable after the solicitations;
#   - refused (no listener: the kernel's RST) and ICMPv6 errors (ip6tables REJECT in the peer:
#     port unreachable -> connection_refused, adm-prohibited -> the Linux errno, EACCES);
#   - retransmission under loss: the peer drops 50% of incoming SYNs (ip6tables -m statistic),
#     every probe still ok and some needed a SYN retransmission;
#   - the scoped ip6tables rule ("synack pid=PID") present while synack runs, gone after a normal
#     exit, SIGTERM and SIGINT;
#   - bench --engine both over IPv6 (kernel and synack in the same run).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
it_require_ipv6
command -v ip6tables >/dev/null || fail "ip6tables is not installed"

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
C6=$NETNS_IP6_C
S6=$NETNS_IP6_S

has_rule6() { ip netns exec "$NETNS_C" ip6tables-save -t filter | grep -- '-A OUTPUT' | grep -q "synack pid=$1\b"; }
no_rules()  { [ -z "$(it_rules "$NETNS_C")" ]; }
ok_probes() { grep -c '"ok":[[:space:]]*true' "$NETNS_TMP/$1.out" 2>/dev/null || true; }
has_probes() { [ "$(ok_probes "$1")" -ge "$2" ]; }

# ------------------------------------------------------------------------------------------------
it_section "handshake over IPv6, synack and the kernel interleaved (12 probes, --json, --kernel)"
N=12
it_capture_start hs "tcp port 8080"
it_synack hs 90 ping "$S6" -p 8080 -c "$N" -i 0.05 -W 5 --json --kernel
it_capture_stop hs
[ "$IT_RC" = 0 ] || fail "expected exit 0 (all probes ok), got $IT_RC"
it_py "$NETNS_TMP/hs.out" "$NETNS_TMP/hs.pcap" "$C6" "$S6" "$N" <<'EOF' || fail "IPv6 handshake checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
recs = ndjson(out)
for engine in ('synack', 'kernel'):
    P = probes(recs, engine)
    check(len(P) == n, "%s: expected %d probe records, got %d" % (engine, n, len(P)))
    for p in P:
        tag = "%s probe %s" % (engine, p.get('seq'))
        check(p.get('ok') is True, "%s: ok is %r (error %r)" % (tag, p.get('ok'), p.get('error')))
        check(p.get('remote') == '[%s]:8080' % sip, "%s: remote is %r" % (tag, p.get('remote')))
        check(str(p.get('local', '')).startswith('[%s]:' % cip), "%s: local is %r" % (tag, p.get('local')))
segs = segments(pcap)
ours = {}
for p in probes(recs, 'synack'):
    ours[int(str(p['local']).rsplit(':', 1)[1])] = p
conns = by_client_port(segs, cip)
for lp, p in ours.items():
    s = conns.get(lp, [])
    syns = [x for x in s if x['src'] == cip and x['syn']]
    if not check(len(syns) == 1, "synack port %d: %d SYNs on the wire" % (lp, len(syns))):
        continue
    import re
    m = re.search(r'mss (\d+)', syns[0]['options'])
    check(m is not None and int(m.group(1)) <= 1440, "synack port %d: SYN options %r (MSS must be <= 1440 over IPv6)"
          % (lp, syns[0]['options']))
    sa = [x for x in s if x['src'] == sip and x['syn'] and x['ackf']]
    check(len(sa) >= 1 and sa[0]['ack'] == (syns[0]['seq'] + 1) % 2**32,
          "synack port %d: the kernel's SYN-ACK does not ack ISN+1: %s" % (lp, [x['line'] for x in s]))
    fins = [x for x in s if x['fin']]
    check(len([x for x in fins if x['src'] == cip]) == 1 and len([x for x in fins if x['src'] == sip]) == 1,
          "synack port %d: expected one FIN each way (four-way close), got %s" % (lp, [x['line'] for x in s]))
EOF
ok "12 synack and 12 kernel handshakes over IPv6; SYN MSS fits IPv6; four-way close on the wire"

# ------------------------------------------------------------------------------------------------
it_section "--pcap over IPv6: tshark reads it with good checksums; --trace and --ladder show IPv6"
it_synack pcap 60 ping "$S6" -p 8080 -c 3 -i 0.05 --pcap "$NETNS_TMP/synack6.pcap" --trace --ladder
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
[ -s "$NETNS_TMP/synack6.pcap" ] || fail "--pcap wrote nothing"
n6=$(tshark -r "$NETNS_TMP/synack6.pcap" -Y 'ipv6 && tcp' 2>/dev/null | wc -l)
[ "$n6" -ge 18 ] || fail "expected at least 18 IPv6 TCP frames in --pcap (3 x handshake + close), got $n6"
bad=$(tshark -r "$NETNS_TMP/synack6.pcap" -o tcp.check_checksum:TRUE \
  -Y 'tcp.checksum.status == "Bad" || tcp.analysis.flags || _ws.malformed' 2>/dev/null | wc -l)
[ "$bad" = 0 ] || fail "$bad frames with bad checksums, TCP analysis flags or malformed"
good=$(tshark -r "$NETNS_TMP/synack6.pcap" -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status == "Good"' 2>/dev/null | wc -l)
[ "$good" -ge 1 ] || fail "tshark verified no TCP checksum as good"
grep -q "$C6\.[0-9]* > $S6\.8080: Flags \[S\]" "$IT_ERR" "$IT_OUT" || fail "--trace does not show the IPv6 SYN"
grep -q "\[$C6\]:[0-9]*" "$IT_OUT" "$IT_ERR" || fail "no [IPv6]:port in the output"
ok "--pcap: $n6 IPv6 TCP frames, checksums good in tshark ($good verified); --trace and --ladder name IPv6 addresses"

# ------------------------------------------------------------------------------------------------
it_section "RST close over IPv6"
it_capture_start rst "tcp port 8080"
it_synack rst 60 ping "[$S6]:8080" -c 3 -i 0.05 --close rst --json
it_capture_stop rst
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/rst.pcap" "$C6" <<'EOF' || fail "RST close checks failed"
import sys
from it import *
segs = segments(sys.argv[1])
conns = by_client_port(segs, sys.argv[2])
check(len(conns) == 3, "expected 3 connections on the wire, got %d" % len(conns))
for port, s in conns.items():
    check(any(x['rst'] and x['src'] == sys.argv[2] for x in s) and not any(x['fin'] for x in s),
          "port %d: expected our RST and no FIN: %s" % (port, [x['line'] for x in s]))
EOF
ok "--close rst aborts each IPv6 connection with a RST"

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
it_synack nobody 60 ping "$NETNS_IP6_NOBODY" -p 8080 -c 1 -W 5 --json
[ "$IT_RC" = 1 ] || fail "expected exit 1 for an address nobody owns, got $IT_RC"
grep -q '"error":"host_unreachable"' "$IT_OUT" || fail "expected host_unreachable: $(cat "$IT_OUT")"
ok "an IPv6 address nobody answers for: host_unreachable after the solicitations"

# ------------------------------------------------------------------------------------------------
it_section "refused and ICMPv6 errors"
it_synack refused 30 ping "$S6" -p 8081 -c 1 --json
[ "$IT_RC" = 1 ] || fail "expected exit 1 for a closed port, got $IT_RC"
grep -q '"error":"connection_refused"' "$IT_OUT" || fail "expected connection_refused: $(cat "$IT_OUT")"
ok "closed port: the kernel's RST -> connection_refused"
for how in icmp6-port-unreachable:connection_refused icmp6-adm-prohibited:permission_denied; do
  rej=${how%%:*}; want=${how#*:}
  ip netns exec "$NETNS_S" ip6tables -I INPUT -p tcp --dport 8080 --syn -j REJECT --reject-with "$rej"
  it_synack "rej-$rej" 30 ping "$S6" -p 8080 -c 1 --json --kernel
  ip netns exec "$NETNS_S" ip6tables -D INPUT -p tcp --dport 8080 --syn -j REJECT --reject-with "$rej"
  [ "$IT_RC" = 1 ] || fail "$rej: expected exit 1, got $IT_RC"
  it_py "$IT_OUT" "$want" "$rej" <<'EOF' || fail "$rej: synack and the kernel disagree (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
s, k = probes(recs, 'synack'), probes(recs, 'kernel')
check(len(s) == 1 and len(k) == 1, "expected one probe per engine")
check(s[0].get('error') == sys.argv[2], "%s: synack error %r, expected %r" % (sys.argv[3], s[0].get('error'), sys.argv[2]))
check(s[0].get('error') == k[0].get('error'), "%s: synack %r != kernel %r" % (sys.argv[3], s[0].get('error'), k[0].get('error')))
ic = s[0].get('icmp') or {}
check(ic.get('type') == 1, "%s: icmp record %r, expected type 1 (destination unreachable)" % (sys.argv[3], ic))
EOF
  ok "$rej: synack reports $want, as the kernel's connect() in the same run"
done

# ------------------------------------------------------------------------------------------------
it_section "retransmission under loss (the peer drops 50% of incoming SYNs)"
ip netns exec "$NETNS_S" ip6tables -I INPUT -p tcp --dport 8080 --syn -m statistic --mode random --probability 0.5 -j DROP
it_synack loss 240 ping "$S6" -p 8080 -c 12 -i 0.05 -W 20 --json
ip netns exec "$NETNS_S" ip6tables -D INPUT -p tcp --dport 8080 --syn -m statistic --mode random --probability 0.5 -j DROP
[ "$IT_RC" = 0 ] || fail "expected every probe ok despite SYN loss, got exit $IT_RC"
it_py "$IT_OUT" <<'EOF' || fail "loss checks failed"
import sys
from it import *
P = probes(ndjson(sys.argv[1]))
check(len(P) == 12 and all(p.get('ok') for p in P), "not every probe ok: %r" % [p.get('error') for p in P])
check(sum(p.get('syn_retransmits', 0) for p in P) > 0, "no SYN retransmission at 50% SYN loss over 12 probes")
EOF
ok "12 probes ok through 50% SYN loss, SYNs retransmitted"

# ------------------------------------------------------------------------------------------------
it_section "the scoped ip6tables rule: present while running, gone after every exit"
no_rules || fail "synack rules present before: $(it_rules)"
it_synack normal 30 ping "$S6" -p 8080 -c 2 -i 0.1
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
no_rules || fail "rule left after a normal exit: $(it_rules)"
for SIG in INT TERM; do
  it_synack_bg "bg$SIG" ping "$S6" -p 8080 -c 0 -i 0.2 --json
  PID=$IT_BG_PID
  netns_wait_until 15 "synack's ip6tables rule (pid $PID)" has_rule6 "$PID" || fail "no ip6tables rule for pid $PID: $(it_rules)"
  ip netns exec "$NETNS_C" ip6tables-save -t filter | grep "synack pid=$PID\b" | grep -q -- "-s $C6/128" \
    || fail "the ip6tables rule is not scoped to $C6: $(ip netns exec "$NETNS_C" ip6tables-save)"
  netns_wait_until 15 "2 ok probes" has_probes "bg$SIG" 2 || fail "no probes while running: $(cat "$NETNS_TMP/bg$SIG.err")"
  kill "-$SIG" "$PID"
  it_wait_bg "bg$SIG" "$PID" 15
  no_rules || fail "rule left after SIG$SIG: $(it_rules)"
  ok "SIG$SIG: the scoped ip6tables rule was there while running and is gone"
done

# ------------------------------------------------------------------------------------------------
it_section "bench --engine both over IPv6"
it_synack bench 120 bench "[$S6]:8080" -n 200 -c 16 --engine both --json "$NETNS_TMP/bench.json"
[ "$IT_RC" = 0 ] || fail "bench over IPv6: exit $IT_RC"
it_py "$NETNS_TMP/bench.json" "$S6" <<'EOF' || fail "bench checks failed"
import sys, json
from it import *
j = json.load(open(sys.argv[1]))
check(j.get('target') == '[%s]:8080' % sys.argv[2], "target %r" % j.get('target'))
E = {e.get('engine'): e for e in j.get('engines', j.get('results', []))}
for name in ('synack', 'kernel'):
    e = E.get(name)
    if check(e is not None, "no %s result in %r" % (name, list(E))):
        check(e.get('ok') == 200 and e.get('failed') == 0, "%s: ok %r failed %r" % (name, e.get('ok'), e.get('failed')))
EOF
ok "bench over IPv6: 200 handshakes each for synack and the kernel in the same run"
