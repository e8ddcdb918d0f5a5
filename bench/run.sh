#!/usr/bin/env bash
# The performance table of issue 7, in one go: synack against the kernel, same path, same run.
#
#   sudo bench/run.sh [--synack PATH|BUILD_DIR] [--runs N] [--quick] [--json] [--only LIST]
#
# Builds its own throw-away namespace pair (scripts/netns.sh: synack's side 10.111.0.1 and
# 10.111.0.4, the kernel peer 10.111.0.2, a veth between; nothing on the host is touched) and
# measures, for synack and for the kernel's TCP on the same path:
#   handshake_p50_busy_poll  synack ping --busy-poll --kernel -i 0 (interleaved probes), p50
#   handshake_p50            the same without --busy-poll (blocking wait), p50
#   handshake_p99            the same run, p99
#   handshake_close_per_s    synack bench --engine both -c 256 against bench/accept_server
#                            (epoll, accept-and-close) in the peer namespace
#   bulk_throughput_one_connection   bench/bulk.sh (synack get vs curl from nginx; own namespaces)
#   idle_conn_memory         100,000 idle ESTABLISHED connections held by bench/idle_hold:
#                            synack's RSS growth per connection vs the kernel's (client-side slab
#                            growth, the server's sockets subtracted, plus the holder's RSS growth)
#   core_instructions_per_handshake_close   bench/callgrind_core.sh (callgrind, no kernel figure)
#   http_keepalive_memory_growth  bench/memory.sh: synack serve --http under 256 wrk keep-alive
#                            clients for 30 s vs nginx (RSS growth; nginx: its RSS growth + its
#                            sockets' memory), issue 16's target: synack <= 16 MiB
#   echo_1000x64k_memory     bench/memory.sh: 1,000 concurrent 64 KiB echoes, synack serve --echo's
#                            peak RSS growth vs a kernel echo server's socket memory peak (<= 3x)
# With two or more CPUs the handshake rows run pinned: the probing process (synack's probes and
# the kernel's connect() probes alike) on CPU 0, the accept server on CPU 1 (--no-pin: wherever
# the scheduler puts them; a busy-polling prober then loses its CPU whenever the server wakes
# on it). The rate row's server is pinned the same way, its client is not.
# Each value is the median of --runs runs (default 3; the idle-memory and callgrind rows run once,
# bulk reports the best run as bulk.sh does). Prints a table (synack, kernel, ratio, target, met?);
# --json prints one object {"metrics":[{"name":..,"synack":..,"kernel":..,"ratio":..,"unit":..,
# "target":..,"met":..}, ...]} on stdout (progress goes to stderr either way).
#
# Options:
#   --synack PATH   the synack binary, or a build directory holding synack and bench/ (default: build)
#   --runs N        runs per metric (default 3)
#   --quick         seconds, not minutes: tiny counts, 1,000 idle connections, 8 MiB bulk (a smoke run)
#   --json          the JSON object on stdout instead of the table
#   --only LIST     comma-separated groups to run: handshake,rate,bulk,idle,core,memory (default all)
#   --no-pin        do not pin the prober and the accept server to separate CPUs
#   -h, --help      this text
# Exit status: 0 every metric measured, 1 some metric could not be measured (its values are null
# and its "error" says why), 2 usage or set-up error, 77 not root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3
JSON=0
QUICK=0
ONLY=handshake,rate,bulk,idle,core,memory
SYNACK_ARG=${SYNACK:-$here/build}
RUNS_SET=0
PIN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --synack) SYNACK_ARG=$2; shift 2 ;;
    --synack=*) SYNACK_ARG=${1#*=}; shift ;;
    --runs) RUNS=$2; RUNS_SET=1; shift 2 ;;
    --runs=*) RUNS=${1#*=}; RUNS_SET=1; shift ;;
    --json) JSON=1; shift ;;
    --no-pin) PIN=0; shift ;;
    --quick) QUICK=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs needs a positive integer (got '$RUNS')" >&2; exit 2; }
[ "$QUICK" = 1 ] && [ "$RUNS_SET" = 0 ] && RUNS=1
for g in ${ONLY//,/ }; do
  case "$g" in handshake|rate|bulk|idle|core|memory) ;; *) echo "run.sh: unknown group '$g' in --only (handshake,rate,bulk,idle,core,memory)" >&2; exit 2 ;; esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }

