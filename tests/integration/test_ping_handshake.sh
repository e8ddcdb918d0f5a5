#!/usr/bin/env bash
# synack ping against the Linux kernel's TCP (python3 -m http.server in the peer namespace),
# checked on the wire with tcpdump on the peer's veth:
#   - exit 0, one NDJSON probe record per probe (ok, seq 1..N, local/remote, handshake_us > 0,
#     syn_retransmits 0, error null) and a summary with sent/ok/failed/loss_pct;
#   - handshake numbers: the kernel's SYN-ACK acks our ISN+1, our ACK has seq ISN+1 and acks the
#     kernel's ISN+1; the probe record's "isn" (when present) is the ISN on the wire;
#   - the SYN carries MSS, SACK-permitted, timestamp and window-scale options (field notes: SYN
#     shape; bare SYNs get dropped);
#   - every probe has its own local port, outside the namespace's ip_local_port_range;
#   - ISNs of successive probes are not predictable from one another: successive differences are
#     not constant and most are large (a uniform 32-bit ISN has |difference| < 2^20 with
#     probability 2^-11, so "at least half of 15 differences are >= 2^20" fails by chance with
#     probability < 1e-20; a clock-driven ISN with a fixed key/tuple steps by ~1e4 here and fails);
#   - HOST:PORT form and text output (exit 0);
#   - --source: the run's own address works (the probe's local address); one of the other family,
#     or not an address, is a usage error (exit 2) naming the problem.
# Runs over IPv4 and, as integration.test_ping_handshake.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
PORT_RANGE=$(ip netns exec "$NETNS_C" cat /proc/sys/net/ipv4/ip_local_port_range | tr -s ' \t' ' ')

it_section "handshake numbers (16 probes, --json)"
N=16
it_capture_start hs "tcp port 8080"
it_synack hs 90 ping "$IT_IP_S" -p 8080 -c "$N" -i 0.05 -W 5 --json
it_capture_stop hs
[ "$IT_RC" = 0 ] || fail "expected exit 0 (all probes ok), got $IT_RC"
it_py "$NETNS_TMP/hs.out" "$NETNS_TMP/hs.pcap" "$IT_IP_C" "$IT_IP_S" "$N" "$PORT_RANGE" <<'EOF' \
  || fail "handshake checks failed (see above)"
import sys
from it import *
out, pcap, cip, sip, n, prange = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
lo, hi = map(int, prange.split())
recs = ndjson(out)
P = probes(recs)
check(len(P) == n, "expected %d probe records, got %d" % (n, len(P)))
ports = {}
for i, p in enumerate(P, 1):
    tag = "probe %s" % p.get('seq')
    check(p.get('seq') == i, "probe records out of order: record %d has seq %r" % (i, p.get('seq')))
    check(p.get('ok') is True, "%s: ok is %r (error %r)" % (tag, p.get('ok'), p.get('error')))
    check(p.get('error') is None, "%s: error is %r, expected null" % (tag, p.get('error')))
    check(p.get('engine') == 'synack', "%s: engine is %r" % (tag, p.get('engine')))
    check(p.get('remote') == hp(sip, 8080), "%s: remote is %r" % (tag, p.get('remote')))
    hu = p.get('handshake_us')
    check(isinstance(hu, (int, float)) and 0 < hu < 5e6, "%s: handshake_us is %r" % (tag, hu))
    check(p.get('syn_retransmits') == 0, "%s: syn_retransmits is %r on a clean link" % (tag, p.get('syn_retransmits')))
    local = str(p.get('local', ''))
    check(local.startswith(hp(cip, '')), "%s: local is %r, expected %s" % (tag, local, hp(cip, 'PORT')))
    try:
        lp = int(local.rsplit(':', 1)[1])
    except (ValueError, IndexError):
        lp = None
    check(lp not in ports, "%s: local port %r already used by probe %r" % (tag, lp, ports.get(lp)))
    ports[lp] = p
    check(lp is not None and not (lo <= lp <= hi),
          "%s: local port %r is inside the kernel's ephemeral range %d-%d" % (tag, lp, lo, hi))
s = summary(recs)
check(s.get('sent') == n and s.get('ok') == n and s.get('failed') == 0,
      "summary sent/ok/failed = %r/%r/%r, expected %d/%d/0" % (s.get('sent'), s.get('ok'), s.get('failed'), n, n))
check(s.get('loss_pct') in (0, 0.0), "summary loss_pct is %r, expected 0" % s.get('loss_pct'))
for k in ('min_us', 'avg_us', 'p50_us', 'p90_us', 'p99_us', 'max_us', 'mdev_us'):
    check(isinstance(s.get(k), (int, float)), "summary %s is %r" % (k, s.get(k)))

conns = by_client_port(segments(pcap), cip)
check(set(conns) == set(ports), "client ports on the wire %s != ports in the probe records %s"
      % (sorted(conns), sorted(ports)))
