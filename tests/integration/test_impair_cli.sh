#!/usr/bin/env bash
# `synack impair`'s command line, in the three-namespace topology:
#   - usage errors exit 2 with one line on stderr: unknown interface, the same interface twice, a
#     bad percentage, a bad --dir, a bad rate; `impair --help` exits 0 and names --dir and --loss;
#   - options apply per direction in command-line order: `--jitter 1 --dir a2b --loss 2%
#     --dir b2a --delay 10` gives a2b loss 2% + jitter, b2a delay 10 ms + jitter (its start-up
#     lines say so), and the counters show it: probes c -> s are lost, none delayed;
#   - SIGUSR1 prints text counters; SIGTERM ends it with exit 0 and the final counters.
set -Eeuo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_init_impaired "$1" --jitter 1 --dir a2b --loss 2% --dir b2a --delay 10 --seed 5

it_section "per-direction options"
grep -q "a2b imp-c -> imp-s: loss 2%, delay 0 ms +- 1 ms" "$NETNS_IMPAIR_ERR" \
  || { cat "$NETNS_IMPAIR_ERR"; fail "a2b is not 'loss 2%' with jitter"; }
grep -q "b2a imp-s -> imp-c: delay 10 ms +- 1 ms" "$NETNS_IMPAIR_ERR" \
  || { cat "$NETNS_IMPAIR_ERR"; fail "b2a is not 'delay 10 ms +- 1 ms'"; }
grep -q "seed 5;" "$NETNS_IMPAIR_ERR" || fail "the seed is not reported"
ok "$(grep -c 'synack impair: [ab]2[ab]' "$NETNS_IMPAIR_ERR") direction lines as requested"
it_udp_probe dirs 2000 5000
text=$(netns_impair_counters) || fail "no counters on SIGUSR1"
echo "$text" | sed 's/^/   /'
grep -q "^counters after" "$NETNS_IMPAIR_OUT" || fail "SIGUSR1 printed no text counters"
it_impair_stop
grep -q "^final counters after" "$NETNS_IMPAIR_OUT" || fail "no final counters after SIGTERM"
a2b=$(grep -E '^  a2b' "$NETNS_IMPAIR_OUT" | tail -n 1)
dropped=$(sed -E 's/.* dropped ([0-9]+),.*/\1/' <<<"$a2b")
[ "$dropped" -gt 0 ] || fail "a2b dropped nothing with --loss 2%: $a2b"
it_py "$NETNS_TMP/dirs.json" <<'EOF2' || fail "per-direction checks failed"
import json, sys
from it import *
r = json.load(open(sys.argv[1]))
lost = 2000 - r['unique']
print("c -> s: %d of 2000 lost, median one-way %.1f us" % (lost, r['median_us']))
check(20 <= lost <= 70, "lost %d of 2000 with a2b --loss 2%%" % lost)
check(r['median_us'] < 2000, "a2b was delayed (median %.1f us): the b2a --delay leaked" % r['median_us'])
done()
EOF2

it_section "usage errors"
check_usage() {  # NAME ARGS...
  local name=$1; shift
  IT_ERR="$NETNS_TMP/$name.err"; IT_RC=0
  ip netns exec "$NETNS_M" "$SYNACK" "$@" >/dev/null 2>"$IT_ERR" </dev/null || IT_RC=$?
  [ "$IT_RC" = 2 ] || fail "synack $*: expected exit 2, got $IT_RC"
  [ "$(grep -c . "$IT_ERR")" = 1 ] || fail "synack $*: expected one line on stderr: $(cat "$IT_ERR")"
  ok "synack $*: exit 2 ($(cat "$IT_ERR"))"
}
check_usage nosuch impair nosuch0 "$NETNS_IF_MS"
check_usage same impair "$NETNS_IF_MC" "$NETNS_IF_MC"
check_usage badpct impair "$NETNS_IF_MC" "$NETNS_IF_MS" --loss 101%
check_usage baddir impair "$NETNS_IF_MC" "$NETNS_IF_MS" --dir sideways --loss 1
check_usage badrate impair "$NETNS_IF_MC" "$NETNS_IF_MS" --rate fast
check_usage missing impair "$NETNS_IF_MC"
"$SYNACK" impair --help >"$NETNS_TMP/help.out" || fail "synack impair --help did not exit 0"
grep -q -- '--dir' "$NETNS_TMP/help.out" && grep -q -- '--loss' "$NETNS_TMP/help.out" \
  || fail "synack impair --help does not mention --dir and --loss"
ok "impair --help exits 0"

echo "PASS $(basename "$0") ($(it_elapsed))"
