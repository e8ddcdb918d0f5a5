#!/usr/bin/env bash
# Fault: synack's interface is deleted while it runs (the veth pair removed).
#   1. `synack serve --echo` with a client connection open: the veth is deleted; serve exits
#      within 5 s with status 2 and one error line on stderr naming the interface and what happened;
#      its firewall rule is gone;
#   2. `synack get` of a paced download (tc tbf on the peer): the veth is deleted mid-transfer;
#      get exits within 5 s with status 2, one line naming the interface; no rule left;
#   3. `synack ping -c 0` (the blocking run_once loop, idle between probes): the same.
# Between sections the veth pair is made again (same names and addresses).
# Runs over IPv4 and, as integration.test_fault_link_gone.ipv6, over IPv6 (it_family in lib.sh).
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
BOUND=5

# remake_veth: the veth pair again, as scripts/netns.sh makes it.
remake_veth() { netns_link_pair "$NETNS_C" "$NETNS_S"; }

# delete_and_expect NAME PID: delete the veth, then expect PID to exit 2 within BOUND seconds
# with one stderr line naming the interface, and no rule left.
delete_and_expect() {
  local name=$1 pid=$2 t0 ms
  t0=$(date +%s%N)
  ip -n "$NETNS_C" link del "$NETNS_IF_C"
  it_wait_bg "$name" "$pid" "$BOUND"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$IT_RC" = 2 ] || fail "$name: expected exit 2 after the interface vanished, got $IT_RC"
  local err="$NETNS_TMP/$name.err"
  # One error line ("synack: ..."), the last one (get prints its progress lines before it).
  [ "$(grep -c '^synack: ' "$err")" = 1 ] || fail "$name: expected one 'synack:' error line, got: $(cat "$err")"
  tail -n 1 "$err" | grep '^synack: ' | grep -q "$NETNS_IF_C" \
    || fail "$name: the last stderr line does not name $NETNS_IF_C: $(cat "$err")"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "$name: rule left behind: $(it_rules)"
  ok "$name: exit 2 ${ms} ms after the delete (bound ${BOUND} s): $(tail -n 1 "$err"); no rule left"
}

# ------------------------------------------------------------------------------------------------
it_section "serve: the interface is deleted under it"
serve_start serve --echo
ip netns exec "$NETNS_S" "$(netns_python)" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hello"); s.recv(16); time.sleep(60)
' "$IT_IP_C" "$SERVE_PORT" >/dev/null 2>&1 &
NETNS_PIDS+=("$!")
netns_wait_until 10 "the client connection" \
  bash -c "ip netns exec '$NETNS_S' ss -Htn state established 'dport = :$SERVE_PORT' | grep -q ." \
  || fail "the client did not connect"
delete_and_expect serve "$SERVE_PID"
remake_veth

# ------------------------------------------------------------------------------------------------
it_section "get: the interface is deleted mid-transfer"
GET_SIZE_MB=24
get_make_blob
netns_nginx 8081 || fail "nginx did not start"
ip netns exec "$NETNS_S" tc qdisc add dev "$NETNS_IF_S" root tbf rate 40mbit burst 64kb latency 200ms \
  || { echo "SKIP: tc tbf not available"; exit 77; }
OUT="$NETNS_TMP/get.bin"
it_synack_bg get get "$(it_url "$IT_IP_S" 8081 blob.bin)" -o "$OUT"
GPID=$IT_BG_PID
netns_wait_until 30 "1 MiB downloaded" bash -c "[ \$(stat -c %s '$OUT' 2>/dev/null || echo 0) -ge 1048576 ]" \
  || fail "the download did not start"
delete_and_expect get "$GPID"
remake_veth

# ------------------------------------------------------------------------------------------------
it_section "ping -c 0: the interface is deleted between probes"
netns_http_server 8082 || fail "python3 -m http.server (8082) did not start"
it_synack_bg ping ping "$IT_IP_S" -p 8082 -c 0 -i 0.5 --json
PPID_=$IT_BG_PID
netns_wait_until 15 "a probe" grep -q '"ok":true' "$NETNS_TMP/ping.out" || fail "no successful probe"
delete_and_expect ping "$PPID_"

echo "PASS $(basename "$0") ($(it_elapsed))"