if [ -d "$SYNACK_ARG" ]; then BUILD=$SYNACK_ARG; SYNACK=$SYNACK_ARG/synack
else SYNACK=$SYNACK_ARG; BUILD=$(dirname "$SYNACK_ARG"); fi
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespaces, packet sockets); try: sudo $0" >&2; exit 77; }
[ -x "$SYNACK" ] || { echo "run.sh: no synack binary at $SYNACK (build first, or pass --synack PATH|BUILD_DIR)" >&2; exit 2; }
SYNACK=$(readlink -f "$SYNACK"); BUILD=$(readlink -f "$BUILD")
ACCEPT_SERVER=$BUILD/bench/accept_server
IDLE_HOLD=$BUILD/bench/idle_hold
for b in "$ACCEPT_SERVER" "$IDLE_HOLD"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing (cmake --build $BUILD --target accept_server idle_hold)" >&2; exit 2; }
done
PY=python3
command -v "$PY" >/dev/null || PY=/usr/bin/python3

# Sizes: the full table, or a smoke run of seconds.
if [ "$QUICK" = 1 ]; then
  PING_N=40; BENCH_ARGS=(-n 1000); IDLE_N=1000; BULK_MB=8; CORE_N=(N1=50 N2=100)
  MEMORY_ARGS=(--seconds 3 --clients 64 --echoes 200)
else
  PING_N=2000; BENCH_ARGS=(--duration 3); IDLE_N=100000; BULK_MB=1024; CORE_N=()
  MEMORY_ARGS=()
fi

log() { echo "run.sh: $*" >&2; }
T_START=$(date +%s%N)
elapsed() { echo $(( ($(date +%s%N) - $1) / 1000000 ))ms; }

# shellcheck source=../scripts/netns.sh
source "$here/scripts/netns.sh"
netns_setup
RES=$NETNS_TMP/metrics.ndjson
: >"$RES"
SRC2=10.111.0.4   # a second source address: one synack engine holds at most ~64k connections
ip -n "$NETNS_C" addr add "$SRC2/$NETNS_PLEN" dev "$NETNS_IF_C"
# Client side: the kernel's ephemeral ports 1024-40999, so synack's default range (above it) is
# 41000-65535 and neither runs short in the rate row; no TIME_WAIT sockets for the kernel (else
# its 40k ports run out within a second at the kernel's rate; synack's bench follows the same
# sysctl, so it keeps none either: --max-time-wait). Peer side: deep accept and SYN queues.
ip netns exec "$NETNS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 40999"
ip netns exec "$NETNS_C" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
ip netns exec "$NETNS_S" sysctl -qw net.core.somaxconn=65535
ip netns exec "$NETNS_S" sysctl -qw net.ipv4.tcp_max_syn_backlog=65535

# metric NAME SYNACK KERNEL UNIT [EXTRA_JSON_OBJECT]: one row (numbers or null).
metric() {
  "$PY" - "$@" >>"$RES" <<'PY'
import json, sys
name, s, k, unit = sys.argv[1:5]
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else {}
num = lambda v: None if v in ("", "null", "None") else float(v)
row = {"name": name, "synack": num(s), "kernel": num(k), "unit": unit}
row.update(extra)
print(json.dumps(row))
PY
}
failed_metric() { metric "$1" null null "$2" "$("$PY" -c 'import json,sys; print(json.dumps({"error": sys.argv[1]}))' "$3")"; log "$1: $3"; }

# median FILE: the median of the numbers in FILE (one a line).
median() { "$PY" -c 'import statistics,sys; v=[float(x) for x in open(sys.argv[1]) if x.strip()]; print(statistics.median(v) if v else "null")' "$1"; }

# Pinning (see the header): the peer on CPU 1, the prober on CPU 0.
PIN_PEER=() PIN_PROBER=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PIN_PEER=(taskset -c 1) PIN_PROBER=(taskset -c 0)
fi
CLOSE_PORT=8081
start_close_server() {
  netns_spawn "$NETNS_S" "$NETNS_TMP/accept-close.log" "${PIN_PEER[@]}" "$ACCEPT_SERVER" --listen "$NETNS_IP_S" --port "$CLOSE_PORT" --mode close
  CLOSE_PID=$NETNS_LAST_PID
  netns_wait_listen "$NETNS_S" "$CLOSE_PORT" 15 || { cat "$NETNS_TMP/accept-close.log" >&2; netns_die "accept_server did not start"; }
}
stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  netns_wait_exit "$1" 30 || kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
if want handshake || want rate; then start_close_server; fi

