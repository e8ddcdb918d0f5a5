#!/usr/bin/env bash
# This host (issue 15): targets on 127.0.0.0/8 and on the host's own addresses, with no -I. synack
# makes its own non-persistent tun device (synack0, synack1, ...) with an address the kernel does not own
# (198.18.0.0/15, RFC 2544; IPv6: an address of no interface), a host route to it via the tun and
# route_localnet=1 on the tun only; no firewall rule (the kernel never owns synack's address, so it
# never resets its connections). Everything happens inside the client namespace of the pair ("this
# host": lo up, veth-c 10.111.0.1 and fd00:111::1, plus 2001:db8:15::1 added nodad), with kernel
# servers of that same namespace: a listener that accepts and closes (:: port 9000, dual-stack) and
# python3 -m http.server (:: port 8080) serving a 20 MiB random file.
#   1. ping 127.0.0.1, 127.0.0.2 and the own veth address with --close fin and --close rst: every
#      probe ok; --json names the target as remote and a local address in 198.18.0.0/15 that no
#      interface owns; the tun is gone once ping exits;
#   2. ping --kernel: both engines' probes and summaries (the kernel's over its loopback path);
#   3. bench --engine both to 127.0.0.1 and to the own address: 0 failures on either engine;
#   4. get: 20 MiB byte-exact (sha256) from 127.0.0.1, the own IPv4 and the own IPv6 address;
#   5. serve --this-host --listen 198.18.A.B:PORT --echo with concurrent kernel clients of the same
#      namespace (threads and processes, random bytes per connection, every byte checked; one
#      client bound to 127.0.0.1): while it runs one synackN tun exists with route_localnet=1
#      (lo and all keep 0), the route to 198.18.A.B goes through it, iptables-save/ip6tables-save
#      show no synack rule; SIGTERM: exit 0, the tun and its route gone;
#   6. the tun is gone after SIGINT (ping -c 0) and after SIGKILL (serve) too, without
#      `rules clean`, and the next run works;
#   7. IPv6: ping [::1] exits 2 naming ::1 (the kernel drops ::1 arriving on any device but lo);
#      the namespace's own IPv6 addresses (fd00:111::1, 2001:db8:15::1) answer, both close modes;
#   8. the Asio front end: examples/callback_client and coro_client against 127.0.0.1 (skipped
#      when the examples are not built next to synack).
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
# shellcheck source=integrity_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/integrity_lib.sh"
# shellcheck source=serve_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve_lib.sh"
GET_SIZE_MB=20
it_init "$@"
it_require_ipv6
netns_require_tools sha256sum

HOST=$NETNS_C                 # "this host"
OWN4=$NETNS_IP_C              # its own veth address
OWN6=$NETNS_IP6_C             # its own IPv6 address on the veth (ULA)
OWN6G=2001:db8:15::1          # and a global-scope one, added nodad
LISTEN_PORT=9000
HTTP_PORT=8080
SERVE_PORT=7000
# Two addresses of synack's own for serve (the SIGKILL run gets a second one: a fresh route).
SRV_IP="198.18.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))"
SRV_IP2="198.18.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))"
[ "$SRV_IP2" != "$SRV_IP" ] || SRV_IP2="198.19.1.2"
STOP_S=20
[ "${SYNACK_SANITIZED:-0}" = 1 ] && STOP_S=60

ip -n "$HOST" -6 addr add "$OWN6G/64" dev "$NETNS_IF_C" nodad || fail "cannot add $OWN6G to $NETNS_IF_C"
ip netns exec "$HOST" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096

# synack_tuns: synack's tun devices in this host's namespace, one a line.
synack_tuns() {
  ip -n "$HOST" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^synack[0-9]+$' || true
}
no_tun() { [ -z "$(synack_tuns)" ]; }
# the_tun: the name of the one synack tun (the test runs one synack at a time); fails otherwise.
the_tun() {
  local t
  t=$(synack_tuns)
  [ -n "$t" ] && [ "$(grep -c . <<<"$t")" = 1 ] || return 1
  echo "$t"
}
# expect_no_tun WHAT: no synack tun left (bounded: the kernel deletes it when the fd closes).
expect_no_tun() {
  netns_wait_until 5 "synack's tun to disappear" no_tun \
    || fail "$1: a synack tun device is left behind: $(synack_tuns) ($(ip -n "$HOST" -o link show | grep synack))"
}
expect_no_rules() {
  [ -z "$(it_rules "$HOST")" ] || fail "$1: synack firewall rules present: $(it_rules "$HOST")"
}
# kernel_addrs: every address the kernel of this host owns (for "synack's address is not one").
kernel_addrs() { ip -n "$HOST" -o addr show | awk '{print $4}' | cut -d/ -f1 | tr '\n' ' '; }

