#!/usr/bin/env bash
# Train the shipped lite models (body-lite, hand-lite): a body queue and a hand queue side by
# side, one torch thread each (the lite presets load data in the training process, so two jobs
# keep a 2-core CPU busy without oversubscription), then copy their weights with ship_lite.sh.
# In each queue the pose network comes first: the spatial and early/late temporal networks start
# from its weights (their presets' init=<model>-pose).  The shipped hand pose network is
# hand-lite-pose fine-tuned to give z about the crop's depth centre (hand-lite-pose-centre), then on
# off-centre crops like a live tracker's (hand-lite-pose-jitter).  Last, each
# model's full-frame localiser (issue 14; trained from scratch on whole frames).  Resumes where it stopped if run again
# (each run keeps runs/train/<preset>/checkpoint.pt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/train}
#
# MODEL=body (or hand) trains one model directory alone, its localiser beside the chain of the others
# (one model's from-scratch time on this CPU: the chain's, body ~4.6 h, hand ~4.5 h at two jobs' load).
BODY=${BODY:-"body-lite-pose body-lite-spatial body-lite-spatial-long body-lite-temporal body-lite-temporal-late body-lite-localiser"}
HAND=${HAND:-"hand-lite-pose hand-lite-pose-centre hand-lite-pose-jitter hand-lite-spatial hand-lite-spatial-long hand-lite-temporal hand-lite-temporal-late hand-lite-localiser"}
MODEL=${MODEL:-}
mkdir -p "$OUT/logs"
queue() {
  for name in "$@"; do
    "$PY" -m trt_tracker.cli train --preset "$name" --set threads=1 "out=$OUT" > "$OUT/logs/$name.log" 2>&1
    echo "trained $name"
  done
}
case "$MODEL" in
  "") first=$BODY; second=$HAND ;;
  body|hand)
    all=$([ "$MODEL" = body ] && echo "$BODY" || echo "$HAND")
    first=$(echo "$all" | tr ' ' '\n' | grep -v -- '-localiser$' | tr '\n' ' ')
    second=$(echo "$all" | tr ' ' '\n' | grep -- '-localiser$' | tr '\n' ' ') ;;
  *) echo "MODEL must be body or hand (or unset for both), got '$MODEL'" >&2; exit 2 ;;
esac
queue $first &
a=$!
queue $second &
b=$!
wait $a && wait $b
