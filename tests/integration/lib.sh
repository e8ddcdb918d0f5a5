# Shared helpers for synack's integration tests (sourced by tests/integration/test_*.sh; not a test
# itself: CTest registers only test_*.sh).
#
# Every test: `source lib.sh; it_init "$@"` -> exits 77 unless root, builds a fresh namespace pair
# (scripts/netns.sh: $NETNS_C is synack's side 10.111.0.1, $NETNS_S the kernel peer 10.111.0.2;
# every topology is dual-stack: $NETNS_IP6_C fd00:111::1 and $NETNS_IP6_S fd00:111::2, see the
# header of scripts/netns.sh), and cleans everything up on every exit path. A test that needs IPv6
# calls it_require_ipv6 after it_init* (skips on a kernel without IPv6). Each assertion prints `ok: ...` or
# `FAIL: ...` followed by the synack output and decoded captures of the current section.

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_REPO=$(cd "$IT_DIR/../.." && pwd)
# shellcheck source=../../scripts/netns.sh
source "$IT_REPO/scripts/netns.sh"

SYNACK=
IT_RC=0
IT_OUT=
IT_ERR=
IT_SECTION=
IT_CTX_RUNS=()     # names of synack runs in the current section (dumped on failure)
IT_CTX_PCAPS=()    # captures of the current section (dumped on failure)
IT_START_NS=0

it_init() {
  netns_require_root
  SYNACK=${1:-${SYNACK:-}}
  if [ -z "$SYNACK" ]; then
    echo "usage: bash $0 /path/to/synack" >&2
    exit 2
  fi
  if [ ! -x "$SYNACK" ]; then
    echo "FAIL: synack binary not found or not executable: $SYNACK" >&2
    exit 1
  fi
  SYNACK=$(readlink -f "$SYNACK")
  netns_require_tools ip ss tcpdump iptables iptables-save timeout python3
  IT_START_NS=$(date +%s%N)
  netns_setup
  it_write_python
  it_family
  echo "== $(basename "$0"): namespaces $NETNS_C / $NETNS_S${NETNS_IP6_S:+ (IPv6 $NETNS_IP6_C / $NETNS_IP6_S)}, artefacts in $NETNS_TMP"
}

# it_require_ipv6: exit 77 (skip) unless the topology has IPv6 (NETNS_IPV6=1: a kernel with IPv6
# and, in a routed lab, every hop's MTU at least 1280).
it_require_ipv6() {
  if [ "$NETNS_IPV6" != 1 ]; then
    echo "SKIP: no IPv6 in this topology (kernel without IPv6, or a hop MTU below 1280)" >&2
    exit 77
  fi
}

