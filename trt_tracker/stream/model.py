"""A shipped model on a backend: manifest.json + frame graph + temporal graph (DESIGN §4, §5).

:class:`TrackerModel` reads ``export/<name>/manifest.json``, checks the ONNX
files against it, opens both graphs on the chosen backend and exposes the two
calls the tracker makes, in the network frame:

* ``frame(images (N, C, S, S)) -> joints (N, K, 3), bones (N, K, 3), confidence (N, K)``
* ``temporal(pairs (N, 2C, S, S), related (N, K, 2)) -> displacements (N, K, 3)``

ONNX Runtime needs no PyTorch; the PyTorch backend rebuilds the same graphs
from the weights (``pose.pt``, ``spatial.pt``, ``temporal.pt``).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..codec import Z_REFS, LocaliserCodec, PoseCodec
from ..runtime.base import BackendError
from ..skeleton import get_skeleton
from ..solver import SpatialFusion

MANIFEST = "manifest.json"
GRAPHS = ("frame", "temporal")
LOCALISER = "localiser"          # optional: manifest["graphs"]["localiser"] and manifest["localiser"]


class ModelError(ValueError):
    """A model directory is missing, incomplete, corrupt or inconsistent with its manifest."""


def load_manifest(model_dir) -> dict:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(f"model directory {model_dir} not found (shipped models: export/body-lite, export/hand-lite)")
    f = model_dir / MANIFEST
    if not f.is_file():
        raise ModelError(f"{model_dir} has no {MANIFEST}; export the model first: "
                         f"trt-tracker export --model {model_dir}")
    try:
        m = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{f} is not valid JSON ({e}); re-export: trt-tracker export --model {model_dir}") from None
    if not isinstance(m, dict) or m.get("format") != "trt_tracker.manifest":
        raise ModelError(f"{f} is not a trt_tracker manifest")
    if m.get("version") != 1:
        raise ModelError(f"{f} has manifest version {m.get('version')}; this trt_tracker reads version 1")
    for key in ("skeleton", "modality", "input_size", "heatmap_size", "cube_mm", "margin", "graphs"):
        if key not in m:
            raise ModelError(f"{f} lacks {key!r}; re-export: trt-tracker export --model {model_dir}")
    for g in GRAPHS:
        if g not in m["graphs"]:
            raise ModelError(f"{f} lists no {g!r} graph; re-export: trt-tracker export --model {model_dir}")
    return m


def example_feeds(inputs, batch: int, heatmap_size: int, rng=0) -> dict[str, np.ndarray]:
    """Random inputs for a graph from its input specs (``{name, shape, dtype}`` as in a manifest's
    ``graphs``): images ~ N(0, 1), related joints uniform inside the heatmap.  ``rng``: a seed or a
    NumPy Generator.  The one helper behind export parity checks, benchmarks and backend tests."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    feeds = {}
    for s in inputs:
        shape = [batch] + [int(d) for d in s["shape"][1:]]
        a = rng.random(shape) * (heatmap_size - 1) if s["name"] == "related" else rng.normal(size=shape)
        feeds[s["name"]] = a.astype(s.get("dtype", "float32"))
    return feeds


def _check_io(backend, spec: dict, where: str) -> None:
    """The backend's inputs/outputs must be the manifest's (names, ranks, static dims)."""
    for kind in ("inputs", "outputs"):
        got = {s.name: s for s in getattr(backend, kind)}
        want = {s["name"]: s for s in spec[kind]}
        if set(got) != set(want):
            raise ModelError(f"{where}: graph {kind} {sorted(got)} do not match the manifest's {sorted(want)}; "
                             "the ONNX file and manifest.json come from different exports - re-export")
        for n, w in want.items():
            g = got[n]
            ws = tuple(w["shape"])
            if len(g.shape) != len(ws) or any(a is not None and b is not None and a != b for a, b in zip(g.shape, ws)):
                raise ModelError(f"{where}: {kind[:-1]} {n!r} has shape {g.shape} in the graph but {ws} in the "
                                 "manifest - re-export")


