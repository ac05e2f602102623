"""Latency and throughput of the tracker: model only, camera to result, many streams batched.

    trt-tracker bench latency                  # full run, about 5 minutes on the 2-core CPU
    trt-tracker bench latency --quick          # body-lite, batch 1 and 2, a few frames: under 3 minutes (-quick.json)
    python -m benchmarks.latency [--quick] [--backends onnxruntime:cpu torch:cpu] [--models export/body-lite]
                                 [--batch 1 2 4 8] [--streams 1 2 4 8] [--frames 300] [--out DIR_OR_JSON]

Four measurements, each after a warm-up, as medians and p95/p99 (DESIGN section 8):

1. **model only**: each backend (``onnxruntime:cpu`` always; ``torch:cpu``,
   ``torch:cuda``, ``onnxruntime:cuda`` and ``tensorrt:cuda`` where usable, else
   skipped with the reason recorded), each shipped model and batch size: one
   ``Backend.infer`` of the frame graph and of the temporal graph (random
   inputs of the manifest's shapes; host arrays in and out), and throughput =
   batch / median.
2. **camera to result**, one stream: the real pipeline (synthetic body source
   paced like a 30 fps camera -> capture thread -> :class:`Tracker` -> JSONL
   sink, :func:`trt_tracker.stream.pipeline.run`) with D={1} and D={1,2,3}.
   Per stage (capture hand-off, preprocess, frame graph, temporal graph, solve,
   postprocess, sink, other) and camera to result (the frame's capture time to
   the sink having written it) p50/p95/p99, achieved fps, dropped frames, and
   the share of camera to result spent outside the two networks.
3. **many streams batched**: N streams stepped together by one
   :class:`~trt_tracker.stream.tracker.Tracker` of N streams (``step_batch``):
   one crop pass, one frame-graph call of batch N, one temporal call of batch
   N x |D|, N solver updates; streams x fps and per-step latency, beside N
   independent trackers on the same frames.
4. **full-size networks** (CUDA only): the papers' ResNet-50 256x256 body
   networks, random weights, batch 1 and 8, FP32 and FP16 autocast.

Targets (issue): on the 2-core CPU with ONNX Runtime and body-lite, camera to
result p50 <= 33 ms with D={1}, and at most 10 % of it outside the networks.
Writes ``benchmarks/results/latency-<machine>.json`` and PNG plots beside it.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from trt_tracker.stream.tracker import PINNABLE_BACKENDS

from . import common

# ------------------------------------------------------------------ settings
BACKENDS = ("onnxruntime:cpu", "torch:cpu", "onnxruntime:cuda", "torch:cuda", "tensorrt:cuda")
MODELS = ("export/body-lite", "export/hand-lite")
PIPELINE_MODEL = "export/body-lite"
BATCHES = (1, 2, 4, 8)
STREAMS = (1, 2, 4, 8)
PIPELINE_DURATIONS = ("1", "1,2,3")  # camera-to-result runs
STREAM_DURATIONS = "1,2,3"
FULL_PRESETS = ("body-full-pose", "body-full-temporal")
FULL_BATCHES = (1, 8)
SOURCE_FPS = 30.0
SEED = 20_000_000                  # held-out synthetic test seeds (never trained on)
TARGET_P50_MS = 33.0
TARGET_OUTSIDE_SHARE = 0.10
#: full / quick run sizes
FULL = {"runs": 100, "warmup": 10, "frames": 300, "warmup_frames": 15, "stream_steps": 60, "stream_warmup": 5}
QUICK = {"runs": 30, "warmup": 5, "frames": 90, "warmup_frames": 10, "stream_steps": 20, "stream_warmup": 3}
MEASURE_BUDGET_S = 8.0             # model-only: at most about this long per measurement ...
MIN_RUNS = 20                      # ... but at least this many timed calls
#: camera-to-result stages: name in the report -> key in TrackResult.latency_ms (sink: timed here)
STAGES = {"capture": "queue", "preprocess": "preprocess", "frame_graph": "frame_graph",
          "temporal_graph": "temporal_graph", "solve": "solve", "postprocess": "postprocess", "sink": "sink"}
NETWORK_STAGES = ("frame_graph", "temporal_graph")
#: what opening or running a model on a backend raises when that backend cannot serve it here
#: (ModelError is a ValueError, BackendError a RuntimeError): recorded as skipped, the run goes on
OPEN_ERRORS = (ValueError, RuntimeError, ImportError, OSError)


class BenchError(Exception):
    """A setting this benchmark cannot run with (unknown backend, missing model, ...)."""


def log(msg: str) -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------ backends
def parse_backend(spec: str) -> tuple[str, str]:
    """``onnxruntime:cpu`` -> (backend, device); a bare name means its CPU form (tensorrt: cuda)."""
    name, _, device = spec.partition(":")
    device = device or ("cuda" if name == "tensorrt" else "cpu")
    if f"{name}:{device}" not in BACKENDS:
        raise BenchError(f"unknown backend {spec!r}; choose from {', '.join(BACKENDS)}")
    return name, device


def backend_unusable(name: str, device: str) -> str | None:
    """Why ``name`` on ``device`` cannot run here, or None when it can."""
    if name == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            return "onnxruntime is not installed"
        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            return f"this onnxruntime has no CUDA provider ({', '.join(ort.get_available_providers())})"
        return None
    if name == "torch":
        try:
            import torch
        except ImportError:
            return "torch is not installed (pip install 'trt_tracker[train]')"
        if device == "cuda" and not torch.cuda.is_available():
            return "PyTorch sees no CUDA GPU"
        return None
    try:  # tensorrt
        import tensorrt  # noqa: F401
    except (ImportError, OSError) as e:
        return f"tensorrt is not importable ({e})"
    if common.gpu_info() is None:
        return "no CUDA GPU usable through CuPy (the TensorRT backend's buffers)"
    return None


def default_threads() -> int:
    from trt_tracker.runtime.onnxruntime import default_threads as ort_default

    return ort_default()


def open_model(model_dir, spec: str, threads: int):
    from trt_tracker.stream.model import TrackerModel

    name, device = parse_backend(spec)
    return TrackerModel(model_dir, backend=name, device=device, threads=threads)


# ------------------------------------------------------------------ 1. model only
def graph_feeds(manifest: dict, graph: str, batch: int, rng) -> dict[str, np.ndarray]:
    """Random inputs for one exported graph of a model, shapes and dtypes from its manifest."""
    from trt_tracker.stream.model import example_feeds

    return example_feeds(manifest["graphs"][graph]["inputs"], batch, int(manifest["heatmap_size"]), rng)


def open_graphs(model_dir, spec: str, threads: int, max_batch: int):
    """{graph: Backend} for model-only timing, and the object to close afterwards.

    TensorRT engines are built here for batches 1..max_batch (the tracker's own
    engines cover 1..4); the other backends open through :class:`TrackerModel`.
    """
    from trt_tracker.stream.model import GRAPHS, load_manifest

    if parse_backend(spec)[0] != "tensorrt":
        m = open_model(model_dir, spec, threads)
        return m.graphs, m
    from trt_tracker.runtime.tensorrt import TensorRTBackend
    from trt_tracker.runtime.tensorrt_build import build_engine

    manifest = load_manifest(model_dir)
    graphs = {}

    class _Closer:
        def close(self):
            for b in graphs.values():
                b.close()

    try:
        for g in GRAPHS:
            engine = build_engine(Path(model_dir) / manifest["graphs"][g]["file"], batch_sizes=(1, max_batch))
            graphs[g] = TensorRTBackend(engine)
    except Exception:
        _Closer().close()
        raise
    return graphs, _Closer()


def model_only(backends, models, batches, runs, warmup, threads) -> tuple[list, list]:
    from trt_tracker.stream.model import GRAPHS, load_manifest

    rows, skipped = [], []
    rng = np.random.default_rng(0)
    for spec in backends:
        for model_dir in models:
            manifest = load_manifest(model_dir)
            name = Path(model_dir).name
            try:
                graphs, owner = open_graphs(model_dir, spec, threads, max(batches))
            except OPEN_ERRORS as e:  # a backend that cannot open this model: recorded, the rest goes on
                skipped.append({"what": f"model-only {spec} {name}", "reason": _reason(e)})
                log(f"[model] {spec} {name}: skipped ({_reason(e)})")
                continue
            try:
                for g in GRAPHS:
                    for b in batches:
                        feeds = graph_feeds(manifest, g, b, rng)
                        s = common.summary(timed(functools.partial(graphs[g].infer, feeds), runs, warmup), "ms")
                        rows.append({"backend": spec, "model": name, "graph": g, "batch": b, "ms": s,
                                     "items_per_s": b / (s["median"] / 1e3)})
                        log(f"[model] {spec:16s} {name:10s} {g:8s} batch {b:2d}: median {s['median']:7.2f} ms  "
                            f"p95 {s['p95']:7.2f}  p99 {s['p99']:7.2f}  ({b / s['median'] * 1e3:7.1f} items/s)")
            finally:
                owner.close()
    return rows, skipped


def timed(fn, runs: int, warmup: int, budget_s: float = MEASURE_BUDGET_S, sync=None) -> np.ndarray:
    """:func:`common.time_calls`, with fewer runs (at least ``MIN_RUNS``) where ``runs`` calls would take over
    ``budget_s`` (a slow backend at a large batch); the summary's ``n`` says how many were timed."""
    for _ in range(max(warmup, 1)):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        t_call = time.perf_counter() - t0
    return common.time_calls(fn, max(min(MIN_RUNS, runs), min(runs, int(budget_s / max(t_call, 1e-9)))), 0, sync)


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}" if str(e).strip() else type(e).__name__


