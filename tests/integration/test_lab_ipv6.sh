#!/usr/bin/env bash
# IPv6 in every topology of scripts/netns.sh (issue 14), checked with the kernel's own tools only:
#   - the plain pair: fd00:111::1 <-> fd00:111::2 usable at once (nodad: no DAD wait, the addresses
#     are not "tentative"), ping -6, curl -6 to the lab's http.server on [::] (and IPv4 still);
#     fd00:111::3 is owned by nobody (ping fails); a link flap keeps the addresses;
#   - the third namespace (netns_add_third_ns): fd00:112::2 reached through the peer, and back;
#   - the impaired topology (`netns.sh up-impaired`, a synack impair box, L2): the ends reach each
#     other over IPv6 through the box, the box itself has no IPv6 address;
#   - the routed lab (`netns.sh up-routed --routers 3 --mtu 3=1400 --http`): `ip -6 route get` gives
#     the client's next hop r1 (fd00:111:1::2); ping -6 and curl -6 across three routers; the
#     1400-MTU hop makes r2 answer `ping -6 -s 1400 -M do` with "Packet too big: mtu=1400" from
#     its client-side address (then the client's kernel says "message too long"); ping -6 -t 1 gets
#     "Time exceeded" from r1; a burst of hop-limit errors all arrive (ICMPv6 rate limits are off in
#     the routers); lab.env has the IPv6 variables; a lab with a hop below 1280 is IPv4-only;
#   - nothing is left behind (namespaces, temp dirs).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NETNS_SH=$(readlink -f "$(dirname "${BASH_SOURCE[0]}")/../../scripts/netns.sh")
if [ ! -d /proc/sys/net/ipv6 ]; then echo "SKIP: the kernel has no IPv6 (ipv6.disable=1)" >&2; exit 77; fi
netns_require_tools ping curl
it_init "$1"

CLI_LABS=()
cli_down() {
  local n
  for n in "${CLI_LABS[@]}"; do bash "$NETNS_SH" down "$n" >/dev/null 2>&1 || true; done
}
NETNS_CLEANUP_HOOKS+=(cli_down)
indent() { sed 's/^/   /'; }

# expect_ping6 NS ADDR WHAT: one ping -6 from NS to ADDR answers.
expect_ping6() {
  ip netns exec "$1" ping -6 -n -c 1 -W 2 "$2" >"$NETNS_TMP/ping6.out" 2>&1 \
    || { cat "$NETNS_TMP/ping6.out"; fail "$3: ping -6 $2 from $1 failed"; }
}
# expect_curl6 NS ADDR PORT WHAT: curl -6 from NS fetches the lab page from [ADDR]:PORT.
expect_curl6() {
  ip netns exec "$1" curl -6 -g -sS -m 10 "http://[$2]:$3/" >"$NETNS_TMP/curl6.out" 2>&1 \
    || { cat "$NETNS_TMP/curl6.out"; fail "$4: curl -6 http://[$2]:$3/ from $1 failed"; }
  grep -q "hello from the kernel peer" "$NETNS_TMP/curl6.out" || { cat "$NETNS_TMP/curl6.out"; fail "$4: not the lab page"; }
}

it_section "pair: addresses, no DAD, default routes"
[ "$NETNS_IPV6" = 1 ] || fail "NETNS_IPV6=$NETNS_IPV6 on a kernel with IPv6"
[ "$NETNS_IP6_C" = fd00:111::1 ] && [ "$NETNS_IP6_S" = fd00:111::2 ] && [ "$NETNS_IP6_NOBODY" = fd00:111::3 ] \
  || fail "pair addresses: $NETNS_IP6_C $NETNS_IP6_S $NETNS_IP6_NOBODY"
for pair in "$NETNS_C $NETNS_IF_C $NETNS_IP6_C" "$NETNS_S $NETNS_IF_S $NETNS_IP6_S"; do
  read -r ns ifc a <<<"$pair"
  out=$(ip -n "$ns" -6 addr show dev "$ifc")
  grep -q "inet6 $a/64 scope global" <<<"$out" || { echo "$out"; fail "$a/64 not on $ifc in $ns"; }
  if grep -q tentative <<<"$out"; then echo "$out"; fail "an address on $ifc in $ns is tentative (DAD)"; fi
