"""TensorRT engine builder (DESIGN §5): a loader of its own, apart from the backend that runs engines.

``build_engine(onnx)`` turns an exported graph into a serialized engine, cached
in ``engines/`` under :func:`engine_key` (ONNX sha256 + GPU name + compute
capability + TensorRT version + precision + batch profile) beside a persisted
timing cache; :class:`~trt_tracker.runtime.tensorrt.TensorRTBackend` runs it.

TensorRT 10 and 11 differ in how FP16 is asked for: 10.x has
``BuilderFlag.FP16`` (weakly typed networks); 11.x removed the precision flags
and every network is strongly typed, so FP16 means an FP16 ONNX
(:func:`onnx_to_fp16`).  The builder uses the flag where it exists.

Nothing here imports TensorRT, CuPy or onnx at import time.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import time
import warnings
from pathlib import Path

from .base import BackendError
from .tensorrt import _import_cupy, _import_trt, _logger

PRECISIONS = ("fp32", "fp16")

#: ONNX operators (default domain) that TensorRT 10's ONNX parser supports, from
#: onnx/onnx-tensorrt docs/operators.md (TensorRT 10.15 revision, opsets 9-24).
#: Restrictions there that matter for exported networks:
#: Conv/ConvTranspose/pooling are 2D or 3D only, pooling ``dilations`` must be 1
#: and MaxPool's ``Indices`` output is unsupported; Reduce* ``axes`` must be an
#: initializer and (Un)Squeeze ``axes`` resolvable to a constant; DOUBLE is cast
#: down to FLOAT and UINT8 is allowed only as a network input/output; TopK needs
#: ``sorted=1`` and K < 3840; Resize supports nearest/linear only, no antialiasing.
#: Attention, RotaryEmbedding, RMSNormalization and TensorScatter arrived late in
#: 10.x; none of them appears in this project's graphs.
TRT_ONNX_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh Attention AveragePool BatchNormalization
BlackmanWindow Cast CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh
CumSum DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike
Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool
Greater GreaterOrEqual GridSample GroupNormalization GRU HammingWindow HannWindow HardSigmoid HardSwish
Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less
LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike
Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd
ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RMSNormalization RNN RoiAlign
RotaryEmbedding Round STFT ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid
Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
TensorScatter ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())

def _gpu_identity() -> tuple[str, str]:
    """(name, compute capability "major.minor") of the current CUDA device."""
    cp = _import_cupy()
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return name, f"{props['major']}.{props['minor']}"


def _trt_version() -> str:
    return _import_trt().__version__


def _batch_profile(batch_sizes) -> tuple[int, int, int]:
    """(min, opt, max) of the one optimisation profile; opt is the largest batch."""
    sizes = [int(b) for b in batch_sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"batch_sizes must be positive integers, got {tuple(batch_sizes)}")
    return min(sizes), max(sizes), max(sizes)


def engine_key(onnx_bytes: bytes, precision: str, batch_sizes=None) -> str:
    """sha256 naming one engine: ONNX sha256, GPU name, compute capability, TensorRT version, precision.

    ``batch_sizes``, when given, adds the optimisation profile: an engine built for batches 1..4
    cannot run batch 8, so it must not be found under the same key.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    gpu, cc = _gpu_identity()
    parts = [hashlib.sha256(onnx_bytes).hexdigest(), gpu, cc, _trt_version(), precision]
    if batch_sizes is not None:
        parts.append("batch %d-%d-%d" % _batch_profile(batch_sizes))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _subgraphs(node):
    """The graphs a node holds in its attributes (If branches, Loop and Scan bodies)."""
    for a in node.attribute:
        if a.HasField("g"):
            yield a.g
        yield from a.graphs


def _graphs(graph):
    """``graph`` and every subgraph below it."""
    yield graph
    for node in graph.node:
        for g in _subgraphs(node):
            yield from _graphs(g)


