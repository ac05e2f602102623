#!/usr/bin/env bash
# Train the shipped lite models (body-lite, hand-lite) one network after another,
# then copy their weights into export/. Resumes where it stopped if run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/train}
NAMES=${NAMES:-"body-lite-pose hand-lite-pose body-lite-temporal hand-lite-temporal body-lite-spatial hand-lite-spatial body-lite-temporal-late hand-lite-temporal-late body-lite-temporal-corr"}
for name in $NAMES; do
  "$PY" -m trt_tracker.cli train --preset "$name" --set "out=$OUT" "$@"
done