# --- handshake latency: synack ping --kernel, interleaved probes --------------------------------
# ping_run OUT [--busy-poll]: NDJSON of one interleaved run; appends p50/p99 per engine to files.
ping_run() {
  local tag=$1; shift
  local out=$NETNS_TMP/ping-$tag.ndjson
  local rc=0
  ip netns exec "$NETNS_C" "${PIN_PROBER[@]}" "$SYNACK" ping "$NETNS_IP_S" -p "$CLOSE_PORT" -c "$PING_N" -i 0 --kernel --json "$@" \
    >"$out" 2>"$NETNS_TMP/ping-$tag.err" || rc=$?
  # Exit 1 is a failed probe or two (still measured); anything else is not a measurement.
  if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then head -n 3 "$NETNS_TMP/ping-$tag.err" >&2; return 1; fi
  "$PY" - "$out" "$NETNS_TMP/$tag" <<'PY' || return 1
import json, sys
out, prefix = sys.argv[1], sys.argv[2]
got = {}
for line in open(out):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("type") == "summary" and r.get("ok", 0) > 0:
        got[r["engine"]] = r
if set(got) != {"synack", "kernel"}:
    sys.exit("no summary for both engines")
for e, r in got.items():
    for p in ("p50", "p99"):
        with open(f"{prefix}.{e}.{p}", "a") as f:
            f.write(f"{r[p + '_us']}\n")
PY
}

if want handshake; then
  t0=$(date +%s%N)
  bp_ok=1; bl_ok=1
  for ((r = 1; r <= RUNS; r++)); do
    [ "$bp_ok" = 0 ] || ping_run busy --busy-poll || bp_ok=0
    [ "$bl_ok" = 0 ] || ping_run block || bl_ok=0
  done
  extra="{\"probes\":$PING_N,\"runs\":$RUNS,\"pinned\":$([ ${#PIN_PROBER[@]} -gt 0 ] && echo true || echo false)}"
  if [ "$bp_ok" = 1 ]; then
    metric handshake_p50_busy_poll "$(median "$NETNS_TMP/busy.synack.p50")" "$(median "$NETNS_TMP/busy.kernel.p50")" us "$extra"
  else
    failed_metric handshake_p50_busy_poll us "synack ping --busy-poll --kernel failed ($(head -n1 "$NETNS_TMP/ping-busy.err" 2>/dev/null))"
  fi
  if [ "$bl_ok" = 1 ]; then
    metric handshake_p50 "$(median "$NETNS_TMP/block.synack.p50")" "$(median "$NETNS_TMP/block.kernel.p50")" us "$extra"
    metric handshake_p99 "$(median "$NETNS_TMP/block.synack.p99")" "$(median "$NETNS_TMP/block.kernel.p99")" us "$extra"
  else
    msg="synack ping --kernel failed ($(head -n1 "$NETNS_TMP/ping-block.err" 2>/dev/null))"
    failed_metric handshake_p50 us "$msg"; failed_metric handshake_p99 us "$msg"
  fi
  log "handshake latency: $(elapsed "$t0")"
fi

# --- handshake + close rate, 256 in flight ------------------------------------------------------
if want rate; then
  t0=$(date +%s%N)
  rate_ok=1
  for ((r = 1; r <= RUNS; r++)); do
    out=$NETNS_TMP/bench-$r.json
    ip netns exec "$NETNS_C" "$SYNACK" bench "$NETNS_IP_S:$CLOSE_PORT" --engine both -c 256 "${BENCH_ARGS[@]}" \
      --json "$out" >"$NETNS_TMP/bench-$r.out" 2>"$NETNS_TMP/bench-$r.err" || true
    [ -s "$out" ] || { cat "$NETNS_TMP/bench-$r.err" >&2; rate_ok=0; break; }
    "$PY" - "$out" "$NETNS_TMP/rate" <<'PY' || { rate_ok=0; break; }
import json, sys
j = json.load(open(sys.argv[1]))
e = {x["engine"]: x for x in j["engines"]}
for name in ("synack", "kernel"):
    if e[name]["ok"] == 0:
        sys.exit(f"{name}: no connection completed")
    with open(f"{sys.argv[2]}.{name}", "a") as f:
        f.write(f"{e[name]['conn_per_s']}\n")
    if e[name]["failed"]:
        print(f"run.sh: rate: {name}: {e[name]['failed']} of {e[name]['connections']} failed", file=sys.stderr)
PY
  done
  if [ "$rate_ok" = 1 ]; then
    metric handshake_close_per_s "$(median "$NETNS_TMP/rate.synack")" "$(median "$NETNS_TMP/rate.kernel")" conn/s \
      "{\"concurrency\":256,\"runs\":$RUNS,\"load\":\"${BENCH_ARGS[*]}\"}"
  else
    failed_metric handshake_close_per_s conn/s "synack bench --engine both failed ($(head -n1 "$NETNS_TMP/bench-$r.err" 2>/dev/null))"
  fi
  log "handshake + close rate: $(elapsed "$t0")"
