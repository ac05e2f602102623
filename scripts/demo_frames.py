"""Four frames from each of the demo's annotated videos, in one picture (what a user sees).

    python scripts/demo_frames.py [--out docs/demo_frames.png] [VIDEO ...]   (default: the demo's two videos)

Run ``./run demo`` first.  Rows are videos; columns are frames 5, 1/3, 2/3 and
the last but one, each labelled with its index.
"""
from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np


def frames_of(video: str, width: int = 320) -> np.ndarray:
    cap = cv2.VideoCapture(video)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or n < 4:
        raise ValueError(f"{video}: not a readable video with at least 4 frames (run ./run demo first)")
    row = []
    for i in (5, n // 3, 2 * n // 3, n - 2):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        if not ok:
            raise ValueError(f"{video}: frame {i} could not be read")
        cv2.putText(f, str(i), (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        row.append(cv2.resize(f, (width, int(width * f.shape[0] / f.shape[1]))))
    cap.release()
    return np.hstack(row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("videos", nargs="*", default=["runs/demo/body/annotated.mp4", "runs/demo/hand/annotated.mp4"])
    ap.add_argument("--out", default="docs/demo_frames.png")
    args = ap.parse_args(argv)
    try:
        rows = [frames_of(v) for v in args.videos]
    except ValueError as e:
        print(f"demo_frames: {e}", file=sys.stderr)
        return 2
    w = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(args.out, np.vstack(rows), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
