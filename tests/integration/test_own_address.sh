#!/usr/bin/env bash
# Own-address mode (issue 15): `--own-address ADDR` makes synack a host of its own on the link: a
# macvlan synackm<PID> on the client's veth with a MAC derived from ADDR and no kernel address;
# synack answers ARP/NDP for ADDR and installs no firewall rule. Against the kernel peer:
#   1. ping: every handshake ok, from ADDR, via synackm<PID>; the peer's neighbour entry for ADDR
#      names the derived MAC; no firewall rule of synack's while a ping runs (iptables-save and
#      ip6tables-save), and the macvlan has IPv4 forwarding 0 and IPv6 disabled;
#   2. get: a 3 MB random file from python3 -m http.server, byte-exact;
#   3. serve --echo on ADDR with 8 concurrent kernel clients, each sending its own random bytes,
#      every byte of every echo checked; the client namespace forwards (ip_forward=1, IPv6
#      forwarding on), yet the kernel forwards none of the frames addressed to synack (the
#      macvlan's forwarding=0 / disable_ipv6); no firewall rule while it serves; SIGINT: exit 0,
#      the macvlan is gone;
#   4. SIGTERM of a running ping: exit 0, the macvlan is gone;
#   5. SIGKILL of a running ping: the macvlan stays, `synack rules show` lists it with a dead
#      owner, `synack rules clean` deletes it (and says so), `rules show` no longer lists it;
#   6. ADDR owned by the kernel (the client's own veth address): exit 2, one line naming the
#      address, no macvlan left; ADDR of the other family than the target: exit 2.
# synack runs in the client namespace of the pair (never on the host's interfaces).
# Runs over IPv4 (ADDR 10.111.0.50) and, as integration.test_own_address.ipv6, over IPv6 (ADDR
# fd00:111::50, on-link /64 from the veth's address).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init "$@"

if [ "$IT_FAMILY" = 6 ]; then
  OWN=fd00:111::50 OTHER_FAMILY_OWN=10.111.0.50 MAC=02:56:00:00:00:50
else
  OWN=10.111.0.50 OTHER_FAMILY_OWN=fd00:111::50 MAC=02:53:0a:6f:00:32
fi
HTTP_PORT=8081
ECHO_PORT=7007
netns_http_server "$HTTP_PORT" || fail "python3 -m http.server ($HTTP_PORT) did not start"

in_c() { ip netns exec "$NETNS_C" "$@"; }
has_device() { in_c ip link show "synackm$1" >/dev/null 2>&1; }
no_rules() {
  local r
  r=$(it_rules "$NETNS_C")
  [ -z "$r" ] || fail "synack has firewall rules in own-address mode: $r"
}
# A background run (it_synack_bg) until its macvlan is up; $1 run name, rest synack's arguments.
bg_until_device() {
  local name=$1; shift
  it_synack_bg "$name" "$@"
  BG=$IT_BG_PID
  netns_wait_until 15 "macvlan synackm$BG" has_device "$BG" \
    || { cat "$NETNS_TMP/$name.err"; fail "no macvlan synackm$BG for the running synack"; }
}

# ------------------------------------------------------------------------------------------------
it_section "ping with --own-address $OWN"
it_synack ping 30 ping "$IT_IP_S" -p "$HTTP_PORT" -c 5 -i 0.05 --own-address "$OWN" --json
[ "$IT_RC" = 0 ] || fail "ping --own-address: expected exit 0, got $IT_RC: $(cat "$IT_ERR")"
it_py "$IT_OUT" "$OWN" <<'EOF' || fail "ping records"
import sys
from it import *
recs = ndjson(sys.argv[1]); own = sys.argv[2]
ps = probes(recs)
check(len(ps) == 5, "5 probes, got %d" % len(ps))
for p in ps:
    check(p.get('ok') is True, "probe not ok: %r" % p)
    check(p.get('local', '').startswith(hp(own, '')[:-1]), "probe not from %s: %r" % (own, p.get('local')))
s = summary(recs)
check(s.get('ok') == 5, "summary ok=%r" % s.get('ok'))
done("5 handshakes from the own address")
EOF
ip netns exec "$NETNS_S" ip neigh show "$OWN" | grep -qi "$MAC" \
  || fail "the peer's neighbour entry for $OWN does not name $MAC: $(ip netns exec "$NETNS_S" ip neigh show "$OWN")"
