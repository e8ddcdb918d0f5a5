#!/usr/bin/env bash
# synack's RST-guard firewall rule (iptables filter table, OUTPUT chain, comment "synack pid=PID",
# in synack's own namespace):
#   1. present while synack runs; a kernel curl from the same namespace (to the port synack is
#      pinging and to another one) still works meanwhile; synack's probes keep succeeding;
#   2. gone after a normal exit, after SIGINT and after SIGTERM (and the interrupted ping still
#      prints its summary record);
#   3. after SIGKILL the rule stays; `synack rules show` lists it with the dead pid; `synack rules
#      clean` removes it but not the rule of a synack that is still running;
#   4. --no-rst-guard installs no rule;
#   5. a rule that is not synack's (a user's rule in the same chain) is never touched.
# Runs over IPv4 and, as integration.test_rst_guard.ipv6, over IPv6: the rule checked is then the
# ip6tables one (scoped to the client's /128), the user's rule an ip6tables rule, curl over IPv6.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
command -v curl >/dev/null || { echo "SKIP: curl missing (run scripts/setup-deps.sh)"; exit 77; }

netns_http_server 8080 || fail "python3 -m http.server (8080) did not start"
netns_http_server 8081 || fail "python3 -m http.server (8081) did not start"
ip netns exec "$NETNS_C" "$IT_IPT" -A OUTPUT -p tcp --dport 9999 -m comment --comment it-user-rule -j ACCEPT

# The rule of this run's family (it_rules prefixes ip6tables lines with "ip6: ").
if [ "$IT_FAMILY" = 6 ]; then FAM_LINES=(grep '^ip6: '); PLEN=128; else FAM_LINES=(grep -v '^ip6: '); PLEN=32; fi
has_rule()   { it_rules "$NETNS_C" | "${FAM_LINES[@]}" | grep -q "synack pid=$1\b"; }
no_rules()   { [ -z "$(it_rules "$NETNS_C")" ]; }
ok_probes()  { grep -c '"ok":[[:space:]]*true' "$NETNS_TMP/$1.out" 2>/dev/null || true; }
has_probes() { [ "$(ok_probes "$1")" -ge "$2" ]; }
kernel_curl() {
  local code
  code=$(ip netns exec "$NETNS_C" curl -sS -m 5 -o /dev/null -w '%{http_code}' "$(it_url "$IT_IP_S" "$1")") \
    || fail "kernel curl to $(it_hp "$IT_IP_S" "$1") failed while synack runs (exit $?)"
  [ "$code" = 200 ] || fail "kernel curl to $(it_hp "$IT_IP_S" "$1") got HTTP $code while synack runs"
}

# ------------------------------------------------------------------------------------------------
it_section "normal exit removes the rule"
no_rules || fail "synack rules present before any run: $(it_rules)"
it_synack normal 30 ping "$IT_IP_S" -p 8080 -c 2 -i 0.1
[ "$IT_RC" = 0 ] || fail "expected exit 0, got $IT_RC"
no_rules || fail "rule left after a normal exit: $(it_rules)"
ok "no synack rule after a normal exit"

# ------------------------------------------------------------------------------------------------
for SIG in INT TERM; do
  it_section "rule while running, kernel TCP unaffected; SIG$SIG removes it"
  it_synack_bg "bg$SIG" ping "$IT_IP_S" -p 8080 -c 0 -i 0.2 --json
  PID=$IT_BG_PID
  netns_wait_until 15 "synack's rule (pid $PID)" has_rule "$PID" \
    || fail "no $IT_IPT rule with comment 'synack pid=$PID' while synack runs: $(it_rules)"
  ip netns exec "$NETNS_C" "$IT_IPT-save" -t filter | grep -- '-A OUTPUT' | grep -q "synack pid=$PID\b" \
    || fail "synack's rule is not in the filter table's OUTPUT chain: $(ip netns exec "$NETNS_C" "$IT_IPT-save")"
  ip netns exec "$NETNS_C" "$IT_IPT-save" -t filter | grep "synack pid=$PID\b" | grep -q -- "-s $IT_IP_C/$PLEN" \
    || fail "synack's $IT_IPT rule is not scoped to $IT_IP_C/$PLEN: $(ip netns exec "$NETNS_C" "$IT_IPT-save")"
  ok "rule present while running: $(it_rules | tr -s ' ' | head -n 3)"
  netns_wait_until 15 "2 ok probes from the background synack" has_probes "bg$SIG" 2 \
    || fail "the background synack ping produced no successful probes"
  for _ in 1 2 3; do kernel_curl 8080; kernel_curl 8081; done
  ok "kernel curl to ports 8080 and 8081 works while synack runs"
  netns_wait_until 15 "more ok probes after the curls" has_probes "bg$SIG" 4 \
    || fail "synack's probes stopped succeeding while the kernel's curl ran"
  kill "-$SIG" "$PID"
  it_wait_bg "bg$SIG" "$PID" 15
  case "$SIG:$IT_RC" in
    INT:0|INT:1|INT:130|TERM:0|TERM:1|TERM:143) ;;
    *) fail "after SIG$SIG synack exited with $IT_RC (expected 0, 1 or 128+signal)" ;;
  esac
  no_rules || fail "rule left after SIG$SIG: $(it_rules)"
  ok "SIG$SIG: exit $IT_RC, no synack rule left"
  it_py "$NETNS_TMP/bg$SIG.out" <<'EOF' || fail "no summary record after SIG$SIG"
