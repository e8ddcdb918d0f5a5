#!/usr/bin/env bash
# synack trace over the routed lab of scripts/netns.sh with three routers (it_init_routed --routers 3:
# forwarding on, ICMP and ICMPv6 rate limits off), over IPv4 and, as integration.test_trace.ipv6,
# over IPv6 (hop limits, ICMPv6 time exceeded and unreachables, ip6tables on the routers):
#
#   client $IT_IP_C -- r1 -- r2 -- r3 -- server $IT_IP_S   (10.111.1.1 ... 10.111.4.2,
#          fd00:111:1::1 ... fd00:111:4::2; router i faces the client with ${IT_RTR_IP[i]}: the
#          source of its time exceeded)
#
#   1. an open port (python3 http.server): hops 1-3 are r1, r2, r3 in order (ICMP 11/0 or ICMPv6
#      3/0 time exceeded, quoted TTL / hop limit 1, the whole SYN quoted, no change reported), hop 4
#      the server's SYN-ACK; "open", reached, exit 0; the server is left with no half-open
#      connection (synack answered its SYN-ACK with a RST); text mode prints traceroute-like lines
#      and [open]; IPv6: every probe has one non-zero flow label, and --flow-label's value is the
#      one on the wire for every probe (the server's capture);
#   2. a closed port: the server's RST at hop 4, "closed", exit 0; a name with A and AAAA records
#      (the client's /etc/hosts) traced with -4 / -6 goes to that family's address;
#   3. r2 clamps the MSS (TCPMSS --set-mss 1200): the change is reported once, at hop 3 (r3 quotes
#      the SYN as it arrived), between hop 2 and hop 3, sent 1460 (IPv6: 1440) quoted 1200;
#   4. r1 strips sackOK and timestamps (TCPOPTSTRIP) and sets DSCP 10, r2 clears ECE/CWR (ECN
#      --ecn-tcp-remove; IPv4 only: ip6tables has no ECN target): each reported once, at the hop
#      after the box that did it (IPv6: the traffic class, "TC 0xb8->0x28");
#   5. r2 rejects the port with icmp-host-prohibited (IPv6: icmp6-adm-prohibited): hop 3 is r2
#      with !X, "unreachable", exit 1; the other REJECT codes are annotated as traceroute does
#      (!N, !H; IPv6 policy-fail and reject-route !5 !6);
#   6. the server drops the SYNs: `*` from hop 4 on; SIGINT ends the trace at once, exit 1;
#   7. usage errors exit 2 with one line on stderr; an on-link address nobody owns (no ARP reply,
#      no neighbour advertisement): exit 1;
#   and after every run no synack firewall rule is left; at the end no namespace is left and the
#   host's firewall holds no synack rule. Rules on the routers and the server go with their namespaces.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

netns_require_root
netns_require_tools ping
it_init_routed "${1:-}" --routers 3
# shellcheck disable=SC2086  # IT_PING is "ping -4" / "ping -6"
netns_wait_until 10 "the client to reach the server" \
  ip netns exec "$NETNS_C" $IT_PING -c 1 -W 1 "$IT_IP_S" || fail "the chain does not forward"
# An address on the client's own hop (hop 1) that nobody owns: the client's ARP (neighbour
# solicitation) for it goes unanswered. (IT_IP_NOBODY is on the server's hop, behind the routers:
# not on-link here.)
if [ "$IT_FAMILY" = 6 ]; then ONLINK_NOBODY=$(netns_routed_ip6 1 77); else ONLINK_NOBODY=$(netns_routed_ip 1 77); fi
# What the family's routers send and the SYN's MSS (MTU 1500 - 40, IPv6 - 60).
if [ "$IT_FAMILY" = 6 ]; then TE_TYPE=3 UNREACH_TYPE=1 MSS=1440; else TE_TYPE=11 UNREACH_TYPE=3 MSS=1460; fi

no_rules_left() {
  local left
  left=$(it_rules "$NETNS_C")
  [ -z "$left" ] || fail "synack firewall rules left behind: $left"
}

netns_http_server 8080 "$NETNS_S" "$IT_IP_S" || fail "the HTTP server did not start"

