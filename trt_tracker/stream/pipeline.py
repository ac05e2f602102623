"""Source -> capture thread -> tracker -> sinks, with a summary of speed and accuracy.

:func:`run` is what ``trt-tracker track`` and ``trt-tracker demo`` call.  It
stops within a second on Ctrl-C or at the end of the stream, closes (flushes)
every sink in ``finally``, and reports per-stage latency percentiles, fps,
dropped frames and, where frames carry ground truth, MPJPE of the
single-frame and the tracked poses.
"""
from __future__ import annotations

import os
import threading
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
    searching: int = 0           # frames of a new track not yet confirmed (pose given, not yet trusted)
    lost: int = 0
    drops: int = 0
    wall_s: float = 0.0
    latency_ms: dict = field(default_factory=dict)      # stage -> {p50, p95, p99, mean}
    mpjpe_single: float | None = None
    mpjpe_tracked: float | None = None
    mpjpe_gt_crops: float | None = None   # the same network on ground-truth crops of the same frames (demo)
    frames_with_gt: int = 0          # tracked frames with ground truth (MPJPE's)
    frames_in_view: int = 0          # frames whose ground truth says the subject is in view
    tracked_in_view: int = 0         # ... of which a confirmed track ("init", "track")
    stopped_by: str = "end of stream"
    error: str | None = None
    pinned: bool = False             # the tracking thread stayed on one CPU (pipeline.pin_thread)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["fps"] = self.fps
        return d


class MetricsAccumulator:
    """Per-stage latencies and per-frame MPJPE (camera mm, frames that have ground truth and a pose).

    MPJPE counts the frames of a confirmed track (``init``, ``track``).  Values
    go into compact ``array`` buffers (4 bytes per latency, 8 per error), not
    lists of Python floats (~32 bytes each): a live run of hours keeps exact
    percentiles at about 30 bytes per frame.
    """

    def __init__(self):
        self.lat = {s: array("f") for s in STAGES}
        self.err_single, self.err_tracked = array("d"), array("d")
        self.status = {"init": 0, "track": 0, "search": 0, "lost": 0}
        self.in_view = self.tracked_in_view = 0

    def add(self, res) -> None:
        self.status[res.status] = self.status.get(res.status, 0) + 1
        for k, v in res.latency_ms.items():
            self.lat.setdefault(k, array("f")).append(v)
        if res.gt_joints_cam is not None:      # ground truth: the subject is in view
            self.in_view += 1
            self.tracked_in_view += res.status in ("init", "track")
        if res.gt_joints_cam is not None and res.joints_cam is not None and res.status in ("init", "track"):
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
        s.searching = self.status.get("search", 0)
        s.frames_in_view, s.tracked_in_view = self.in_view, self.tracked_in_view
        s.frames_with_gt = len(self.err_tracked)
        if self.err_tracked:
            s.mpjpe_tracked = float(np.mean(self.err_tracked))
            s.mpjpe_single = float(np.mean(self.err_single))
        return s


def current_cpu() -> int | None:
    """The CPU the calling thread runs on (Linux ``/proc``), None where that cannot be read."""
    try:
        with open("/proc/thread-self/stat") as f:
            stat = f.read()
        return int(stat[stat.rindex(")") + 2:].split()[36])    # field 39, counted after "(comm)"
    except (OSError, ValueError, IndexError):
        return None


