"""TensorRT backend and engine builder.

Here (no TensorRT, no GPU): the engine cache key, the errors that say how to install what is
missing, the FP16 ONNX conversion (checker + ONNX Runtime parity with the FP32 graph) and the
operator coverage of the exported graphs against TensorRT's ONNX parser.  Where ``import
tensorrt`` works and CuPy sees a GPU (``gpu`` marker): engines from exported networks against
ONNX Runtime, CuPy I/O and CUDA-graph replay, the engine cache, corrupt engines, parser errors.
"""
from __future__ import annotations

import math
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from trt_tracker.export import example_inputs, export_late_fusion, export_network, output_name  # noqa: E402
from trt_tracker.models import ModelConfig, build_model  # noqa: E402
from trt_tracker.runtime import BackendError  # noqa: E402
from trt_tracker.runtime import tensorrt_build as trt_build  # noqa: E402
from trt_tracker.runtime.tensorrt import TensorRTBackend  # noqa: E402
from trt_tracker.runtime.tensorrt_build import (TRT_ONNX_OPS, build_engine, engine_key, onnx_to_fp16,  # noqa: E402
                                                unsupported_ops)

try:
    import tensorrt  # noqa: F401

    HAVE_TRT = True
except Exception:  # ImportError, or OSError when its libraries are missing
    HAVE_TRT = False
requires_trt = pytest.mark.skipif(not HAVE_TRT, reason="tensorrt is not installed (it is on NVIDIA's package index)")

IR_VERSION = 8  # opset 17's; onnx's newest IR version may be past what ONNX Runtime reads
TINY = dict(depth=10, width=0.25, input_size=64, head_channels=16, depth_bins=8)


def tiny(**kw) -> ModelConfig:
    return ModelConfig(**{**TINY, **kw})


