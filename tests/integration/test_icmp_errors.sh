#!/usr/bin/env bash
# ICMP errors end a handshake as they end the kernel's connect() (issue 13, items 2, 3 and 7), in
# the routed lab (client -- r1 -- r2 -- r3 -- server, scripts/netns.sh up-routed):
#   1. every REJECT variant (port unreachable, admin/host/net prohibited, host/net unreachable,
#      tcp-reset) on the server (INPUT) and on r2 (FORWARD): `synack ping --kernel` runs synack's
#      probe and the kernel's connect() in the same run; both end with the same error, synack's in
#      under 1 s, its record naming what answered ({"icmp": {"from", "type", "code"}}, the reject
#      type's ICMP code, from the server or from r2) and the text saying so ("ICMP ... from A");
#   2. an unreachable from r1 (an address outside the lab: r1 has no route) -> network_unreachable;
#   3. forged ICMP (scapy on the server, RFC 5927): while synack's SYN goes unanswered, a port
#      unreachable quoting the right 4-tuple but a sequence number that is not the ISS changes
#      nothing (the probe times out); the same message quoting the ISS refuses it at once;
#   4. on an established connection (synack serve --echo, a kernel client), a port unreachable
#      quoting an out-of-window sequence number is ignored and counted (icmp_out_of_window in
#      serve's --stats), one quoting an in-window number aborts nothing (Linux tcp_v4_err without
#      IP_RECVERR: a soft error only), and the echo still works byte-exact.
# Runs over IPv4 and, as integration.test_icmp_errors.ipv6, over IPv6 (it_family in lib.sh): there
# the REJECT variants are ip6tables' (icmp6-no-route, -adm-prohibited, -addr-unreachable,
# -port-unreachable, tcp-reset), which Linux maps with icmpv6_err_convert (ENETUNREACH, EACCES,
# EHOSTUNREACH, ECONNREFUSED; tcp_v6_err ends a connect() in SYN_SENT on any of them), r1 answers
# an address outside the lab with "no route" (ICMPv6 type 1 code 0), and the forgeries are ICMPv6
# port unreachables (type 1 code 4) quoting an IPv6 header.
# Over IPv6 the kernel's connect() typically ends only on its retransmitted SYN (~1 s): the ICMPv6
# error for its first SYN comes back on the veth chain while connect() still owns the socket, and
# tcp_v6_err then only sets sk_err_soft (TcpExtLockDroppedIcmps); synack's probe ends in < 1 s.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
# shellcheck source=adversary_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/adversary_lib.sh"
adversary_require_scapy
it_init_routed "$1" --routers 3
TAG="synack-icmp-test-$NETNS_PREFIX"
SERVE_PORT=8080

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
# The ICMP type of a destination unreachable: 3 (ICMP), 1 (ICMPv6).
if [ "$IT_FAMILY" = 6 ]; then UNREACH_TYPE=1; else UNREACH_TYPE=3; fi

# probe_check NAME WANT_ERROR WANT_FROM WANT_CODE: the --kernel --json run NAME has one synack and
# one kernel probe, both failed with WANT_ERROR; synack's names the ICMP (WANT_CODE: "" for none,
# e.g. tcp-reset; type $UNREACH_TYPE) from WANT_FROM and ended within 1 s of its SYN.
probe_check() {
  it_py "$NETNS_TMP/$1.out" "$2" "$3" "$4" "$UNREACH_TYPE" <<'EOF' || fail "$1: checks failed"
import sys
from it import *
out, want, frm, code, utype = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
recs = ndjson(out)
P = [r for r in recs if r.get('type') == 'probe']
syn = [p for p in P if p.get('engine') == 'synack']
ker = [p for p in P if p.get('engine') == 'kernel']
check(len(syn) == 1 and len(ker) == 1, "expected one probe per engine, got %d synack / %d kernel" % (len(syn), len(ker)))
s, k = syn[0], ker[0]
check(not s['ok'] and s.get('error') == want, "synack: ok=%r error=%r, expected %r" % (s['ok'], s.get('error'), want))
check(not k['ok'] and k.get('error') == want, "kernel: ok=%r error=%r, expected %r" % (k['ok'], k.get('error'), want))
ic = s.get('icmp')
if code:
    check(isinstance(ic, dict), "synack's record has no icmp object: %r" % s)
    if isinstance(ic, dict):
        check(ic.get('from') == frm and ic.get('type') == utype and ic.get('code') == int(code),
              "icmp %r, expected from %s type %d code %s" % (ic, frm, utype, code))
else:
    check(ic is None, "icmp %r for an error without ICMP" % (ic,))
el = s.get("elapsed_us")
check(isinstance(el, (int, float)) and el < 1e6, "synack's probe took %r us (bound 1 s)" % (el,))
done("synack %s%s; kernel %s" % (s.get('error'), (" (ICMP code %s from %s)" % (code, frm)) if code else "", k.get('error')))
EOF
}

