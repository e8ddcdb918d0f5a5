#!/usr/bin/env bash
# Bulk throughput over one connection: synack's TCP (`synack get`) against the kernel's (`curl`),
# downloading the same file from the same nginx over the same veth pair, in one run.
#
#   sudo bench/bulk.sh [--size-mb N] [--runs N] [--offloads keep|off] [--json] [--synack PATH]
#
# Builds its own throw-away namespace pair (scripts/netns.sh; nothing on the host is touched):
# nginx serves an N MiB file (default 1024) in the peer namespace; each run downloads it once with
# `synack get -o /dev/null` and once with `curl -o /dev/null`, alternating; the best run of each
# is reported with the ratio synack/kernel. The veth pair keeps its default offloads (--offloads
# keep, the default: what a user of the machine has; the sender's TSO super-segments of up to
# 64 KiB cross the veth whole and reach curl's socket and synack's ring alike); --offloads off
# turns GRO/GSO/TSO off on both ends (one MSS-sized segment per frame for both receivers).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MB=1024
RUNS=1
JSON=0
OFFLOADS=${NETNS_OFFLOADS:-keep}
SYNACK=${SYNACK:-$here/build/synack}
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) SIZE_MB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --offloads) OFFLOADS=$2; shift 2 ;;
    --json) JSON=1; shift ;;
    --synack) SYNACK=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bulk.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "bulk.sh: needs root (network namespaces); try: sudo $0" >&2; exit 77; }
[ -x "$SYNACK" ] || { echo "bulk.sh: no synack binary at $SYNACK (build first, or pass --synack)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "bulk.sh: nginx not found (scripts/setup-deps.sh installs it)" >&2; exit 2; }

case "$OFFLOADS" in keep|off) ;; *) echo "bulk.sh: --offloads keep|off, not '$OFFLOADS'" >&2; exit 2 ;; esac
export NETNS_OFFLOADS=$OFFLOADS
# shellcheck source=../scripts/netns.sh
source "$here/scripts/netns.sh"
netns_setup

mkdir -p "$NETNS_TMP/www"
truncate -s "$((SIZE_MB * 1024 * 1024))" "$NETNS_TMP/www/blob.bin"   # sparse: no disk I/O either way
netns_nginx 8080 || { echo "bulk.sh: nginx did not start" >&2; exit 1; }
url="http://$NETNS_IP_S:8080/blob.bin"
bytes=$((SIZE_MB * 1024 * 1024))

now_ns() { date +%s%N; }
best_synack=0
best_kernel=0
for ((r = 1; r <= RUNS; r++)); do
  t0=$(now_ns)
  ip netns exec "$NETNS_C" "$SYNACK" get "$url" -o /dev/null 2>"$NETNS_TMP/get.err" \
    || { cat "$NETNS_TMP/get.err" >&2; echo "bulk.sh: synack get failed" >&2; exit 1; }
  t1=$(now_ns)
  got=$(grep -o '[0-9]* bytes,' "$NETNS_TMP/get.err" | tail -n1 | tr -dc 0-9)
  [ "$got" = "$bytes" ] || { cat "$NETNS_TMP/get.err" >&2; echo "bulk.sh: synack got $got of $bytes bytes" >&2; exit 1; }
  s=$(python3 -c "print($bytes * 8 / (($t1 - $t0) / 1e9) / 1e6)")
  t0=$(now_ns)
  got=$(ip netns exec "$NETNS_C" curl -sS -o /dev/null -w '%{size_download}' "$url")
  t1=$(now_ns)
  [ "$got" = "$bytes" ] || { echo "bulk.sh: curl got $got of $bytes bytes" >&2; exit 1; }
  k=$(python3 -c "print($bytes * 8 / (($t1 - $t0) / 1e9) / 1e6)")
  best_synack=$(python3 -c "print(max($best_synack, $s))")
  best_kernel=$(python3 -c "print(max($best_kernel, $k))")
  [ "$JSON" = 1 ] || printf 'run %d: synack %.0f Mbit/s, kernel %.0f Mbit/s\n' "$r" "$s" "$k"
done
ratio=$(python3 -c "print($best_synack / $best_kernel if $best_kernel > 0 else 0)")
if [ "$JSON" = 1 ]; then
  printf '{"metrics":[{"name":"bulk_throughput_one_connection","synack":%.1f,"kernel":%.1f,"ratio":%.3f,"unit":"Mbit/s","size_mib":%d,"runs":%d,"offloads":"%s"}]}\n' \
    "$best_synack" "$best_kernel" "$ratio" "$SIZE_MB" "$RUNS" "$OFFLOADS"
else
  printf '\nbulk download of %d MiB over one connection (best of %d, wall time of the whole command, offloads %s):\n' "$SIZE_MB" "$RUNS" "$OFFLOADS"
  printf '  %-8s %10.0f Mbit/s\n  %-8s %10.0f Mbit/s\n  ratio synack/kernel: %.3f\n' \
    synack "$best_synack" kernel "$best_kernel" "$ratio"
fi
