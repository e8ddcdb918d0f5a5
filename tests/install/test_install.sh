#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then consumers built against that prefix only (never
# the build tree):
#   - tests/install/consumer with find_package(synack REQUIRED COMPONENTS asio): its main.cpp
#     against synack::synack, and every examples/*.cpp of the source tree against synack::asio;
#   - main.cpp and examples/callback_client.cpp with pkg-config (synack, synack-asio).
# Every example must start: run without arguments it prints its usage and exits 2. As root, the
# client examples also run for real, from a network namespace against a kernel HTTP server in its
# peer (scripts/netns.sh), and must print the page; without root that part is skipped.
# Also checks the binary and the man page are installed.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -Eeuo pipefail
build=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/synack-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
[ -x "$tmp/prefix/bin/synack" ] || fail "bin/synack not installed"
"$tmp/prefix/bin/synack" --version | grep -q '^synack ' || fail "installed synack --version"
man1=$(find "$tmp/prefix" -path '*/man1/synack.1' | head -n 1)
[ -n "$man1" ] || fail "man page not installed"
grep -q '^.SH SUBCOMMANDS' "$man1" && grep -q '^.SS synack ping' "$man1" || fail "man page lacks the subcommands"
if command -v man >/dev/null 2>&1; then
  MANWIDTH=100 man -l "$man1" 2>"$tmp/man.err" | grep -q 'synack ping' || { cat "$tmp/man.err"; fail "man -l cannot render it"; }
fi
[ -f "$tmp/prefix/include/synack/engine/engine.hpp" ] || fail "headers not installed"
[ -f "$tmp/prefix/include/synack/asio.hpp" ] || fail "Asio headers not installed"
for f in libsynack_engine.a libsynack_asio.a cmake/synack/synackAsioTargets.cmake pkgconfig/synack-asio.pc; do
  [ -n "$(find "$tmp/prefix" -path "*/$f" | head -n 1)" ] || fail "$f not installed"
done
echo "ok: installed binary, man page, headers, libraries (stack and Asio front end)"

# A sanitized build (SYNACK_SANITIZE) sets these: the consumer links instrumented libraries, so it
# needs the same compiler and -fsanitize flags.
cxx=${SYNACK_CONSUMER_CXX:-g++}
cxxflags=${SYNACK_CONSUMER_FLAGS:-}
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DSYNACK_EXAMPLES_DIR="$src/examples" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$cxxflags" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; fail "consumer: find_package(synack COMPONENTS asio)"; }
# Nothing of the build tree may leak into the consumer: it sees the prefix only.
if grep -rqF -- "$(cd "$build" && pwd)" "$tmp/consumer/CMakeCache.txt" "$tmp/consumer/CMakeFiles"/*/*.make 2>/dev/null; then
  fail "consumer refers to the build tree $build"
fi
cmake --build "$tmp/consumer" -j2 >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build (CMake)"; }
"$tmp/consumer/consumer" || fail "consumer (CMake) did not run"
echo "ok: find_package(synack) consumer"

# Every example (examples/*.cpp) starts: without arguments, its usage on stderr and exit 2.
# check_usage EXE
check_usage() {
  local exe=$1 rc=0
  timeout 20 "$exe" >"$tmp/usage.out" 2>"$tmp/usage.err" || rc=$?
  if [ "$rc" -ne 2 ] || ! grep -qi 'usage' "$tmp/usage.err"; then
    cat "$tmp/usage.out" "$tmp/usage.err"
    fail "$(basename "$exe") without arguments: exit $rc (want 2 and its usage on stderr)"
  fi
}
examples=()
for f in "$src"/examples/*.cpp; do
  name=$(basename "$f" .cpp)
  exe="$tmp/consumer/example_$name"
  [ -x "$exe" ] || fail "example $name not built by the consumer"
  check_usage "$exe"
  examples+=("$name")
done
[ "${#examples[@]}" -gt 0 ] || fail "no examples in $src/examples"
echo "ok: examples built against synack::asio and started: ${examples[*]}"

pcdir=$(dirname "$(find "$tmp/prefix" -name synack.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs synack) || fail "pkg-config synack"
# shellcheck disable=SC2086
"$cxx" -O1 $cxxflags "$src/tests/install/consumer/main.cpp" $flags -o "$tmp/consumer-pc" 2>"$tmp/pc.log" \
  || { cat "$tmp/pc.log"; fail "consumer build (pkg-config: $flags)"; }
"$tmp/consumer-pc" || fail "consumer (pkg-config) did not run"
echo "ok: pkg-config consumer ($flags)"
aflags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs synack-asio) || fail "pkg-config synack-asio"
# shellcheck disable=SC2086
"$cxx" -O1 $cxxflags "$src/examples/callback_client.cpp" $aflags -o "$tmp/callback-pc" 2>"$tmp/pc-asio.log" \
  || { cat "$tmp/pc-asio.log"; fail "example build (pkg-config: $aflags)"; }
check_usage "$tmp/callback-pc"
echo "ok: pkg-config Asio example ($aflags)"

# As root: the client examples fetch a page from a kernel HTTP server in a namespace pair.
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: not root: the examples were not run against a peer"
else
  # shellcheck source=../../scripts/netns.sh
  source "$src/scripts/netns.sh"
  netns_require_tools ip ss iptables python3 timeout
  netns_setup
  rm_tmp() { rm -rf "$tmp"; }
  NETNS_CLEANUP_HOOKS+=(rm_tmp)
  netns_http_server 8080
  # run_example NAME ARGS...: in synack's namespace; must exit 0 and print the page.
  run_example() {
    local name=$1 rc=0
    shift
    timeout 30 ip netns exec "$NETNS_C" "$tmp/consumer/example_$name" "$@" \
      >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q 'hello from the kernel peer' "$tmp/$name.out"; then
      echo "--- stdout"; cat "$tmp/$name.out"; echo "--- stderr"; cat "$tmp/$name.err"
      fail "example $name $*: exit $rc, want 0 and the page"
    fi
    echo "ok: example $name $* fetched the page ($(head -n 1 "$tmp/$name.out" | tr -d '\r'))"
  }
  run_example callback_client "$NETNS_IP_S" 8080 /index.html
  run_example coro_client "$NETNS_IP_S" 8080 5000
fi
echo PASS
