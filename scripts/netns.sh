#!/usr/bin/env bash
# Throw-away network namespaces for synack's demo and integration tests.
#
# Topology (everything lives inside two namespaces this script creates; the host's own
# interfaces, routes and firewall are never touched):
#
#   <prefix>-c  (synack's side)              <prefix>-s  (the peer: the Linux kernel's TCP)
#   veth-c 10.111.0.1/24  <---- veth ---->   veth-s 10.111.0.2/24
#          fd00:111::1/64                           fd00:111::2/64
#
# The veth pair is created directly inside the two namespaces (`ip link add ... netns`), so it
# never appears in the host's namespace, and the fixed interface names cannot collide with
# anything. 10.111.0.3 is on the link but owned by nobody (for "host unreachable").
# GRO/GSO/TSO are turned off on both ends with ethtool (when present; set NETNS_OFFLOADS=keep to
# leave them on) so that captures show one TCP segment per frame, as on a real wire. Transmit
# checksum offload is left on: frames the kernel sends across the veth then carry partial
# checksums, which synack must cope with (field notes, trap 3).
#
# IPv6 (issue 14): every topology is dual-stack. Each address has a ULA twin that mirrors it:
# 10.111.H.N <-> fd00:111:H::N/64 (the pair is "hop 0": fd00:111::1, fd00:111::2, nobody owns
# fd00:111::3), 10.112.0.N <-> fd00:112::N (the third namespace). Addresses are added `nodad` and
# DAD is off in every namespace (accept_dad=0, link-locals included), so they are usable at once;
# router solicitations and RA processing are off and addresses survive a link going down
# (keep_addr_on_down=1), so captures stay quiet and a link flap keeps the lab intact. Default IPv6
# routes exist wherever IPv4 has one. The impairment box's interfaces have IPv6 disabled (it is an
# L2 bridge with no address). Variables: NETNS_IP6_C NETNS_IP6_S NETNS_IP6_NOBODY NETNS_IP6_F
# NETNS_PLEN6, and in the routed lab NETNS_RTR_IP6[i] NETNS_RTR_IP6_S[i] NETNS_HOP_NET6[h].
# NETNS_IPV6 is 1 when the topology has IPv6, 0 when the kernel has none (ipv6.disable=1; the
# IPv6 variables are then empty) or a routed hop's MTU is below IPv6's minimum of 1280.
#
# Use as a library:
#   source scripts/netns.sh
#   netns_setup                 # unique prefix, namespaces, veth, traps EXIT/INT/TERM/HUP
#   netns_http_server 8080      # python3 -m http.server in the peer namespace, waits for LISTEN
#   netns_capture_start cap "tcp port 8080"   # tcpdump on the peer's veth, waits until ready
#   ip netns exec "$NETNS_C" synack ping "$NETNS_IP_S" -p 8080 ...
#   netns_capture_stop cap      # -> $NETNS_TMP/cap.pcap
#   (netns_cleanup runs on every exit path)
#
# With an impairment box in the middle (three namespaces, one subnet; `synack impair` bridges the
# two veth pairs in <prefix>-m and impairs what it forwards; the box's interfaces have no address):
#
#   <prefix>-c                        <prefix>-m (the box)                       <prefix>-s
#   veth-c 10.111.0.1/24 <-- veth --> imp-c  [synack impair]  imp-s <-- veth --> veth-s 10.111.0.2/24
#
#   source scripts/netns.sh
#   NETNS_SYNACK=build/synack netns_setup_impaired --loss 2% --delay 10   # args go to synack impair
#   netns_impair_restart --dir a2b --reorder 10% --delay 10              # same topology, new box
#   netns_impair_counters                     # SIGUSR1: prints the box's JSON counters line
#   netns_impair_stop                         # SIGTERM; final counters in $NETNS_IMPAIR_OUT
#
# A routed lab (client -- r1 -- ... -- rK -- server, every hop its own /24 10.111.<hop>.0/24, an MTU
# per hop, routers that forward and send ICMP errors, per-node firewall rules, optionally an
# impairment box on one hop; details in the routed-lab section below):
#
#   <prefix>-c               <prefix>-r1                          <prefix>-rK          <prefix>-s
#   veth-c 10.111.1.1 <--> rtr-c 10.111.1.2  rtr-s 10.111.2.1 <--> ... rtr-s <--> veth-s 10.111.(K+1).2
#
#   source scripts/netns.sh
#   netns_setup_routed --routers 3 --mtu 3=1400 [--http PORT] [--impair HOP -- IMPAIR_ARGS...]
#   netns_fw r2 -A FORWARD -p tcp -j REJECT --reject-with icmp-host-unreachable  # iptables in r2 only
#   ip netns exec "$NETNS_C" ping -t 1 -c 1 "$NETNS_IP_S"   # time exceeded from ${NETNS_RTR_IP[1]}
#   ip netns exec "$NETNS_C" ping -6 -c 1 "$NETNS_IP6_S"    # the same lab over IPv6 (fd00:111:<hop>::N)
#   (sets NETNS_C NETNS_S NETNS_IP_C NETNS_IP_S NETNS_R[i] NETNS_R<i> NETNS_RTR_IP[i]
#    NETNS_RTR_IP_S[i] NETNS_HOP_NET[h] NETNS_HOP_MTU[h] NETNS_ROUTERS NETNS_HOPS, NETNS_M with a box,
#    and the IPv6 twins NETNS_IP6_C NETNS_IP6_S NETNS_RTR_IP6[i] NETNS_RTR_IP6_S[i] NETNS_HOP_NET6[h])
#
# Use as a command:
#   scripts/netns.sh up NAME [--http PORT]   # creates NAME-c / NAME-s (stays until `down`)
#   scripts/netns.sh up-impaired NAME [--http PORT] [-- IMPAIR_ARGS...]
#                                            # NAME-c / NAME-m / NAME-s with synack impair running in
#                                            # NAME-m (a2b = towards NAME-s); `down NAME` removes all
#   scripts/netns.sh up-routed NAME [--routers K] [--mtu HOP=MTU]... [--http PORT]
#                              [--impair HOP [-- IMPAIR_ARGS...]]
#                                            # NAME-c, NAME-r1..NAME-rK, NAME-s (K=3 by default; hop h
#                                            # joins node h-1 and h, hop 1 starts at the client), the
#                                            # box NAME-m on hop HOP; prints the hops and writes a
#                                            # lab.env with the variables above for users' scripts
#   scripts/netns.sh fw NAME NODE IPTABLES_ARGS...
#                                            # iptables inside one node of lab NAME (c, s, m, r1..rK)
#   scripts/netns.sh down NAME               # kills everything in NAME's namespaces (routers and box
#                                            # included) and deletes them
#   scripts/netns.sh gc                      # deletes namespaces left by killed test runs
#
# Every wait is a poll with a deadline; nothing relies on a fixed sleep.

# ---------------------------------------------------------------------------------------------
# Addresses and names (callers may read these; they are fixed for every topology).
NETNS_IP_C=10.111.0.1
NETNS_IP_S=10.111.0.2
# shellcheck disable=SC2034  # used by the tests
NETNS_IP_NOBODY=10.111.0.3
NETNS_PLEN=24
# The IPv6 twins (see the header); emptied by netns_ipv6_check when the kernel has no IPv6.
NETNS_IPV6=${NETNS_IPV6:-1}
NETNS_IP6_C=fd00:111::1
NETNS_IP6_S=fd00:111::2
# shellcheck disable=SC2034  # used by the tests
NETNS_IP6_NOBODY=fd00:111::3
NETNS_PLEN6=64
NETNS_IF_C=veth-c
NETNS_IF_S=veth-s
NETNS_IF_MC=imp-c   # the box's interface towards <prefix>-c (IFACE_A: a2b goes c -> s)
NETNS_IF_MS=imp-s   # the box's interface towards <prefix>-s (IFACE_B)

# Set by netns_setup.
NETNS_PREFIX=${NETNS_PREFIX:-}
NETNS_C=${NETNS_C:-}
NETNS_S=${NETNS_S:-}
NETNS_M=${NETNS_M:-}
NETNS_SYNACK=${NETNS_SYNACK:-}   # the synack binary the impaired topology runs
NETNS_IMPAIR_PID=
NETNS_IMPAIR_OUT=
NETNS_IMPAIR_ERR=
NETNS_IMPAIR_RUN=0
NETNS_TMP=${NETNS_TMP:-}
NETNS_PY=${NETNS_PY:-}
NETNS_LAST_PID=
NETNS_PIDS=()              # background processes this shell started (ip netns exec ...)
NETNS_CREATED=()           # namespaces this shell created
NETNS_CLEANUP_HOOKS=()     # functions to call first in netns_cleanup (e.g. dump artefacts)
declare -gA NETNS_CAP_PID=()
NETNS_CLEANED=0

netns_log() { echo "netns: $*" >&2; }
netns_die() { echo "netns: error: $*" >&2; exit 2; }

# A python3 for the servers: the system one when there is one (no shims inside namespaces).
netns_python() {
  if [ -z "$NETNS_PY" ]; then
    if [ -x /usr/bin/python3 ]; then NETNS_PY=/usr/bin/python3; else NETNS_PY=$(command -v python3 || true); fi
  fi
  echo "$NETNS_PY"
}

# netns_require_root: exit 77 (the CTest skip code) unless root.
netns_require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (network namespaces, raw sockets, iptables)" >&2
    exit 77
  fi
}

