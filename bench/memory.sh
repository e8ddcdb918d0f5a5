#!/usr/bin/env bash
# Memory under active load (issue 16: buffers that cost what they hold), synack against the
# kernel in the same run, over the same veth pair:
#
#   sudo bench/memory.sh [--synack PATH] [--seconds S] [--clients N] [--echoes N] [--json]
#
#   http   `wrk -c N` (default 256) keep-alive clients for S seconds (default 30) against
#          `synack serve --http`, then against nginx (one worker, the same small page) on the
#          kernel's TCP. synack: growth of its RSS (VmRSS after - before) and its peak (VmHWM -
#          before); kernel: the nginx worker's RSS growth plus the peak of its sockets' memory
#          (50 ms samples of `ss -m` in its namespace, as below).
#          Target: synack grows by at most 16 MiB (64 KiB per active connection).
#   echo   N (default 1000) concurrent kernel clients (tests/integration/integrity_clients.py: 4
#          processes of threads, 64 KiB of their own random bytes each, every byte checked) against
#          `synack serve --echo`, then against a kernel echo server (python selectors, one
#          thread). synack: peak RSS growth (VmHWM - before); kernel: the peak over 50 ms samples
#          of the server's socket memory (`ss -m` in its namespace: rmem_alloc + wmem_queued +
#          forward_alloc over its sockets). Target: synack within 3x the kernel.
# Builds its own throw-away namespaces (scripts/netns.sh); nothing on the host is touched.
# Prints a table, or with --json one object {"metrics":[...]} like bench/run.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SYNACK=${SYNACK:-$here/build/synack}
SECONDS_RUN=30
CLIENTS=256
ECHOES=1000
JSON=0
while [ $# -gt 0 ]; do
  case "$1" in
    --synack) SYNACK=$2; shift 2 ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --echoes) ECHOES=$2; shift 2 ;;
    --json) JSON=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memory.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "memory.sh: needs root (network namespaces)" >&2; exit 77; }
[ -d "$SYNACK" ] && SYNACK=$SYNACK/synack
[ -x "$SYNACK" ] || { echo "memory.sh: no synack binary at $SYNACK (build first, or pass --synack)" >&2; exit 2; }
for t in wrk nginx python3; do
  command -v "$t" >/dev/null || { echo "memory.sh: $t not found (scripts/setup-deps.sh installs it)" >&2; exit 2; }
done
export NETNS_OFFLOADS=${NETNS_OFFLOADS:-keep}
# shellcheck source=../scripts/netns.sh
source "$here/scripts/netns.sh"
netns_setup
log() { echo "memory.sh: $*" >&2; }

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }   # a /proc status field, KiB
sampler_stop() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; sort -n "$1" | tail -n1; }
# The kernel server's own socket memory in NS, port 8080: the sum over its sockets of what
# `ss -m` reports as charged to them (rmem_alloc r + wmem_queued w + forward_alloc f), bytes.
server_sock_bytes() {
  ip netns exec "$1" ss -tmnH state connected '( sport = :8080 )' 2>/dev/null |
    grep -o 'skmem:([^)]*)' | awk -F'[(),]' '{for (i = 2; i <= NF; i++) {k = substr($i, 1, 1); v = substr($i, 2)
      if ($i ~ /^r[0-9]/ || $i ~ /^w[0-9]/ || $i ~ /^f[0-9]/) s += v}} END {print s + 0}'
}
ss_sampler_start() {
  (while :; do server_sock_bytes "$2" || echo 0; sleep 0.05; done) >"$1" &
  SAMPLER=$!
}

start_synack() {  # MODE: serve on the client side's address, port 8080
  netns_spawn "$NETNS_C" "$NETNS_TMP/serve.log" "$SYNACK" serve --listen "$NETNS_IP_C:8080" "--$1" --max-table 200000
  SYN_PID=$NETNS_LAST_PID
  netns_wait_until 20 "synack serve listening" grep -q "listening" "$NETNS_TMP/serve.log" \
    || { cat "$NETNS_TMP/serve.log" >&2; exit 1; }
  sleep 0.5
  SYN_BEFORE=$(kib "$SYN_PID" VmRSS)
}
stop_synack() {
  kill -TERM "$SYN_PID" 2>/dev/null || true
  netns_wait_exit "$SYN_PID" 30 || kill -KILL "$SYN_PID" 2>/dev/null || true
}