# ------------------------------------------------------------------------------------------------
it_section "open port: three routers in order, then the server's SYN-ACK"
it_synack open 60 trace "$IT_IP_S" -p 8080 -w 2 --json
[ "$IT_RC" = 0 ] || fail "an open port: expected exit 0, got $IT_RC"
no_rules_left
it_py "$NETNS_TMP/open.out" "$IT_IP_S" "${IT_RTR_IP[1]}" "${IT_RTR_IP[2]}" "${IT_RTR_IP[3]}" "$TE_TYPE" "$IT_FAMILY" <<'EOF' \
  || fail "open-port checks failed (see above)"
import sys
from it import *
out, server, r1, r2, r3 = sys.argv[1:6]
te_type, fam = int(sys.argv[6]), sys.argv[7]
recs = ndjson(out)
hops = [r for r in recs if r.get('type') == 'hop']
sums = [r for r in recs if r.get('type') == 'summary']
check(len(sums) == 1, "expected one summary record, got %d" % len(sums))
check(recs and recs[-1].get('type') == 'summary', "the summary is not the last record")
check([h.get('ttl') for h in hops] == [1, 2, 3, 4], "hop TTLs %r, expected [1, 2, 3, 4]" % [h.get('ttl') for h in hops])
for h, want in zip(hops[:3], (r1, r2, r3)):
    P = h.get('probes', [])
    check(len(P) == 3, "hop %s: %d probes, expected 3" % (h.get('ttl'), len(P)))
    for p in P:
        check(p.get('from') == want, "hop %s: answer from %r, expected %s" % (h.get('ttl'), p.get('from'), want))
        check(p.get('reply') == 'time_exceeded' and p.get('icmp') == {'type': te_type, 'code': 0},
              "hop %s: reply %r icmp %r, expected time_exceeded %d/0" % (h.get('ttl'), p.get('reply'), p.get('icmp'), te_type))
        check(isinstance(p.get('rtt_us'), float) and 0 < p['rtt_us'] < 1e6, "hop %s: rtt_us %r" % (h.get('ttl'), p.get('rtt_us')))
        check(p.get('quoted_ttl') == 1, "hop %s: quoted TTL %r, expected 1" % (h.get('ttl'), p.get('quoted_ttl')))
        check(p.get('quote_full_header') is True, "hop %s: Linux quotes the whole SYN, got %r bytes" % (h.get('ttl'), p.get('quote_tcp_bytes')))
    check(h.get('changes') == [], "hop %s: changes %r on a clean path" % (h.get('ttl'), h.get('changes')))
if len(hops) >= 4:
    for p in hops[3].get('probes', []):
        check(p.get('from') == server and p.get('reply') == 'syn_ack',
              "hop 4: from %r reply %r, expected the server's syn_ack" % (p.get('from'), p.get('reply')))
    check(len({p.get('seq') for h in hops for p in h['probes']}) == 12, "probes do not have distinct sequence numbers")
allp = [p for h in hops for p in h.get('probes', [])]
if fam == '6':
    labels = {p.get('flow_label') for p in allp}
    check(len(labels) == 1 and isinstance(next(iter(labels)), int) and 0 < next(iter(labels)) <= 0xfffff,
          "IPv6 probes must share one non-zero flow label, got %r" % labels)
    check(all(p.get('ip_id') is None for p in allp), "IPv6 probes have an ip_id: %r" % [p.get('ip_id') for p in allp])
else:
    check(len({p.get('ip_id') for p in allp}) == len(allp), "IPv4 probes do not have distinct IP IDs")
s = sums[0] if sums else {}
for k, v in (('destination', server), ('family', 'ipv6' if fam == '6' else 'ipv4'), ('port', 8080), ('reached', True),
             ('state', 'open'), ('hops', 4)):
    check(s.get(k) == v, "summary %s = %r, expected %r" % (k, s.get(k), v))