# netns_require_tools TOOL...: exit 77 if one is missing (scripts/setup-deps.sh installs them).
netns_require_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "SKIP: missing tools: ${missing[*]} (run scripts/setup-deps.sh)" >&2
    exit 77
  fi
}

# netns_ipv6_check: NETNS_IPV6=0 and the IPv6 variables emptied when the kernel has no IPv6
# (booted with ipv6.disable=1): the topologies are then IPv4-only, as before issue 14.
netns_ipv6_check() {
  if [ ! -d /proc/sys/net/ipv6 ]; then
    [ "$NETNS_IPV6" = 0 ] || netns_log "the kernel has no IPv6 (/proc/sys/net/ipv6 missing): IPv4 only"
    NETNS_IPV6=0
  fi
  if [ "$NETNS_IPV6" != 1 ]; then
    NETNS_IPV6=0; NETNS_IP6_C=; NETNS_IP6_S=; NETNS_IP6_NOBODY=; NETNS_IP6_F=
  fi
}

# netns_ipv6_ns NS [off]: IPv6 in a fresh namespace, before its interfaces exist (the `default`
# settings are what new interfaces get): on, without DAD, router solicitations or RA processing,
# addresses kept while a link is down; with `off` (or without kernel IPv6) disabled instead.
netns_ipv6_ns() {
  local ns=$1 mode=${2:-on} v
  if [ "$mode" = off ] || [ "$NETNS_IPV6" != 1 ]; then
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
    return 0
  fi
  for v in all default; do
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$v.disable_ipv6=0" "net.ipv6.conf.$v.accept_dad=0" \
      "net.ipv6.conf.$v.dad_transmits=0" "net.ipv6.conf.$v.router_solicitations=0" \
      "net.ipv6.conf.$v.accept_ra=0" "net.ipv6.conf.$v.keep_addr_on_down=1" >/dev/null \
      || netns_die "cannot configure IPv6 in $ns (sysctl net.ipv6.conf.$v.*)"
  done
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 >/dev/null 2>&1 || true
}

# netns_ipv6_addr NS IFACE ADDR/PLEN: an IPv6 address without DAD (no-op without IPv6).
netns_ipv6_addr() {
  [ "$NETNS_IPV6" = 1 ] || return 0
  ip -n "$1" -6 addr add "$3" dev "$2" nodad || netns_die "cannot add $3 to $2 in $1"
}

# netns_ipv6_icmp_unlimited NS: every ICMPv6 error NS sends goes out (net.ipv6.icmp.ratelimit=0:
# no per-destination limit; an empty net.ipv6.icmp.ratemask: no type charged to the global
# icmp_msgs_per_sec bucket either), as net.ipv4.icmp_ratelimit/icmp_ratemask=0 do for IPv4.
netns_ipv6_icmp_unlimited() {
  [ "$NETNS_IPV6" = 1 ] || return 0
  ip netns exec "$1" sysctl -qw net.ipv6.icmp.ratelimit=0 >/dev/null \
    || netns_die "cannot set net.ipv6.icmp.ratelimit in $1"
  ip netns exec "$1" sysctl -qw net.ipv6.icmp.ratemask= >/dev/null 2>&1 || true   # older kernels lack it
}

# netns_wait_until TIMEOUT_S DESCRIPTION CMD...: poll CMD every 50 ms until it succeeds.
# Returns 1 (with a message) when the deadline passes.
netns_wait_until() {
  local timeout=$1 desc=$2; shift 2
  local deadline=$(( $(date +%s%N) + $(netns_seconds_to_ns "$timeout") ))
  while true; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      netns_log "timed out after ${timeout}s waiting for: $desc"
      return 1
    fi
    sleep 0.05
  done
}

# netns_seconds_to_ns SECONDS (may have a fraction, e.g. 2.5)
netns_seconds_to_ns() {
  local s=$1 int frac
  int=${s%%.*}; [ -n "$int" ] || int=0
  if [[ "$s" == *.* ]]; then frac=${s#*.}; else frac=; fi
  frac=$(printf '%-9s' "$frac" | tr ' ' 0); frac=${frac:0:9}
  echo $(( 10#$int * 1000000000 + 10#$frac ))
}

# netns_pid_alive PID
netns_pid_alive() { kill -0 "$1" 2>/dev/null; }

# netns_wait_exit PID TIMEOUT_S: wait for a process to exit (bounded). Returns 1 if still alive.
netns_wait_exit() {
  local pid=$1 timeout=$2
  netns_wait_until "$timeout" "pid $pid to exit" eval "! kill -0 $pid"
}

# netns_new_prefix: a short, unique prefix: "sk" + our pid + "x" + 4 random hex digits.
netns_new_prefix() {
  printf 'sk%dx%04x' "$$" "$(( (RANDOM << 1 ^ RANDOM) & 0xffff ))"
}

# netns_gc: delete namespaces that earlier runs (killed with SIGKILL, e.g. by a CTest timeout)
# left behind: only names of our own pattern (<prefix>-c, -m, -s, -f, and the routers -r<i>) whose
# owning shell is gone.
netns_gc() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if [[ "$ns" =~ ^sk([0-9]+)x[0-9a-f]{4}-([cmsf]|r[0-9]+)$ ]]; then
      pid=${BASH_REMATCH[1]}
      if ! netns_pid_alive "$pid"; then
        netns_log "removing stale namespace $ns (owner pid $pid is gone)"
        netns_kill_ns_procs "$ns"
        ip netns del "$ns" 2>/dev/null || true
      fi
    fi
  done
  local d
  for d in "${TMPDIR:-/tmp}"/synack-sk*x*.*; do
    [ -d "$d" ] || continue
    if [[ "$(basename "$d")" =~ ^synack-sk([0-9]+)x[0-9a-f]{4}\. ]] && ! netns_pid_alive "${BASH_REMATCH[1]}"; then
      rm -rf "$d"
    fi
  done
}

# netns_kill_ns_procs NS: TERM, then (after a bounded wait) KILL every process inside NS.
netns_kill_ns_procs() {
  local ns=$1 pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -z "$pids" ] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 60); do          # up to 3 s
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] && return 0
    sleep 0.05
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for _ in $(seq 1 40); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -z "$pids" ] && return 0
    sleep 0.05
  done
  netns_log "processes still in $ns after SIGKILL: $pids"
}

# netns_create_pair PREFIX: the two namespaces, the veth pair, addresses, offloads.
netns_create_pair() {
  local prefix=$1
  local c="$prefix-c" s="$prefix-s"
  ip netns add "$c" || netns_die "cannot create namespace $c"
  NETNS_CREATED+=("$c")
  ip netns add "$s" || netns_die "cannot create namespace $s"
  NETNS_CREATED+=("$s")
  local ns
  netns_ipv6_check
  for ns in "$c" "$s"; do
    netns_ipv6_ns "$ns"
    ip -n "$ns" link set lo up
  done
  netns_link_pair "$c" "$s"
}

# netns_link_pair C S: the veth pair between namespaces C and S with its addresses and offloads,
# both ends up and the carrier on (also used to make it again after a test deleted it).
netns_link_pair() {
  local c=$1 s=$2 ns ifc ip ip6 pair
  ip link add "$NETNS_IF_C" netns "$c" type veth peer name "$NETNS_IF_S" netns "$s" \
    || netns_die "cannot create the veth pair in $c/$s"
  for pair in "$c $NETNS_IF_C $NETNS_IP_C $NETNS_IP6_C" "$s $NETNS_IF_S $NETNS_IP_S $NETNS_IP6_S"; do
    read -r ns ifc ip ip6 <<<"$pair"
    ip -n "$ns" addr add "$ip/$NETNS_PLEN" dev "$ifc"
    [ -z "$ip6" ] || netns_ipv6_addr "$ns" "$ifc" "$ip6/$NETNS_PLEN6"
    if [ "${NETNS_OFFLOADS:-off}" = off ] && command -v ethtool >/dev/null 2>&1; then
      ip netns exec "$ns" ethtool -K "$ifc" gro off gso off tso off >/dev/null 2>&1 \
        || netns_log "ethtool -K $ifc failed (offloads stay on)"
    fi
    ip -n "$ns" link set "$ifc" up
  done
  # Both ends up and the link carrier on (veth: once both are up).
  netns_wait_until 10 "veth carrier in $c" \
    bash -c "ip -n '$c' -o link show '$NETNS_IF_C' | grep -q 'state UP'" \
    || netns_die "veth in $c did not come up"
  netns_wait_until 10 "veth carrier in $s" \
    bash -c "ip -n '$s' -o link show '$NETNS_IF_S' | grep -q 'state UP'" \
    || netns_die "veth in $s did not come up"
}

# netns_setup [PREFIX]: create a fresh topology, a temp dir, and cleanup traps.
# Sets NETNS_PREFIX NETNS_C NETNS_S NETNS_TMP.
netns_setup() {
  netns_require_root
  netns_require_tools ip ss
  netns_gc
  NETNS_PREFIX=${1:-$(netns_new_prefix)}
  NETNS_C="$NETNS_PREFIX-c"
  NETNS_S="$NETNS_PREFIX-s"
  NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$NETNS_PREFIX.XXXXXX")
  chmod 755 "$NETNS_TMP"
  NETNS_CLEANED=0
  trap 'netns_cleanup' EXIT
  trap 'netns_log "interrupted (SIGINT)"; exit 130' INT
  trap 'netns_log "terminated (SIGTERM)"; exit 143' TERM
  trap 'netns_log "hangup (SIGHUP)"; exit 129' HUP
  netns_create_pair "$NETNS_PREFIX"
}

