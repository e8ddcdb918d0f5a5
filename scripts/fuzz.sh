#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, everything instrumented) and runs each
# for SECONDS (default 60), starting from the corpus kept in tests/fuzz/corpus/<target> (copied,
# so the kept corpus only changes when you merge on purpose).
#
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]      targets: frame connection (default: both)
#
# A crash leaves crash-* / leak-* / timeout-* files in build-fuzz/artifacts and exits non-zero;
# replay one with: build-fuzz/tests/fuzz/fuzz_<target> <file>
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frame connection)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSYNACK_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  [ -d "tests/fuzz/corpus/$t" ] && cp -r "tests/fuzz/corpus/$t/." "$work/"
  echo "== fuzz_$t for ${secs}s"
  "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/ "$work" 2>&1 | grep -E '^(#|==|stat::number_of_executed_units|Done)|ERROR|SUMMARY' | tail -n 5
  rm -rf "$work"
done
