#!/usr/bin/env bash
# The routed lab of scripts/netns.sh (issue 13, item 6), checked with kernel tools only:
#   - client -- r1 -- r2 -- r3 -- server, hop 3 (r2 -- r3) with MTU 1400, the endpoints at 1500;
#     `ip route get`: the client's next hop is r1, r2's is r3 towards the server and r1 back;
#   - curl (kernel TCP, python http.server) downloads 4 MiB over the chain byte-exact, and the
#     server's kernel learned PMTU 1400 towards the client (from r2's ICMP);
#   - `ping -M do -s 1472` gets "Frag needed and DF set (mtu = 1400)" from r2 and then the local
#     "message too long, mtu=1400" (the client's kernel learned the path MTU); 1372 bytes pass;
#   - `ping -t 1` / `-t 3`: "Time to live exceeded" from r1's / r3's client-side address; 100 of
#     them in half a second all arrive (the lab turns the routers' ICMP rate limits off);
#   - routers answer with ICMP: an address outside the lab is "network unreachable" at r1, an
#     unowned address on the server's hop "host unreachable" at r3 (ARP fails);
#   - netns_fw REJECT on r2 (FORWARD) with each reject type: the kernel's connect() fails with the
#     errno Linux maps it to (net-unreachable/net-prohibited -> ENETUNREACH, host-unreachable/
#     admin-prohibited -> EHOSTUNREACH, port-unreachable/tcp-reset -> ECONNREFUSED) in under 1 s;
#     the rule is in r2 only, never in the host's firewall;
#   - the command line: `netns.sh up-routed` with a `synack impair` box on a hop (its delay shows in
#     the RTT), its lab.env, `fw`, `down` (every namespace and the box gone) and `gc` (a routed lab
#     whose owner died is removed, routers included);
#   - nothing is left: no namespace of this run, no process, no temp dir, the host's sysctls as
#     they were.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST_SYSCTLS=(net.ipv4.ip_forward net.ipv4.icmp_ratelimit net.ipv4.icmp_ratemask net.ipv4.conf.all.rp_filter)
host_sysctls() { sysctl -n "${HOST_SYSCTLS[@]}" 2>/dev/null | tr '\n' ' '; }
HOST_BEFORE=$(host_sysctls)
NETNS_SH="$(dirname "${BASH_SOURCE[0]}")/../../scripts/netns.sh"
NETNS_SH=$(readlink -f "$NETNS_SH")

netns_require_tools ping curl sha256sum
it_init_routed "$1" --routers 3 --mtu 3=1400
TAG="synack-lab-test-$NETNS_PREFIX"     # the comment on every rule this test adds

# The command-line labs this test makes (removed by the cleanup on every exit path; their names
# have the pattern netns_gc knows, so a killed run's labs are collected too).
CLI_LABS=()
cli_down() {
  local n
  for n in "${CLI_LABS[@]}"; do bash "$NETNS_SH" down "$n" >/dev/null 2>&1 || true; done
}
NETNS_CLEANUP_HOOKS+=(cli_down)

indent() { sed 's/^/   /'; }

# connect_errno NS HOST PORT: one kernel connect() from NS; prints "RESULT MS" (RESULT: OK,
# TIMEOUT or the errno name).
cat >"$NETNS_TMP/connect.py" <<'EOF'
import errno, socket, sys, time
s = socket.socket()
s.settimeout(float(sys.argv[3]))
t0 = time.monotonic()
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    r = 'OK'
except socket.timeout:
    r = 'TIMEOUT'
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
print('%s %d' % (r, (time.monotonic() - t0) * 1000))
EOF
connect_errno() {
  ip netns exec "$1" "$(netns_python)" "$NETNS_TMP/connect.py" "$2" "$3" "${4:-5}"
}
# expect_connect WHAT HOST PORT ERRNO MAX_MS: a connect from the client ends with ERRNO within MAX_MS.
expect_connect() {
  local what=$1 host=$2 port=$3 want=$4 max=$5 got res ms
  got=$(connect_errno "$NETNS_C" "$host" "$port") || fail "$what: the connect helper failed"
  read -r res ms <<<"$got"
  [ "$res" = "$want" ] || fail "$what: connect() to $host:$port gave $res after $ms ms, expected $want"
  [ "$ms" -lt "$max" ] || fail "$what: connect() took $ms ms (bound $max ms)"
  ok "$what: connect() to $host:$port -> $res in $ms ms"
}