done
ok "fd00:111::1/64 and ::2/64, none tentative"
# At once usable: the first ping goes through right after setup (no 1-2 s DAD wait).
expect_ping6 "$NETNS_C" "$NETNS_IP6_S" "pair"
expect_ping6 "$NETNS_S" "$NETNS_IP6_C" "pair (back)"
if ip netns exec "$NETNS_C" ping -6 -n -c 1 -W 1 "$NETNS_IP6_NOBODY" >/dev/null 2>&1; then
  fail "$NETNS_IP6_NOBODY answered: it should be owned by nobody"
fi
ok "ping -6 both ways; $NETNS_IP6_NOBODY unanswered"

it_section "pair: kernel servers listen on IPv6 and IPv4"
netns_http_server 8080 || fail "python3 -m http.server did not start"
expect_curl6 "$NETNS_C" "$NETNS_IP6_S" 8080 "http.server"
ip netns exec "$NETNS_C" curl -4 -sS -m 10 "http://$NETNS_IP_S:8080/" | grep -q "hello from the kernel peer" \
  || fail "http.server no longer answers over IPv4"
ok "python3 http.server: curl -6 [$NETNS_IP6_S]:8080 and curl -4 $NETNS_IP_S:8080"
if command -v nginx >/dev/null 2>&1; then
  netns_nginx 8083 || fail "nginx did not start"
  expect_curl6 "$NETNS_C" "$NETNS_IP6_S" 8083 "nginx"
  ip netns exec "$NETNS_C" curl -4 -sS -m 10 "http://$NETNS_IP_S:8083/" | grep -q "hello from the kernel peer" \
    || fail "nginx does not answer over IPv4"
  ok "nginx: both families"
else
  echo "   (nginx not installed: its IPv6 listener not checked)"
fi

it_section "pair: a link flap keeps the IPv6 addresses"
ip -n "$NETNS_C" link set "$NETNS_IF_C" down
ip -n "$NETNS_C" link set "$NETNS_IF_C" up
netns_wait_until 10 "veth-c up again" \
  bash -c "ip -n '$NETNS_C' -o link show '$NETNS_IF_C' | grep -q 'state UP'" || fail "veth-c did not come back"
ip -n "$NETNS_C" -6 addr show dev "$NETNS_IF_C" | grep -q "inet6 $NETNS_IP6_C/64" || fail "the address went with the link"
netns_wait_until 10 "ping -6 after the flap" ip netns exec "$NETNS_C" ping -6 -n -c 1 -W 1 "$NETNS_IP6_S" \
  || fail "no IPv6 after the link flap"
ok "address kept, ping -6 works after down/up"

it_section "third namespace"
netns_add_third_ns
[ "$NETNS_IP6_F" = fd00:112::2 ] || fail "NETNS_IP6_F=$NETNS_IP6_F"
netns_wait_until 10 "ping -6 from $NETNS_C to $NETNS_IP6_F" ip netns exec "$NETNS_C" ping -6 -n -c 1 -W 1 "$NETNS_IP6_F" \
  || fail "$NETNS_IP6_F unreachable from $NETNS_C"
expect_ping6 "$NETNS_F" "$NETNS_IP6_C" "third namespace (back to the client, via its default route)"
route=$(ip -n "$NETNS_C" -6 route get "$NETNS_IP6_F")
grep -q "via $NETNS_IP6_S" <<<"$route" || fail "route to $NETNS_IP6_F not via the peer: $route"
ok "fd00:112::2 via $NETNS_IP6_S and back"

it_section "impaired topology (command line)"
imp=$(netns_new_prefix)
CLI_LABS+=("$imp")
NETNS_SYNACK=$SYNACK bash "$NETNS_SH" up-impaired "$imp" --http 8080 -- --delay 5 >"$NETNS_TMP/imp-up.out" 2>&1 \
  || { cat "$NETNS_TMP/imp-up.out"; fail "up-impaired failed"; }
