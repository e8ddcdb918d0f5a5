#!/usr/bin/env bash
# synack get against peers nobody here wrote, on a clean veth: a 50 MiB random file from
# `python3 -m http.server`, from nginx over HTTP and from nginx over HTTPS (a test certificate,
# verified with --cacert; a second HTTPS run without it must fail verification; --insecure passes).
# Asserts exit 0 and the sha256 for each; prints each transfer's timing and rate.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
it_init "$1"
netns_require_tools nginx openssl sha256sum

it_section "peers"
get_make_blob
get_make_cert
netns_http_server 8080 || fail "python3 -m http.server did not start"
get_nginx 8081 8443
ok "python3 http.server on 8080, nginx on 8081 (http) and 8443 (https)"

it_section "50 MiB downloads"
get_fetch python "http://$NETNS_IP_S:8080/blob.bin" 120
get_fetch nginx "http://$NETNS_IP_S:8081/blob.bin" 120
get_fetch nginx_tls "https://$NETNS_IP_S:8443/blob.bin" 120 --cacert "$NETNS_TMP/tls/cert.pem"

it_section "TLS verification"
it_synack tls_unknown_ca 30 get "https://$NETNS_IP_S:8443/index.html" -o "$NETNS_TMP/x.html" \
  --cacert /etc/ssl/certs/ca-certificates.crt
[ "$IT_RC" = 1 ] || { cat "$IT_ERR"; fail "an unknown CA must fail with exit 1 (got $IT_RC)"; }
grep -q "certificate verify failed" "$IT_ERR" || { cat "$IT_ERR"; fail "no verification error in the message"; }
ok "untrusted certificate: exit 1, '$(grep -o 'certificate verify failed' "$IT_ERR" | head -n1)'"
it_synack tls_insecure 30 get "https://$NETNS_IP_S:8443/index.html" -o "$NETNS_TMP/x.html" --insecure
[ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "--insecure must succeed (got $IT_RC)"; }
ok "--insecure skips verification"

it_section "status, redirects"
it_synack not_found 30 get "http://$NETNS_IP_S:8081/missing"
[ "$IT_RC" = 1 ] && grep -q " 404 " "$IT_ERR" || { cat "$IT_ERR"; fail "404 must print the status and exit 1"; }
mkdir -p "$NETNS_TMP/www/dir" && echo "in dir" >"$NETNS_TMP/www/dir/index.html"
it_synack redirect_not_followed 30 get "http://$NETNS_IP_S:8081/dir"
[ "$IT_RC" = 1 ] && grep -q "not followed" "$IT_ERR" || { cat "$IT_ERR"; fail "a 301 without -L is reported, not followed"; }
it_synack redirect_followed 30 get "http://$NETNS_IP_S:8081/dir" -L
[ "$IT_RC" = 0 ] && grep -q "in dir" "$IT_OUT" || { cat "$IT_ERR"; fail "-L must follow the 301"; }
ok "404 -> exit 1; 301 reported without -L, followed with -L"

it_section "ladder"
it_synack ladder 30 get "http://$NETNS_IP_S:8081/dir/index.html" --ladder
[ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "get --ladder must succeed (got $IT_RC)"; }
# The handshake, our request, and our FIN, each an arrow from us (|--- ... ->|) or the peer (|<-- ... -|).
for want in '|--- SYN seq' '|<-- SYN,ACK seq' '|--- ACK seq' '|--- PSH,ACK seq' '|--- FIN,ACK seq'; do
  grep -qF -- "$want" "$IT_ERR" || { cat "$IT_ERR"; fail "--ladder: no '$want' arrow"; }
done
ok "--ladder draws the handshake, the request and the close"

echo "rates:"; cat "$NETNS_TMP/rates.txt"
echo "PASS $(basename "$0") ($(it_elapsed))"