# Family twins. A test whose header has the line `# it-families: 4 6` is registered twice by
# tests/CMakeLists.txt: integration.NAME (IT_FAMILY=4) and integration.NAME.ipv6 (IT_FAMILY=6). Such
# a test names addresses through the IT_* variables below, never NETNS_IP_* / NETNS_IP6_* directly,
# so that one script checks the same behaviour over either family. After it_init*:
#   IT_FAMILY 4|6, IT_IP_C IT_IP_S IT_IP_NOBODY (client, kernel peer, an unanswered address on the
#   peer's subnet), IT_RTR_IP[i] / IT_RTR_IP_S[i] (routed lab: router i's client-/server-side
#   address), IT_IPT (iptables or ip6tables), IT_PING (ping -4 / ping -6), IT_AF ("4"/"6" for
#   python helpers), IT_FAMILY_NAME (IPv4/IPv6).
# it_hp ADDR PORT -> "a.b.c.d:p" or "[v6]:p" (what synack, curl and socat's TCP: take);
# it_url ADDR PORT [PATH] -> http://HOSTPORT/PATH; it_fw honours the family (ip6tables for 6).
it_family() {
  IT_FAMILY=${IT_FAMILY:-4}
  local i
  IT_RTR_IP=() IT_RTR_IP_S=()
  case "$IT_FAMILY" in
    4)
      IT_IP_C=$NETNS_IP_C IT_IP_S=$NETNS_IP_S IT_IP_NOBODY=${NETNS_IP_NOBODY:-}
      for i in "${!NETNS_RTR_IP[@]}"; do IT_RTR_IP[i]=${NETNS_RTR_IP[i]}; done
      for i in "${!NETNS_RTR_IP_S[@]}"; do IT_RTR_IP_S[i]=${NETNS_RTR_IP_S[i]}; done
      IT_IPT=iptables IT_PING="ping -4" IT_AF=4 IT_FAMILY_NAME=IPv4 ;;
    6)
      it_require_ipv6
      IT_IP_C=$NETNS_IP6_C IT_IP_S=$NETNS_IP6_S IT_IP_NOBODY=${NETNS_IP6_NOBODY:-}
      for i in "${!NETNS_RTR_IP6[@]}"; do IT_RTR_IP[i]=${NETNS_RTR_IP6[i]}; done
      for i in "${!NETNS_RTR_IP6_S[@]}"; do IT_RTR_IP_S[i]=${NETNS_RTR_IP6_S[i]}; done
      IT_IPT=ip6tables IT_PING="ping -6" IT_AF=6 IT_FAMILY_NAME=IPv6 ;;
    *) echo "FAIL: IT_FAMILY must be 4 or 6, not '$IT_FAMILY'" >&2; exit 1 ;;
  esac
  export IT_FAMILY IT_AF
  echo "== family: $IT_FAMILY_NAME ($IT_IP_C -> $IT_IP_S)"
}
it_hp() { case "$1" in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }
it_url() { echo "http://$(it_hp "$1" "$2")/${3:-}"; }

# it_init_impaired SYNACK [IMPAIR_ARGS...]: like it_init, but the three-namespace topology of
# scripts/netns.sh (netns_setup_impaired): $NETNS_C 10.111.0.1 -- box $NETNS_M -- $NETNS_S 10.111.0.2,
# with `synack impair imp-c imp-s IMPAIR_ARGS` running in the box (a2b is c -> s). IPv6 as in the
# pair ($NETNS_IP6_C fd00:111::1, $NETNS_IP6_S fd00:111::2); the box has none (it bridges L2).
it_init_impaired() {
  netns_require_root
  SYNACK=${1:-${SYNACK:-}}
  shift || true
  if [ -z "$SYNACK" ]; then
    echo "usage: bash $0 /path/to/synack" >&2
    exit 2
  fi
  if [ ! -x "$SYNACK" ]; then
    echo "FAIL: synack binary not found or not executable: $SYNACK" >&2
    exit 1
  fi
  SYNACK=$(readlink -f "$SYNACK")
  NETNS_SYNACK=$SYNACK
  netns_require_tools ip ss tcpdump timeout python3
  IT_START_NS=$(date +%s%N)
  netns_setup_impaired "$@"
  it_write_python
  cp "$IT_DIR/impair_tool.py" "$NETNS_TMP/impair_tool.py"
  it_family
  echo "== $(basename "$0"): namespaces $NETNS_C / $NETNS_M (box) / $NETNS_S, artefacts in $NETNS_TMP"
}