indent <"$NETNS_TMP/imp-up.out"
grep -q "NETNS_IP6_C=fd00:111::1 NETNS_IP6_S=fd00:111::2" "$NETNS_TMP/imp-up.out" || fail "up-impaired does not print the IPv6 variables"
expect_ping6 "$imp-c" fd00:111::2 "through the box"
rtt=$(ip netns exec "$imp-c" ping -6 -n -c 2 -i 0.2 -W 2 fd00:111::2 | sed -nE 's|^rtt min/avg/max/mdev = ([0-9]+)\..*|\1|p')
{ [ -n "$rtt" ] && [ "$rtt" -ge 5 ]; } || fail "min IPv6 RTT through the box (5 ms a2b): '$rtt' ms"
expect_curl6 "$imp-c" fd00:111::2 8080 "through the box"
if ip -n "$imp-m" -6 addr show 2>/dev/null | grep -q "scope global"; then fail "the box has a global IPv6 address"; fi
ok "ping -6 (min RTT $rtt ms, the box's delay) and curl -6 through the L2 box; the box has no address"
bash "$NETNS_SH" down "$imp" >/dev/null 2>&1 || fail "down $imp failed"

it_section "routed lab (command line): routes, forwarding, curl"
lab=$(netns_new_prefix)
CLI_LABS+=("$lab")
bash "$NETNS_SH" up-routed "$lab" --routers 3 --mtu 3=1400 --http 8090 >"$NETNS_TMP/routed-up.out" 2>&1 \
  || { cat "$NETNS_TMP/routed-up.out"; fail "up-routed failed"; }
indent <"$NETNS_TMP/routed-up.out"
grep -q "fd00:111:3::/64 *fd00:111:3::1  <->  fd00:111:3::2" "$NETNS_TMP/routed-up.out" \
  || fail "up-routed does not print hop 3's IPv6 prefix"
env_file=$(sed -nE 's/.*source (.*lab\.env)$/\1/p' "$NETNS_TMP/routed-up.out")
[ -f "$env_file" ] || fail "no lab.env named in the output"
( # shellcheck disable=SC1090
  source "$env_file"
  # shellcheck disable=SC2153
  [ "$NETNS_IPV6" = 1 ] && [ "$NETNS_IP6_C" = fd00:111:1::1 ] && [ "$NETNS_IP6_S" = fd00:111:4::2 ] \
    && [ "${NETNS_RTR_IP6[1]}" = fd00:111:1::2 ] && [ "${NETNS_RTR_IP6[2]}" = fd00:111:2::2 ] \
    && [ "${NETNS_RTR_IP6_S[3]}" = fd00:111:4::1 ] && [ "${NETNS_HOP_NET6[3]}" = fd00:111:3::/64 ] \
    && [ "$NETNS_IP6_NOBODY" = fd00:111:4::3 ]
) || { cat "$env_file"; fail "lab.env lacks or misstates the IPv6 variables"; }
ok "lab.env: NETNS_IP6_C/S, NETNS_RTR_IP6[i], NETNS_RTR_IP6_S[i], NETNS_HOP_NET6[h]"
route=$(ip -n "$lab-c" -6 route get fd00:111:4::2)
grep -q "via fd00:111:1::2 dev veth-c" <<<"$route" || fail "client's route to the server: $route"
route=$(ip -n "$lab-r2" -6 route get fd00:111:4::2)
grep -q "via fd00:111:3::2" <<<"$route" || fail "r2's route to the server: $route"
route=$(ip -n "$lab-r2" -6 route get fd00:111:1::1)
grep -q "via fd00:111:2::1" <<<"$route" || fail "r2's route to the client: $route"
for r in 1 2 3; do
  [ "$(ip netns exec "$lab-r$r" sysctl -n net.ipv6.conf.all.forwarding)" = 1 ] || fail "r$r does not forward IPv6"
  [ "$(ip netns exec "$lab-r$r" sysctl -n net.ipv6.icmp.ratelimit)" = 0 ] || fail "r$r limits ICMPv6"
done
ok "ip -6 route get: client via r1 (fd00:111:1::2), r2 via r3 / r1; forwarding on, ICMPv6 unlimited"
expect_ping6 "$lab-c" fd00:111:4::2 "routed"
expect_ping6 "$lab-s" fd00:111:1::1 "routed (back)"
expect_curl6 "$lab-c" fd00:111:4::2 8090 "routed"
ip netns exec "$lab-c" curl -4 -sS -m 10 "http://10.111.4.2:8090/" | grep -q "hello from the kernel peer" \
  || fail "the routed lab's http.server no longer answers over IPv4"
