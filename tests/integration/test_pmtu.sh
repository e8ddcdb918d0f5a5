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
#      PMTU discovery (RFC 4821, Linux tcp_mtu_probing=1), counted as a black hole.
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
echo_run() {
  local out
  ip netns exec "$NETNS_C" ip route flush cache
  ip netns exec "$NETNS_S" ip route flush cache
  out=$(timeout -k 5 120 ip netns exec "$NETNS_S" "$(netns_python)" "$NETNS_TMP/echo_client.py" \
    "$NETNS_IP_C" "$2" "$BYTES" 2>&1) || fail "$1: echo of $BYTES bytes failed: $out"
  ELAPSED=$out
  echo "   $1: $BYTES bytes echoed byte-exact in $ELAPSED s"
}

it_section "kernel as the echo server (reference)"
netns_spawn "$NETNS_C" "$NETNS_TMP/socat.log" socat "TCP-LISTEN:$KERNEL_PORT,reuseaddr,fork" EXEC:cat
netns_wait_until 15 "socat to listen" bash -c \
  "ip netns exec '$NETNS_C' ss -Hltn 'sport = :$KERNEL_PORT' | grep -q LISTEN" || fail "socat did not listen"
echo_run kernel "$KERNEL_PORT"
KERNEL_S=$ELAPSED
ip netns exec "$NETNS_C" ip route get "$NETNS_IP_S" | grep -q "mtu 1400" \
  || fail "the kernel did not learn PMTU 1400 (is r2 sending fragmentation needed?)"
ok "kernel: ${KERNEL_S} s, PMTU 1400 learned"

it_section "synack serve --echo through the 1400 hop"
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

it_section "black hole: r2's fragmentation-needed dropped"
it_fw r2 -A OUTPUT -p icmp --icmp-type fragmentation-needed -d "$NETNS_IP_C" -m comment --comment "$TAG" -j DROP
serve_start blackhole --echo --stats "$NETNS_TMP/bh.stats.json"
echo_run synack-blackhole "$SERVE_PORT"
BH_S=$ELAPSED
serve_stop
it_fw r2 -D OUTPUT -p icmp --icmp-type fragmentation-needed -d "$NETNS_IP_C" -m comment --comment "$TAG" -j DROP
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
