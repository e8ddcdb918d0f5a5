#!/usr/bin/env bash
# Several downloads at once in ONE `synack get` process (issue 12): one stack, one engine, one
# coroutine per download. Eight files of different random content and sizes (1-20 MiB, odd byte
# counts) in nginx's web root, two of them with the same name in different directories (so -O's
# collision suffix is exercised); all eight fetched at once with `synack get URL... -O DIR`, with
# the veth's GRO/GSO/TSO on and off, then over HTTPS (nginx, --cacert). Every file must be
# byte-exact; a wrong one is searched for in every other file so foreign bytes are named. Also:
# usage errors (-o with several URLs, several URLs without -O, URLs on two interfaces), one 404 among good URLs (exit 1,
# the others still complete), and --parallel 2.
# Runs over IPv4 and, as integration.test_get_parallel.ipv6, over IPv6 (it_family in lib.sh).
#
# it-families: 4 6
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=get_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/get_lib.sh"
it_init "$1"
netns_require_tools nginx openssl sha256sum ethtool cmp

# Sizes in KiB (plus an odd number of bytes each); ASan builds move an eighth of it.
SIZES_KIB=(1024 20480 3072 12288 5120 16384 7168 9216)
RUN_TIMEOUT=240
if [ "${SYNACK_SANITIZED:-0}" = 1 ]; then
  SIZES_KIB=(128 2560 384 1536 640 2048 896 1152)
  RUN_TIMEOUT=480
fi
WWW="$NETNS_TMP/www"
PATHS=(f0.bin f1.bin f2.bin f3.bin f4.bin f5.bin a/same.bin b/same.bin)
# What -O must name each of them (in argument order): the second same.bin gets a suffix.
NAMES=(f0.bin f1.bin f2.bin f3.bin f4.bin f5.bin same.bin same.bin.1)

offloads() {  # offloads on|off: GRO/GSO/TSO on both ends of the veth
  ip netns exec "$NETNS_C" ethtool -K "$NETNS_IF_C" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  ip netns exec "$NETNS_S" ethtool -K "$NETNS_IF_S" gro "$1" gso "$1" tso "$1" >/dev/null 2>&1 || true
  echo "   offloads $1: $(ip netns exec "$NETNS_S" ethtool -k "$NETNS_IF_S" 2>/dev/null \
    | grep -E '^(generic-receive-offload|tcp-segmentation-offload):' | tr -s ' \n' ' ')"
}

# urls SCHEME PORT: the eight URLs.
urls() {
  local p
  for p in "${PATHS[@]}"; do printf '%s://%s/%s\n' "$1" "$(it_hp "$IT_IP_S" "$2")" "$p"; done
}

# check_all LABEL DIR: every downloaded file byte-exact; a wrong one is located in the sources.
check_all() {
  local label=$1 dir=$2 i bad=0
  for i in "${!PATHS[@]}"; do
    local got="$dir/${NAMES[$i]}" want="$WWW/${PATHS[$i]}"
    [ -f "$got" ] || { echo "   $label: ${NAMES[$i]} missing"; bad=1; continue; }
    cmp -s "$got" "$want" && continue
    bad=1
    echo "   $label: ${NAMES[$i]} differs from ${PATHS[$i]}: $(cmp "$got" "$want" 2>&1 | head -n1)"
    python3 - "$got" "$want" "$WWW" "${PATHS[@]}" <<'PY' || true
import sys
got, want, www, paths = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4:]
off = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), min(len(got), len(want)))
print(f"     got {len(got)} bytes, want {len(want)}; first difference at {off}")
probe = got[off:off + 64]
for p in paths:
    src = open(f"{www}/{p}", "rb").read()
    at = src.find(probe) if len(probe) == 64 else -1
    if at >= 0 and f"{www}/{p}" != sys.argv[2]:
        print(f"     FOREIGN bytes: the 64 bytes at {off} are {p}'s bytes at offset {at}")
PY
  done
  [ "$bad" = 0 ] || fail "$label: not every file is byte-exact"
  # Distinct sources, each file equal to its own: no file holds another's bytes. Belt and braces:
  local sums
  sums=$(for i in "${!NAMES[@]}"; do sha256sum <"$dir/${NAMES[$i]}"; done | sort | uniq -d)
  [ -z "$sums" ] || fail "$label: two downloaded files are identical"
  ok "$label: ${#PATHS[@]} files byte-exact, each its own"
}

# parallel_run NAME SCHEME PORT [ARGS...]: all eight URLs in one synack get; exit 0; all exact.
parallel_run() {
  local name=$1 scheme=$2 port=$3; shift 3
  local dir="$NETNS_TMP/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  local list
  mapfile -t list < <(urls "$scheme" "$port")
  it_synack "$name" "$RUN_TIMEOUT" get "${list[@]}" -O "$dir" "$@"
  [ "$IT_RC" = 0 ] || { cat "$IT_ERR"; fail "$name: synack get exited $IT_RC"; }
  # One status line and one timing line per URL, each prefixed by it, and the summary.
  local u
  for u in "${list[@]}"; do
    grep -qF "synack get: $u: HTTP/1.1 200" "$IT_ERR" || { cat "$IT_ERR"; fail "$name: no status line for $u"; }
    grep -qF "synack get: $u: handshake" "$IT_ERR" || { cat "$IT_ERR"; fail "$name: no timing line for $u"; }
  done
  grep -qF "synack get: ${#list[@]} of ${#list[@]} downloads complete" "$IT_ERR" \
    || { cat "$IT_ERR"; fail "$name: no summary line"; }
  # One process, one engine: every connection from the same source address, different ports.
  local ports
  ports=$(grep -oE 'connected ([0-9.]+|\[[0-9a-f:]+\]):[0-9]+' "$IT_ERR" | sort -u | wc -l)
  [ "$ports" = "${#list[@]}" ] || { cat "$IT_ERR"; fail "$name: want ${#list[@]} distinct connections, saw $ports"; }
  # Concurrent, not one after another: several connections were up before the first one finished.
  local overlap
  overlap=$(awk '/: handshake [0-9.]* ms/ {exit} /: connected / {n++} END {print n + 0}' "$IT_ERR")
  [ "$overlap" -ge 2 ] || { cat "$IT_ERR"; fail "$name: the downloads did not overlap ($overlap connected before the first finished)"; }
  check_all "$name" "$dir"
  local retx
  retx=$(grep -o '[0-9]* retransmits' "$IT_ERR" | awk '{s += $1} END {print s + 0}')
  echo "   $name: $(du -sm "$dir" | cut -f1) MiB in ${#list[@]} downloads, $overlap connected before the first finished, $retx retransmits in all"
  rm -rf "$dir"
}

