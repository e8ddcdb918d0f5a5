#!/usr/bin/env bash
# Fault: synack is SIGKILLed mid-run (no destructor runs, its RST-guard rule stays behind); the
# next synack to start removes the stale rule by itself, and only stale ones:
#   1. a `synack serve` with a client connection open is SIGKILLed: its rule ("synack pid=P
#      start=T") stays; `synack rules show` lists it with a dead owner;
#   2. a forged rule whose pid is alive but whose start time is not that process's (pid reuse) is
#      stale too;
#   3. the next start (`synack ping`, which installs its own guard) removes both stale rules while
#      the rule of another synack that is still running stays; after the ping and the live synack
#      exit no synack rule is left and the user's own rule in the chain is untouched;
#   4. a serve started again on the same port as the killed one works (curl gets the page).
# Runs over IPv4 and, as integration.test_fault_sigkill.ipv6, over IPv6: serve listens on the
# client's IPv6 address, the forged stale rule and the user's rule are ip6tables rules.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
# shellcheck disable=SC2034  # read by serve_start (serve_lib.sh)
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
command -v curl >/dev/null || { echo "SKIP: curl missing (run scripts/setup-deps.sh)"; exit 77; }

netns_http_server 8081 || fail "python3 -m http.server (8081) did not start"
ip netns exec "$NETNS_C" "$IT_IPT" -A OUTPUT -p tcp --dport 9999 -m comment --comment it-user-rule -j ACCEPT

has_rule() { it_rules "$NETNS_C" | grep -q "synack pid=$1 "; }
# Rules of this run's family and of the other one (a dual-stack engine has both an iptables and
# an ip6tables rule; it_rules lists the ip6tables ones with an "ip6: " prefix).
rule_count4() { it_rules "$NETNS_C" | grep -v '^ip6: ' | grep -c 'synack pid=' || true; }
rule_count6() { it_rules "$NETNS_C" | grep '^ip6: ' | grep -c 'synack pid=' || true; }
if [ "$IT_FAMILY" = 6 ]; then
  rule_count() { rule_count6; }; rule_count_other() { rule_count4; }; PLEN=128
else
  rule_count() { rule_count4; }; rule_count_other() { rule_count6; }; PLEN=32
fi
curl_page() {
  ip netns exec "$NETNS_S" curl -sS -m 5 -o /dev/null -w '%{http_code}' "$(it_url "$IT_IP_C" "$SERVE_PORT")" 2>/dev/null
}

# ------------------------------------------------------------------------------------------------
it_section "SIGKILL of a serving synack leaves its rule"
serve_start killed --http
KPID=$SERVE_PID
netns_wait_until 10 "rule of pid $KPID" has_rule "$KPID" || fail "no rule for pid $KPID: $(it_rules)"
[ "$(curl_page)" = 200 ] || fail "curl to synack serve did not get HTTP 200 before the kill"
# A client connection open at the moment of the kill.
ip netns exec "$NETNS_S" "$(netns_python)" -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
time.sleep(30)
' "$IT_IP_C" "$SERVE_PORT" >/dev/null 2>&1 &
NETNS_PIDS+=("$!")
netns_wait_until 10 "an ESTABLISHED client" \
  bash -c "ip netns exec '$NETNS_S' ss -Htn state established 'dport = :$SERVE_PORT' | grep -q ." \
  || fail "the client connection did not establish"
kill -KILL "$KPID"
it_wait_bg killed "$KPID" 10
[ "$IT_RC" = 137 ] || fail "expected the SIGKILLed synack to end with 137, got $IT_RC"
has_rule "$KPID" || fail "the SIGKILLed synack's rule is gone already (nothing to clean?): $(it_rules)"
ok "rule of SIGKILLed pid $KPID remains: $(it_rules | grep "pid=$KPID" | tr -s ' ' | head -n 1)"

it_synack show 20 rules show --json
[ "$IT_RC" = 0 ] || fail "synack rules show: expected exit 0, got $IT_RC"
grep "\"pid\":$KPID," "$IT_OUT" | grep -q '"alive":false' \
  || fail "synack rules show does not list pid $KPID as dead: $(cat "$IT_OUT")"
ok "rules show lists pid $KPID as dead"

# ------------------------------------------------------------------------------------------------
it_section "a forged rule of a live pid with the wrong start time is stale too"
# This shell's pid is alive, but it is no synack started at time 1: pid reuse must not protect it.
ip netns exec "$NETNS_C" "$IT_IPT" -I OUTPUT -p tcp -s "$IT_IP_C/$PLEN" --sport 40000 --tcp-flags RST RST \
  -m comment --comment "synack pid=$$ start=1" -j DROP
has_rule "$$" || fail "could not plant the forged rule: $(it_rules)"
ok "planted a stale rule for live pid $$ (start=1)"

# ------------------------------------------------------------------------------------------------
it_section "the next start removes stale rules and keeps live ones"
it_synack_bg alive ping "$IT_IP_S" -p 8081 -c 0 -i 0.2 --ports 21000-21999 --json
APID=$IT_BG_PID
netns_wait_until 15 "rule of pid $APID" has_rule "$APID" || fail "no rule for the live synack $APID: $(it_rules)"
# The live synack's own start already cleaned the stale ones (every guard cleans at start); the
# check that matters: after a fresh start only live owners' rules are left.
it_synack next 30 ping "$IT_IP_S" -p 8081 -c 1 --ports 22000-22999
[ "$IT_RC" = 0 ] || fail "the next synack ping failed (exit $IT_RC)"
! has_rule "$KPID" || fail "the stale rule of SIGKILLed pid $KPID survived the next start: $(it_rules)"
! has_rule "$$" || fail "the forged stale rule (pid $$, wrong start) survived the next start: $(it_rules)"
has_rule "$APID" || fail "a start removed the rule of live synack $APID"
[ "$(rule_count)" = 1 ] || fail "expected only the live synack's rule, got: $(it_rules)"
[ "$(rule_count_other)" -le 1 ] || fail "expected at most the live synack's rule of the other family, got: $(it_rules)"
ok "stale rules gone, live pid $APID's rule kept"
kill -TERM "$APID"
it_wait_bg alive "$APID" 15
[ -z "$(it_rules "$NETNS_C")" ] || fail "rules left after everything exited: $(it_rules)"
ip netns exec "$NETNS_C" "$IT_IPT-save" | grep -q it-user-rule || fail "the user's own rule disappeared"
ok "no synack rule left; the user's rule is untouched"

# ------------------------------------------------------------------------------------------------
it_section "serving again on the killed server's port"
serve_start again --http
[ "$(curl_page)" = 200 ] || fail "curl to the restarted synack serve did not get HTTP 200"
ok "restarted serve answers curl"
serve_stop

echo "PASS $(basename "$0") ($(it_elapsed))"
