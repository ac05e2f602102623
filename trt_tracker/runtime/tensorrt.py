"""TensorRT backend (DESIGN §5): run a serialized engine.

:class:`TensorRTBackend` loads an engine (built by
:func:`trt_tracker.runtime.tensorrt_build.build_engine`) and runs it with
``execute_async_v3`` on CuPy device buffers and a CuPy stream (no pycuda),
optionally replaying a captured CUDA graph while the input shapes stay fixed.

Nothing here imports TensorRT or CuPy at import time: each is imported where
it is needed and its absence is a :class:`BackendError` that says how to
install it.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .base import Backend, BackendError, TensorSpec

_LOGGER = None


def _import_trt():
    try:
        import tensorrt as trt
    except (ImportError, OSError) as e:
        raise BackendError(
            f"TensorRT is not importable ({e}). It is published on NVIDIA's package index, not PyPI: "
            "`pip install --extra-index-url https://pypi.nvidia.com tensorrt` (TensorRT >= 10 and an NVIDIA "
            "driver for its CUDA), or use the onnxruntime backend, which needs neither.") from None
    return trt


def _import_cupy():
    """CuPy with at least one CUDA device, or a BackendError saying what is missing."""
    try:
        import cupy as cp
    except ImportError as e:
        raise BackendError(f"the TensorRT backend needs CuPy for device buffers and streams ({e}): "
                           "pip install 'trt_tracker[gpu]' (cupy-cuda12x; cupy-cuda13x for CUDA 13)") from None
    try:
        n = cp.cuda.runtime.getDeviceCount()
    except Exception:  # CUDARuntimeError when there is no driver
        n = 0
    if n < 1:
        raise BackendError("CuPy sees no CUDA device (no NVIDIA GPU or driver here); TensorRT needs one. "
                           "Use the onnxruntime backend on this machine.")
    return cp


def _logger(trt):
    """One TensorRT logger per process (TensorRT warns when runtimes/builders get different ones)."""
    global _LOGGER
    if _LOGGER is None:
        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER


class TensorRTBackend(Backend):
    """``TensorRTBackend(engine, device_outputs=False, cuda_graph=False)``: run a serialized engine.

    ``engine``: a path or the engine's bytes.  ``infer`` takes NumPy arrays (copied to the GPU) or
    CuPy arrays (used in place; the backend's stream waits for the caller's current stream) and
    returns NumPy arrays, or CuPy arrays (copies, ready on the caller's current stream) with
    ``device_outputs``.  The optimisation profile is chosen from the input shapes.  With
    ``cuda_graph`` one execution is captured per set of input shapes and replayed; a new shape
    re-captures.  Runs on the current CUDA device.
    """

    name = "tensorrt"

    def __init__(self, engine, device_outputs: bool = False, cuda_graph: bool = False):
        trt = _import_trt()
        self._cp = cp = _import_cupy()
        if isinstance(engine, (str, os.PathLike)):
            p = Path(engine)
            if not p.is_file():
                raise BackendError(f"TensorRT engine {p} not found; build it with build_engine()")
            data, self.source = p.read_bytes(), str(p)
        else:
            data, self.source = bytes(engine), "<bytes>"
        self._runtime = trt.Runtime(_logger(trt))
        self._engine = self._runtime.deserialize_cuda_engine(data)
        if self._engine is None:
            raise BackendError(f"TensorRT {trt.__version__} cannot deserialize {self.source}: the file is corrupt "
                               "or was built by another TensorRT version or for another GPU; delete it and "
                               "rebuild it with build_engine()")
        self._context = self._engine.create_execution_context()
        self._stream = cp.cuda.Stream(non_blocking=True)
        self.device_outputs, self.cuda_graph = bool(device_outputs), bool(cuda_graph)
        e = self._engine
        names = [e.get_tensor_name(i) for i in range(e.num_io_tensors)]
        specs = {n: TensorSpec(n, tuple(d if d >= 0 else None for d in e.get_tensor_shape(n)),
                               np.dtype(trt.nptype(e.get_tensor_dtype(n))).name) for n in names}
        self.inputs = [specs[n] for n in names if e.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [specs[n] for n in names if e.get_tensor_mode(n) != trt.TensorIOMode.INPUT]
        # per profile: {input: (min, opt, max) shapes}
        self._ranges = [{s.name: [tuple(d) for d in e.get_tensor_profile_shape(s.name, p)] for s in self.inputs}
                        for p in range(e.num_optimization_profiles)]
        self._profile, self._shapes, self._graph = 0, None, None
        self._in, self._out, self._bound = {}, {}, {}

    def _pick_profile(self, shapes: dict) -> int:
        for p, ranges in enumerate(self._ranges):
            if all(all(lo <= d <= hi for d, lo, hi in zip(shapes[n], r[0], r[2])) for n, r in ranges.items()):
                return p
        have = "; ".join(", ".join(f"{n} {r[0]}..{r[2]}" for n, r in ranges.items()) for ranges in self._ranges)
        raise BackendError(f"{self.name}: input shapes {shapes} are outside the engine's optimisation profiles "
                           f"({have}); rebuild it with build_engine(..., batch_sizes=...) covering them")

    def _reshape(self, shapes: dict) -> None:
        """Select the profile, set input shapes, allocate input/output buffers; drops the CUDA graph."""
        cp, ctx = self._cp, self._context
        self._stream.synchronize()  # buffers about to be freed may still be in use
        p = self._pick_profile(shapes)
        if p != self._profile:
            ctx.set_optimization_profile_async(p, self._stream.ptr)
            self._profile = p
        for s in self.inputs:
            if not ctx.set_input_shape(s.name, shapes[s.name]):
                raise BackendError(f"{self.name}: TensorRT rejected shape {shapes[s.name]} for input {s.name!r}")
            self._in[s.name] = cp.empty(shapes[s.name], dtype=s.dtype)
        for s in self.outputs:
            shape = tuple(ctx.get_tensor_shape(s.name))
            if any(d < 0 for d in shape):
                raise BackendError(f"{self.name}: output {s.name!r} has a data-dependent shape {shape}, "
                                   "which this backend does not support")
            self._out[s.name] = cp.empty(shape, dtype=s.dtype)
            ctx.set_tensor_address(s.name, self._out[s.name].data.ptr)
        self._shapes, self._graph = shapes, None

    def _execute(self) -> None:
        if not self._context.execute_async_v3(self._stream.ptr):
            raise BackendError(f"{self.name}: execute_async_v3 failed for {self.source}; the TensorRT log says why")

    def _capture(self) -> None:
        """Capture one execution into a CUDA graph (after one plain run: TensorRT applies shape changes lazily)."""
        cp = self._cp
        self._execute()
        self._stream.synchronize()
        self._stream.begin_capture()
        try:
            ok = self._context.execute_async_v3(self._stream.ptr)
        finally:
            try:
                graph = self._stream.end_capture()
            except cp.cuda.runtime.CUDARuntimeError as e:
                raise BackendError(f"{self.name}: this engine cannot be captured into a CUDA graph ({e}); "
                                   "use cuda_graph=False") from None
        if not ok:
            raise BackendError(f"{self.name}: execute_async_v3 failed during CUDA-graph capture; use cuda_graph=False")
        self._graph = graph

    def _infer(self, feeds: dict) -> dict:
        cp = self._cp
        shapes = {s.name: tuple(feeds[s.name].shape) for s in self.inputs}
        if shapes != self._shapes:
            self._reshape(shapes)
        if any(isinstance(a, cp.ndarray) for a in feeds.values()):
            self._stream.wait_event(cp.cuda.get_current_stream().record())
        with self._stream:
            for s in self.inputs:
                a, buf = feeds[s.name], self._in[s.name]
                if isinstance(a, cp.ndarray) and not self.cuda_graph:
                    buf = self._bound[s.name] = cp.ascontiguousarray(a)  # kept alive until the next call
                elif isinstance(a, cp.ndarray):
                    cp.copyto(buf, a)  # a captured graph reads fixed addresses
                else:
                    buf.set(np.ascontiguousarray(a), stream=self._stream)
                self._context.set_tensor_address(s.name, buf.data.ptr)
            if not self.cuda_graph:
                self._execute()
            else:
                if self._graph is None:
                    self._capture()
                self._graph.launch(self._stream)
            if not self.device_outputs:
                return {n: b.get(stream=self._stream) for n, b in self._out.items()}
            out = {n: b.copy() for n, b in self._out.items()}
        cp.cuda.get_current_stream().wait_event(self._stream.record())
        return out

    def _close(self) -> None:
        """Free the CUDA graph, buffers, execution context, engine and runtime (in that order)."""
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.synchronize()
        self._graph, self._in, self._out, self._bound = None, {}, {}, {}
        self._context = None
        self._engine = None
        self._runtime = None
