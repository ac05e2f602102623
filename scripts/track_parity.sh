#!/usr/bin/env bash
# `trt-tracker track` (threads, queues, ONNX Runtime, files) against the offline reference
# (`trt-tracker evaluate`: the same tracker in a plain loop on PyTorch) on held-out synthetic
# sequences: a sequence folder (hand), a lossless FFV1 video (body) and a RealSense .db3
# recording (hand).  Prints tracked MPJPE of both and their ratio.
#   scripts/track_parity.sh [OUT=runs/parity] [FRAMES=100]
set -euo pipefail
OUT=${1:-runs/parity}
FRAMES=${2:-100}
TT=${TT:-trt-tracker}
mkdir -p "$OUT"
$TT synth --kind hand --seed 20000003 --frames "$FRAMES" --out "$OUT" --overwrite >/dev/null
$TT synth --kind body --seed 20000003 --frames "$FRAMES" --out "$OUT" --overwrite >/dev/null
HAND="$OUT/hand_20000003"; BODY="$OUT/body_20000003"
python - "$BODY" "$OUT/body.mkv" <<'PY'
import sys, cv2, numpy as np
from trt_tracker.data.sequence import load_sequence
seq = load_sequence(sys.argv[1])
h, w = seq.frames[0].shape[:2]
wr = cv2.VideoWriter(sys.argv[2], cv2.VideoWriter_fourcc(*"FFV1"), seq.fps, (w, h))
for f in seq.frames:
    wr.write(cv2.cvtColor(np.asarray(f), cv2.COLOR_RGB2BGR))
wr.release()
PY
$TT record --sequence "$HAND" --out "$OUT/hand.db3" >/dev/null
compare() {  # name source model seq
    $TT track --source "$2" --model "$3" --gt "$4" --out "$OUT/track-$1" --quiet --no-video >/dev/null
    $TT evaluate --sequence "$4" --model "$3" --json "$OUT/offline-$1.json" >/dev/null
    python - "$1" "$OUT/track-$1/track.jsonl" "$4" "$OUT/offline-$1.json" <<'PY'
import json, sys, numpy as np
from trt_tracker.data.sequence import load_sequence
from trt_tracker.stream.sinks import read_jsonl
gt = load_sequence(sys.argv[3]).joints_cam
recs = [r for r in read_jsonl(sys.argv[2]) if r["joints_cam_mm"] is not None]
live = np.mean([np.linalg.norm(np.array(r["joints_cam_mm"]) - gt[r["index"]], axis=-1).mean() for r in recs])
ref = json.load(open(sys.argv[4]))["mpjpe_tracked"]
print(f"{sys.argv[1]:10s} track (JSONL) {live:8.2f} mm   offline {ref:8.2f} mm   ratio {live / ref:.5f}")
PY
}
compare sequence "$HAND" export/hand-lite "$HAND"
compare video "$OUT/body.mkv" export/body-lite "$BODY"
compare realsense "$OUT/hand.db3" export/hand-lite "$HAND"