ok "the peer reaches $OWN at $MAC (answered by synack)"
[ -z "$(in_c ip -o link show type macvlan)" ] || fail "macvlan left after ping: $(in_c ip -o link show type macvlan)"
ok "no macvlan left after the ping"

it_section "while running: no firewall rule, forwarding 0, IPv6 off, alias"
bg_until_device ping-long ping "$IT_IP_S" -p "$HTTP_PORT" -c 0 -i 0.1 --own-address "$OWN"
no_rules
ok "iptables-save / ip6tables-save show nothing from synack"
[ "$(in_c cat "/proc/sys/net/ipv4/conf/synackm$BG/forwarding")" = 0 ] || fail "forwarding is not 0 on synackm$BG"
if [ -e "/proc/sys/net/ipv6" ]; then
  [ "$(in_c cat "/proc/sys/net/ipv6/conf/synackm$BG/disable_ipv6")" = 1 ] || fail "IPv6 is not disabled on synackm$BG"
fi
in_c ip -o addr show dev "synackm$BG" | grep -q inet && fail "synackm$BG has a kernel address: $(in_c ip -o addr show dev "synackm$BG")"
in_c ip -d link show "synackm$BG" | grep -q "macvlan mode bridge" || fail "synackm$BG is not a bridge-mode macvlan"
in_c ip -d link show "synackm$BG" | grep -q "alias synack pid=$BG start=" || fail "synackm$BG has no owner alias"
in_c "$SYNACK" rules show | grep -E "^synackm$BG +$BG +yes +veth-c" >/dev/null \
  || fail "rules show does not list synackm$BG as alive: $(in_c "$SYNACK" rules show)"
ok "synackm$BG: bridge mode on veth-c, no address, forwarding 0, IPv6 off, listed alive by rules show"

it_section "SIGTERM removes the macvlan"
kill -TERM "$BG"
it_wait_bg ping-long "$BG" 15
[ "$IT_RC" = 0 ] || fail "ping -c 0 exited $IT_RC on SIGTERM: $(cat "$NETNS_TMP/ping-long.err")"
has_device "$BG" && fail "synackm$BG still there after SIGTERM"
ok "exit 0 on SIGTERM, synackm$BG gone"

# ------------------------------------------------------------------------------------------------
it_section "get byte-exact with --own-address"
head -c 3000000 /dev/urandom >"$NETNS_TMP/www/blob.bin"
it_synack get 60 get "$(it_url "$IT_IP_S" "$HTTP_PORT" blob.bin)" -o "$NETNS_TMP/blob.got" --own-address "$OWN"
[ "$IT_RC" = 0 ] || fail "get --own-address: expected exit 0, got $IT_RC: $(cat "$IT_ERR")"
cmp "$NETNS_TMP/www/blob.bin" "$NETNS_TMP/blob.got" || fail "get: the body differs from the file"
grep -q "via synackm" "$IT_ERR" || fail "get did not go via a synackm macvlan: $(cat "$IT_ERR")"
ok "3 MB byte-exact from $(it_hp "$OWN" '*')"

# ------------------------------------------------------------------------------------------------
it_section "serve --echo on the own address, concurrent kernel clients, forwarding host"
fwd4() { in_c awk '/^Ip: [0-9]/{print $7}' /proc/net/snmp; }
fwd6() { in_c awk '$1=="Ip6OutForwDatagrams"{print $2}' /proc/net/snmp6 2>/dev/null || echo 0; }
in_c sysctl -qw net.ipv4.ip_forward=1
[ -e /proc/sys/net/ipv6 ] && in_c sysctl -qw net.ipv6.conf.all.forwarding=1
F4=$(fwd4) F6=$(fwd6)
bg_until_device serve serve --listen "$(it_hp "$OWN" "$ECHO_PORT")" --own-address "$OWN" --echo
SPID=$BG
netns_wait_until 15 "serve to listen" grep -q "listening on" "$NETNS_TMP/serve.out" || fail "serve did not start"
no_rules
ok "serve listening ($(head -n 1 "$NETNS_TMP/serve.out")), no firewall rule"
ip netns exec "$NETNS_S" "$(netns_python)" - "$OWN" "$ECHO_PORT" <<'EOF' || fail "echo clients"
import os, socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
results = {}
def client(i):
    data = os.urandom(200000 + 7919 * i)  # each its own bytes and length
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect((host, port))
        got = bytearray()
        def reader():
            while True:
                b = s.recv(65536)
                if not b:
                    return
                got.extend(b)
        t = threading.Thread(target=reader); t.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        t.join(25)
        s.close()
        if bytes(got) == data:
            results[i] = "ok"
        else:
            n = min(len(got), len(data))
            first = next((k for k in range(n) if got[k] != data[k]), n)
            results[i] = "mismatch: sent %d got %d, first difference at byte %d" % (len(data), len(got), first)
    except Exception as e:
        results[i] = "error: %r" % e
ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
[t.start() for t in ts]; [t.join(40) for t in ts]
bad = {i: r for i, r in results.items() if r != "ok"}
print("clients: %d ok of 8" % sum(1 for r in results.values() if r == "ok"))
if bad or len(results) != 8:
    print("FAIL:", bad, "finished:", len(results)); sys.exit(1)