it_section "topology"
{ [ "$NETNS_ROUTERS" = 3 ] && [ "$NETNS_HOPS" = 4 ]; } || fail "expected 3 routers and 4 hops"
{ [ "$NETNS_IP_C" = 10.111.1.1 ] && [ "$NETNS_IP_S" = 10.111.4.2 ]; } \
  || fail "client/server addresses: $NETNS_IP_C / $NETNS_IP_S"
for i in 1 2 3; do
  { [ "${NETNS_RTR_IP[i]}" = "10.111.$i.2" ] && [ "${NETNS_RTR_IP_S[i]}" = "10.111.$((i + 1)).1" ]; } \
    || fail "router $i addresses: ${NETNS_RTR_IP[i]} / ${NETNS_RTR_IP_S[i]}"
  v="NETNS_R$i"
  { [ "${!v}" = "${NETNS_R[i]}" ] && [ "${NETNS_R[i]}" = "$NETNS_PREFIX-r$i" ]; } || fail "NETNS_R$i is '${!v}'"
  [ "$(ip netns exec "${NETNS_R[i]}" sysctl -n net.ipv4.ip_forward)" = 1 ] || fail "r$i does not forward"
  [ "$(ip netns exec "${NETNS_R[i]}" sysctl -n net.ipv4.icmp_ratelimit)" = 0 ] || fail "r$i rate-limits ICMP"
done
for ns in "$NETNS_C" "$NETNS_S"; do
  [ "$(ip netns exec "$ns" sysctl -n net.ipv4.ip_forward)" = 0 ] || fail "$ns forwards"
done
mtu_list=$(for ns in "$NETNS_C:$NETNS_IF_C" "${NETNS_R[2]}:$NETNS_IF_RS" "${NETNS_R[3]}:$NETNS_IF_RC" "$NETNS_S:$NETNS_IF_S"; do
  ip -n "${ns%%:*}" -o link show "${ns#*:}" | sed -E 's/.* mtu ([0-9]+) .*/\1/'; done | tr '\n' ' ')
[ "$mtu_list" = "1500 1400 1400 1500 " ] || fail "MTUs client, r2 (hop 3), r3 (hop 3), server: $mtu_list"
if ip -o link show 2>/dev/null | grep -qE ": ($NETNS_IF_RC|$NETNS_IF_RS)[@:]"; then
  fail "a router interface is in the host's namespace"
fi
ok "3 routers forwarding, ICMP unlimited, MTUs $mtu_list"

it_section "ip route get"
out=$(ip netns exec "$NETNS_C" ip route get "$NETNS_IP_S")
echo "   client: $out" | head -n 1
grep -q "via ${NETNS_RTR_IP[1]} dev $NETNS_IF_C" <<<"$out" || fail "client's route to the server: $out"
out=$(ip netns exec "${NETNS_R[2]}" ip route get "$NETNS_IP_S")
grep -q "via ${NETNS_RTR_IP[3]} dev $NETNS_IF_RS" <<<"$out" || fail "r2's route to the server: $out"
out=$(ip netns exec "${NETNS_R[2]}" ip route get "$NETNS_IP_C")
grep -q "via ${NETNS_RTR_IP_S[1]} dev $NETNS_IF_RC" <<<"$out" || fail "r2's route to the client: $out"
out=$(ip netns exec "$NETNS_S" ip route get "$NETNS_IP_C")
grep -q "via ${NETNS_RTR_IP_S[3]} dev $NETNS_IF_S" <<<"$out" || fail "server's route to the client: $out"
ok "next hops: client -> r1 ${NETNS_RTR_IP[1]}, r2 -> r3 ${NETNS_RTR_IP[3]} / r1 ${NETNS_RTR_IP_S[1]}, server -> r3"

