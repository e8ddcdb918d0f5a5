#!/usr/bin/env bash
# Fault: iptables is missing (or broken) when synack wants to install its RST guard.
# The host is never touched: synack runs in a private mount namespace (unshare -m) where an empty
# directory is bind-mounted over /usr/sbin and /usr/local/sbin (where iptables lives; /sbin is a
# link to /usr/sbin on Debian) and PATH holds no iptables either.
#   1. ping and serve: exit 2 within a bound, stderr one line naming iptables and --no-rst-guard,
#      nothing sent (no SYN on the wire), no rule, no process left;
#   2. an iptables that is there but fails (a stub first in PATH exiting 1): exit 2, one line
#      naming iptables and --no-rst-guard, no rule;
#   3. with --no-rst-guard the same synack (still without iptables) pings, and serves (the user's
#      own rule silencing the kernel's RSTs, which synack leaves alone).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
command -v unshare >/dev/null || { echo "SKIP: unshare missing (util-linux)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl missing (run scripts/setup-deps.sh)"; exit 77; }
netns_http_server 8081 || fail "python3 -m http.server (8081) did not start"

EMPTY="$NETNS_TMP/empty"
STUB="$NETNS_TMP/stub"
mkdir -p "$EMPTY" "$STUB"
printf '#!/bin/sh\necho "iptables v0: stub failure for the test" >&2\nexit 1\n' >"$STUB/iptables"
cp "$STUB/iptables" "$STUB/iptables-save"
chmod 755 "$STUB/iptables" "$STUB/iptables-save"

# The wrapper runs inside the client namespace: a private mount namespace without iptables.
cat >"$NETNS_TMP/noipt.sh" <<EOF
#!/bin/sh
set -e
mount --make-rprivate / 2>/dev/null || true
mount --bind "$EMPTY" /usr/sbin
[ -d /usr/local/sbin ] && mount --bind "$EMPTY" /usr/local/sbin
export PATH="\${SYNACK_TEST_PATH:-/usr/bin:/bin}"
if command -v iptables >/dev/null 2>&1 && [ -z "\${SYNACK_TEST_PATH:-}" ]; then
  echo "test wrapper: iptables still visible at \$(command -v iptables)" >&2; exit 99
fi
exec "\$@"
EOF
chmod 755 "$NETNS_TMP/noipt.sh"

# run_noipt NAME TIMEOUT ARGS...: synack ARGS in the client namespace without iptables.
run_noipt() {
  local name=$1 timeout=$2; shift 2
  IT_OUT="$NETNS_TMP/$name.out"; IT_ERR="$NETNS_TMP/$name.err"
  echo "synack $* (no iptables)" >"$NETNS_TMP/$name.cmd"
  IT_CTX_RUNS+=("$name")
  local t0=$(date +%s%N)
  IT_RC=0
  timeout -k 5 "$timeout" ip netns exec "$NETNS_C" unshare -m "$NETNS_TMP/noipt.sh" "$SYNACK" "$@" \
    >"$IT_OUT" 2>"$IT_ERR" </dev/null || IT_RC=$?
  echo "$IT_RC" >"$NETNS_TMP/$name.rc"
  echo "   \$ synack $* (no iptables) -> exit $IT_RC ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
  [ "$IT_RC" != 99 ] || fail "the test's wrapper could not hide iptables: $(cat "$IT_ERR")"
  [ "$IT_RC" != 124 ] && [ "$IT_RC" != 137 ] || fail "synack did not finish within ${timeout}s"
}

expect_setup_error() {
  local what=$1
  [ "$IT_RC" = 2 ] || fail "$what: expected exit 2, got $IT_RC: $(cat "$IT_ERR")"
  [ "$(wc -l <"$IT_ERR")" = 1 ] || fail "$what: expected one line on stderr, got: $(cat "$IT_ERR")"
  grep -q 'iptables' "$IT_ERR" || fail "$what: stderr does not name iptables: $(cat "$IT_ERR")"
  grep -q -- '--no-rst-guard' "$IT_ERR" || fail "$what: stderr does not mention --no-rst-guard: $(cat "$IT_ERR")"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "$what: a rule was left: $(it_rules)"
  ok "$what: exit 2, '$(cat "$IT_ERR")'"
}