class TrackerModel:
    """``TrackerModel(model_dir, backend="onnxruntime", device="cpu", **backend_options)``."""

    def __init__(self, model_dir, backend: str = "onnxruntime", device: str = "cpu", threads: int | None = None,
                 precision: str = "fp32", cuda_graph: bool = False, engines_dir="engines", verify: bool = True):
        self.dir = Path(model_dir)
        self.manifest = m = load_manifest(self.dir)
        try:
            self.skeleton = get_skeleton(m["skeleton"]["name"])
        except KeyError as e:
            raise ModelError(f"{self.dir}: {e.args[0]}") from None
        if list(self.skeleton.parents) != list(m["skeleton"]["parents"]):
            raise ModelError(f"{self.dir}: the manifest's {self.skeleton.name} parents differ from this version's")
        # the tracker's spatial fusion (trt-tracker calibrate): each frame's joints and bones fused by generalised
        # least squares in place of the bone term, when the tuned variant asks for it
        self.fusion = None
        if m.get("fusion"):
            f = self.dir / str(m["fusion"].get("file", ""))
            if not f.is_file():
                raise ModelError(f"{f} is missing; calibrate again (trt-tracker calibrate --model {self.dir}) and "
                                 "re-export")
            if verify and "sha256" in m["fusion"] and hashlib.sha256(f.read_bytes()).hexdigest() != m["fusion"]["sha256"]:
                raise ModelError(f"{f} does not match its manifest (sha256 differs); re-export: trt-tracker export "
                                 f"--model {self.dir}")
            try:
                self.fusion = SpatialFusion.load(f, self.skeleton)
            except ValueError as e:
                raise ModelError(str(e)) from None
        self.modality = m["modality"]
        self.codec = PoseCodec(int(m["input_size"]), int(m["heatmap_size"]), float(m["cube_mm"]))
        self.margin = float(m["margin"])
        # "centre": the frame graph's joint z is relative to the crop's depth centre, so it gives the root's
        # depth too (older manifests: root-relative)
        self.z_ref = m.get("z_ref", "root")
        if self.z_ref not in Z_REFS:
            raise ModelError(f"{self.dir}: unknown z_ref {self.z_ref!r} in the manifest; re-export")
        self.backend_name = backend
        self.device = device
        self.graphs = {}
        # the optional full-frame localiser (issue 14): where the subject is, at start, after a loss, as a check
        self.localiser = None
        if LOCALISER in m["graphs"]:
            spec = m.get("localiser") or {}
            try:
                self.localiser = LocaliserCodec(int(spec["input_size"]), str(spec["modality"]))
            except (KeyError, TypeError, ValueError) as e:
                raise ModelError(f"{self.dir}: the manifest's localiser entry is incomplete ({e}); re-export") from None
            if self.localiser.modality != self.modality:
                raise ModelError(f"{self.dir}: a {self.localiser.modality} localiser for a {self.modality} model")
        try:
            for g in GRAPHS + ((LOCALISER,) if self.localiser is not None else ()):
                self.graphs[g] = self._open(g, backend, device, threads, precision, cuda_graph, engines_dir, verify)
        except Exception:
            self.close()
            raise

    # ----------------------------------------------------------- loading
    def _onnx_path(self, g: str, verify: bool) -> Path:
        spec = self.manifest["graphs"][g]
        p = self.dir / spec["file"]
        if not p.is_file():
            raise ModelError(f"{p} is missing; re-export: trt-tracker export --model {self.dir}")
        if verify and "sha256" in spec:
            h = hashlib.sha256(p.read_bytes()).hexdigest()
            if h != spec["sha256"]:
                raise ModelError(f"{p} does not match its manifest (sha256 differs): the file is corrupt or from "
                                 f"another export; re-export: trt-tracker export --model {self.dir}")
        return p

    def _open(self, g, backend, device, threads, precision, cuda_graph, engines_dir, verify):
        spec = self.manifest["graphs"][g]
        where = f"{self.dir.name}/{spec['file']}"
        if backend == "onnxruntime":
            from ..runtime.onnxruntime import OnnxRuntimeBackend

            b = OnnxRuntimeBackend(self._onnx_path(g, verify), device=device, threads=threads)
        elif backend == "torch":
            from ..runtime.torch import TorchBackend

            b = TorchBackend(self._torch_graph(g), spec["inputs"], spec["outputs"], device=device,
                             cuda_graph=cuda_graph, threads=threads)
        elif backend == "tensorrt":
            from ..runtime.tensorrt import TensorRTBackend
            from ..runtime.tensorrt_build import build_engine

            engine = build_engine(self._onnx_path(g, verify), precision=precision, cache_dir=engines_dir)
            b = TensorRTBackend(engine, cuda_graph=cuda_graph)
        else:
            raise BackendError(f"unknown backend {backend!r}; choose onnxruntime, torch or tensorrt")
        _check_io(b, spec, where)
        return b

    def _torch_graph(self, g: str):
        if g == LOCALISER:
            from ..models.graphs import load_localiser

            p = self.dir / "localiser.pt"
            if not p.is_file():
                raise ModelError(f"the PyTorch backend needs {p} (the localiser's weights); use --backend "
                                 "onnxruntime for an ONNX-only model")
            return load_localiser(p)[0]
        if not hasattr(self, "_torch_graphs"):
            from ..models.graphs import build_graphs, load_model_dir

            for n in ("pose", "spatial", "temporal"):
                if not (self.dir / f"{n}.pt").is_file():
                    raise ModelError(f"the PyTorch backend needs {self.dir / (n + '.pt')} (the weights); "
                                     "use --backend onnxruntime for an ONNX-only model")
            self._torch_graphs = build_graphs(load_model_dir(self.dir))
        return self._torch_graphs[g]

    # ----------------------------------------------------------- calls
    def _run(self, g: str, feeds: dict) -> dict:
        out = self.graphs[g].infer(feeds)
        for n, a in out.items():
            if not np.all(np.isfinite(a)):
                raise BackendError(f"the {self.backend_name} backend returned NaN/inf in {g} graph output {n!r} "
                                   f"({self.dir.name}); the model file may be damaged or the backend misconfigured "
                                   "(try --backend onnxruntime, or re-export)")
        return out

    def frame(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Joints (N, K, 3), bones (N, K, 3) and per-joint confidence (N, K) (None from an export that
        predates it)."""
        out = self._run("frame", {"image": np.ascontiguousarray(images, np.float32)})
        return out["joints"], out["bones"], out.get("confidence")

    def temporal(self, pairs: np.ndarray, related: np.ndarray) -> np.ndarray:
        out = self._run("temporal", {"pair": np.ascontiguousarray(pairs, np.float32),
                                     "related": np.ascontiguousarray(related, np.float32)})
        return out["displacements"]

    def localise(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Letterboxed whole frames (N, C, S, S) (:meth:`LocaliserCodec.encode`) -> presence (N,) in [0, 1] and
        box (N, 3) (:meth:`LocaliserCodec.decode` maps a row to a crop box in the frame)."""
        if self.localiser is None:
            raise ModelError(f"{self.dir.name} has no localiser (export a model directory with localiser.pt)")
        out = self._run(LOCALISER, {"frame": np.ascontiguousarray(frames, np.float32)})
        return out["presence"], out["box"]

    def close(self) -> None:
        for b in self.graphs.values():
            b.close()
        self.graphs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
