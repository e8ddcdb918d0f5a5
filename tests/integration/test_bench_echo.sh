#!/usr/bin/env bash
# synack bench --echo SIZE: every connection sends SIZE bytes of its own pseudo-random data and
# checks every byte of the echo, through synack's TCP and the kernel's (--engine both):
#   1. against a kernel echo server (socat ... PIPE, a process per connection) in the peer
#      namespace: 200 connections x 64 KiB, 50 in flight: exit 0, 0 verify_failures, and
#      bytes_sent = bytes_received = 200 x 65,536 on each engine; the table has the new columns;
#   2. the check can fail: a python echo server that is wrong on purpose (bad_echo.py: every
#      4th connection gets one byte flipped, every 4th ends its echo early with a FIN) -> exactly
#      those connections are verify_failures (echo_mismatch / echo_short), the others ok, exit 1;
#   3. against `synack serve --echo` (the server in the first namespace, bench in the peer
#      namespace): 200 x 64 KiB on both engines, 0 verify_failures.
# Runs over IPv4 and, as integration.test_bench_echo.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"

# -W covers the whole connection (handshake and echo): generous on a busy 2-core machine, more
# for an instrumented binary.
W=20
RUN_TIMEOUT=120
if [ "${SYNACK_SANITIZED:-0}" = 1 ]; then W=60; RUN_TIMEOUT=240; fi
N=200
SIZE=65536

# check_echo JSON N SIZE: every engine of a bench --json file moved N x SIZE each way, all ok.
check_echo() {
  it_py "$@" <<'PY'
import json, sys
from it import *
j = json.load(open(sys.argv[1])); n, size = int(sys.argv[2]), int(sys.argv[3])
E = j.get('engines', [])
check([e.get('engine') for e in E] == ['synack', 'kernel'], "engines %r" % [e.get('engine') for e in E])
check(j.get('echo') == size, "echo %r" % j.get('echo'))
for e in E:
    name = e.get('engine')
    for k in ('verify_failures', 'bytes_sent', 'bytes_received'):
        check(isinstance(e.get(k), int), "%s: %s is %r" % (name, k, e.get(k)))
    check(e.get('connections') == n and e.get('ok') == n and e.get('failed') == 0,
          "%s: connections/ok/failed %r/%r/%r errors %r" % (name, e.get('connections'), e.get('ok'),
                                                            e.get('failed'), e.get('errors')))
    check(e.get('verify_failures') == 0, "%s: verify_failures %r" % (name, e.get('verify_failures')))
    check(e.get('bytes_sent') == n * size and e.get('bytes_received') == n * size,
          "%s: bytes sent/received %r/%r, expected %d each" % (name, e.get('bytes_sent'), e.get('bytes_received'), n * size))
    print("   %-6s ok %d, verify_failures %d, sent %d, received %d, p50 %.0f us, p99 %.0f us" % (
        name, e['ok'], e['verify_failures'], e['bytes_sent'], e['bytes_received'], e['p50_us'], e['p99_us']))
done("both engines: %d echoes of %d bytes, every byte checked" % (n, size))
PY
}

# ------------------------------------------------------------------------------------------------
it_section "kernel echo server (socat PIPE): $N x 64K, -c 50, --engine both"
# A listen backlog for 50 connections at once (socat's default is 5: a full accept queue makes
# the kernel answer with SYN cookies and drop ACKs, and connections that sent data too early are
# reset -- both engines alike; the backlog case is test_bench_backlog.sh's).
ip netns exec "$NETNS_S" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
# (socat: TCP4-/TCP6-LISTEN by the family, an IPv6 bind address in brackets.)
BIND=$IT_IP_S
[ "$IT_FAMILY" = 6 ] && BIND="[$IT_IP_S]"
netns_spawn "$NETNS_S" "$NETNS_TMP/socat-echo.log" \
  socat -b 65536 "TCP$IT_FAMILY-LISTEN:7,bind=$BIND,fork,reuseaddr,backlog=1024" PIPE
netns_wait_listen "$NETNS_S" 7 || { cat "$NETNS_TMP/socat-echo.log"; fail "socat echo server did not start in $NETNS_S"; }
it_synack socat "$RUN_TIMEOUT" bench "$(it_hp "$IT_IP_S" 7)" --echo 64K -n "$N" -c 50 --engine both -W "$W" \
  --json "$NETNS_TMP/socat.json"
