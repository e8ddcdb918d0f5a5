#!/usr/bin/env bash
# Installs the dependencies, builds synack and runs every test: the unit/simulation tests and the
# integration tests (tests/integration/test_*.sh, which build their own network namespaces and
# need root: without it they are reported as skipped).
#
#   sudo ./scripts/test.sh            # everything
#   sudo ./scripts/test.sh -L unit    # extra arguments go to ctest (e.g. -L integration, -R close)
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo), JOBS (default nproc).
# Exits non-zero if the build or any test fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
JOBS=${JOBS:-$(nproc)}

if [ "$(id -u)" -eq 0 ]; then
  bash scripts/setup-deps.sh
  # Namespaces left behind by an earlier run that was killed (only our own naming pattern).
  bash scripts/netns.sh gc || true
else
  echo "test.sh: not root: skipping scripts/setup-deps.sh; integration tests will be skipped" \
       "(run: sudo $0)" >&2
fi

echo "== configure ($BUILD_TYPE, $BUILD_DIR)"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE"
echo "== build (-j$JOBS)"
cmake --build "$BUILD_DIR" -j"$JOBS"

echo "== test"
# Unit tests run in parallel; integration tests are RUN_SERIAL (CTest runs them one at a time).
rc=0
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" "$@" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "test.sh: some tests failed (ctest exit $rc)" >&2
fi
exit "$rc"