# netns_offloads_off NS IFACE: GRO/GSO/TSO off (one segment per frame, nothing above the MTU).
netns_offloads_off() {
  if [ "${NETNS_OFFLOADS:-off}" = off ] && command -v ethtool >/dev/null 2>&1; then
    ip netns exec "$1" ethtool -K "$2" gro off gso off tso off >/dev/null 2>&1 \
      || netns_log "ethtool -K $2 in $1 failed (offloads stay on)"
  fi
}

# netns_create_impaired PREFIX: three namespaces PREFIX-c, PREFIX-m, PREFIX-s and two veth pairs
# veth-c <-> imp-c (c-m) and imp-s <-> veth-s (m-s); addresses on veth-c and veth-s only.
netns_create_impaired() {
  local prefix=$1 ns
  local c="$prefix-c" m="$prefix-m" s="$prefix-s"
  netns_ipv6_check
  for ns in "$c" "$m" "$s"; do
    ip netns add "$ns" || netns_die "cannot create namespace $ns"
    NETNS_CREATED+=("$ns")
    # The box is an L2 bridge without addresses: no IPv6 of its own (nothing of it in captures).
    if [ "$ns" = "$m" ]; then netns_ipv6_ns "$ns" off; else netns_ipv6_ns "$ns"; fi
    ip -n "$ns" link set lo up
  done
  ip link add "$NETNS_IF_C" netns "$c" type veth peer name "$NETNS_IF_MC" netns "$m" \
    || netns_die "cannot create the veth pair $c/$m"
  ip link add "$NETNS_IF_MS" netns "$m" type veth peer name "$NETNS_IF_S" netns "$s" \
    || netns_die "cannot create the veth pair $m/$s"
  ip -n "$c" addr add "$NETNS_IP_C/$NETNS_PLEN" dev "$NETNS_IF_C"
  ip -n "$s" addr add "$NETNS_IP_S/$NETNS_PLEN" dev "$NETNS_IF_S"
  netns_ipv6_addr "$c" "$NETNS_IF_C" "$NETNS_IP6_C/$NETNS_PLEN6"
  netns_ipv6_addr "$s" "$NETNS_IF_S" "$NETNS_IP6_S/$NETNS_PLEN6"
  local pair ifc
  for pair in "$c:$NETNS_IF_C" "$m:$NETNS_IF_MC" "$m:$NETNS_IF_MS" "$s:$NETNS_IF_S"; do
    IFS=: read -r ns ifc <<<"$pair"
    [ "$ns" != "$m" ] || ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" >/dev/null 2>&1 || true
    netns_offloads_off "$ns" "$ifc"
    ip -n "$ns" link set "$ifc" up
  done
  for pair in "$c:$NETNS_IF_C" "$m:$NETNS_IF_MC" "$m:$NETNS_IF_MS" "$s:$NETNS_IF_S"; do
    IFS=: read -r ns ifc <<<"$pair"
    netns_wait_until 10 "veth carrier on $ifc in $ns" \
      bash -c "ip -n '$ns' -o link show '$ifc' | grep -q 'state UP'" \
      || netns_die "$ifc in $ns did not come up"
  done
}

# netns_impair_start [IMPAIR_ARGS...]: start `synack impair imp-c imp-s ARGS` in the box namespace
# ($NETNS_SYNACK), stdout (counters) -> $NETNS_IMPAIR_OUT, stderr -> $NETNS_IMPAIR_ERR; returns
# once it says it is forwarding (bounded). Sets NETNS_IMPAIR_PID.
netns_impair_start() {
  { [ -n "$NETNS_SYNACK" ] && [ -x "$NETNS_SYNACK" ]; } \
    || netns_die "NETNS_SYNACK must name the synack binary (got '${NETNS_SYNACK}'); build it first"
  NETNS_IMPAIR_RUN=$((NETNS_IMPAIR_RUN + 1))
  NETNS_IMPAIR_OUT="$NETNS_TMP/impair-$NETNS_IMPAIR_RUN.out"
  NETNS_IMPAIR_ERR="$NETNS_TMP/impair-$NETNS_IMPAIR_RUN.err"
  echo "synack impair $NETNS_IF_MC $NETNS_IF_MS $*" >"$NETNS_TMP/impair-$NETNS_IMPAIR_RUN.cmd"
  ip netns exec "$NETNS_M" env --default-signal=INT,TERM "$NETNS_SYNACK" impair "$NETNS_IF_MC" "$NETNS_IF_MS" "$@" \
    >"$NETNS_IMPAIR_OUT" 2>"$NETNS_IMPAIR_ERR" </dev/null &
  NETNS_IMPAIR_PID=$!
  NETNS_PIDS+=("$NETNS_IMPAIR_PID")
  if ! netns_wait_until 10 "synack impair to forward" grep -q "forwarding" "$NETNS_IMPAIR_ERR"; then
    cat "$NETNS_IMPAIR_ERR" >&2
    return 1
  fi
  if ! netns_pid_alive "$NETNS_IMPAIR_PID"; then
    cat "$NETNS_IMPAIR_ERR" >&2
    return 1
  fi
}

# netns_impair_stop: SIGTERM the box and wait (bounded); its final counters end $NETNS_IMPAIR_OUT.
# Returns the box's exit status.
netns_impair_stop() {
  local pid=$NETNS_IMPAIR_PID rc=0
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! netns_wait_exit "$pid" 10; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || rc=$?
  NETNS_IMPAIR_PID=
  return "$rc"
}

# netns_impair_restart [IMPAIR_ARGS...]: stop the box and start it again with new arguments.
netns_impair_restart() { netns_impair_stop || true; netns_impair_start "$@"; }

# netns_impair_counters: ask the running box for its counters (SIGUSR1) and print the new line of
# $NETNS_IMPAIR_OUT once it is there (bounded wait). Use with --json for one JSON object.
netns_impair_counters() {
  local before
  before=$(wc -l <"$NETNS_IMPAIR_OUT")
  kill -USR1 "$NETNS_IMPAIR_PID" 2>/dev/null || return 1
  netns_wait_until 5 "the box's counters" \
    bash -c "[ \"\$(wc -l <'$NETNS_IMPAIR_OUT')\" -gt $before ]" || return 1
  tail -n 1 "$NETNS_IMPAIR_OUT"
}

# netns_setup_impaired [IMPAIR_ARGS...]: like netns_setup, with the box in the middle and
# `synack impair` started with IMPAIR_ARGS. Sets NETNS_PREFIX NETNS_C NETNS_M NETNS_S NETNS_TMP.
netns_setup_impaired() {
  netns_require_root
  netns_require_tools ip ss
  netns_gc
  NETNS_PREFIX=$(netns_new_prefix)
  NETNS_C="$NETNS_PREFIX-c"
  NETNS_M="$NETNS_PREFIX-m"
  NETNS_S="$NETNS_PREFIX-s"
  NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$NETNS_PREFIX.XXXXXX")
  chmod 755 "$NETNS_TMP"
  NETNS_CLEANED=0
  trap 'netns_cleanup' EXIT
  trap 'netns_log "interrupted (SIGINT)"; exit 130' INT
  trap 'netns_log "terminated (SIGTERM)"; exit 143' TERM
  trap 'netns_log "hangup (SIGHUP)"; exit 129' HUP
  netns_create_impaired "$NETNS_PREFIX"
  netns_impair_start "$@" || netns_die "synack impair did not start"
}

# netns_add_third_ns: after netns_setup, a third namespace <prefix>-f (NETNS_F, 10.112.0.2/24 and
# fd00:112::2/64 on veth-f) behind the peer: <prefix>-s routes between 10.112.0.0/24 (veth-sf
# 10.112.0.1, fd00:112::1) and the pair's subnet, and <prefix>-c reaches 10.112.0.0/24 via 10.111.0.2
# (fd00:112::/64 via fd00:111::2) (an off-link sender, e.g. a SYN flooder, whose traffic arrives on
# veth-c with the peer's MAC).
NETNS_F=
NETNS_IP_F=10.112.0.2
NETNS_IP6_F=fd00:112::2
netns_add_third_ns() {
  NETNS_F="$NETNS_PREFIX-f"
  ip netns add "$NETNS_F" || netns_die "cannot create namespace $NETNS_F"
  NETNS_CREATED+=("$NETNS_F")
  netns_ipv6_check
  netns_ipv6_ns "$NETNS_F"
  ip link add veth-f netns "$NETNS_F" type veth peer name veth-sf netns "$NETNS_S" \
    || netns_die "cannot create the veth pair $NETNS_F/$NETNS_S"
  ip -n "$NETNS_F" link set lo up
  ip -n "$NETNS_F" addr add "$NETNS_IP_F/24" dev veth-f
  ip -n "$NETNS_S" addr add 10.112.0.1/24 dev veth-sf
  if [ "$NETNS_IPV6" = 1 ]; then
    netns_ipv6_addr "$NETNS_F" veth-f "$NETNS_IP6_F/$NETNS_PLEN6"
    netns_ipv6_addr "$NETNS_S" veth-sf "fd00:112::1/$NETNS_PLEN6"
    ip netns exec "$NETNS_S" sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null
  fi
  netns_offloads_off "$NETNS_F" veth-f
  netns_offloads_off "$NETNS_S" veth-sf
  ip -n "$NETNS_F" link set veth-f up
  ip -n "$NETNS_S" link set veth-sf up
  ip netns exec "$NETNS_S" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
  ip -n "$NETNS_F" route add default via 10.112.0.1
  ip -n "$NETNS_C" route add 10.112.0.0/24 via "$NETNS_IP_S"
  if [ "$NETNS_IPV6" = 1 ]; then
    ip -n "$NETNS_F" -6 route add default via fd00:112::1 || netns_die "cannot add $NETNS_F's IPv6 default route"
    ip -n "$NETNS_C" -6 route add fd00:112::/64 via "$NETNS_IP6_S" || netns_die "cannot add $NETNS_C's route to fd00:112::/64"
  fi
  netns_wait_until 10 "veth carrier in $NETNS_F" \
    bash -c "ip -n '$NETNS_F' -o link show veth-f | grep -q 'state UP'" \
    || netns_die "veth in $NETNS_F did not come up"
}

