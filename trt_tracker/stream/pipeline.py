"""Source -> capture thread -> tracker -> sinks, with a summary of speed and accuracy.

:func:`run` is what ``trt-tracker track`` and ``trt-tracker demo`` call.  It
stops within a second on Ctrl-C or at the end of the stream, closes (flushes)
every sink in ``finally``, and reports per-stage latency percentiles, fps,
dropped frames and, where frames carry ground truth, MPJPE of the
single-frame and the tracked poses.
"""
from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

import numpy as np

from .capture import CaptureThread
from .frame import SourceDisconnected

STAGES = ("queue", "preprocess", "frame_graph", "temporal_graph", "solve", "postprocess", "total")


@dataclass
class RunSummary:
    frames: int = 0
    tracked: int = 0
    lost: int = 0
    drops: int = 0
    wall_s: float = 0.0
    latency_ms: dict = field(default_factory=dict)      # stage -> {p50, p95, p99, mean}
    mpjpe_single: float | None = None
    mpjpe_tracked: float | None = None
    frames_with_gt: int = 0
    stopped_by: str = "end of stream"
    error: str | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["fps"] = self.fps
        return d


class MetricsAccumulator:
    """Per-stage latencies and per-frame MPJPE (camera mm, frames that have ground truth and a pose).

    Values go into compact ``array`` buffers (4 bytes per latency, 8 per error),
    not lists of Python floats (~32 bytes each): a live run of hours keeps
    exact percentiles at about 30 bytes per frame.
    """

    def __init__(self):
        self.lat = {s: array("f") for s in STAGES}
        self.err_single, self.err_tracked = array("d"), array("d")
        self.status = {"init": 0, "track": 0, "lost": 0}

    def add(self, res) -> None:
        self.status[res.status] = self.status.get(res.status, 0) + 1
        for k, v in res.latency_ms.items():
            self.lat.setdefault(k, array("f")).append(v)
        if res.gt_joints_cam is not None and res.joints_cam is not None:
            G = np.asarray(res.gt_joints_cam)
            self.err_tracked.append(float(np.linalg.norm(res.joints_cam - G, axis=-1).mean()))
            self.err_single.append(float(np.linalg.norm(res.single_cam - G, axis=-1).mean()))

    def summary(self, s: RunSummary) -> RunSummary:
        for k, v in self.lat.items():
            if v:
                a = np.asarray(v)
                s.latency_ms[k] = {"p50": float(np.median(a)), "p95": float(np.percentile(a, 95)),
                                   "p99": float(np.percentile(a, 99)), "mean": float(a.mean()), "n": len(a)}
        s.tracked = self.status.get("init", 0) + self.status.get("track", 0)
        s.lost = self.status.get("lost", 0)
        s.frames_with_gt = len(self.err_tracked)
        if self.err_tracked:
            s.mpjpe_tracked = float(np.mean(self.err_tracked))
            s.mpjpe_single = float(np.mean(self.err_single))
        return s


def run(source, tracker, sinks=(), lossless: bool | None = None, max_frames: int | None = None,
        progress: bool = False, reopen=None, reconnect: int = 0, should_stop=None) -> RunSummary:
    """Track every frame of ``source`` (or until ``max_frames``/Ctrl-C/``should_stop()``).

    ``reopen``: a callable returning a fresh source, used up to ``reconnect``
    times when a live source disconnects (the track restarts).  A disconnect
    without reconnects ends the run with ``summary.error`` set; the outputs
    written so far stay valid.
    """
    acc = MetricsAccumulator()
    summ = RunSummary()
    bar = None
    if progress:
        from tqdm import tqdm

        try:
            total = len(source)
        except TypeError:
            total = None
        bar = tqdm(total=min(total, max_frames) if (total and max_frames) else (total or max_frames),
                   desc="tracking", unit="frame")
    t0 = time.monotonic()
    cap = CaptureThread(source, lossless).start()
    try:
        while True:
            try:
                for frame in cap:
                    res = tracker.step(frame)
                    acc.add(res)
                    for s in sinks:
                        s.write(res)
                    summ.frames += 1
                    if bar is not None:
                        bar.update(1)
                    if max_frames and summ.frames >= max_frames:
                        summ.stopped_by = f"--max-frames {max_frames}"
                        break
                    if should_stop is not None and should_stop():
                        summ.stopped_by = "quit requested"
                        break
                break
            except SourceDisconnected as e:
                if reopen is None or reconnect <= 0:
                    summ.error = f"{e}; stopped after {summ.frames} frames (outputs so far are complete)"
                    summ.stopped_by = "source disconnected"
                    break                  # this capture's drops are counted once, below
                summ.drops += cap.drops
                cap.stop()
                reconnect -= 1
                time.sleep(0.5)
                tracker.reset()
                cap = CaptureThread(reopen(), lossless).start()
    except KeyboardInterrupt:
        summ.stopped_by = "Ctrl-C"
    finally:
        cap.stop(1.0)
        summ.drops += cap.drops
        for s in sinks:
            s.close()
        if bar is not None:
            bar.close()
    summ.wall_s = time.monotonic() - t0
    return acc.summary(summ)


def track_offline(model, config, sequence):
    """The offline reference: the same tracker over an in-memory sequence, no threads, no files.

    Returns (tracked camera joints (T, K, 3) with NaN rows where lost, single-frame ones, results).
    """
    from .sources import SequenceSource
    from .tracker import Tracker

    tr = Tracker(model, config)
    acc = MetricsAccumulator()
    with SequenceSource(sequence) as src:
        for f in src:
            acc.add(tr.step(f))
    return acc.summary(RunSummary(frames=len(sequence)))


def format_summary(name: str, s: RunSummary) -> list[str]:
    """A few lines for the terminal."""
    lines = [f"{name}: {s.frames} frames in {s.wall_s:.1f} s ({s.fps:.1f} fps), {s.tracked} tracked, "
             f"{s.lost} lost, {s.drops} dropped; stopped by {s.stopped_by}"]
    lat = s.latency_ms
    if lat:
        cells = [f"{k} {lat[k]['p50']:.1f}/{lat[k]['p95']:.1f}/{lat[k]['p99']:.1f}" for k in STAGES if k in lat]
        lines.append("  latency ms p50/p95/p99: " + ", ".join(cells))
    if s.mpjpe_tracked is not None:
        ch = (s.mpjpe_tracked / s.mpjpe_single - 1) * 100
        lines.append(f"  MPJPE over {s.frames_with_gt} frames: single-frame {s.mpjpe_single:.1f} mm, "
                     f"tracked {s.mpjpe_tracked:.1f} mm ({ch:+.1f}%)")
    if s.error:
        lines.append(f"  error: {s.error}")
    return lines
