#!/usr/bin/env bash
# Regenerates the capture seeds of the fuzz corpus (tests/fuzz/corpus/{frame,connection}/cap-*)
# from real traffic in throw-away namespaces (scripts/netns.sh): synack ping / get (HTTP and TLS) /
# serve against kernel peers, the kernel talking to itself (curl -> nginx), RSTs from a closed
# port, and the ARP exchanges before each. tests/fuzz/pcap_to_corpus.py turns every capture into
# frame seeds (a few per frame shape) and connection scripts (the peer's side of each connection).
# Other corpus files (found by fuzzing, named by their sha1) are left alone.
#
#   sudo scripts/fuzz-corpus.sh [SYNACK_BINARY]      (default: build/synack)
set -Eeuo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SYNACK=$(readlink -f "${1:-$REPO/build/synack}")
[ -x "$SYNACK" ] || { echo "fuzz-corpus.sh: no synack binary at $SYNACK (build first)" >&2; exit 2; }
# shellcheck source=netns.sh
source "$REPO/scripts/netns.sh"
netns_require_root
netns_require_tools ip tcpdump nginx curl socat openssl timeout
netns_setup
PCAPS=()

# run NAME ROLE CMD...: capture everything on the peer's veth while CMD runs (neighbour caches
# flushed first, so each capture starts with ARP).
run() {
  local name=$1 role=$2; shift 2
  ip -n "$NETNS_C" neigh flush all
  ip -n "$NETNS_S" neigh flush all
  netns_capture_start "$name"
  "$@" >"$NETNS_TMP/$name.log" 2>&1 || { cat "$NETNS_TMP/$name.log" >&2; echo "fuzz-corpus.sh: $name failed" >&2; exit 1; }
  netns_capture_stop "$name"
  PCAPS+=("$NETNS_TMP/$name.pcap:$role")
  echo "  $name: $(tcpdump -r "$NETNS_TMP/$name.pcap" 2>/dev/null | wc -l) frames"
}
in_c() { timeout -k 5 30 ip netns exec "$NETNS_C" "$@"; }
in_s() { timeout -k 5 30 ip netns exec "$NETNS_S" "$@"; }

mkdir -p "$NETNS_TMP/www/dir" "$NETNS_TMP/tls"
printf '<html><body>hello</body></html>\n' >"$NETNS_TMP/www/index.html"
head -c 65536 /dev/urandom >"$NETNS_TMP/www/64k.bin"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$NETNS_TMP/tls/key.pem" -out "$NETNS_TMP/tls/cert.pem" -subj "/CN=synack corpus" \
  -addext "subjectAltName=IP:$NETNS_IP_S" >/dev/null 2>&1
netns_nginx 8081 8443 "$NETNS_TMP/tls/cert.pem" "$NETNS_TMP/tls/key.pem"
netns_close_server 8082

us="us=$NETNS_IP_C"
run ping "$us" in_c "$SYNACK" ping "$NETNS_IP_S" -p 8081 -c 2 -i 0
run ping_rst "$us" in_c "$SYNACK" ping "$NETNS_IP_S" -p 8081 -c 1 --close rst
run ping_closed_port "$us" bash -c "! timeout -k 5 30 ip netns exec '$NETNS_C' '$SYNACK' ping '$NETNS_IP_S' -p 9 -c 1 -W 1"
run ping_peer_closes "$us" in_c "$SYNACK" ping "$NETNS_IP_S" -p 8082 -c 1 --hold 0.2
run ping_kernel both in_c "$SYNACK" ping "$NETNS_IP_S" -p 8081 -c 1 --kernel
run get_small "$us" in_c "$SYNACK" get "http://$NETNS_IP_S:8081/index.html" -o /dev/null
run get_64k "$us" in_c "$SYNACK" get "http://$NETNS_IP_S:8081/64k.bin" -o /dev/null
run get_tls "$us" in_c "$SYNACK" get "https://$NETNS_IP_S:8443/index.html" -o /dev/null --insecure
run kernel_curl both in_c curl -s -o /dev/null "http://$NETNS_IP_S:8081/64k.bin"

# synack serve in the client namespace, kernel clients from the peer's.
serve() {
  local mode=$1; shift
  ip netns exec "$NETNS_C" "$SYNACK" serve --listen "$NETNS_IP_C:8080" "$mode" --msl 0.1 \
    >"$NETNS_TMP/serve.out" 2>&1 </dev/null &
  local pid=$!
  NETNS_PIDS+=("$pid")
  netns_wait_until 15 "synack serve" grep -q "listening on" "$NETNS_TMP/serve.out"
  "$@"
  kill -TERM "$pid"
  netns_wait_exit "$pid" 20
}
run serve_echo "$us" serve --echo in_s socat -b 4096 - "TCP:$NETNS_IP_C:8080" < <(head -c 20000 /dev/zero | tr '\0' 'x')
run serve_http "$us" serve --http in_s curl -s -o /dev/null "http://$NETNS_IP_C:8080/"

out="$REPO/tests/fuzz/corpus"
find "$out/frame" "$out/connection" -maxdepth 1 -name 'cap-*' -delete 2>/dev/null || true
python3 "$REPO/tests/fuzz/pcap_to_corpus.py" "$out" "${PCAPS[@]}"
echo "corpus: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1)"
