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
# headers; adversary.py's --strict-super, always on here).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
netns_require_root
SCAPY_PY=/usr/bin/python3
if ! "$SCAPY_PY" -c 'import scapy.layers.inet' >/dev/null 2>&1; then
  echo "SKIP: scapy missing (apt-get install python3-scapy; scripts/setup-deps.sh does)" >&2
  exit 77
fi
it_init "$@"
PORT=8080
MTU=65535
RETRIES=3

# ------------------------------------------------------------------------------------------------
it_section "set-up: big MTU, the peer kernel's RSTs from port $PORT dropped"
ip netns exec "$NETNS_C" ip link set "$NETNS_IF_C" mtu "$MTU"
ip netns exec "$NETNS_S" ip link set "$NETNS_IF_S" mtu "$MTU"
ip netns exec "$NETNS_S" iptables -w -A OUTPUT -p tcp --sport "$PORT" --tcp-flags RST RST -j DROP \
  || fail "cannot add the RST-drop rule in the peer namespace"
it_capture_start cap "tcp port $PORT"

# ------------------------------------------------------------------------------------------------
it_section "the attacks (adversary.py client)"
t0=$(date +%s%N)
rc=0
timeout -k 5 90 ip netns exec "$NETNS_S" "$SCAPY_PY" -u "$IT_DIR/adversary.py" client \
  --iface "$NETNS_IF_S" --my-ip "$NETNS_IP_S" --peer-ip "$NETNS_IP_C" \
  --peer-mac "$(ip netns exec "$NETNS_C" cat "/sys/class/net/$NETNS_IF_C/address")" --port "$PORT" \
  --synack "$SYNACK" --client-ns "$NETNS_C" --retries "$RETRIES" --mtu "$MTU" \
  --tmp "$NETNS_TMP" --strict-super >"$NETNS_TMP/adversary.log" 2>&1 || rc=$?
sed 's/^/   /' "$NETNS_TMP/adversary.log"
echo "   adversary: exit $rc in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
it_capture_stop cap
for f in "$NETNS_TMP"/get-*.err; do
  [ -s "$f" ] && { echo "   $(basename "$f"):"; sed 's/^/     /' "$f"; }
done
[ "$rc" = 0 ] || fail "adversary checks failed (exit $rc)"
ok "every adversarial check passed"
[ -z "$(it_rules "$NETNS_C")" ] || fail "firewall rules left behind: $(it_rules "$NETNS_C")"
ok "no synack firewall rule left behind"
echo "== $(basename "$0"): passed ($(it_elapsed))"