# ------------------------------------------------------------------------------------------------
# type:code:error (code "" = no ICMP: tcp-reset answers with a RST).
if [ "$IT_FAMILY" = 6 ]; then
  # ip6tables' REJECT types, icmpv6_err_convert: EACCES is "permission_denied".
  REJECTS=(icmp6-port-unreachable:4:connection_refused icmp6-adm-prohibited:1:permission_denied
           icmp6-addr-unreachable:3:host_unreachable icmp6-no-route:0:network_unreachable
           tcp-reset::connection_refused)
  PORT_UNREACH=icmp6-port-unreachable PORT_UNREACH_CODE=4
else
  REJECTS=(icmp-port-unreachable:3:connection_refused icmp-admin-prohibited:13:host_unreachable
           icmp-host-prohibited:10:host_unreachable icmp-net-prohibited:9:network_unreachable
           icmp-host-unreachable:1:host_unreachable icmp-net-unreachable:0:network_unreachable
           tcp-reset::connection_refused)
  PORT_UNREACH=icmp-port-unreachable PORT_UNREACH_CODE=3
fi
for where in s r2; do
  if [ "$where" = s ]; then chain=INPUT; from=$IT_IP_S; else chain=FORWARD; from=${IT_RTR_IP[2]}; fi
  for spec in "${REJECTS[@]}"; do
    IFS=: read -r type code err <<<"$spec"
    it_section "REJECT --reject-with $type on $where"
    rule=(-p tcp --dport 8080 -m comment --comment "$TAG" -j REJECT --reject-with "$type")
    it_fw "$where" -A "$chain" "${rule[@]}"
    it_synack "rej-$where-$type" 30 ping "$IT_IP_S" -p 8080 -c 1 -W 5 --kernel --json
    it_fw "$where" -D "$chain" "${rule[@]}"
    [ "$IT_RC" = 1 ] || fail "expected exit 1 (a probe failed), got $IT_RC"
    probe_check "rej-$where-$type" "$err" "$from" "$code"
  done
done

it_section "text output names the ICMP"
# Over IPv6 the text names the error from the ICMPv6 table (type 1 code 4: port unreachable).
it_fw s -A INPUT -p tcp --dport 8080 -m comment --comment "$TAG" -j REJECT --reject-with "$PORT_UNREACH"
it_synack rej-text 30 ping "$IT_IP_S" -p 8080 -c 1 -W 5
it_fw s -D INPUT -p tcp --dport 8080 -m comment --comment "$TAG" -j REJECT --reject-with "$PORT_UNREACH"
[ "$IT_RC" = 1 ] || fail "expected exit 1, got $IT_RC"
grep -qF "refused: ICMP port unreachable from $IT_IP_S" "$IT_OUT" \
  || fail "the text does not say 'refused: ICMP port unreachable from $IT_IP_S'"
ok "$(grep -m1 'ICMP port unreachable' "$IT_OUT")"

it_section "network unreachable from r1"
# An address outside the lab: r1 has no route (ICMP net unreachable / ICMPv6 no route, code 0).
if [ "$IT_FAMILY" = 6 ]; then OUTSIDE=fd00:99::1; else OUTSIDE=10.99.0.1; fi
it_synack unreach-r1 30 ping "$OUTSIDE" -p 80 -c 1 -W 5 --kernel --json
[ "$IT_RC" = 1 ] || fail "expected exit 1, got $IT_RC"
probe_check unreach-r1 network_unreachable "${IT_RTR_IP[1]}" 0