# it_init_routed SYNACK [--routers K] [--mtu HOP=MTU]... [--http PORT] [--impair HOP [-- IMPAIR_ARGS...]]:
# like it_init, but the routed lab of scripts/netns.sh (netns_setup_routed; default 3 routers, every
# MTU 1500): $NETNS_C 10.111.1.1 -- ${NETNS_R[1]} -- ... -- ${NETNS_R[K]} -- $NETNS_S 10.111.(K+1).2,
# hop h (node h-1 -- node h) the subnet 10.111.h.0/24. Router i faces the client with
# ${NETNS_RTR_IP[i]} (= 10.111.i.2, the source of its ICMP errors towards the client) and the server
# with ${NETNS_RTR_IP_S[i]}; NETNS_R1.. name the routers too. IPv6 mirrors it: hop h is
# fd00:111:h::/64 (${NETNS_HOP_NET6[h]}), $NETNS_IP6_C fd00:111:1::1, $NETNS_IP6_S fd00:111:(K+1)::2,
# ${NETNS_RTR_IP6[i]} fd00:111:i::2 (the source of router i's ICMPv6 errors towards the client),
# ${NETNS_RTR_IP6_S[i]} fd00:111:(i+1)::1 (none of them with a hop MTU below 1280: NETNS_IPV6=0).
# With --impair, `synack impair` runs in
# the box $NETNS_M on that hop (the it_impair_* helpers work). Firewall rules: it_fw / netns_fw.
it_init_routed() {
  netns_require_root
  SYNACK=${1:-${SYNACK:-}}
  shift || true
  if [ -z "$SYNACK" ]; then
    echo "usage: bash $0 /path/to/synack" >&2
    exit 2
  fi
  if [ ! -x "$SYNACK" ]; then
    echo "FAIL: synack binary not found or not executable: $SYNACK" >&2
    exit 1
  fi
  SYNACK=$(readlink -f "$SYNACK")
  NETNS_SYNACK=$SYNACK
  netns_require_tools ip ss tcpdump iptables iptables-save timeout python3
  IT_START_NS=$(date +%s%N)
  netns_setup_routed "$@"
  it_write_python
  cp "$IT_DIR/impair_tool.py" "$NETNS_TMP/impair_tool.py"
  it_family
  local i chain=$NETNS_C
  for i in $(seq 1 "$NETNS_ROUTERS"); do chain+=" / ${NETNS_R[i]} (${NETNS_RTR_IP[i]}${NETNS_RTR_IP6[i]:+ ${NETNS_RTR_IP6[i]}}, mtu ${NETNS_HOP_MTU[i]} before)"; done
  echo "== $(basename "$0"): namespaces $chain / $NETNS_S ($NETNS_IP_S${NETNS_IP6_S:+ $NETNS_IP6_S}, mtu ${NETNS_HOP_MTU[NETNS_HOPS]} before)${NETNS_M:+, box $NETNS_M on hop $NETNS_IMPAIR_HOP}, artefacts in $NETNS_TMP"
}

# it_fw NODE IPTABLES-ARGS...: netns_fw (iptables in NODE's namespace only: c, s, m, r1..rK),
# printed, and a failure if iptables fails.
it_fw() {
  local node=$1; shift
  echo "   fw $node: ${IT_IPT:-iptables} $*"
  NETNS_FW_CMD=${IT_IPT:-iptables} netns_fw "$node" "$@" \
    || fail "${IT_IPT:-iptables} in $node failed: ${IT_IPT:-iptables} $*"
}

# it_impair_restart [IMPAIR_ARGS...]: a fresh box with new arguments (same namespaces).
it_impair_restart() {
  echo "   box: synack impair $NETNS_IF_MC $NETNS_IF_MS $*"
  netns_impair_restart "$@" || fail "synack impair did not restart with: $*"
}

# it_impair_stop: stop the box (SIGTERM) and check it exited 0; final counters: $NETNS_IMPAIR_OUT.
it_impair_stop() {
  local rc=0
  netns_impair_stop || rc=$?
  [ "$rc" = 0 ] || { cat "$NETNS_IMPAIR_ERR"; fail "synack impair exited with $rc on SIGTERM"; }
}

# it_udp_probe NAME COUNT RATE [SIZE]: UDP probes from $NETNS_C to $NETNS_S:9000 at RATE per second
# (python3, tests/integration/impair_tool.py); the receiver's summary -> $NETNS_TMP/NAME.json.
it_udp_probe() {
  local name=$1 count=$2 rate=$3 size=${4:-64} py rpid
  py=$(netns_python)
  ip netns exec "$NETNS_S" "$py" -u "$NETNS_TMP/impair_tool.py" udp-recv "$NETNS_IP_S" 9000 \
    "$NETNS_TMP/$name.json" --idle 1.0 --max 80 >"$NETNS_TMP/$name.recv.log" 2>&1 &
  rpid=$!
  NETNS_PIDS+=("$rpid")
  netns_wait_until 10 "the UDP receiver" grep -q listening "$NETNS_TMP/$name.recv.log" \
    || { cat "$NETNS_TMP/$name.recv.log"; fail "UDP receiver did not start"; }
  ip netns exec "$NETNS_C" "$py" "$NETNS_TMP/impair_tool.py" udp-send "$NETNS_IP_S" 9000 "$count" "$rate" \
    --size "$size" >"$NETNS_TMP/$name.send.json" 2>"$NETNS_TMP/$name.send.log" \
    || { cat "$NETNS_TMP/$name.send.log"; fail "UDP sender failed"; }
  netns_wait_exit "$rpid" 30 || fail "UDP receiver did not finish"
  wait "$rpid" || { cat "$NETNS_TMP/$name.recv.log"; fail "UDP receiver failed"; }
  echo "   udp $name: sent $(cat "$NETNS_TMP/$name.send.json")"
}

