#!/usr/bin/env bash
# synack ping's measurements against a capture, --kernel, hostnames and -c 0:
#   1. --json, 20 probes, tcpdump on synack's own veth (nanosecond timestamps): one probe record per
#      connection on the wire, ok/failed as on the wire (every SYN answered by a SYN-ACK), each
#      record's wire_us (SYN transmit timestamp -> SYN-ACK ring timestamp) within 25 us of the
#      capture's SYN -> SYN-ACK in median and closer to it than handshake_us is, wire_us <=
#      handshake_us, summary with a "wire" block. The two tap points differ: tcpdump stamps the
#      outgoing SYN in dev_queue_xmit_nit, before veth_xmit takes the SO_TIMESTAMPING stamp, and
#      the offset grows with the machine's load (-9.6 us median here, -10.3 us on a busy CI run,
#      which failed the old 10 us bound);
#   2. --kernel: probes and a summary for both engines, interleaved (synack, kernel, synack, ...),
#      the kernel's probes on the wire from kernel ephemeral ports, a ratio record; text mode prints
#      both summaries and the ratio line;
#   3. a hostname (resolved through /etc/hosts of the namespace) works;
#   4. -c 0 runs until SIGINT, then prints the summary and exits 0.
# Runs over IPv4 and, as integration.test_ping_wire.ipv6, over IPv6 (it_family in lib.sh; the
# hostname then resolves to the peer's IPv6 address).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"

# ------------------------------------------------------------------------------------------------
it_section "--json wire timing against tcpdump on synack's veth"
N=20
# tcpdump without --immediate-mode (unlike it_capture_start): a capture that wakes up for every
# frame competes for the two cores and moves the timings it is meant to check.
IT_CTX_PCAPS+=(wire)
netns_spawn "$NETNS_C" "$NETNS_TMP/wire.tcpdump.log" tcpdump -Z root -i "$NETNS_IF_C" -nn -U \
  --time-stamp-precision=nano -w "$NETNS_TMP/wire.pcap" "tcp port 8080"
NETNS_CAP_PID[wire]=$NETNS_LAST_PID
netns_wait_until 15 "tcpdump on $NETNS_IF_C" grep -q "listening on" "$NETNS_TMP/wire.tcpdump.log" \
  || fail "tcpdump did not start"
it_synack wire 60 ping "$IT_IP_S" -p 8080 -c "$N" -i 0.03 --json
it_capture_stop wire
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/wire.out" "$NETNS_TMP/wire.pcap" "$IT_IP_C" "$N" <<'EOF2' || fail "wire timing checks failed"
import sys, statistics
from it import *
out, pcap, cip, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
recs = ndjson(out)
P = probes(recs)
check(len(P) == n, "expected %d probe records, got %d" % (n, len(P)))
conns = by_client_port(segments(pcap), cip)
check(len(conns) == n, "expected %d connections on the wire, got %d" % (n, len(conns)))
diffs = []
user = []
ok_wire = 0
for p in P:
    lp = int(p['local'].rsplit(':', 1)[1])
    segs = conns.get(lp, [])
    syn = [s for s in segs if s['syn'] and not s['ackf'] and s['src'] == cip]
    sa = [s for s in segs if s['syn'] and s['ackf'] and s['dst'] == cip]
    answered = bool(syn and sa)
    ok_wire += answered
    check(p['ok'] == answered, "probe %s: ok=%r but SYN-ACK on the wire: %r" % (p['seq'], p['ok'], answered))
    if not (p['ok'] and answered):
        continue
    w = p.get('wire_us')
    if not check(isinstance(w, (int, float)) and w > 0, "probe %s: wire_us is %r" % (p['seq'], w)):
        continue
    check(w <= p['handshake_us'] + 1, "probe %s: wire_us %.1f > handshake_us %.1f" % (p['seq'], w, p['handshake_us']))
    cap = (sa[0]['t'] - syn[-1]['t']) * 1e6
    diffs.append(w - cap)
    user.append(p['handshake_us'] - cap)
s = summary(recs)
check(s.get('sent') == n and s.get('ok') == ok_wire and s.get('failed') == n - ok_wire,
      "summary sent/ok/failed %r/%r/%r vs wire %d/%d" % (s.get('sent'), s.get('ok'), s.get('failed'), n, ok_wire))
