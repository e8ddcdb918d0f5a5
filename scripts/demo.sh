#!/usr/bin/env bash
# A guided tour of synack: installs the dependencies, builds, makes a throw-away pair of network
# namespaces with the Linux kernel's TCP serving HTTP in one of them, points `synack ping` at it,
# and removes everything again (also on Ctrl-C or an error).
#
#   sudo ./scripts/demo.sh
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo), SKIP_BUILD=1 to use
# an existing build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: needs root (network namespaces, raw sockets, iptables); run: sudo $0" >&2
  exit 2
fi

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}

bold=; dim=; off=
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
heading() { printf '\n%s==> %s%s\n' "$bold" "$1" "$off"; shift; local l; for l in "$@"; do printf '    %s\n' "$l"; done; echo; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  heading "Installing dependencies and building synack"
  bash scripts/setup-deps.sh
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target synack
fi
SYNACK=$(find "$REPO/$BUILD_DIR" -maxdepth 3 -type f -name synack -perm -u+x 2>/dev/null | head -n 1)
[ -n "$SYNACK" ] || { echo "demo.sh: no synack executable under $BUILD_DIR" >&2; exit 2; }

# shellcheck source=netns.sh
source "$REPO/scripts/netns.sh"
netns_setup    # removes everything on exit, error, Ctrl-C
netns_http_server 8080

heading "A throw-away network" \
  "namespace $NETNS_C: synack's side, $NETNS_IF_C $NETNS_IP_C" \
  "namespace $NETNS_S: the Linux kernel's own TCP, python3 -m http.server on $NETNS_IP_S:8080" \
  "joined by a veth pair; nothing here touches your host's interfaces or firewall."

run() {
  printf '%s$ synack %s%s\n' "$dim" "$*" "$off"
  local rc=0
  ip netns exec "$NETNS_C" "$SYNACK" "$@" || rc=$?
  [ "$rc" = 0 ] || printf '%s(synack exited with status %d)%s\n' "$dim" "$rc" "$off"
}

heading "1. Graceful close: --close fin --trace" \
  "Each line is one TCP segment synack sent (>) or received, in tcpdump's notation, followed by" \
  "synack's connection state after it, plus 'state A -> B' lines. Look for the handshake" \
  "([S], [S.], [.]), the four-way close ([F.] from us, the kernel's ACK and [F.], our last ACK)," \
  "and TIME_WAIT turning into CLOSED 2*MSL later (synack waits for it before exiting)."
run ping "$NETNS_IP_S" -p 8080 -c 2 -i 0.5 --close fin --trace

heading "2. Abortive close: --close rst --trace" \
  "Right after the handshake synack sends one RST ([R.] or [R]): no FIN, no TIME_WAIT."
run ping "$NETNS_IP_S" -p 8080 -c 2 -i 0.5 --close rst --trace

heading "3. Plain ping: 5 probes and the summary" \
  "One line per probe with the handshake time, then sent/ok/failed/loss and" \
  "min/avg/p50/p90/p99/max/mdev, like ping(8)."
run ping "$NETNS_IP_S" -p 8080 -c 5 -i 0.2

heading "4. The same as NDJSON (--json), one record per probe and a summary"
run ping "$NETNS_IP_S" -p 8080 -c 3 -i 0.2 --json

heading "5. When the network says no: a closed port (exit status 1, connection_refused)"
run ping "$NETNS_IP_S" -p 9 -c 1

heading "6. synack rules show (nothing runs now, so no rules)" \
  "While synack runs it installs one iptables rule (comment 'synack pid=PID') so that the" \
  "kernel does not answer synack's segments with RSTs; it removes it on exit, and" \
  "'synack rules clean' removes rules left by a process that was killed."
run rules show

heading "Done: cleaning up the namespaces"