it_section "kernel servers on this host"
netns_spawn "$HOST" "$NETNS_TMP/listener.log" "$(netns_python)" -c '
import socket
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 9000)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
'
netns_wait_listen "$HOST" "$LISTEN_PORT" || fail "the listener on $LISTEN_PORT did not start"
get_make_blob
head -c $((4 * 1024 * 1024)) /dev/urandom >"$NETNS_TMP/www/asio.bin"
netns_http_server "$HTTP_PORT" "$HOST" :: || fail "python3 -m http.server did not start in $HOST"
# The kernel itself reaches all of them (the baseline the rest compares with).
for t in 127.0.0.1 "$OWN4" "[$OWN6]" "[$OWN6G]"; do
  ip netns exec "$HOST" curl -gsf -o /dev/null "http://$t:$HTTP_PORT/index.html" || fail "curl http://$t:$HTTP_PORT/ failed"
done
ok "accept-and-close listener on [::]:$LISTEN_PORT, http.server on [::]:$HTTP_PORT ($GET_SIZE_MB MiB blob), all reachable by curl"
expect_no_tun "before any run"

# ping_check NAME HOST_PORT CLOSE: 3 probes, all ok; --json fields; synack's own address.
ping_check() {
  local name=$1 target=$2 close=$3
  it_synack "$name" 30 ping "$target" -c 3 -i 0.05 -W 3 --close "$close" --json
  [ "$IT_RC" = 0 ] || fail "ping $target --close $close: expected exit 0, got $IT_RC: $(head -c 400 "$IT_ERR")"
  it_py "$IT_OUT" "$target" "$(kernel_addrs)" <<'PY' || fail "ping $target --close $close: JSON checks failed"
import sys, ipaddress
from it import *
recs = ndjson(sys.argv[1]); target = sys.argv[2]; owned = set(sys.argv[3].split())
P = probes(recs)
check(len(P) == 3, "expected 3 probe records, got %d" % len(P))
for p in P:
    check(p.get('ok') is True and p.get('error') is None, "probe %s not ok: %r" % (p.get('seq'), p))
    check(p.get('remote') == target, "probe %s: remote %r, want %r" % (p.get('seq'), p.get('remote'), target))
    check(isinstance(p.get('handshake_us'), (int, float)) and p['handshake_us'] > 0, "probe %s: handshake_us %r" % (p.get('seq'), p.get('handshake_us')))
    check(p.get('syn_retransmits') == 0, "probe %s: syn_retransmits %r" % (p.get('seq'), p.get('syn_retransmits')))
    local = str(p.get('local', ''))
    host = local.rsplit(':', 1)[0].strip('[]')
    try:
        a = ipaddress.ip_address(host)
    except ValueError:
        check(False, "probe %s: local %r is not ADDR:PORT" % (p.get('seq'), local)); continue
    check(host not in owned, "probe %s: local address %s is one the kernel owns (%s)" % (p.get('seq'), host, sorted(owned)))
    check(not a.is_loopback, "probe %s: local address %s is a loopback address" % (p.get('seq'), host))
    if a.version == 4:
        check(a in ipaddress.ip_network('198.18.0.0/15'), "probe %s: local %s is not in 198.18.0.0/15" % (p.get('seq'), host))
s = summary(recs)
check(s.get('sent') == 3 and s.get('ok') == 3 and s.get('failed') == 0, "summary %r" % s)
done("%s: 3 of 3 probes ok from %s, handshake p50 %.1f us" % (target, P[0].get('local') if P else '?', s.get('p50_us', 0)))
PY
  expect_no_tun "after ping $target exited"
}

it_section "ping 127.0.0.1 / 127.0.0.2 / own veth address, --close fin and rst"
for target in "127.0.0.1:$LISTEN_PORT" "$OWN4:$LISTEN_PORT"; do
  for close in fin rst; do
    ping_check "ping-${target%%:*}-$close" "$target" "$close"
  done