# ---------------------------------------------------------------------------------------------
# The routed lab: client -- r1 -- ... -- rK -- server, every hop its own /24, routers forwarding.
#
# Nodes are numbered 0 (the client, <prefix>-c) .. K+1 (the server, <prefix>-s); router i is node i
# (<prefix>-r<i>). Hop h (1..K+1) is the link between node h-1 and node h; its subnet is
# 10.111.h.0/24 with .1 on the client-side end and .2 on the server-side end:
#
#   <prefix>-c             <prefix>-r1                 <prefix>-r2          ...   <prefix>-s
#   veth-c 10.111.1.1 <-> rtr-c 10.111.1.2  rtr-s 10.111.2.1 <-> rtr-c 10.111.2.2 ...  veth-s 10.111.(K+1).2
#           hop 1                                hop 2                                hop K+1
#
# The client and the server route everything via their neighbour router (default routes); each
# router has one route per lab subnet and no default, so an address outside the lab gets "network
# unreachable" from r1. Each hop's MTU can be set (both ends; the endpoints keep 1500 unless hop 1
# or hop K+1 is changed), so path MTU discovery is needed across a smaller hop. Routers send ICMP
# errors as the kernel does by default, from the address of the interface facing the packet's
# source (so a time exceeded from router i comes from NETNS_RTR_IP[i]). ICMP rate limits are off in
# the routers and the server (net.ipv4.icmp_ratelimit=0: no per-destination limit, and
# net.ipv4.icmp_ratemask=0: no type is limited, not even by the global icmp_msgs_per_sec bucket),
# so a test that provokes many ICMP errors gets every one; rp_filter is off everywhere, forwarding
# on in the routers only. One hop can be an impairment box instead of a plain veth: <prefix>-m
# bridges two veth pairs with `synack impair` as in the impaired topology (the hop keeps its
# subnet; the box's interfaces have no address).
#
# IPv6 mirrors all of it: hop h is also fd00:111:h::/64 with fd00:111:h::1 on the client-side end
# and fd00:111:h::2 on the server-side end (NETNS_HOP_NET6[h], NETNS_RTR_IP6[i] = fd00:111:i::2,
# NETNS_RTR_IP6_S[i] = fd00:111:(i+1)::1), the endpoints have default IPv6 routes via their
# neighbour router, routers one route per lab prefix and net.ipv6.conf.all.forwarding=1, and the
# routers and the server send every ICMPv6 error (net.ipv6.icmp.ratelimit=0, empty ratemask), so
# a smaller hop answers with packet-too-big from the router before it. The hop MTUs apply to both
# families; IPv6 needs at least 1280, so a lab with a hop below that is IPv4-only (NETNS_IPV6=0,
# the IPv6 variables empty, a note on stderr). netns_routed_ip / netns_routed_ip6 are the only
# places that map hop and end to an address.
NETNS_IF_RC=rtr-c        # a router's interface towards the client
NETNS_IF_RS=rtr-s        # a router's interface towards the server
NETNS_ROUTED_MAX=32
NETNS_ROUTERS=0          # K
NETNS_HOPS=0             # K+1
NETNS_IMPAIR_HOP=        # the hop replaced by the box (empty: none)
NETNS_ROUTED_HTTP=       # --http PORT
NETNS_ROUTED_IMPAIR_ARGS=()
# shellcheck disable=SC2034  # read by the tests and users' scripts
declare -ga NETNS_R=()         # NETNS_R[i]: router i's namespace (also NETNS_R1, NETNS_R2, ...)
declare -ga NETNS_RTR_IP=()    # NETNS_RTR_IP[i]: router i's address facing the client
declare -ga NETNS_RTR_IP_S=()  # NETNS_RTR_IP_S[i]: router i's address facing the server
declare -ga NETNS_HOP_NET=()   # NETNS_HOP_NET[h]: hop h's subnet (10.111.h.0/24)
declare -ga NETNS_HOP_MTU=()   # NETNS_HOP_MTU[h]: hop h's MTU
declare -ga NETNS_RTR_IP6=()   # NETNS_RTR_IP6[i]: router i's IPv6 address facing the client
declare -ga NETNS_RTR_IP6_S=() # NETNS_RTR_IP6_S[i]: router i's IPv6 address facing the server
declare -ga NETNS_HOP_NET6=()  # NETNS_HOP_NET6[h]: hop h's IPv6 prefix (fd00:111:h::/64)

# netns_routed_ip HOP END: the IPv4 address of END (1: the client-side end, 2: the server-side end)
# of hop HOP. (IPv6, with issue 14: fd00:111:HOP::END/64 on the same interfaces.)
netns_routed_ip() { echo "10.111.$1.$2"; }
# netns_routed_ip6 HOP END: the IPv6 twin, fd00:111:HOP::END (END 0: the prefix fd00:111:HOP::;
# hop 0, the plain pair's link, is fd00:111::END). RFC 5952 text, as tools print it.
netns_routed_ip6() {
  local net="fd00:111:$1::"
  [ "$1" != 0 ] || net="fd00:111::"
  if [ "$2" = 0 ]; then echo "$net"; else echo "$net$2"; fi
}

# netns_routed_args [--routers K] [--mtu HOP=MTU]... [--http PORT] [--impair HOP [-- ARGS...]]:
# parse the routed lab's options into NETNS_ROUTERS, NETNS_HOPS, NETNS_HOP_MTU, NETNS_ROUTED_HTTP,
# NETNS_IMPAIR_HOP and NETNS_ROUTED_IMPAIR_ARGS (everything after `--`). Dies (exit 2) on bad input.
# netns_int_in VALUE LO HI: VALUE is a decimal integer in LO..HI.
netns_int_in() { [[ "$1" =~ ^[0-9]{1,6}$ ]] && [ "$((10#$1))" -ge "$2" ] && [ "$((10#$1))" -le "$3" ]; }

