#!/usr/bin/env bash
# synack get against peers nobody here wrote, on a clean veth: a 50 MiB random file from
# `python3 -m http.server`, from nginx over HTTP and from nginx over HTTPS (a test certificate,
# verified with --cacert; a second HTTPS run without it must fail verification; --insecure passes).
# Asserts exit 0 and the sha256 for each, the connected line naming the peer, and no firewall
# rule left after each; prints each transfer's timing and rate. 404, redirects (-L keeps the Host
# header, bracketed over IPv6), --ladder. The firewall rule (iptables or ip6tables, by the family)
# is in place while a get runs (against a peer that accepts and never answers) and gone after
# SIGTERM (exit 1).
# Runs over IPv4 and, as integration.test_get_clean.ipv6, over IPv6 (it_family in lib.sh): bracketed
# URLs (http://[fd00:111::2]:8080/...), the certificate has the IPv6 address as a SAN. The IPv6
# twin also checks that an unbracketed IPv6 URL is a usage error and that a name with both an A
# and an AAAA record goes by IPv4 with -4 and by IPv6 with -6 (and says which it used without).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
it_init "$1"
netns_require_tools nginx openssl sha256sum "$IT_IPT-save"
no_rules_left() {
  [ -z "$(it_rules "$NETNS_C")" ] || fail "$1: firewall rules left behind: $(it_rules "$NETNS_C")"
}

it_section "peers"
get_make_blob
get_make_cert
netns_http_server 8080 || fail "python3 -m http.server did not start"
get_nginx 8081 8443
ok "python3 http.server on 8080, nginx on 8081 (http) and 8443 (https)"

it_section "50 MiB downloads"
get_fetch python "http://$(it_hp "$IT_IP_S" 8080)/blob.bin" 120
grep -qF -- "-> $(it_hp "$IT_IP_S" 8080) via" "$IT_ERR" \
  || { cat "$IT_ERR"; fail "python: the connected line does not name $(it_hp "$IT_IP_S" 8080)"; }
no_rules_left python
get_fetch nginx "http://$(it_hp "$IT_IP_S" 8081)/blob.bin" 120
no_rules_left nginx
get_fetch nginx_tls "https://$(it_hp "$IT_IP_S" 8443)/blob.bin" 120 --cacert "$NETNS_TMP/tls/cert.pem"
no_rules_left nginx_tls
ok "connected line: $(grep -F 'connected' "$NETNS_TMP/nginx_tls.err" | head -n 1); no rule left after each"

it_section "TLS verification"
it_synack tls_unknown_ca 30 get "https://$(it_hp "$IT_IP_S" 8443)/index.html" -o "$NETNS_TMP/x.html" \
  --cacert /etc/ssl/certs/ca-certificates.crt
[ "$IT_RC" = 1 ] || { cat "$IT_ERR"; fail "an unknown CA must fail with exit 1 (got $IT_RC)"; }
grep -q "certificate verify failed" "$IT_ERR" || { cat "$IT_ERR"; fail "no verification error in the message"; }
ok "untrusted certificate: exit 1, '$(grep -o 'certificate verify failed' "$IT_ERR" | head -n1)'"
it_synack tls_insecure 30 get "https://$(it_hp "$IT_IP_S" 8443)/index.html" -o "$NETNS_TMP/x.html" --insecure
[ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "--insecure must succeed (got $IT_RC)"; }
ok "--insecure skips verification"

