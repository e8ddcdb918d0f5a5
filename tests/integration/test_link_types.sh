#!/usr/bin/env bash
# Link types (issue 15): synack runs on Ethernet-like interfaces (ARPHRD_ETHER: veth, tap, bridge,
# macvlan, VLAN) and on L3 ones (ARPHRD_NONE: tun, WireGuard; test_tun_vpn.sh); every other link
# type is refused with exit 2 and a one-line message that names it.
#   1. -I lo (ARPHRD_LOOPBACK, 772) for ping, bench, get and serve, towards the peer and towards
#      127.0.0.1: exit 2, stderr names the loopback link type; no firewall rule, no tun left;
#   2. link types this kernel cannot make with `ip link add` (no nlmon, ipip, gre, sit, can here):
#      a persistent tun whose type is set with TUNSETLINK, as 802.11 radiotap (803, what a Wi-Fi
#      monitor interface is) and as InfiniBand (32), with an address and up: -I and the route's
#      default both get exit 2 naming the type;
#   3. a tap device (IFF_TAP: Ethernet frames, OpenVPN's tap mode) keeps working: tapA in the client
#      namespace and tapB in the peer joined by tests/integration/tun_forwarder.py --tap over the
#      veth; ping -I tapA (ARP through the tunnel) and ping by the route, every probe ok.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

HTTP_PORT=8080
netns_http_server "$HTTP_PORT" || fail "python3 -m http.server did not start in $NETNS_S"

synack_tuns() {
  ip -n "$NETNS_C" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^synack[0-9]+$' || true
}
# refused NAME REGEX WHAT ARGS...: synack ARGS exits 2 within 20 s with one line on stderr matching
# REGEX (case-insensitive); nothing left behind.
refused() {
  local name=$1 re=$2 what=$3; shift 3
  it_synack "$name" 20 "$@"
  [ "$IT_RC" = 2 ] || fail "$what: expected exit 2, got $IT_RC (stderr: $(head -c 300 "$IT_ERR"))"
  grep -qiE "$re" "$IT_ERR" || fail "$what: stderr does not name the link type (/$re/): $(cat "$IT_ERR")"
  [ "$(grep -c . "$IT_ERR")" -le 2 ] || fail "$what: more than a short message on stderr: $(head -c 600 "$IT_ERR")"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "$what: firewall rules left behind: $(it_rules "$NETNS_C")"
  [ -z "$(synack_tuns)" ] || fail "$what: a synack tun left behind: $(synack_tuns)"
  ok "$what: exit 2: $(head -n 1 "$IT_ERR")"
}

it_section "-I lo (ARPHRD_LOOPBACK)"
[ "$(ip netns exec "$NETNS_C" cat /sys/class/net/lo/type)" = 772 ] || fail "lo is not ARPHRD_LOOPBACK here"
# The link type by name ("tun/wireguard/loopback are not supported" from before issue 15 does not count).
LO_RE='ARPHRD_LOOPBACK|link type[^;]*loopback'
# Towards an address of this host with -I lo, "leave out -I lo" (this-host mode) names the fix too.
LO_LOCAL_RE="$LO_RE|leave out -I lo"
refused lo-ping-peer "$LO_RE" "ping $NETNS_IP_S -I lo" ping "$NETNS_IP_S:$HTTP_PORT" -I lo -c 1
refused lo-ping-local "$LO_LOCAL_RE" "ping 127.0.0.1 -I lo" ping "127.0.0.1:$HTTP_PORT" -I lo -c 1
refused lo-bench "$LO_RE" "bench -I lo" bench "$NETNS_IP_S:$HTTP_PORT" -I lo -n 10 -c 2
refused lo-get "$LO_RE" "get -I lo" get "http://$NETNS_IP_S:$HTTP_PORT/" -I lo -o "$NETNS_TMP/lo-get.bin"
# serve on 127.0.0.1: "use --this-host" (synack's own address on its tun) names the fix.
refused lo-serve "$LO_RE|is on lo.*--this-host" "serve --listen 127.0.0.1 -I lo" serve --listen "127.0.0.1:7000" -I lo --echo

