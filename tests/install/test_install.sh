#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then a tiny consumer built against it twice: with
# find_package(synack) and with pkg-config. Also checks the binary and the man page are installed.
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
echo "ok: installed binary, man page, headers"

# A sanitized build (SYNACK_SANITIZE) sets these: the consumer links instrumented libraries, so it
# needs the same compiler and -fsanitize flags.
cxx=${SYNACK_CONSUMER_CXX:-g++}
cxxflags=${SYNACK_CONSUMER_FLAGS:-}
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$cxxflags" \
  -DCMAKE_BUILD_TYPE=Release >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log"; fail "consumer: find_package(synack)"; }
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "consumer build (CMake)"; }
"$tmp/consumer/consumer" || fail "consumer (CMake) did not run"
echo "ok: find_package(synack) consumer"

pcdir=$(dirname "$(find "$tmp/prefix" -name synack.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs synack) || fail "pkg-config synack"
# shellcheck disable=SC2086
"$cxx" -O1 $cxxflags "$src/tests/install/consumer/main.cpp" $flags -o "$tmp/consumer-pc" 2>"$tmp/pc.log" \
  || { cat "$tmp/pc.log"; fail "consumer build (pkg-config: $flags)"; }
"$tmp/consumer-pc" || fail "consumer (pkg-config) did not run"
echo "ok: pkg-config consumer ($flags)"
echo PASS