results=()
add() { results+=("$1"); }

# --- http: wrk keep-alive clients -----------------------------------------------------------
log "http: $CLIENTS wrk clients for $SECONDS_RUN s against synack serve --http"
start_synack http
ip netns exec "$NETNS_S" wrk -t 2 -c "$CLIENTS" -d "${SECONDS_RUN}s" "http://$NETNS_IP_C:8080/" >"$NETNS_TMP/wrk-synack.txt" 2>&1
syn_after=$(kib "$SYN_PID" VmRSS)
syn_hwm=$(kib "$SYN_PID" VmHWM)
syn_rps=$(awk '/Requests\/sec/ {print $2}' "$NETNS_TMP/wrk-synack.txt")
page=$(ip netns exec "$NETNS_S" curl -s --max-time 5 "http://$NETNS_IP_C:8080/" || true)
stop_synack
syn_grow=$((syn_after - SYN_BEFORE))
syn_peak=$((syn_hwm - SYN_BEFORE))

log "http: the same against nginx (kernel TCP)"
mkdir -p "$NETNS_TMP/www" "$NETNS_TMP/nginx-body"
cat >"$NETNS_TMP/nginx-mem.conf" <<CONF
daemon off;
user root;
worker_processes 1;
pid $NETNS_TMP/nginx-mem.pid;
error_log $NETNS_TMP/nginx-mem-error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $NETNS_TMP/nginx-body;
  default_type text/html;
  server { listen $NETNS_IP_S:8080; root $NETNS_TMP/www; }
}
CONF
printf '%s' "$page" >"$NETNS_TMP/www/index.html"   # the page synack served, byte for byte
netns_spawn "$NETNS_S" "$NETNS_TMP/nginx-mem.log" nginx -c "$NETNS_TMP/nginx-mem.conf" -p "$NETNS_TMP"
NGINX_PID=$NETNS_LAST_PID
netns_wait_listen "$NETNS_S" 8080 20
worker=$(pgrep -P "$NGINX_PID" -f "nginx: worker" | head -n1)
[ -n "$worker" ] || { log "no nginx worker"; exit 1; }
ng_before=$(kib "$worker" VmRSS)
ss_sampler_start "$NETNS_TMP/sock-kernel-http" "$NETNS_S"
ip netns exec "$NETNS_C" wrk -t 2 -c "$CLIENTS" -d "${SECONDS_RUN}s" "http://$NETNS_IP_S:8080/" >"$NETNS_TMP/wrk-kernel.txt" 2>&1
ng_after=$(kib "$worker" VmRSS)
sock_kernel_http=$(sampler_stop "$NETNS_TMP/sock-kernel-http")
ng_rps=$(awk '/Requests\/sec/ {print $2}' "$NETNS_TMP/wrk-kernel.txt")
kill -TERM "$NGINX_PID" 2>/dev/null || true
netns_wait_exit "$NGINX_PID" 10 || true
ker_http=$(( (ng_after - ng_before) + sock_kernel_http / 1024 ))
[ "$ker_http" -gt 0 ] || ker_http=1
add "$(printf '{"name":"http_keepalive_memory_growth","synack":%d,"synack_peak":%d,"kernel":%d,"ratio":%.3f,"unit":"KiB","target":"synack <= 16384 KiB","met":%s,"clients":%d,"seconds":%d,"synack_rps":%s,"kernel_rps":%s,"nginx_rss_growth":%d,"kernel_server_sock_bytes_peak":%d}' \
  "$syn_grow" "$syn_peak" "$ker_http" "$(python3 -c "print($syn_grow / $ker_http)")" \
  "$([ "$syn_peak" -le 16384 ] && echo true || echo false)" "$CLIENTS" "$SECONDS_RUN" "${syn_rps:-null}" "${ng_rps:-null}" \
  "$((ng_after - ng_before))" "$sock_kernel_http")"

