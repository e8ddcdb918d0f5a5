#!/usr/bin/env bash
# L3 interfaces (issue 15): synack on a VPN's tun device (ARPHRD_NONE: IP packets with no link-layer
# header, no ARP), as WireGuard, OpenVPN and Tailscale use. A VPN in miniature: the pair's two
# namespaces each run tests/integration/tun_forwarder.py, which makes a tun device (tunA in the
# client namespace A, 10.20.0.1/24 and fd00:20::1/64; tunB in the server namespace B, 10.20.0.2/24
# and fd00:20::2/64; MTU 1400) and carries its packets to the other end as UDP datagrams over the
# veth (10.111.0.1 <-> 10.111.0.2), with a seeded loss rate switched by SIGHUP. A's forwarder checks
# every packet read from tunA (what synack and A's kernel sent): an IP header at offset 0, IPv4
# header and TCP checksums right. Kernel servers in B: python3 -m http.server (20 MiB random file).
#   1. the tunnel carries the kernel's own TCP (curl A -> B over IPv4 and IPv6);
#   2. ping -I tunA 10.20.0.2:8080, --close fin and rst: every probe ok from 10.20.0.1; tcpdump on
#      tunA shows raw IP (no Ethernet header), synack's SYN with an MSS that fits the tun's MTU of
#      1400, valid TCP checksums; the forwarder saw no non-IP packet and no bad checksum;
#   3. get -I tunA 20 MiB byte-exact (sha256);
#   4. serve -I tunA --listen 10.20.0.1:7000 --echo with concurrent kernel clients in B (threads and
#      processes, random bytes per connection, every byte checked); while it runs the RST guard
#      (iptables, source 10.20.0.1, as on Ethernet: the kernel owns the tun's address) is present;
#      after SIGTERM it is gone;
#   5. IPv6 over the tun: ping -I tunA [fd00:20::2]:8080;
#   6. 5% loss in both forwarders: get -I tunA still byte-exact; the forwarders dropped packets.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
GET_SIZE_MB=20
it_init "$@"
it_require_ipv6
netns_require_tools sha256sum curl

A=$NETNS_C; B=$NETNS_S
TUN_A=tunA; TUN_B=tunB
VPN_A=10.20.0.1; VPN_B=10.20.0.2
VPN6_A=fd00:20::1; VPN6_B=fd00:20::2
VPN_MTU=1400
HTTP_PORT=8080
SERVE_PORT=7000
UDP_PORT=5555
LOSS_PCT=${TUN_VPN_LOSS:-5}
FWD_PID=(); FWD_LOG=()

