#!/usr/bin/env bash
# How synack's connections end, against the Linux kernel's TCP, seen on the wire (tcpdump on the
# peer's veth) and in synack's --trace output:
#   1. --close fin (we close first): the full four-way close (our FIN, the kernel ACKs it, the
#      kernel's FIN, our ACK of it; the kernel may fold its ACK into its FIN), no RST from either
#      side; --trace shows ESTABLISHED -> FIN_WAIT_1 -> ... -> TIME_WAIT -> CLOSED, TIME_WAIT lasting
#      about 2*MSL (--msl 0.3: at least 0.55 s); the trace's segment lines carry the same numbers
#      as the wire (SYN seq = ISN, SYN-ACK ack = ISN+1) and our state after each segment.
#   2. --close rst: the handshake completes (our ACK), then exactly one RST from us, with seq ISN+1,
#      no FIN; --trace ends in CLOSED without TIME_WAIT.
#   3. the peer closes first (a python3 server that accepts and closes at once; ping --hold 1 keeps
#      our side open): the kernel's FIN, our ACK, our FIN, the kernel's ACK; --trace shows
#      ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED; no RST, no TIME_WAIT on our side.
# Runs over IPv4 and, as integration.test_ping_close.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

netns_http_server 8080 || fail "python3 -m http.server did not start"
netns_close_server 8081 "$NETNS_S" "$IT_IP_S" || fail "the close-at-once server did not start"

# ------------------------------------------------------------------------------------------------
it_section "--close fin: four-way close, TIME_WAIT then CLOSED"
it_capture_start fin "tcp port 8080"
it_synack fin 60 ping "$IT_IP_S" -p 8080 -c 3 -i 0.1 --close fin --trace --msl 0.3
it_capture_stop fin
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/fin.out" "$NETNS_TMP/fin.pcap" "$IT_IP_C" "$IT_IP_S" <<'EOF' \
  || fail "--close fin checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip = sys.argv[1:5]