# ------------------------------------------------------------------ 2. camera to result
class StageClock:
    """A sink around the run's sinks: times them (the ``sink`` stage) and stamps camera to result.

    Camera to result of a frame = its capture time to the moment the last sink
    has written its result; every record keeps the tracker's stage latencies.
    """

    def __init__(self, sinks):
        self.sinks = list(sinks)
        self.records: list[tuple[str, dict]] = []

    def write(self, res) -> None:
        t0 = time.monotonic()
        for s in self.sinks:
            s.write(res)
        t1 = time.monotonic()
        lat = dict(res.latency_ms)
        lat["sink"] = (t1 - t0) * 1e3
        lat["camera_to_result"] = (t1 - res.t_capture) * 1e3
        lat["t_capture"] = res.t_capture
        self.records.append((res.status, lat))

    def close(self) -> None:
        for s in self.sinks:
            s.close()


def stage_table(records) -> dict:
    """Per-frame stage arrays (ms) of StageClock records; ``other`` = camera to result - named stages."""
    c2r = np.array([lat["camera_to_result"] for _, lat in records])
    out = {s: np.array([lat.get(k, 0.0) for _, lat in records]) for s, k in STAGES.items()}
    out["other"] = c2r - sum(out.values())
    out["camera_to_result"] = c2r
    return out