done
ping_check "ping-127.0.0.2-fin" "127.0.0.2:$LISTEN_PORT" fin
expect_no_rules "after the pings"
ok "no firewall rule, no tun left after the pings"

it_section "ping --kernel: synack and the kernel's loopback connect()"
it_synack kernel 30 ping "127.0.0.1:$LISTEN_PORT" -c 4 -i 0.05 -W 3 --kernel --json
[ "$IT_RC" = 0 ] || fail "ping --kernel: expected exit 0, got $IT_RC"
it_py "$IT_OUT" <<'PY' || fail "ping --kernel: JSON checks failed"
import sys
from it import *
recs = ndjson(sys.argv[1])
for eng in ('synack', 'kernel'):
    P = probes(recs, eng)
    check(len(P) == 4 and all(p.get('ok') is True for p in P), "%s: %d probes, ok %r" % (eng, len(P), [p.get('ok') for p in P]))
    check(all(p.get('remote') == '127.0.0.1:9000' for p in P), "%s: remotes %r" % (eng, sorted({p.get('remote') for p in P})))
    s = summary(recs, eng)
    check(s.get('sent') == 4 and s.get('ok') == 4 and s.get('failed') == 0, "%s summary %r" % (eng, s))
K = probes(recs, 'kernel')
check(all(str(p.get('local', '')).startswith('127.0.0.1:') for p in K), "kernel locals %r (its loopback path)" % [p.get('local') for p in K])
S = {e: summary(recs, e).get('p50_us') for e in ('synack', 'kernel')}
done("both engines: 4 of 4 ok; p50 synack %s us, kernel %s us" % (S['synack'], S['kernel']))
PY
expect_no_tun "after ping --kernel"

it_section "bench --engine both (127.0.0.1 and the own veth address)"
bench_check() {  # NAME HOST_PORT N CLOSE
  it_synack "$1" 120 bench "$2" -n "$3" -c 64 --engine both --close "$4" --json "$NETNS_TMP/$1.json"
  cat "$IT_OUT"
  [ "$IT_RC" = 0 ] || fail "bench $2: expected exit 0 (no failures), got $IT_RC"
  it_py "$NETNS_TMP/$1.json" "$3" <<'PY' || fail "bench $2: JSON checks failed"
import sys, json
from it import *
j = json.load(open(sys.argv[1])); n = int(sys.argv[2])
E = j.get('engines', [])
check([e.get('engine') for e in E] == ['synack', 'kernel'], "engines %r" % [e.get('engine') for e in E])
for e in E:
    check(e.get('connections') == n and e.get('ok') == n and e.get('failed') == 0,
          "%s: connections/ok/failed %r/%r/%r (%r)" % (e.get('engine'), e.get('connections'), e.get('ok'), e.get('failed'), e.get('errors')))
    check(0 < e.get('p50_us', 0) <= e.get('p99_us', 0), "%s: percentiles %r" % (e.get('engine'), e))
done("%s" % "; ".join("%s %d/%d ok, %.0f conn/s, p50 %.1f us" % (e['engine'], e['ok'], n, e['conn_per_s'], e['p50_us']) for e in E))
PY
  expect_no_tun "after bench $2"
}
bench_check bench-lo "127.0.0.1:$LISTEN_PORT" 2000 rst
bench_check bench-own "$OWN4:$LISTEN_PORT" 500 fin
expect_no_rules "after bench"

it_section "get $GET_SIZE_MB MiB byte-exact (127.0.0.1, own IPv4, own IPv6)"
get_fetch get-lo "http://127.0.0.1:$HTTP_PORT/blob.bin" 120
get_fetch get-own4 "http://$OWN4:$HTTP_PORT/blob.bin" 120
get_fetch get-own6 "http://[$OWN6G]:$HTTP_PORT/blob.bin" 120
expect_no_tun "after get"
expect_no_rules "after get"