def unsupported_ops(model) -> list[str]:
    """Sorted op types in ``model`` (ModelProto, ONNX bytes or a path) that TensorRT's parser lacks.

    Subgraphs are searched; calls of model-local functions are looked into (the parser inlines
    them).  Ops of other domains are listed as ``domain:op`` (they would need a plugin).
    """
    import onnx

    if isinstance(model, (bytes, bytearray)):
        model = onnx.load_from_string(bytes(model))
    elif isinstance(model, (str, os.PathLike)):
        model = onnx.load(os.fspath(model))
    functions = {(f.domain, f.name): f for f in model.functions}
    found: set[str] = set()

    def visit(nodes):
        for n in nodes:
            if (n.domain, n.op_type) in functions:
                visit(functions[(n.domain, n.op_type)].node)
            elif n.domain not in ("", "ai.onnx"):
                found.add(f"{n.domain}:{n.op_type}")
            elif n.op_type not in TRT_ONNX_OPS:
                found.add(n.op_type)
            for g in _subgraphs(n):
                visit(g.node)

    visit(model.graph.node)
    return sorted(found)


def _detach_consumed_outputs(graph, onnx) -> None:
    """Rename graph outputs that nodes also read to an inner tensor, re-exposed through an Identity."""
    outputs = {o.name for o in graph.output}
    for name in sorted(outputs & {i for n in graph.node for i in n.input}):
        inner = f"{name}/inner"
        for n in graph.node:
            n.input[:] = [inner if i == name else i for i in n.input]
            n.output[:] = [inner if o == name else o for o in n.output]
        graph.node.append(onnx.helper.make_node("Identity", [inner], [name], name=f"{name}/output"))


def onnx_to_fp16(onnx_bytes: bytes) -> bytes:
    """The graph with float32 weights and compute in FP16; float32 graph inputs/outputs kept via Cast nodes.

    Uses onnxconverter-common's float16 converter (ops with no good FP16 form, e.g. Range and
    Resize, stay float32 between Casts).  Weights are clamped only where FP16 cannot hold them
    (|w| > 65504).  Two gaps of onnxconverter-common 1.16 are closed here, each of which yields a
    graph that ONNX Runtime and TensorRT reject: it types the output of a model's own
    ``Cast(to=float)`` as float16 without retargeting the Cast (microsoft/onnxconverter-common#320),
    and nodes that read a graph output (the frame graph pools bones at its ``joints``) go on
    reading the float32 copy that ``keep_io_types`` makes.
    """
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError as e:
        raise BackendError(f"converting an ONNX graph to FP16 needs onnx and onnxconverter-common ({e}): "
                           "pip install 'trt_tracker[tensorrt]'") from None
    model = onnx.load_from_string(onnx_bytes)
    _detach_consumed_outputs(model.graph, onnx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one warning per weight clamped into FP16's range
        model = float16.convert_float_to_float16(model, max_finite_val=65504.0, keep_io_types=True)
    f32, f16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    for g in _graphs(model.graph):
        types = {v.name: v.type.tensor_type.elem_type for v in list(g.value_info) + list(g.output)}
        for n in g.node:
            if n.op_type == "Cast" and types.get(n.output[0]) == f16:
                for a in n.attribute:
                    if a.name == "to" and a.i == f32:
                        a.i = f16
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _progress_monitor(trt):
    """A ``trt.IProgressMonitor`` drawing one tqdm bar per build phase (None before TensorRT 10)."""
    if not hasattr(trt, "IProgressMonitor"):
        return None
    from tqdm import tqdm

    class Monitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.bars = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.bars[phase_name] = tqdm(total=num_steps, desc=phase_name, leave=False, file=sys.stderr,
                                         position=len(self.bars))

        def step_complete(self, phase_name, step):
            bar = self.bars.get(phase_name)
            if bar is not None:
                bar.update(step + 1 - bar.n)
            return True  # False would cancel the build

        def phase_finish(self, phase_name):
            bar = self.bars.pop(phase_name, None)
            if bar is not None:
                bar.close()

    return Monitor()


def _parser_error(e) -> str:
    """One parser error as ``node <index> '<name>' (<op>): <message>`` (name and op from TensorRT 10 on)."""
    name = e.node_name() if hasattr(e, "node_name") else ""
    op = e.node_operator() if hasattr(e, "node_operator") else ""
    return f"  node {e.node()} {name!r} ({op or '?'}): {e.desc()}"


def _write_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, path)


