"""Model export (frame/temporal graphs + manifest) and the backends that run it.

Each backend runs the same inputs and is compared with PyTorch (STYLE 3);
bad model folders get a clear ModelError/BackendError.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from trt_tracker.export import export_model, graph_example, graph_io, torch_outputs  # noqa: E402
from trt_tracker.models.graphs import build_graphs  # noqa: E402
from trt_tracker.models import ModelConfig, build_model  # noqa: E402
from trt_tracker.runtime.base import BackendError  # noqa: E402
from trt_tracker.skeleton import BODY17  # noqa: E402
from trt_tracker.runtime.onnxruntime import OnnxRuntimeBackend  # noqa: E402
from trt_tracker.stream.model import ModelError, TrackerModel, load_manifest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _save(path, cfg, net):
    torch.save({"format": "trt_tracker.weights", "version": 1, "model": cfg.to_dict(),
                "state_dict": net.state_dict(), "train": {}, "step": 0, "metrics": {}}, path)


def make_model_dir(path: Path, skeleton="BODY17", modality="rgb", seed=0) -> Path:
    """pose.pt, spatial.pt, temporal.pt of tiny random networks (64 px, ResNet-10 x0.25)."""
    path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    base = dict(depth=10, width=0.25, input_size=64, head_channels=16, depth_bins=8, skeleton=skeleton,
                modality=modality, cube_mm=2000.0 if modality == "rgb" else 300.0)
    for task in ("pose", "spatial", "temporal"):
        cfg = ModelConfig(task=task, **base)
        net = build_model(cfg)
        if task != "pose":   # visible relations: the default init makes them ~0
            for p in net.parameters():
                p.data.mul_(30.0 if p.ndim == 4 and p.shape[-1] == 1 else 1.0)
        _save(path / f"{task}.pt", cfg, net)
    return path


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    d = make_model_dir(tmp_path_factory.mktemp("model") / "tiny-body")
    export_model(d, progress=False)
    return d


def test_export_writes_checked_graphs_and_a_manifest(tiny_dir):
    m = load_manifest(tiny_dir)
    assert m["skeleton"]["name"] == "BODY17" and m["modality"] == "rgb" and m["input_size"] == 64
    assert m["normalisation"]["kind"] == "rgb" and len(m["normalisation"]["mean"]) == 3
    for g in ("frame", "temporal"):
        spec = m["graphs"][g]
        model = onnx.load(tiny_dir / spec["file"])
        onnx.checker.check_model(model, full_check=True)
        assert [i.name for i in model.graph.input] == [s["name"] for s in spec["inputs"]]
        assert [o.name for o in model.graph.output] == [s["name"] for s in spec["outputs"]]
        for name, err in spec["parity_max_abs_error"].items():
            assert err < 1e-4, (g, name, err)


def test_frame_graph_pools_bones_at_the_predicted_parents(tiny_dir):
    """The frame graph's bones equal the spatial network called on the pose network's own parents."""
    from trt_tracker.models.graphs import load_model_dir

    nets = load_model_dir(tiny_dir)
    g = build_graphs(nets)["frame"]
    x = torch.from_numpy(graph_example(nets["pose"][1], "frame", 2)["image"])
    with torch.no_grad():
        J, B, C = g(x)
        par = [p if p >= 0 else k for k, p in enumerate(BODY17.parents)]
        ref = nets["spatial"][0](x, J[:, par, :2])
        np.testing.assert_allclose(J.numpy(), nets["pose"][0](x).numpy(), atol=1e-6)   # the pose network's own
        assert C.shape == J.shape[:2]
    ref[:, 0] = 0
    np.testing.assert_allclose(B.numpy(), ref.numpy(), atol=1e-6)
    assert np.all(B.numpy()[:, 0] == 0) and np.abs(B.numpy()[:, 1:]).max() > 0


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_every_backend_matches_pytorch(tiny_dir, backend):
    """The parity test of DESIGN §5: every available backend, same inputs, batch 1 and 3."""
    from trt_tracker.models.graphs import load_model_dir

    nets = load_model_dir(tiny_dir)
    cfg = nets["pose"][1]
    graphs = build_graphs(nets)
    with TrackerModel(tiny_dir, backend=backend, threads=1) as m:
        for batch in (1, 3):
            f = graph_example(cfg, "frame", batch, seed=batch)
            ref = torch_outputs(graphs["frame"], f, ["joints", "bones", "confidence"])
            J, B, C = m.frame(f["image"])
            np.testing.assert_allclose(J, ref["joints"], atol=1e-4)
            np.testing.assert_allclose(B, ref["bones"], atol=1e-4)
            np.testing.assert_allclose(C, ref["confidence"], atol=1e-5)
            assert C.shape == J.shape[:2] and np.all((C >= 0) & (C <= 1))
            t = graph_example(cfg, "temporal", batch, seed=10 + batch)
            ref = torch_outputs(graphs["temporal"], t, ["displacements"])
            np.testing.assert_allclose(m.temporal(t["pair"], t["related"]), ref["displacements"], atol=1e-4)


def test_shipped_manifests_match_their_graphs():
    for name in ("body-lite", "hand-lite"):
        d = ROOT / "export" / name
        m = load_manifest(d)
        with TrackerModel(d, threads=1) as tm:     # checks sha256 and the I/O against the manifest
            io_ = graph_io(type("C", (), {"input_size": m["input_size"], "in_channels": 3 if m["modality"] == "rgb"
                                          else 1, "K": len(m["skeleton"]["parents"]), "dims": 3})())
            for g in ("frame", "temporal"):
                assert [s.to_dict() for s in tm.graphs[g].inputs] == io_[g]["inputs"]
        for g in ("frame", "temporal"):
            assert max(m["graphs"][g]["parity_max_abs_error"].values()) < 1e-4


# ---------------------------------------------------------------- bad models
def _copy(tiny_dir, tmp_path):
    d = tmp_path / "m"
    shutil.copytree(tiny_dir, d)
    return d


def test_missing_model_folder_and_manifest(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        TrackerModel(tmp_path / "nope")
    tmp_path.joinpath("empty").mkdir()
    with pytest.raises(ModelError, match="trt-tracker export"):
        TrackerModel(tmp_path / "empty")


def test_corrupt_manifest_and_onnx(tiny_dir, tmp_path):
    d = _copy(tiny_dir, tmp_path)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        TrackerModel(d)
    d = _copy(tiny_dir, tmp_path / "b")
    (d / "frame.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelError, match="sha256"):
        TrackerModel(d)
    with pytest.raises(BackendError, match="cannot load"):      # without the checksum, ONNX Runtime refuses it
        TrackerModel(d, verify=False)
    d = _copy(tiny_dir, tmp_path / "c")
    (d / "temporal.onnx").unlink()
    with pytest.raises(ModelError, match="missing"):
        TrackerModel(d)


def test_onnx_inputs_that_do_not_match_the_manifest(tiny_dir, tmp_path):
    d = _copy(tiny_dir, tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["graphs"]["frame"]["inputs"][0]["name"] = "images"
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="do not match the manifest"):
        TrackerModel(d)
    m["graphs"]["frame"]["inputs"][0]["name"] = "image"
    m["graphs"]["frame"]["inputs"][0]["shape"] = [None, 3, 128, 128]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="shape"):
        TrackerModel(d)


def test_backend_rejects_wrong_inputs(tiny_dir):
    b = OnnxRuntimeBackend(tiny_dir / "frame.onnx", threads=1)
    with pytest.raises(BackendError, match="missing"):
        b.infer({})
    with pytest.raises(BackendError, match="float32"):
        b.infer({"image": np.zeros((1, 3, 64, 64), np.float64)})
    with pytest.raises(BackendError, match="shape"):
        b.infer({"image": np.zeros((1, 3, 32, 32), np.float32)})
    with pytest.raises(BackendError, match="not found"):
        OnnxRuntimeBackend(tiny_dir / "nope.onnx")
    with pytest.raises(BackendError, match="no CUDA provider|unknown device"):
        OnnxRuntimeBackend(tiny_dir / "frame.onnx", device="cuda")


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_backend_contract_is_the_base_class(tiny_dir, backend):
    """Every backend: wrong inputs (NumPy or torch arrays) and infer() after close() are BackendErrors,
    close() is idempotent; the checks are the base class's, not each backend's."""
    m = TrackerModel(tiny_dir, backend=backend, threads=1)
    b = m.graphs["frame"]
    good = np.zeros((1, 3, 64, 64), np.float32)
    assert b.infer({"image": good})["joints"].shape == (1, 17, 3)
    with pytest.raises(BackendError, match="float32"):
        b.infer({"image": good.astype(np.float64)})
    with pytest.raises(BackendError, match="must have shape"):
        b.infer({"image": torch.zeros(1, 3, 32, 32)})
    with pytest.raises(BackendError, match="must be float32, got float64"):
        b.infer({"image": torch.zeros(1, 3, 64, 64, dtype=torch.float64)})
    with pytest.raises(BackendError, match="must be an array"):
        b.infer({"image": [[0.0]]})
    m.close()
    assert b.closed
    b.close()
    with pytest.raises(BackendError, match=r"infer\(\) after close\(\)"):
        b.infer({"image": good})


def test_nan_from_a_backend_is_an_error(tiny_dir):
    with TrackerModel(tiny_dir, threads=1) as m:
        class NaNBackend:
            inputs, outputs = m.graphs["frame"].inputs, m.graphs["frame"].outputs

            def infer(self, feeds):
                n = len(feeds["image"])
                return {"joints": np.full((n, 17, 3), np.nan, np.float32), "bones": np.zeros((n, 17, 3), np.float32)}

            def close(self):
                pass
        m.graphs["frame"] = NaNBackend()
        with pytest.raises(BackendError, match="NaN"):
            m.frame(np.zeros((1, 3, 64, 64), np.float32))


@pytest.mark.gpu
def test_torch_cuda_backend_and_cuda_graphs_match_cpu(tiny_dir):
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    from trt_tracker.models.graphs import load_model_dir

    cfg = load_model_dir(tiny_dir)["pose"][1]
    f = graph_example(cfg, "frame", 3)
    with TrackerModel(tiny_dir, backend="torch") as cpu, TrackerModel(tiny_dir, backend="torch", device="cuda") as gpu, \
            TrackerModel(tiny_dir, backend="torch", device="cuda", cuda_graph=True) as graph:
        ref = cpu.frame(f["image"])
        for m in (gpu, graph, graph):          # the second graph call replays the captured graph
            got = m.frame(f["image"])
            for a, b in zip(got, ref):
                np.testing.assert_allclose(a, b, atol=1e-3)


def test_export_one_pass_drops_the_ensembles(tmp_path):
    """A model folder whose pose and spatial networks mirror exports, with one_pass, graphs without the views:
    the manifest says so and the frame graph equals the one-pass networks."""
    ort = pytest.importorskip("onnxruntime")
    from trt_tracker.models.graphs import FrameGraph, load_model_dir, with_views
    from trt_tracker.skeleton import get_skeleton

    d = make_model_dir(tmp_path / "tiny-body")
    for n in ("pose", "spatial"):
        saved = torch.load(d / f"{n}.pt", weights_only=True)
        saved["model"]["flip"] = True
        torch.save(saved, d / f"{n}.pt")
    full = export_model(d, tmp_path / "full", progress=False)
    one = export_model(d, tmp_path / "one", progress=False, one_pass=True)
    assert full["views"]["pose"] == {"rotations": 1, "flip": True}
    assert all(v == {"rotations": 1, "flip": False} for v in one["views"].values())
    nets = load_model_dir(d)
    assert nets["pose"][1].flip and len(nets["pose"][0].views) == 2
    sess = ort.InferenceSession(str(tmp_path / "one" / "frame.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    ref = FrameGraph(with_views(*nets["pose"][:2])[0], with_views(*nets["spatial"][:2])[0],
                     list(get_skeleton("BODY17").parents))
    with torch.no_grad():     # bones: the tiny pose networks' heatmaps are flat, their relations are not
        want = ref(torch.from_numpy(x))[1].numpy()
        ens = FrameGraph(nets["pose"][0], nets["spatial"][0], list(get_skeleton("BODY17").parents))(torch.from_numpy(x))[1]
    got = sess.run(["bones"], {"image": x})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(got, ens.numpy(), atol=1e-4)
