#!/usr/bin/env bash
# Path MTU (issue 13, items 4 and 7) in the routed lab: client -- r1 -- r2 =1400= r3 -- server,
# both ends at MTU 1500, so synack's full-sized segments do not fit hop 3 and r2 answers with
# "fragmentation needed, next-hop MTU 1400":
#   1. `synack serve --echo` on the client side, a kernel client on the server side echoes
#      1,000,000 random bytes through it: byte-exact, within 3x the time the kernel takes as the
#      echo server (socat, same place, same run, its route cache flushed first), with a 1 s floor
#      for this busy 2-core machine; serve's counters show the PMTU lowered by ICMP;
#   2. the same with r2's fragmentation-needed dropped on their way to synack (a black hole, as
#      behind a firewall that filters ICMP): byte-exact within 60 s, through packetization-layer
#      PMTU discovery (RFC 4821, Linux tcp_mtu_probing=1), counted as a black hole;
#   3. synack as the client: `synack bench --echo 1000000` (twice) to a kernel echo server (socat)
#      on the server side, every byte checked, r2's ICMP seen reaching the client's namespace (an
#      accepting, counting rule), within 3x the kernel client's time in the same run (2 s floor);
#   4. the same through the black hole: every byte, within 60 s, and no ICMP reached the client.
# Runs over IPv4 and, as integration.test_pmtu.ipv6, over IPv6 (it_family in lib.sh): IPv6 routers
# never fragment, so the full-sized segments (MSS 1440) draw ICMPv6 packet too big (MTU 1400) from
# r2, which synack must act on (RFC 8201); the black hole drops those. (This twin replaces
# test_ipv6_pmtu, whose checks are 3 and 4.)
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
netns_require_tools socat
it_init_routed "$1" --routers 3 --mtu 3=1400
TAG="synack-pmtu-test-$NETNS_PREFIX"
SERVE_PORT=8080
KERNEL_PORT=9000
BYTES=1000000
# r2's "packet does not fit" ICMP, as iptables / ip6tables match it.
if [ "$IT_FAMILY" = 6 ]; then
  TOO_BIG=(-p icmpv6 --icmpv6-type packet-too-big) SOCAT_LISTEN=TCP6-LISTEN
else
  TOO_BIG=(-p icmp --icmp-type fragmentation-needed) SOCAT_LISTEN=TCP4-LISTEN
fi

# echo_client.py HOST PORT BYTES: sends BYTES random bytes while reading the echo; checks every
# byte; prints the seconds from connect to the last byte back.
cat >"$NETNS_TMP/echo_client.py" <<'EOF'
import os, socket, sys, threading, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=90)
threading.Thread(target=lambda: s.sendall(data), daemon=True).start()
got = bytearray()
while len(got) < n:
    b = s.recv(1 << 20)
    if not b:
        sys.exit("closed after %d of %d bytes" % (len(got), n))
    got += b
el = time.monotonic() - t0
if bytes(got) != data:
    first = next(i for i in range(n) if got[i] != data[i])
    sys.exit("echo differs from byte %d" % first)
s.close()
print("%.4f" % el)
EOF
# echo_run NAME PORT: the client in the server's namespace against the client side's PORT; sets ELAPSED.
# Both ends' route caches are flushed first: the kernel keeps the PMTU it learned (and synack reads
# it from the route, as a new kernel connection would), so every run starts from MTU 1500.
flush_caches() {
  ip netns exec "$NETNS_C" ip -"$IT_FAMILY" route flush cache
  ip netns exec "$NETNS_S" ip -"$IT_FAMILY" route flush cache
}
echo_run() {
  local out
  flush_caches
  out=$(timeout -k 5 120 ip netns exec "$NETNS_S" "$(netns_python)" "$NETNS_TMP/echo_client.py" \
    "$IT_IP_C" "$2" "$BYTES" 2>&1) || fail "$1: echo of $BYTES bytes failed: $out"
  ELAPSED=$out
  echo "   $1: $BYTES bytes echoed byte-exact in $ELAPSED s"
}

