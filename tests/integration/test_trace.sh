#!/usr/bin/env bash
# synack trace over the routed lab of scripts/netns.sh with three routers (it_init_routed --routers 3:
# forwarding on, ICMP rate limits off):
#
#   client $NETNS_IP_C -- r1 -- r2 -- r3 -- server $NETNS_IP_S   (10.111.1.1 ... 10.111.4.2)
#          (router i faces the client with ${NETNS_RTR_IP[i]}: the time-exceeded sources)
#
#   1. an open port (python3 http.server): hops 1-3 are r1, r2, r3 in order (ICMP time exceeded,
#      quoted TTL 1, no change reported), hop 4 the server's SYN-ACK; "open", reached, exit 0; the
#      server is left with no half-open connection (synack answered its SYN-ACK with a RST); text
#      mode prints traceroute-like lines and [open];
#   2. a closed port: the server's RST at hop 4, "closed", exit 0;
#   3. r2 clamps the MSS (iptables TCPMSS --set-mss 1200): the change is reported once, at hop 3
#      (r3 quotes the SYN as it arrived), between hop 2 and hop 3, sent 1460 quoted 1200;
#   4. r1 strips sackOK and timestamps (TCPOPTSTRIP) and sets DSCP 10, r2 clears ECE/CWR (ECN
#      --ecn-tcp-remove): each reported once, at the hop after the box that did it;
#   5. r2 rejects the port with icmp-host-prohibited: hop 3 is r2 with !X, "unreachable", exit 1;
#   6. the server drops the SYNs: `*` from hop 4 on; SIGINT ends the trace at once, exit 1;
#   7. usage errors exit 2 with one line on stderr; an on-link address nobody owns: exit 1;
#   and after every run no synack firewall rule is left; at the end no namespace is left and the
#   host's firewall holds no synack rule. Rules on the routers and the server go with their namespaces.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

netns_require_root
netns_require_tools ping
it_init_routed "${1:-}" --routers 3
netns_wait_until 10 "the client to reach the server" \
  ip netns exec "$NETNS_C" ping -c 1 -W 1 "$NETNS_IP_S" || fail "the chain does not forward"
# An address on the client's own hop (hop 1) that nobody owns: the client's ARP for it goes
# unanswered. (NETNS_IP_NOBODY is on the server's hop, behind the routers: not on-link here.)
ONLINK_NOBODY=$(netns_routed_ip 1 77)

no_rules_left() {
  local left
  left=$(it_rules "$NETNS_C")
  [ -z "$left" ] || fail "synack firewall rules left behind: $left"
}

netns_http_server 8080 "$NETNS_S" "$NETNS_IP_S" || fail "the HTTP server did not start"

# ------------------------------------------------------------------------------------------------
it_section "open port: three routers in order, then the server's SYN-ACK"
it_synack open 60 trace "$NETNS_IP_S" -p 8080 -w 2 --json
[ "$IT_RC" = 0 ] || fail "an open port: expected exit 0, got $IT_RC"
no_rules_left
it_py "$NETNS_TMP/open.out" "$NETNS_IP_S" "${NETNS_RTR_IP[1]}" "${NETNS_RTR_IP[2]}" "${NETNS_RTR_IP[3]}" <<'EOF' \
  || fail "open-port checks failed (see above)"
import sys
from it import *
out, server, r1, r2, r3 = sys.argv[1:6]
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
        check(p.get('reply') == 'time_exceeded' and p.get('icmp') == {'type': 11, 'code': 0},
              "hop %s: reply %r icmp %r, expected time_exceeded 11/0" % (h.get('ttl'), p.get('reply'), p.get('icmp')))
        check(isinstance(p.get('rtt_us'), float) and 0 < p['rtt_us'] < 1e6, "hop %s: rtt_us %r" % (h.get('ttl'), p.get('rtt_us')))
        check(p.get('quoted_ttl') == 1, "hop %s: quoted TTL %r, expected 1" % (h.get('ttl'), p.get('quoted_ttl')))
        check(p.get('quote_full_header') is True, "hop %s: Linux quotes the whole SYN, got %r bytes" % (h.get('ttl'), p.get('quote_tcp_bytes')))
    check(h.get('changes') == [], "hop %s: changes %r on a clean path" % (h.get('ttl'), h.get('changes')))