ENGINE_DIR = "engines"        # the engine cache folder (git-ignored)
BATCH_SIZES = (1, 4)          # the one profile's batches: a single stream, and a few streams or durations


def build_engine(onnx_path, precision: str = "fp32", batch_sizes=BATCH_SIZES, cache_dir=ENGINE_DIR,
                 workspace_mb: int = 1024, progress: bool = True) -> Path:
    """Build (or find in ``cache_dir``) the engine of an exported graph; returns the engine's path.

    One optimisation profile covers ``min..max(batch_sizes)`` on axis 0 of every input (opt = max).
    ``precision``: ``fp32`` (TF32 off, for parity) or ``fp16`` (``BuilderFlag.FP16`` on TensorRT 10,
    a strongly typed network from :func:`onnx_to_fp16` on TensorRT >= 11).  The timing cache
    ``cache_dir/timing-<gpu>-<trt>.cache`` is read before and written after every build.
    """
    lo, opt, hi = _batch_profile(batch_sizes)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise BackendError(f"ONNX model {onnx_path} not found; export it first")
    trt = _import_trt()
    onnx_bytes = onnx_path.read_bytes()
    key = engine_key(onnx_bytes, precision, batch_sizes)
    cache = Path(cache_dir)
    path = cache / f"{onnx_path.stem}.{precision}.{key[:16]}.engine"
    if path.is_file():
        return path
    say = (lambda msg: print(f"[trt_tracker] {msg}", file=sys.stderr)) if progress else (lambda msg: None)
    say(f"building TensorRT {trt.__version__} engine for {onnx_path} ({precision}, batch {lo}..{hi}); "
        "the first build on a GPU takes minutes")
    t0 = time.perf_counter()
    strongly_typed = precision == "fp16" and not hasattr(trt.BuilderFlag, "FP16")  # TensorRT >= 11
    logger = _logger(trt)
    builder = trt.Builder(logger)
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    network = builder.create_network((1 << int(flag)) if strongly_typed and flag is not None else 0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_to_fp16(onnx_bytes) if strongly_typed else onnx_bytes):
        errors = "\n".join(_parser_error(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT's ONNX parser rejected {onnx_path}:\n{errors}\n"
                           "(trt_tracker.runtime.tensorrt_build.unsupported_ops lists unsupported operators; "
                           "re-export the network without them)")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if precision == "fp16" and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # on by default; FP32 engines are parity references
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        t = network.get_input(i)
        shape = tuple(t.shape)
        if any(d < 0 for d in shape[1:]):
            raise BackendError(f"input {t.name!r} of {onnx_path} has dynamic axes besides the batch: {shape}")
        if shape[0] < 0:
            profile.set_shape(t.name, (lo, *shape[1:]), (opt, *shape[1:]), (hi, *shape[1:]))
    config.add_optimization_profile(profile)
    gpu, cc = _gpu_identity()
    timing = cache / re.sub(r"[^A-Za-z0-9.-]+", "_", f"timing-{gpu}-sm{cc}-trt{trt.__version__}.cache")
    if not config.set_timing_cache(config.create_timing_cache(timing.read_bytes() if timing.is_file() else b""),
                                   False):  # a cache from another device/version: start afresh
        config.set_timing_cache(config.create_timing_cache(b""), False)
    monitor = _progress_monitor(trt) if progress else None
    if monitor is not None:
        config.progress_monitor = monitor
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise BackendError(f"TensorRT could not build an engine from {onnx_path}; its log above says why")
    cache.mkdir(parents=True, exist_ok=True)
    _write_atomic(timing, config.get_timing_cache().serialize())
    _write_atomic(path, plan)
    say(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return path
