#!/usr/bin/env bash
# synack get over IPv6 (issue 14) against peers nobody here wrote, on a clean veth: a 50 MiB random
# file from `python3 -m http.server --bind ::`, from nginx over HTTP and over HTTPS (a test
# certificate with the peer's IPv6 address as a SAN, verified with --cacert), all by bracketed URLs
# (http://[fd00:111::2]:8080/...). Asserts exit 0 and the sha256 for each. A name with both an A
# and an AAAA record (the client namespace's own /etc/hosts) goes by IPv4 with -4 and by IPv6 with
# -6, and says which address it used when it had several. The ip6tables rule is in place while a
# get runs (against a peer that accepts and never answers) and gone after it, on SIGTERM too.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
it_init "$1"
it_require_ipv6
netns_require_tools nginx openssl sha256sum ip6tables-save

rules6() { ip netns exec "$NETNS_C" ip6tables-save 2>/dev/null | grep -i synack || true; }
no_rules_left() {
  [ -z "$(rules6)" ] || fail "$1: ip6tables rules left behind: $(rules6)"
  [ -z "$(it_rules "$NETNS_C")" ] || fail "$1: firewall rules left behind: $(it_rules "$NETNS_C")"
}

it_section "peers"
get_make_blob
get_make_cert
netns_http_server 8080 || fail "python3 -m http.server did not start"
get_nginx 8081 8443
ok "python3 http.server on [::]:8080, nginx on [$NETNS_IP6_S]:8081 (http) and :8443 (https)"

it_section "50 MiB downloads over IPv6"
U="[$NETNS_IP6_S]"
get_fetch python6 "http://$U:8080/blob.bin" 120
grep -qF -- "-> $U:8080 via" "$IT_ERR" || { cat "$IT_ERR"; fail "python6: the connected line does not name $U:8080"; }
no_rules_left python6
get_fetch nginx6 "http://$U:8081/blob.bin" 120
no_rules_left nginx6
get_fetch nginx6_tls "https://$U:8443/blob.bin" 120 --cacert "$NETNS_TMP/tls/cert.pem"
no_rules_left nginx6_tls
ok "connected line: $(grep -F 'connected' "$NETNS_TMP/nginx6_tls.err" | head -n 1)"

it_section "Host header, status, redirects"
it_synack not_found6 30 get "http://$U:8081/missing"
[ "$IT_RC" = 1 ] && grep -q " 404 " "$IT_ERR" || { cat "$IT_ERR"; fail "404 over IPv6 must print the status and exit 1"; }
mkdir -p "$NETNS_TMP/www/dir" && echo "in dir" >"$NETNS_TMP/www/dir/index.html"
it_synack redirect6 30 get "http://$U:8081/dir" -L
[ "$IT_RC" = 0 ] && grep -q "in dir" "$IT_OUT" || { cat "$IT_ERR"; fail "-L must follow the 301 over IPv6 (Host: $U:8081)"; }
ok "404 -> exit 1; the 301 to http://$U:8081/dir/ followed (the Host header kept the brackets)"
it_synack unbracketed 10 get "http://$NETNS_IP6_S:8080/"
[ "$IT_RC" = 2 ] && grep -q "in brackets" "$IT_ERR" || { cat "$IT_ERR"; fail "an unbracketed IPv6 URL is a usage error"; }
ok "unbracketed IPv6 in a URL: exit 2, '$(cat "$IT_ERR")'"

it_section "a name with A and AAAA, -4 / -6"
# `ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts for what it runs.
rm_hosts() { rm -rf "/etc/netns/$NETNS_C"; }
NETNS_CLEANUP_HOOKS+=(rm_hosts)
mkdir -p "/etc/netns/$NETNS_C"
printf '127.0.0.1 localhost\n%s dual.synack.test\n%s dual.synack.test\n' "$NETNS_IP_S" "$NETNS_IP6_S" \
  >"/etc/netns/$NETNS_C/hosts"
it_synack name6 30 get "http://dual.synack.test:8080/index.html" -6
[ "$IT_RC" = 0 ] && grep -qF -- "-> $U:8080 via" "$IT_ERR" || { cat "$IT_ERR"; fail "-6 must connect to $U:8080"; }
it_synack name4 30 get "http://dual.synack.test:8080/index.html" -4
[ "$IT_RC" = 0 ] && grep -qF -- "-> $NETNS_IP_S:8080 via" "$IT_ERR" || { cat "$IT_ERR"; fail "-4 must connect to $NETNS_IP_S:8080"; }
it_synack name_any 30 get "http://dual.synack.test:8080/index.html"
[ "$IT_RC" = 0 ] && grep -q "resolved dual.synack.test to " "$IT_ERR" || { cat "$IT_ERR"; fail "a name with two addresses must say which it used"; }
ok "-6 -> $U, -4 -> $NETNS_IP_S; without either: '$(grep 'resolved' "$IT_ERR")'"
no_rules_left names

it_section "the ip6tables rule while get runs"
# A peer that accepts and never answers: the get waits for the response header.
netns_spawn "$NETNS_S" "$NETNS_TMP/hold.log" "$(netns_python)" -c '
import socket, time
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8090)); s.listen(16); held = []
while True:
    c, _ = s.accept(); held.append(c)'
netns_wait_listen "$NETNS_S" 8090 15 || fail "the holding peer did not start"
it_synack_bg hold get "http://$U:8090/" -m 60
HOLD_PID=$IT_BG_PID
netns_wait_until 15 "synack get to connect" grep -q "connected" "$NETNS_TMP/hold.err" \
  || fail "synack get did not connect to the holding peer"
[ -n "$(rules6)" ] || fail "no synack rule in ip6tables-save while get runs"
ok "ip6tables-save while get runs: $(rules6 | head -n 1)"
kill -TERM "$HOLD_PID"
it_wait_bg hold "$HOLD_PID" 15
[ "$IT_RC" = 1 ] || { cat "$NETNS_TMP/hold.err"; fail "an interrupted get exits 1 (got $IT_RC)"; }
no_rules_left "after SIGTERM"
ok "SIGTERM: exit 1 ($(tail -n 1 "$NETNS_TMP/hold.err")), no rule left"

echo "rates:"; cat "$NETNS_TMP/rates.txt"
echo "PASS $(basename "$0") ($(it_elapsed))"