def pipeline_latency(model, durations, frames: int, fps: float, warmup_frames: int, root_depth: str,
                     seed: int = SEED, pin: bool = True) -> dict:
    """One paced synthetic stream through the whole pipeline; stage and camera-to-result statistics.
    ``pin``: the pipeline keeps its tracking thread on one CPU (its default)."""
    from trt_tracker.stream.app import tracker_config
    from trt_tracker.stream.pipeline import run
    from trt_tracker.stream.sinks import JsonlSink
    from trt_tracker.stream.sources import SyntheticSource
    from trt_tracker.stream.tracker import Tracker

    kind = "hand" if model.modality == "depth" else "body"
    cfg = tracker_config(model.manifest, durations, root_depth=root_depth)
    # The generator renders at 50 fps; 30 does not divide it, so its 25 fps sub-sample is replayed at `fps`.
    src = SyntheticSource(kind, seed, frames, min(fps, 25.0), realtime=True)
    src.fps = float(fps)
    warm_model(model, len(cfg.durations))
    with tempfile.TemporaryDirectory() as tmp:
        clock = StageClock([JsonlSink(Path(tmp) / "track.jsonl")])
        summ = run(src, Tracker(model, cfg), [clock], pin=pin)
    if summ.error:
        raise RuntimeError(f"the pipeline stopped: {summ.error}")
    kept = clock.records[warmup_frames:]
    if len(kept) < 2:
        raise BenchError(f"only {len(clock.records)} frames came through ({summ.drops} dropped); "
                         f"use more --frames than the {warmup_frames} warm-up frames")
    st = stage_table(kept)
    c2r = st["camera_to_result"]
    outside = c2r - sum(st[s] for s in NETWORK_STAGES)
    t_cap = np.array([lat["t_capture"] for _, lat in kept])
    return {
        "backend": f"{model.backend_name}:{model.device}", "model": model.dir.name,
        "durations": list(cfg.durations), "alpha": cfg.alpha, "gamma": cfg.gamma, "root_depth": cfg.root_depth,
        "pinned": summ.pinned, "source_fps": fps, "frames_sent": frames, "frames_processed": summ.frames, "warmup_frames": warmup_frames,
        "measured_frames": len(kept), "drops": summ.drops, "lost": sum(s == "lost" for s, _ in kept),
        "fps": (len(kept) - 1) / (t_cap[-1] - t_cap[0]) if t_cap[-1] > t_cap[0] else float("nan"),
        "stages": {s: common.summary(st[s] / 1e3, "ms") for s in (*STAGES, "other")},
        "camera_to_result": common.summary(c2r / 1e3, "ms"),
        "outside_networks": {"ms": common.summary(outside / 1e3, "ms"),
                             "share_median": float(np.median(outside / c2r)),
                             "share_of_means": float(outside.mean() / c2r.mean())},
        "camera_to_result_samples_ms": np.round(c2r, 3).tolist(),
    }