it_elapsed() { echo "$(( ($(date +%s%N) - IT_START_NS) / 1000000 )) ms"; }

# it_section NAME: start a group of assertions (resets what a failure dumps).
it_section() {
  IT_SECTION=$1
  IT_CTX_RUNS=()
  IT_CTX_PCAPS=()
  echo "-- $1 ($(it_elapsed))"
}

ok() { echo "ok: $*"; }

# fail MESSAGE: report, dump the current section's synack output and captures, exit 1.
fail() {
  echo "FAIL: [$IT_SECTION] $*"
  it_dump
  exit 1
}

it_dump() {
  local r p
  for r in "${IT_CTX_RUNS[@]}"; do
    echo "---- synack run '$r': $(cat "$NETNS_TMP/$r.cmd" 2>/dev/null) -> exit $(cat "$NETNS_TMP/$r.rc" 2>/dev/null)"
    echo "---- stdout (first 200 lines):"
    head -n 200 "$NETNS_TMP/$r.out" 2>/dev/null
    echo "---- stderr (first 100 lines):"
    head -n 100 "$NETNS_TMP/$r.err" 2>/dev/null
  done
  for p in "${IT_CTX_PCAPS[@]}"; do
    echo "---- capture $p on the peer's veth (tcpdump -nn -S -tt, first 300 lines):"
    netns_pcap_text "$NETNS_TMP/$p.pcap" | head -n 300
  done
  echo "---- end of dump"
}

# it_synack NAME TIMEOUT_S ARGS...: run synack inside the client namespace, bounded by TIMEOUT_S.
# stdout -> $NETNS_TMP/NAME.out (IT_OUT), stderr -> NAME.err (IT_ERR), exit status -> IT_RC.
# Runs in the background and waits, so a SIGINT/SIGTERM to the test is handled at once.
it_synack() {
  local name=$1 timeout=$2; shift 2
  IT_OUT="$NETNS_TMP/$name.out"
  IT_ERR="$NETNS_TMP/$name.err"
  echo "synack $*" >"$NETNS_TMP/$name.cmd"
  IT_CTX_RUNS+=("$name")
  local t0 pid
  t0=$(date +%s%N)
  timeout -k 5 "$timeout" ip netns exec "$NETNS_C" "$SYNACK" "$@" >"$IT_OUT" 2>"$IT_ERR" </dev/null &
  pid=$!
  NETNS_PIDS+=("$pid")
  IT_RC=0
  wait "$pid" || IT_RC=$?
  echo "$IT_RC" >"$NETNS_TMP/$name.rc"
  echo "   \$ synack $* -> exit $IT_RC ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
  if [ "$IT_RC" = 124 ] || [ "$IT_RC" = 137 ]; then
    fail "synack did not finish within ${timeout}s (killed by timeout): synack $*"
  fi
  if [ "$IT_RC" -gt 128 ]; then
    fail "synack crashed: killed by signal $((IT_RC - 128)) ($(kill -l $((IT_RC - 128)) 2>/dev/null)): synack $*"
  fi
}

# it_synack_bg NAME ARGS...: start synack in the background inside the client namespace.
# Sets IT_BG_PID (synack's own pid: `ip netns exec` execs it in place). SIGINT/SIGTERM get their
# default disposition back (a non-interactive shell makes background jobs ignore SIGINT).
it_synack_bg() {
  local name=$1; shift
  echo "synack $*" >"$NETNS_TMP/$name.cmd"
  IT_CTX_RUNS+=("$name")
  ip netns exec "$NETNS_C" env --default-signal=INT,TERM "$SYNACK" "$@" \
    >"$NETNS_TMP/$name.out" 2>"$NETNS_TMP/$name.err" </dev/null &
  IT_BG_PID=$!
  NETNS_PIDS+=("$IT_BG_PID")
  echo "   \$ synack $* &  (pid $IT_BG_PID)"
}

