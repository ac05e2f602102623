#!/usr/bin/env bash
# Copy the trained lite networks into export/<model>/, time them with ONNX Runtime,
# measure their spatial fusion (trt-tracker calibrate: joints and bones fused by generalised least squares,
# the errors' covariance from 144 validation sequences), write their model cards (which tune the tracker on
# validation sequences) and export the ONNX graphs with a manifest carrying the tuned defaults.  Run after
# scripts/train_lite.sh.
# The tracker's temporal network (temporal.pt) is the late-fusion one for body-lite (trained four times:
# body-lite-temporal-late-long3) and the early-fusion one for hand-lite (the better on validation); the
# other ships beside it for the card's comparison (temporal-early.pt or temporal-late.pt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/train}
declare -A MAIN=([body]=temporal-late-long3 [hand]=temporal)
declare -A OTHER=([body]="temporal:temporal-early" [hand]="temporal-late:temporal-late")
declare -A SPATIAL=([body]=spatial-long3 [hand]=spatial-fused100)
declare -A POSE=([body]=pose [hand]=pose-jitter)   # the hand's gives the root's depth (z_ref centre), trained on off-centre crops
for model in body hand; do
  dst=export/$model-lite
  mkdir -p "$dst"
  cp "$OUT/$model-lite-${POSE[$model]}/weights.pt" "$dst/pose.pt"
  cp "$OUT/$model-lite-${SPATIAL[$model]}/weights.pt" "$dst/spatial.pt"
  cp "$OUT/$model-lite-${MAIN[$model]}/weights.pt" "$dst/temporal.pt"
  cp "$OUT/$model-lite-localiser/weights.pt" "$dst/localiser.pt"
  src=${OTHER[$model]%%:*}
  if [ -f "$OUT/$model-lite-$src/weights.pt" ]; then
    cp "$OUT/$model-lite-$src/weights.pt" "$dst/${OTHER[$model]##*:}.pt"
  fi
done
"$PY" -m benchmarks.model_latency --models export/body-lite export/hand-lite
for model in body hand; do
  "$PY" -m trt_tracker.cli calibrate --model export/$model-lite --sequences 144 --fps 25
  "$PY" -m trt_tracker.cli card --model export/$model-lite --latency benchmarks/results/model_latency.json
  "$PY" -m trt_tracker.cli export --model export/$model-lite
done