def pin_thread() -> set | None:
    """Keep the calling thread on the CPU it runs on; returns the CPUs it was allowed before (to restore
    with ``os.sched_setaffinity(0, ...)``), or None when there is nothing to pin (one CPU, no affinity API).

    The tracking thread sleeps between frames; left free, the scheduler wakes it on whichever CPU is idle,
    with cold caches.  Kept on one, its per-frame Python and OpenCV work and its wake-up from the capture
    thread cost less (`bench latency`; ONNX Runtime's own threads and the capture threads stay free)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    cpu = current_cpu()
    os.sched_setaffinity(0, {cpu if cpu in allowed else min(allowed)})
    return allowed


def run(source, tracker, sinks=(), lossless: bool | None = None, max_frames: int | None = None,
        progress: bool = False, reopen=None, reconnect: int = 0, should_stop=None, pin: bool = True) -> RunSummary:
    """Track every frame of ``source`` (or until ``max_frames``/Ctrl-C/``should_stop()``): :func:`run_streams`
    with one stream.

    ``pin``: keep the tracking thread on one CPU for the run (:func:`pin_thread`) when the tracker's backend
    allows it (``tracker.pinnable``); ``summary.pinned`` says whether it was.

    ``reopen``: a callable returning a fresh source, used up to ``reconnect``
    times when a live source disconnects (the track restarts).  A disconnect
    without reconnects ends the run with ``summary.error`` set; the outputs
    written so far stay valid.
    """
    return run_streams([source], tracker, [sinks], lossless, max_frames, progress,
                       None if reopen is None else [reopen], reconnect, should_stop, pin)[0]


def run_streams(sources, tracker, sinks=None, lossless: bool | None = None, max_frames: int | None = None,
                progress: bool = False, reopen=None, reconnect: int = 0, should_stop=None,
                pin: bool = True) -> list[RunSummary]:
    """Track several sources at once with one batched tracker (``tracker.streams == len(sources)``).

    Each source has its own capture thread and queue; every step takes the
    next waiting frame of each stream (None for a stream with nothing new)
    and runs one :meth:`Tracker.step_batch`, so the networks see one batch for
    all cameras.  ``sinks[i]``, ``reopen[i]`` belong to stream i;
    ``max_frames`` and ``reconnect`` count per stream.  Returns one
    :class:`RunSummary` per stream.
    """
    n = len(sources)
    if tracker.streams != n:
        raise ValueError(f"the tracker has {tracker.streams} streams for {n} sources")
    sinks = [list(s) for s in (sinks or [()] * n)]
    reopen = list(reopen) if reopen is not None else [None] * n
    accs = [MetricsAccumulator() for _ in range(n)]
    summs = [RunSummary() for _ in range(n)]
    left = [reconnect] * n
    bar = None
    if progress:
        from tqdm import tqdm

        try:
            total = sum(min(len(s), max_frames) if max_frames else len(s) for s in sources)
        except TypeError:
            total = max_frames * n if max_frames else None
        bar = tqdm(total=total, desc="tracking", unit="frame")
    arrived = threading.Event()
    t0 = time.monotonic()
    caps = []
    active = [True] * n
    # the CPUs to give back; capture threads keep all of them
    free = pin_thread() if pin and getattr(tracker, "pinnable", False) else None
    for sm in summs:
        sm.pinned = free is not None
    try:
        for src in sources:
            caps.append(CaptureThread(src, lossless, on_frame=arrived.set, cpus=free).start())
        while any(active):
            arrived.clear()           # before polling: a frame queued after this sets it again
            frames = [None] * n
            for i in range(n):
                if not active[i]:
                    continue
                try:
                    f = caps[i].poll()
                except SourceDisconnected as e:
                    if reopen[i] is None or left[i] <= 0:
                        summs[i].error = f"{e}; stopped after {summs[i].frames} frames (outputs so far are complete)"
                        summs[i].stopped_by = "source disconnected"
                        active[i] = False  # this capture's drops are counted once, below
                        continue
                    summs[i].drops += caps[i].drops
                    caps[i].stop()
                    left[i] -= 1
                    time.sleep(0.5)
                    tracker.reset(i)
                    caps[i] = CaptureThread(reopen[i](), lossless, on_frame=arrived.set, cpus=free).start()
                    continue
                if f is CaptureThread.END:
                    active[i] = False
                elif f is not None:
                    frames[i] = f
            if not any(f is not None for f in frames):
                if any(active):
                    arrived.wait(0.1)
                continue
            results = tracker.step_batch(frames)
            for i, res in enumerate(results):
                if frames[i] is None:
                    continue
                for s in sinks[i]:        # the result out first, then the run's own bookkeeping
                    s.write(res)
                accs[i].add(res)
                summs[i].frames += 1
                if bar is not None:
                    bar.update(1)
                if max_frames and summs[i].frames >= max_frames:
                    summs[i].stopped_by = f"--max-frames {max_frames}"
                    active[i] = False
            tracker.prepare()     # the next frames' boxes and earlier-frame crops, while the cameras expose
            if should_stop is not None and should_stop():
                for i in range(n):
                    if active[i]:
                        summs[i].stopped_by = "quit requested"
                break
    except KeyboardInterrupt:
        for i, sm in enumerate(summs):
            if active[i]:              # streams that had ended keep their own reason
                sm.stopped_by = "Ctrl-C"
    finally:
        for cap, sm in zip(caps, summs):
            cap.stop(1.0)
            sm.drops += cap.drops
        for src in sources[len(caps):]:   # never started (an error while starting the others): still closed
            try:
                src.close()
            except Exception:
                pass
        for ss in sinks:
            for s in ss:
                s.close()
        if bar is not None:
            bar.close()
        if free is not None:
            os.sched_setaffinity(0, free)
    wall = time.monotonic() - t0
    for acc, sm in zip(accs, summs):
        sm.wall_s = wall
        acc.summary(sm)
    return summs


def track_offline(model, config, sequence):
    """The offline reference: the same tracker over a sequence (or its folder), no threads, no files.

    Returns the :class:`RunSummary` (MPJPE of the tracked and single-frame poses where frames carry
    ground truth, statuses, stage latencies).
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
             + (f"{s.searching} searching, " if s.searching else "")
             + f"{s.lost} lost, {s.drops} dropped; stopped by {s.stopped_by}"]
    lat = s.latency_ms
    if lat:
        cells = [f"{k} {lat[k]['p50']:.1f}/{lat[k]['p95']:.1f}/{lat[k]['p99']:.1f}" for k in STAGES if k in lat]
        lines.append("  latency ms p50/p95/p99: " + ", ".join(cells))
    if s.frames_in_view:
        lines.append(f"  tracked in {s.tracked_in_view} of {s.frames_in_view} frames with the subject in view "
                     f"({100 * s.tracked_in_view / s.frames_in_view:.1f} %)")
    if s.mpjpe_tracked is not None:
        ch = (s.mpjpe_tracked / s.mpjpe_single - 1) * 100
        lines.append(f"  MPJPE over {s.frames_with_gt} frames: single-frame {s.mpjpe_single:.1f} mm, "
                     f"tracked {s.mpjpe_tracked:.1f} mm ({ch:+.1f}%)")
    if s.error:
        lines.append(f"  error: {s.error}")
    return lines