done("open port: r1, r2, r3, then the server's SYN-ACK")
EOF
# synack answered every SYN-ACK with a RST: the server holds no half-open connection.
netns_wait_until 5 "no SYN-RECV left on the server" \
  bash -c "[ -z \"\$(ip netns exec '$NETNS_S' ss -Htn state syn-recv)\" ]" \
  || fail "the server still holds half-open connections: $(ip netns exec "$NETNS_S" ss -tn state syn-recv)"
ok "the server's SYN-ACKs were answered with RSTs (no SYN-RECV left)"

it_synack open_text 60 trace "$(it_hp "$IT_IP_S" 8080)" -q 2 -w 2
[ "$IT_RC" = 0 ] || fail "an open port, text mode: expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/open_text.out" "$IT_IP_S" "${IT_RTR_IP[1]}" "${IT_RTR_IP[2]}" "${IT_RTR_IP[3]}" <<'EOF' \
  || fail "text-mode checks failed (see above)"
import re, sys
from it import *
out, server, r1, r2, r3 = sys.argv[1:6]
lines = open(out).read().splitlines()
check(lines and lines[0].startswith('synack trace to '), "no header line: %r" % lines[:1])
hop_re = re.compile(r'^ ?(\d+)  ([0-9a-f.:]+)  (\d+\.\d+) ms  (\d+\.\d+) ms(.*)$')
hops = [hop_re.match(l) for l in lines if re.match(r'^ ?\d+ ', l)]
check(len(hops) == 4 and all(hops), "expected 4 hop lines like ' 1  10.111.1.2  0.123 ms  0.101 ms', got %r" % lines)
check(any(l.startswith('--- %s is open' % hp(server, 8080)) for l in lines), "no '--- %s is open' outcome line" % hp(server, 8080))
if len(hops) == 4 and all(hops):
    check([m.group(2) for m in hops] == [r1, r2, r3, server], "hop addresses %r" % [m.group(2) for m in hops])
    check('[open]' in hops[3].group(5), "hop 4 line does not say [open]: %r" % hops[3].group(0))
check(any('is open' in l for l in lines), "no 'is open' outcome line")
done("text mode: traceroute-like lines, [open]")
EOF
no_rules_left

if [ "$IT_FAMILY" = 6 ]; then
  # The flow label on the wire: the value given, on every probe (Paris: one flow), seen by the server.
  it_capture_start flow "ip6 and tcp port 8080"
  it_synack flow 60 trace "$IT_IP_S" -p 8080 -q 2 -w 2 --flow-label 0x12345 --json
  it_capture_stop flow
  [ "$IT_RC" = 0 ] || fail "--flow-label: expected exit 0, got $IT_RC"
  it_py "$NETNS_TMP/flow.out" "$NETNS_TMP/flow.pcap" "$IT_IP_C" <<'EOF' || fail "flow-label checks failed (see above)"
import socket, sys
from it import *
from it import _read_pcap
out, pcap, client = sys.argv[1:4]
recs = ndjson(out)
P = [p for r in recs if r.get('type') == 'hop' for p in r.get('probes', [])]
check(P and all(p.get('flow_label') == 0x12345 for p in P), "probe flow_label fields %r" % [p.get('flow_label') for p in P])
syns = []
for _, link, f in _read_pcap(pcap):
    if link != 1 or len(f) < 54 or f[12:14] != b'\x86\xdd' or f[20] != 6:
        continue
    src = socket.inet_ntop(socket.AF_INET6, bytes(f[22:38]))
    flags = f[54 + 13]
    if src == client and flags & 0x02:
        syns.append(int.from_bytes(f[14:18], 'big') & 0xfffff)
# The probes with hop limit 4 reach the server: two of them (-q 2).
check(len(syns) == 2, "expected the 2 SYN probes of hop 4 at the server, got %d" % len(syns))
check(all(l == 0x12345 for l in syns), "flow labels on the wire %r, expected 0x12345" % [hex(l) for l in syns])
done("--flow-label 0x12345 on every probe, on the wire")
EOF
  no_rules_left
fi