it_section "peers"
mkdir -p "$WWW/a" "$WWW/b"
for i in "${!PATHS[@]}"; do
  head -c $((SIZES_KIB[i] * 1024 + 1237 * (i + 1))) /dev/urandom >"$WWW/${PATHS[$i]}"
done
get_make_cert
get_nginx 8081 8443
ok "nginx on 8081 (http) and 8443 (https); ${#PATHS[@]} files of $(du -sm "$WWW" | cut -f1) MiB in all"

it_section "usage"
it_synack two_with_o 30 get "http://$(it_hp "$IT_IP_S" 8081)/f0.bin" "http://$(it_hp "$IT_IP_S" 8081)/f1.bin" -o "$NETNS_TMP/x"
[ "$IT_RC" = 2 ] && grep -q -- "-o FILE takes one URL" "$IT_ERR" || { cat "$IT_ERR"; fail "-o with two URLs must exit 2 (got $IT_RC)"; }
it_synack two_no_dir 30 get "http://$(it_hp "$IT_IP_S" 8081)/f0.bin" "http://$(it_hp "$IT_IP_S" 8081)/f1.bin"
[ "$IT_RC" = 2 ] && grep -q -- "-O DIR" "$IT_ERR" || { cat "$IT_ERR"; fail "several URLs without -O must exit 2 (got $IT_RC)"; }
[ ! -e "$NETNS_TMP/x" ] || fail "a usage error must not write anything"
ok "-o with several URLs, several URLs without -O: exit 2 with a message"
# A second interface in synack's namespace (a veth pair of its own, gone with the namespace): URLs
# routed out of different interfaces cannot share one stack.
# (Over IPv6: fd00:200::1/64 on it, nodad so the address is usable at once. The URL names its port:
# a bracketed URL without one is misparsed by synack (test_get_clean's IPv6 twin checks that).)
if [ "$IT_FAMILY" = 6 ]; then GX_ADDR="fd00:200::1/64 nodad" GX_URL="http://[fd00:200::2]:80/x"
else GX_ADDR="10.200.0.1/24" GX_URL="http://10.200.0.2/x"; fi
# shellcheck disable=SC2086  # GX_ADDR: an address and its flags
ip netns exec "$NETNS_C" ip link add sk-gx type veth peer name sk-gy \
  && ip netns exec "$NETNS_C" ip addr add $GX_ADDR dev sk-gx \
  && ip netns exec "$NETNS_C" ip link set sk-gx up && ip netns exec "$NETNS_C" ip link set sk-gy up \
  || fail "could not add a second interface"
it_synack two_ifaces 30 get "http://$(it_hp "$IT_IP_S" 8081)/f0.bin" "$GX_URL" -O "$NETNS_TMP"
[ "$IT_RC" = 2 ] && grep -q "same interface" "$IT_ERR" || { cat "$IT_ERR"; fail "URLs on two interfaces must exit 2 (got $IT_RC)"; }
ok "URLs routed out of two interfaces: exit 2, '$(grep -o 'must be reached through the same interface' "$IT_ERR")'"

it_section "offloads off (the default topology)"
offloads off
parallel_run par_off http 8081

it_section "offloads on"
offloads on
parallel_run par_on http 8081

it_section "https, offloads off"
offloads off
parallel_run par_tls https 8443 --cacert "$NETNS_TMP/tls/cert.pem"

it_section "one 404 among good URLs; --parallel 2"
dir="$NETNS_TMP/mixed" && mkdir -p "$dir"
it_synack mixed "$RUN_TIMEOUT" get "http://$(it_hp "$IT_IP_S" 8081)/f0.bin" "http://$(it_hp "$IT_IP_S" 8081)/missing" \
  "http://$(it_hp "$IT_IP_S" 8081)/f2.bin" -O "$dir" --parallel 2
[ "$IT_RC" = 1 ] || { cat "$IT_ERR"; fail "a 404 among several must exit 1 (got $IT_RC)"; }
grep -qF "synack get: http://$(it_hp "$IT_IP_S" 8081)/missing: HTTP/1.1 404" "$IT_ERR" || { cat "$IT_ERR"; fail "no prefixed 404 line"; }
grep -qF "2 of 3 downloads complete" "$IT_ERR" || { cat "$IT_ERR"; fail "no '2 of 3' summary"; }
cmp -s "$dir/f0.bin" "$WWW/f0.bin" && cmp -s "$dir/f2.bin" "$WWW/f2.bin" || { cat "$IT_ERR"; fail "the good downloads next to a 404 must complete"; }
ok "404 among three (--parallel 2): exit 1, the other two byte-exact"

echo "PASS $(basename "$0") ($(it_elapsed))"