it_section "status, redirects"
it_synack not_found 30 get "http://$(it_hp "$IT_IP_S" 8081)/missing"
[ "$IT_RC" = 1 ] && grep -q " 404 " "$IT_ERR" || { cat "$IT_ERR"; fail "404 must print the status and exit 1"; }
mkdir -p "$NETNS_TMP/www/dir" && echo "in dir" >"$NETNS_TMP/www/dir/index.html"
it_synack redirect_not_followed 30 get "http://$(it_hp "$IT_IP_S" 8081)/dir"
[ "$IT_RC" = 1 ] && grep -q "not followed" "$IT_ERR" || { cat "$IT_ERR"; fail "a 301 without -L is reported, not followed"; }
it_synack redirect_followed 30 get "http://$(it_hp "$IT_IP_S" 8081)/dir" -L
[ "$IT_RC" = 0 ] && grep -q "in dir" "$IT_OUT" || { cat "$IT_ERR"; fail "-L must follow the 301"; }
ok "404 -> exit 1; 301 reported without -L, followed with -L"

it_section "ladder"
it_synack ladder 30 get "http://$(it_hp "$IT_IP_S" 8081)/dir/index.html" --ladder
[ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "get --ladder must succeed (got $IT_RC)"; }
# The handshake, our request, and our FIN, each an arrow from us (|--- ... ->|) or the peer (|<-- ... -|).
for want in '|--- SYN seq' '|<-- SYN,ACK seq' '|--- ACK seq' '|--- PSH,ACK seq' '|--- FIN,ACK seq'; do
  grep -qF -- "$want" "$IT_ERR" || { cat "$IT_ERR"; fail "--ladder: no '$want' arrow"; }
done
ok "--ladder draws the handshake, the request and the close"

if [ "$IT_FAMILY" = 6 ]; then
  U="[$IT_IP_S]"
  it_section "IPv6 only: an unbracketed URL; a name with A and AAAA, -4 / -6"
  it_synack unbracketed 10 get "http://$IT_IP_S:8080/"
  [ "$IT_RC" = 2 ] && grep -q "in brackets" "$IT_ERR" || { cat "$IT_ERR"; fail "an unbracketed IPv6 URL is a usage error"; }
  ok "unbracketed IPv6 in a URL: exit 2, '$(cat "$IT_ERR")'"
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
fi

it_section "the $IT_IPT rule while get runs"
# A peer that accepts and never answers: the get waits for the response header.
netns_spawn "$NETNS_S" "$NETNS_TMP/hold.log" "$(netns_python)" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8090)); s.listen(16); held = []
while True:
    c, _ = s.accept(); held.append(c)' "$IT_IP_S"
netns_wait_listen "$NETNS_S" 8090 15 || fail "the holding peer did not start"
it_synack_bg hold get "http://$(it_hp "$IT_IP_S" 8090)/" -m 60
HOLD_PID=$IT_BG_PID
netns_wait_until 15 "synack get to connect" grep -q "connected" "$NETNS_TMP/hold.err" \
  || fail "synack get did not connect to the holding peer"
[ -n "$(it_family_rules)" ] || fail "no synack rule in $IT_IPT-save while get runs"
ok "$IT_IPT-save while get runs: $(it_family_rules | head -n 1)"
kill -TERM "$HOLD_PID"
it_wait_bg hold "$HOLD_PID" 15
[ "$IT_RC" = 1 ] || { cat "$NETNS_TMP/hold.err"; fail "an interrupted get exits 1 (got $IT_RC)"; }
no_rules_left "after SIGTERM"
ok "SIGTERM: exit 1 ($(tail -n 1 "$NETNS_TMP/hold.err")), no rule left"

if [ "$IT_FAMILY" = 6 ]; then
  it_section "IPv6 only: a bracketed URL without a port means port 80"
  it_synack no_port 30 get "http://[$IT_IP_S]/index.html"
  grep -qF "[$IT_IP_S]:80" "$IT_ERR" && [ "$IT_RC" = 1 ] \
    || { cat "$IT_ERR"; fail "http://[$IT_IP_S]/index.html must go to [$IT_IP_S]:80 (refused: exit 1), got exit $IT_RC"; }
  ok "http://[$IT_IP_S]/ goes to port 80: '$(cat "$IT_ERR")'"
fi

echo "rates:"; cat "$NETNS_TMP/rates.txt"
echo "PASS $(basename "$0") ($(it_elapsed))"
