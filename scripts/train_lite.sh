#!/usr/bin/env bash
# Train the shipped lite models (body-lite, hand-lite), JOBS networks at a time with one
# torch thread each (the lite presets load data in the training process, so two jobs keep
# a 2-core CPU busy without oversubscription), then copy their weights with ship_lite.sh.
# Resumes where it stopped if run again (each run keeps runs/train/<preset>/checkpoint.pt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/train}
JOBS=${JOBS:-2}
# The longest first, so the two queues end together.
NAMES=${NAMES:-"body-lite-pose hand-lite-pose body-lite-spatial hand-lite-spatial body-lite-temporal-corr hand-lite-temporal body-lite-temporal hand-lite-temporal-late body-lite-temporal-late"}
mkdir -p "$OUT/logs"
printf '%s\n' $NAMES | xargs -P "$JOBS" -I{} sh -c \
  "\"$PY\" -m trt_tracker.cli train --preset {} --set threads=1 out=$OUT $* > $OUT/logs/{}.log 2>&1 && echo 'trained {}'"
