#!/usr/bin/env bash
# Copy the trained lite networks into export/<model>/, time them with ONNX Runtime,
# write their model cards (which tune the tracker on validation sequences) and export
# the ONNX graphs with a manifest carrying the tuned defaults.  Run after scripts/train_lite.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/train}
for model in body hand; do
  dst=export/$model-lite
  mkdir -p "$dst"
  for net in pose spatial temporal temporal-late; do
    src=$OUT/$model-lite-$net/weights.pt
    [ -f "$src" ] && cp "$src" "$dst/$net.pt"
  done
  # Where a correlation temporal network was trained it is the tracker's (temporal.pt);
  # the early-fusion one stays beside it for the card's comparison.
  if [ -f "$OUT/$model-lite-temporal-corr/weights.pt" ]; then
    cp "$dst/temporal.pt" "$dst/temporal-early.pt"
    cp "$OUT/$model-lite-temporal-corr/weights.pt" "$dst/temporal.pt"
  fi
done
"$PY" -m benchmarks.model_latency --models export/body-lite export/hand-lite
for model in body hand; do
  "$PY" -m trt_tracker.cli card --model export/$model-lite --latency benchmarks/results/model_latency.json
  "$PY" -m trt_tracker.cli export --model export/$model-lite
done