EOF
ok "8 concurrent kernel clients, every echoed byte checked"
[ "$(fwd4)" = "$F4" ] || fail "the client namespace forwarded IPv4 datagrams ($F4 -> $(fwd4))"
[ "$(fwd6)" = "$F6" ] || fail "the client namespace forwarded IPv6 datagrams ($F6 -> $(fwd6))"
ok "with forwarding on in the namespace, nothing addressed to synack was forwarded by the kernel"
in_c sysctl -qw net.ipv4.ip_forward=0
[ -e /proc/sys/net/ipv6 ] && in_c sysctl -qw net.ipv6.conf.all.forwarding=0
kill -INT "$SPID"
it_wait_bg serve "$SPID" 20
[ "$IT_RC" = 0 ] || fail "serve exited $IT_RC on SIGINT: $(cat "$NETNS_TMP/serve.err")"
has_device "$SPID" && fail "synackm$SPID still there after SIGINT"
ok "serve: exit 0 on SIGINT, synackm$SPID gone"

# ------------------------------------------------------------------------------------------------
it_section "SIGKILL leaves the macvlan; rules clean removes it"
bg_until_device ping-kill ping "$IT_IP_S" -p "$HTTP_PORT" -c 0 -i 0.1 --own-address "$OWN"
kill -KILL "$BG"
wait "$BG" 2>/dev/null || true
has_device "$BG" || fail "synackm$BG vanished after SIGKILL (expected it to stay until rules clean)"
in_c "$SYNACK" rules show | grep -E "^synackm$BG +$BG +no " >/dev/null \
  || fail "rules show does not list synackm$BG with a dead owner: $(in_c "$SYNACK" rules show)"
in_c "$SYNACK" rules show --json | grep -q "\"device\":\"synackm$BG\"" || fail "rules show --json lacks synackm$BG"
out=$(in_c "$SYNACK" rules clean) || fail "rules clean failed"
echo "$out" | grep -q "and 1 stale device" || fail "rules clean said: $out"
has_device "$BG" && fail "synackm$BG still there after rules clean"
in_c "$SYNACK" rules show | grep -q "synackm$BG" && fail "rules show still lists synackm$BG"
ok "SIGKILL: synackm$BG stayed, listed dead, deleted by rules clean ($out)"

# ------------------------------------------------------------------------------------------------
it_section "refusals"
it_synack owned 15 ping "$IT_IP_S" -p "$HTTP_PORT" -c 1 --own-address "$IT_IP_C"
[ "$IT_RC" = 2 ] || fail "--own-address of the kernel's own address: expected exit 2, got $IT_RC"
[ "$(wc -l <"$IT_ERR")" = 1 ] && grep -q "$IT_IP_C is an address of this host" "$IT_ERR" \
  || fail "expected one line naming $IT_IP_C: $(cat "$IT_ERR")"
ok "kernel-owned address refused: $(cat "$IT_ERR")"
it_synack family 15 ping "$IT_IP_S" -p "$HTTP_PORT" -c 1 --own-address "$OTHER_FAMILY_OWN"
[ "$IT_RC" = 2 ] || fail "--own-address of the other family: expected exit 2, got $IT_RC"
ok "other family refused: $(cat "$IT_ERR")"
[ -z "$(in_c ip -o link show type macvlan)" ] || fail "macvlan left: $(in_c ip -o link show type macvlan)"
no_rules
ok "no macvlan and no firewall rule left ($(it_elapsed))"
