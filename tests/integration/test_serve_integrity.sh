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
# The listening line and the SIGUSR1 table name the listening endpoint; the family's firewall
# rule (iptables / ip6tables) is there while serve runs, and no rule is left after SIGTERM.
# Runs over IPv4 and, as integration.test_serve_integrity.ipv6, over IPv6 (it_family in lib.sh):
# --listen [fd00:111::1]:8080. The engine is dual-stack, so in the IPv6 twin the interface's IPv4
# address answers too: a small IPv4 run (20 x 16 KiB) on the same server, while it listens on IPv6.
#
# it-families: 4 6
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
LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
grep -qF "listening on $LISTEN via $NETNS_IF_C" "$SERVE_OUT" \
  || fail "the listening line must name $LISTEN via $NETNS_IF_C: $(head -n 1 "$SERVE_OUT")"
[ -n "$(it_family_rules)" ] || fail "no synack rule in $IT_IPT-save while serve runs"
ok "$IT_IPT-save while serve runs: $(it_family_rules | head -n 1)"

for mode in on off; do
  it_section "offloads $mode: 200 threads x 64 KiB"
  integrity_offloads "$mode"
  integrity "offloads $mode, 200 x 64 KiB" 200 65536 1
  no_close_wait
  it_section "offloads $mode: 1,000 clients x 16 KiB (4 processes x 250 threads)"
  integrity "offloads $mode, 1000 x 16 KiB" 1000 16384 4
  no_close_wait
done
integrity_offloads on

if [ "$IT_FAMILY" = 6 ]; then
  it_section "the same server over IPv4 ($NETNS_IP_C, dual-stack engine)"
  INTEGRITY_HOST=$NETNS_IP_C integrity "IPv4 on the IPv6 server, 20 x 16 KiB" 20 16384 1
  no_close_wait
fi

serve_table
grep -qF "$LISTEN" "$NETNS_TMP/table.txt" || fail "the SIGUSR1 table must show $LISTEN"
ok "SIGUSR1 table: $(grep '^LISTEN' "$NETNS_TMP/table.txt")"
serve_stop
echo "PASS ($(it_elapsed))"