it_section "link types made with TUNSETLINK: 802.11 radiotap (803), InfiniBand (32)"
# mktun NAME TYPE ADDR: a persistent tun of link type TYPE with ADDR/24, up (it has no carrier:
# nobody holds it; it goes with the namespace).
mktun() {
  ip netns exec "$NETNS_C" "$(netns_python)" - "$1" "$2" <<'PY' || fail "cannot make tun $1 of type $2"
import fcntl, os, struct, sys
TUNSETIFF, TUNSETPERSIST, TUNSETLINK = 0x400454CA, 0x400454CB, 0x400454CD
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', sys.argv[1].encode(), 0x0001 | 0x1000))
fcntl.ioctl(fd, TUNSETLINK, int(sys.argv[2]))
fcntl.ioctl(fd, TUNSETPERSIST, 1)
os.close(fd)
PY
  ip -n "$NETNS_C" addr add "$3/24" dev "$1"
  ip -n "$NETNS_C" link set "$1" up
  local t
  t=$(ip netns exec "$NETNS_C" cat "/sys/class/net/$1/type")
  [ "$t" = "$2" ] || fail "$1 has link type $t, not $2"
  echo "   $1: $(ip -n "$NETNS_C" -o link show "$1" | grep -o 'link/[^ ]*')"
}
mktun rtap0 803 10.30.0.1
mktun ib0 32 10.31.0.1
refused rtap-I 'radiotap|802\.?11|803' "ping -I rtap0 (ARPHRD_IEEE80211_RADIOTAP)" ping 10.30.0.2:80 -I rtap0 -c 1
refused rtap-route 'radiotap|802\.?11|803' "ping via the route on rtap0" ping 10.30.0.2:80 -c 1
refused ib-I 'infiniband|\b32\b' "ping -I ib0 (ARPHRD_INFINIBAND)" ping 10.31.0.2:80 -I ib0 -c 1
refused ib-serve 'infiniband|\b32\b' "serve --listen 10.31.0.1:7000 (ib0)" serve --listen 10.31.0.1:7000 -I ib0 --echo

it_section "a tap device (Ethernet frames through a user-space tunnel) keeps working"
cp "$IT_DIR/tun_forwarder.py" "$NETNS_TMP/"
tap_start() {  # NS DEV LOCAL PEER ADDR
  netns_spawn "$1" "$NETNS_TMP/fwd-$2.log" "$(netns_python)" -u "$NETNS_TMP/tun_forwarder.py" --tap --dev "$2" \
    --local "$3:5556" --peer "$4:5556" --mtu 1500 --addr "$5/24"
  netns_wait_until 15 "the forwarder of $2" grep -q "^ready $2" "$NETNS_TMP/fwd-$2.log" \
    || { cat "$NETNS_TMP/fwd-$2.log"; fail "the forwarder of $2 did not start"; }
}
tap_start "$NETNS_C" tapA "$NETNS_IP_C" "$NETNS_IP_S" 10.21.0.1
tap_start "$NETNS_S" tapB "$NETNS_IP_S" "$NETNS_IP_C" 10.21.0.2
[ "$(ip netns exec "$NETNS_C" cat /sys/class/net/tapA/type)" = 1 ] || fail "tapA is not ARPHRD_ETHER"
ip netns exec "$NETNS_C" curl -sf -o /dev/null --max-time 20 "http://10.21.0.2:$HTTP_PORT/index.html" \
  || fail "kernel curl over the tap tunnel failed"
for how in "-I tapA" ""; do
  name="tap-ping${how:+-I}"
  # shellcheck disable=SC2086  # $how is empty or "-I tapA"
  it_synack "$name" 30 ping "10.21.0.2:$HTTP_PORT" $how -c 3 -i 0.05 -W 3 --json
  [ "$IT_RC" = 0 ] || fail "ping 10.21.0.2 ${how:-by the route}: expected exit 0, got $IT_RC: $(head -c 300 "$IT_ERR")"
  it_py "$IT_OUT" <<'PY' || fail "ping over the tap: JSON checks failed"
import sys
from it import *
recs = ndjson(sys.argv[1])
P = probes(recs)
check(len(P) == 3 and all(p.get('ok') is True for p in P), "probes %r" % [(p.get('ok'), p.get('error')) for p in P])
check(all(str(p.get('local', '')).startswith('10.21.0.1:') for p in P), "locals %r" % [p.get('local') for p in P])
done("3 of 3 probes ok over the tap from 10.21.0.1")
PY
done
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
ok "no firewall rule left"
echo "PASS $(basename "$0") ($(it_elapsed))"
