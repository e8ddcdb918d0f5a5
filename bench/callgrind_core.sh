#!/usr/bin/env bash
# Instructions per handshake + close in the TCP core, counted by callgrind.
#
#   bench/callgrind_core.sh [BUILD_DIR]        (default: build)
#
# Runs BUILD_DIR/core_handshake (bench/core_handshake.cpp: one tcp::connection through N active-open
# lifecycles against pre-built peer segments) under valgrind --tool=callgrind for two N. The count
# is the inclusive cost of the tcp::connection calls the driver makes (connect, on_segment,
# on_timer, close, poll_transmit, poll_event, next_deadline, current_state: each through a
# never-inlined wrapper in bench/lifecycle.hpp, with everything it calls: the ISN's SipHash
# included), so the driver's own loop and the peer are not counted; the difference
# between the two runs divided by the difference of N cancels the first lifecycle's cold costs.
# Prints one JSON line:
#   {"name":"core_instructions_per_handshake_close","synack":X,"kernel":null,"ratio":null,"unit":"instructions"}
# (bench/run.sh reads it) and, on stderr, the whole program's instructions per lifecycle (driver
# included) for comparison. Environment: N1, N2 (default 1000, 2000); KEEP=dir keeps the callgrind
# output files there (callgrind_annotate FILE shows where the instructions go).
# Exit 77 (skip) if valgrind or the driver is missing.
set -euo pipefail

build=${1:-build}
n1=${N1:-1000}
n2=${N2:-2000}
driver=$build/core_handshake
[ -x "$driver" ] || driver=$build/bench/core_handshake
if [ ! -x "$driver" ]; then
  echo "callgrind_core.sh: no core_handshake in $build (cmake --build $build --target core_handshake)" >&2
  exit 77
fi
if ! command -v valgrind >/dev/null; then
  echo "callgrind_core.sh: valgrind not installed (apt-get install valgrind)" >&2
  exit 77
fi

out=${KEEP:-$(mktemp -d)}
mkdir -p "$out"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$out"' EXIT

run() {  # N: callgrind the driver, print "<core instructions> <program instructions>"
  local f=$out/callgrind.out.$1
  valgrind --tool=callgrind --callgrind-out-file="$f" "$driver" "$1" >/dev/null 2>"$out/valgrind.$1.log" || {
    cat "$out/valgrind.$1.log" >&2
    exit 1
  }
  local program core
  program=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
  # The calls from run_once() into the core (the bench::core:: wrappers), inclusive of their callees (every block of
  # run_once: callgrind splits a function by the source file its inlined lines came from). All
  # of the output is read: an early exit would fail the pipe.
  core=$(callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$f" 2>/dev/null | awk '
    /^ *[0-9,]+ .*\* / { inblock = /lifecycle_driver::run_once/; next }
    /^ *$/ { inblock = 0 }
    inblock && /> .*synack::bench::core::/ { v = $1; gsub(",", "", v); sum += v }
    END { printf "%d\n", sum }')
  if [ "$core" -eq 0 ]; then
    echo "callgrind_core.sh: found no core:: calls under run_once() in $f" >&2
    exit 1
  fi
  echo "$core $program"
}

read -r c1 p1 < <(run "$n1")
read -r c2 p2 < <(run "$n2")
per() { echo $(( ($2 - $1 + (n2 - n1) / 2) / (n2 - n1) )); }
echo "callgrind_core.sh: whole program $(per "$p1" "$p2") instructions per lifecycle (driver included)" >&2
printf '{"name":"core_instructions_per_handshake_close","synack":%d,"kernel":null,"ratio":null,"unit":"instructions"}\n' "$(per "$c1" "$c2")"