it_section "serve --this-host --listen $SRV_IP:$SERVE_PORT --echo, kernel clients of this host"
SERVE_LISTEN="$SRV_IP:$SERVE_PORT" serve_start srv --this-host --echo
TUN=$(the_tun) || fail "not exactly one synack tun device while serve runs: '$(synack_tuns)'"
grep -q "via $TUN " "$SERVE_OUT" || fail "serve's listening line does not name $TUN: $(head -n 1 "$SERVE_OUT")"
ip -n "$HOST" -d link show "$TUN" | grep -q 'tun type tun' || fail "$TUN is not a tun: $(ip -n "$HOST" -d link show "$TUN")"
ip -n "$HOST" -d link show "$TUN" | grep -q 'persist on' && fail "$TUN is persistent (it would outlive synack)"
rl=$(ip netns exec "$HOST" sysctl -n "net.ipv4.conf.$TUN.route_localnet")
[ "$rl" = 1 ] || fail "route_localnet on $TUN is '$rl', want 1"
for d in lo all default; do
  v=$(ip netns exec "$HOST" sysctl -n "net.ipv4.conf.$d.route_localnet")
  [ "$v" = 0 ] || fail "route_localnet on $d is '$v': synack changed more than its own tun"
done
ip -n "$HOST" route get "$SRV_IP" | grep -q "dev $TUN" || fail "the route to $SRV_IP is not via $TUN: $(ip -n "$HOST" route get "$SRV_IP")"
case " $(kernel_addrs) " in *" $SRV_IP "*) fail "the kernel owns $SRV_IP" ;; esac
expect_no_rules "while serve --this-host runs"
ok "$TUN: a non-persistent tun, route_localnet=1 on it only, $(ip -n "$HOST" route get "$SRV_IP" | head -n 1 | tr -s ' '), no firewall rule"
INTEGRITY_NS=$HOST INTEGRITY_HOST=$SRV_IP integrity_run "200 threads x 64 KiB" "$SERVE_PORT" 200 65536 1
INTEGRITY_NS=$HOST INTEGRITY_HOST=$SRV_IP integrity_run "600 clients x 8 KiB (3 processes)" "$SERVE_PORT" 600 8192 3
# A client bound to 127.0.0.1 (the kernel allows the loopback source: route_localnet on the tun).
ip netns exec "$HOST" "$(netns_python)" - "$SRV_IP" "$SERVE_PORT" <<'PY' || fail "the client bound to 127.0.0.1 did not get its echo"
import os, socket, sys
s = socket.socket(); s.settimeout(20); s.bind(('127.0.0.1', 0)); s.connect((sys.argv[1], int(sys.argv[2])))
data = os.urandom(200000); s.sendall(data); s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    got += b
assert bytes(got) == data, "echo differs (%d of %d bytes)" % (len(got), len(data))
print("ok: a client bound to 127.0.0.1 (%s) got 200000 bytes back byte-exact" % (s.getsockname(),))
PY
expect_no_rules "after the clients"
serve_stop
expect_no_tun "after serve's SIGTERM"
ip -n "$HOST" route get "$SRV_IP" 2>/dev/null | grep -q "dev $TUN" && fail "the route to $SRV_IP via $TUN survived"
ok "SIGTERM: exit 0, $TUN and its route gone"

it_section "the tun goes on SIGINT and SIGKILL too"
it_synack_bg sigint ping "127.0.0.1:$LISTEN_PORT" -c 0 -i 0.05 --close rst
pid=$IT_BG_PID
netns_wait_until 10 "3 probes" eval "[ \$(grep -c '^seq=' '$NETNS_TMP/sigint.out') -ge 3 ]" || fail "ping -c 0: no probes"
TUN=$(the_tun) || fail "not exactly one synack tun while ping -c 0 runs: '$(synack_tuns)'"
expect_no_rules "while ping -c 0 runs"
kill -INT "$pid"
it_wait_bg sigint "$pid" "$STOP_S"
[ "$IT_RC" = 0 ] || fail "ping -c 0 after SIGINT: expected exit 0, got $IT_RC"
expect_no_tun "after SIGINT"
ok "SIGINT: exit 0, $TUN gone ($(grep 'probes sent' "$NETNS_TMP/sigint.out"))"

it_synack_bg sigkill serve --this-host --listen "$SRV_IP2:$SERVE_PORT" --echo
pid=$IT_BG_PID
netns_wait_until 15 "serve to listen" grep -q "listening on" "$NETNS_TMP/sigkill.out" || fail "serve did not start"
TUN=$(the_tun) || fail "not exactly one synack tun while serve runs: '$(synack_tuns)'"
printf 'hello' | ip netns exec "$HOST" timeout 10 socat -t 5 - "TCP:$SRV_IP2:$SERVE_PORT" >"$NETNS_TMP/sigkill.echo" \
  || fail "socat to $SRV_IP2:$SERVE_PORT failed"