# fwd_start I NS DEV LOCAL PEER ADDR ADDR6 SEED [ARGS...]: forwarder I in NS; waits for "ready".
fwd_start() {
  local i=$1 ns=$2 dev=$3 local=$4 peer=$5 addr=$6 addr6=$7 seed=$8; shift 8
  FWD_LOG[i]="$NETNS_TMP/fwd-$dev.log"
  echo 0 >"$NETNS_TMP/loss-$dev"
  netns_spawn "$ns" "${FWD_LOG[i]}" "$(netns_python)" -u "$NETNS_TMP/tun_forwarder.py" --dev "$dev" \
    --local "$local:$UDP_PORT" --peer "$peer:$UDP_PORT" --mtu "$VPN_MTU" --addr "$addr/24" --addr "$addr6/64" \
    --seed "$seed" --loss-file "$NETNS_TMP/loss-$dev" "$@"
  FWD_PID[i]=$NETNS_LAST_PID
  netns_wait_until 15 "the forwarder of $dev" grep -q "^ready $dev" "${FWD_LOG[i]}" \
    || { cat "${FWD_LOG[i]}"; fail "the forwarder of $dev did not start"; }
}
# fwd_counters I: the forwarder's counters (SIGUSR1: one JSON line), printed.
fwd_counters() {
  local i=$1 before
  before=$(grep -c '^{' "${FWD_LOG[i]}" || true)
  kill -USR1 "${FWD_PID[i]}"
  netns_wait_until 5 "the forwarder's counters" \
    bash -c "[ \$(grep -c '^{' '${FWD_LOG[i]}') -gt $before ]" || fail "no counters from forwarder $i"
  grep '^{' "${FWD_LOG[i]}" | tail -n 1
}
# fwd_loss PCT: both forwarders drop PCT% of what they read from their tun (SIGHUP re-reads).
fwd_loss() {
  local i dev
  for i in 0 1; do
    dev=$([ "$i" = 0 ] && echo "$TUN_A" || echo "$TUN_B")
    echo "$1" >"$NETNS_TMP/loss-$dev"
    local before
    before=$(grep -c '^loss ' "${FWD_LOG[i]}" || true)
    kill -HUP "${FWD_PID[i]}"
    netns_wait_until 5 "forwarder $dev to take loss $1" \
      bash -c "[ \$(grep -c '^loss ' '${FWD_LOG[i]}') -gt $before ]" || fail "forwarder $dev did not take the new loss"
  done
  echo "   forwarders: loss $1% each way"
}
# fwd_clean_check I LABEL: forwarder I saw only IP packets with good checksums (and some TCP).
fwd_clean_check() {
  local c
  c=$(fwd_counters "$1")
  echo "   forwarder $1: $c"
  it_py "$c" "$2" <<'PY' || fail "$2: the forwarder found bad packets on the tun"
import sys, json
from it import *
c = json.loads(sys.argv[1]); label = sys.argv[2]
check(c['non_ip'] == 0, "%s: %d packets read from %s did not start with an IP header: %r" % (label, c['non_ip'], c['dev'], c['samples']))
check(c['bad_ip_csum'] == 0, "%s: %d IPv4 headers with a bad checksum: %r" % (label, c['bad_ip_csum'], c['samples']))
check(c['bad_tcp_csum'] == 0, "%s: %d TCP segments with a bad checksum: %r" % (label, c['bad_tcp_csum'], c['samples']))
check(c['tcp_checked'] > 0, "%s: no TCP segment went through %s" % (label, c['dev']))
done("%s: %d TCP segments read from %s, all bare IP with good checksums" % (label, c['tcp_checked'], c['dev']))
PY
}

it_section "the tunnel (tun_forwarder.py in both namespaces, UDP over the veth)"
cp "$IT_DIR/tun_forwarder.py" "$NETNS_TMP/"
fwd_start 0 "$A" "$TUN_A" "$NETNS_IP_C" "$NETNS_IP_S" "$VPN_A" "$VPN6_A" 11 --check
fwd_start 1 "$B" "$TUN_B" "$NETNS_IP_S" "$NETNS_IP_C" "$VPN_B" "$VPN6_B" 12
echo "   $(ip -n "$A" -d link show "$TUN_A" | head -n 3 | tr -s ' ' | tr '\n' ' ')"
[ "$(ip netns exec "$A" cat "/sys/class/net/$TUN_A/type")" = 65534 ] || fail "$TUN_A is not ARPHRD_NONE"
get_make_blob
netns_http_server "$HTTP_PORT" "$B" :: || fail "python3 -m http.server did not start in $B"
ip netns exec "$A" curl -sf -o /dev/null --max-time 20 "http://$VPN_B:$HTTP_PORT/index.html" || fail "kernel curl A -> B over the tun failed"
ip netns exec "$A" curl -gsf -o /dev/null --max-time 20 "http://[$VPN6_B]:$HTTP_PORT/index.html" || fail "kernel curl A -> B over the tun (IPv6) failed"
ok "$TUN_A (ARPHRD_NONE, mtu $VPN_MTU) <-> $TUN_B carries the kernel's TCP (IPv4 and IPv6)"