it_section "kernel TCP over the chain: 4 MiB download"
mkdir -p "$NETNS_TMP/www"
head -c 4194304 /dev/urandom >"$NETNS_TMP/www/blob"
netns_http_server 8080 || fail "http.server did not start"
ip netns exec "$NETNS_C" curl -sS -m 30 -o "$NETNS_TMP/blob.got" "http://$NETNS_IP_S:8080/blob" \
  || fail "curl over the chain failed"
[ "$(sha256sum <"$NETNS_TMP/blob.got")" = "$(sha256sum <"$NETNS_TMP/www/blob")" ] \
  || fail "the download differs from the file"
out=$(ip netns exec "$NETNS_S" ip route get "$NETNS_IP_C")
grep -q "mtu 1400" <<<"$out" || fail "the server's kernel did not learn PMTU 1400: $out"
ok "4 MiB byte-exact; the server learned PMTU 1400 towards the client"
if ip netns exec "$NETNS_C" ip route get "$NETNS_IP_S" | grep -q "mtu 1400"; then
  fail "the client learned a PMTU before the ping test (it sent no large packet)"
fi

it_section "path MTU: ping -M do"
out=$(ip netns exec "$NETNS_C" ping -n -c 3 -i 0.2 -W 1 -M "do" -s 1472 "$NETNS_IP_S" 2>&1 || true)
indent <<<"$out"
grep -q "From ${NETNS_RTR_IP[2]} icmp_seq=1 Frag needed and DF set (mtu = 1400)" <<<"$out" \
  || fail "no 'Frag needed (mtu = 1400)' from r2 (${NETNS_RTR_IP[2]})"
grep -q "message too long, mtu=1400" <<<"$out" \
  || fail "the client's kernel did not learn the path MTU (no 'message too long, mtu=1400')"
ip netns exec "$NETNS_C" ip route get "$NETNS_IP_S" | grep -q "mtu 1400" \
  || fail "no PMTU 1400 in the client's route cache"
out=$(ip netns exec "$NETNS_C" ping -n -c 2 -i 0.2 -W 2 -M "do" -s 1372 "$NETNS_IP_S" 2>&1) \
  || { echo "$out"; fail "a 1400-byte ping did not pass"; }
ok "1500-byte packets: frag needed from r2, then mtu=1400 locally; 1400-byte packets pass"

it_section "TTL: time exceeded from each router"
out=$(ip netns exec "$NETNS_C" ping -n -c 1 -W 1 -t 1 "$NETNS_IP_S" 2>&1 || true)
grep -q "From ${NETNS_RTR_IP[1]} icmp_seq=1 Time to live exceeded" <<<"$out" \
  || { echo "$out"; fail "ping -t 1: no time exceeded from r1 (${NETNS_RTR_IP[1]})"; }
out=$(ip netns exec "$NETNS_C" ping -n -c 1 -W 1 -t 3 "$NETNS_IP_S" 2>&1 || true)
grep -q "From ${NETNS_RTR_IP[3]} icmp_seq=1 Time to live exceeded" <<<"$out" \
  || { echo "$out"; fail "ping -t 3: no time exceeded from r3 (${NETNS_RTR_IP[3]})"; }
out=$(ip netns exec "$NETNS_C" ping -n -c 1 -W 2 -t 4 "$NETNS_IP_S" 2>&1) \
  || { echo "$out"; fail "ping -t 4 did not reach the server"; }
n=$(ip netns exec "$NETNS_C" ping -n -c 100 -i 0.005 -W 1 -t 2 "$NETNS_IP_S" 2>&1 \
  | grep -c "From ${NETNS_RTR_IP[2]} .*Time to live exceeded" || true)
[ "$n" = 100 ] || fail "100 probes with TTL 2 in 0.5 s: $n time-exceeded from r2 (ICMP rate limit on?)"
ok "TTL 1 -> r1 ${NETNS_RTR_IP[1]}, TTL 3 -> r3 ${NETNS_RTR_IP[3]}, TTL 4 -> server; 100/100 from r2 at 200/s"