def warm_model(model, n_durations: int, calls: int = 5) -> None:
    """A few calls at the tracker's shapes, so first-call allocations are not measured."""
    rng = np.random.default_rng(1)
    x = graph_feeds(model.manifest, "frame", 1, rng)["image"]
    t = graph_feeds(model.manifest, "temporal", max(n_durations, 1), rng)
    for _ in range(calls):
        model.frame(x)
        model.temporal(t["pair"], t["related"])


# ------------------------------------------------------------------ 3. many streams batched
def stream_frames(kind: str, streams: int, frames: int, seed: int = SEED) -> list[list]:
    """``streams`` synthetic sequences (seeds seed, seed+1, ...) of ``frames`` frames each, in memory."""
    from trt_tracker.stream.sources import SyntheticSource

    return [list(SyntheticSource(kind, seed + s, frames, 25.0)) for s in range(streams)]


def _step_each(trackers, frames) -> list:
    """The reference for a batched :class:`Tracker`: independent trackers, one after the other."""
    return [tr.step(f) for tr, f in zip(trackers, frames)]


def _time_steps(step, seqs, warmup: int, steps: int, batched=None):
    """Seconds per ``step(frames)`` over the sequences, the batched tracker's stage times, timed wall seconds."""
    secs, stages = [], []
    t_first = None
    for t in range(warmup + steps):
        frames = [seq[t] for seq in seqs]
        now = time.monotonic()
        for f in frames:
            f.t_capture = now          # the N cameras deliver together
        t0 = time.perf_counter()
        if t == warmup:
            t_first = t0
        step(frames)
        if t >= warmup:
            secs.append(time.perf_counter() - t0)
            if batched is not None:
                stages.append(dict(batched.step_ms))
    return np.array(secs), stages, time.perf_counter() - t_first


def multi_stream(model, durations, streams, steps: int, warmup: int, sequences) -> list[dict]:
    """Streams x fps and step latency of one :class:`Tracker` of N streams, beside N independent trackers."""
    from trt_tracker.stream.app import tracker_config
    from trt_tracker.stream.tracker import STEP_STAGES, Tracker

    cfg = tracker_config(model.manifest, durations)
    rows = []
    for n in streams:
        seqs = sequences[:n]
        warm_model(model, n * len(cfg.durations))

        bt = Tracker(model, cfg, streams=n)
        b_s, b_stages, b_wall = _time_steps(bt.step_batch, seqs, warmup, steps, bt)
        singles = [Tracker(model, cfg) for _ in range(n)]
        i_s, _, i_wall = _time_steps(functools.partial(_step_each, singles), seqs, warmup, steps)
        row = {"backend": f"{model.backend_name}:{model.device}", "model": model.dir.name,
               "durations": list(cfg.durations), "streams": n, "steps": steps, "warmup_steps": warmup,
               "frame_batch": n, "temporal_batch": n * len(cfg.durations),
               "step_ms": common.summary(b_s, "ms"), "streams_x_fps": n * steps / b_wall,
               "step_stages_ms": {k: common.summary(np.array([st[k] for st in b_stages]) / 1e3, "ms")
                                  for k in STEP_STAGES},
               "independent": {"step_ms": common.summary(i_s, "ms"), "streams_x_fps": n * steps / i_wall}}
        row["speedup_vs_independent"] = row["streams_x_fps"] / row["independent"]["streams_x_fps"]
        rows.append(row)
        log(f"[streams] {row['backend']:16s} {model.dir.name} N={n} D={list(cfg.durations)}: "
            f"{row['streams_x_fps']:6.1f} streams x fps batched (step p50 {row['step_ms']['median']:6.1f} ms), "
            f"{row['independent']['streams_x_fps']:6.1f} independent -> x{row['speedup_vs_independent']:.2f}")
    return rows


