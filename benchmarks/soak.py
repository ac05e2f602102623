"""Soak: memory stays flat over a long run.

Tracks N synthetic frames (a rendered sequence looped, with continuing frame
indices) through the whole pipeline - capture thread, tracker on ONNX Runtime,
JSONL sink - and samples the process RSS every ``--every`` frames.  Reports
the RSS at start (after warm-up) and end, the slope over the second half, and
fps; writes benchmarks/results/soak-<machine>.json.

    python -m benchmarks.soak                      # 20,000 frames, hand-lite
    python -m benchmarks.soak --frames 2000 --model export/body-lite
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, machine_info, machine_tag


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssProbe:
    """A sink that records (frame, RSS MiB) every ``every`` frames."""

    def __init__(self, every: int, bar=None):
        self.every, self.samples, self.n, self.bar = every, [], 0, bar

    def write(self, res):
        if self.n % self.every == 0:
            self.samples.append((self.n, rss_mib()))
            if self.bar is not None:
                self.bar.set_postfix(rss_mib=f"{self.samples[-1][1]:.0f}")
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--model", default="export/hand-lite")
    ap.add_argument("--durations", default="Dmf")
    ap.add_argument("--sequence-frames", type=int, default=200, help="frames rendered, then looped")
    ap.add_argument("--every", type=int, default=250, help="RSS sample period (frames)")
    ap.add_argument("--out", help="result JSON (default benchmarks/results/soak-<machine>.json)")
    args = ap.parse_args(argv)

    from tqdm import tqdm

    from trt_tracker.runtime.onnxruntime import default_threads
    from trt_tracker.stream.app import tracker_config
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.pipeline import run
    from trt_tracker.stream.sinks import JsonlSink
    from trt_tracker.stream.sources import SyntheticSource
    from trt_tracker.stream.tracker import Tracker

    loops = -(-args.frames // args.sequence_frames)
    with TrackerModel(args.model) as m, tempfile.TemporaryDirectory() as tmp:
        src = SyntheticSource("hand" if m.modality == "depth" else "body", 20_000_000, args.sequence_frames, 25.0,
                              loop=loops)
        cfg = tracker_config(m.manifest, args.durations)
        probe = RssProbe(args.every, tqdm(total=args.frames, desc="soak", unit="frame"))
        s = run(src, Tracker(m, cfg), [JsonlSink(Path(tmp) / "t.jsonl"), probe], max_frames=args.frames)
        jsonl_mb = (Path(tmp) / "t.jsonl").stat().st_size / 1e6
    f, r = np.array(probe.samples).T
    half = f >= f[-1] / 2
    slope = float(np.polyfit(f[half], r[half], 1)[0] * 1000) if half.sum() > 2 else float("nan")
    start = float(r[1]) if len(r) > 1 else float(r[0])      # after the first period's warm-up allocations
    out = {"benchmark": "soak", "machine": machine_info(), "model": args.model, "durations": list(cfg.durations),
           "frames": s.frames, "fps": s.fps, "wall_s": s.wall_s, "tracked": s.tracked, "lost": s.lost,
           "rss_mib_start": start, "rss_mib_end": float(r[-1]), "rss_mib_max": float(r.max()),
           "rss_slope_mib_per_1000_frames_second_half": slope, "jsonl_mb": jsonl_mb,
           "samples": [[int(a), round(float(b), 1)] for a, b in probe.samples],
           "latency_ms": s.latency_ms, "threads": default_threads()}
    path = Path(args.out) if args.out else RESULTS / f"soak-{machine_tag(out['machine'])}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"soak: {s.frames} frames at {s.fps:.1f} fps; RSS {start:.0f} MiB after warm-up -> {r[-1]:.0f} MiB at the "
          f"end (max {r.max():.0f}); second-half slope {slope:+.2f} MiB per 1000 frames -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