def lively(net):
    """Re-draw the weights so outputs are O(1): the heads start near zero, which would hide FP16 errors."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
    return net.eval()


def exported(cfg, path=None) -> bytes:
    torch.manual_seed(0)
    return export_network(lively(build_model(cfg)), cfg, path)


def run_ort(model, feeds) -> list[np.ndarray]:
    return ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)


# --------------------------------------------------------------------------- engine key and cache


@pytest.fixture
def fake_device(monkeypatch):
    """Stand-ins for the GPU and TensorRT-version probes (the key is a pure function of them)."""
    ident = {"gpu": ("NVIDIA H100 80GB HBM3", "9.0"), "trt": "10.8.0.43"}
    monkeypatch.setattr(trt_build, "_gpu_identity", lambda: ident["gpu"])
    monkeypatch.setattr(trt_build, "_trt_version", lambda: ident["trt"])
    return ident


def test_engine_key_changes_with_every_component(fake_device):
    base = engine_key(b"onnx-a", "fp32")
    assert re.fullmatch("[0-9a-f]{64}", base)
    assert engine_key(b"onnx-a", "fp32") == base
    keys = {"onnx": engine_key(b"onnx-b", "fp32"), "precision": engine_key(b"onnx-a", "fp16"),
            "profile": engine_key(b"onnx-a", "fp32", (1, 4)), "profile range": engine_key(b"onnx-a", "fp32", (1, 8))}
    fake_device["gpu"] = ("NVIDIA GeForce RTX 4090", "9.0")
    keys["gpu name"] = engine_key(b"onnx-a", "fp32")
    fake_device["gpu"] = ("NVIDIA H100 80GB HBM3", "8.9")
    keys["compute capability"] = engine_key(b"onnx-a", "fp32")
    fake_device["gpu"] = ("NVIDIA H100 80GB HBM3", "9.0")
    fake_device["trt"] = "11.0.0"
    keys["tensorrt version"] = engine_key(b"onnx-a", "fp32")
    fake_device["trt"] = "10.8.0.43"
    assert engine_key(b"onnx-a", "fp32") == base
    assert len({base, *keys.values()}) == len(keys) + 1, keys
    assert engine_key(b"onnx-a", "fp32", (4, 2, 1)) == engine_key(b"onnx-a", "fp32", [1, 4])  # the range counts
    with pytest.raises(ValueError, match="precision"):
        engine_key(b"onnx-a", "int8")


def test_build_engine_reuses_the_engine_cached_under_its_key(fake_device, monkeypatch, tmp_path):
    monkeypatch.setattr(trt_build, "_import_trt", lambda: types.SimpleNamespace(__version__=fake_device["trt"]))
    onnx_path = tmp_path / "pose.onnx"
    onnx_path.write_bytes(b"exported graph")
    cache = tmp_path / "engines"
    key = engine_key(b"exported graph", "fp16", (1, 4))
    cached = cache / f"pose.fp16.{key[:16]}.engine"
    cached.parent.mkdir()
    cached.write_bytes(b"plan")
    # the stub has no Builder: reaching the build would raise, so a returned path is a cache hit
    assert build_engine(onnx_path, "fp16", batch_sizes=(1, 4), cache_dir=cache, progress=False) == cached
    assert cached.read_bytes() == b"plan"


def test_build_engine_checks_its_arguments_first(tmp_path):
    with pytest.raises(ValueError, match="precision"):
        build_engine(tmp_path / "x.onnx", precision="int8")
    with pytest.raises(ValueError, match="batch_sizes"):
        build_engine(tmp_path / "x.onnx", batch_sizes=())
    with pytest.raises(BackendError, match="not found"):
        build_engine(tmp_path / "missing.onnx")


# --------------------------------------------------------------------------- missing libraries


def test_missing_tensorrt_is_a_backend_error_that_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(b"graph")
    for call in (lambda: TensorRTBackend(b"plan"), lambda: build_engine(onnx_path, cache_dir=tmp_path)):
        with pytest.raises(BackendError, match=r"pypi\.nvidia\.com") as err:
            call()
        assert not isinstance(err.value, ImportError)
        assert "onnxruntime backend" in str(err.value)


def test_missing_cupy_or_gpu_is_a_backend_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(BackendError, match=r"CuPy.*trt_tracker\[gpu\]"):
        TensorRTBackend(b"plan")
    with pytest.raises(BackendError, match="CuPy"):
        engine_key(b"graph", "fp32")  # the key needs the GPU's name
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 0)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))
    with pytest.raises(BackendError, match="no CUDA device"):
        TensorRTBackend(b"plan")


# --------------------------------------------------------------------------- FP16 ONNX


@pytest.mark.parametrize("kw", [dict(task="pose"), dict(task="spatial"), dict(task="temporal"),
                                dict(task="temporal", arch="sparseflow", decay="gaussian")])
def test_onnx_to_fp16_is_valid_and_matches_fp32(kw):
    pytest.importorskip("onnxconverter_common")
    cfg = tiny(**kw)
    fp32 = exported(cfg)
    fp16 = onnx_to_fp16(fp32)
    model = onnx.load_from_string(fp16)
    onnx.checker.check_model(model, full_check=True)  # types of every node, Casts included, agree
    # float32 at the boundary, same names, batch still dynamic; weights in FP16 (half the size)
    ref_model = onnx.load_from_string(fp32)
    for a, b in ((model.graph.input, ref_model.graph.input), (model.graph.output, ref_model.graph.output)):
        assert [(v.name, v.type.tensor_type.elem_type) for v in a] == [(v.name, v.type.tensor_type.elem_type)
                                                                      for v in b]
        assert all(v.type.tensor_type.elem_type == TensorProto.FLOAT for v in a)
        assert all(v.type.tensor_type.shape.dim[0].dim_param for v in a)
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")}
    types_ = {t.name: t.data_type for t in model.graph.initializer}
    assert conv_weights and all(types_[w] == TensorProto.FLOAT16 for w in conv_weights)
    assert len(fp16) < 0.6 * len(fp32)
    assert unsupported_ops(fp16) == []
    for batch in (1, 3):
        feeds = example_inputs(cfg, batch, seed=batch)
        ref, = run_ort(fp32, feeds)
        got, = run_ort(fp16, feeds)
        assert got.dtype == np.float32 and got.shape == ref.shape
        scale = np.abs(ref).max()
        assert scale > 0.05  # the comparison means something
        err = np.abs(got - ref)
        # FP16 carries ~3 significant digits; a binary decay window can flip a boundary pixel
        assert err.max() <= 0.05 * scale and err.mean() <= 5e-3 * scale, (err.max(), err.mean(), scale)


def test_onnx_to_fp16_closes_the_converters_gaps():
    """onnxconverter-common 1.16 leaves a model's Cast(to=float) while typing its output float16 (their
    #320), and leaves nodes reading a graph output on the float32 copy made for the graph's boundary."""
    pytest.importorskip("onnxconverter_common")
    x = helper.make_tensor_value_info("x", TensorProto.INT64, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.5])
    nodes = [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Mul", ["xf", "w"], ["y"], name="mul"),
             helper.make_node("Add", ["y", "w"], ["z"], name="add")]  # reads the graph output y
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y, z], [w]), ir_version=IR_VERSION,
                              opset_imports=[helper.make_opsetid("", 17)])
    fp16 = onnx.load_from_string(onnx_to_fp16(model.SerializeToString()))
    onnx.checker.check_model(fp16, full_check=True)
    cast = next(n for n in fp16.graph.node if n.name == "cast")
    assert helper.get_attribute_value(cast.attribute[0]) == TensorProto.FLOAT16
    assert [(o.name, o.type.tensor_type.elem_type) for o in fp16.graph.output] == [("y", TensorProto.FLOAT),
                                                                                  ("z", TensorProto.FLOAT)]
    got_y, got_z = run_ort(fp16.SerializeToString(), {"x": np.array([1, 2, 7], np.int64)})
    np.testing.assert_array_equal(got_y, np.array([0.5, 1.0, 3.5], np.float32))
    np.testing.assert_array_equal(got_z, np.array([1.0, 1.5, 4.0], np.float32))


