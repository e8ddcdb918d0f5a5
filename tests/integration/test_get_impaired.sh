#!/usr/bin/env bash
# synack get through `synack impair` with 2% loss, 10% reordering, 1% duplication and 10 ms delay
# (both directions): the same 50 MiB file from python3 -m http.server, nginx (http) and nginx
# (https), each byte-exact. Prints each transfer's timing, rate and retransmissions.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
it_init_impaired "$1" --loss 2% --reorder 10% --duplicate 1% --delay 10 --seed 7 --json
netns_require_tools nginx openssl sha256sum

it_section "peers"
get_make_blob
get_make_cert
netns_http_server 8080 || fail "python3 -m http.server did not start"
get_nginx 8081 8443
ok "python3 http.server on 8080, nginx on 8081 (http) and 8443 (https), behind the box"

it_section "50 MiB downloads through --loss 2% --reorder 10% --duplicate 1% --delay 10"
get_fetch python_impaired "http://$NETNS_IP_S:8080/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}"
get_fetch nginx_impaired "http://$NETNS_IP_S:8081/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}"
get_fetch nginx_tls_impaired "https://$NETNS_IP_S:8443/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}" \
  --cacert "$NETNS_TMP/tls/cert.pem"

it_impair_stop
echo "box: $(tail -n 1 "$NETNS_IMPAIR_OUT")"
echo "rates:"; cat "$NETNS_TMP/rates.txt"
echo "PASS $(basename "$0") ($(it_elapsed))"
