#!/usr/bin/env bash
# Data integrity of the Asio front end under real concurrency (issue 12): examples/echo_server.cpp
# (synack::asio::stack + acceptor, one coroutine per connection) in synack's namespace, and
# integrity_clients.py in the peer namespace: kernel clients, one OS thread each (and several
# processes for the large run), released at once by a barrier, each sending its own random bytes;
# even-numbered clients half-close right after sending, odd ones wait for the echo. Every byte of
# every echo is checked and a wrong range is looked up in every other client's data (a leak between
# connections is named). With the veth's GRO/GSO/TSO on and off: 200 x 64 KiB (threads) and
# 1,000 x 16 KiB (4 processes x 250 threads).
#
# After each run every connection must be finished on both sides: the kernel side holds nothing
# but TIME-WAIT (each client closed first, after the server's echo; a connection the server never
# closed would sit in FIN-WAIT-2), within a deadline. Finally SIGTERM: the server reports every
# connection accepted, none open and none failed, exits 0 and leaves no firewall rule behind.
#
# Usage: test_asio_echo_integrity.sh SYNACK [ECHO_SERVER]. The example's path: the second argument,
# else $SYNACK_ECHO_SERVER (tests/CMakeLists.txt sets it), else the build tree's
# examples/example_echo_server next to the synack binary.
# Runs over IPv4 and, as integration.test_asio_echo_integrity.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
ECHO_SERVER=${2:-${SYNACK_ECHO_SERVER:-}}
if [ -z "$ECHO_SERVER" ] && [ -n "${1:-}" ]; then
  ECHO_SERVER="$(dirname "$1")/examples/example_echo_server"
fi
if [ -z "$ECHO_SERVER" ] || [ ! -x "$ECHO_SERVER" ]; then
  echo "SKIP: the echo server example is not built (${ECHO_SERVER:-no path}): build example_echo_server" >&2
  exit 77
fi
ECHO_SERVER=$(readlink -f "$ECHO_SERVER")
it_init "${1:-}"
netns_require_tools ethtool

PORT=8080
ECHO_PID=
ECHO_OUT="$NETNS_TMP/echo.out"
# An instrumented (ASan) build is several times slower: every deadline stretches.
SETTLE=30
STOP=20
if [ "${SYNACK_SANITIZED:-0}" = 1 ]; then
  SETTLE=90
  STOP=60
fi
TOTAL=0  # connections made so far

# echo_start: the example in the background in $NETNS_C; waits (bounded) for "listening on".
echo_start() {
  echo "example_echo_server $(it_hp "$IT_IP_C" "$PORT")" >"$NETNS_TMP/echo.cmd"
  IT_CTX_RUNS+=(echo)
  ip netns exec "$NETNS_C" env --default-signal=INT,TERM "$ECHO_SERVER" "$(it_hp "$IT_IP_C" "$PORT")" \
    >"$ECHO_OUT" 2>"$NETNS_TMP/echo.err" </dev/null &
  ECHO_PID=$!
  NETNS_PIDS+=("$ECHO_PID")
  echo "   \$ $(basename "$ECHO_SERVER") $(it_hp "$IT_IP_C" "$PORT") &  (pid $ECHO_PID)"
  listening_or_gone() { grep -qxF "listening on $(it_hp "$IT_IP_C" "$PORT")" "$ECHO_OUT" || ! netns_pid_alive "$ECHO_PID"; }
  netns_wait_until 15 "the echo server to listen" listening_or_gone || fail "the echo server did not start"
  if ! grep -qxF "listening on $(it_hp "$IT_IP_C" "$PORT")" "$ECHO_OUT"; then
    rc=0; wait "$ECHO_PID" || rc=$?
    fail "the echo server did not start (exit $rc: $(cat "$NETNS_TMP/echo.err"))"
  fi
  ok "the echo server is listening ($(head -n 1 "$ECHO_OUT"))"
}


echo_alive() { netns_pid_alive "$ECHO_PID" || echo "   the echo server died"; }
integrity() {  # LABEL N SIZE PROCS
  TOTAL=$(($TOTAL + $2))
  integrity_run "$1" "$PORT" "$2" "$3" "$4" echo_alive
  netns_pid_alive "$ECHO_PID" || fail "$1: the echo server died"
}

# kernel_states: "STATE=N ..." of the peer's connections to the server (ss), sorted.
kernel_states() {
  ip netns exec "$NETNS_S" ss -Htan "( dport = :$PORT )" 2>/dev/null | awk '{print $1}' | sort | uniq -c \
    | awk '{printf "%s=%s ", $2, $1}'
}

# no_leak: every connection finished, within a deadline: the kernel side holds nothing but
# TIME-WAIT (the server's FIN came for every connection: each echo coroutine reached close()).
no_leak() {
  only_time_wait() {
    local s
    s=$(kernel_states)
    [ -z "$s" ] || [[ "$s" =~ ^TIME-WAIT=[0-9]+\ $ ]]
  }
  netns_wait_until "$SETTLE" "only TIME-WAIT on the kernel side" only_time_wait \
    || fail "connections not finished (kernel side): $(kernel_states)"
  ok "kernel side afterwards: $(kernel_states)"
}

echo_start
for mode in on off; do
  it_section "offloads $mode: 200 threads x 64 KiB"
  integrity_offloads "$mode"
  integrity "offloads $mode, 200 x 64 KiB" 200 65536 1
  no_leak
  it_section "offloads $mode: 1,000 clients x 16 KiB (4 processes x 250 threads)"
  integrity "offloads $mode, 1000 x 16 KiB" 1000 16384 4
  no_leak
done

it_section "SIGTERM"
kill -TERM "$ECHO_PID"
if ! netns_wait_exit "$ECHO_PID" "$STOP"; then
  kill -KILL "$ECHO_PID" 2>/dev/null || true
  fail "the echo server (pid $ECHO_PID) did not exit within ${STOP}s of SIGTERM"
fi
rc=0
wait "$ECHO_PID" || rc=$?
echo "$rc" >"$NETNS_TMP/echo.rc"
[ "$rc" = 0 ] || fail "the echo server exited with $rc after SIGTERM"
line=$(grep '^signal ' "$ECHO_OUT" | tail -n 1)
expect="connections accepted, 0 open, 0 failed"
[[ "$line" == *"($TOTAL $expect)" ]] || fail "expected '$TOTAL $expect' at SIGTERM, got: $line"
ok "the echo server exited 0 on SIGTERM: $line"
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
ok "no firewall rule left behind"
echo "PASS ($(it_elapsed))"
