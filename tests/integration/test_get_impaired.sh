#!/usr/bin/env bash
# synack get through `synack impair` with 2% loss, 10% reordering, 1% duplication and 10 ms delay
# (both directions): the same 50 MiB file from python3 -m http.server, nginx (http) and nginx
# (https), each byte-exact. Prints each transfer's timing, rate and retransmissions.
# Runs over IPv4 and, as integration.test_get_impaired.ipv6, over IPv6 (it_family in lib.sh). The
# IPv6 run is a representative subset, to keep the suite's time: the same impairments, but 20 MiB
# (GET_SIZE_MB) from nginx over HTTP and over HTTPS only (one plain and one TLS byte-exact transfer
# through the box); python3 -m http.server's plain run and the 50 MiB size are the IPv4 run's (and
# 50 MiB over IPv6 on a clean link is test_get_clean's twin). In the sanitizer stage
# (IT_INSTRUMENTED=1, set by scripts/test.sh) the IPv4 run moves 20 MiB per server too: that stage
# looks for memory errors in the same code paths, the volume is stage 1's.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
[ "${IT_FAMILY:-4}" = 6 ] && GET_SIZE_MB=${GET_IMPAIRED_MB6:-20}
[ "${IT_INSTRUMENTED:-0}" = 1 ] && GET_SIZE_MB=${GET_IMPAIRED_MB6:-20}
it_init_impaired "$1" --loss 2% --reorder 10% --duplicate 1% --delay 10 --seed 7 --json
netns_require_tools nginx openssl sha256sum

it_section "peers"
get_make_blob
get_make_cert
netns_http_server 8080 || fail "python3 -m http.server did not start"
get_nginx 8081 8443
ok "python3 http.server on 8080, nginx on 8081 (http) and 8443 (https), behind the box"

it_section "$GET_SIZE_MB MiB downloads over $IT_FAMILY_NAME through --loss 2% --reorder 10% --duplicate 1% --delay 10"
if [ "$IT_FAMILY" = 4 ]; then
  get_fetch python_impaired "http://$(it_hp "$IT_IP_S" 8080)/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}"
fi
get_fetch nginx_impaired "http://$(it_hp "$IT_IP_S" 8081)/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}"
get_fetch nginx_tls_impaired "https://$(it_hp "$IT_IP_S" 8443)/blob.bin" "${GET_IMPAIRED_TIMEOUT:-200}" \
  --cacert "$NETNS_TMP/tls/cert.pem"

it_impair_stop
echo "box: $(tail -n 1 "$NETNS_IMPAIR_OUT")"
it_py "$(tail -n 1 "$NETNS_IMPAIR_OUT")" <<'PY' || fail "the box did not impair the transfers"
import json, sys
from it import *
c = json.loads(sys.argv[1])
tot = lambda k: sum(c.get(d, {}).get(k, 0) for d in ('a2b', 'b2a'))
check(tot('dropped') > 0 and tot('reordered') > 0, "box counters: %s" % c)
done("the box lost %d and reordered %d frames on the way" % (tot('dropped'), tot('reordered')))
PY
echo "rates:"; cat "$NETNS_TMP/rates.txt"
echo "PASS $(basename "$0") ($(it_elapsed))"
