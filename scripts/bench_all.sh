#!/usr/bin/env bash
# Every result of the README's "Results" section, one after the other on a quiet
# machine (about 45 minutes on the 2-core development CPU): latency, the
# speed-accuracy trade-off with the peers, and the papers' tables.
# QUICK=1 runs each in its --quick mode (about 3 minutes each; what CI exercises).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin/trt-tracker}
Q=()
[ "${QUICK:-0}" = 1 ] && Q=(--quick)
"$BIN" bench latency "${Q[@]}"
"$BIN" bench tradeoff "${Q[@]}"
"$BIN" eval "${Q[@]}"