# ------------------------------------------------------------------------------------------------
it_section "iptables missing: ping and serve refuse to start, naming the way out"
it_capture_start nosyn "tcp and port 8081"
run_noipt ping-missing 20 ping "$NETNS_IP_S" -p 8081 -c 1
expect_setup_error "ping without iptables"
run_noipt serve-missing 20 serve --listen "$NETNS_IP_C:$SERVE_PORT" --echo
expect_setup_error "serve without iptables"
it_capture_stop nosyn
it_py "$NETNS_TMP/nosyn.pcap" <<'EOF'
import sys
from it import *
segs = segments(sys.argv[1])
check(not segs, "segments went out although synack refused to start: %s" % [s['line'] for s in segs[:5]])
done("nothing was sent")
EOF
[ -z "$(ip netns pids "$NETNS_C" 2>/dev/null | xargs -r ps -o comm= -p 2>/dev/null | grep synack)" ] \
  || fail "a synack process is left in $NETNS_C"

# ------------------------------------------------------------------------------------------------
it_section "iptables present but failing"
SYNACK_TEST_PATH="$STUB:/usr/bin:/bin" run_noipt ping-broken 20 ping "$NETNS_IP_S" -p 8081 -c 1
expect_setup_error "ping with a failing iptables"

# ------------------------------------------------------------------------------------------------
it_section "--no-rst-guard works without iptables"
run_noipt ping-noguard 30 ping "$NETNS_IP_S" -p 8081 -c 2 -i 0.1 --no-rst-guard --json
[ "$IT_RC" = 0 ] || fail "ping --no-rst-guard without iptables: expected exit 0, got $IT_RC: $(cat "$IT_ERR")"
[ "$(grep -c '"ok":[[:space:]]*true' "$IT_OUT")" = 2 ] || fail "expected 2 ok probes: $(cat "$IT_OUT")"
ok "ping --no-rst-guard: 2 ok probes"

# A server's kernel would reset the clients' SYNs: with --no-rst-guard the user keeps it quiet
# (here from outside the mount namespace, where iptables exists).
ip netns exec "$NETNS_C" iptables -I OUTPUT -p tcp -s "$NETNS_IP_C/32" --sport "$SERVE_PORT" --tcp-flags RST RST \
  -m comment --comment it-user-guard -j DROP
IT_CTX_RUNS+=(serve-noguard)
echo "synack serve (no iptables) --no-rst-guard" >"$NETNS_TMP/serve-noguard.cmd"
ip netns exec "$NETNS_C" env --default-signal=INT,TERM unshare -m "$NETNS_TMP/noipt.sh" "$SYNACK" serve \
  --listen "$NETNS_IP_C:$SERVE_PORT" --http --no-rst-guard \
  >"$NETNS_TMP/serve-noguard.out" 2>"$NETNS_TMP/serve-noguard.err" </dev/null &
SPID=$!
NETNS_PIDS+=("$SPID")
netns_wait_until 15 "serve --no-rst-guard to listen" grep -q "listening on" "$NETNS_TMP/serve-noguard.out" \
  || fail "serve --no-rst-guard did not start without iptables"
code=$(ip netns exec "$NETNS_S" curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://$NETNS_IP_C:$SERVE_PORT/") \
  || fail "curl to serve --no-rst-guard failed"
[ "$code" = 200 ] || fail "curl to serve --no-rst-guard got HTTP $code"
kill -TERM "$SPID"
it_wait_bg serve-noguard "$SPID" 15
[ "$IT_RC" = 0 ] || fail "serve --no-rst-guard exited $IT_RC on SIGTERM"
[ -z "$(it_rules "$NETNS_C")" ] || fail "rules appeared: $(it_rules)"
ip netns exec "$NETNS_C" iptables-save | grep -q it-user-guard || fail "the user's own rule disappeared"
ok "serve --no-rst-guard without iptables: curl got 200, exit 0, no rule"

echo "PASS $(basename "$0") ($(it_elapsed))"
