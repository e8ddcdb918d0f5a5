#!/usr/bin/env bash
# `synack serve` on an IPv6 address (issue 14): --listen [fd00:111::1]:8080 in the client
# namespace, kernel clients in the peer namespace over IPv6. Echo integrity (integrity_clients.py:
# 200 threads x 64 KiB random bytes released together, every byte checked, foreign bytes named) with
# the veth's GRO/GSO/TSO on and off; afterwards only TIME_WAIT in synack's table. The engine is
# dual-stack, so the interface's IPv4 address answers too (a small IPv4 run on the same server).
# Then --http against curl -6 -g. The ip6tables rule is there while serve runs and gone after
# SIGTERM.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
it_init "$@"
it_require_ipv6
netns_require_tools curl ip6tables-save

SERVE_LISTEN="[$NETNS_IP6_C]:$SERVE_PORT"
rules6() { ip netns exec "$NETNS_C" ip6tables-save 2>/dev/null | grep -i synack || true; }
rule_present() {
  [ -n "$(rules6)" ] || fail "no synack rule in ip6tables-save while serve runs"
  ok "ip6tables-save while serve runs: $(rules6 | head -n 1)"
}
no_rule6_left() {
  [ -z "$(rules6)" ] || fail "ip6tables rules left behind: $(rules6)"
  ok "no ip6tables rule left behind"
}

serve_counters() { serve_table; grep '^counters:' "$NETNS_TMP/table.txt" || true; }
integrity6() { INTEGRITY_HOST=$NETNS_IP6_C integrity_run "$1" "$SERVE_PORT" "$2" "$3" "$4" serve_counters; }

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

# ------------------------------------------------------------------------------------------------
it_section "echo on [$NETNS_IP6_C]:$SERVE_PORT"
# --msl 1: TIME_WAITs of one run are gone before the next reuses the clients' ports.
serve_start serve6 --echo --backlog 1024 --msl 1
grep -qF "listening on [$NETNS_IP6_C]:$SERVE_PORT via $NETNS_IF_C" "$SERVE_OUT" \
  || fail "the listening line must name [$NETNS_IP6_C]:$SERVE_PORT: $(head -n 1 "$SERVE_OUT")"
rule_present

for mode in on off; do
  it_section "IPv6, offloads $mode: 200 threads x 64 KiB"
  integrity_offloads "$mode"
  integrity6 "IPv6, offloads $mode, 200 x 64 KiB" 200 65536 1
  no_close_wait
done
integrity_offloads on

it_section "the same server over IPv4 ($NETNS_IP_C, dual-stack engine)"
integrity_run "IPv4 on the IPv6 server, 20 x 16 KiB" "$SERVE_PORT" 20 16384 1 serve_counters
no_close_wait

serve_table
grep -qF "[$NETNS_IP6_C]:$SERVE_PORT" "$NETNS_TMP/table.txt" || fail "the SIGUSR1 table must show [$NETNS_IP6_C]:$SERVE_PORT"
ok "SIGUSR1 table: $(grep '^LISTEN' "$NETNS_TMP/table.txt")"
serve_stop
no_rule6_left

# ------------------------------------------------------------------------------------------------
it_section "--http against curl -6 -g"
serve_start serve6_http --http
rule_present
URL="http://[$NETNS_IP6_C]:$SERVE_PORT/"
codes=$(ip netns exec "$NETNS_S" timeout 120 bash -c '
  for i in $(seq 1 100); do curl -6 -g -sS --max-time 5 -o /dev/null -w "%{http_code}\n" "$1" || echo fail; done' _ "$URL") \
  || fail "the curl loop did not finish"
good=$(grep -c '^200$' <<<"$codes" || true)
[ "$good" = 100 ] || fail "only $good of 100 curl -6 requests got 200: $(sort <<<"$codes" | uniq -c | tr -s ' \n' ' ')"
ok "100 of 100 curl -6 -g requests got 200"
body=$(ip netns exec "$NETNS_S" curl -6 -g -sS --max-time 5 "$URL") || fail "curl -6 failed"
grep -q "Hello from synack" <<<"$body" || fail "unexpected page: $body"
verbose=$(ip netns exec "$NETNS_S" curl -6 -g -sS -v --max-time 5 -o /dev/null -o /dev/null "$URL" "$URL" 2>&1) \
  || fail "two URLs in one curl failed: $verbose"
grep -qiE "re-?using (existing )?connection" <<<"$verbose" || { echo "$verbose"; fail "curl did not reuse the keep-alive connection"; }
ok "the page over IPv6; two URLs in one curl call share one keep-alive connection"
serve_stop
no_rule6_left

echo "PASS $(basename "$0") ($(it_elapsed))"
