# Helpers for the `synack serve` tests (sourced after lib.sh; not a test itself).

SERVE_PORT=8080

# serve_start NAME ARGS...: `synack serve --listen IT_IP_C:8080 ARGS` (10.111.0.1:8080, or
# [fd00:111::1]:8080 in an IPv6 twin; or --listen $SERVE_LISTEN) in the background in $NETNS_C; waits (bounded) for its
# "listening on" line. Sets SERVE_PID, SERVE_OUT.
serve_start() {
  local name=$1; shift
  SERVE_NAME=$name
  SERVE_OUT="$NETNS_TMP/$name.out"
  it_synack_bg "$name" serve --listen "${SERVE_LISTEN:-$(it_hp "${IT_IP_C:-$NETNS_IP_C}" "$SERVE_PORT")}" "$@"
  SERVE_PID=$IT_BG_PID
  netns_wait_until 15 "synack serve to listen" grep -q "listening on" "$SERVE_OUT" \
    || fail "synack serve did not start"
  ok "synack serve is listening ($(head -n 1 "$SERVE_OUT"))"
}

# serve_table: SIGUSR1, then wait (bounded) for a new "counters:" line; the table printed last
# is then in $NETNS_TMP/table.txt (from its header line to its counters line).
serve_table() {
  local before
  before=$(grep -c '^counters:' "$SERVE_OUT" || true)
  kill -USR1 "$SERVE_PID"
  netns_wait_until 10 "the SIGUSR1 table" \
    bash -c "[ \$(grep -c '^counters:' '$SERVE_OUT') -gt $before ]" || fail "no table after SIGUSR1"
  awk '/^State /{buf=""} {buf=buf $0 "\n"} /^counters:/{last=buf} END{printf "%s", last}' "$SERVE_OUT" \
    >"$NETNS_TMP/table.txt"
}

# serve_counter NAME: a counter of the last table (serve_table first).
serve_counter() { grep '^counters:' "$NETNS_TMP/table.txt" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# serve_states: "STATE=N ..." of the last table, without the listener.
serve_states() { sed -n 's/^states: *//p' "$NETNS_TMP/table.txt"; }

# serve_stop: SIGTERM, wait (bounded), expect exit 0 and no rule left behind.
serve_stop() {
  IT_CTX_RUNS+=("$SERVE_NAME")  # a failure below dumps the server's own output
  kill -TERM "$SERVE_PID"
  it_wait_bg "$SERVE_NAME" "$SERVE_PID" 20
  [ "$IT_RC" = 0 ] || fail "synack serve exited with $IT_RC after SIGTERM"
  ok "synack serve exited 0 on SIGTERM ($(grep 'stopped' "$SERVE_OUT" | tail -n 1))"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
  ok "no firewall rule left behind"
}