fi
if want handshake || want rate; then stop_pid "$CLOSE_PID"; fi

# --- idle connections held ----------------------------------------------------------------------
# idle_run ENGINE: a fresh accept-and-hold server on four ports, the holder in the client namespace.
idle_run() {
  local engine=$1 count_file=$NETNS_TMP/held.count pid rc=0
  rm -f "$count_file"
  netns_spawn "$NETNS_S" "$NETNS_TMP/accept-hold-$engine.log" "$ACCEPT_SERVER" --listen "$NETNS_IP_S" \
    --port 9001 --port 9002 --port 9003 --port 9004 --mode hold --count-file "$count_file"
  pid=$NETNS_LAST_PID
  netns_wait_listen "$NETNS_S" 9004 15 || { cat "$NETNS_TMP/accept-hold-$engine.log" >&2; return 1; }
  local ports=()
  [ "$engine" = synack ] && ports=(--ports 1024-65535)   # the kernel connects nothing meanwhile
  ip netns exec "$NETNS_C" "$IDLE_HOLD" --engine "$engine" --count "$IDLE_N" --dst "$NETNS_IP_S" \
    --dst-port 9001 --dst-port 9002 --dst-port 9003 --dst-port 9004 --source "$NETNS_IP_C" --source "$SRC2" "${ports[@]}" \
    --server-count-file "$count_file" --timeout 120 >"$NETNS_TMP/idle-$engine.json" 2>"$NETNS_TMP/idle-$engine.err" || rc=$?
  stop_pid "$pid"
  [ "$rc" = 0 ] || { cat "$NETNS_TMP/idle-$engine.err" "$NETNS_TMP/idle-$engine.json" >&2; return 1; }
}
if want idle; then
  t0=$(date +%s%N)
  # Every port for the kernel's connect() (the rate row is done), and 2 sources x 4 server ports:
  # the kernel's port search slows down sharply as a source/destination pair's range fills up.
  ip netns exec "$NETNS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  if idle_run synack && idle_run kernel; then
    "$PY" - "$NETNS_TMP/idle-synack.json" "$NETNS_TMP/idle-kernel.json" >"$NETNS_TMP/idle.args" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
k = json.load(open(sys.argv[2]))
n = s["established"]
# synack: what its process grew by. kernel: the client-side slab (the kernel run's slab growth
# minus the synack run's, which is the server's sockets alone) plus the holder's own growth.
syn = (s["rss_after"] - s["rss_before"]) / n
peer_slab = (s["slab_after"] - s["slab_before"]) / n
kern_slab = (k["slab_after"] - k["slab_before"]) / n - peer_slab
kern_rss = (k["rss_after"] - k["rss_before"]) / n
caches = {c: round(((k["caches_after"][c] - k["caches_before"][c]) - (s["caches_after"][c] - s["caches_before"][c])) / n, 1)
          for c in k["caches_after"]}
extra = {"connections": n, "kernel_slab_per_conn": round(kern_slab, 1), "kernel_holder_rss_per_conn": round(kern_rss, 1),
         "peer_slab_per_conn": round(peer_slab, 1), "kernel_slab_caches_per_conn": caches,
         "connect_s": {"synack": s["connect_s"], "kernel": k["connect_s"]}}
print(syn)
print(kern_slab + kern_rss)
print(json.dumps(extra))
PY
    mapfile -t a <"$NETNS_TMP/idle.args"
    metric idle_conn_memory "${a[0]}" "${a[1]}" bytes "${a[2]}"
  else
    failed_metric idle_conn_memory bytes "idle_hold could not hold $IDLE_N connections (see the lines above)"
  fi
  log "idle connections ($IDLE_N): $(elapsed "$t0")"
fi

# --- bulk throughput, one connection (bench/bulk.sh: its own namespaces) --------------------------
if want bulk; then
  t0=$(date +%s%N)
  if bash "$here/bench/bulk.sh" --size-mb "$BULK_MB" --runs "$RUNS" --json --synack "$SYNACK" \
      >"$NETNS_TMP/bulk.json" 2>"$NETNS_TMP/bulk.err"; then
    "$PY" - "$NETNS_TMP/bulk.json" >>"$RES" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"][0]
m.pop("ratio", None)
print(json.dumps(m))
PY
  else
    failed_metric bulk_throughput_one_connection Mbit/s "bench/bulk.sh failed: $(tail -n1 "$NETNS_TMP/bulk.err")"
  fi
  log "bulk throughput ($BULK_MB MiB): $(elapsed "$t0")"
fi

