#!/usr/bin/env bash
# Adversarial peer against an established synack client connection (issue 8): `synack get` fetches
# from a scapy HTTP server in the peer namespace (tests/integration/adversary.py client; the peer
# kernel's RSTs from that port are dropped by an iptables rule inside that namespace), which:
#   - after reading the request sends RSTs outside the window (ignored), in the window but not at
#     RCV.NXT (one challenge ACK, then rate limited), a SYN (challenge ACK), data outside the window
#     on both sides and data acknowledging bytes never sent (an ACK each, none of it taken), frames
#     with bad checksums and SYN+FIN (no answer) — then answers: get exits 0 with the body intact;
#   - advertises a zero window in its SYN-ACK and holds it (persist probes at growing intervals, no
#     busy loop), then opens it: the request goes out and get exits 0;
#   - never ACKs the request: retransmissions with doubling intervals, then get exits 1 (timed out);
#   - sends the whole response in one 65535-byte IPv4 packet (a 64 KiB coalesced frame; MTU 65535).
# get --stats FILE must show the counters moving for the right reasons. Exits 77 if not root or
# scapy is missing.
# The 64 KiB frame must be taken whole (the ring's slots hold a 65,535-byte IPv4 packet with its
# headers).
# Runs over IPv4 and, as integration.test_adversarial_client.ipv6, over IPv6 (it_family in lib.sh):
# scapy forges IPv6 headers, the 64 KiB frame is one 65,535-byte IPv6 packet, and the bad IPv4
# header checksum (IPv6 has none) is left out.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=adversary_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/adversary_lib.sh"
netns_require_root
adversary_require_scapy
it_init "$@"
PORT=8080
RETRIES=3

# ------------------------------------------------------------------------------------------------
it_section "set-up: big MTU, the peer kernel's RSTs from port $PORT dropped"
adversary_link_setup "$PORT"
it_capture_start cap "tcp port $PORT"

# ------------------------------------------------------------------------------------------------
it_section "the attacks (adversary.py client)"
adversary_run client --port "$PORT" --synack "$SYNACK" --client-ns "$NETNS_C" --retries "$RETRIES"
it_capture_stop cap
for f in "$NETNS_TMP"/get-*.err; do
  [ -s "$f" ] && { echo "   $(basename "$f"):"; sed 's/^/     /' "$f"; }
done
[ "$ADV_RC" = 0 ] || fail "adversary checks failed (exit $ADV_RC)"
ok "every adversarial check passed"
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
ok "no synack firewall rule left behind"
echo "== $(basename "$0"): passed ($(it_elapsed))"