# ------------------------------------------------------------------------------------------------
# forge.py MODE ...: scapy in the server's namespace; the port unreachable is ICMP type 3 code 3
# quoting an IPv4 header, or over IPv6 ICMPv6 type 1 code 4 quoting an IPv6 header.
#   syn DELTA: wait for a SYN to :8080, answer with a port unreachable quoting its header with
#              seq + DELTA.
#   est PORT FILE DELTA...: sniff synack's SYN-ACK from PORT (its ISS), wait until FILE says the
#              client's first echo is done, then one port unreachable per DELTA quoting
#              seq = SND.NXT + DELTA.
cat >"$NETNS_TMP/forge.py" <<'EOF'
import sys
from scapy.all import IP, ICMP, TCP, sniff, send, raw, conf
from scapy.layers.inet6 import IPv6, ICMPv6DestUnreach
conf.verb = 0
mode, iface, me, peer = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
V6 = ':' in peer
# libpcap's tcp[] works on IPv4 only: over IPv6 the TCP flags byte is ip6[53] (no extension header).
L3, NET, FLAGS = (IPv6, "ip6", "ip6[53]") if V6 else (IP, "ip", "tcp[13]")
ready = lambda: print("sniffing", flush=True)
def port_unreachable(quoted):
    """The port unreachable from me to peer quoting QUOTED (the offending packet's first bytes)."""
    if V6:
        return IPv6(src=me, dst=peer) / ICMPv6DestUnreach(code=4) / quoted
    return IP(src=me, dst=peer) / ICMP(type=3, code=3) / quoted
if mode == 'syn':
    delta = int(sys.argv[5])
    p = sniff(iface=iface, count=1, timeout=20, started_callback=ready,
              filter="%s and tcp dst port 8080 and %s == 2 and src host %s" % (NET, FLAGS, peer))
    if not p:
        sys.exit("no SYN seen")
    ip = p[0][L3]
    q = ip.copy()
    q[TCP].seq = (q[TCP].seq + delta) & 0xffffffff
    # IPv4: the header and 8 bytes (RFC 792); IPv6: as much as fits (RFC 4443), here all of it.
    quoted = raw(q) if V6 else raw(q)[:ip.ihl * 4 + 8]
    send(port_unreachable(quoted))
    print("forged port unreachable for %s sport %d seq %d (ISS %+d)" % (peer, ip[TCP].sport, q[TCP].seq, delta))
else:
    import os, time
    port, ready_file, deltas = int(sys.argv[5]), sys.argv[6], [int(d) for d in sys.argv[7:]]
    p = sniff(iface=iface, count=1, timeout=20, started_callback=ready,
              filter="%s and tcp src port %d and src host %s and %s & 18 == 18" % (NET, port, peer, FLAGS))
    if not p:
        sys.exit("no SYN-ACK of the connection seen")
    ip = p[0][L3]
    sa = ip[TCP]
    # Once the client has its first 64 KiB echoed back and waits, synack's SND.UNA = SND.NXT =
    # ISS + 1 + 65536: the only sequence number an ICMP quote may carry to count (Linux between(),
    # inclusive, RFC 5927).
    deadline = time.monotonic() + 30
    while "first echo ok" not in (open(ready_file).read() if os.path.exists(ready_file) else ""):
        if time.monotonic() > deadline:
            sys.exit("the client never finished its first echo")
        time.sleep(0.02)
    nxt = sa.seq + 1 + 65536
    for delta in deltas:
        t = TCP(sport=sa.sport, dport=sa.dport, seq=(nxt + delta) & 0xffffffff, ack=sa.ack, flags='A')
        if V6:  # the IPv6 header and 8 bytes of TCP: the least Linux's icmpv6_notify takes
            q = raw(IPv6(src=ip.src, dst=ip.dst, hlim=64) / t)[:48]
        else:
            q = raw(IP(src=ip.src, dst=ip.dst, ttl=64, id=ip.id + 1, flags='DF') / t)[:28]
        send(port_unreachable(q))
        print("forged port unreachable for %s sport %d -> :%d seq SND.NXT%+d" % (peer, sa.sport, sa.dport, delta))
EOF
# forge MODE ARGS...: forge.py in the background; returns once its sniffer is capturing.
forge() {
  timeout -k 5 60 ip netns exec "$NETNS_S" "$SCAPY_PY" -u "$NETNS_TMP/forge.py" "$1" "$NETNS_IF_S" \
    "$IT_IP_S" "$IT_IP_C" "${@:2}" >"$NETNS_TMP/forge.log" 2>&1 &
  FORGE_PID=$!
  NETNS_PIDS+=("$FORGE_PID")
  netns_wait_until 30 "the scapy sniffer" grep -q '^sniffing' "$NETNS_TMP/forge.log" \
    || { cat "$NETNS_TMP/forge.log"; fail "scapy did not start"; }
}
forge_wait() {
  netns_wait_exit "$FORGE_PID" 40 || fail "scapy did not finish"
  wait "$FORGE_PID" || { cat "$NETNS_TMP/forge.log"; fail "scapy failed"; }
  sed 's/^/   scapy: /' "$NETNS_TMP/forge.log"
}

