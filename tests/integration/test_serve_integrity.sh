#!/usr/bin/env bash
# Data integrity of `synack serve --echo` under real concurrency (issue 12): kernel clients in the
# peer namespace, one OS thread each (and several processes for the large run), all released at
# once by a barrier, each sending its own random bytes; even-numbered clients half-close right
# after sending, odd ones wait for the echo. Every byte of every echo is checked and a wrong range
# is looked up in every other client's data (integrity_clients.py names the owner of foreign
# bytes). Runs with the veth's GRO/GSO/TSO on and off: 200 x 64 KiB (threads) and 1,000 x 16 KiB
# (4 processes x 250 threads). Afterwards nothing may be left in CLOSE_WAIT (or any state but
# TIME_WAIT) on synack's side, and SIGTERM ends the server cleanly.
#
# Before the fix, 20-36 of 200 echoes held another client's bytes from its offset 0: an engine
# call made by the server (receive) delivered events re-entrantly, an accept inside it serviced
# a new connection into the server's shared receive buffer, and the outer call then echoed that.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
it_init "$@"


serve_counters() { serve_table; grep '^counters:' "$NETNS_TMP/table.txt" || true; }
integrity() { integrity_run "$1" "$SERVE_PORT" "$2" "$3" "$4" serve_counters; }

no_close_wait() {  # nothing but TIME_WAIT (or nothing) in synack's table, within a deadline
  only_time_wait() {
    serve_table
    local s
    s=$(serve_states)
    [ -z "$s" ] || [[ "$s" =~ ^TIME_WAIT=[0-9]+$ ]]
  }
  netns_wait_until 30 "only TIME_WAIT in synack's table" only_time_wait \
    || { tail -n 20 "$NETNS_TMP/table.txt"; fail "connections left in other states: $(serve_states)"; }
  ok "synack's table afterwards: $(serve_states)"
}

# --msl 1: TIME_WAITs of one run are gone before the next reuses the clients' ports.
serve_start serve --echo --backlog 1024 --msl 1 --stats "$NETNS_TMP/stats.json"

for mode in on off; do
  it_section "offloads $mode: 200 threads x 64 KiB"
  integrity_offloads "$mode"
  integrity "offloads $mode, 200 x 64 KiB" 200 65536 1
  no_close_wait
  it_section "offloads $mode: 1,000 clients x 16 KiB (4 processes x 250 threads)"
  integrity "offloads $mode, 1000 x 16 KiB" 1000 16384 4
  no_close_wait
done

serve_stop
echo "PASS ($(it_elapsed))"