it_section "kernel as the echo server (reference)"
netns_spawn "$NETNS_C" "$NETNS_TMP/socat.log" socat "$SOCAT_LISTEN:$KERNEL_PORT,reuseaddr,fork" EXEC:cat
netns_wait_until 15 "socat to listen" bash -c \
  "ip netns exec '$NETNS_C' ss -Hltn 'sport = :$KERNEL_PORT' | grep -q LISTEN" || fail "socat did not listen"
echo_run kernel "$KERNEL_PORT"
KERNEL_S=$ELAPSED
ip netns exec "$NETNS_C" ip -"$IT_FAMILY" route get "$IT_IP_S" | grep -q "mtu 1400" \
  || fail "the kernel did not learn PMTU 1400 (is r2 sending ${TOO_BIG[*]: -1}?)"
ok "kernel: ${KERNEL_S} s, PMTU 1400 learned"

it_section "synack serve --echo through the 1400 hop"
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
serve_start pmtu --echo --stats "$NETNS_TMP/pmtu.stats.json"
echo_run synack "$SERVE_PORT"
SYNACK_S=$ELAPSED
serve_stop
it_py "$NETNS_TMP/pmtu.stats.json" "$SYNACK_S" "$KERNEL_S" <<'EOF' || fail "PMTU checks"
import sys, json
from it import *
j = json.load(open(sys.argv[1]))
e = {**j.get('engine', {}), **j.get('tcp', {})}
syn, ker = float(sys.argv[2]), float(sys.argv[3])
bound = max(3 * ker, 1.0)
check(syn <= bound, "synack took %.3f s, bound %.3f s (3x the kernel's %.3f s, 1 s floor)" % (syn, bound, ker))
check(e.get('icmp_matched', 0) >= 1, "icmp_matched = %r" % e.get('icmp_matched'))
check(e.get('pmtu_lowered', 0) >= 1, "pmtu_lowered = %r" % e.get('pmtu_lowered'))
done("synack %.3f s vs kernel %.3f s (ratio %.2f); ICMP acted on %r, PMTU lowered %r" % (
    syn, ker, syn / ker if ker else 0, e.get('icmp_matched'), e.get('pmtu_lowered')))
EOF

it_section "black hole: r2's ${TOO_BIG[*]: -1} dropped"
BLACK_HOLE=("${TOO_BIG[@]}" -d "$IT_IP_C" -m comment --comment "$TAG" -j DROP)
it_fw r2 -A OUTPUT "${BLACK_HOLE[@]}"
serve_start blackhole --echo --stats "$NETNS_TMP/bh.stats.json"
echo_run synack-blackhole "$SERVE_PORT"
BH_S=$ELAPSED
serve_stop
it_fw r2 -D OUTPUT "${BLACK_HOLE[@]}"
it_py "$NETNS_TMP/bh.stats.json" "$BH_S" <<'EOF' || fail "black-hole checks"
import sys, json
from it import *
j = json.load(open(sys.argv[1]))
e = {**j.get('engine', {}), **j.get('tcp', {})}
el = float(sys.argv[2])
check(el <= 60.0, "the echo took %.1f s through the black hole (bound 60 s)" % el)
check(e.get('icmp_received', 0) == 0, "ICMP reached synack through the black hole: %r" % e.get('icmp_received'))
check(e.get('blackholes_detected', 0) >= 1, "blackholes_detected = %r" % e.get('blackholes_detected'))
check(e.get('mtu_probes_sent', 0) >= 1, "mtu_probes_sent = %r" % e.get('mtu_probes_sent'))
done("black hole: %.1f s, detected %r time(s), %r MTU probes (%r succeeded)" % (
    el, e.get('blackholes_detected'), e.get('mtu_probes_sent'), e.get('mtu_probes_succeeded')))
EOF

