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
#      own rule silencing the kernel's RSTs, which synack leaves alone);
#   4. only ip6tables missing, or failing (iptables works: a copy of the host's iptables binary
#      first in PATH), on the dual-stack interface: an IPv4 run carries on IPv4-only with one
#      warning line ("IPv6 disabled for this run ... ip6tables ..."), its probes ok, its IPv4 rule
#      in place while it runs and no ip6tables rule, no rule left after; an IPv6 run cannot do
#      without its ip6tables rule: exit 2, one line naming ip6tables and --no-rst-guard, and its
#      IPv4 rule (installed first when ip6tables fails) is not left behind.
# Runs over IPv4 and, as integration.test_fault_no_iptables.ipv6, over IPv6 (it_family in lib.sh:
# ping the peer's IPv6 address, serve on the client's, the user's guard an ip6tables rule).
#
# it-families: 4 6
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
for prog in iptables-save ip6tables ip6tables-save; do cp "$STUB/iptables" "$STUB/$prog"; done
chmod 755 "$STUB"/*
# IPv4 only: the host's iptables (a copy of the binary, as the wrapper hides /usr/sbin; a
# multi-call xtables binary picks its personality from the link's name), no ip6tables (V4ONLY),
# or an ip6tables that fails (V4BROKEN6).
V4ONLY="$NETNS_TMP/v4only"
V4BROKEN6="$NETNS_TMP/v4broken6"
mkdir -p "$V4ONLY" "$V4BROKEN6"
IPT_BIN=$(readlink -f "$(command -v iptables)")
for d in "$V4ONLY" "$V4BROKEN6"; do
  cp "$IPT_BIN" "$d/$(basename "$IPT_BIN")"
  [ "$(basename "$IPT_BIN")" = iptables ] || ln -s "$(basename "$IPT_BIN")" "$d/iptables"
  ln -s "$(basename "$IPT_BIN")" "$d/iptables-save"
done
cp "$STUB/ip6tables" "$STUB/ip6tables-save" "$V4BROKEN6/"
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
if [ "$IT_FAMILY" = 6 ]; then PLEN=128; else PLEN=32; fi

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
run_noipt ping-missing 20 ping "$IT_IP_S" -p 8081 -c 1
expect_setup_error "ping without iptables"
run_noipt serve-missing 20 serve --listen "$SERVE_LISTEN" --echo
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
SYNACK_TEST_PATH="$STUB:/usr/bin:/bin" run_noipt ping-broken 20 ping "$IT_IP_S" -p 8081 -c 1
expect_setup_error "ping with a failing iptables"

# ------------------------------------------------------------------------------------------------
it_section "--no-rst-guard works without iptables"
run_noipt ping-noguard 30 ping "$IT_IP_S" -p 8081 -c 2 -i 0.1 --no-rst-guard --json
[ "$IT_RC" = 0 ] || fail "ping --no-rst-guard without iptables: expected exit 0, got $IT_RC: $(cat "$IT_ERR")"
[ "$(grep -c '"ok":[[:space:]]*true' "$IT_OUT")" = 2 ] || fail "expected 2 ok probes: $(cat "$IT_OUT")"
ok "ping --no-rst-guard: 2 ok probes"

# A server's kernel would reset the clients' SYNs: with --no-rst-guard the user keeps it quiet
# (here from outside the mount namespace, where iptables exists).
ip netns exec "$NETNS_C" "$IT_IPT" -I OUTPUT -p tcp -s "$IT_IP_C/$PLEN" --sport "$SERVE_PORT" --tcp-flags RST RST \
  -m comment --comment it-user-guard -j DROP
IT_CTX_RUNS+=(serve-noguard)
echo "synack serve (no iptables) --no-rst-guard" >"$NETNS_TMP/serve-noguard.cmd"
ip netns exec "$NETNS_C" env --default-signal=INT,TERM unshare -m "$NETNS_TMP/noipt.sh" "$SYNACK" serve \
  --listen "$SERVE_LISTEN" --http --no-rst-guard \
  >"$NETNS_TMP/serve-noguard.out" 2>"$NETNS_TMP/serve-noguard.err" </dev/null &
SPID=$!
NETNS_PIDS+=("$SPID")
netns_wait_until 15 "serve --no-rst-guard to listen" grep -q "listening on" "$NETNS_TMP/serve-noguard.out" \
  || fail "serve --no-rst-guard did not start without iptables"
code=$(ip netns exec "$NETNS_S" curl -sS -m 5 -o /dev/null -w '%{http_code}' "$(it_url "$IT_IP_C" "$SERVE_PORT")") \
  || fail "curl to serve --no-rst-guard failed"
[ "$code" = 200 ] || fail "curl to serve --no-rst-guard got HTTP $code"
kill -TERM "$SPID"
it_wait_bg serve-noguard "$SPID" 15
[ "$IT_RC" = 0 ] || fail "serve --no-rst-guard exited $IT_RC on SIGTERM"
[ -z "$(it_rules "$NETNS_C")" ] || fail "rules appeared: $(it_rules)"
ip netns exec "$NETNS_C" "$IT_IPT-save" | grep -q it-user-guard || fail "the user's own rule disappeared"
ok "serve --no-rst-guard without iptables: curl got 200, exit 0, no rule"
ip netns exec "$NETNS_C" "$IT_IPT" -D OUTPUT -p tcp -s "$IT_IP_C/$PLEN" --sport "$SERVE_PORT" --tcp-flags RST RST \
  -m comment --comment it-user-guard -j DROP

# ------------------------------------------------------------------------------------------------
it_section "only ip6tables missing or failing (iptables works), dual-stack interface"
has_rule4() { it_rules "$NETNS_C" | grep -v '^ip6: ' | grep -q "synack pid=$1 "; }
ok_probes() { grep -c '"ok":[[:space:]]*true' "$NETNS_TMP/$1.out" 2>/dev/null || true; }
has_probes() { [ "$(ok_probes "$1")" -ge "$2" ]; }
expect_v6_warning() {  # WHAT: one stderr line, the IPv6-off warning naming ip6tables
  local what=$1
  [ "$(grep -c . "$IT_ERR")" = 1 ] || fail "$what: expected one line on stderr (the warning), got: $(cat "$IT_ERR")"
  grep -q 'IPv6 disabled for this run' "$IT_ERR" && grep -q 'ip6tables' "$IT_ERR" \
    || fail "$what: no 'IPv6 disabled for this run' warning naming ip6tables: $(cat "$IT_ERR")"
}
if [ "$IT_FAMILY" = 4 ]; then
  # An IPv4 run: IPv6 is the second family, the run goes on without it.
  SYNACK_TEST_PATH="$V4ONLY:/usr/bin:/bin" run_noipt ping-no-ip6t 30 ping "$IT_IP_S" -p 8081 -c 2 -i 0.1 --json
  [ "$IT_RC" = 0 ] || fail "IPv4 ping without ip6tables: expected exit 0, got $IT_RC: $(cat "$IT_ERR")"
  [ "$(ok_probes ping-no-ip6t)" = 2 ] || fail "IPv4 ping without ip6tables: expected 2 ok probes: $(cat "$IT_OUT")"
  expect_v6_warning "IPv4 ping without ip6tables"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "IPv4 ping without ip6tables left a rule: $(it_rules)"
  ok "IPv4 ping without ip6tables: exit 0, 2 ok probes, '$(cat "$IT_ERR")', no rule left"

  # A failing ip6tables, seen while the run goes on: its IPv4 rule, no ip6tables rule.
  IT_CTX_RUNS+=(ping-broken-ip6t)
  echo "synack ping (ip6tables failing) -c 0" >"$NETNS_TMP/ping-broken-ip6t.cmd"
  ip netns exec "$NETNS_C" env --default-signal=INT,TERM SYNACK_TEST_PATH="$V4BROKEN6:/usr/bin:/bin" \
    unshare -m "$NETNS_TMP/noipt.sh" "$SYNACK" ping "$IT_IP_S" -p 8081 -c 0 -i 0.1 --json \
    >"$NETNS_TMP/ping-broken-ip6t.out" 2>"$NETNS_TMP/ping-broken-ip6t.err" </dev/null &
  BPID=$!
  NETNS_PIDS+=("$BPID")
  netns_wait_until 15 "the IPv4 rule of pid $BPID" has_rule4 "$BPID" || fail "no IPv4 rule for pid $BPID: $(it_rules)"
  netns_wait_until 15 "2 ok probes" has_probes ping-broken-ip6t 2 \
    || fail "the IPv4 ping with a failing ip6tables has no ok probes: $(cat "$NETNS_TMP/ping-broken-ip6t.err")"
  [ -z "$(it_rules "$NETNS_C" | grep '^ip6: ')" ] || fail "an ip6tables rule with a failing ip6tables? $(it_rules)"
  kill -TERM "$BPID"
  it_wait_bg ping-broken-ip6t "$BPID" 15
  [ "$IT_RC" = 0 ] || fail "IPv4 ping with a failing ip6tables exited $IT_RC on SIGTERM"
  IT_ERR="$NETNS_TMP/ping-broken-ip6t.err"
  expect_v6_warning "IPv4 ping with a failing ip6tables"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "IPv4 ping with a failing ip6tables left a rule: $(it_rules)"
  ok "IPv4 ping with a failing ip6tables: its IPv4 rule only while running, ok probes, '$(cat "$IT_ERR")', no rule left"
else
  # An IPv6 run needs its ip6tables rule: a clear error, and nothing left (not even the IPv4 rule
  # a failing ip6tables leaves installed for a moment).
  SYNACK_TEST_PATH="$V4ONLY:/usr/bin:/bin" run_noipt ping-no-ip6t 20 ping "$IT_IP_S" -p 8081 -c 1
  expect_setup_error "IPv6 ping without ip6tables"
  grep -q 'ip6tables' "$IT_ERR" || fail "IPv6 ping without ip6tables: stderr does not name ip6tables: $(cat "$IT_ERR")"
  SYNACK_TEST_PATH="$V4BROKEN6:/usr/bin:/bin" run_noipt ping-broken-ip6t 20 ping "$IT_IP_S" -p 8081 -c 1
  expect_setup_error "IPv6 ping with a failing ip6tables"
  grep -q 'ip6tables' "$IT_ERR" || fail "IPv6 ping with a failing ip6tables: stderr does not name ip6tables: $(cat "$IT_ERR")"
  SYNACK_TEST_PATH="$V4BROKEN6:/usr/bin:/bin" run_noipt serve-broken-ip6t 20 serve --listen "$SERVE_LISTEN" --echo
  expect_setup_error "IPv6 serve with a failing ip6tables"
fi

echo "PASS $(basename "$0") ($(it_elapsed))"