it_section "routers answer with ICMP"
expect_connect "outside the lab (r1 has no route)" 10.99.0.1 80 ENETUNREACH 1000
expect_connect "unowned address on the server's hop (ARP at r3)" "$NETNS_IP_NOBODY" 80 EHOSTUNREACH 5000
expect_connect "the server" "$NETNS_IP_S" 8080 OK 1000

it_section "netns_fw: REJECT on r2"
for spec in icmp-net-unreachable:ENETUNREACH icmp-net-prohibited:ENETUNREACH \
            icmp-host-unreachable:EHOSTUNREACH icmp-admin-prohibited:EHOSTUNREACH \
            icmp-port-unreachable:ECONNREFUSED tcp-reset:ECONNREFUSED; do
  type=${spec%%:*}; want=${spec#*:}
  proto=(-p tcp --dport 8080)
  it_fw r2 -A FORWARD "${proto[@]}" -m comment --comment "$TAG" -j REJECT --reject-with "$type"
  ip netns exec "${NETNS_R[2]}" iptables-save | grep -q -- "$TAG" || fail "the rule is not in r2"
  expect_connect "REJECT --reject-with $type on r2" "$NETNS_IP_S" 8080 "$want" 1000
  it_fw r2 -D FORWARD "${proto[@]}" -m comment --comment "$TAG" -j REJECT --reject-with "$type"
done
if iptables-save 2>/dev/null | grep -q -- "$TAG"; then fail "a lab rule is in the host's firewall"; fi
for n in c s r1 r3; do
  if netns_fw "$n" -S | grep -q -- "$TAG"; then fail "a rule meant for r2 is in $n"; fi
done
expect_connect "rules removed" "$NETNS_IP_S" 8080 OK 1000
if netns_fw r9 -S >/dev/null 2>&1; then fail "netns_fw r9 succeeded in a lab of 3 routers"; fi
ok "netns_fw r9: refused"

it_section "command line: up-routed with a box, fw, down"
cli_lab=$(netns_new_prefix)
CLI_LABS+=("$cli_lab")
NETNS_SYNACK=$SYNACK bash "$NETNS_SH" up-routed "$cli_lab" --routers 2 --mtu 2=1400 --http 8090 \
  --impair 3 -- --delay 10 >"$NETNS_TMP/cli-up.out" 2>&1 \
  || { cat "$NETNS_TMP/cli-up.out"; fail "netns.sh up-routed failed"; }
indent <"$NETNS_TMP/cli-up.out"
have=$(ip netns list | awk '{print $1}' | grep "^$cli_lab-" | sort | tr '\n' ' ')
[ "$have" = "$cli_lab-c $cli_lab-m $cli_lab-r1 $cli_lab-r2 $cli_lab-s " ] || fail "namespaces of the CLI lab: $have"
env_file=$(sed -nE 's/.*source (.*lab\.env)$/\1/p' "$NETNS_TMP/cli-up.out")
[ -f "$env_file" ] || fail "no lab.env named in the output"
( # shellcheck disable=SC1090
  source "$env_file"
  # shellcheck disable=SC2153
  [ "$NETNS_C" = "$cli_lab-c" ] && [ "$NETNS_R2" = "$cli_lab-r2" ] && [ "${NETNS_R[1]}" = "$cli_lab-r1" ] \
    && [ "$NETNS_IP_S" = 10.111.3.2 ] && [ "${NETNS_RTR_IP[2]}" = 10.111.2.2 ] \
    && [ "${NETNS_HOP_MTU[2]}" = 1400 ] && [ "$NETNS_M" = "$cli_lab-m" ] && [ "$NETNS_IMPAIR_HOP" = 3 ]
) || { cat "$env_file"; fail "lab.env does not describe the lab"; }
box_pid=$(ip netns pids "$cli_lab-m")
[ -n "$box_pid" ] || fail "no synack impair in $cli_lab-m"
rtt=$(ip netns exec "$cli_lab-c" ping -n -c 3 -i 0.2 -W 2 10.111.3.2 | sed -nE 's|^rtt min/avg/max/mdev = ([0-9]+)\..*|\1|p')
{ [ -n "$rtt" ] && [ "$rtt" -ge 20 ]; } || fail "min RTT through the box (10 ms each way): '$rtt' ms"
ip netns exec "$cli_lab-c" curl -sS -m 10 "http://10.111.3.2:8090/" | grep -q "hello from the kernel peer" \
  || fail "curl through the CLI lab failed"
bash "$NETNS_SH" fw "$cli_lab" r1 -A FORWARD -p tcp --dport 8090 -m comment --comment "$TAG" -j REJECT \
  --reject-with tcp-reset || fail "netns.sh fw failed"
read -r res ms <<<"$(connect_errno "$cli_lab-c" 10.111.3.2 8090)"
[ "$res" = ECONNREFUSED ] || fail "after 'netns.sh fw $cli_lab r1 ... tcp-reset': connect gave $res"
if bash "$NETNS_SH" fw "$cli_lab" r5 -S >/dev/null 2>&1; then fail "netns.sh fw accepted r5"; fi
ok "up-routed: 5 namespaces, lab.env, box RTT >= $rtt ms, http, fw (connect $res in $ms ms)"
bash "$NETNS_SH" down "$cli_lab" >"$NETNS_TMP/cli-down.out" 2>&1 || { cat "$NETNS_TMP/cli-down.out"; fail "down failed"; }
[ -z "$(ip netns list | awk '{print $1}' | grep "^$cli_lab-" || true)" ] || fail "down left namespaces of $cli_lab"
netns_wait_exit "$box_pid" 5 || fail "synack impair ($box_pid) still runs after down"
ls -d "${TMPDIR:-/tmp}/synack-$cli_lab".* >/dev/null 2>&1 && fail "down left the lab's temp dir"
ok "down: $(grep -c deleted "$NETNS_TMP/cli-down.out") namespaces deleted, the box stopped"

it_section "command line: gc collects a routed lab whose owner died"
(exit 0) &
dead=$!
wait "$dead"
cli_lab=$(printf 'sk%dx%04x' "$dead" "$RANDOM")
CLI_LABS+=("$cli_lab")
bash "$NETNS_SH" up-routed "$cli_lab" --routers 2 >/dev/null 2>&1 || fail "up-routed $cli_lab failed"
[ "$(ip netns list | awk '{print $1}' | grep -c "^$cli_lab-")" = 4 ] || fail "up-routed $cli_lab: not 4 namespaces"
bash "$NETNS_SH" gc 2>"$NETNS_TMP/gc.err" || fail "gc failed"
[ -z "$(ip netns list | awk '{print $1}' | grep "^$cli_lab-" || true)" ] \
  || { cat "$NETNS_TMP/gc.err"; fail "gc left namespaces of $cli_lab"; }
ok "gc removed $cli_lab (owner pid $dead gone): $(grep -c removing "$NETNS_TMP/gc.err") namespaces"

it_section "cleanup"
prefix=$NETNS_PREFIX tmp=$NETNS_TMP pids=("${NETNS_PIDS[@]}")
netns_cleanup || true
left=$(ip netns list | awk '{print $1}' | grep -E "^($prefix|$(IFS='|'; echo "${CLI_LABS[*]}"))-" || true)
[ -z "$left" ] || fail "namespaces left after cleanup: $left"
for p in "${pids[@]}"; do
  if netns_pid_alive "$p"; then fail "process $p still runs after cleanup"; fi
done
[ "${NETNS_KEEP:-0}" = 1 ] || [ ! -d "$tmp" ] || fail "temp dir $tmp left"
if iptables-save 2>/dev/null | grep -q -- "$TAG"; then fail "a lab rule is in the host's firewall"; fi
[ "$(host_sysctls)" = "$HOST_BEFORE" ] || fail "host sysctls changed: $HOST_BEFORE -> $(host_sysctls)"
ok "no namespace, process, temp dir or host rule left; host sysctls unchanged ($HOST_BEFORE)"
echo "PASS $(basename "$0") ($(it_elapsed))"