# it_wait_bg NAME PID TIMEOUT_S: wait for a background synack to exit; its status -> IT_RC.
it_wait_bg() {
  local name=$1 pid=$2 timeout=$3
  if ! netns_wait_exit "$pid" "$timeout"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    fail "synack (pid $pid) did not exit within ${timeout}s"
  fi
  IT_RC=0
  wait "$pid" || IT_RC=$?
  echo "$IT_RC" >"$NETNS_TMP/$name.rc"
}

# it_capture_start NAME [FILTER...] / it_capture_stop NAME: capture on the peer's veth.
it_capture_start() {
  local name=$1; shift
  IT_CTX_PCAPS+=("$name")
  netns_capture_start "$name" "$@" || fail "tcpdump did not start"
}
it_capture_stop() { netns_capture_stop "$1"; }

# it_rules NS: synack's firewall rules in NS (iptables-save, ip6tables-save lines prefixed "ip6: ",
# plus legacy tables and nft if present).
it_rules() {
  local ns=${1:-$NETNS_C}
  {
    ip netns exec "$ns" iptables-save 2>/dev/null
    ip netns exec "$ns" ip6tables-save 2>/dev/null | sed 's/^/ip6: /'
    if command -v iptables-legacy-save >/dev/null 2>&1; then
      ip netns exec "$ns" iptables-legacy-save 2>/dev/null
    fi
    if command -v nft >/dev/null 2>&1; then ip netns exec "$ns" nft list ruleset 2>/dev/null; fi
  } | grep -i synack || true
}

# it_py [ARGS...] <<'EOF' ... EOF: run a python3 check with the helpers of it.py importable.
it_py() { PYTHONPATH="$NETNS_TMP" PYTHONDONTWRITEBYTECODE=1 python3 - "$@"; }

# Python helpers for the checks: parse pcaps, NDJSON and --trace output. Captures are decoded from
# the pcap bytes directly (tcpdump's text leaves out the sequence number of pure ACKs, which the
# handshake checks need); failure dumps show them with tcpdump -nn -S -tt.
it_write_python() {
  cat >"$NETNS_TMP/it.py" <<'PYEOF'
import json, re, socket, struct, subprocess, sys

FAILURES = []

def check(cond, msg):
    """Record a failed assertion (printed at once; done() exits 1 if any)."""
    if not cond:
        FAILURES.append(msg)
        print("FAIL: " + msg)
    return cond

def hp(addr, port):
    """"a.b.c.d:PORT" or "[v6]:PORT": how synack's JSON and text name an endpoint."""
    return "[%s]:%s" % (addr, port) if ':' in str(addr) else "%s:%s" % (addr, port)

def family_of(addr):
    """socket.AF_INET6 for an IPv6 literal, else socket.AF_INET."""
    return socket.AF_INET6 if ':' in str(addr) else socket.AF_INET

def done(summary="checks passed"):
    if FAILURES:
        sys.exit(1)
    print("ok: " + summary)

def _read_pcap(path):
    """(timestamp, link type, frame bytes) of a classic pcap file (what tcpdump -w writes)."""
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        end = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        end = '>'
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    linktype = struct.unpack(end + 'I', data[20:24])[0] & 0x0fffffff
    frames, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + 'IIII', data[off:off + 16])
        off += 16
        frames.append((sec + frac / (1e9 if nano else 1e6), linktype, data[off:off + incl]))
        off += incl
    return frames

_FLAG_LETTERS = ((0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x40, 'E'),
                 (0x80, 'W'), (0x10, '.'))