if len(hops) >= 4:
    for p in hops[3].get('probes', []):
        check(p.get('from') == server and p.get('reply') == 'syn_ack',
              "hop 4: from %r reply %r, expected the server's syn_ack" % (p.get('from'), p.get('reply')))
    check(len({p.get('seq') for h in hops for p in h['probes']}) == 12, "probes do not have distinct sequence numbers")
s = sums[0] if sums else {}
for k, v in (('destination', server), ('port', 8080), ('reached', True), ('state', 'open'), ('hops', 4)):
    check(s.get(k) == v, "summary %s = %r, expected %r" % (k, s.get(k), v))
done("open port: r1, r2, r3, then the server's SYN-ACK")
EOF
# synack answered every SYN-ACK with a RST: the server holds no half-open connection.
netns_wait_until 5 "no SYN-RECV left on the server" \
  bash -c "[ -z \"\$(ip netns exec '$NETNS_S' ss -Htn state syn-recv)\" ]" \
  || fail "the server still holds half-open connections: $(ip netns exec "$NETNS_S" ss -tn state syn-recv)"
ok "the server's SYN-ACKs were answered with RSTs (no SYN-RECV left)"

it_synack open_text 60 trace "$NETNS_IP_S:8080" -q 2 -w 2
[ "$IT_RC" = 0 ] || fail "an open port, text mode: expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/open_text.out" "$NETNS_IP_S" "${NETNS_RTR_IP[1]}" "${NETNS_RTR_IP[2]}" "${NETNS_RTR_IP[3]}" <<'EOF' \
  || fail "text-mode checks failed (see above)"
import re, sys
from it import *
out, server, r1, r2, r3 = sys.argv[1:6]
lines = open(out).read().splitlines()
check(lines and lines[0].startswith('synack trace to '), "no header line: %r" % lines[:1])
hop_re = re.compile(r'^ ?(\d+)  (\d+\.\d+\.\d+\.\d+)  (\d+\.\d+) ms  (\d+\.\d+) ms(.*)$')
hops = [hop_re.match(l) for l in lines if re.match(r'^ ?\d+ ', l)]
check(len(hops) == 4 and all(hops), "expected 4 hop lines like ' 1  10.111.1.2  0.123 ms  0.101 ms', got %r" % lines)
if len(hops) == 4 and all(hops):
    check([m.group(2) for m in hops] == [r1, r2, r3, server], "hop addresses %r" % [m.group(2) for m in hops])
    check('[open]' in hops[3].group(5), "hop 4 line does not say [open]: %r" % hops[3].group(0))
check(any('is open' in l for l in lines), "no 'is open' outcome line")
done("text mode: traceroute-like lines, [open]")
EOF
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "closed port: the server's RST"
it_synack closed 60 trace "$NETNS_IP_S" -p 9 -q 1 -w 2 --json
[ "$IT_RC" = 0 ] || fail "a closed port: expected exit 0 (the destination answered), got $IT_RC"
it_py "$NETNS_TMP/closed.out" "$NETNS_IP_S" <<'EOF' || fail "closed-port checks failed (see above)"
import sys
from it import *
out, server = sys.argv[1:3]
recs = ndjson(out)
hops = [r for r in recs if r.get('type') == 'hop']
s = summary_rec = [r for r in recs if r.get('type') == 'summary']
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