M = 2**32
conns = by_client_port(segments(pcap), cip)
tr = trace(out, cip)
check(len(conns) == 3, "expected 3 connections on the wire, got %d (ports %s)" % (len(conns), sorted(conns)))
check(set(tr) == set(conns), "ports in --trace %s != ports on the wire %s" % (sorted(tr), sorted(conns)))
for port, segs in sorted(conns.items()):
    tag = "port %d" % port
    cs = [x for x in segs if x['src'] == cip]
    ss = [x for x in segs if x['src'] == sip]
    check(not any(x['rst'] for x in segs), "%s: a RST crossed the wire: %s" % (tag, [x['line'] for x in segs if x['rst']]))
    syn = [x for x in cs if x['syn']]
    sa = [x for x in ss if x['syn']]
    if not check(syn and sa, "%s: no handshake on the wire" % tag):
        continue
    isn, peer_isn = syn[0]['seq'], sa[0]['seq']
    ours = [x for x in cs if x['fin']]
    theirs = [x for x in ss if x['fin']]
    if not check(len(ours) == 1, "%s: expected one FIN from us, got %d" % (tag, len(ours))):
        continue
    if not check(len(theirs) == 1, "%s: expected one FIN from the kernel, got %d" % (tag, len(theirs))):
        continue
    f, g = ours[0], theirs[0]
    check(f['seq'] == (isn + 1) % M, "%s: our FIN has seq %r, expected ISN+1 = %d" % (tag, f['seq'], (isn + 1) % M))
    check(f['t'] <= g['t'], "%s: the kernel's FIN came before ours (we were to close first)" % tag)
    acked = [x for x in ss if x['ackf'] and x['ack'] == (f['seq'] + 1) % M and x['t'] >= f['t']]
    check(acked, "%s: the kernel never acked our FIN (ack %d)" % (tag, (f['seq'] + 1) % M))
    check(g['seq'] == (peer_isn + 1) % M, "%s: the kernel's FIN has seq %r, expected %d" % (tag, g['seq'], (peer_isn + 1) % M))
    last = [x for x in cs if x['t'] >= g['t'] and x['ackf'] and x['ack'] == (g['seq'] + 1) % M and not x['fin']]
    check(last, "%s: we never acked the kernel's FIN (ack %d)" % (tag, (g['seq'] + 1) % M))
    # --trace for this connection.
    ev = tr.get(port, [])
    path = state_path(ev)
    print("%s: states %s" % (tag, ' -> '.join(path)))
    check('ESTABLISHED' in path and 'FIN_WAIT_1' in path, "%s: trace lacks ESTABLISHED/FIN_WAIT_1: %s" % (tag, path))
    check(path[-2:] == ['TIME_WAIT', 'CLOSED'], "%s: trace does not end TIME_WAIT -> CLOSED: %s" % (tag, path))
    check('CLOSE_WAIT' not in path and 'LAST_ACK' not in path, "%s: passive-close states in an active close: %s" % (tag, path))
    if 'ESTABLISHED' in path and 'FIN_WAIT_1' in path:
        check(path.index('ESTABLISHED') < path.index('FIN_WAIT_1'), "%s: FIN_WAIT_1 before ESTABLISHED: %s" % (tag, path))
    st = state_times(ev)
    tw = [t for t, s in st if s == 'TIME_WAIT']
    cl = [t for t, s in st if s == 'CLOSED']
    if tw and cl:
        d = dt(tw[-1], cl[-1])
        print("%s: TIME_WAIT lasted %.3f s (2*MSL = 0.6 s)" % (tag, d))
        check(0.55 <= d <= 10, "%s: TIME_WAIT lasted %.3f s, expected about 2*MSL = 0.6 s" % (tag, d))
    # Segment lines of the trace agree with the wire.
    segl = [e for e in ev if e[0] == 'seg']
    tsyn = [e for e in segl if e[2] == 'out' and e[3]['flags'] == 'S']
    if check(tsyn, "%s: no outgoing 'Flags [S]' line in --trace" % tag):
        check(tsyn[0][3]['seq'] == isn, "%s: trace SYN seq %r != wire %d" % (tag, tsyn[0][3]['seq'], isn))
        check(tsyn[0][4] == 'SYN_SENT', "%s: trace SYN line ends with state %r, expected SYN_SENT" % (tag, tsyn[0][4]))
    tsa = [e for e in segl if e[2] == 'in' and e[3]['flags'] == 'S.']
    if check(tsa, "%s: no incoming 'Flags [S.]' line in --trace" % tag):
        check(tsa[0][3]['seq'] == peer_isn and tsa[0][3]['ack'] == (isn + 1) % M,
              "%s: trace SYN-ACK seq/ack %r/%r != wire %d/%d" % (tag, tsa[0][3]['seq'], tsa[0][3]['ack'], peer_isn, (isn + 1) % M))
        check(tsa[0][4] == 'ESTABLISHED', "%s: trace SYN-ACK line ends with state %r" % (tag, tsa[0][4]))
    tfin = [e for e in segl if e[2] == 'out' and 'F' in e[3]['flags']]
    if check(tfin, "%s: no outgoing FIN line in --trace" % tag):
        check(tfin[0][4] == 'FIN_WAIT_1', "%s: trace FIN line ends with state %r, expected FIN_WAIT_1" % (tag, tfin[0][4]))
done("--close fin: four-way close on the wire, TIME_WAIT -> CLOSED in the trace")
EOF

# ------------------------------------------------------------------------------------------------
it_section "--close rst: exactly one RST after the handshake"
it_capture_start rst "tcp port 8080"
it_synack rst 60 ping "$IT_IP_S" -p 8080 -c 3 -i 0.1 --close rst --trace
it_capture_stop rst
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/rst.out" "$NETNS_TMP/rst.pcap" "$IT_IP_C" "$IT_IP_S" <<'EOF' \
  || fail "--close rst checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip = sys.argv[1:5]