def _tcp_options(b):
    names, i = [], 0
    while i < len(b):
        kind = b[i]
        if kind == 0:
            break
        if kind == 1:
            names.append('nop'); i += 1; continue
        if i + 1 >= len(b) or b[i + 1] < 2:
            names.append('bad'); break
        ln = b[i + 1]; val = b[i + 2:i + ln]
        if kind == 2 and ln == 4:
            names.append('mss %d' % struct.unpack('>H', val)[0])
        elif kind == 3 and ln == 3:
            names.append('wscale %d' % val[0])
        elif kind == 4:
            names.append('sackOK')
        elif kind == 8 and ln == 10:
            names.append('TS val %d ecr %d' % struct.unpack('>II', val))
        else:
            names.append('opt-%d' % kind)
        i += ln
    return ','.join(names)

def segments(pcap):
    """IPv4 and IPv6 TCP segments in a capture, in order (IPv6 addresses as inet_ntop writes them): dicts t, src, sport, dst, dport, flags
    (tcpdump's letters: 'S', 'S.', '.', 'F.', 'R', 'R.', 'P.'), seq, ack (absolute; ack is None
    without the ACK flag), len (payload), win, options (tcpdump-like text), syn/fin/rst/ackf
    booleans, and line (a tcpdump-like description)."""
    segs = []
    for t, lt, fr in _read_pcap(pcap):
        if lt == 1:                      # Ethernet (skip 802.1Q tags)
            off, etype = 14, struct.unpack('>H', fr[12:14])[0] if len(fr) >= 14 else 0
            while etype in (0x8100, 0x88a8) and len(fr) >= off + 4:
                etype = struct.unpack('>H', fr[off + 2:off + 4])[0]; off += 4
        elif lt == 113:                  # Linux cooked
            off, etype = 16, struct.unpack('>H', fr[14:16])[0] if len(fr) >= 16 else 0
        elif lt == 101:                  # raw IP
            off, etype = 0, 0x0800
        else:
            continue
        ip = fr[off:]
        if etype == 0x86dd and len(ip) >= 60:   # IPv6 with TCP right after the fixed header
            if ip[6] != 6:
                continue
            src = socket.inet_ntop(socket.AF_INET6, bytes(ip[8:24]))
            dst = socket.inet_ntop(socket.AF_INET6, bytes(ip[24:40]))
            plen = struct.unpack('>H', ip[4:6])[0]
            tcp = ip[40:40 + plen] if plen >= 20 else ip[40:]
        elif etype == 0x0800 and len(ip) >= 20:
            ihl = (ip[0] & 0x0f) * 4
            total = struct.unpack('>H', ip[2:4])[0]
            if ip[9] != 6 or len(ip) < ihl + 20:
                continue
            src = socket.inet_ntoa(ip[12:16]); dst = socket.inet_ntoa(ip[16:20])
            tcp = ip[ihl:total] if total >= ihl + 20 else ip[ihl:]
        else:
            continue
        sport, dport, seq, ack, offflags, win = struct.unpack('>HHIIHH', tcp[:16])
        doff = (offflags >> 12) * 4
        fl = offflags & 0xff
        flags = ''.join(ch for bit, ch in _FLAG_LETTERS if fl & bit)
        opts = _tcp_options(tcp[20:doff])
        s = dict(t=t, src=src, sport=sport, dst=dst, dport=dport, flags=flags, seq=seq,
                 ack=ack if fl & 0x10 else None, len=max(0, len(tcp) - doff), win=win, options=opts,
                 syn=bool(fl & 0x02), fin=bool(fl & 0x01), rst=bool(fl & 0x04), ackf=bool(fl & 0x10))
        s['line'] = '%.6f %s.%d > %s.%d: Flags [%s], seq %d%s, win %d, options [%s], length %d' % (
            t, src, sport, dst, dport, flags, seq, ', ack %d' % ack if fl & 0x10 else '', win, opts, s['len'])
        segs.append(s)
    return segs

def by_client_port(segs, client_ip):
    """Group segments by the client's port: {port: [segments in order]}."""
    conns = {}
    for s in segs:
        port = s['sport'] if s['src'] == client_ip else s['dport']
        conns.setdefault(port, []).append(s)
    return conns

def ndjson(path):
    """Records of an NDJSON file; a line that is not JSON is a failure."""
    recs = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                check(False, "%s line %d is not JSON (%s): %r" % (path, i, e, line[:200]))
    return recs

