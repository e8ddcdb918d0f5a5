#!/usr/bin/env bash
# Usage and set-up errors exit 2 with a message on stderr; --help works:
#   - `ping -I nosuch0` (an unknown interface): exit 2, exactly one line on stderr naming it;
#   - a non-existent option, a missing HOST, a bad --close value, a port out of range, an unknown
#     subcommand, IPv6 targets written wrong (an unclosed '[', a bad port or junk after ']', a bad
#     literal, -4 with an IPv6 literal, an unbracketed IPv6 URL, --flow-label towards IPv4): exit 2
#     and something on stderr;
#   - without root privileges (uid 65534, no capabilities): exit 2, one line on stderr;
#   - `synack --help`, `synack ping --help`, `synack rules --help`: exit 0; ping's help names
#     --count and --close.
# Everything that could send runs inside a fresh namespace (no traffic leaves it).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

stderr_lines() { grep -c . "$IT_ERR" || true; }

# ------------------------------------------------------------------------------------------------
it_section "unknown interface"
it_synack nosuch 20 ping "$NETNS_IP_S" -p 8080 -c 1 -I nosuch0
[ "$IT_RC" = 2 ] || fail "-I nosuch0: expected exit 2, got $IT_RC"
[ "$(stderr_lines)" = 1 ] || fail "-I nosuch0: expected exactly one line on stderr, got $(stderr_lines)"
grep -q nosuch0 "$IT_ERR" || fail "-I nosuch0: the error does not name the interface"
ok "-I nosuch0: exit 2, stderr: $(cat "$IT_ERR")"

# ------------------------------------------------------------------------------------------------
it_section "bad command lines"
check_usage() {  # NAME ARGS...
  local name=$1; shift
  it_synack "$name" 20 "$@"
  [ "$IT_RC" = 2 ] || fail "synack $*: expected exit 2, got $IT_RC"
  [ -s "$IT_ERR" ] || fail "synack $*: nothing on stderr"
  ok "synack $*: exit 2 ($(head -n 1 "$IT_ERR"))"
}
check_usage badopt ping "$NETNS_IP_S" -p 8080 -c 1 --no-such-option
check_usage nohost ping
check_usage badclose ping "$NETNS_IP_S" -p 8080 -c 1 --close bogus
check_usage badport ping "$NETNS_IP_S" -p 70000 -c 1
check_usage badsub no-such-subcommand
# IPv6 targets written wrong (each names what is wrong; a bare literal is never split into a port)
check_usage v6_noclose ping "[$NETNS_IP6_S" -p 8080 -c 1
check_usage v6_badport ping "[$NETNS_IP6_S]:70000" -c 1
check_usage v6_junk ping "[$NETNS_IP6_S]x8080" -c 1
check_usage v6_badlit ping "fd00:111::zz" -p 8080 -c 1
check_usage v6_family ping -4 "$NETNS_IP6_S" -p 8080 -c 1
grep -q "IPv6 address, but -4" "$IT_ERR" || fail "ping -4 IPv6-LITERAL: the message does not say why: $(cat "$IT_ERR")"
check_usage v6_url get "http://$NETNS_IP6_S:8080/"
check_usage v6_trace_fl trace "$NETNS_IP_S" -p 8080 --flow-label 5

# ------------------------------------------------------------------------------------------------
it_section "--help"
for args in "--help" "ping --help" "rules --help"; do
  # shellcheck disable=SC2086
  it_synack help 20 $args
  [ "$IT_RC" = 0 ] || fail "synack $args: expected exit 0, got $IT_RC"
  [ -s "$IT_OUT" ] || fail "synack $args: printed nothing on stdout"
done
it_synack pinghelp 20 ping --help
if ! grep -q -- '--count' "$IT_OUT" || ! grep -q -- '--close' "$IT_OUT"; then
  fail "synack ping --help does not mention --count and --close"
fi
ok "--help exits 0 for synack, ping and rules"

# ------------------------------------------------------------------------------------------------
it_section "no privileges"
if command -v setpriv >/dev/null; then
  install -m 0755 "$SYNACK" "$NETNS_TMP/synack-unpriv"
  IT_OUT="$NETNS_TMP/unpriv.out"; IT_ERR="$NETNS_TMP/unpriv.err"; IT_CTX_RUNS+=(unpriv)
  echo "setpriv nobody: synack ping $NETNS_IP_S -p 8080 -c 1" >"$NETNS_TMP/unpriv.cmd"
  IT_RC=0
  timeout -k 5 20 ip netns exec "$NETNS_C" setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all --bounding-set=-all "$NETNS_TMP/synack-unpriv" ping "$NETNS_IP_S" -p 8080 -c 1 \
    >"$IT_OUT" 2>"$IT_ERR" </dev/null || IT_RC=$?
  echo "$IT_RC" >"$NETNS_TMP/unpriv.rc"
  [ "$IT_RC" = 2 ] || fail "unprivileged: expected exit 2, got $IT_RC"
  [ "$(stderr_lines)" = 1 ] || fail "unprivileged: expected exactly one line on stderr, got $(stderr_lines)"
  [ -z "$(it_rules)" ] || fail "unprivileged run left a rule: $(it_rules)"
  ok "unprivileged: exit 2, stderr: $(cat "$IT_ERR")"
else
  echo "note: setpriv missing; unprivileged check skipped"
fi

echo "PASS $(basename "$0") ($(it_elapsed))"
