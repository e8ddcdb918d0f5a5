#!/usr/bin/env bash
# Installs everything synack needs to build, test and demo, from Debian 12's packages.
# Idempotent: packages already present are left alone. Needs root.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-deps.sh: must run as root (apt-get); try: sudo $0" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive

# Boost 1.81 conflicts with the default 1.74 -dev packages; remove those first if present.
old_boost=$(dpkg-query -W -f='${Package} ${Status}\n' 'libboost*1.74*-dev' 'libboost-dev' 'libboost-all-dev' \
  'libboost-test-dev' 'libboost-system-dev' 2>/dev/null | awk '$NF=="installed"{print $1}' || true)
if [ -n "$old_boost" ]; then
  echo "setup-deps.sh: removing Boost 1.74 dev packages that conflict with 1.81: $old_boost" >&2
  # shellcheck disable=SC2086
  apt-get remove -y $old_boost
fi

pkgs=(
  build-essential g++ cmake pkg-config
  # clang 14 with its sanitizer/libFuzzer runtimes and llvm-symbolizer (readable ASan/UBSan stacks):
  # scripts/test.sh's sanitizer stage and scripts/fuzz.sh.
  clang libclang-rt-14-dev llvm
  libmnl-dev
  libboost1.81-dev libboost-test1.81-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev libpcap-dev
  # zlib: bench --hdr (HdrHistogram's deflated histogram encoding).
  zlib1g-dev
  iptables iproute2 procps kmod ethtool
  # ping -M do / -t in the routed lab's test (tests/integration/test_lab_routed.sh).
  iputils-ping
  tcpdump tshark gnuplot-nox
  python3 python3-scapy socat curl hping3
  libssl-dev openssl nginx-light
  # HTTP load against `synack serve --http` (tests/integration/test_serve_http_load.sh).
  apache2-utils wrk
  # bench/: Google Benchmark micro-benchmarks (bench/micro) and callgrind (bench/callgrind_core.sh).
  libbenchmark-dev valgrind
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-deps.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup-deps.sh: all dependencies present" >&2