# --- echo: 1,000 concurrent 64 KiB echoes ---------------------------------------------------
log "echo: $ECHOES concurrent 64 KiB echoes against synack serve --echo"
start_synack echo
ip netns exec "$NETNS_S" python3 "$here/tests/integration/integrity_clients.py" "$NETNS_IP_C" 8080 "$ECHOES" 65536 \
  --procs 4 --timeout 120 >"$NETNS_TMP/echo-synack.json" \
  || { cat "$NETNS_TMP/echo-synack.json" >&2; log "synack echo run failed"; exit 1; }
syn_hwm=$(kib "$SYN_PID" VmHWM)
stop_synack
syn_echo=$((syn_hwm - SYN_BEFORE))

log "echo: the same against a kernel echo server"
cat >"$NETNS_TMP/echo_server.py" <<'PY'
import selectors, socket, sys
sel = selectors.DefaultSelector()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2]))); ls.listen(4096); ls.setblocking(False)
sel.register(ls, selectors.EVENT_READ)
pending = {}
while True:
    for key, ev in sel.select():
        s = key.fileobj
        if s is ls:
            c, _ = ls.accept(); c.setblocking(False); pending[c] = b""
            sel.register(c, selectors.EVENT_READ)
            continue
        if ev & selectors.EVENT_READ:
            try:
                d = s.recv(65536)
            except ConnectionError:
                d = b""
            if not d:
                sel.unregister(s); pending.pop(s, None); s.close(); continue
            pending[s] += d
        if pending.get(s):
            try:
                n = s.send(pending[s]); pending[s] = pending[s][n:]
            except BlockingIOError:
                pass
            except ConnectionError:
                sel.unregister(s); pending.pop(s, None); s.close(); continue
        sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if pending[s] else 0))
PY
netns_spawn "$NETNS_S" "$NETNS_TMP/echo-kernel.log" python3 "$NETNS_TMP/echo_server.py" "$NETNS_IP_S" 8080
ECHO_PID=$NETNS_LAST_PID
netns_wait_listen "$NETNS_S" 8080 20
ss_sampler_start "$NETNS_TMP/sock-kernel-echo" "$NETNS_S"
ip netns exec "$NETNS_C" python3 "$here/tests/integration/integrity_clients.py" "$NETNS_IP_S" 8080 "$ECHOES" 65536 \
  --procs 4 --timeout 120 >"$NETNS_TMP/echo-kernel.json" \
  || { cat "$NETNS_TMP/echo-kernel.json" >&2; log "kernel echo run failed"; exit 1; }
sock_kernel_echo=$(sampler_stop "$NETNS_TMP/sock-kernel-echo")
kill -TERM "$ECHO_PID" 2>/dev/null || true
ker_echo=$(( sock_kernel_echo / 1024 ))
[ "$ker_echo" -gt 0 ] || ker_echo=1
ratio_echo=$(python3 -c "print($syn_echo / $ker_echo)")
syn_secs=$(python3 -c "import json; print(json.load(open('$NETNS_TMP/echo-synack.json'))['seconds'])")
ker_secs=$(python3 -c "import json; print(json.load(open('$NETNS_TMP/echo-kernel.json'))['seconds'])")
add "$(printf '{"name":"echo_1000x64k_memory","synack":%d,"kernel":%d,"ratio":%.3f,"unit":"KiB","target":"ratio <= 3","met":%s,"echoes":%d,"synack_seconds":%s,"kernel_seconds":%s}' \
  "$syn_echo" "$ker_echo" "$ratio_echo" "$(python3 -c "print('true' if $ratio_echo <= 3 else 'false')")" "$ECHOES" \
  "$syn_secs" "$ker_secs")"

if [ "$JSON" = 1 ]; then
  (IFS=,; echo "{\"metrics\":[${results[*]}]}")
else
  printf '%s\n' "${results[@]}" | python3 -c '
import json, sys
print("%-32s %11s %11s %7s  target" % ("metric", "synack KiB", "kernel KiB", "ratio"))
for line in sys.stdin:
    m = json.loads(line)
    print("%-32s %11d %11d %7.2f  %s (%s)" % (m["name"], m["synack"], m["kernel"], m["ratio"], m["target"], "met" if m["met"] else "NOT met"))
    print("    " + json.dumps({k: v for k, v in m.items() if k not in ("name", "synack", "kernel", "ratio", "target", "met", "unit")}))
'
fi
