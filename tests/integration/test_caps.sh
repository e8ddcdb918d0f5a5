#!/usr/bin/env bash
# Running without root:
#   1. a copy of synack with `setcap cap_net_raw,cap_net_admin+ep`, run as an unprivileged user
#      (uid 65534, no capabilities of its own): ping works (exit 0) with the RST guard on (synack
#      passes both capabilities on to the iptables it runs), the rule is gone afterwards;
#   2. the same copy without file capabilities: exit 2 and one line saying which capabilities are
#      missing and the setcap command that fixes it.
# Runs over IPv4 and, as integration.test_caps.ipv6, over IPv6 (the capabilities then serve NDP
# and the ip6tables rule as well).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"
netns_require_tools setcap setpriv

netns_http_server 8080 || fail "python3 -m http.server did not start in $NETNS_S"
dir=$(mktemp -d /tmp/synack-caps.XXXXXX)
it_rm_caps_dir() { rm -rf "$dir"; }
NETNS_CLEANUP_HOOKS+=(it_rm_caps_dir)
chmod 0755 "$dir"
install -m 0755 "$SYNACK" "$dir/synack"

as_nobody() {  # NAME ARGS...: run the copy as uid/gid 65534 with no inheritable/ambient capabilities
  local name=$1; shift
  IT_OUT="$NETNS_TMP/$name.out"; IT_ERR="$NETNS_TMP/$name.err"; IT_CTX_RUNS+=("$name")
  echo "setpriv nobody: synack $*" >"$NETNS_TMP/$name.cmd"
  IT_RC=0
  timeout -k 5 30 ip netns exec "$NETNS_C" setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all "$dir/synack" "$@" >"$IT_OUT" 2>"$IT_ERR" </dev/null || IT_RC=$?
  echo "$IT_RC" >"$NETNS_TMP/$name.rc"
  echo "   \$ (uid 65534) synack $* -> exit $IT_RC"
}

it_section "setcap cap_net_raw,cap_net_admin+ep, unprivileged user"
setcap cap_net_raw,cap_net_admin+ep "$dir/synack" || fail "setcap failed (filesystem without xattrs?)"
as_nobody capped ping "$IT_IP_S" -p 8080 -c 2 -i 0.05 --json
cat "$IT_OUT" "$IT_ERR"
[ "$IT_RC" = 0 ] || fail "with file capabilities: expected exit 0, got $IT_RC"
[ "$(grep -c '"type":"probe"' "$IT_OUT")" = 2 ] || fail "expected 2 probe records"
[ -z "$(it_rules)" ] || fail "a rule was left behind: $(it_rules)"
ok "unprivileged with file capabilities: 2 probes, RST guard installed and removed"

it_section "no capabilities: a clear error"
setcap -r "$dir/synack"
as_nobody nocaps ping "$IT_IP_S" -p 8080 -c 1
[ "$IT_RC" = 2 ] || fail "without capabilities: expected exit 2, got $IT_RC"
[ "$(grep -c . "$IT_ERR")" = 1 ] || fail "expected one line on stderr, got: $(cat "$IT_ERR")"
grep -q 'CAP_NET_RAW and CAP_NET_ADMIN' "$IT_ERR" && grep -q 'setcap cap_net_raw,cap_net_admin+ep' "$IT_ERR" \
  || fail "the message does not name the capabilities and the fix: $(cat "$IT_ERR")"
ok "without capabilities: $(cat "$IT_ERR")"

echo "PASS $(basename "$0") ($(it_elapsed))"
