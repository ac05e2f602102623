"""ONNX Runtime backend: the default everywhere (CPU; CUDA provider when present)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .base import Backend, BackendError, TensorSpec

_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
              "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(double)": "float64"}


def default_threads() -> int:
    """Intra-op threads: every core on machines of up to 2 (the capture thread mostly waits, and one
    thread would leave a core idle during the networks), else all cores but one for the capture and
    solver threads, at most 8.  Spinning is off (see :class:`OnnxRuntimeBackend`), so waiting threads
    do not fight the capture thread for the CPU.
    """
    n = os.cpu_count() or 1
    return max(1, min(8, n - 1)) if n > 2 else n


class OnnxRuntimeBackend(Backend):
    """``OnnxRuntimeBackend(path_or_bytes, device="cpu"|"cuda", threads=None)``.

    ``threads``: intra-op threads (default :func:`default_threads`); inter-op is 1 (the graphs are
    sequential).  Spinning is switched off so idle sessions do not burn the cores the capture
    thread needs.
    """

    name = "onnxruntime"

    def __init__(self, model, device: str = "cpu", threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - a core dependency
            raise BackendError("onnxruntime is not installed: pip install onnxruntime") from e
        if isinstance(model, (str, Path)):
            p = Path(model)
            if not p.is_file():
                raise BackendError(f"ONNX model {p} not found; export it with `trt-tracker export`")
            model = p.read_bytes()
            self.source = str(p)
        else:
            self.source = "<bytes>"
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise BackendError("device cuda asked for, but this onnxruntime has no CUDA provider; install "
                                   "onnxruntime-gpu or use --device cpu")
            idx = int(device.split(":")[1]) if ":" in device else 0
            providers = [("CUDAExecutionProvider", {"device_id": idx}), "CPUExecutionProvider"]
        elif device == "cpu":
            providers = ["CPUExecutionProvider"]
        else:
            raise BackendError(f"unknown device {device!r}; use cpu, cuda or cuda:N")
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads or default_threads())
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model, so, providers=providers)
        except Exception as e:  # ORT raises its own Fail/InvalidProtobuf/... types
            raise BackendError(f"ONNX Runtime cannot load {self.source}: {str(e).strip()[:300]} "
                               "(the file is corrupt or not an ONNX model; re-export it)") from e
        self.device = device
        self.inputs = [self._spec(a) for a in self.session.get_inputs()]
        self.outputs = [self._spec(a) for a in self.session.get_outputs()]
        self._out_names = [o.name for o in self.outputs]

    @staticmethod
    def _spec(arg) -> TensorSpec:
        shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
        return TensorSpec(arg.name, shape, _ORT_TYPES.get(arg.type, arg.type))

    def _infer(self, feeds: dict) -> dict:
        if not all(isinstance(v, np.ndarray) for v in feeds.values()):
            raise BackendError(f"{self.name}: inputs must be NumPy arrays (got "
                               f"{sorted({type(v).__name__ for v in feeds.values()})})")
        return dict(zip(self._out_names, self.session.run(self._out_names, feeds)))

    def _close(self) -> None:
        self.session = None