# ------------------------------------------------------------------------------------------------
it_section "closed port: the server's RST; a name traced with -$IT_FAMILY"
it_synack closed 60 trace "$IT_IP_S" -p 9 -q 1 -w 2 --json
[ "$IT_RC" = 0 ] || fail "a closed port: expected exit 0 (the destination answered), got $IT_RC"
it_py "$NETNS_TMP/closed.out" "$IT_IP_S" <<'EOF' || fail "closed-port checks failed (see above)"
import sys
from it import *
out, server = sys.argv[1:3]
recs = ndjson(out)
hops = [r for r in recs if r.get('type') == 'hop']
s = [r for r in recs if r.get('type') == 'summary']
s = s[0] if s else {}
check(len(hops) == 4, "expected 4 hops, got %d" % len(hops))
if hops:
    p = hops[-1]['probes'][0]
    check(p.get('from') == server and p.get('reply') == 'rst', "last hop: from %r reply %r, expected the server's rst" % (p.get('from'), p.get('reply')))
check(s.get('state') == 'closed' and s.get('reached') is True and s.get('hops') == 4,
      "summary state/reached/hops = %r/%r/%r, expected closed/true/4" % (s.get('state'), s.get('reached'), s.get('hops')))
done("closed port reported as closed")
EOF
no_rules_left
# `ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts for what it runs.
rm_hosts() { rm -rf "/etc/netns/$NETNS_C"; }
NETNS_CLEANUP_HOOKS+=(rm_hosts)
mkdir -p "/etc/netns/$NETNS_C"
printf '127.0.0.1 localhost\n%s dual.synack.test\n%s dual.synack.test\n' "$NETNS_IP_S" "$NETNS_IP6_S" \
  >"/etc/netns/$NETNS_C/hosts"
it_synack name 60 trace "-$IT_FAMILY" dual.synack.test -p 9 -q 1 -w 2 --json
[ "$IT_RC" = 0 ] || fail "a name with -$IT_FAMILY: expected exit 0, got $IT_RC"
it_py "$IT_OUT" "$IT_IP_S" <<'EOF' || fail "name checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
s = [r for r in recs if r.get('type') == 'summary']
s = s[0] if s else {}
check(s.get('destination') == sys.argv[2] and s.get('name') == 'dual.synack.test' and s.get('state') == 'closed',
      "summary destination/name/state = %r/%r/%r" % (s.get('destination'), s.get('name'), s.get('state')))
done("dual.synack.test with -%s: %s" % (__import__('os').environ.get('IT_AF'), sys.argv[2]))
EOF
rm_hosts
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "r2 clamps the MSS to 1200: reported at hop 3, between hop 2 and hop 3"
it_fw r2 -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200
it_synack clamp 60 trace "$IT_IP_S" -p 8080 -w 2 --json
[ "$IT_RC" = 0 ] || fail "MSS clamping: expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/clamp.out" "$MSS" <<'EOF' || fail "MSS-clamping checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
mss_sent = int(sys.argv[2])
hops = {r['ttl']: r for r in recs if r.get('type') == 'hop'}
check(sorted(hops) == [1, 2, 3, 4], "hops %r, expected 1-4" % sorted(hops))
for t in (1, 2, 4):
    if t in hops:
        check(hops[t].get('changes') == [], "hop %d reports changes %r" % (t, hops[t].get('changes')))
ch = hops.get(3, {}).get('changes', [])
mss = [c for c in ch if c.get('field') == 'mss']
check(len(mss) == 1, "hop 3: expected one mss change, got %r" % ch)
if mss:
    c = mss[0]
    check(c.get('sent') == mss_sent and c.get('quoted') == 1200, "mss sent/quoted = %r/%r, expected %d/1200" % (c.get('sent'), c.get('quoted'), mss_sent))
    check(c.get('since_hop') == 2 and c.get('hop') == 3, "since_hop/hop = %r/%r, expected 2/3" % (c.get('since_hop'), c.get('hop')))
    check(c.get('text') == 'MSS %d->1200' % mss_sent, "text %r" % c.get('text'))