netns_routed_args() {
  local k=3 mtus=() m h v
  NETNS_ROUTED_HTTP=; NETNS_IMPAIR_HOP=; NETNS_ROUTED_IMPAIR_ARGS=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --routers) [ $# -ge 2 ] || netns_die "--routers needs a number"; k=$2; shift 2 ;;
      --mtu) [ $# -ge 2 ] || netns_die "--mtu needs HOP=MTU"; mtus+=("$2"); shift 2 ;;
      --http) [ $# -ge 2 ] || netns_die "--http needs a port"; NETNS_ROUTED_HTTP=$2; shift 2 ;;
      --impair) [ $# -ge 2 ] || netns_die "--impair needs a hop number"; NETNS_IMPAIR_HOP=$2; shift 2 ;;
      --) shift; NETNS_ROUTED_IMPAIR_ARGS=("$@"); break ;;
      *) netns_die "unknown option '$1' (--routers K, --mtu HOP=MTU, --http PORT, --impair HOP [-- IMPAIR_ARGS])" ;;
    esac
  done
  netns_int_in "$k" 1 "$NETNS_ROUTED_MAX" \
    || netns_die "--routers must be 1..$NETNS_ROUTED_MAX (got '$k')"
  NETNS_ROUTERS=$((10#$k))
  NETNS_HOPS=$((k + 1))
  NETNS_HOP_MTU=()
  for h in $(seq 1 "$NETNS_HOPS"); do NETNS_HOP_MTU[h]=1500; done
  for m in "${mtus[@]}"; do
    h=${m%%=*}; v=${m#*=}
    [[ "$m" == *=* ]] || netns_die "--mtu takes HOP=MTU, e.g. --mtu 2=1400 (got '$m')"
    netns_int_in "$h" 1 "$NETNS_HOPS" \
      || netns_die "--mtu $m: hop must be 1..$NETNS_HOPS (hop h joins node h-1 and node h)"
    netns_int_in "$v" 68 65535 || netns_die "--mtu $m: MTU must be 68..65535"
    NETNS_HOP_MTU[10#$h]=$((10#$v))
  done
  if [ -n "$NETNS_ROUTED_HTTP" ]; then
    netns_int_in "$NETNS_ROUTED_HTTP" 1 65535 \
      || netns_die "--http needs a port 1..65535 (got '$NETNS_ROUTED_HTTP')"
  fi
  if [ -n "$NETNS_IMPAIR_HOP" ]; then
    netns_int_in "$NETNS_IMPAIR_HOP" 1 "$NETNS_HOPS" \
      || netns_die "--impair: hop must be 1..$NETNS_HOPS (got '$NETNS_IMPAIR_HOP')"
    NETNS_IMPAIR_HOP=$((10#$NETNS_IMPAIR_HOP))
  elif [ "${#NETNS_ROUTED_IMPAIR_ARGS[@]}" -gt 0 ]; then
    netns_die "arguments after -- are for synack impair: give --impair HOP"
  fi
}

# netns_node_ns I: the namespace of node I (0: client, 1..K: routers, K+1: server).
netns_node_ns() {
  if [ "$1" -eq 0 ]; then echo "$NETNS_C"
  elif [ "$1" -eq "$NETNS_HOPS" ]; then echo "$NETNS_S"
  else echo "${NETNS_R[$1]}"; fi
}
# netns_node_if I SIDE: node I's interface towards the client (SIDE c) or the server (SIDE s).
netns_node_if() {
  if [ "$1" -eq 0 ]; then echo "$NETNS_IF_C"
  elif [ "$1" -eq "$NETNS_HOPS" ]; then echo "$NETNS_IF_S"
  elif [ "$2" = c ]; then echo "$NETNS_IF_RC"
  else echo "$NETNS_IF_RS"; fi
}

# netns_ns_add NS [off]: a fresh namespace (recorded for cleanup), lo up, IPv6 as netns_ipv6_ns
# sets it (`off`: disabled, for the box), rp_filter off.
netns_ns_add() {
  local ns=$1
  ip netns add "$ns" || netns_die "cannot create namespace $ns"
  NETNS_CREATED+=("$ns")
  netns_ipv6_ns "$ns" "${2:-on}"
  ip -n "$ns" link set lo up
  # A new namespace inherits the host's IPv4 defaults (rp_filter, forwarding): set them here.
  ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 >/dev/null
  ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 >/dev/null
}

# netns_iface_up NS IFACE MTU: offloads off (policy above), the MTU, rp_filter off, link up.
netns_iface_up() {
  local ns=$1 ifc=$2 mtu=$3
  ip -n "$ns" link set "$ifc" mtu "$mtu" || netns_die "cannot set MTU $mtu on $ifc in $ns"
  ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$ifc.rp_filter=0" >/dev/null 2>&1 || true
  netns_offloads_off "$ns" "$ifc"
  ip -n "$ns" link set "$ifc" up
}

# netns_create_routed PREFIX: the namespaces, links, addresses, MTUs, routes and sysctls of the
# routed lab (options already parsed by netns_routed_args). Sets NETNS_C NETNS_S NETNS_R
# NETNS_R<i> NETNS_M (with a box) NETNS_IP_C NETNS_IP_S NETNS_IP_NOBODY NETNS_RTR_IP NETNS_RTR_IP_S
# NETNS_HOP_NET. Does not start the box (netns_impair_start does, in the library).
netns_create_routed() {
  local prefix=$1 i h l r lns rns lif rif mtu ns ifc pair
  NETNS_C="$prefix-c"; NETNS_S="$prefix-s"; NETNS_M=
  NETNS_R=(); NETNS_RTR_IP=(); NETNS_RTR_IP_S=(); NETNS_HOP_NET=()
  NETNS_RTR_IP6=(); NETNS_RTR_IP6_S=(); NETNS_HOP_NET6=()
  netns_ipv6_check
  if [ "$NETNS_IPV6" = 1 ]; then
    for h in $(seq 1 "$NETNS_HOPS"); do
      if [ "${NETNS_HOP_MTU[h]}" -lt 1280 ]; then
        netns_log "hop $h has MTU ${NETNS_HOP_MTU[h]} < 1280 (IPv6's minimum): this lab is IPv4-only"
        NETNS_IPV6=0
        netns_ipv6_check
        break
      fi
    done
  fi
  for i in $(seq 1 "$NETNS_ROUTERS"); do
    NETNS_R[i]="$prefix-r$i"
    printf -v "NETNS_R$i" '%s' "$prefix-r$i"
    # shellcheck disable=SC2034  # used by the tests
    NETNS_RTR_IP[i]=$(netns_routed_ip "$i" 2)
    # shellcheck disable=SC2034  # used by the tests
    NETNS_RTR_IP_S[i]=$(netns_routed_ip "$((i + 1))" 1)
    if [ "$NETNS_IPV6" = 1 ]; then
      # shellcheck disable=SC2034  # used by the tests
      NETNS_RTR_IP6[i]=$(netns_routed_ip6 "$i" 2)
      # shellcheck disable=SC2034  # used by the tests
      NETNS_RTR_IP6_S[i]=$(netns_routed_ip6 "$((i + 1))" 1)
    fi
  done
  NETNS_IP_C=$(netns_routed_ip 1 1)
  NETNS_IP_S=$(netns_routed_ip "$NETNS_HOPS" 2)
  if [ "$NETNS_IPV6" = 1 ]; then
    NETNS_IP6_C=$(netns_routed_ip6 1 1)
    NETNS_IP6_S=$(netns_routed_ip6 "$NETNS_HOPS" 2)
    # shellcheck disable=SC2034  # used by the tests
    NETNS_IP6_NOBODY=$(netns_routed_ip6 "$NETNS_HOPS" 3)
  fi
  # shellcheck disable=SC2034  # used by the tests
  NETNS_IP_NOBODY=$(netns_routed_ip "$NETNS_HOPS" 3)   # on the server's hop, owned by nobody
  for i in $(seq 0 "$NETNS_HOPS"); do netns_ns_add "$(netns_node_ns "$i")"; done
  local ups=()   # ns:iface of every interface, to wait for its carrier
  for h in $(seq 1 "$NETNS_HOPS"); do
    NETNS_HOP_NET[h]="$(netns_routed_ip "$h" 0)/$NETNS_PLEN"
    [ "$NETNS_IPV6" != 1 ] || NETNS_HOP_NET6[h]="$(netns_routed_ip6 "$h" 0)/$NETNS_PLEN6"
    l=$((h - 1)); r=$h; mtu=${NETNS_HOP_MTU[h]}
    lns=$(netns_node_ns "$l"); rns=$(netns_node_ns "$r")
    lif=$(netns_node_if "$l" s); rif=$(netns_node_if "$r" c)
    if [ "$h" = "$NETNS_IMPAIR_HOP" ]; then
      # The box: lns:lif <-> m:imp-c [synack impair] m:imp-s <-> rns:rif, one subnet.
      NETNS_M="$prefix-m"
      netns_ns_add "$NETNS_M" off
      ip link add "$lif" netns "$lns" type veth peer name "$NETNS_IF_MC" netns "$NETNS_M" \
        || netns_die "cannot create the veth pair $lns/$NETNS_M"
      ip link add "$NETNS_IF_MS" netns "$NETNS_M" type veth peer name "$rif" netns "$rns" \
        || netns_die "cannot create the veth pair $NETNS_M/$rns"
      netns_iface_up "$NETNS_M" "$NETNS_IF_MC" "$mtu"
      netns_iface_up "$NETNS_M" "$NETNS_IF_MS" "$mtu"
      ups+=("$NETNS_M:$NETNS_IF_MC" "$NETNS_M:$NETNS_IF_MS")
    else
      ip link add "$lif" netns "$lns" type veth peer name "$rif" netns "$rns" \
        || netns_die "cannot create the veth pair $lns/$rns (hop $h)"
    fi
    ip -n "$lns" addr add "$(netns_routed_ip "$h" 1)/$NETNS_PLEN" dev "$lif"
    ip -n "$rns" addr add "$(netns_routed_ip "$h" 2)/$NETNS_PLEN" dev "$rif"
    if [ "$NETNS_IPV6" = 1 ]; then
      netns_ipv6_addr "$lns" "$lif" "$(netns_routed_ip6 "$h" 1)/$NETNS_PLEN6"
      netns_ipv6_addr "$rns" "$rif" "$(netns_routed_ip6 "$h" 2)/$NETNS_PLEN6"
    fi
    netns_iface_up "$lns" "$lif" "$mtu"
    netns_iface_up "$rns" "$rif" "$mtu"
    ups+=("$lns:$lif" "$rns:$rif")
  done
  # Routes: the endpoints via their neighbour; router i reaches the hops before it via node i-1
  # and the hops after it via node i+1.
  ip -n "$NETNS_C" route add default via "$(netns_routed_ip 1 2)" \
    || netns_die "cannot add the client's default route"
  ip -n "$NETNS_S" route add default via "$(netns_routed_ip "$NETNS_HOPS" 1)" \
    || netns_die "cannot add the server's default route"
  for i in $(seq 1 "$NETNS_ROUTERS"); do
    ns=${NETNS_R[i]}
    for h in $(seq 1 "$NETNS_HOPS"); do
      if [ "$h" -lt "$i" ]; then
        ip -n "$ns" route add "${NETNS_HOP_NET[h]}" via "$(netns_routed_ip "$i" 1)" \
          || netns_die "cannot add a route in $ns"
      elif [ "$h" -gt $((i + 1)) ]; then
        ip -n "$ns" route add "${NETNS_HOP_NET[h]}" via "$(netns_routed_ip "$((i + 1))" 2)" \
          || netns_die "cannot add a route in $ns"
      fi
    done
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
  done
  if [ "$NETNS_IPV6" = 1 ]; then
    # The same routes for IPv6 (the MTUs were set on the links above: both families use them).
    ip -n "$NETNS_C" -6 route add default via "$(netns_routed_ip6 1 2)" \
      || netns_die "cannot add the client's IPv6 default route"
    ip -n "$NETNS_S" -6 route add default via "$(netns_routed_ip6 "$NETNS_HOPS" 1)" \
      || netns_die "cannot add the server's IPv6 default route"
    for i in $(seq 1 "$NETNS_ROUTERS"); do
      ns=${NETNS_R[i]}
      for h in $(seq 1 "$NETNS_HOPS"); do
        if [ "$h" -lt "$i" ]; then
          ip -n "$ns" -6 route add "${NETNS_HOP_NET6[h]}" via "$(netns_routed_ip6 "$i" 1)" \
            || netns_die "cannot add an IPv6 route in $ns"
        elif [ "$h" -gt $((i + 1)) ]; then
          ip -n "$ns" -6 route add "${NETNS_HOP_NET6[h]}" via "$(netns_routed_ip6 "$((i + 1))" 2)" \
            || netns_die "cannot add an IPv6 route in $ns"
        fi
      done
      ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null \
        || netns_die "cannot turn IPv6 forwarding on in $ns"
    done
  fi
  # Every ICMP error a test provokes is sent (see above): routers and the server.
  for ns in "${NETNS_R[@]}" "$NETNS_S"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 >/dev/null
    netns_ipv6_icmp_unlimited "$ns"
  done
  for pair in "${ups[@]}"; do
    ns=${pair%%:*}; ifc=${pair#*:}
    netns_wait_until 10 "veth carrier on $ifc in $ns" \
      bash -c "ip -n '$ns' -o link show '$ifc' | grep -q 'state UP'" \
      || netns_die "$ifc in $ns did not come up"
  done
}

# netns_setup_routed [--routers K] [--mtu HOP=MTU]... [--http PORT] [--impair HOP [-- IMPAIR_ARGS...]]:
# like netns_setup, with the routed lab (default K=3, every MTU 1500): a fresh prefix, a temp dir,
# the traps (netns_cleanup also removes the routers and the box and stops what runs in them), and
# with --impair `synack impair $NETNS_IF_MC $NETNS_IF_MS IMPAIR_ARGS` started in the box on that hop
# ($NETNS_SYNACK; the netns_impair_* helpers work on it), with --http a python3 http.server on the
# server. Sets what netns_create_routed sets plus NETNS_PREFIX NETNS_TMP NETNS_ROUTERS NETNS_HOPS
# NETNS_HOP_MTU NETNS_IMPAIR_HOP.
netns_setup_routed() {
  netns_require_root
  netns_require_tools ip ss
  netns_routed_args "$@"
  netns_gc
  NETNS_PREFIX=$(netns_new_prefix)
  NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$NETNS_PREFIX.XXXXXX")
  chmod 755 "$NETNS_TMP"
  NETNS_CLEANED=0
  trap 'netns_cleanup' EXIT
  trap 'netns_log "interrupted (SIGINT)"; exit 130' INT
  trap 'netns_log "terminated (SIGTERM)"; exit 143' TERM
  trap 'netns_log "hangup (SIGHUP)"; exit 129' HUP
  netns_create_routed "$NETNS_PREFIX"
  if [ -n "$NETNS_IMPAIR_HOP" ]; then
    netns_impair_start "${NETNS_ROUTED_IMPAIR_ARGS[@]}" || netns_die "synack impair did not start"
  fi
  if [ -n "$NETNS_ROUTED_HTTP" ]; then
    netns_http_server "$NETNS_ROUTED_HTTP" || netns_die "http.server did not start"
  fi
}

# netns_node_resolve NODE: the namespace NODE names: c|client, s|server, m|box, rI or I (router I),
# or a namespace name itself. Fails (status 1, message) for anything else.
netns_node_resolve() {
  local node=$1 i
  case "$node" in
    c|client) echo "$NETNS_C" ;;
    s|server) echo "$NETNS_S" ;;
    m|box) [ -n "$NETNS_M" ] || { netns_log "no box in this lab"; return 1; }; echo "$NETNS_M" ;;
    *)
      i=${node#r}
      if [[ "$i" =~ ^[0-9]+$ ]] && [ -n "${NETNS_R[i]:-}" ]; then echo "${NETNS_R[i]}"
      elif ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$node"; then echo "$node"
      else netns_log "no node '$node' (c, s, m, r1..r$NETNS_ROUTERS or a namespace name)"; return 1
      fi ;;
  esac
}

# netns_fw NODE IPTABLES-ARGS...: iptables inside NODE's namespace only (NODE as for
# netns_node_resolve), e.g. `netns_fw r2 -A FORWARD -p tcp -j REJECT --reject-with
# icmp-net-unreachable`. The rules go with the namespace; the host's firewall is never touched.
# Each command is logged to $NETNS_TMP/fw.log. Returns iptables' status. NETNS_FW_CMD=ip6tables for IPv6.
netns_fw() {
  local node=$1 ns; shift
  ns=$(netns_node_resolve "$node") || return 2
  local cmd=${NETNS_FW_CMD:-iptables}
  [ -z "$NETNS_TMP" ] || echo "$ns: $cmd $*" >>"$NETNS_TMP/fw.log"
  ip netns exec "$ns" "$cmd" "$@"
}

# ---------------------------------------------------------------------------------------------
# Processes, servers and captures inside the namespaces.

# netns_spawn NS LOGFILE CMD...: run CMD in the background inside NS; output to LOGFILE.
# Sets NETNS_LAST_PID (the pid of CMD itself: `ip netns exec` execs it in place).
netns_spawn() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
  NETNS_LAST_PID=$!
  NETNS_PIDS+=("$NETNS_LAST_PID")
}

# netns_wait_listen NS PORT [TIMEOUT_S=10]: wait until a TCP socket listens on PORT inside NS.
netns_listening() { [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]; }
netns_wait_listen() {
  local ns=$1 port=$2 timeout=${3:-10}
  netns_wait_until "$timeout" "a listener on port $port in $ns" netns_listening "$ns" "$port"
}

# netns_http_server [PORT=8080] [NS=peer] [IP]: python3 -m http.server. Without IP it listens on
# :: (dual-stack, bindv6only=0: every IPv4 and IPv6 address of NS, so both $NETNS_IP_S and
# $NETNS_IP6_S), or on $NETNS_IP_S when the lab has no IPv6.
netns_http_server() {
  local port=${1:-8080} ns=${2:-$NETNS_S} ip=${3:-} py
  if [ -z "$ip" ]; then
    if [ "$NETNS_IPV6" = 1 ]; then ip=::; else ip=$NETNS_IP_S; fi
  fi
  py=$(netns_python)
  mkdir -p "$NETNS_TMP/www"
  [ -f "$NETNS_TMP/www/index.html" ] || \
    printf '<html><body>hello from the kernel peer</body></html>\n' >"$NETNS_TMP/www/index.html"
  netns_spawn "$ns" "$NETNS_TMP/http-$port.log" \
    "$py" -u -m http.server "$port" --bind "$ip" --directory "$NETNS_TMP/www"
  netns_wait_listen "$ns" "$port" 15 || { cat "$NETNS_TMP/http-$port.log" >&2; return 1; }
}

# netns_nginx PLAIN_PORT [TLS_PORT CERT KEY]: nginx in the peer namespace serving $NETNS_TMP/www
# (sendfile on, no access log) on PLAIN_PORT, and with TLS on TLS_PORT when given; waits for both.
netns_nginx() {
  local plain=$1 tls=${2:-} cert=${3:-} key=${4:-} conf="$NETNS_TMP/nginx.conf" tls_server=""
  local plain6="" tls6=""
  mkdir -p "$NETNS_TMP/www" "$NETNS_TMP/nginx-body"
  if [ "$NETNS_IPV6" = 1 ] && [ -n "$NETNS_IP6_S" ]; then   # IPv6 too: the peer's IPv6 address
    plain6="listen [$NETNS_IP6_S]:$plain;"
    tls6="listen [$NETNS_IP6_S]:$tls ssl;"
  fi
  [ -z "$tls" ] || tls_server="server { listen $NETNS_IP_S:$tls ssl; $tls6 ssl_certificate $cert; ssl_certificate_key $key; root $NETNS_TMP/www; }"
  cat >"$conf" <<CONF
daemon off;
user root;
worker_processes 1;
pid $NETNS_TMP/nginx.pid;
error_log $NETNS_TMP/nginx-error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $NETNS_TMP/nginx-body;
  default_type application/octet-stream;
  server { listen $NETNS_IP_S:$plain; $plain6 root $NETNS_TMP/www; }
  $tls_server
}
CONF
  netns_spawn "$NETNS_S" "$NETNS_TMP/nginx.log" nginx -c "$conf" -p "$NETNS_TMP"
  { netns_wait_listen "$NETNS_S" "$plain" 15 && { [ -z "$tls" ] || netns_wait_listen "$NETNS_S" "$tls" 15; }; } \
    || { cat "$NETNS_TMP/nginx.log" "$NETNS_TMP/nginx-error.log" 2>/dev/null >&2; return 1; }
}

# netns_close_server [PORT=8081] [NS=peer] [IP]: accepts each connection and closes it at once
# (so the peer's FIN comes first). A tiny python3 server: one process, no fork races.
netns_close_server() {
  local port=${1:-8081} ns=${2:-$NETNS_S} ip=${3:-$NETNS_IP_S} py
  py=$(netns_python)
  netns_spawn "$ns" "$NETNS_TMP/close-$port.log" "$py" -u -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(128)
while True:
    c, _ = s.accept()
    c.close()
' "$ip" "$port"
  netns_wait_listen "$ns" "$port" 15 || { cat "$NETNS_TMP/close-$port.log" >&2; return 1; }
}

# netns_socat_close_server [PORT] [NS] [IP]: the same with socat (fork, EXEC:true).
netns_socat_close_server() {
  local port=${1:-8081} ns=${2:-$NETNS_S} ip=${3:-$NETNS_IP_S}
  netns_spawn "$ns" "$NETNS_TMP/socat-close-$port.log" \
    socat "TCP-LISTEN:$port,bind=$ip,fork,reuseaddr" EXEC:true
  netns_wait_listen "$ns" "$port" 15 || { cat "$NETNS_TMP/socat-close-$port.log" >&2; return 1; }
}

# netns_socat_echo_server [PORT=7] [NS] [IP]: an echo server (socat, fork).
netns_socat_echo_server() {
  local port=${1:-7} ns=${2:-$NETNS_S} ip=${3:-$NETNS_IP_S}
  netns_spawn "$ns" "$NETNS_TMP/socat-echo-$port.log" \
    socat -b 4096 "TCP-LISTEN:$port,bind=$ip,fork,reuseaddr" PIPE
  netns_wait_listen "$ns" "$port" 15 || { cat "$NETNS_TMP/socat-echo-$port.log" >&2; return 1; }
}

# netns_capture_start NAME [FILTER...]: tcpdump on the peer's veth (inside the peer namespace),
# writing $NETNS_TMP/NAME.pcap packet by packet; returns once tcpdump says it is listening.
# NETNS_CAP_NS / NETNS_CAP_IF override where it captures.
netns_capture_start() {
  local name=$1; shift
  local ns=${NETNS_CAP_NS:-$NETNS_S} ifc=${NETNS_CAP_IF:-$NETNS_IF_S}
  local pcap="$NETNS_TMP/$name.pcap" log="$NETNS_TMP/$name.tcpdump.log"
  rm -f "$pcap"
  # -Z root: write the file as root (Debian's tcpdump otherwise drops to user tcpdump, which
  # cannot write into our temp dir).
  netns_spawn "$ns" "$log" tcpdump -Z root -i "$ifc" -nn -U --immediate-mode -w "$pcap" "$@"
  NETNS_CAP_PID[$name]=$NETNS_LAST_PID
  if ! netns_wait_until 15 "tcpdump ($name) to listen on $ifc" grep -q "listening on" "$log"; then
    cat "$log" >&2
    return 1
  fi
}

# netns_capture_stop NAME: let the file settle (no growth for 300 ms, at most 5 s), then stop
# tcpdump with SIGINT and wait for it. The capture stays in $NETNS_TMP/NAME.pcap.
netns_capture_stop() {
  local name=$1 pid=${NETNS_CAP_PID[$1]:-} pcap="$NETNS_TMP/$1.pcap"
  [ -n "$pid" ] || return 0
  local last=-1 size stable=0
  for _ in $(seq 1 100); do
    size=$(stat -c %s "$pcap" 2>/dev/null || echo 0)
    if [ "$size" = "$last" ]; then stable=$((stable + 1)); else stable=0; last=$size; fi
    [ "$stable" -ge 6 ] && break
    sleep 0.05
  done
  kill -INT "$pid" 2>/dev/null || true
  netns_wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "NETNS_CAP_PID[$name]"
  if grep -qE '^[1-9][0-9]* packets? dropped by kernel' "$NETNS_TMP/$name.tcpdump.log" 2>/dev/null; then
    netns_log "warning: tcpdump ($name) dropped packets:"
    grep 'dropped' "$NETNS_TMP/$name.tcpdump.log" >&2
  fi
}

# netns_pcap_text FILE: the capture as text (absolute sequence numbers, epoch timestamps).
netns_pcap_text() { tcpdump -nn -S -tt -r "$1" 2>/dev/null; }

# netns_cleanup: kill everything this shell started in its namespaces and delete them.
# Idempotent; runs from the EXIT trap on every exit path.
netns_cleanup() {
  local rc=$? f pid ns
  [ "$NETNS_CLEANED" = 1 ] && return "$rc"
  NETNS_CLEANED=1
  trap - INT TERM HUP
  for f in "${NETNS_CLEANUP_HOOKS[@]}"; do "$f" || true; done
  for pid in "${NETNS_PIDS[@]}"; do
    if netns_pid_alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for ns in "${NETNS_CREATED[@]}"; do netns_kill_ns_procs "$ns"; done
  for pid in "${NETNS_PIDS[@]}"; do
    if netns_pid_alive "$pid"; then
      netns_wait_exit "$pid" 3 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  for ns in "${NETNS_CREATED[@]}"; do
    ip netns del "$ns" 2>/dev/null || netns_log "could not delete namespace $ns"
  done
  NETNS_CREATED=()
  NETNS_PIDS=()
  if [ -n "$NETNS_TMP" ] && [ -d "$NETNS_TMP" ]; then
    if [ "${NETNS_KEEP:-0}" = 1 ]; then
      netns_log "kept artefacts in $NETNS_TMP"
    else
      rm -rf "$NETNS_TMP"
    fi
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# Command-line use. What `up*` starts runs detached (setsid) and outlives the script; `down NAME`
# stops it and deletes every namespace of the lab.

# netns_cli_http PORT: a detached python3 http.server on the peer/server ($NETNS_S: on :: when the
# lab has IPv6, dual-stack, else on $NETNS_IP_S) serving $NETNS_TMP/www.
netns_cli_http() {
  local port=$1 py bind=$NETNS_IP_S
  [ "$NETNS_IPV6" != 1 ] || bind=::
  py=$(netns_python)
  mkdir -p "$NETNS_TMP/www"
  printf '<html><body>hello from the kernel peer</body></html>\n' >"$NETNS_TMP/www/index.html"
  ip netns exec "$NETNS_S" setsid "$py" -m http.server "$port" --bind "$bind" \
    --directory "$NETNS_TMP/www" >"$NETNS_TMP/http.log" 2>&1 </dev/null &
  netns_wait_listen "$NETNS_S" "$port" 15 || netns_die "http.server did not start"
}

# netns_cli_vars: the addresses of the pair and impaired topologies as shell variables (what a
# script sourcing scripts/netns.sh gets under the same names).
netns_cli_vars() {
  echo "variables: NETNS_IP_C=$NETNS_IP_C NETNS_IP_S=$NETNS_IP_S NETNS_IP_NOBODY=$NETNS_IP_NOBODY"
  [ "$NETNS_IPV6" != 1 ] || \
    echo "           NETNS_IP6_C=$NETNS_IP6_C NETNS_IP6_S=$NETNS_IP6_S NETNS_IP6_NOBODY=$NETNS_IP6_NOBODY (/$NETNS_PLEN6)"
}

# netns_cli_find_synack: NETNS_SYNACK, else this checkout's build/synack, else synack on PATH.
netns_cli_find_synack() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -z "$NETNS_SYNACK" ]; then
    NETNS_SYNACK=$(command -v synack || true)
    [ -x "$here/build/synack" ] && NETNS_SYNACK="$here/build/synack"
  fi
  { [ -n "$NETNS_SYNACK" ] && [ -x "$NETNS_SYNACK" ]; } \
    || netns_die "no synack binary: build it (cmake --build build) or set NETNS_SYNACK"
}

