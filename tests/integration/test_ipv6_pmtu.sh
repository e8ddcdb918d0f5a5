#!/usr/bin/env bash
# IPv6 path MTU (issue 14) in the routed lab: client -- r1 -- r2 =1400= r3 -- server, both ends at
# MTU 1500. IPv6 routers never fragment: synack's full-sized segments (MSS 1440) do not fit hop 3,
# and r2 answers with ICMPv6 packet too big (MTU 1400), which synack must act on (RFC 8201).
#   1. `synack bench --echo 1000000` to a kernel echo server (socat) behind the hop: every byte
#      checked, packet-too-big received by synack's namespace, within 3x the kernel client's time
#      in the same run (a 2 s floor for this busy 2-core machine);
#   2. r2's packet-too-big dropped (an ICMPv6-filtering black hole): synack still delivers every
#      byte, through packetization-layer PMTU discovery (RFC 4821), within 60 s.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
netns_require_tools socat ip6tables
it_init_routed "$1" --routers 3 --mtu 3=1400
it_require_ipv6
R2=$(netns_node_resolve r2)
PORT=9000
BYTES=1000000

netns_spawn "$NETNS_S" "$NETNS_TMP/socat.log" socat "TCP6-LISTEN:$PORT,reuseaddr,fork" EXEC:cat
netns_wait_until 15 "socat to listen" bash -c \
  "ip netns exec '$NETNS_S' ss -Hltn 'sport = :$PORT' | grep -q LISTEN" || fail "socat did not listen"
# Counts the packet-too-big messages reaching the client's namespace.
ip netns exec "$NETNS_C" ip6tables -I INPUT -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT
ptb_count() { ip netns exec "$NETNS_C" ip6tables -L INPUT -v -x -n | awk '/icmpv6|ipv6-icmp/ && /type 2/ {print $1; exit}'; }
flush_caches() {
  ip netns exec "$NETNS_C" ip -6 route flush cache
  ip netns exec "$NETNS_S" ip -6 route flush cache
}
bench_echo() {  # NAME ENGINE N -> IT_RC, $NETNS_TMP/NAME.json
  flush_caches
  it_synack "$1" 180 bench "[$NETNS_IP6_S]:$PORT" --engine "$2" --echo "$BYTES" -n "$3" -c 1 -W 90 \
    --json "$NETNS_TMP/$1.json"
}

it_section "synack and the kernel echo $BYTES bytes through the 1400 hop"
bench_echo kernel kernel 2
[ "$IT_RC" = 0 ] || fail "kernel bench --echo over IPv6: exit $IT_RC"
ip netns exec "$NETNS_C" ip -6 route get "$NETNS_IP6_S" | grep -q "mtu 1400" \
  || fail "the kernel did not learn PMTU 1400 (is r2 sending packet too big?)"
BEFORE=$(ptb_count)
bench_echo synack synack 2
[ "$IT_RC" = 0 ] || fail "synack bench --echo over IPv6: exit $IT_RC"
AFTER=$(ptb_count)
[ "$AFTER" -gt "$BEFORE" ] || fail "no packet-too-big reached the client during synack's run ($BEFORE -> $AFTER)"
it_py "$NETNS_TMP/synack.json" "$NETNS_TMP/kernel.json" <<'EOF' || fail "PMTU checks"
import sys, json
from it import *
def eng(path, name):
    j = json.load(open(path))
    return {e.get('engine'): e for e in j.get('engines', [])}.get(name, {})
s, k = eng(sys.argv[1], 'synack'), eng(sys.argv[2], 'kernel')
for n, e in (('synack', s), ('kernel', k)):
    check(e.get('ok') == 2 and e.get('failed') == 0 and e.get('verify_failures', 0) == 0,
          "%s: ok %r failed %r verify_failures %r" % (n, e.get('ok'), e.get('failed'), e.get('verify_failures')))
bound = max(3 * k.get('elapsed_s', 0), 2.0)
check(s.get('elapsed_s', 1e9) <= bound, "synack took %r s, bound %.2f s (3x the kernel's %r s, 2 s floor)"
      % (s.get('elapsed_s'), bound, k.get('elapsed_s')))
done("synack %.3f s vs kernel %.3f s for 2 x %s echoed bytes" % (s.get('elapsed_s', 0), k.get('elapsed_s', 0), "1e6"))
EOF
ok "packet too big taken: $((AFTER - BEFORE)) reached the client during synack's run"

it_section "black hole: r2's packet-too-big dropped"
ip netns exec "$R2" ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP
BEFORE=$(ptb_count)
bench_echo blackhole synack 1
ip netns exec "$R2" ip6tables -D OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP
[ "$IT_RC" = 0 ] || fail "synack bench --echo through the black hole: exit $IT_RC"
[ "$(ptb_count)" = "$BEFORE" ] || fail "packet-too-big reached the client through the black hole"
it_py "$NETNS_TMP/blackhole.json" <<'EOF' || fail "black-hole checks"
import sys, json
from it import *
e = {x.get('engine'): x for x in json.load(open(sys.argv[1])).get('engines', [])}.get('synack', {})
check(e.get('ok') == 1 and e.get('verify_failures', 0) == 0, "ok %r verify_failures %r" % (e.get('ok'), e.get('verify_failures')))
check(e.get('elapsed_s', 1e9) <= 60, "took %r s (bound 60 s)" % e.get('elapsed_s'))
done("black hole crossed in %.1f s, every byte checked" % e.get('elapsed_s', 0))
EOF