# ------------------------------------------------------------------------------------------------
# synack as the client (was test_ipv6_pmtu): bench --echo to socat on the server side. An accepting
# rule in the client's namespace counts r2's ICMP reaching it (synack reads the frames off the
# link whatever the rule says); its comment does not say "synack", which it_rules looks for.
netns_spawn "$NETNS_S" "$NETNS_TMP/socat-s.log" socat "$SOCAT_LISTEN:$KERNEL_PORT,reuseaddr,fork" EXEC:cat
netns_wait_until 15 "socat to listen" bash -c \
  "ip netns exec '$NETNS_S' ss -Hltn 'sport = :$KERNEL_PORT' | grep -q LISTEN" || fail "socat did not listen"
COUNT=("${TOO_BIG[@]}" -m comment --comment "toobig-count-$NETNS_PREFIX" -j ACCEPT)
it_fw c -I INPUT "${COUNT[@]}"
too_big_count() {
  ip netns exec "$NETNS_C" "$IT_IPT" -L INPUT -v -x -n \
    | awk -v t="toobig-count-$NETNS_PREFIX" 'index($0, t) {print $1; exit}'
}
bench_echo() {  # NAME ENGINE N -> IT_RC, $NETNS_TMP/NAME.json
  flush_caches
  it_synack "$1" 180 bench "$(it_hp "$IT_IP_S" "$KERNEL_PORT")" --engine "$2" --echo "$BYTES" -n "$3" -c 1 \
    -W 90 --json "$NETNS_TMP/$1.json"
}

it_section "synack and the kernel as clients: $BYTES bytes echoed through the 1400 hop"
bench_echo bench-kernel kernel 2
[ "$IT_RC" = 0 ] || fail "kernel bench --echo: exit $IT_RC"
ip netns exec "$NETNS_C" ip -"$IT_FAMILY" route get "$IT_IP_S" | grep -q "mtu 1400" \
  || fail "the kernel did not learn PMTU 1400 (is r2 sending ${TOO_BIG[*]: -1}?)"
BEFORE=$(too_big_count)
bench_echo bench-synack synack 2
[ "$IT_RC" = 0 ] || fail "synack bench --echo: exit $IT_RC"
AFTER=$(too_big_count)
[ "$AFTER" -gt "$BEFORE" ] || fail "no ${TOO_BIG[*]: -1} reached the client during synack's run ($BEFORE -> $AFTER)"
it_py "$NETNS_TMP/bench-synack.json" "$NETNS_TMP/bench-kernel.json" <<'EOF' || fail "PMTU checks (client)"
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
ok "${TOO_BIG[*]: -1} taken: $((AFTER - BEFORE)) reached the client during synack's run"

it_section "synack as the client through the black hole"
it_fw r2 -A OUTPUT "${BLACK_HOLE[@]}"
BEFORE=$(too_big_count)
bench_echo bench-blackhole synack 1
it_fw r2 -D OUTPUT "${BLACK_HOLE[@]}"
[ "$IT_RC" = 0 ] || fail "synack bench --echo through the black hole: exit $IT_RC"
[ "$(too_big_count)" = "$BEFORE" ] || fail "${TOO_BIG[*]: -1} reached the client through the black hole"
it_py "$NETNS_TMP/bench-blackhole.json" <<'EOF' || fail "black-hole checks (client)"
import sys, json
from it import *
e = {x.get('engine'): x for x in json.load(open(sys.argv[1])).get('engines', [])}.get('synack', {})
check(e.get('ok') == 1 and e.get('verify_failures', 0) == 0, "ok %r verify_failures %r" % (e.get('ok'), e.get('verify_failures')))
check(e.get('elapsed_s', 1e9) <= 60, "took %r s (bound 60 s)" % e.get('elapsed_s'))
done("black hole crossed in %.1f s, every byte checked" % e.get('elapsed_s', 0))
EOF
it_fw c -D INPUT "${COUNT[@]}"

echo "PASS $(basename "$0") ($(it_elapsed))"