# ------------------------------------------------------------------------------------------------
it_section "r2 clamps the MSS to 1200: reported at hop 3, between hop 2 and hop 3"
it_fw r2 -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200
it_synack clamp 60 trace "$NETNS_IP_S" -p 8080 -w 2 --json
[ "$IT_RC" = 0 ] || fail "MSS clamping: expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/clamp.out" <<'EOF' || fail "MSS-clamping checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
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
    check(c.get('sent') == 1460 and c.get('quoted') == 1200, "mss sent/quoted = %r/%r, expected 1460/1200" % (c.get('sent'), c.get('quoted')))
    check(c.get('since_hop') == 2 and c.get('hop') == 3, "since_hop/hop = %r/%r, expected 2/3" % (c.get('since_hop'), c.get('hop')))
    check(c.get('text') == 'MSS 1460->1200', "text %r" % c.get('text'))
check([c for c in ch if c.get('field') != 'mss'] == [], "hop 3: other changes than the MSS: %r" % ch)
s = [r for r in recs if r.get('type') == 'summary']
check(s and [c.get('field') for c in s[0].get('changes', [])] == ['mss'], "summary changes %r" % (s[0].get('changes') if s else None))
done("MSS clamping named at hop 3 (changed between hop 2 and hop 3)")
EOF
it_synack clamp_text 60 trace "$NETNS_IP_S" -p 8080 -q 1 -w 2
[ "$IT_RC" = 0 ] || fail "MSS clamping, text mode: expected exit 0, got $IT_RC"
grep -Eq "^ 3  ${NETNS_RTR_IP[3]//./\\.}  .*\[MSS 1460->1200\]" "$IT_OUT" || fail "hop 3's line does not say [MSS 1460->1200]"
grep -q "MSS 1460->1200: changed between hop 2 and hop 3" "$IT_OUT" || fail "no 'changed between hop 2 and hop 3' line"
ok "text mode: [MSS 1460->1200] on hop 3"
it_fw r2 -t mangle -F FORWARD
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "more middleboxes: r1 strips sackOK and timestamps, rewrites DSCP; r2 clears ECN flags"
# netns_fw, not it_fw: a missing target is a skip here, not a failure.
if ! { netns_fw r1 -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
          -j TCPOPTSTRIP --strip-options sack-permitted,timestamp &&
        netns_fw r1 -t mangle -A FORWARD -p tcp -j DSCP --set-dscp 0x0a &&
        netns_fw r2 -t mangle -A FORWARD -p tcp -j ECN --ecn-tcp-remove; }; then
  echo "skip: this kernel lacks the TCPOPTSTRIP, DSCP or ECN target (xt_TCPOPTSTRIP, xt_DSCP, xt_ECN)"
else
it_synack boxes 60 trace "$NETNS_IP_S" -p 8080 -q 2 -w 2 --ecn --tos 0xb8 --json
[ "$IT_RC" = 0 ] || fail "middleboxes: expected exit 0, got $IT_RC"
it_py "$IT_OUT" <<'EOF' || fail "middlebox checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
hops = {r['ttl']: r for r in recs if r.get('type') == 'hop'}
check(sorted(hops) == [1, 2, 3, 4], "hops %r, expected 1-4" % sorted(hops))
def changes(t):
    return sorted((c.get('field'), c.get('text'), c.get('since_hop')) for c in hops.get(t, {}).get('changes', []))
check(changes(1) == [], "hop 1: %r" % changes(1))
check(changes(2) == [('sack_permitted', 'sackOK stripped', 1), ('timestamps', 'TS stripped', 1), ('tos', 'TOS 0xb8->0x28', 1)],
      "hop 2 (after r1): %r" % changes(2))