# netns_cli_impair [IMPAIR_ARGS...]: a detached `synack impair imp-c imp-s ARGS` in $NETNS_M;
# its log in $NETNS_TMP/impair.err, its counters in $NETNS_TMP/impair.out.
netns_cli_impair() {
  ip netns exec "$NETNS_M" setsid "$NETNS_SYNACK" impair "$NETNS_IF_MC" "$NETNS_IF_MS" "$@" \
    >"$NETNS_TMP/impair.out" 2>"$NETNS_TMP/impair.err" </dev/null &
  netns_wait_until 10 "synack impair to forward" grep -q forwarding "$NETNS_TMP/impair.err" \
    || { cat "$NETNS_TMP/impair.err" >&2; netns_die "synack impair did not start"; }
}

# netns_lab_namespaces NAME: the namespaces of lab NAME (NAME-c, -m, -s, -f, -r<i>), one a line.
# Reads ip's own directory rather than `ip netns list`, whose output once lacked a namespace that
# existed (a CI run: r1 listed by one call and missing from the next while another test's namespaces
# were being deleted).
netns_lab_namespaces() {
  local name=$1 ns
  for ns in $(ls /var/run/netns 2>/dev/null); do
    if [[ "$ns" == "$name"-* && "${ns#"$name"-}" =~ ^([cmsf]|r[0-9]+)$ ]]; then echo "$ns"; fi
  done
}

