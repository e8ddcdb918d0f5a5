#!/usr/bin/env bash
# `synack serve --http` against curl: 200 requests in a row all get 200 and the page; two URLs in
# one curl call share one keep-alive connection; HEAD gets headers only, POST gets 405 and a close;
# afterwards synack's table holds nothing but TIME_WAIT; SIGTERM: exit 0, no rule left.
# Runs over IPv4 and, as integration.test_serve_http.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
it_init "$@"
netns_require_tools curl
# curl -4 / -6 by the family; -g: an IPv6 URL's brackets are not a glob.
URL="http://$(it_hp "$IT_IP_C" "$SERVE_PORT")/"

it_section "200 x curl"
serve_start serve --http
codes=$(ip netns exec "$NETNS_S" timeout 80 bash -c '
  for i in $(seq 1 200); do curl -$IT_FAMILY -g -sS --max-time 5 -o /dev/null -w "%{http_code}\n" "$1" || echo fail; done' _ "$URL") \
  || fail "the curl loop did not finish"
good=$(grep -c '^200$' <<<"$codes" || true)
[ "$good" = 200 ] || fail "only $good of 200 curl requests got 200: $(sort <<<"$codes" | uniq -c | tr -s ' \n' ' ')"
ok "200 of 200 curl requests got 200"

it_section "page, keep-alive, HEAD, POST"
body=$(ip netns exec "$NETNS_S" curl -$IT_FAMILY -g -sS --max-time 5 "$URL") || fail "curl failed"
grep -q "Hello from synack" <<<"$body" || fail "unexpected body: $body"
ok "the page arrives"
verbose=$(ip netns exec "$NETNS_S" curl -$IT_FAMILY -g -sS -v --max-time 5 -o /dev/null -o /dev/null "$URL" "$URL" 2>&1) \
  || fail "curl with two URLs failed: $verbose"
grep -qi "re-using existing connection" <<<"$verbose" || fail "the second request did not reuse the connection: $verbose"
ok "two requests on one keep-alive connection"
head=$(ip netns exec "$NETNS_S" curl -$IT_FAMILY -g -sS -I --max-time 5 "$URL") || fail "HEAD failed"
grep -q "^HTTP/1.1 200" <<<"$head" || fail "HEAD: $head"
ok "HEAD: 200"
code=$(ip netns exec "$NETNS_S" curl -$IT_FAMILY -g -sS --max-time 5 -o /dev/null -w '%{http_code}' -d x=1 "$URL") || true
[ "$code" = 405 ] || fail "POST: expected 405, got $code"
ok "POST: 405"

it_section "afterwards"
settled() {
  serve_table
  local s
  s=$(serve_states)
  [ -z "$s" ] || [[ "$s" =~ ^TIME_WAIT=[0-9]+$ ]]
}
netns_wait_until 10 "only TIME_WAIT in synack's table" settled || fail "left: $(serve_states)"
ok "synack's table: '$(serve_states)'; $(grep '^counters:' "$NETNS_TMP/table.txt")"
[ "$(serve_counter accepted)" -ge 204 ] || fail "accepted=$(serve_counter accepted), expected >= 204"
serve_stop
echo "PASS ($(it_elapsed))"