def probes(recs, engine='synack'):
    return [r for r in recs if r.get('type') == 'probe' and r.get('engine', 'synack') == engine]

def summary(recs, engine='synack'):
    s = [r for r in recs if r.get('type') == 'summary' and r.get('engine', 'synack') == engine]
    check(len(s) == 1, "expected exactly one summary record for engine %s, got %d" % (engine, len(s)))
    return s[0] if s else {}

def _seg_fields(rest):
    """seq/ack/len/win/options from the text after 'Flags [..]' of a tcpdump-like line."""
    d = {}
    m = re.search(r'\bseq (\d+)(?::(\d+))?', rest)
    d['seq'] = int(m.group(1)) if m else None
    m = re.search(r'\back (\d+)', rest)
    d['ack'] = int(m.group(1)) if m else None
    m = re.search(r'\blength (\d+)', rest)
    d['len'] = int(m.group(1)) if m else 0
    m = re.search(r'\bwin (\d+)', rest)
    d['win'] = int(m.group(1)) if m else None
    m = re.search(r'options \[([^\]]*)\]', rest)
    d['options'] = m.group(1) if m else ''
    return d

TS = r'(\d\d):(\d\d):(\d\d(?:\.\d+)?)'
# --trace names endpoints as tcpdump does: "10.111.0.1.PORT" or "fd00:111::1.PORT".
_ADDR = r'(\d+\.\d+\.\d+\.\d+|[0-9a-fA-F:]*:[0-9a-fA-F:]*)'
STATE_RE = re.compile(r'^' + TS + r' ' + _ADDR + r'\.(\d+) state (\S+) -> (\S+)\s*$')
TSEG_RE = re.compile(r'^' + TS + r' ' + _ADDR + r'\.(\d+) > ' + _ADDR + r'\.(\d+): '
                     r'Flags \[([^\]]*)\](.*?)(?:  (\S+))?\s*$')

def _secs(h, m, s):
    return int(h) * 3600 + int(m) * 60 + float(s)

def trace(path, local_ip):
    """--trace lines: {local_port: [events]}; an event is ('state', t, old, new) or
    ('seg', t, 'out'|'in', seg-dict, state_after)."""
    conns = {}
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            m = STATE_RE.match(line)
            if m:
                h, mi, s, ip, port, old, new = m.groups()
                conns.setdefault(int(port), []).append(('state', _secs(h, mi, s), old, new))
                continue
            m = TSEG_RE.match(line)
            if m:
                h, mi, s, src, sport, dst, dport, flags, rest, st = m.groups()
                d = _seg_fields(rest)
                d['flags'] = flags
                d['line'] = line
                if src == local_ip:
                    conns.setdefault(int(sport), []).append(('seg', _secs(h, mi, s), 'out', d, st))
                else:
                    conns.setdefault(int(dport), []).append(('seg', _secs(h, mi, s), 'in', d, st))
    return conns

def state_path(events):
    """The states a connection went through, from the 'state A -> B' lines: [A, B, C, ...]."""
    path = []
    for e in events:
        if e[0] == 'state':
            if not path:
                path.append(e[2])
            path.append(e[3])
    return path

def state_times(events):
    """[(t, new_state)] from the state lines."""
    return [(e[1], e[3]) for e in events if e[0] == 'state']

def dt(a, b):
    """b - a for wall-clock seconds of the day, across midnight."""
    return (b - a) % 86400
PYEOF
}

# it_udp_probe_family NAME COUNT RATE [SIZE]: it_udp_probe to the family's peer address ($IT_IP_S:
# IPv4 or, in an IPv6 twin, IPv6; impair_tool.py takes either).
it_udp_probe_family() { NETNS_IP_S=$IT_IP_S it_udp_probe "$@"; }

# it_family_rules [NS]: synack's rules in the test family's table only (iptables-save or
# ip6tables-save, by IT_IPT); it_rules shows every table.
it_family_rules() {
  ip netns exec "${1:-$NETNS_C}" "${IT_IPT:-iptables}-save" 2>/dev/null | grep -i synack || true
}
