#!/usr/bin/env bash
# Resource limits of `synack serve` (engine::options max_connections / max_buffered_bytes),
# driven past both by kernel clients (python3, tests/integration/fault_clients.py):
#   1. --max-table 50: 200 clients connect at once and hold; at most 50 connections get in, the
#      other SYNs are dropped and counted (syn_dropped_table_full, also in --stats JSON); the table
#      never exceeds 50; once the clients go, the table empties and 20 echo sessions of 64 KiB
#      each come back byte-exact (the server serves again);
#   2. --max-buffered-bytes 2M: a connection's full buffers (~5.5 MB) never fit in half of it, so
#      every connection gets the minimum (4 x MSS each way, buffers_shrunk) until the budget is
#      used, then SYNs are dropped (syn_dropped_buffers_full); 250 clients each push 64 KiB
#      through the echo; the reserved total stays <= 2 MiB; two rounds of the same load leave the
#      server's RSS bounded (the second round grows it by < 16 MiB); then 20 echo sessions work.
# Runs over IPv4 and, as integration.test_serve_limits.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
# Under ASan (the sanitizer stage) freed memory waits in a quarantine of up to 256 MiB before it
# is reused, so the RSS of a server whose buffers are allocated and given back per connection
# (issue 16) would grow by the quarantine, not by a leak. A small quarantine keeps the RSS
# bounds below meaningful there (use-after-free is still caught for the most recent frees).
if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=4"; fi
cp "$IT_DIR/fault_clients.py" "$NETNS_TMP/fault_clients.py"
PY=$(netns_python)

clients() { ip netns exec "$NETNS_S" "$PY" -u "$NETNS_TMP/fault_clients.py" "$@"; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$SERVE_PID/status"; }
# stats_get KEY.PATH: a value of the --stats file (after serve_table, which sends SIGUSR1).
stats_get() {
  "$PY" -c 'import json,sys
j=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): j=j[k]
print(j)' "$NETNS_TMP/stats.json" "$1"
}
table_empty() { serve_table; [ "$(serve_counter connections)" = 0 ]; }
echo_again() {
  clients echo "$IT_IP_C" "$SERVE_PORT" 20 65536 "$NETNS_TMP/echo-$1.json" --deadline 40 \
    >"$NETNS_TMP/echo-$1.log" 2>&1 || { cat "$NETNS_TMP/echo-$1.log"; fail "echo sessions failed after the load"; }
  ok "serves again: 20 echo sessions of 64 KiB byte-exact"
}

# ------------------------------------------------------------------------------------------------
it_section "--max-table 50 with 200 clients"
serve_start table --echo --max-table 50 --backlog 1000 --max-half-open 1000 --stats "$NETNS_TMP/stats.json"
clients flood "$IT_IP_C" "$SERVE_PORT" 200 4 "$NETNS_TMP/flood1.json" --bytes 1024 >"$NETNS_TMP/flood1.log" 2>&1 &
FPID=$!
NETNS_PIDS+=("$FPID")
# While the flood holds its connections: the table is at the cap, never above.
netns_wait_until 20 "SYNs dropped at the cap" bash -c "kill -USR1 $SERVE_PID; sleep 0.2; \
  grep -q 'syn_dropped_table_full=[1-9]' '$SERVE_OUT'" || fail "no SYN was dropped at the table cap"
serve_table
conns=$(serve_counter connections)
[ "$conns" -le 50 ] || fail "the table holds $conns connections, above --max-table 50"
ok "table at $conns (cap 50), syn_dropped_table_full=$(serve_counter syn_dropped_table_full)"
netns_wait_exit "$FPID" 30 || fail "the flood did not end"
wait "$FPID" || true
cat "$NETNS_TMP/flood1.log"
it_py "$NETNS_TMP/flood1.json" <<'EOF'
import json, sys
from it import *
r = json.load(open(sys.argv[1]))
check(r['connected'] <= 50, "%d clients connected past a table of 50" % r['connected'])
check(r['connected'] >= 40, "only %d clients connected (expected about 50)" % r['connected'])
check(r['pending'] + r['failed'] >= 140, "expected the other ~150 to wait or fail: %s" % r)
done("clients: %d connected, %d still in SYN_SENT at the end" % (r['connected'], r['pending']))
EOF
# Every line the server printed shows the table within the cap.
awk -F'connections=' '/^counters:/{split($2,a," "); if (a[1]+0 > 50) bad=1} END{exit bad}' "$SERVE_OUT" \
  || fail "a counters line shows more than 50 connections: $(grep -o 'connections=[0-9]*' "$SERVE_OUT" | sort -u)"