# ------------------------------------------------------------------ 4. full-size networks (CUDA)
def full_size(presets, batches, runs: int, warmup: int) -> list[dict]:
    """Model-only latency of the papers' full-size networks on CUDA, random weights, FP32 and FP16 autocast."""
    import torch

    from trt_tracker.export import example_inputs
    from trt_tracker.models import build_model, count_parameters
    from trt_tracker.train import preset

    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True      # fixed shapes: let cuDNN pick its fastest kernels once
    flags = {"cudnn_benchmark": True, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
             "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}
    rows = []
    for name in presets:
        cfg = preset(name).model
        net = build_model(cfg).to(dev).eval()
        for b in batches:
            xs = [torch.from_numpy(v).to(dev) for v in example_inputs(cfg, b).values()]
            for precision in ("fp32", "fp16"):
                call = functools.partial(_forward, torch, net, xs, precision == "fp16")
                s = common.summary(timed(call, runs, warmup, sync=torch.cuda.synchronize), "ms")
                rows.append({"network": name, "depth": cfg.depth, "input_size": cfg.input_size,
                             "parameters": count_parameters(net), "batch": b, "precision": precision, "ms": s,
                             "items_per_s": b / (s["median"] / 1e3), "torch_flags": flags,
                             "inputs": "device tensors (no host copies)"})
                log(f"[full-size] {name:20s} batch {b:2d} {precision}: median {s['median']:7.2f} ms  "
                    f"p95 {s['p95']:7.2f}  ({b / s['median'] * 1e3:8.1f} items/s)")
        del net
        torch.cuda.empty_cache()
    return rows


def _forward(torch, net, xs, fp16: bool) -> None:
    with torch.inference_mode(), torch.autocast("cuda", torch.float16, enabled=fp16):
        net(*xs)


# ------------------------------------------------------------------ targets, report, plots
def targets(pipeline_rows) -> dict:
    """The issue's targets, evaluated on the ONNX Runtime CPU body-lite D={1} run (when it ran)."""
    row = next((r for r in pipeline_rows if r["backend"] == "onnxruntime:cpu" and r["model"] == "body-lite"
                and r["durations"] == [1] and r.get("pinned", True)), None)
    if row is None:
        return {"evaluated": False, "reason": "no onnxruntime:cpu body-lite D={1} pipeline run"}
    p50 = row["camera_to_result"]["median"]
    share = row["outside_networks"]["share_median"]
    return {"evaluated": True, "backend": "onnxruntime:cpu", "model": "body-lite", "durations": [1],
            "camera_to_result_p50_ms": {"target": TARGET_P50_MS, "value": p50, "met": p50 <= TARGET_P50_MS},
            "outside_networks_share": {"target": TARGET_OUTSIDE_SHARE, "value": share,
                                       "met": share <= TARGET_OUTSIDE_SHARE,
                                       "definition": "median over frames of (camera to result - frame graph - "
                                                     "temporal graph) / camera to result"}}


def versions() -> dict:
    out = {}
    for mod in ("onnxruntime", "torch", "tensorrt", "cupy", "matplotlib"):
        try:
            out[mod] = __import__(mod).__version__
        except (ImportError, OSError, AttributeError):
            out[mod] = None
    return out


def headline(result: dict) -> list[str]:
    lines = []
    pipe = result.get("pipeline", [])
    if pipe:
        head = (f"{'backend':16s} {'model':10s} {'D':8s} {'thread':7s} {'cam->result p50/p95/p99 ms':>27s} "
                f"{'networks p50':>12s} {'outside':>8s} {'fps':>5s} {'drops':>5s}")
        lines += [f"camera to result, one stream at {pipe[0]['source_fps']:g} fps:", head, "-" * len(head)]
        for r in pipe:
            c, st = r["camera_to_result"], r["stages"]
            net = st["frame_graph"]["median"] + st["temporal_graph"]["median"]
            lines.append(f"{r['backend']:16s} {r['model']:10s} {','.join(map(str, r['durations'])):8s} "
                         f"{'pinned' if r.get('pinned', True) else 'free':7s} {c['median']:9.1f}/{c['p95']:7.1f}/{c['p99']:7.1f}   {net:12.1f} "
                         f"{r['outside_networks']['share_median'] * 100:7.1f}% {r['fps']:5.1f} {r['drops']:5d}")
    ms = result.get("multi_stream", [])
    if ms:
        lines.append("many streams batched (streams x fps, batched vs independent): " + ", ".join(
            f"{r['backend']} N={r['streams']} {r['streams_x_fps']:.0f} vs {r['independent']['streams_x_fps']:.0f}"
            for r in ms))
    load, cores = result.get("load_average", {}).get("start", [0.0])[0], result["machine"].get("cores") or 1
    if load > cores:
        lines.append(f"note: the machine was busy (load average {load:.1f} on {cores} cores): every time above "
                     "includes contention with other processes")
    t = result.get("targets", {})
    if t.get("evaluated"):
        a, b = t["camera_to_result_p50_ms"], t["outside_networks_share"]
        lines.append(f"TARGET onnxruntime:cpu body-lite D={{1}}: camera to result p50 {a['value']:.1f} ms "
                     f"(<= {a['target']:g}: {'met' if a['met'] else 'NOT met'}); outside the networks "
                     f"{b['value'] * 100:.1f} % (<= {b['target'] * 100:g} %: {'met' if b['met'] else 'NOT met'})")
    else:
        lines.append(f"targets not evaluated: {t.get('reason')}")
    return lines


def plots(result: dict, json_path: Path) -> list[str]:
    """Camera-to-result histograms, per-stage stacked bars, model-only latency vs batch: PNGs beside the JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    stem = json_path.with_suffix("")
    pipe = result.get("pipeline", [])
    if pipe:
        backends = list(dict.fromkeys(r["backend"] for r in pipe))
        fig, axes = plt.subplots(1, len(backends), figsize=(5.5 * len(backends), 3.8), squeeze=False)
        for ax, be in zip(axes[0], backends):
            rows = [r for r in pipe if r["backend"] == be]
            hi = max(np.percentile(r["camera_to_result_samples_ms"], 99.5) for r in rows)
            bins = np.linspace(0, max(hi, TARGET_P50_MS) * 1.05, 50)
            for r in rows:
                ax.hist(r["camera_to_result_samples_ms"], bins, alpha=0.55,
                        label=f"{_row_label(r)} p50 {r['camera_to_result']['median']:.1f} ms")
            ax.axvline(TARGET_P50_MS, color="k", ls="--", lw=1, label=f"target p50 {TARGET_P50_MS:g} ms")
            ax.set(title=f"camera to result, {be} ({rows[0]['model']})", xlabel="ms", ylabel="frames")
            ax.legend(fontsize=8)
        fig.tight_layout()
        out.append(_save(fig, f"{stem}-camera_to_result.png"))

        fig, ax = plt.subplots(figsize=(8, 0.6 * len(pipe) + 2.2))
        names = (*STAGES, "other")
        labels = [f"{r['backend']} {_row_label(r)}" for r in pipe]
        left = np.zeros(len(pipe))
        for s in names:
            v = np.array([r["stages"][s]["mean"] for r in pipe])
            ax.barh(labels, v, left=left, label=s)
            left += v
        ax.set(xlabel="mean ms per frame (sums to camera to result)", title="camera to result by stage")
        ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
        fig.tight_layout()
        out.append(_save(fig, f"{stem}-stages.png"))

    mo = result.get("model_only", [])
    if mo:
        models = list(dict.fromkeys(r["model"] for r in mo))
        fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 3.8), squeeze=False)
        for ax, m in zip(axes[0], models):
            for be in dict.fromkeys(r["backend"] for r in mo):
                for g, ls in (("frame", "-"), ("temporal", "--")):
                    rows = [r for r in mo if r["model"] == m and r["backend"] == be and r["graph"] == g]
                    if rows:
                        ax.plot([r["batch"] for r in rows], [r["ms"]["median"] for r in rows], ls, marker="o",
                                label=f"{be} {g}")
            ax.set(xscale="log", yscale="log", xlabel="batch", ylabel="median ms per call",
                   title=f"model only: {m}")
            ax.set_xticks(sorted({r["batch"] for r in mo}), [str(b) for b in sorted({r["batch"] for r in mo})])
            ax.legend(fontsize=7)
        fig.tight_layout()
        out.append(_save(fig, f"{stem}-model_batch.png"))

    ms = result.get("multi_stream", [])
    if ms:
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for be in dict.fromkeys(r["backend"] for r in ms):
            rows = [r for r in ms if r["backend"] == be]
            n = [r["streams"] for r in rows]
            ax.plot(n, [r["streams_x_fps"] for r in rows], "-o", label=f"{be} batched")
            ax.plot(n, [r["independent"]["streams_x_fps"] for r in rows], "--o", label=f"{be} independent")
        ax.set(xlabel="streams N", ylabel="streams x fps", xscale="log",
               title=f"many streams, D={{{','.join(map(str, ms[0]['durations']))}}}")
        ax.set_xticks(sorted({r["streams"] for r in ms}), [str(v) for v in sorted({r["streams"] for r in ms})])
        ax.legend(fontsize=7)
        fig.tight_layout()
        out.append(_save(fig, f"{stem}-streams.png"))
    return out


def _row_label(r: dict) -> str:
    return f"D={{{','.join(map(str, r['durations']))}}}" + ("" if r.get("pinned", True) else " thread free")


def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="trt-tracker bench latency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="body-lite, batch 1 2, streams 1 2, few frames (< 3 min)")
    ap.add_argument("--backends", nargs="+", metavar="NAME:DEVICE",
                    help=f"default: every usable one of {' '.join(BACKENDS)} (quick: the first usable)")
    ap.add_argument("--models", nargs="+", help=f"model-only: model dirs (default {' '.join(MODELS)}; quick: "
                                                "the pipeline model)")
    ap.add_argument("--model", default=PIPELINE_MODEL, help="pipeline and streams model (default %(default)s)")
    ap.add_argument("--batch", nargs="+", type=int, help=f"model-only batch sizes (default {BATCHES}; quick 1 2)")
    ap.add_argument("--runs", type=int, help="timed calls per model-only measurement (100; quick 30)")
    ap.add_argument("--warmup", type=int, help="untimed calls first (10; quick 5)")
    ap.add_argument("--threads", type=int, help="intra-op threads of every CPU backend (default: the tracker's "
                                                "default for this machine)")
    ap.add_argument("--frames", type=int, help="pipeline frames per duration set (300; quick 90)")
    ap.add_argument("--warmup-frames", type=int, help="first pipeline frames left out (15; quick 10)")
    ap.add_argument("--fps", type=float, default=SOURCE_FPS, help="paced source rate (default %(default)s)")
    ap.add_argument("--durations", nargs="+", default=list(PIPELINE_DURATIONS),
                    help="pipeline duration sets (default: 1 and 1,2,3)")
    ap.add_argument("--no-pin", action="store_true", help="leave the pipeline's tracking thread free to move "
                    "between CPUs (default: pinned, as `trt-tracker track`; D={1} is measured both ways)")
    ap.add_argument("--root-depth", default="auto", help="tracker root depth mode (auto: ground truth here)")
    ap.add_argument("--streams", nargs="+", type=int, help=f"batched stream counts (default {STREAMS}; quick 1 2)")
    ap.add_argument("--stream-steps", type=int, help="timed steps per stream count (60; quick 20)")
    ap.add_argument("--stream-durations", default=STREAM_DURATIONS, help="streams' duration set (%(default)s)")
    ap.add_argument("--skip", nargs="+", default=[], choices=("model", "pipeline", "streams", "full-size"),
                    help="leave parts out")
    ap.add_argument("--no-plots", action="store_true")
    ap.add_argument("--out", help="result JSON, or a folder for latency-<machine>.json (default benchmarks/results)")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except BenchError as e:
        print(f"trt-tracker bench latency: error: {e}", file=sys.stderr)
        return 2


def _main(args) -> int:
    from trt_tracker.stream.model import ModelError, load_manifest
    from trt_tracker.stream.tracker import parse_durations

    t_start = time.perf_counter()
    size = QUICK if args.quick else FULL
    runs, warmup = args.runs or size["runs"], args.warmup or size["warmup"]
    frames = args.frames or size["frames"]
    warmup_frames = size["warmup_frames"] if args.warmup_frames is None else args.warmup_frames
    batches = tuple(args.batch or ((1, 2) if args.quick else BATCHES))
    streams = tuple(args.streams or ((1, 2) if args.quick else STREAMS))
    models = list(args.models or ([args.model] if args.quick else MODELS))
    if min(batches) < 1 or min(streams) < 1 or runs < 1 or frames < 2:
        raise BenchError("batch sizes, stream counts, --runs and --frames must be positive (--frames >= 2)")
    if frames <= warmup_frames + 1:
        raise BenchError(f"--frames ({frames}) must exceed the warm-up frames ({warmup_frames}) by 2 or more")
    try:
        duration_sets = [parse_durations(d) for d in args.durations]
        stream_durations = parse_durations(args.stream_durations)
    except ValueError as e:
        raise BenchError(str(e)) from None
    manifests = {}
    for m in dict.fromkeys(models + [args.model]):
        try:
            manifests[m] = load_manifest(m)
        except ModelError as e:
            raise BenchError(f"model {m}: {e}") from None

    requested = args.backends or list(BACKENDS)
    specs = [":".join(parse_backend(b)) for b in requested]
    backends, skipped = [], []
    for spec in dict.fromkeys(specs):
        why = backend_unusable(*parse_backend(spec))
        backends.append({"name": spec, "usable": why is None, "reason": why})
        if why:
            skipped.append({"what": f"backend {spec}", "reason": why})
            log(f"[backends] {spec}: skipped ({why})")
    usable = [b["name"] for b in backends if b["usable"]]
    if not usable:
        raise BenchError(f"none of the backends {', '.join(specs)} is usable here: "
                         + "; ".join(f"{b['name']}: {b['reason']}" for b in backends))
    if args.quick and not args.backends:   # quick: the first usable backend (onnxruntime:cpu) only
        skipped += [{"what": f"backend {b}", "reason": "--quick runs the first usable backend only"}
                    for b in usable[1:]]
        usable = usable[:1]
    threads = args.threads or default_threads()
    log(f"[latency] backends {', '.join(usable)}; {threads} CPU thread(s) per backend; "
        f"{'quick' if args.quick else 'full'} run")

    result = {"benchmark": "latency", "machine": common.machine_info(), "versions": versions(),
              "load_average": {"start": list(os.getloadavg())},
              "settings": {"quick": args.quick, "runs": runs, "warmup": warmup, "threads": threads,
                           "batches": list(batches), "models": models, "pipeline_model": args.model,
                           "source_fps": args.fps, "frames": frames, "warmup_frames": warmup_frames,
                           "duration_sets": [list(d) for d in duration_sets], "streams": list(streams),
                           "stream_durations": list(stream_durations), "root_depth": args.root_depth},
              "backends": backends, "skipped": skipped}

    if "model" not in args.skip:
        result["model_only"], sk = model_only(usable, models, batches, runs, warmup, threads)
        skipped += sk

    pipeline_rows, stream_rows = [], []
    need_pipeline = "pipeline" not in args.skip
    need_streams = "streams" not in args.skip
    sequences = None
    if need_streams:
        kind = "hand" if manifests[args.model]["modality"] == "depth" else "body"
        steps = args.stream_steps or size["stream_steps"]
        log(f"[streams] rendering {max(streams)} synthetic {kind} sequences of {steps + size['stream_warmup']} frames")
        sequences = stream_frames(kind, max(streams), steps + size["stream_warmup"])
    for spec in (usable if need_pipeline or need_streams else []):
        try:
            model = open_model(args.model, spec, threads)
        except OPEN_ERRORS as e:
            skipped.append({"what": f"pipeline/streams {spec} {Path(args.model).name}", "reason": _reason(e)})
            log(f"[pipeline] {spec}: skipped ({_reason(e)})")
            continue
        with model:
            if need_pipeline:
                # every duration set with the pipeline's default (its thread pinned), the first also free:
                # the pinning's effect side by side
                runs_pin = [(ds, not args.no_pin) for ds in duration_sets]
                if not args.no_pin and duration_sets and model.backend_name in PINNABLE_BACKENDS:
                    runs_pin.insert(1, (duration_sets[0], False))
                for ds, pin in runs_pin:
                    log(f"[pipeline] {spec} {model.dir.name} D={list(ds)}, thread {'pinned' if pin else 'free'}: "
                        f"{frames} frames at {args.fps:g} fps (~{frames / args.fps:.0f} s)")
                    r = pipeline_latency(model, ds, frames, args.fps, warmup_frames, args.root_depth, pin=pin)
                    pipeline_rows.append(r)
                    c, o = r["camera_to_result"], r["outside_networks"]
                    log(f"[pipeline]   camera to result p50 {c['median']:.1f} p95 {c['p95']:.1f} p99 {c['p99']:.1f} ms;"
                        f" outside the networks {o['share_median'] * 100:.1f} %; {r['fps']:.1f} fps, "
                        f"{r['drops']} dropped; stages p50: " + ", ".join(
                            f"{s} {r['stages'][s]['median']:.2f}" for s in (*STAGES, "other")))
            if need_streams:
                try:
                    stream_rows += multi_stream(model, stream_durations, streams, steps, size["stream_warmup"],
                                                sequences)
                except OPEN_ERRORS as e:   # e.g. a TensorRT engine profile smaller than N x |D|
                    skipped.append({"what": f"streams {spec}", "reason": _reason(e)})
                    log(f"[streams] {spec}: skipped ({_reason(e)})")
    if need_pipeline:
        result["pipeline"] = pipeline_rows
    if need_streams:
        result["multi_stream"] = stream_rows

    if "full-size" not in args.skip:
        if "torch:cuda" in usable:
            full_batches = FULL_BATCHES if not args.quick else (1,)
            result["full_size"] = full_size(FULL_PRESETS, full_batches, runs, warmup)
        else:
            why = "needs PyTorch with a CUDA GPU" + ("" if "torch:cuda" in specs else " (torch:cuda not requested)")
            skipped.append({"what": "full-size networks", "reason": why})
            log(f"[full-size] skipped ({why})")

    result["targets"] = targets(pipeline_rows)
    result["load_average"]["end"] = list(os.getloadavg())
    result["wall_s"] = time.perf_counter() - t_start
    path = _result_path(args.out, result["machine"], args.quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not args.no_plots:
        result["plots"] = plots(result, path)
    result["headline"] = headline(result)
    common.write_result("latency", result, path)
    log("")
    for line in result["headline"]:
        log(line)
    log(f"wrote {path}" + (f" and {len(result.get('plots', []))} plots" if result.get("plots") else "")
        + f" in {result['wall_s']:.0f} s")
    return 0


def _result_path(out, machine: dict, quick: bool = False) -> Path:
    # A quick run never replaces the committed full result (like tradeoff-quick.json).
    name = f"latency-{common.machine_tag(machine)}{'-quick' if quick else ''}.json"
    if out is None:
        return common.RESULTS / name
    p = Path(out)
    return p if p.suffix == ".json" else p / name


if __name__ == "__main__":
    raise SystemExit(main())
