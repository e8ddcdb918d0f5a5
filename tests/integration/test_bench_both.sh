#!/usr/bin/env bash
# synack bench against the Linux kernel's TCP:
#   1. --engine both -n 2000 -c 64: both engines complete with 0 failures (exit 0), the table names
#      both and the ratio line, --json writes valid JSON as in the contract (engines[] with
#      connections/ok/failed/conn_per_s/p50/p90/p99/max/retransmits, ratios), --plot writes a PNG;
#      no progress line on a stderr that is not a terminal;
#   2. --request: an HTTP request after each handshake, latency to the first response bytes.
# Runs over IPv4 and, as integration.test_bench_both.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
netns_require_tools gnuplot

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
# A fast listener for the handshake benchmark: socat forks per connection and closes at once.
ip netns exec "$NETNS_S" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
# (On "::" when the twin runs over IPv6: a dual-stack socket.)
netns_spawn "$NETNS_S" "$NETNS_TMP/listener.log" "$(netns_python)" -c '
import socket, sys
v6 = sys.argv[1] == "6"
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if v6 else "0.0.0.0", 9000)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
' "$IT_FAMILY"
netns_wait_listen "$NETNS_S" 9000 || fail "listener on 9000 did not start"

it_section "--engine both -n 2000 -c 64"
it_synack both 120 bench "$(it_hp "$IT_IP_S" 9000)" -n 2000 -c 64 --engine both --close rst \
  --json "$NETNS_TMP/both.json" --plot "$NETNS_TMP/both.png"
cat "$IT_OUT"
[ "$IT_RC" = 0 ] || fail "expected exit 0 (no failures), got $IT_RC"
[ ! -s "$IT_ERR" ] || fail "stderr is not a terminal, yet bench wrote to it: $(head -c 300 "$IT_ERR")"
grep -q '^synack/kernel: conn/s' "$IT_OUT" || fail "no ratio line"
it_py "$NETNS_TMP/both.json" "$NETNS_TMP/both.png" <<'EOF2' || fail "JSON/PNG checks failed"
import sys, json, struct
from it import *
j = json.load(open(sys.argv[1]))
E = j.get('engines', [])
check([e.get('engine') for e in E] == ['synack', 'kernel'], "engines %r" % [e.get('engine') for e in E])
for e in E:
    for k in ('connections', 'ok', 'failed', 'conn_per_s', 'p50_us', 'p90_us', 'p99_us', 'max_us', 'retransmits'):
        check(isinstance(e.get(k), (int, float)), "%s: %s is %r" % (e.get('engine'), k, e.get(k)))
    check(e.get('connections') == 2000 and e.get('ok') == 2000 and e.get('failed') == 0,
          "%s: connections/ok/failed %r/%r/%r" % (e.get('engine'), e.get('connections'), e.get('ok'), e.get('failed')))
    check(0 < e.get('p50_us', 0) <= e.get('p90_us', 0) <= e.get('p99_us', 0) <= e.get('max_us', 0) * 1.01,
          "%s: percentiles out of order %r" % (e.get('engine'), e))
    check(e.get('conn_per_s', 0) > 0, "%s: conn_per_s %r" % (e.get('engine'), e.get('conn_per_s')))
r = j.get('ratios', {})
check(isinstance(r.get('conn_per_s'), float) and isinstance(r.get('p50'), float), "ratios %r" % r)
png = open(sys.argv[2], 'rb').read()
check(png[:8] == b'\x89PNG\r\n\x1a\n', "the plot is not a PNG")
if len(png) >= 24:
    w, h = struct.unpack('>II', png[16:24])
    check(w >= 800 and h >= 500, "PNG is %dx%d" % (w, h))
for e in E:
    print("%-6s %8.0f conn/s  p50 %7.1f us  p99 %7.1f us" % (e['engine'], e['conn_per_s'], e['p50_us'], e['p99_us']))
done("both engines: 2000 connections each, 0 failures, JSON and PNG")
EOF2

it_section "--request (HTTP, first response bytes)"
it_synack req 60 bench "$(it_hp "$IT_IP_S" 8080)" -n 100 -c 8 --engine both --close fin \
  --request $'GET / HTTP/1.0\r\n\r\n' --json "$NETNS_TMP/req.json"
cat "$IT_OUT"
[ "$IT_RC" = 0 ] || fail "--request: expected exit 0, got $IT_RC"
it_py "$NETNS_TMP/req.json" <<'EOF2' || fail "--request checks failed"
import sys, json
from it import *
j = json.load(open(sys.argv[1]))
for e in j['engines']:
    check(e['ok'] == 100 and e['failed'] == 0, "%s: ok %r failed %r %r" % (e['engine'], e['ok'], e['failed'], e.get('errors')))
done("--request: 100 requests answered on each engine")
EOF2

echo "PASS $(basename "$0") ($(it_elapsed))"