import sys
from it import *
recs = ndjson(sys.argv[1])
s = [r for r in recs if r.get('type') == 'summary']
check(len(s) == 1, "expected a summary record when interrupted, got %d" % len(s))
done("summary printed when interrupted")
EOF
done

# ------------------------------------------------------------------------------------------------
it_section "SIGKILL leaves the rule; 'rules clean' removes it, not a live one"
it_synack_bg killed ping "$IT_IP_S" -p 8080 -c 0 -i 0.2 --ports 20000-20999
KPID=$IT_BG_PID
it_synack_bg alive ping "$IT_IP_S" -p 8080 -c 0 -i 0.2 --ports 21000-21999
APID=$IT_BG_PID
netns_wait_until 15 "rule of pid $KPID" has_rule "$KPID" || fail "no rule for pid $KPID: $(it_rules)"
netns_wait_until 15 "rule of pid $APID" has_rule "$APID" || fail "no rule for pid $APID: $(it_rules)"
kill -KILL "$KPID"
it_wait_bg killed "$KPID" 10
if has_rule "$KPID"; then ok "rule of SIGKILLed pid $KPID remains (as expected)"; else
  echo "note: the rule of SIGKILLed pid $KPID is already gone"; fi
it_synack show 20 rules show
[ "$IT_RC" = 0 ] || fail "synack rules show: expected exit 0, got $IT_RC"
if has_rule "$KPID"; then
  grep -qw "$KPID" "$IT_OUT" || fail "synack rules show does not list the dead owner's pid $KPID"
fi
grep -qw "$APID" "$IT_OUT" || fail "synack rules show does not list the live owner's pid $APID"
ok "rules show lists pids $KPID (dead) and $APID (alive)"
it_synack clean 20 rules clean
[ "$IT_RC" = 0 ] || fail "synack rules clean: expected exit 0, got $IT_RC"
! has_rule "$KPID" || fail "rules clean left the dead pid's rule: $(it_rules)"
has_rule "$APID" || fail "rules clean removed the rule of live pid $APID"
ok "rules clean removed the dead owner's rule and kept the live one"
kill -TERM "$APID"
it_wait_bg alive "$APID" 15
no_rules || fail "rule left after SIGTERM of pid $APID: $(it_rules)"
it_synack show2 20 rules show
[ "$IT_RC" = 0 ] || fail "synack rules show with no rules: expected exit 0, got $IT_RC"
ok "no synack rule left; rules show exits 0 with none"

# ------------------------------------------------------------------------------------------------
it_section "--no-rst-guard installs no rule"
it_synack_bg noguard ping "$IT_IP_S" -p 8080 -c 0 -i 0.2 --json --no-rst-guard
NPID=$IT_BG_PID
netns_wait_until 15 "a probe from synack --no-rst-guard" has_probes noguard 1 \
  || fail "synack --no-rst-guard produced no successful probe"
no_rules || fail "--no-rst-guard installed a rule: $(it_rules)"
kill -TERM "$NPID"
it_wait_bg noguard "$NPID" 15
ok "--no-rst-guard: no rule"

# ------------------------------------------------------------------------------------------------
it_section "a user's rule in the same chain is untouched"
ip netns exec "$NETNS_C" "$IT_IPT-save" | grep -q 'it-user-rule' \
  || fail "the user's own OUTPUT rule disappeared: $(ip netns exec "$NETNS_C" "$IT_IPT-save")"
ok "the user's rule is still there"

echo "PASS $(basename "$0") ($(it_elapsed))"
