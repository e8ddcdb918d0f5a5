#!/usr/bin/env bash
# The CTest smoke of bench/run.sh (bench.run_smoke): `run.sh --quick --json` must print one
# well-formed {"metrics":[...]} object with every row of the table present and numeric. No timing
# is asserted: the figures of a quick run on a busy machine mean little.
#
#   bash bench/run_smoke.sh SYNACK_BINARY_OR_BUILD_DIR
# Exit 0 pass, 1 fail, 77 skip (not root, as run.sh).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 SYNACK_BINARY_OR_BUILD_DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (bench/run.sh builds network namespaces)" >&2; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
bash "$here/run.sh" --quick --json --synack "$1" >"$out" || rc=$?
[ "$rc" = 77 ] && exit 77
echo "run.sh exited $rc; stdout:"
cat "$out"
"$PY" - "$out" <<'PY'
import json, math, os, sys
text = open(sys.argv[1]).read()
lines = [l for l in text.splitlines() if l.strip()]
if len(lines) != 1:
    sys.exit(f"FAIL: expected exactly one line of JSON on stdout, got {len(lines)}")
doc = json.loads(lines[0])
if not isinstance(doc, dict) or list(doc) != ["metrics"] or not isinstance(doc["metrics"], list):
    sys.exit('FAIL: expected an object whose only key is "metrics" (a list)')
expected = {
    "handshake_p50_busy_poll": "us", "handshake_p50": "us", "handshake_p99": "us",
    "handshake_close_per_s": "conn/s", "bulk_throughput_one_connection": "Mbit/s",
    "idle_conn_memory": "bytes", "core_instructions_per_handshake_close": "instructions",
    "http_keepalive_memory_growth": "KiB", "echo_1000x64k_memory": "KiB",
}
no_kernel = {"core_instructions_per_handshake_close"}  # callgrind counts synack's core only
def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
bad = []
names = [m.get("name") for m in doc["metrics"]]
for n in expected:
    if names.count(n) != 1:
        bad.append(f"{n}: present {names.count(n)} times")
for m in doc["metrics"]:
    n = m.get("name")
    if n not in expected:
        continue
    for k in ("name", "synack", "kernel", "ratio", "unit"):
        if k not in m:
            bad.append(f"{n}: no '{k}'")
    if m.get("unit") != expected[n]:
        bad.append(f"{n}: unit {m.get('unit')!r}, expected {expected[n]!r}")
    keys = ("synack",) if n in no_kernel else ("synack", "kernel", "ratio")
    # A sanitized build (SYNACK_SANITIZE, set by tests/CMakeLists.txt): valgrind cannot run
    # ASan-instrumented programs, so the callgrind row is present but has no figure.
    if os.environ.get("SYNACK_SANITIZED") == "1" and n in no_kernel:
        keys = ()
    for k in keys:
        if not number(m.get(k)):
            bad.append(f"{n}: {k} is {m.get(k)!r}, not a number" + (f" ({m['error']})" if m.get("error") else ""))
if bad:
    print("FAIL: " + "\nFAIL: ".join(bad))
    sys.exit(1)
print(f"ok: {len(expected)} metrics present and numeric")
PY