[ "$(cat "$NETNS_TMP/sigkill.echo")" = hello ] || fail "echo before SIGKILL: got '$(cat "$NETNS_TMP/sigkill.echo")'"
kill -KILL "$pid"
it_wait_bg sigkill "$pid" 10
[ "$IT_RC" = 137 ] || fail "serve after SIGKILL: expected status 137, got $IT_RC"
expect_no_tun "after SIGKILL (no rules clean run)"
ip -n "$HOST" route get "$SRV_IP2" 2>/dev/null | grep -q "dev $TUN" && fail "the route to $SRV_IP2 via $TUN survived SIGKILL"
expect_no_rules "after SIGKILL"
ping_check after-kill "127.0.0.1:$LISTEN_PORT" fin
ok "SIGKILL: $TUN and its route gone without rules clean; the next run works"

it_section "IPv6: ::1 refused (exit 2), this host's other IPv6 addresses work"
it_synack v6lo 15 ping "[::1]:$LISTEN_PORT" -c 1
[ "$IT_RC" = 2 ] || fail "ping [::1]: expected exit 2, got $IT_RC"
grep -q '::1' "$IT_ERR" || fail "ping [::1]: stderr does not mention ::1: $(cat "$IT_ERR")"
ok "ping [::1]: exit 2: $(head -n 1 "$IT_ERR")"
expect_no_tun "after ping [::1]"
for close in fin rst; do
  ping_check "ping6-ula-$close" "[$OWN6]:$LISTEN_PORT" "$close"
  ping_check "ping6-global-$close" "[$OWN6G]:$LISTEN_PORT" "$close"
done
expect_no_rules "after the IPv6 pings"

it_section "Asio front end (examples) against 127.0.0.1"
EXDIR="$(dirname "$SYNACK")/examples"
if [ -x "$EXDIR/example_callback_client" ] && [ -x "$EXDIR/example_coro_client" ]; then
  for ex in callback_client coro_client; do
    name="asio-$ex"
    # callback_client GETs asio.bin (4 MiB, compared byte for byte); coro_client GETs / (index.html).
    if [ "$ex" = callback_client ]; then args=(127.0.0.1 "$HTTP_PORT" /asio.bin); else args=(127.0.0.1 "$HTTP_PORT" 10000); fi
    echo "example_$ex ${args[*]}" >"$NETNS_TMP/$name.cmd"
    IT_CTX_RUNS+=("$name")
    rc=0
    timeout -k 5 60 ip netns exec "$HOST" "$EXDIR/example_$ex" "${args[@]}" \
      >"$NETNS_TMP/$name.raw" 2>"$NETNS_TMP/$name.err" </dev/null || rc=$?
    echo "$rc" >"$NETNS_TMP/$name.rc"
    sed -n '1,/^\r*$/p' "$NETNS_TMP/$name.raw" >"$NETNS_TMP/$name.out"   # the headers (a dump shows them)
    echo "   \$ example_$ex ${args[*]} -> exit $rc ($(tr '\n' ' ' <"$NETNS_TMP/$name.err"))"
    [ "$rc" = 0 ] || fail "example_$ex 127.0.0.1: exit $rc: $(head -c 400 "$NETNS_TMP/$name.err")"
    it_py "$NETNS_TMP/$name.raw" "$NETNS_TMP/www" "$ex" <<'PY' || fail "example_$ex 127.0.0.1: response checks failed"
import sys
from it import *
raw = open(sys.argv[1], 'rb').read(); www = sys.argv[2]; ex = sys.argv[3]
want = open(www + ('/asio.bin' if ex == 'callback_client' else '/index.html'), 'rb').read()
head, sep, body = raw.partition(b'\r\n\r\n')
check(sep and head.startswith(b'HTTP/1.') and b' 200 ' in head.split(b'\r\n')[0], "%s: no 200 response: %r" % (ex, raw[:200]))
check(body == want, "%s: body of %d bytes differs from the file's %d bytes (%r...)" % (ex, len(body), len(want), body[:80]))
done("%s: %d-byte body byte-exact" % (ex, len(body)))
PY
    expect_no_tun "after example_$ex"
  done
  expect_no_rules "after the examples"
else
  echo "SKIP (section): the Asio examples are not built in $EXDIR (-DSYNACK_EXAMPLES=ON, target example_callback_client)"
fi

echo "PASS $(basename "$0") ($(it_elapsed))"