check(isinstance(s.get('wire'), dict) and 'p50_us' in s['wire'], "summary has no wire block: %r" % s)
if check(len(diffs) >= n // 2, "only %d probes with wire timing" % len(diffs)):
    med = statistics.median(diffs)
    umed = statistics.median(user)
    print("wire_us - capture (us): median %.2f, min %.2f, max %.2f; handshake_us - capture: median %.2f; sources %s" % (
        med, min(diffs), max(diffs), umed, sorted({p.get('wire_tx') for p in P})))
    check(abs(med) <= 25.0, "median |wire_us - capture| = %.2f us > 25 us" % abs(med))
    check(abs(med) < umed, "wire_us is no closer to the capture (median %.2f us off) than handshake_us (%.2f us)" % (abs(med), umed))
done("%d probes match the capture; wire timing within 25 us in median, closer than handshake_us" % n)
EOF2

# ------------------------------------------------------------------------------------------------
it_section "--kernel: both engines, interleaved"
it_capture_start kern "tcp port 8080"
it_synack kern 60 ping "$IT_IP_S" -p 8080 -c 5 -i 0.05 --json --kernel --close rst
it_capture_stop kern
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/kern.out" "$NETNS_TMP/kern.pcap" "$IT_IP_C" <<'EOF2' || fail "--kernel checks failed"
import sys
from it import *
out, pcap, cip = sys.argv[1:4]
recs = ndjson(out)
order = [r.get('engine') for r in recs if r.get('type') == 'probe']
check(order == ['synack', 'kernel'] * 5, "probe order %r, expected synack/kernel interleaved" % order)
for e in ('synack', 'kernel'):
    P = probes(recs, e)
    check(len(P) == 5 and all(p['ok'] for p in P), "%s: %r" % (e, P))
    s = summary(recs, e)
    check(s.get('sent') == 5 and s.get('ok') == 5, "%s summary %r" % (e, s))
    check(isinstance(s.get('p50_us'), (int, float)) and s['p50_us'] > 0, "%s summary p50 %r" % (e, s.get('p50_us')))
K = probes(recs, 'kernel')
check(all(isinstance(p.get('handshake_us'), (int, float)) for p in K), "kernel probes without handshake_us")
ratio = [r for r in recs if r.get('type') == 'ratio']
check(len(ratio) == 1 and ratio[0].get('p50', 0) > 0, "ratio record %r" % ratio)
conns = by_client_port(segments(pcap), cip)
kports = {int(p['local'].rsplit(':', 1)[1]) for p in K}
check(kports <= set(conns), "kernel probe ports %s not all on the wire %s" % (sorted(kports), sorted(conns)))
for port in kports:
    check(any(s['rst'] for s in conns[port] if s['src'] == cip), "kernel probe %d: no RST with --close rst" % port)
print("synack p50 %.1f us, kernel p50 %.1f us, ratio %.2f" % (summary(recs)['p50_us'], summary(recs, 'kernel')['p50_us'], ratio[0]['p50']))
done("--kernel: both engines, interleaved, on the wire")
EOF2
it_synack kerntext 60 ping "$IT_IP_S" -p 8080 -c 3 -i 0.05 --kernel
[ "$IT_RC" = 0 ] || fail "text --kernel: expected exit 0, got $IT_RC"
grep -q 'synack ping statistics' "$IT_OUT" && grep -q 'kernel ping statistics' "$IT_OUT" \
  && grep -q '^synack/kernel handshake: p50' "$IT_OUT" || fail "text --kernel lacks a summary or the ratio line"
ok "text --kernel: both summaries and the ratio line"

# ------------------------------------------------------------------------------------------------
it_section "hostname"
mkdir -p "/etc/netns/$NETNS_C"
it_rm_hosts() { rm -rf "/etc/netns/$NETNS_C"; }
NETNS_CLEANUP_HOOKS+=(it_rm_hosts)
printf '%s peer.synack.test\n127.0.0.1 localhost\n' "$IT_IP_S" >"/etc/netns/$NETNS_C/hosts"
it_synack name 30 ping peer.synack.test:8080 -c 1
[ "$IT_RC" = 0 ] || fail "ping peer.synack.test:8080: expected exit 0, got $IT_RC"
grep -q "peer.synack.test:8080 ($IT_IP_S)" "$IT_OUT" || fail "the header does not show the name and its address"
it_rm_hosts
ok "hostname resolved by the system resolver"

# ------------------------------------------------------------------------------------------------
it_section "-c 0 until SIGINT"
it_synack_bg forever ping "$IT_IP_S" -p 8080 -c 0 -i 0.05 --close rst
pid=$IT_BG_PID
netns_wait_until 10 "5 probes" eval "[ \$(grep -c '^seq=' '$NETNS_TMP/forever.out') -ge 5 ]" || fail "no probes"
kill -INT "$pid"
it_wait_bg forever "$pid" 15
[ "$IT_RC" = 0 ] || fail "-c 0 after SIGINT: expected exit 0, got $IT_RC"
grep -q 'probes sent' "$NETNS_TMP/forever.out" && grep -q '^handshake min/avg/p50/p90/p99/max/mdev' "$NETNS_TMP/forever.out" \
  || fail "-c 0: no summary after SIGINT"
ok "-c 0: $(grep 'probes sent' "$NETNS_TMP/forever.out")"

echo "PASS $(basename "$0") ($(it_elapsed))"