it_section "ping -I $TUN_A $VPN_B:$HTTP_PORT (fin and rst), raw IP on the tun"
NETNS_CAP_NS=$A NETNS_CAP_IF=$TUN_A it_capture_start tunping "tcp port $HTTP_PORT"
for close in fin rst; do
  it_synack "ping-$close" 30 ping "$VPN_B:$HTTP_PORT" -I "$TUN_A" -c 5 -i 0.05 -W 3 --close "$close" --json
  [ "$IT_RC" = 0 ] || fail "ping -I $TUN_A --close $close: expected exit 0, got $IT_RC: $(head -c 400 "$IT_ERR")"
  it_py "$IT_OUT" "$VPN_A" "$VPN_B:$HTTP_PORT" <<'PY' || fail "ping -I tunA --close $close: JSON checks failed"
import sys
from it import *
recs = ndjson(sys.argv[1]); src, remote = sys.argv[2], sys.argv[3]
P = probes(recs)
check(len(P) == 5 and all(p.get('ok') is True for p in P), "probes ok: %r" % [(p.get('ok'), p.get('error')) for p in P])
check(all(str(p.get('local', '')).startswith(src + ':') for p in P), "locals %r (want %s:*)" % ([p.get('local') for p in P], src))
check(all(p.get('remote') == remote for p in P), "remotes %r" % [p.get('remote') for p in P])
s = summary(recs)
check(s.get('ok') == 5 and s.get('failed') == 0, "summary %r" % s)
done("5 of 5 probes ok over the tun, p50 %.1f us" % s.get('p50_us', 0))
PY
done
it_capture_stop tunping
it_py "$NETNS_TMP/tunping.pcap" "$VPN_A" "$VPN_MTU" <<'PY' || fail "the capture on tunA is not what an L3 device carries"
import sys, struct, array
from it import *
from it import _read_pcap
pcap, src, mtu = sys.argv[1], sys.argv[2], int(sys.argv[3])
frames = _read_pcap(pcap)
check(len(frames) > 0, "nothing captured on the tun")
lts = sorted({lt for _, lt, _ in frames})
check(lts == [101], "link types %r: want 101 (raw IP, no link-layer header)" % lts)
def csum_ok(b):
    if len(b) % 2: b += b'\0'
    s = sum(array.array('H', b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s == 0xffff
mine = bad = 0
for _, lt, fr in frames:
    check(fr[0] >> 4 == 4, "a captured packet does not start with an IPv4 header: %s" % fr[:20].hex())
    ihl = (fr[0] & 15) * 4
    total = struct.unpack('>H', fr[2:4])[0]
    check(total <= mtu, "a %d-byte packet on a tun with MTU %d" % (total, mtu))
    if fr[12:16] == bytes(map(int, src.split('.'))) and fr[9] == 6:
        mine += 1
        seg = fr[ihl:total]
        if not (csum_ok(fr[:ihl]) and csum_ok(fr[12:20] + struct.pack('>BBH', 0, 6, len(seg)) + seg)):
            bad += 1
check(mine >= 10 * 3, "only %d TCP packets from %s captured (10 handshakes)" % (mine, src))
check(bad == 0, "%d of synack's packets with a bad checksum" % bad)
segs = segments(pcap)
syns = [s for s in segs if s['syn'] and not s['ackf'] and s['src'] == src]
check(len(syns) == 10, "expected 10 SYNs from %s, got %d" % (src, len(syns)))
for s in syns:
    mss = [int(o.split()[1]) for o in s['options'].split(',') if o.startswith('mss ')]
    check(mss and mss[0] <= mtu - 40, "SYN MSS %r does not fit the tun's MTU %d: %s" % (mss, mtu, s['line']))
done("%d packets of raw IP (link type 101), %d of synack's with good checksums, SYN MSS %s" % (
    len(frames), mine, sorted({o for s in syns for o in s['options'].split(',') if o.startswith('mss')})))
PY
fwd_clean_check 0 "ping"

it_section "get -I $TUN_A: $GET_SIZE_MB MiB byte-exact"
get_fetch vpn-get "http://$VPN_B:$HTTP_PORT/blob.bin" 120 -I "$TUN_A"
fwd_clean_check 0 "get"
[ -z "$(it_rules "$A")" ] || fail "rules left after get: $(it_rules "$A")"

it_section "serve -I $TUN_A --listen $VPN_A:$SERVE_PORT --echo, concurrent kernel clients in B"
SERVE_LISTEN="$VPN_A:$SERVE_PORT" serve_start srv -I "$TUN_A" --echo
rules=$(it_rules "$A")
echo "   rules while serve runs: ${rules:-none}"
grep -q -- "-s $VPN_A/32" <<<"$rules" || fail "no RST guard for $VPN_A while serve -I $TUN_A runs: ${rules:-none}"
ok "RST guard present: $(grep -- "-s $VPN_A/32" <<<"$rules" | head -n 1)"
INTEGRITY_HOST=$VPN_A integrity_run "100 threads x 64 KiB over the tun" "$SERVE_PORT" 100 65536 1
INTEGRITY_HOST=$VPN_A integrity_run "300 clients x 16 KiB (3 processes) over the tun" "$SERVE_PORT" 300 16384 3
serve_stop
fwd_clean_check 0 "serve"

it_section "IPv6 over the tun: ping -I $TUN_A [$VPN6_B]:$HTTP_PORT"
it_synack ping6 30 ping "[$VPN6_B]:$HTTP_PORT" -I "$TUN_A" -c 3 -i 0.05 -W 3 --json
[ "$IT_RC" = 0 ] || fail "ping -I $TUN_A [$VPN6_B]: expected exit 0, got $IT_RC: $(head -c 400 "$IT_ERR")"
it_py "$IT_OUT" "$VPN6_A" <<'PY' || fail "IPv6 ping over the tun: JSON checks failed"
import sys
from it import *
recs = ndjson(sys.argv[1]); src = sys.argv[2]
P = probes(recs)
check(len(P) == 3 and all(p.get('ok') is True for p in P), "probes %r" % [(p.get('ok'), p.get('error')) for p in P])
check(all(str(p.get('local', '')).startswith('[%s]:' % src) for p in P), "locals %r" % [p.get('local') for p in P])
done("3 of 3 IPv6 probes ok over the tun")
PY
fwd_clean_check 0 "IPv6 ping"
[ -z "$(it_rules "$A")" ] || fail "rules left after the IPv6 ping: $(it_rules "$A")"

it_section "$LOSS_PCT% loss in both forwarders: get -I $TUN_A still byte-exact"
before0=$(fwd_counters 0); before1=$(fwd_counters 1)
fwd_loss "$LOSS_PCT"
get_fetch vpn-get-loss "http://$VPN_B:$HTTP_PORT/blob.bin" 180 -I "$TUN_A"
after0=$(fwd_counters 0); after1=$(fwd_counters 1)
fwd_loss 0
it_py "$before0" "$after0" "$before1" "$after1" <<'PY' || fail "the forwarders did not drop packets"
import sys, json
from it import *
b0, a0, b1, a1 = (json.loads(x) for x in sys.argv[1:5])
d0, d1 = a0['dropped'] - b0['dropped'], a1['dropped'] - b1['dropped']
check(d0 > 0 and d1 > 0, "dropped A->B %d, B->A %d" % (d0, d1))
done("the tunnel dropped %d packets A->B (of %d) and %d B->A (of %d)" % (
    d0, a0['dev_rx'] - b0['dev_rx'], d1, a1['dev_rx'] - b1['dev_rx']))
PY
[ -z "$(it_rules "$A")" ] || fail "rules left at the end: $(it_rules "$A")"
ok "no firewall rule left"
echo "PASS $(basename "$0") ($(it_elapsed))"