def graph_feeds(session, batch: int, seed: int = 0, heatmap_size: int = 16) -> dict[str, np.ndarray]:
    """Inputs for any exported graph (the inputs ONNX Runtime reports): the project's one random-input helper."""
    from trt_tracker.stream.model import example_feeds

    specs = [{"name": i.name, "shape": list(i.shape), "dtype": "float32"} for i in session.get_inputs()]
    return example_feeds(specs, batch, heatmap_size, seed)


def subject_crops(model_dir, n: int) -> dict[str, np.ndarray]:
    """``{"image": (n, C, S, S)}``: the model's crops of a held-out synthetic sequence's first frames, cut
    with the ground-truth box as the tracker cuts them."""
    from trt_tracker.camera import box_from_points
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.sources import SyntheticSource

    with TrackerModel(model_dir) as m:
        seq = SyntheticSource("body" if m.modality == "rgb" else "hand", 20_000_000, n, 25.0).seq
        c = m.codec
        crops = [c.crop_input(np.asarray(seq.frames[t]), c.transform(box_from_points(seq.joints_2p5d[t, :, :2], m.margin)),
                              seq.modality, float(seq.root_depth[t]) if seq.modality == "depth" else None)
                 for t in range(n)]
    return {"image": np.stack(crops).astype(np.float32)}


SHIPPED_GRAPHS = sorted((Path(__file__).resolve().parents[1] / "export").glob("*/*.onnx"))


@pytest.mark.parametrize("path", SHIPPED_GRAPHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_graphs_parse_in_tensorrt_and_convert_to_fp16(path):
    """The graphs the tracker ships (frame: joints + bones; temporal) are what engines are built from."""
    assert unsupported_ops(path) == []
    pytest.importorskip("onnxconverter_common")
    fp32 = path.read_bytes()
    fp16 = onnx_to_fp16(fp32)
    onnx.checker.check_model(onnx.load_from_string(fp16), full_check=True)
    session = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
    # a frame graph sees crops of a subject (what an engine's FP16 must keep), the others random inputs
    feeds = subject_crops(path.parent, 2) if path.name == "frame.onnx" else graph_feeds(session, 2)
    for ref, got in zip(session.run(None, feeds), run_ort(fp16, feeds)):
        err = np.abs(got - ref)
        assert err.max() <= 0.05 * np.abs(ref).max() and err.mean() <= 5e-3 * np.abs(ref).max()


# --------------------------------------------------------------------------- operator coverage


def _model(nodes, functions=()):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y]), functions=list(functions), ir_version=IR_VERSION,
                             opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])


def _branch(op):
    out = helper.make_tensor_value_info("b", TensorProto.FLOAT, None)
    return helper.make_graph([helper.make_node(op, ["x"], ["b"])], f"branch_{op}", [], [out])