ok "ping -6 both ways, curl -6 and -4 across 3 routers"

it_section "routed lab: packet too big, time exceeded"
out=$(ip netns exec "$lab-c" ping -6 -n -c 1 -W 2 -s 1400 -M "do" fd00:111:4::2 2>&1 || true)
echo "$out" | indent
grep -q "From fd00:111:2::2 icmp_seq=1 Packet too big: mtu=1400" <<<"$out" \
  || fail "no packet-too-big (mtu 1400) from r2 (fd00:111:2::2)"
out=$(ip netns exec "$lab-c" ping -6 -n -c 1 -W 2 -s 1400 -M "do" fd00:111:4::2 2>&1 || true)
grep -qi "message too long" <<<"$out" || { echo "$out"; fail "the client's kernel did not learn the path MTU"; }
route=$(ip -n "$lab-c" -6 route get fd00:111:4::2)
grep -q "mtu 1400" <<<"$route" || fail "no PMTU 1400 in the client's route cache: $route"
ip netns exec "$lab-c" ping -6 -n -c 1 -W 2 -s 1352 -M "do" fd00:111:4::2 >/dev/null 2>&1 \
  || fail "a 1400-byte IPv6 packet (1352 data) does not pass"
ok "r2: Packet too big mtu=1400; then 'message too long' locally (route cache: mtu 1400); 1352 bytes pass"
out=$(ip netns exec "$lab-c" ping -6 -n -c 1 -W 2 -t 1 fd00:111:4::2 2>&1 || true)
grep -q "From fd00:111:1::2 icmp_seq=1 Time exceeded" <<<"$out" || { echo "$out"; fail "no time exceeded from r1"; }
out=$(ip netns exec "$lab-c" ping -6 -n -c 1 -W 2 -t 3 fd00:111:4::2 2>&1 || true)
grep -q "From fd00:111:3::2 icmp_seq=1 Time exceeded" <<<"$out" || { echo "$out"; fail "no time exceeded from r3"; }
n=$(ip netns exec "$lab-c" ping -6 -n -c 100 -i 0.002 -W 1 -t 2 fd00:111:4::2 2>&1 | grep -c "Time exceeded" || true)
[ "$n" = 100 ] || fail "$n of 100 ICMPv6 time exceeded from r2 (rate limits should be off)"
ok "time exceeded from r1 (-t 1) and r3 (-t 3); 100 of 100 in a burst from r2"
bash "$NETNS_SH" down "$lab" >/dev/null 2>&1 || fail "down $lab failed"
[ -z "$(netns_lab_namespaces "$lab")" ] || fail "down left namespaces of $lab"

it_section "routed lab with a hop below 1280: IPv4 only"
small=$(netns_new_prefix)
CLI_LABS+=("$small")
bash "$NETNS_SH" up-routed "$small" --routers 1 --mtu 2=1000 >"$NETNS_TMP/small-up.out" 2>&1 \
  || { cat "$NETNS_TMP/small-up.out"; fail "up-routed with MTU 1000 failed"; }
grep -q "IPv4-only" "$NETNS_TMP/small-up.out" || { cat "$NETNS_TMP/small-up.out"; fail "no IPv4-only note"; }
ip netns exec "$small-c" ping -n -c 1 -W 2 10.111.2.2 >/dev/null || fail "IPv4 does not work in the MTU-1000 lab"
ok "MTU 1000 on a hop: a note, IPv4 works"
bash "$NETNS_SH" down "$small" >/dev/null 2>&1 || fail "down $small failed"

it_section "cleanup"
prefix=$NETNS_PREFIX tmp=$NETNS_TMP
netns_cleanup || true
left=$(ls /var/run/netns 2>/dev/null | grep -E "^($prefix|$(IFS='|'; echo "${CLI_LABS[*]}"))-" || true)
[ -z "$left" ] || fail "namespaces left after cleanup: $left"
[ "${NETNS_KEEP:-0}" = 1 ] || [ ! -d "$tmp" ] || fail "temp dir $tmp left"
for n in "${CLI_LABS[@]}"; do
  if ls -d "${TMPDIR:-/tmp}/synack-$n".* >/dev/null 2>&1; then fail "temp dir of $n left"; fi
done
ok "no namespace or temp dir left"
echo "PASS $(basename "$0") ($(it_elapsed))"
