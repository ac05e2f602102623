"""PyTorch backend: CPU and CUDA, optional CUDA-graph replay for fixed shapes.

It runs a ``torch.nn.Module`` (the export wrappers of :mod:`trt_tracker.export`,
built from the model's weights), so its outputs are the reference the ONNX and
TensorRT graphs are checked against.
"""
from __future__ import annotations

from .base import Backend, BackendError, TensorSpec


class TorchBackend(Backend):
    """``TorchBackend(module, inputs, outputs, device="cpu", cuda_graph=False)``.

    ``inputs``/``outputs``: lists of :class:`TensorSpec` (or dicts with name, shape, dtype).
    With ``cuda_graph`` the forward pass is captured once per input shape and replayed
    (static input buffers are filled by copy), which removes the per-kernel launch cost.
    """

    name = "torch"

    def __init__(self, module, inputs, outputs, device: str = "cpu", cuda_graph: bool = False,
                 threads: int | None = None):
        try:
            import torch
        except ImportError as e:
            raise BackendError("the PyTorch backend needs torch: pip install 'trt_tracker[train]' "
                               "(or use --backend onnxruntime, which does not)") from e
        self.torch = torch
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError("device cuda asked for, but PyTorch sees no CUDA GPU; use --device cpu")
        if cuda_graph and not device.startswith("cuda"):
            raise BackendError("CUDA graphs need a CUDA device (--device cuda)")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        self.inputs = [s if isinstance(s, TensorSpec) else TensorSpec(s["name"], tuple(s["shape"]), s["dtype"])
                       for s in inputs]
        self.outputs = [s if isinstance(s, TensorSpec) else TensorSpec(s["name"], tuple(s["shape"]), s["dtype"])
                        for s in outputs]
        self.cuda_graph = bool(cuda_graph)
        self._graphs: dict = {}   # input shapes -> (graph, static inputs, static outputs)

    def _forward(self, tensors):
        out = self.module(*tensors)
        return out if isinstance(out, tuple) else (out,)

    def _replay(self, tensors):
        torch = self.torch
        key = tuple(tuple(t.shape) for t in tensors)
        entry = self._graphs.get(key)
        if entry is None:
            static_in = [t.clone() for t in tensors]
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):          # warm-up on a side stream, as CUDA graphs require
                for _ in range(2):
                    self._forward(static_in)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                static_out = self._forward(static_in)
            entry = self._graphs[key] = (g, static_in, static_out)
        g, static_in, static_out = entry
        for dst, src in zip(static_in, tensors):
            dst.copy_(src)
        g.replay()
        return static_out

    def _infer(self, feeds: dict) -> dict:
        torch = self.torch
        with torch.inference_mode():
            tensors = [torch.as_tensor(feeds[s.name], device=self.device) for s in self.inputs]
            out = self._replay(tensors) if self.cuda_graph else self._forward(tensors)
            return {s.name: o.detach().cpu().numpy() for s, o in zip(self.outputs, out)}

    def _close(self) -> None:
        self._graphs.clear()
        self.module = None
