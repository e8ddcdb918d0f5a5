#!/usr/bin/env bash
# Fault: synack's interface goes down for ~1.5 s in the middle of a transfer, then comes back.
# `synack get` downloads a random file from nginx in the peer namespace; the peer's egress is
# paced (tc tbf, 80 Mbit/s) so the transfer is still running when, after the first 4 MiB have
# arrived, `ip link set veth-c down` runs in synack's namespace; 1.5 s later it is set up again.
#   1. while down, the download stalls (the file does not grow) and synack keeps running;
#   2. synack get exits 0 and the file is byte-exact (sha256);
#   3. the same with `synack serve --echo` and a kernel client echoing 8 MiB through the outage
#      (the server's side of the flap: its sends fail with ENETDOWN, its ring misses frames);
#      serve's counters show the outage (link_down >= 1) and it stops cleanly afterwards;
#   4. no rule left behind.
# Runs over IPv4 and, as integration.test_fault_link_flap.ipv6, over IPv6 (nginx and serve on the
# IPv6 addresses).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
# shellcheck disable=SC2034  # read by serve_start (serve_lib.sh)
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
command -v nginx >/dev/null || { echo "SKIP: nginx missing (run scripts/setup-deps.sh)"; exit 77; }
command -v tc >/dev/null || { echo "SKIP: tc missing (iproute2)"; exit 77; }
GET_SIZE_MB=24
get_make_blob
netns_nginx 8080 || fail "nginx did not start"
ip netns exec "$NETNS_S" tc qdisc add dev "$NETNS_IF_S" root tbf rate 80mbit burst 64kb latency 200ms \
  || { echo "SKIP: tc tbf not available"; exit 77; }
cp "$IT_DIR/fault_clients.py" "$NETNS_TMP/fault_clients.py"

size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
link_state() { ip -n "$NETNS_C" -o link show "$NETNS_IF_C" | grep -o 'state [A-Z]*' || true; }
# flap FILE MIN_BYTES: once FILE has MIN_BYTES, take veth-c down for 1.5 s; check it stalls.
flap() {
  local file=$1 min=$2 at
  netns_wait_until 30 "$min bytes in $(basename "$file")" bash -c "[ \$(stat -c %s '$file' 2>/dev/null || echo 0) -ge $min ]" \
    || fail "the transfer did not reach $min bytes"
  ip -n "$NETNS_C" link set "$NETNS_IF_C" down
  at=$(size_of "$file")
  local t0; t0=$(date +%s%N)
  while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1500 ]; do sleep 0.1; done
  FLAP_GROWTH=$(( $(size_of "$file") - at ))
  ip -n "$NETNS_C" link set "$NETNS_IF_C" up
  echo "   link down at $at bytes for 1.5 s ($(link_state) now); grew $FLAP_GROWTH bytes meanwhile"
}

# ------------------------------------------------------------------------------------------------
it_section "synack get through a 1.5 s link outage"
OUT="$NETNS_TMP/get.bin"
IT_CTX_RUNS+=(get)
echo "synack get $(it_url "$IT_IP_S" 8080 blob.bin) -o $OUT" >"$NETNS_TMP/get.cmd"
timeout -k 5 60 ip netns exec "$NETNS_C" "$SYNACK" get "$(it_url "$IT_IP_S" 8080 blob.bin)" -o "$OUT" \
  >"$NETNS_TMP/get.out" 2>"$NETNS_TMP/get.err" </dev/null &
GPID=$!
NETNS_PIDS+=("$GPID")
flap "$OUT" $((4 << 20))
netns_pid_alive "$GPID" || fail "synack get ended during the outage"
# The ring may hold a few frames that arrived before the down: allow 256 KiB of growth.
[ "$FLAP_GROWTH" -le $((256 << 10)) ] || fail "the file grew $FLAP_GROWTH bytes while the link was down?"
it_wait_bg get "$GPID" 60
[ "$IT_RC" = 0 ] || fail "synack get exited $IT_RC after the outage: $(tail -n 3 "$NETNS_TMP/get.err")"
got=$(sha256sum <"$OUT" | cut -d' ' -f1)
[ "$got" = "$GET_WANT" ] || fail "sha256 differs after the outage (got $got, want $GET_WANT; $(size_of "$OUT") bytes)"
ok "get: ${GET_SIZE_MB} MiB byte-exact through the outage ($(grep -m1 handshake "$NETNS_TMP/get.err" || true))"
[ -z "$(it_rules "$NETNS_C")" ] || fail "rule left after get: $(it_rules)"

# ------------------------------------------------------------------------------------------------
it_section "synack serve --echo through a 1.5 s link outage"
ip netns exec "$NETNS_S" tc qdisc del dev "$NETNS_IF_S" root
serve_start serve --echo --stats "$NETNS_TMP/stats.json"
# A kernel client streams 8 MiB through the echo server at ~40 Mbit/s and checks every byte.
ip netns exec "$NETNS_S" "$(netns_python)" -u - "$IT_IP_C" "$SERVE_PORT" "$NETNS_TMP/echo.progress" \
  >"$NETNS_TMP/echo.log" 2>&1 <<'EOF' &
import hashlib, os, socket, sys, threading, time
host, port, progress = sys.argv[1], int(sys.argv[2]), sys.argv[3]
total = 8 << 20
data = os.urandom(total)
s = socket.create_connection((host, port), timeout=30)
s.settimeout(30)
def writer():
    sent = 0
    while sent < total:
        n = s.send(data[sent:sent + 16384])
        sent += n
        time.sleep(0.003)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=writer, daemon=True).start()
got = bytearray()
with open(progress, 'w') as f:
    pass
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
    with open(progress, 'a') as f:
        f.write('x' * 0)
    os.truncate(progress, len(got))
print("echoed %d of %d bytes, %s" % (len(got), total, "exact" if bytes(got) == data else "DIFFERENT"))
sys.exit(0 if bytes(got) == data else 1)
EOF
EPID=$!
NETNS_PIDS+=("$EPID")
flap "$NETNS_TMP/echo.progress" $((2 << 20))
netns_wait_exit "$EPID" 60 || fail "the echo client did not finish"
rc=0; wait "$EPID" || rc=$?
cat "$NETNS_TMP/echo.log"
[ "$rc" = 0 ] || fail "the echo through the outage was not exact (client exit $rc)"
ok "serve: 8 MiB echoed byte-exact through the outage"
serve_table
down=$(serve_counter link_down)
[ "${down:-0}" -ge 1 ] || fail "serve's link_down counter is ${down:-missing} after the outage"
ok "serve counted the outage (link_down=$down, $(grep -o 'send_errors":[0-9]*' "$NETNS_TMP/stats.json" 2>/dev/null || true))"
serve_stop

echo "PASS $(basename "$0") ($(it_elapsed))"
