#!/usr/bin/env bash
# Adversarial peer against `synack serve --echo` (issue 8): a scapy peer in the peer namespace does
# its own TCP (tests/integration/adversary.py; the peer kernel's RSTs for its ports are dropped by an
# iptables rule inside that namespace) and, on hand-made connections, sends:
#   - RSTs outside the window (ignored), in the window but not at RCV.NXT (one challenge ACK, then
#     rate limited), a SYN on the established connection (challenge ACK) — RFC 5961 §3, §4, §7;
#   - data outside the window on both sides and data acknowledging bytes never sent (an ACK, none
#     of it taken — RFC 5961 §5);
#   - bad IPv4 and TCP checksums, truncated IPv4 and TCP headers, data offset < 5 and past the
#     segment, option length 0 and past the header, SYN+FIN, SYN+RST, all flags set (also to the
#     listening port), IP fragments: no answer, each counted under its reason, nothing in the stream;
#   - a segment under an IPv4 header with options (taken); an exact RST (ends the connection);
#   - a zero window held forever (persist probes at growing intervals, no busy loop; the data
#     flows once the window opens);
#   - no ACKs at all (retransmissions with doubling intervals, then timed_out, then RSTs);
#   - one 65535-byte IPv4 packet (a 64 KiB coalesced frame; the veths' MTU is 65535 here).
# After each group the serve --stats FILE (SIGUSR1) must show the right counters moving, and the
# connection must still echo where it should. Exits 77 if not root or scapy is missing.
# The 64 KiB frame must be taken whole (the ring's slots hold a 65,535-byte IPv4 packet with its
# headers).
# Runs over IPv4 and, as integration.test_adversarial_server.ipv6, over IPv6 (it_family in lib.sh):
# scapy forges IPv6 headers; the IPv4-only frames have IPv6 analogues (adversary.py): a payload
# length beyond the frame; extension-header chains (hop-by-hop after destination options, a header
# past the payload, nine headers, a fragment header behind hop-by-hop: dropped and counted; a
# Router Alert hop-by-hop + destination options chain in front of data: taken); IPv6 fragment
# headers right after the fixed header and a cut IPv6 header (refused by the link's filter). No
# SYN flood here: SYN cookies (IPv4 and IPv6) are test_serve_flood's.
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
# shellcheck source=adversary_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/adversary_lib.sh"
netns_require_root
adversary_require_scapy
it_init "$@"
PEER_PORTS=40000:40099
RETRIES=3

# ------------------------------------------------------------------------------------------------
it_section "set-up: big MTU, the peer kernel's RSTs dropped for the scapy ports, synack serve --echo"
adversary_link_setup "$PEER_PORTS"
STATS="$NETNS_TMP/serve-stats.json"
it_capture_start cap "tcp port $SERVE_PORT"
SERVE_LISTEN=$(it_hp "$IT_IP_C" "$SERVE_PORT")
serve_start serve --echo --stats "$STATS" --retries "$RETRIES"

# ------------------------------------------------------------------------------------------------
it_section "the attacks (adversary.py server)"
adversary_run server --port "$SERVE_PORT" --port-lo 40000 --port-hi 40099 --stats "$STATS" \
  --pid "$SERVE_PID" --retries "$RETRIES"
netns_pid_alive "$SERVE_PID" || fail "synack serve died during the attacks"
it_capture_stop cap
[ "$ADV_RC" = 0 ] || fail "adversary checks failed (exit $ADV_RC)"
ok "every adversarial check passed"

# ------------------------------------------------------------------------------------------------
it_section "afterwards: the server still serves a kernel client, and exits cleanly"
got=$(ip netns exec "$NETNS_S" timeout 20 python3 "$IT_DIR/serve_clients.py" echo "$IT_IP_C" "$SERVE_PORT" 1 100000) \
  || fail "echo from kernel clients after the attacks failed: $got"
echo "   $got"
[[ "$got" == *'"ok": 1,'* ]] || fail "a kernel client's 100 kB echo after the attacks did not come back whole: $got"
ok "a kernel client's 100 kB echo after the attacks"
serve_stop
[ -s "$STATS" ] && "$SCAPY_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$STATS" \
  || fail "no valid --stats file at exit"
ok "--stats FILE written at exit ($(wc -c <"$STATS") bytes)"
echo "== $(basename "$0"): passed ($(it_elapsed))"