check([c for c in ch if c.get('field') != 'mss'] == [], "hop 3: other changes than the MSS: %r" % ch)
s = [r for r in recs if r.get('type') == 'summary']
check(s and [c.get('field') for c in s[0].get('changes', [])] == ['mss'], "summary changes %r" % (s[0].get('changes') if s else None))
done("MSS clamping named at hop 3 (changed between hop 2 and hop 3)")
EOF
it_synack clamp_text 60 trace "$IT_IP_S" -p 8080 -q 1 -w 2
[ "$IT_RC" = 0 ] || fail "MSS clamping, text mode: expected exit 0, got $IT_RC"
grep -Fq " 3  ${IT_RTR_IP[3]}  " "$IT_OUT" && grep -Eq "^ 3  .*\[MSS $MSS->1200\]" "$IT_OUT" \
  || fail "hop 3's line is not ${IT_RTR_IP[3]} with [MSS $MSS->1200]"
grep -q "MSS $MSS->1200: changed between hop 2 and hop 3" "$IT_OUT" || fail "no 'changed between hop 2 and hop 3' line"
ok "text mode: [MSS $MSS->1200] on hop 3"
it_fw r2 -t mangle -F FORWARD
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "more middleboxes: r1 strips sackOK and timestamps, rewrites DSCP; r2 clears ECN flags (IPv4)"
# netns_fw, not it_fw: a missing target is a skip here, not a failure. ip6tables has no ECN target:
# over IPv6 r2 does nothing and hop 3 reports nothing.
boxes_ok=1
NETNS_FW_CMD=$IT_IPT netns_fw r1 -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
  -j TCPOPTSTRIP --strip-options sack-permitted,timestamp || boxes_ok=0
NETNS_FW_CMD=$IT_IPT netns_fw r1 -t mangle -A FORWARD -p tcp -j DSCP --set-dscp 0x0a || boxes_ok=0
if [ "$IT_FAMILY" = 4 ]; then netns_fw r2 -t mangle -A FORWARD -p tcp -j ECN --ecn-tcp-remove || boxes_ok=0; fi
if [ "$boxes_ok" != 1 ]; then
  echo "skip: this kernel lacks the TCPOPTSTRIP, DSCP or ECN target (xt_TCPOPTSTRIP, xt_DSCP, xt_ECN)"
else
it_synack boxes 60 trace "$IT_IP_S" -p 8080 -q 2 -w 2 --ecn --tos 0xb8 --json
[ "$IT_RC" = 0 ] || fail "middleboxes: expected exit 0, got $IT_RC"
it_py "$IT_OUT" "$IT_FAMILY" <<'EOF' || fail "middlebox checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
v6 = sys.argv[2] == '6'
hops = {r['ttl']: r for r in recs if r.get('type') == 'hop'}
check(sorted(hops) == [1, 2, 3, 4], "hops %r, expected 1-4" % sorted(hops))
def changes(t):
    return sorted((c.get('field'), c.get('text'), c.get('since_hop')) for c in hops.get(t, {}).get('changes', []))
dscp = ('traffic_class', 'TC 0xb8->0x28', 1) if v6 else ('tos', 'TOS 0xb8->0x28', 1)
check(changes(1) == [], "hop 1: %r" % changes(1))
check(changes(2) == sorted([('sack_permitted', 'sackOK stripped', 1), ('timestamps', 'TS stripped', 1), dscp]),
      "hop 2 (after r1): %r" % changes(2))
want3 = [] if v6 else [('tcp_flags', 'flags CWR|ECE|SYN->SYN', 2)]
check(changes(3) == want3, "hop 3 (after r2): %r, expected %r" % (changes(3), want3))
check(changes(4) == [], "hop 4: %r" % changes(4))
# Without timestamps in the quotation (stripped at r1) the IPv6 probes are still matched (port + seq).
for t in (2, 3):
    check(all(p.get('reply') == 'time_exceeded' for p in hops.get(t, {}).get('probes', [])), "hop %d: unanswered probes" % t)
done("options stripped and DSCP rewritten by r1 at hop 2%s" % ("" if v6 else ", ECN flags cleared by r2 at hop 3"))
EOF
fi
for r in 1 2; do it_fw "r$r" -t mangle -F FORWARD; done
no_rules_left

