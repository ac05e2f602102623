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
# MODEL=body (or hand) trains one model directory alone on two queues: the pose, spatial and early-fusion
# temporal networks in one; the localiser and the late-fusion temporal networks in the other (for the hand
# the localiser and the spatial rounds, which start from hand-lite-pose, not from its later fine-tunings),
# each run waiting until the weights it starts from (its preset's init) are there.  One model's from-scratch
# time on this CPU is then the longer queue's (about 4.8 h for body and 4.9 h for hand: see the README).
BODY=${BODY:-"body-lite-pose body-lite-spatial body-lite-spatial-long body-lite-spatial-long2 body-lite-spatial-long3 body-lite-temporal body-lite-temporal-late body-lite-temporal-late-long body-lite-temporal-late-long2 body-lite-temporal-late-long3 body-lite-localiser"}
HAND=${HAND:-"hand-lite-pose hand-lite-pose-centre hand-lite-pose-jitter hand-lite-spatial hand-lite-spatial-long hand-lite-spatial-long2 hand-lite-spatial-long3 hand-lite-spatial-long4 hand-lite-spatial-long5 hand-lite-spatial-fused100 hand-lite-temporal hand-lite-temporal-late hand-lite-localiser"}
MODEL=${MODEL:-}
mkdir -p "$OUT/logs"
rm -f "$OUT/logs/failed"
wait_for_init() {   # block until the weights preset $1 starts from (init) and fuses with (fused_pose) exist
  local init
  for init in $("$PY" -c "from trt_tracker.train import preset; p = preset('$1'); print(p.init, p.fused_pose)"); do
    case "$init" in */*|*.pt) continue ;; esac          # a weights file given by path
    while [ ! -f "$OUT/$init/weights.pt" ]; do
      if [ -f "$OUT/logs/failed" ]; then
        echo "$1 waits for $init, but a run failed: $(cat "$OUT/logs/failed")" >&2
        return 1
      fi
      sleep 30
    done
  done
}
queue() {
  for name in "$@"; do
    wait_for_init "$name" || return 1
    if ! "$PY" -m trt_tracker.cli train --preset "$name" --set threads=1 "out=$OUT" > "$OUT/logs/$name.log" 2>&1; then
      echo "$name (see $OUT/logs/$name.log)" > "$OUT/logs/failed"
      echo "training $name failed: see $OUT/logs/$name.log" >&2
      return 1
    fi
    echo "trained $name"
  done
}
case "$MODEL" in
  "") first=$BODY; second=$HAND ;;
  body|hand)
    all=$([ "$MODEL" = body ] && echo "$BODY" || echo "$HAND")
    later='-temporal-late'
    [ "$MODEL" = hand ] && later='-spatial'
    first=$(echo "$all" | tr ' ' '\n' | grep -v -- "-localiser\$\|$later" | tr '\n' ' ')
    second="$(echo "$all" | tr ' ' '\n' | grep -- '-localiser$' | tr '\n' ' ')$(echo "$all" | tr ' ' '\n' |
      grep -- "$later" | tr '\n' ' ')" ;;
  *) echo "MODEL must be body or hand (or unset for both), got '$MODEL'" >&2; exit 2 ;;
esac
queue $first &
a=$!
queue $second &
b=$!
rc=0
wait $a || rc=1
wait $b || rc=1
exit $rc