def test_unsupported_ops_flags_graphs_subgraphs_functions_and_other_domains(tmp_path):
    assert {"Conv", "Relu", "Softmax", "Range", "If"} <= TRT_ONNX_OPS and "Unique" not in TRT_ONNX_OPS
    plain = _model([helper.make_node("Relu", ["x"], ["y"])])
    assert unsupported_ops(plain) == []
    top = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Unique", ["r"], ["y"])])
    assert unsupported_ops(top) == ["Unique"]
    assert unsupported_ops(top.SerializeToString()) == ["Unique"]  # bytes
    onnx.save(top, tmp_path / "top.onnx")
    assert unsupported_ops(tmp_path / "top.onnx") == ["Unique"] == unsupported_ops(str(tmp_path / "top.onnx"))
    cond = helper.make_node("Constant", [], ["c"], value=helper.make_tensor("v", TensorProto.BOOL, [], [True]))
    nested = _model([cond, helper.make_node("If", ["c"], ["y"], then_branch=_branch("Relu"),
                                            else_branch=_branch("StringNormalizer"))])
    assert unsupported_ops(nested) == ["StringNormalizer"]
    assert unsupported_ops(_model([helper.make_node("Foo", ["x"], ["y"], domain="com.example")])) == ["com.example:Foo"]
    for body_op, expected in (("Relu", []), ("Det", ["Det"])):  # local functions are inlined by the parser
        fn = helper.make_function("local", "Block", ["i"], ["o"], [helper.make_node(body_op, ["i"], ["o"])],
                                  [helper.make_opsetid("", 17)])
        assert unsupported_ops(_model([helper.make_node("Block", ["x"], ["y"], domain="local")], [fn])) == expected


@pytest.mark.parametrize("kw", [dict(task="pose"), dict(task="pose", pose_head="joints"),
                                dict(task="pose", pose_head="bones"),
                                dict(task="pose", skeleton="HAND21", modality="depth"),
                                dict(task="spatial"), dict(task="spatial", arch="fc"),
                                dict(task="spatial", decay="linear", sampling="full"),
                                dict(task="temporal", decay="exponential"), dict(task="temporal", arch="sparseflow"),
                                dict(task="temporal", fusion="late"), dict(task="temporal", fusion="corr")])
def test_exported_networks_use_only_operators_tensorrt_parses(kw):
    cfg = tiny(**kw)
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    graphs = export_late_fusion(net, cfg) if cfg.fusion != "early" else (export_network(net, cfg),)
    for g in graphs:
        assert unsupported_ops(g) == [], kw


# --------------------------------------------------------------------------- TensorRT + GPU


@pytest.fixture
def onnx_file(tmp_path):
    """An exported network with O(1) outputs: ``onnx_file(task) -> (path, cfg)``."""
    def make(task="pose"):
        cfg = tiny(task=task)
        path = tmp_path / f"{task}.onnx"
        exported(cfg, path)
        return path, cfg
    return make


@pytest.mark.gpu
@requires_trt
@pytest.mark.parametrize("task", ["pose", "spatial"])
@pytest.mark.parametrize("precision, rel", [("fp32", 1e-3), ("fp16", 5e-2)])
def test_engine_matches_onnxruntime(onnx_file, tmp_path, task, precision, rel):
    path, cfg = onnx_file(task)
    engine = build_engine(path, precision, batch_sizes=(1, 4), cache_dir=tmp_path / "engines", progress=False)
    S = cfg.input_size
    with TensorRTBackend(engine) as be:
        assert be.inputs[0].name == "image" and be.inputs[0].shape == (None, cfg.in_channels, S, S)
        out = output_name(cfg)
        assert [(s.name, s.shape, s.dtype) for s in be.outputs] == [(out, (None, cfg.K, 3), "float32")]
        for batch in (1, 3):
            feeds = example_inputs(cfg, batch, seed=batch)
            ref, = run_ort(path.read_bytes(), feeds)
            got = be.infer(feeds)[out]
            assert isinstance(got, np.ndarray) and got.shape == ref.shape
            assert np.abs(got - ref).max() <= rel * np.abs(ref).max(), (precision, batch)
        with pytest.raises(BackendError, match="profile"):
            be.infer(example_inputs(cfg, 5))  # the profile covers 1..4