# ------------------------------------------------------------------------------------------------
if [ "$IT_FAMILY" = 6 ]; then PROHIBITED=icmp6-adm-prohibited PROHIBITED_CODE=1; else PROHIBITED=icmp-host-prohibited PROHIBITED_CODE=10; fi
it_section "r2 rejects the port ($PROHIBITED): !X at hop 3, unreachable"
it_fw r2 -A FORWARD -p tcp --dport 8081 -j REJECT --reject-with "$PROHIBITED"
it_synack reject 60 trace "$IT_IP_S" -p 8081 -q 1 -w 2 --json
[ "$IT_RC" = 1 ] || fail "an unreachable: expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/reject.out" "${IT_RTR_IP[2]}" "$UNREACH_TYPE" "$PROHIBITED_CODE" <<'EOF' || fail "unreachable checks failed (see above)"
import sys
from it import *
out, r2 = sys.argv[1:3]
utype, ucode = int(sys.argv[3]), int(sys.argv[4])
recs = ndjson(out)
hops = [r for r in recs if r.get('type') == 'hop']
check([h.get('ttl') for h in hops] == [1, 2, 3], "hops %r, expected 1-3" % [h.get('ttl') for h in hops])
if len(hops) == 3:
    p = hops[2]['probes'][0]
    check(p.get('from') == r2 and p.get('reply') == 'unreachable', "hop 3: from %r reply %r" % (p.get('from'), p.get('reply')))
    icmp = p.get('icmp') or {}
    check(icmp.get('type') == utype and icmp.get('code') == ucode and icmp.get('annotation') == '!X', "hop 3: icmp %r" % icmp)
    check('prohibited' in icmp.get('description', ''), "hop 3: description %r" % icmp.get('description'))
s = [r for r in recs if r.get('type') == 'summary']
s = s[0] if s else {}
check(s.get('state') == 'unreachable' and s.get('reached') is False and s.get('from') == r2,
      "summary state/reached/from = %r/%r/%r" % (s.get('state'), s.get('reached'), s.get('from')))
done("%s: !X from r2 at hop 3, unreachable" % ('adm-prohibited' if utype == 1 else 'host prohibited'))
EOF
it_synack reject_text 60 trace "$IT_IP_S" -p 8081 -q 1 -w 2
[ "$IT_RC" = 1 ] || fail "an unreachable, text mode: expected exit 1, got $IT_RC"
grep -Fq " 3  ${IT_RTR_IP[2]}  " "$IT_OUT" && grep -Eq "^ 3  \S+  [0-9.]+ ms !X" "$IT_OUT" \
  || fail "hop 3's line is not ${IT_RTR_IP[2]} ending in !X"
grep -Fq -- "--- $(it_hp "$IT_IP_S" 8081) unreachable at hop 3: !X" "$IT_OUT" || fail "no 'unreachable at hop 3: !X' outcome line"
ok "text mode: !X"
it_fw r2 -F FORWARD
# The other codes a router's REJECT sends, as traceroute marks them.
if [ "$IT_FAMILY" = 6 ]; then
  CODES="icmp6-no-route:0:!N icmp6-addr-unreachable:3:!H icmp6-policy-fail:5:!5 icmp6-reject-route:6:!6"
else
  CODES="icmp-net-unreachable:0:!N icmp-host-unreachable:1:!H icmp-net-prohibited:9:!X"
fi
for c in $CODES; do
  IFS=: read -r with code mark <<<"$c"
  if ! NETNS_FW_CMD=$IT_IPT netns_fw r2 -A FORWARD -p tcp --dport 8081 -j REJECT --reject-with "$with"; then
    echo "skip: $IT_IPT here has no --reject-with $with"
    continue
  fi
  it_synack "reject_$code" 60 trace "$IT_IP_S" -p 8081 -q 1 -w 1 --json
  [ "$IT_RC" = 1 ] || fail "$with: expected exit 1, got $IT_RC"
  it_py "$IT_OUT" "$UNREACH_TYPE" "$code" "$mark" <<'EOF' || fail "$with checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