cat "$IT_OUT"
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
head -n 1 "$IT_OUT" | grep -q 'verify_failures.*bytes_sent.*bytes_received' \
  || fail "the table has no verify_failures/bytes columns"
check_echo "$NETNS_TMP/socat.json" "$N" "$SIZE" || fail "echo results against socat"

# ------------------------------------------------------------------------------------------------
it_section "a wrong echo server: verification fails"
BAD_N=40
netns_spawn "$NETNS_S" "$NETNS_TMP/bad_echo.log" "$(netns_python)" -u "$IT_DIR/bad_echo.py" "$IT_IP_S" 7001
netns_wait_listen "$NETNS_S" 7001 || { cat "$NETNS_TMP/bad_echo.log"; fail "bad_echo.py did not start"; }
it_synack bad "$RUN_TIMEOUT" bench "$(it_hp "$IT_IP_S" 7001)" --echo 16K -n "$BAD_N" -c 8 --engine both -W "$W" \
  --json "$NETNS_TMP/bad.json"
cat "$IT_OUT"
head -n 10 "$IT_ERR"
[ "$IT_RC" = 1 ] || fail "expected exit 1 (verify failures), got $IT_RC"
grep -q 'differs from the byte sent' "$IT_ERR" || fail "stderr does not name the differing byte"
it_py "$NETNS_TMP/bad.json" "$BAD_N" <<'PY' || fail "verify failures not reported as expected"
import json, sys
from it import *
j = json.load(open(sys.argv[1])); n = int(sys.argv[2])
# bad_echo.py numbers connections in accept order: a quarter flipped, a quarter cut short.
for e in j['engines']:
    name, errs = e['engine'], e.get('errors', {})
    check(e['connections'] == n, "%s: connections %r" % (name, e['connections']))
    check(e['verify_failures'] == n // 2, "%s: verify_failures %r, expected %d" % (name, e['verify_failures'], n // 2))
    check(errs.get('echo_mismatch') == n // 4, "%s: echo_mismatch %r, expected %d (errors %r)" % (name, errs.get('echo_mismatch'), n // 4, errs))
    check(errs.get('echo_short') == n // 4, "%s: echo_short %r, expected %d (errors %r)" % (name, errs.get('echo_short'), n // 4, errs))
    check(e['ok'] == n // 2 and e['failed'] == n // 2, "%s: ok/failed %r/%r" % (name, e['ok'], e['failed']))
    print("   %-6s ok %d, verify_failures %d, errors %r" % (name, e['ok'], e['verify_failures'], errs))
done("flipped bytes and short echoes are verify failures on both engines")
PY

# ------------------------------------------------------------------------------------------------
it_section "synack serve --echo: $N x 64K, -c 50, --engine both from the peer namespace"
serve_start serve --echo --backlog 1024
# bench runs in the peer namespace ($NETNS_S, veth-s) against serve's IT_IP_C:8080.
echo "synack bench $(it_hp "$IT_IP_C" "$SERVE_PORT") (in $NETNS_S)" >"$NETNS_TMP/serve-bench.cmd"
IT_CTX_RUNS+=(serve-bench)
IT_OUT="$NETNS_TMP/serve-bench.out"
IT_RC=0
timeout -k 5 "$RUN_TIMEOUT" ip netns exec "$NETNS_S" "$SYNACK" bench "$(it_hp "$IT_IP_C" "$SERVE_PORT")" --echo 64K \
  -n "$N" -c 50 --engine both -W "$W" --json "$NETNS_TMP/serve.json" \
  >"$IT_OUT" 2>"$NETNS_TMP/serve-bench.err" </dev/null || IT_RC=$?
echo "$IT_RC" >"$NETNS_TMP/serve-bench.rc"
cat "$IT_OUT"
head -n 5 "$NETNS_TMP/serve-bench.err"
bench_rc=$IT_RC
serve_stop
# Before the engine's re-entrancy fix (issue 12 (1)) 4-14 connections per engine got foreign bytes.
[ "$bench_rc" = 0 ] || { check_echo "$NETNS_TMP/serve.json" "$N" "$SIZE" || true
                         fail "bench against synack serve --echo: exit $bench_rc, verify failures (see above)"; }
check_echo "$NETNS_TMP/serve.json" "$N" "$SIZE" || fail "echo results against synack serve"

echo "PASS $(basename "$0") ($(it_elapsed))"
