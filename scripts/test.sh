#!/usr/bin/env bash
# Installs the dependencies, builds synack and runs every test: the unit/simulation tests and the
# integration tests (tests/integration/test_*.sh, which build their own network namespaces and
# need root: without it they are reported as skipped).
#
#   ./scripts/test.sh            # everything (as root; a non-root user prefixes sudo)
#   ./scripts/test.sh -L unit    # extra arguments go to ctest (e.g. -L integration, -R close)
#
# Two stages:
#   1. BUILD_DIR (default build), BUILD_TYPE (default Release, the README's plain build), the
#      default compiler (gcc): the whole tree as users build it (-Werror; libraries, tool, unit
#      tests, examples, bench: g++ -O3 has diagnostics of its own, e.g. -Wrestrict, that the clang
#      stage never sees), and every test that runs the binary users run: the integration tests
#      (namespaces, kernel peers, against the uninstrumented synack), install (which builds and
#      runs the examples against the installed package), the bench smokes (callgrind, Google
#      Benchmark, the performance table against the kernel). With SANITIZE=0 it runs the unit
#      tests too (the whole suite).
#   2. the sanitizer stage (SANITIZE=0 skips it): unit, simulation, integration and fuzz tests
#      again, instrumented (install and bench ran in stage 1): SANITIZE_BUILD_DIR (default build-sanitize)
#      built with clang and -DSYNACK_FUZZ=ON, i.e. everything instrumented with ASan + UBSan
#      (-fno-sanitize-recover=all) plus the libFuzzer targets, whose short runs over the kept
#      corpus (tests/fuzz/corpus) join the suite as fuzz.frame / fuzz.connection. One clang build
#      serves both the sanitized suite and the fuzzers: cheaper than a gcc -DSYNACK_SANITIZE=ON
#      build plus a separate clang fuzz build (measured on the heaviest file, src/tools/get.cpp:
#      clang+ASan/UBSan 66 s CPU, g++ with the same sanitizers 157 s, plain g++ 42 s). Without
#      clang++ the stage falls back to that gcc build, fuzzers left out. Every process the tests
#      start inherits ASAN_OPTIONS/UBSAN_OPTIONS that abort on the first finding (leaks included)
#      and write the report to SANITIZE_BUILD_DIR/sanitizer-reports/; any report there fails the
#      stage, even one from a synack that a test ran in the background and never checked.
# Environment: JOBS (default nproc). Exits non-zero if a build or any test of either stage fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-$(nproc)}

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup-deps.sh
  # Namespaces left behind by an earlier run that was killed (only our own naming pattern).
  bash scripts/netns.sh gc || true
else
  echo "test.sh: not root: skipping scripts/setup-deps.sh; integration tests will be skipped" \
       "(run: sudo $0)" >&2
fi

# Stage 1 always builds the whole tree (so CI builds exactly what the README's plain build
# does) and runs every test of the uninstrumented product; the unit tests only when there is no
# sanitizer stage to run them (each build of the whole tree costs ~6-8 minutes on two cores).
stage1_cmake=(-DSYNACK_UNIT_TESTS=ON -DSYNACK_EXAMPLES=ON) stage1_ctest=()
if [ "${SANITIZE:-1}" != 0 ]; then
  stage1_ctest=(-LE 'unit')
fi
echo "== configure ($BUILD_TYPE, $BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${stage1_cmake[@]}"
echo "== build (-j$JOBS)"
t0=$SECONDS
cmake --build "$BUILD_DIR" -j"$JOBS"
echo "== build: $((SECONDS - t0)) s"

echo "== test ${stage1_ctest[*]}"
# Unit tests run in parallel; integration tests are RUN_SERIAL (CTest runs them one at a time).
rc=0
t0=$SECONDS
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" "${stage1_ctest[@]}" "$@" || rc=$?
echo "== test: $((SECONDS - t0)) s"
if [ "$rc" -ne 0 ]; then
  echo "test.sh: some tests failed (ctest exit $rc)" >&2
fi

if [ "${SANITIZE:-1}" != 0 ]; then
  SAN_DIR=${SANITIZE_BUILD_DIR:-build-sanitize}
  if command -v clang++ >/dev/null; then
    echo "== sanitizer stage: configure ($SAN_DIR, clang, ASan + UBSan + libFuzzer targets)"
    CXX=clang++ cmake -S . -B "$SAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNACK_FUZZ=ON
  else
    echo "== sanitizer stage: configure ($SAN_DIR, no clang++: gcc, ASan + UBSan, no fuzzers)"
    cmake -S . -B "$SAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNACK_SANITIZE=ON
  fi
  t0=$SECONDS
  cmake --build "$SAN_DIR" -j"$JOBS"
  echo "== sanitizer stage: build $((SECONDS - t0)) s"
  reports="$(cd "$SAN_DIR" && pwd)/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  san_common="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/report:log_exe_name=1"
  export ASAN_OPTIONS="$san_common:detect_leaks=1:check_initialization_order=1:strict_init_order=1"
  export UBSAN_OPTIONS="$san_common"
  san_rc=0
  t0=$SECONDS
  # IT_INSTRUMENTED: integration tests may move less data here (each says so in its header).
  IT_INSTRUMENTED=1 ctest --test-dir "$SAN_DIR" --output-on-failure -j"$JOBS" -LE 'install|bench' "$@" || san_rc=$?
  echo "== sanitizer stage: test $((SECONDS - t0)) s"
  unset ASAN_OPTIONS UBSAN_OPTIONS
  mapfile -t found < <(find "$reports" -type f | sort)
  if [ "${#found[@]}" -gt 0 ]; then
    echo "test.sh: ${#found[@]} sanitizer report(s) in $reports (report.<program>.<pid>):" >&2
    for f in "${found[@]}"; do
      echo "==== $(basename "$f")"
      head -n 80 "$f"
    done
    san_rc=1
  fi
  if [ "$san_rc" -ne 0 ]; then
    echo "test.sh: sanitizer stage failed (ctest exit or reports above)" >&2
    [ "$rc" -ne 0 ] || rc=$san_rc
  else
    echo "test.sh: sanitizer stage clean: no ASan/UBSan/LeakSanitizer report"
  fi
fi
exit "$rc"