# netns_cli_name NAME: check a lab name given on the command line.
netns_cli_name() {
  [ -n "$1" ] || netns_die "missing NAME (see: $0 help)"
  [ "${#1}" -le 20 ] || netns_die "NAME too long (20 characters at most)"
  [[ "$1" =~ ^[A-Za-z0-9_.][A-Za-z0-9_.-]*$ ]] || netns_die "NAME may contain letters, digits, '_', '.', '-'"
}

netns_usage() {
  cat >&2 <<USAGE
usage: $0 up NAME [--http PORT]
       $0 up-impaired NAME [--http PORT] [-- IMPAIR_ARGS...]
       $0 up-routed NAME [--routers K] [--mtu HOP=MTU]... [--http PORT] [--impair HOP [-- IMPAIR_ARGS...]]
       $0 fw NAME NODE IPTABLES_ARGS...     (NODE: c, s, m, r1..rK)
       $0 down NAME
       $0 gc
USAGE
}

netns_main() {
  local cmd=${1:-} name=${2:-}
  if [ "$cmd" != "" ] && [ "$cmd" != help ] && [ "$(id -u)" -ne 0 ]; then
    echo "netns.sh: needs root (ip netns); try: sudo $0 $*" >&2
    exit 2
  fi
  case "$cmd" in
    up)
      netns_cli_name "$name"
      netns_require_root
      NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$name.XXXXXX"); chmod 755 "$NETNS_TMP"
      # On failure half-way, undo what was made.
      trap 'netns_cleanup' EXIT
      netns_create_pair "$name"
      NETNS_C="$name-c"; NETNS_S="$name-s"
      if [ "${3:-}" = "--http" ]; then netns_cli_http "${4:-8080}"; fi
      # Keep it: it is the user's now.
      NETNS_CREATED=(); NETNS_PIDS=(); NETNS_TMP=; trap - EXIT
      echo "client namespace: $name-c  ($NETNS_IF_C $NETNS_IP_C/$NETNS_PLEN${NETNS_IP6_C:+ $NETNS_IP6_C/$NETNS_PLEN6})"
      echo "peer namespace:   $name-s  ($NETNS_IF_S $NETNS_IP_S/$NETNS_PLEN${NETNS_IP6_S:+ $NETNS_IP6_S/$NETNS_PLEN6})"
      netns_cli_vars
      echo "e.g.: ip netns exec $name-c synack ping $NETNS_IP_S -p ${4:-8080}"
      [ -z "$NETNS_IP6_S" ] || echo "      ip netns exec $name-c ping -6 -c 1 $NETNS_IP6_S"
      ;;
    down)
      netns_cli_name "$name"
      netns_require_root
      local ns lab=()
      mapfile -t lab < <(netns_lab_namespaces "$name")
      for ns in "${lab[@]}"; do netns_kill_ns_procs "$ns"; done
      for ns in "${lab[@]}"; do ip netns del "$ns" && echo "deleted $ns"; done
      local d
      for d in "${TMPDIR:-/tmp}/synack-$name".??????; do
        [ -d "$d" ] && rm -rf "$d"
      done
      ;;
    up-impaired)
      netns_cli_name "$name"
      netns_require_root
      shift 2
      local port=
      if [ "${1:-}" = "--http" ]; then port=${2:-8080}; shift 2 || shift $#; fi
      [ "${1:-}" = "--" ] && shift
      netns_cli_find_synack
      NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$name.XXXXXX"); chmod 755 "$NETNS_TMP"
      trap 'netns_cleanup' EXIT
      NETNS_C="$name-c"; NETNS_M="$name-m"; NETNS_S="$name-s"
      netns_create_impaired "$name"
      netns_cli_impair "$@"
      [ -z "$port" ] || netns_cli_http "$port"
      local tmp=$NETNS_TMP
      NETNS_CREATED=(); NETNS_PIDS=(); NETNS_TMP=; trap - EXIT
      echo "client namespace: $name-c  ($NETNS_IF_C $NETNS_IP_C/$NETNS_PLEN${NETNS_IP6_C:+ $NETNS_IP6_C/$NETNS_PLEN6})"
      echo "box namespace:    $name-m  (synack impair $NETNS_IF_MC $NETNS_IF_MS $*)"
      echo "peer namespace:   $name-s  ($NETNS_IF_S $NETNS_IP_S/$NETNS_PLEN${NETNS_IP6_S:+ $NETNS_IP6_S/$NETNS_PLEN6})"
      netns_cli_vars
      echo "box log: $tmp/impair.err, counters: $tmp/impair.out (kill -USR1 \$(ip netns pids $name-m))"
      if [ -n "$port" ]; then
        echo "e.g.: ip netns exec $name-c curl http://$NETNS_IP_S:$port/"
        [ -z "$NETNS_IP6_S" ] || echo "      ip netns exec $name-c curl -g 'http://[$NETNS_IP6_S]:$port/'"
      else
        echo "e.g.: ip netns exec $name-c ping $NETNS_IP_S"
      fi
      ;;
    up-routed)
      netns_cli_name "$name"
      netns_require_root
      shift 2
      netns_routed_args "$@"
      [ -z "$(netns_lab_namespaces "$name")" ] \
        || netns_die "namespaces of a lab '$name' exist already ($0 down $name removes them)"
      [ -z "$NETNS_IMPAIR_HOP" ] || netns_cli_find_synack
      NETNS_PREFIX=$name
      NETNS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/synack-$name.XXXXXX"); chmod 755 "$NETNS_TMP"
      trap 'netns_cleanup' EXIT
      netns_create_routed "$name"
      [ -z "$NETNS_IMPAIR_HOP" ] || netns_cli_impair "${NETNS_ROUTED_IMPAIR_ARGS[@]}"
      [ -z "$NETNS_ROUTED_HTTP" ] || netns_cli_http "$NETNS_ROUTED_HTTP"
      # The lab's variables for the user's scripts (`source` it; the same names the library sets).
      local v
      for v in NETNS_PREFIX NETNS_C NETNS_S NETNS_M NETNS_IP_C NETNS_IP_S NETNS_IP_NOBODY \
               NETNS_ROUTERS NETNS_HOPS NETNS_IMPAIR_HOP NETNS_R NETNS_RTR_IP NETNS_RTR_IP_S \
               NETNS_HOP_NET NETNS_HOP_MTU NETNS_IPV6 NETNS_IP6_C NETNS_IP6_S NETNS_IP6_NOBODY \
               NETNS_PLEN6 NETNS_RTR_IP6 NETNS_RTR_IP6_S NETNS_HOP_NET6 \
               $(compgen -v NETNS_R | grep -E '^NETNS_R[0-9]+$'); do
        declare -p "$v" | sed -E 's/^declare -(-|[a-zA-Z]+) /declare -g\1 /; s/^declare -g- /declare -g /'
      done >"$NETNS_TMP/lab.env"
      local tmp=$NETNS_TMP h l r box
      NETNS_CREATED=(); NETNS_PIDS=(); NETNS_TMP=; trap - EXIT
      local chain=$NETNS_C
      for r in "${NETNS_R[@]}"; do chain+=" -- $r"; done
      echo "routed lab $name: $chain -- $NETNS_S"
      for h in $(seq 1 "$NETNS_HOPS"); do
        l=$((h - 1)); r=$h; box=
        [ "$h" != "$NETNS_IMPAIR_HOP" ] || box="  via box $NETNS_M (synack impair $NETNS_IF_MC $NETNS_IF_MS ${NETNS_ROUTED_IMPAIR_ARGS[*]})"
        printf '  hop %d  %-15s mtu %-5s  %s %s %s  <->  %s %s %s%s\n' "$h" "${NETNS_HOP_NET[h]}" \
          "${NETNS_HOP_MTU[h]}" "$(netns_node_ns "$l")" "$(netns_node_if "$l" s)" "$(netns_routed_ip "$h" 1)" \
          "$(netns_node_ns "$r")" "$(netns_node_if "$r" c)" "$(netns_routed_ip "$h" 2)" "$box"
        [ "$NETNS_IPV6" != 1 ] || printf '         %-15s            %s  <->  %s\n' "${NETNS_HOP_NET6[h]}" \
          "$(netns_routed_ip6 "$h" 1)" "$(netns_routed_ip6 "$h" 2)"
      done
      echo "client $NETNS_IP_C${NETNS_IP6_C:+ $NETNS_IP6_C}, server $NETNS_IP_S${NETNS_IP6_S:+ $NETNS_IP6_S}; variables for scripts: source $tmp/lab.env"
      [ -z "$NETNS_IMPAIR_HOP" ] || \
        echo "box log: $tmp/impair.err, counters: $tmp/impair.out (kill -USR1 \$(ip netns pids $NETNS_M))"
      echo "e.g.: ip netns exec $NETNS_C ping -M do -s 1472 $NETNS_IP_S"
      [ -z "$NETNS_IP6_S" ] || echo "      ip netns exec $NETNS_C ping -6 -M do -s 1452 $NETNS_IP6_S"
      echo "      $0 fw $name r1 -A FORWARD -p tcp -j REJECT --reject-with icmp-host-unreachable"
      [ -z "$NETNS_ROUTED_HTTP" ] || echo "      ip netns exec $NETNS_C curl http://$NETNS_IP_S:$NETNS_ROUTED_HTTP/"
      [ -z "$NETNS_ROUTED_HTTP" ] || [ -z "$NETNS_IP6_S" ] || \
        echo "      ip netns exec $NETNS_C curl -g 'http://[$NETNS_IP6_S]:$NETNS_ROUTED_HTTP/'"
      ;;
    fw)
      netns_cli_name "$name"
      netns_require_root
      [ $# -ge 4 ] || netns_die "usage: $0 fw NAME NODE IPTABLES_ARGS... (NODE: c, s, m, r1..rK)"
      local node=$3 ns i
      shift 3
      NETNS_PREFIX=$name; NETNS_C="$name-c"; NETNS_S="$name-s"; NETNS_R=(); NETNS_ROUTERS=0
      while read -r ns; do
        case "${ns#"$name"-}" in
          m) NETNS_M=$ns ;;
          r*) i=${ns#"$name"-r}; NETNS_R[i]=$ns; [ "$i" -le "$NETNS_ROUTERS" ] || NETNS_ROUTERS=$i ;;
        esac
      done < <(netns_lab_namespaces "$name")
      ns=$(netns_node_resolve "$node") || exit 2
      netns_lab_namespaces "$name" | grep -qxF -- "$ns" || netns_die "$ns is not a namespace of lab $name"
      ip netns exec "$ns" iptables "$@"
      ;;
    gc)
      netns_require_root
      netns_gc
      ;;
    help|-h|--help)
      netns_usage
      ;;
    *)
      netns_usage
      exit 2
      ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  netns_main "$@"
fi
