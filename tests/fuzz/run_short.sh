#!/usr/bin/env bash
# One short libFuzzer run for CTest: run_short.sh FUZZER CORPUS_DIR SECONDS
# Replays every file of the kept corpus first, then mutates for SECONDS. New inputs go to a
# temporary directory (the kept corpus is never written); a crash is saved there too and its bytes
# are printed as hex, so the CI log alone is enough to reproduce it.
set -euo pipefail
fuzzer=$1 corpus=$2 secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/synack-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/artifacts"
rc=0
"$fuzzer" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/new" "$corpus" >"$work/log" 2>&1 || rc=$?
grep -E '^#[0-9]+ +(INITED|DONE)|^stat::number_of_executed_units|^stat::peak_rss|ERROR|SUMMARY|Test unit written' "$work/log" || true
if [ "$rc" -ne 0 ]; then
  echo "FAIL: $(basename "$fuzzer") exited $rc; last lines of its log:"
  tail -n 60 "$work/log"
  for a in "$work"/artifacts/*; do
    [ -f "$a" ] || continue
    echo "---- reproducer $(basename "$a") ($(stat -c %s "$a") bytes), hex:"
    od -An -tx1 -v "$a" | head -n 64
  done
  exit 1
fi
echo "ok: $(basename "$fuzzer") ran ${secs}s over $(find "$corpus" -type f | wc -l) corpus files without a finding"