s = [r for r in recs if r.get('type') == 'summary']
s = s[0] if s else {}
want = {'type': int(sys.argv[2]), 'code': int(sys.argv[3]), 'annotation': sys.argv[4]}
got = {k: (s.get('icmp') or {}).get(k) for k in want}
check(s.get('state') == 'unreachable' and s.get('hops') == 3 and got == want, "summary state %r hops %r icmp %r, expected %r"
      % (s.get('state'), s.get('hops'), s.get('icmp'), want))
done("code %s: %s (%s)" % (sys.argv[3], sys.argv[4], (s.get('icmp') or {}).get('description')))
EOF
  it_fw r2 -F FORWARD
done
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "silent destination: stars, SIGINT ends the trace and removes the rule"
it_fw s -A INPUT -p tcp --dport 8082 -j DROP
it_synack_bg sigint trace "$IT_IP_S" -p 8082 -q 1 -w 1
netns_wait_until 20 "hop 5's star" grep -Eq '^ 5  \*' "$NETNS_TMP/sigint.out" \
  || { kill -KILL "$IT_BG_PID" 2>/dev/null || true; fail "no star for hop 5 within 20 s"; }
[ -n "$(it_rules "$NETNS_C")" ] || fail "no synack rule while the trace runs (the RST guard)"
kill -INT "$IT_BG_PID"
it_wait_bg sigint "$IT_BG_PID" 5
[ "$IT_RC" = 1 ] || fail "interrupted before the destination: expected exit 1, got $IT_RC"
grep -q "interrupted" "$NETNS_TMP/sigint.out" || fail "the outcome line does not say interrupted"
no_rules_left
ok "SIGINT: exit 1 at once, no rule left"

# ------------------------------------------------------------------------------------------------
it_section "errors: usage (exit 2) and a next hop that never answers ARP / NDP (exit 1)"
it_synack badport 30 trace "$(it_hp "$IT_IP_S" 70000)"
[ "$IT_RC" = 2 ] || fail "a bad port: expected exit 2, got $IT_RC"
grep -q "bad port" "$IT_ERR" || fail "a bad port: no 'bad port' message on stderr"
it_synack badttl 30 trace "$IT_IP_S" -f 9 -m 3
[ "$IT_RC" = 2 ] || fail "-f above -m: expected exit 2, got $IT_RC"
[ "$(wc -l <"$IT_ERR")" = 1 ] || fail "-f above -m: expected a one-line message on stderr"
it_synack badflow 30 trace "$IT_IP_S" --flow-label 0x100000
[ "$IT_RC" = 2 ] || fail "--flow-label above 20 bits: expected exit 2, got $IT_RC"
if [ "$IT_FAMILY" = 4 ]; then
  it_synack flow4 30 trace "$IT_IP_S" --flow-label 5
  [ "$IT_RC" = 2 ] && grep -q "IPv6 only" "$IT_ERR" || fail "--flow-label towards IPv4: expected exit 2 'IPv6 only', got $IT_RC"
fi
it_synack noarp 30 trace "$ONLINK_NOBODY" -q 1 --json
[ "$IT_RC" = 1 ] || fail "an on-link address nobody owns: expected exit 1, got $IT_RC"
it_py "$IT_OUT" "$IT_FAMILY" <<'PY' || fail "no-ARP checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
what = 'NDP' if sys.argv[2] == '6' else 'ARP'
check([r.get('type') for r in recs] == ['summary'], "expected only a summary record, got %r" % recs)
if recs:
    check(recs[0].get('state') == 'unreachable' and recs[0].get('reached') is False and what in recs[0].get('error', ''),
          "summary %r" % recs[0])
done("no %s answer: unreachable, exit 1" % what)
PY
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "nothing left behind"
mine=("${NETNS_CREATED[@]}")
netns_cleanup
for ns in "${mine[@]}"; do
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then fail "namespace $ns left behind"; fi
done
ok "every namespace removed"
if iptables-save 2>/dev/null | grep -qi synack; then fail "a synack rule is in the host's firewall"; fi
if ip6tables-save 2>/dev/null | grep -qi synack; then fail "a synack rule is in the host's IPv6 firewall"; fi
ok "no synack rule in the host's firewall"
echo "PASS $(basename "$0") ($(it_elapsed))"