# --- memory under active load (bench/memory.sh: its own namespaces) -------------------------------
if want memory; then
  t0=$(date +%s%N)
  if bash "$here/bench/memory.sh" ${MEMORY_ARGS[@]+"${MEMORY_ARGS[@]}"} --json --synack "$SYNACK" \
      >"$NETNS_TMP/memory.json" 2>"$NETNS_TMP/memory.err"; then
    "$PY" - "$NETNS_TMP/memory.json" >>"$RES" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["metrics"]:
    for k in ("ratio", "target", "met"):
        m.pop(k, None)
    print(json.dumps(m))
PY
  else
    failed_metric http_keepalive_memory_growth KiB "bench/memory.sh failed: $(tail -n1 "$NETNS_TMP/memory.err")"
    failed_metric echo_1000x64k_memory KiB "bench/memory.sh failed: $(tail -n1 "$NETNS_TMP/memory.err")"
  fi
  log "memory under load: $(elapsed "$t0")"
fi

# --- instructions per handshake + close in the core (callgrind) ---------------------------------
if want core; then
  t0=$(date +%s%N)
  core_rc=0
  if [ ! -f "$here/bench/callgrind_core.sh" ]; then
    failed_metric core_instructions_per_handshake_close instructions "bench/callgrind_core.sh does not exist yet"
  else
    env "${CORE_N[@]}" bash "$here/bench/callgrind_core.sh" "$BUILD" >"$NETNS_TMP/core.json" 2>"$NETNS_TMP/core.err" \
      || core_rc=$?
  fi
  if [ -f "$here/bench/callgrind_core.sh" ] && [ "$core_rc" = 0 ]; then
    tail -n1 "$NETNS_TMP/core.json" >>"$RES"
  elif [ -f "$here/bench/callgrind_core.sh" ]; then
    failed_metric core_instructions_per_handshake_close instructions \
      "bench/callgrind_core.sh exited $core_rc: $(tail -n1 "$NETNS_TMP/core.err")"
  fi
  log "core instructions (callgrind): $(elapsed "$t0")"
fi

# --- the table ------------------------------------------------------------------------------------
log "total: $(elapsed "$T_START")"
"$PY" - "$RES" "$JSON" "$QUICK" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
as_json, quick = sys.argv[2] == "1", sys.argv[3] == "1"
# Issue 7's targets: on the ratio synack/kernel, or (memory, instructions) on synack's own figure.
targets = {
    "handshake_p50_busy_poll": ("ratio", "<=", 0.9),
    "handshake_p50": ("ratio", "<=", 1.3),
    "handshake_p99": ("ratio", "<=", 1.0),
    "handshake_close_per_s": ("ratio", ">=", 1.5),
    "bulk_throughput_one_connection": ("ratio", ">=", 1.0),  # issue 16 (issue 7 asked 0.5)
    "idle_conn_memory": ("synack", "<=", 1024),
    "core_instructions_per_handshake_close": ("synack", "<=", 3000),
    "http_keepalive_memory_growth": ("synack", "<=", 16384),  # issue 16: KiB
    "echo_1000x64k_memory": ("ratio", "<=", 3.0),
}
order = list(targets)
rows.sort(key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
for r in rows:
    s, k = r.get("synack"), r.get("kernel")
    r["ratio"] = s / k if s is not None and k else None
    of, op, v = targets.get(r["name"], (None, None, None))
    if of:
        r["target"] = f"{of} {op} {v:g}"
        x = r[of]
        r["met"] = None if x is None else (x <= v if op == "<=" else x >= v)
    r["quick"] = quick
    out = {key: r[key] for key in ("name", "synack", "kernel", "ratio", "unit")}
    out.update({key: val for key, val in r.items() if key not in out})
    r.clear(); r.update(out)
if as_json:
    print(json.dumps({"metrics": rows}))
else:
    def f(x, unit=""):
        if x is None: return "-"
        if abs(x) >= 1000: return f"{x:,.0f}"
        return f"{x:.3g}" if abs(x) < 10 else f"{x:.1f}"
    hdr = f"{'metric':40} {'synack':>12} {'kernel':>12} {'ratio':>7} {'unit':>13}  {'target':18} met"
    print(hdr); print("-" * len(hdr))
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        print(f"{r['name']:40} {f(r['synack']):>12} {f(r['kernel']):>12} {ratio:>7} {r['unit']:>13}  {r.get('target', ''):18} {met}")
        if r.get("error"): print(f"    error: {r['error']}")
    if quick: print("(--quick: tiny counts, a smoke run; the numbers mean little)")
sys.exit(1 if any(r["synack"] is None for r in rows) else 0)
PY
