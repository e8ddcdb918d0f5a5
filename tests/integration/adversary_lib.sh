# Shared by the scapy adversarial tests (test_adversarial_*.sh): scapy plays TCP by hand from the
# peer namespace ($NETNS_S) against synack in $NETNS_C. Source after lib.sh.

SCAPY_PY=/usr/bin/python3  # Debian's python3-scapy (a pyenv python on PATH would not see it)
ADV_MTU=65535              # room for the 64 KiB coalesced frame

# adversary_require_scapy: exit 77 (skip) unless scapy imports.
adversary_require_scapy() {
  if ! "$SCAPY_PY" -c 'import scapy.layers.inet' >/dev/null 2>&1; then
    echo "SKIP: scapy missing (apt-get install python3-scapy; scripts/setup-deps.sh does)" >&2
    exit 77
  fi
}

# adversary_link_setup PORTS: the big MTU on both ends, and the peer kernel's RSTs from PORTS
# (where scapy plays TCP, so the kernel knows no socket) dropped inside the peer namespace
# (iptables or, for an IPv6 twin, ip6tables: $IT_IPT).
adversary_link_setup() {
  ip netns exec "$NETNS_C" ip link set "$NETNS_IF_C" mtu "$ADV_MTU"
  ip netns exec "$NETNS_S" ip link set "$NETNS_IF_S" mtu "$ADV_MTU"
  ip netns exec "$NETNS_S" "${IT_IPT:-iptables}" -w -A OUTPUT -p tcp --sport "$1" --tcp-flags RST RST -j DROP \
    || fail "cannot add the RST-drop rule in the peer namespace"
}

# adversary_run MODE ARGS...: adversary.py MODE (server|client) in the peer namespace with the
# topology's arguments (the family's addresses: IT_IP_S / IT_IP_C) plus ARGS; prints its log
# indented and sets ADV_RC to its exit status.
adversary_run() {
  local mode=$1 t0
  shift
  t0=$(date +%s%N)
  ADV_RC=0
  timeout -k 5 90 ip netns exec "$NETNS_S" "$SCAPY_PY" -u "$IT_DIR/adversary.py" "$mode" \
    --iface "$NETNS_IF_S" --my-ip "$IT_IP_S" --peer-ip "$IT_IP_C" \
    --peer-mac "$(ip netns exec "$NETNS_C" cat "/sys/class/net/$NETNS_IF_C/address")" \
    --mtu "$ADV_MTU" --tmp "$NETNS_TMP" "$@" >"$NETNS_TMP/adversary.log" 2>&1 || ADV_RC=$?
  sed 's/^/   /' "$NETNS_TMP/adversary.log"
  echo "   adversary: exit $ADV_RC in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}
