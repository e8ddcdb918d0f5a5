#!/usr/bin/env bash
# A kernel TCP transfer through `synack impair` (no synack endpoint): curl in $NETNS_C fetches a
# 3 MB random file from `python3 -m http.server` in $NETNS_S through 2% loss, 10% reordering, 1%
# duplication and 10 ms delay in both directions. Asserts the file arrives byte-exact (sha256),
# within the time limit, and that the box's counters show each impairment was applied both ways.
# The IPv6 twin proves that the box forwards IPv6 TCP: curl connects to the peer's IPv6 address
# (-6, %{remote_ip}), and the box counts the transfer's frames (> 2,000 each way) as it does IPv4's.
# Runs over IPv4 and, as integration.test_impair_tcp.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init_impaired "$1" --loss 2% --reorder 10% --duplicate 1% --delay 10 --seed 3 --json
netns_require_tools curl sha256sum

it_section "curl 3 MB through --loss 2% --reorder 10% --duplicate 1% --delay 10"
netns_http_server 8080 || fail "python3 -m http.server did not start"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$NETNS_TMP/www/blob.bin"
t0=$(date +%s%N)
rc=0
ip netns exec "$NETNS_C" curl "-$IT_FAMILY" -g -sS --max-time 80 -o "$NETNS_TMP/got.bin" -w '%{remote_ip}' \
  "http://$(it_hp "$IT_IP_S" 8080)/blob.bin" >"$NETNS_TMP/curl.remote" 2>"$NETNS_TMP/curl.err" || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 0 ] || { cat "$NETNS_TMP/curl.err"; fail "curl exited $rc after $ms ms"; }
want=$(sha256sum <"$NETNS_TMP/www/blob.bin" | cut -d' ' -f1)
got=$(sha256sum <"$NETNS_TMP/got.bin" | cut -d' ' -f1)
echo "   transfer: $(stat -c %s "$NETNS_TMP/got.bin") bytes in $ms ms; sha256 sent $want, received $got"
[ "$want" = "$got" ] || fail "the file arrived corrupted (sha256 differs)"
[ "$(cat "$NETNS_TMP/curl.remote")" = "$IT_IP_S" ] \
  || fail "curl's peer was '$(cat "$NETNS_TMP/curl.remote")', expected $IT_IP_S ($IT_FAMILY_NAME)"
ok "3 MB byte-exact through the impaired path over $IT_FAMILY_NAME (curl's peer: $(cat "$NETNS_TMP/curl.remote"))"

it_impair_stop
tail -n 1 "$NETNS_IMPAIR_OUT" >"$NETNS_TMP/box.json"
it_py "$NETNS_TMP/box.json" <<'EOF2' || fail "box counter checks failed"
import json, sys
from it import *
b = json.load(open(sys.argv[1]))
for d in ('a2b', 'b2a'):
    c = b[d]
    print("%s: received %d forwarded %d dropped %d (%.2f%%) duplicated %d reordered %d queue drops %d ring drops %d tx errors %d"
          % (d, c['received'], c['forwarded'], c['dropped'], 100.0 * c['dropped'] / max(c['received'], 1),
             c['duplicated'], c['reordered'], c['queue_drops'], c['ring_drops'], c['tx_errors']))
    check(c['dropped'] > 0 and c['duplicated'] > 0 and c['reordered'] > 0, "%s: an impairment was never applied" % d)
    # 3 MB is > 2,000 full-sized segments one way and about half as many ACKs back: the transfer
    # itself crossed the box (not only neighbour discovery / ARP).
    check(c['received'] > 1000, "%s: only %d frames received: did the transfer cross the box?" % (d, c['received']))
    check(c['queue_drops'] == 0 and c['ring_drops'] == 0 and c['tx_errors'] == 0, "%s: unintended drops" % d)
    check(c['received'] + c['duplicated'] == c['forwarded'] + c['tx_errors'] + c['dropped'] + c['queue_drops']
          + c['oversize'] + c['runts'] + c['held'], "%s: counters do not add up: %r" % (d, c))
done("every impairment applied in both directions, nothing else lost")
EOF2

echo "PASS $(basename "$0") ($(it_elapsed))"