@pytest.mark.gpu
@requires_trt
@pytest.mark.parametrize("path", SHIPPED_GRAPHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_graph_engines_match_onnxruntime(path, tmp_path):
    engine = build_engine(path, "fp32", batch_sizes=(1, 4), cache_dir=tmp_path / "engines", progress=False)
    session = ort.InferenceSession(path.read_bytes(), providers=["CPUExecutionProvider"])
    with TensorRTBackend(engine) as be:
        assert sorted(s.name for s in be.inputs) == sorted(i.name for i in session.get_inputs())
        assert sorted(s.name for s in be.outputs) == sorted(o.name for o in session.get_outputs())
        for batch in (1, 3):
            feeds = graph_feeds(session, batch, seed=batch)
            got = be.infer(feeds)
            for o, ref in zip(session.get_outputs(), session.run(None, feeds)):
                assert np.abs(got[o.name] - ref).max() <= 1e-3 * np.abs(ref).max(), (o.name, batch)


@pytest.mark.gpu
@requires_trt
def test_cupy_inputs_device_outputs_and_cuda_graph_replay(onnx_file, tmp_path):
    import cupy as cp

    path, cfg = onnx_file("spatial")
    engine = build_engine(path, "fp32", batch_sizes=(1, 4), cache_dir=tmp_path / "engines", progress=False)
    with TensorRTBackend(engine) as plain, TensorRTBackend(engine, device_outputs=True, cuda_graph=True) as graphed:
        for batch, seed in ((1, 1), (3, 2), (3, 3), (1, 4)):  # shape changes re-capture; same shape replays
            feeds = example_inputs(cfg, batch, seed=seed)
            ref = plain.infer(feeds)["relations"]
            got = graphed.infer({k: cp.asarray(v) for k, v in feeds.items()})["relations"]
            assert isinstance(got, cp.ndarray)
            np.testing.assert_allclose(cp.asnumpy(got), ref, rtol=1e-5, atol=1e-6)
            got_np = graphed.infer(feeds)["relations"]  # NumPy in, replayed graph
            np.testing.assert_allclose(cp.asnumpy(got_np), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(BackendError, match="close"):
        plain.infer(feeds)


@pytest.mark.gpu
@requires_trt
def test_engine_cache_hit_and_rebuilds(onnx_file, tmp_path):
    path, cfg = onnx_file("pose")
    cache = tmp_path / "engines"
    first = build_engine(path, "fp32", cache_dir=cache, progress=False)
    stamp = first.stat().st_mtime_ns
    assert build_engine(path, "fp32", cache_dir=cache, progress=False) == first
    assert first.stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert len(list(cache.glob("timing-*.cache"))) == 1
    fp16 = build_engine(path, "fp16", cache_dir=cache, progress=False)
    wider = build_engine(path, "fp32", batch_sizes=(1, 8), cache_dir=cache, progress=False)
    assert len({first, fp16, wider}) == 3 and all(p.is_file() for p in (first, fp16, wider))
    torch.manual_seed(1)
    export_network(build_model(cfg).eval(), cfg, path)  # new weights at the same path: a new key
    assert build_engine(path, "fp32", cache_dir=cache, progress=False) != first


@pytest.mark.gpu
@requires_trt
def test_corrupt_engine_is_a_backend_error(onnx_file, tmp_path):
    path, _ = onnx_file("pose")
    plan = build_engine(path, "fp32", cache_dir=tmp_path / "engines", progress=False).read_bytes()
    bad = tmp_path / "bad.engine"
    bad.write_bytes(b"\0" * 64 + b"not a TensorRT plan")
    for engine in (bad, plan[: len(plan) // 2]):
        with pytest.raises(BackendError, match="cannot deserialize"):
            TensorRTBackend(engine)
    with pytest.raises(BackendError, match="not found"):
        TensorRTBackend(tmp_path / "missing.engine")


@pytest.mark.gpu
@requires_trt
def test_parser_error_names_the_node(tmp_path):
    model = _model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Unique", ["r"], ["y"], name="my_unique")])
    path = tmp_path / "bad.onnx"
    onnx.save(model, path)
    with pytest.raises(BackendError, match=r"(?s)rejected.*my_unique"):
        build_engine(path, cache_dir=tmp_path / "engines", progress=False)