netns_wait_until 30 "the table to empty" table_empty || fail "the table did not empty: $(serve_states)"
dropped=$(stats_get limits.syn_dropped_table_full)
[ "$dropped" -ge 100 ] || fail "--stats limits.syn_dropped_table_full is $dropped (expected >= 100)"
[ "$(stats_get limits.max_connections)" = 50 ] || fail "--stats limits.max_connections is not 50"
ok "--stats: limits.syn_dropped_table_full=$dropped, max_connections=50"
echo_again table
serve_stop

# ------------------------------------------------------------------------------------------------
it_section "--max-buffered-bytes 2M with 250 clients pushing 64 KiB each"
BUDGET=$((2 << 20))
serve_start buffers --echo --max-buffered-bytes 2M --backlog 1000 --max-half-open 1000 --stats "$NETNS_TMP/stats.json"
rss0=$(rss_kib)
for round in 1 2; do
  clients flood "$IT_IP_C" "$SERVE_PORT" 250 5 "$NETNS_TMP/flood-b$round.json" --bytes 65536 \
    >"$NETNS_TMP/flood-b$round.log" 2>&1 &
  FPID=$!
  NETNS_PIDS+=("$FPID")
  netns_wait_until 20 "SYNs dropped for want of buffers" bash -c "kill -USR1 $SERVE_PID; sleep 0.2; \
    grep -q 'syn_dropped_buffers_full=[1-9]' '$SERVE_OUT'" || fail "no SYN was dropped at the buffer budget"
  serve_table
  reserved=$(serve_counter buffered_bytes_reserved)
  [ "$reserved" -le "$BUDGET" ] || fail "buffered_bytes_reserved $reserved > budget $BUDGET"
  netns_wait_exit "$FPID" 30 || fail "the flood did not end"
  wait "$FPID" || true
  serve_table
  eval "rss$round=\$(rss_kib)"
  echo "   round $round: $(cat "$NETNS_TMP/flood-b$round.json"); connections=$(serve_counter connections) reserved=$(serve_counter buffered_bytes_reserved) shrunk=$(serve_counter buffers_shrunk) RSS $(rss_kib) KiB"
  awk -F'buffered_bytes_reserved=' -v max="$BUDGET" '/^counters:/{split($2,a," "); if (a[1]+0 > max) bad=1} END{exit bad}' \
    "$SERVE_OUT" || fail "a counters line shows more than $BUDGET bytes reserved"
  netns_wait_until 30 "the table to empty" table_empty || fail "the table did not empty: $(serve_states)"
done
it_py "$NETNS_TMP/flood-b1.json" "$NETNS_TMP/stats.json" <<'EOF'
import json, os, sys
from it import *
r = json.load(open(sys.argv[1])); j = json.load(open(sys.argv[2]))['limits']
per = 2 * 4 * (1440 if os.environ.get('IT_AF') == '6' else 1460)  # 4 x MSS each way (IPv6's header is 20 bytes longer)
check(r['connected'] <= (2 << 20) // per, "%d connected, more than the budget allows (%d)" % (r['connected'], (2 << 20) // per))
check(r['connected'] >= 100, "only %d connected" % r['connected'])
check(r['bytes_received'] > 0, "no echo came back during the flood")
check(j['buffers_shrunk'] >= r['connected'], "buffers_shrunk %d < connected %d" % (j['buffers_shrunk'], r['connected']))
check(j['syn_dropped_buffers_full'] > 0, "syn_dropped_buffers_full is 0")
check(j['buffered_bytes_reserved'] == 0, "buffers still reserved with no connection: %d" % j['buffered_bytes_reserved'])
done("budget: %d connected with minimum buffers, %d SYNs dropped, %d shrunk" % (r['connected'], j['syn_dropped_buffers_full'], j['buffers_shrunk']))
EOF
echo "   RSS: start ${rss0} KiB, after round 1 ${rss1} KiB, after round 2 ${rss2} KiB"
[ $((rss2 - rss1)) -lt $((16 << 10)) ] || fail "RSS grew $((rss2 - rss1)) KiB in the second round (unbounded growth?)"
[ $((rss1 - rss0)) -lt $((128 << 10)) ] || fail "RSS grew $((rss1 - rss0)) KiB under a 2 MiB buffer budget"
ok "RSS bounded: +$((rss1 - rss0)) KiB after round 1, +$((rss2 - rss1)) KiB more after round 2"
echo_again buffers
serve_stop

echo "PASS $(basename "$0") ($(it_elapsed))"
