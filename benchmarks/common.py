"""Shared benchmark plumbing: machine description, timing, result files.

Benchmarks report medians and tail percentiles after a warm-up, and ratios
measured side by side in one run (these machines are shared and noisy).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def gpu_info() -> dict | None:
    """Name and compute capability of GPU 0 through CuPy, or None when no GPU is usable."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        return {"name": name, "compute_capability": f"{props['major']}.{props['minor']}",
                "memory_gib": round(props["totalGlobalMem"] / 2**30, 1), "cupy": cupy.__version__}
    except Exception:
        return None


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict:
    import scipy

    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "commit": git_commit(),
        "gpu": gpu_info(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }
    try:
        import cv2

        info["opencv"] = cv2.__version__
    except ImportError:
        pass
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def machine_tag(info: dict | None = None) -> str:
    """Short name for result files: ``cpu`` or the GPU's name (e.g. ``nvidia-h100-80gb-hbm3``)."""
    info = info or machine_info()
    if info.get("gpu"):
        return "gpu-" + "".join(c if c.isalnum() else "-" for c in info["gpu"]["name"].lower()).strip("-")
    return "cpu"


def cpu_times() -> np.ndarray | None:
    """Aggregate CPU times from /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal), or None."""
    try:
        with open("/proc/stat") as f:
            return np.array(f.readline().split()[1:9], dtype=np.int64)
    except (OSError, ValueError):
        return None


def steal_fraction(before: np.ndarray | None, after: np.ndarray | None) -> float | None:
    """Share of CPU time the hypervisor gave to other guests between two :func:`cpu_times` (noisy-host check)."""
    if before is None or after is None:
        return None
    d = after - before
    return round(float(d[7] / max(d.sum(), 1)), 4)


def time_calls(fn, repeat: int, warmup: int = 10, sync=None) -> np.ndarray:
    """Seconds per call of ``fn()`` (``sync()`` after each call for device timing)."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    out = np.empty(repeat)
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        out[i] = time.perf_counter() - t0
    return out


def summary(seconds: np.ndarray, unit: str = "us") -> dict:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    s = np.asarray(seconds) * scale
    return {"unit": unit, "n": int(s.size), "median": float(np.median(s)), "p95": float(np.percentile(s, 95)),
            "p99": float(np.percentile(s, 99)), "mean": float(s.mean()), "min": float(s.min())}


def quick_out_parser(doc: str, name: str, quick_help: str = "a smoke run"):
    """A benchmark's argument parser with ``--quick`` and ``--out`` (its result JSON), to add to."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--out", help=f"result JSON (default benchmarks/results/{name}.json)")
    return ap


def quick_out_args(doc: str, name: str, argv=None, quick_help: str = "a smoke run"):
    """The arguments of a benchmark with only ``--quick`` and ``--out`` (its result JSON)."""
    return quick_out_parser(doc, name, quick_help).parse_args(argv)


def write_timed(name: str, payload: dict, args, t0: float) -> Path:
    """Stamp ``wall_s`` (since ``t0``, a perf_counter reading) and write ``name[-quick].json`` (or
    ``args.out``) for a benchmark parsed by :func:`quick_out_args`; says where."""
    import time

    payload["wall_s"] = round(time.perf_counter() - t0, 1)
    path = write_result(name + ("-quick" if args.quick else ""), payload, args.out)
    print(f"wrote {path} in {payload['wall_s']:.0f} s", flush=True)
    return path


def write_result(name: str, payload: dict, out: str | Path | None = None) -> Path:
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    os.replace(tmp, path)
    return path


def grid_edges(grid, best) -> list[str]:
    """Parameters whose chosen value is the smallest or largest the grid tried (widen the grid)."""
    out = []
    for k, v in best.items():
        values = sorted({p[k] for p in grid})
        if len(values) > 1 and v in (values[0], values[-1]):
            out.append(k)
    return out
