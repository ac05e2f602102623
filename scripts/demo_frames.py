"""Four frames from each of the demo's annotated videos, in one picture (what a user sees).

    python scripts/demo_frames.py [--out docs/demo_frames.png] [VIDEO ...]   (default: the demo's two videos)

Run ``./run demo`` first.  Rows are videos; the columns are picked by the
tracker's status in the run's ``track.jsonl`` beside the video: tracked, lost
while the subject is out of view, found again (the first frame of the new
track) and tracked at the end; each is labelled with its frame index and
status.  A video without a ``track.jsonl`` (or without a loss) shows frames 5,
1/3, 2/3 and the last but one.
"""
from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np


def pick(statuses: list[str], n: int) -> list[tuple[int, str]]:
    """(video frame, label): tracked, lost, found again, tracked at the end; or evenly spaced frames."""
    tracked = [s in ("init", "track") for s in statuses]
    # the longest run of lost frames after the start that a track follows
    runs, start = [], None
    for i, s in enumerate(statuses):
        if s == "lost" and start is None:
            start = i
        elif s != "lost" and start is not None:
            runs.append((start, i))
            start = None
    runs = [(a, b) for a, b in runs if a > 5 and any(tracked[b:])]
    if runs:
        a, b = max(runs, key=lambda r: r[1] - r[0])
        back = next(i for i in range(b, len(statuses)) if tracked[i])
        before = [i for i in range(a) if statuses[i] == "track"]
        after = [i for i in range(back + 1, len(statuses)) if statuses[i] == "track"]
        if before and after:
            return [(before[len(before) // 2], "tracked"), ((a + b) // 2, "lost: out of view"),
                    (back, "found again"), (after[len(after) // 2], "tracked")]
    return [(i, "") for i in (5, n // 3, 2 * n // 3, n - 2)]


def frames_of(video: str, width: int = 320) -> np.ndarray:
    from pathlib import Path

    cap = cv2.VideoCapture(video)
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if not cap.isOpened() or n < 4:
        raise ValueError(f"{video}: not a readable video with at least 4 frames (run ./run demo first)")
    jsonl = Path(video).with_name("track.jsonl")
    statuses = []
    if jsonl.is_file():
        import json

        statuses = [json.loads(line)["status"] for line in jsonl.read_text().splitlines() if line.strip()]
    row = []
    for i, label in pick(statuses[:n], n):
        cap.set(cv2.CAP_PROP_POS_FRAMES, i)
        ok, f = cap.read()
        if not ok:
            raise ValueError(f"{video}: frame {i} could not be read")
        text = f"{i} {label}".strip()
        cv2.putText(f, text, (5, f.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4)
        cv2.putText(f, text, (5, f.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
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