isns = []
for p in P:
    lp = int(str(p.get('local')).rsplit(':', 1)[1]) if p.get('local') else None
    segs = conns.get(lp, [])
    tag = "probe %s (port %s)" % (p.get('seq'), lp)
    cs = [x for x in segs if x['src'] == cip]
    ss = [x for x in segs if x['src'] == sip]
    syns = [x for x in cs if x['syn']]
    if not check(len(syns) == 1 and not syns[0]['ackf'],
                 "%s: expected exactly one SYN (no ACK flag) from us, got %s" % (tag, [x['flags'] for x in syns])):
        continue
    isn = syns[0]['seq']
    isns.append(isn)
    for opt in ('mss', 'sackOK', 'TS val', 'wscale'):
        check(opt in syns[0]['options'], "%s: SYN without the %s option (a modern OS sends MSS, "
              "SACK-permitted, timestamps, window scale): %s" % (tag, opt, syns[0]['line']))
    if 'isn' in p:
        check(p['isn'] == isn, "%s: probe record isn %r != ISN on the wire %d" % (tag, p['isn'], isn))
    synacks = [x for x in ss if x['syn'] and x['ackf']]
    if not check(len(synacks) >= 1, "%s: no SYN-ACK from the kernel" % tag):
        continue
    sa = synacks[0]
    check(sa['ack'] == (isn + 1) % 2**32, "%s: SYN-ACK acks %r, expected our ISN+1 = %d" % (tag, sa['ack'], (isn + 1) % 2**32))
    peer_isn = sa['seq']
    after = [x for x in cs if x['t'] >= sa['t'] and not x['syn']]
    if not check(len(after) >= 1, "%s: nothing from us after the SYN-ACK (no handshake ACK)" % tag):
        continue
    a = after[0]
    check(a['ackf'] and a['ack'] == (peer_isn + 1) % 2**32,
          "%s: our ACK acks %r, expected the kernel's ISN+1 = %d: %s" % (tag, a['ack'], (peer_isn + 1) % 2**32, a['line']))
    check(a['seq'] == (isn + 1) % 2**32, "%s: our ACK has seq %r, expected ISN+1 = %d" % (tag, a['seq'], (isn + 1) % 2**32))
    check(not any(x['rst'] for x in cs), "%s: we sent a RST with --close fin" % tag)

# ISN predictability.
if check(len(isns) == n, "only %d ISNs collected" % len(isns)):
    diffs = [((b - a + 2**31) % 2**32) - 2**31 for a, b in zip(isns, isns[1:])]
    print("ISNs:", isns)
    print("successive differences:", diffs)
    check(len(set(isns)) == n, "ISNs repeat: %s" % isns)
    check(len(set(diffs)) > 1, "successive ISN differences are constant (%d): predictable" % diffs[0])
    big = sum(1 for d in diffs if abs(d) >= 2**20)
    check(big * 2 >= len(diffs), "only %d of %d successive ISN differences are >= 2^20: ISNs look like "
          "small increments of one another" % (big, len(diffs)))
done("%d probes: handshake numbers, ports and ISNs as expected" % n)
EOF

it_section "HOST:PORT form, text output"
it_synack text 30 ping "$(it_hp "$IT_IP_S" 8080)" -c 2 -i 0.05
[ "$IT_RC" = 0 ] || fail "synack ping $(it_hp "$IT_IP_S" 8080) -c 2: expected exit 0, got $IT_RC"
[ -s "$IT_OUT" ] || fail "text mode printed nothing on stdout"
grep -q "$IT_IP_S" "$IT_OUT" || fail "text output does not name the destination $IT_IP_S"
ok "HOST:PORT form works; text output present"

it_section "--source of the destination's family; the other family's is refused"
it_synack src_ok 30 ping "$IT_IP_S" -p 8080 -c 1 --source "$IT_IP_C" --json
[ "$IT_RC" = 0 ] || fail "--source $IT_IP_C: expected exit 0, got $IT_RC"
grep -qF "\"local\":\"$(it_hp "$IT_IP_C" "")" "$IT_OUT" || fail "--source $IT_IP_C: the probe's local address is not it"
if [ "$IT_FAMILY" = 6 ]; then OTHER=$NETNS_IP_C; else OTHER=$NETNS_IP6_C; fi
if [ -n "$OTHER" ]; then
  it_synack src_other 30 ping "$IT_IP_S" -p 8080 -c 1 --source "$OTHER"
  [ "$IT_RC" = 2 ] && grep -q "different families" "$IT_ERR" \
    || { cat "$IT_ERR"; fail "--source $OTHER towards $IT_IP_S: expected exit 2 naming the families, got $IT_RC"; }
fi
it_synack src_bad 30 ping "$IT_IP_S" -p 8080 -c 1 --source not-an-address
[ "$IT_RC" = 2 ] && grep -q "not an IPv4 or IPv6 address" "$IT_ERR" \
  || { cat "$IT_ERR"; fail "--source not-an-address: expected exit 2, got $IT_RC"; }
ok "--source $IT_IP_C used; the other family's address (${OTHER:-none here}) and a non-address refused (exit 2)"

echo "PASS $(basename "$0") ($(it_elapsed))"