check(changes(3) == [('tcp_flags', 'flags CWR|ECE|SYN->SYN', 2)], "hop 3 (after r2): %r" % changes(3))
check(changes(4) == [], "hop 4: %r" % changes(4))
done("options stripped and DSCP rewritten by r1 at hop 2, ECN flags cleared by r2 at hop 3")
EOF
fi
for r in 1 2; do it_fw "r$r" -t mangle -F FORWARD; done
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "r2 rejects the port (icmp-host-prohibited): !X at hop 3, unreachable"
it_fw r2 -A FORWARD -p tcp --dport 8081 -j REJECT --reject-with icmp-host-prohibited
it_synack reject 60 trace "$NETNS_IP_S" -p 8081 -q 1 -w 2 --json
[ "$IT_RC" = 1 ] || fail "an unreachable: expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/reject.out" "${NETNS_RTR_IP[2]}" <<'EOF' || fail "unreachable checks failed (see above)"
import sys
from it import *
out, r2 = sys.argv[1:3]
recs = ndjson(out)
hops = [r for r in recs if r.get('type') == 'hop']
check([h.get('ttl') for h in hops] == [1, 2, 3], "hops %r, expected 1-3" % [h.get('ttl') for h in hops])
if len(hops) == 3:
    p = hops[2]['probes'][0]
    check(p.get('from') == r2 and p.get('reply') == 'unreachable', "hop 3: from %r reply %r" % (p.get('from'), p.get('reply')))
    check((p.get('icmp') or {}).get('code') == 10 and (p.get('icmp') or {}).get('annotation') == '!X', "hop 3: icmp %r" % p.get('icmp'))
s = [r for r in recs if r.get('type') == 'summary']
s = s[0] if s else {}
check(s.get('state') == 'unreachable' and s.get('reached') is False and s.get('from') == r2,
      "summary state/reached/from = %r/%r/%r" % (s.get('state'), s.get('reached'), s.get('from')))
done("host prohibited: !X from r2 at hop 3, unreachable")
EOF
it_synack reject_text 60 trace "$NETNS_IP_S" -p 8081 -q 1 -w 2
[ "$IT_RC" = 1 ] || fail "an unreachable, text mode: expected exit 1, got $IT_RC"
grep -Eq "^ 3  ${NETNS_RTR_IP[2]//./\\.}  [0-9.]+ ms !X" "$IT_OUT" || fail "hop 3's line does not end in !X"
ok "text mode: !X"
it_fw r2 -F FORWARD
no_rules_left

# ------------------------------------------------------------------------------------------------
it_section "silent destination: stars, SIGINT ends the trace and removes the rule"
it_fw s -A INPUT -p tcp --dport 8082 -j DROP
it_synack_bg sigint trace "$NETNS_IP_S" -p 8082 -q 1 -w 1
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
it_section "errors: usage (exit 2) and a next hop that never answers ARP (exit 1)"
it_synack badport 30 trace "$NETNS_IP_S:70000"
[ "$IT_RC" = 2 ] || fail "a bad port: expected exit 2, got $IT_RC"
grep -q "bad port" "$IT_ERR" || fail "a bad port: no 'bad port' message on stderr"
it_synack badttl 30 trace "$NETNS_IP_S" -f 9 -m 3
[ "$IT_RC" = 2 ] || fail "-f above -m: expected exit 2, got $IT_RC"
[ "$(wc -l <"$IT_ERR")" = 1 ] || fail "-f above -m: expected a one-line message on stderr"
it_synack noarp 30 trace "$ONLINK_NOBODY" -q 1 --json
[ "$IT_RC" = 1 ] || fail "an on-link address nobody owns: expected exit 1, got $IT_RC"
it_py "$IT_OUT" <<'PY' || fail "no-ARP checks failed (see above)"
import sys
from it import *
recs = ndjson(sys.argv[1])
check([r.get('type') for r in recs] == ['summary'], "expected only a summary record, got %r" % recs)
if recs:
    check(recs[0].get('state') == 'unreachable' and recs[0].get('reached') is False and 'ARP' in recs[0].get('error', ''),
          "summary %r" % recs[0])
done("no ARP reply: unreachable, exit 1")
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
ok "no synack rule in the host's firewall"
echo "PASS $(basename "$0") ($(it_elapsed))"
