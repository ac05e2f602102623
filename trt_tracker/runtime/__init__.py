"""Inference backends behind one interface (DESIGN §5): ONNX Runtime (default), PyTorch, TensorRT.

Backends run graphs; they know nothing of pose.  Import the one you need:
``from trt_tracker.runtime.onnxruntime import OnnxRuntimeBackend`` (no PyTorch needed).
"""
from .base import Backend, BackendError, TensorSpec

BACKENDS = ("onnxruntime", "torch", "tensorrt")

__all__ = ["Backend", "BackendError", "TensorSpec", "BACKENDS"]