M = 2**32
conns = by_client_port(segments(pcap), cip)
tr = trace(out, cip)
check(len(conns) == 3, "expected 3 connections on the wire, got %d" % len(conns))
total = 0
for port, segs in sorted(conns.items()):
    tag = "port %d" % port
    cs = [x for x in segs if x['src'] == cip]
    ss = [x for x in segs if x['src'] == sip]
    rsts = [x for x in cs if x['rst']]
    total += len(rsts)
    check(len(rsts) == 1, "%s: expected exactly one RST from us, got %d" % (tag, len(rsts)))
    check(not any(x['fin'] for x in cs), "%s: we sent a FIN with --close rst" % tag)
    check(not any(x['rst'] for x in ss), "%s: the kernel sent a RST" % tag)
    syn = [x for x in cs if x['syn']]
    sa = [x for x in ss if x['syn']]
    if not (check(syn and sa, "%s: no handshake on the wire" % tag) and rsts):
        continue
    isn, peer_isn = syn[0]['seq'], sa[0]['seq']
    r = rsts[0]
    hs_ack = [x for x in cs if not x['syn'] and not x['rst'] and x['ackf'] and x['ack'] == (peer_isn + 1) % M]
    check(hs_ack and hs_ack[0]['t'] <= r['t'], "%s: the RST was not preceded by our handshake ACK" % tag)
    check(r['t'] >= sa[0]['t'], "%s: RST before the SYN-ACK" % tag)
    check(r['seq'] == (isn + 1) % M, "%s: RST seq %r, expected ISN+1 = %d (else the peer ignores it)" % (tag, r['seq'], (isn + 1) % M))
    path = state_path(tr.get(port, []))
    print("%s: states %s" % (tag, ' -> '.join(path)))
    check('ESTABLISHED' in path, "%s: trace lacks ESTABLISHED: %s" % (tag, path))
    check(path and path[-1] == 'CLOSED', "%s: trace does not end in CLOSED: %s" % (tag, path))
    check('TIME_WAIT' not in path and 'FIN_WAIT_1' not in path, "%s: graceful-close states with --close rst: %s" % (tag, path))
check(total == 3, "expected 3 RSTs from us in all, got %d" % total)
done("--close rst: one RST per connection after the handshake")
EOF

# ------------------------------------------------------------------------------------------------
it_section "the peer closes first: CLOSE_WAIT -> LAST_ACK -> CLOSED"
it_capture_start peer "tcp port 8081"
it_synack peer 60 ping "$IT_IP_S" -p 8081 -c 2 -i 0.1 --hold 1 --trace
it_capture_stop peer
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/peer.out" "$NETNS_TMP/peer.pcap" "$IT_IP_C" "$IT_IP_S" <<'EOF' \
  || fail "peer-closes-first checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip = sys.argv[1:5]
M = 2**32
conns = by_client_port(segments(pcap), cip)
tr = trace(out, cip)
check(len(conns) == 2, "expected 2 connections on the wire, got %d" % len(conns))
for port, segs in sorted(conns.items()):
    tag = "port %d" % port
    cs = [x for x in segs if x['src'] == cip]
    ss = [x for x in segs if x['src'] == sip]
    check(not any(x['rst'] for x in segs), "%s: a RST crossed the wire" % tag)
    ours = [x for x in cs if x['fin']]
    theirs = [x for x in ss if x['fin']]
    if not check(len(ours) == 1 and len(theirs) == 1,
                 "%s: expected one FIN each way, got %d from us, %d from the kernel" % (tag, len(ours), len(theirs))):
        continue
    f, g = ours[0], theirs[0]
    check(g['t'] <= f['t'], "%s: our FIN came before the kernel's (the peer was to close first)" % tag)
    check(f['ackf'] and f['ack'] == (g['seq'] + 1) % M, "%s: our FIN does not ack the kernel's FIN: %s" % (tag, f['line']))
    check(any(x['ackf'] and x['ack'] == (f['seq'] + 1) % M for x in ss if x['t'] >= f['t']),
          "%s: the kernel never acked our FIN" % tag)
    path = state_path(tr.get(port, []))
    print("%s: states %s" % (tag, ' -> '.join(path)))
    check(path[-3:] == ['CLOSE_WAIT', 'LAST_ACK', 'CLOSED'], "%s: trace does not end CLOSE_WAIT -> LAST_ACK -> CLOSED: %s" % (tag, path))
    check('ESTABLISHED' in path, "%s: trace lacks ESTABLISHED: %s" % (tag, path))
    check('TIME_WAIT' not in path and 'FIN_WAIT_1' not in path, "%s: active-close states in a passive close: %s" % (tag, path))
done("the peer closed first: CLOSE_WAIT -> LAST_ACK -> CLOSED")
EOF

echo "PASS $(basename "$0") ($(it_elapsed))"
