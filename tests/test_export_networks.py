"""Single-network ONNX export: ONNX Runtime output equals PyTorch, dynamic batch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from trt_tracker.export import example_inputs, export_late_fusion, export_network  # noqa: E402
from trt_tracker.models import ModelConfig, build_model  # noqa: E402


def tiny(**kw):
    base = dict(depth=10, width=0.25, input_size=64, head_channels=16, depth_bins=8)
    return ModelConfig(**{**base, **kw})


def _torch(net, feeds):
    with torch.no_grad():
        return net(*[torch.from_numpy(v) for v in feeds.values()]).numpy()


@pytest.mark.parametrize("kw", [dict(task="pose"), dict(task="spatial"), dict(task="temporal"),
                                dict(task="temporal", fusion="late"), dict(task="temporal", fusion="corr"),
                                dict(task="pose", skeleton="HAND21", modality="depth"),
                                dict(task="pose", skeleton="HAND21", modality="depth", rotations=4),
                                dict(task="spatial", skeleton="HAND21", modality="depth", rotations=4),
                                dict(task="temporal", skeleton="HAND21", modality="depth", rotations=2),
                                dict(task="temporal", skeleton="HAND21", modality="depth", displacement_z="joint")])
def test_onnx_equals_torch_at_any_batch(kw, tmp_path):
    torch.manual_seed(0)
    cfg = tiny(**kw)
    net = build_model(cfg).eval()
    path = tmp_path / "net.onnx"
    data = export_network(net, cfg, path)
    assert path.read_bytes() == data
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    for batch in (1, 3):          # exported with batch 2: the batch axis is dynamic
        feeds = example_inputs(cfg, batch, seed=batch)
        got = sess.run(None, feeds)[0]
        assert got.shape == (batch, cfg.K, 3)
        np.testing.assert_allclose(got, _torch(net, feeds), atol=1e-4)


@pytest.mark.parametrize("fusion,z", [("late", "root"), ("corr", "root"), ("late", "joint")])
def test_late_fusion_graphs_equal_the_stacked_network(fusion, z):
    torch.manual_seed(0)
    cfg = tiny(task="temporal", fusion=fusion, displacement_z=z)
    net = build_model(cfg).eval()
    feat, head = (ort.InferenceSession(b, providers=["CPUExecutionProvider"]) for b in export_late_fusion(net, cfg))
    feeds = example_inputs(cfg, 2)
    c = cfg.frame_channels
    f_prev = feat.run(None, {"image": feeds["image"][:, :c]})[0]
    f_cur = feat.run(None, {"image": feeds["image"][:, c:]})[0]
    got = head.run(None, {"features_prev": f_prev, "features_cur": f_cur, "related": feeds["related"]})[0]
    np.testing.assert_allclose(got, _torch(net, feeds), atol=1e-4)