it_section "forged ICMP in SYN_SENT (RFC 5927)"
it_fw s -A INPUT -p tcp --dport 8080 --syn -m comment --comment "$TAG" -j DROP
forge syn 1000
it_synack forged-bad 30 ping "$IT_IP_S" -p 8080 -c 1 -W 3 --json
forge_wait
[ "$IT_RC" = 1 ] || fail "expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/forged-bad.out" <<'EOF' || fail "an out-of-window ICMP ended the handshake"
import sys
from it import *
P = [r for r in ndjson(sys.argv[1]) if r.get('type') == 'probe']
check(len(P) == 1 and P[0].get('error') == 'timed_out' and P[0].get('icmp') is None,
      "expected a timed_out probe without icmp, got %r" % P)
done("quoted seq ISS+1000: ignored, the probe timed out")
EOF
forge syn 0
it_synack forged-good 30 ping "$IT_IP_S" -p 8080 -c 1 -W 10 --json
forge_wait
it_fw s -D INPUT -p tcp --dport 8080 --syn -m comment --comment "$TAG" -j DROP
[ "$IT_RC" = 1 ] || fail "expected exit 1, got $IT_RC"
it_py "$NETNS_TMP/forged-good.out" "$IT_IP_S" "$PORT_UNREACH_CODE" <<'EOF' || fail "an ICMP quoting the ISS did not end the handshake"
import sys
from it import *
P = [r for r in ndjson(sys.argv[1]) if r.get('type') == 'probe']
check(len(P) == 1 and P[0].get('error') == 'connection_refused', "expected connection_refused, got %r" % P)
ic = P[0].get('icmp') if P else None
check(isinstance(ic, dict) and ic.get('from') == sys.argv[2] and ic.get('code') == int(sys.argv[3]), "icmp %r" % (ic,))
done("quoted seq = ISS: refused at once (%s)" % ic)
EOF

# ------------------------------------------------------------------------------------------------
it_section "forged ICMP on an established connection"
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
serve_start est --echo --stats "$NETNS_TMP/est.stats.json"
# A kernel client in the server's namespace: echo 64 KiB, wait for the go file (the forgeries were
# sent), echo 64 KiB more; every byte checked.
cat >"$NETNS_TMP/est_client.py" <<'EOF'
import os, socket, sys, time
host, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((host, port), timeout=20)
def echo(n):
    data = os.urandom(n)
    s.sendall(data)
    got = b''
    while len(got) < n:
        b = s.recv(65536)
        if not b:
            sys.exit("connection closed after %d of %d echoed bytes" % (len(got), n))
        got += b
    if got != data:
        sys.exit("echo differs")
echo(65536)
print("first echo ok", flush=True)
deadline = time.monotonic() + 30
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go file")
    time.sleep(0.05)
echo(65536)
s.close()
print("second echo ok")
EOF
forge est "$SERVE_PORT" "$NETNS_TMP/est_client.log" 1000000 0
ip netns exec "$NETNS_S" "$(netns_python)" "$NETNS_TMP/est_client.py" "$IT_IP_C" "$SERVE_PORT" \
  "$NETNS_TMP/go" >"$NETNS_TMP/est_client.log" 2>&1 &
CLIENT_PID=$!
NETNS_PIDS+=("$CLIENT_PID")
forge_wait
touch "$NETNS_TMP/go"
netns_wait_exit "$CLIENT_PID" 40 || fail "the kernel client did not finish"
wait "$CLIENT_PID" || { cat "$NETNS_TMP/est_client.log"; fail "the echo failed after the forged ICMP"; }
sed 's/^/   client: /' "$NETNS_TMP/est_client.log"
serve_stop
it_py "$NETNS_TMP/est.stats.json" <<'EOF' || fail "ICMP counters"
import sys, json
from it import *
j = json.load(open(sys.argv[1]))
e = {**j.get('engine', {}), **j.get('tcp', {})}
check(e.get('icmp_out_of_window', 0) >= 1, "icmp_out_of_window = %r" % e.get('icmp_out_of_window'))
check(e.get('icmp_received', 0) >= 2, "icmp_received = %r" % e.get('icmp_received'))
check(e.get('icmp_matched', 0) >= 1, "icmp_matched = %r (the in-window quote)" % e.get('icmp_matched'))
check(e.get('connections_refused', 0) == 0 and e.get('connections_reset', 0) == 0, "a connection ended in an error: %r" % e)
done("out-of-window quote counted (%r); the in-window port unreachable was taken (%r) and aborted nothing" % (
    e.get('icmp_out_of_window'), e.get('icmp_matched')))
EOF

it_section "nothing left behind"
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
ok "no synack rule in the client's namespace"
