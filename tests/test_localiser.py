"""The full-frame localiser (issue 14): its codec (letterbox in, crop box out), its samples, its network and
loss, its export beside a model's graphs, and the tracker's use of it (a new track from its box, no subject
-> no search, a drifting box re-localised)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from trt_tracker.camera import CropBox, box_from_points
from trt_tracker.codec import LocaliserCodec, PoseCodec
from trt_tracker.data.localiser import localiser_sample, make_localiser_sequence
from trt_tracker.stream.model import TrackerModel
from trt_tracker.stream.sources import SyntheticSource
from trt_tracker.stream.tracker import Tracker, TrackerConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("W,H", [(640, 480), (256, 256), (240, 320)])
def test_box_round_trip(W, H):
    c = LocaliserCodec(128, "rgb")
    box = CropBox(0.3 * W, 0.6 * H, 0.4 * min(W, H))
    back = c.decode(c.encode_box(box, W, H), W, H)
    np.testing.assert_allclose(back.as_array(), box.as_array(), rtol=1e-9, atol=1e-9)


def test_letterbox_rgb_matches_the_pose_normalisation():
    """The frame lands in the top-left corner, scaled by S / max(W, H), normalised as the pose crops are;
    the padding is the mean colour (0)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    x = LocaliserCodec(128, "rgb").encode(frame)
    assert x.shape == (3, 128, 128) and x.dtype == np.float32
    import cv2

    small = cv2.resize(frame, (128, 96), interpolation=cv2.INTER_AREA)
    ref = PoseCodec(128, 32, 2000.0).encode_rgb(small)
    np.testing.assert_allclose(x[:, :96], ref, atol=1e-5)
    assert np.all(x[:, 96:] == 0)


def test_letterbox_depth_holes_and_padding_are_far():
    d = np.full((240, 320), 600, np.uint16)
    d[:10, :10] = 0
    x = LocaliserCodec(128, "depth").encode(d)
    assert x.shape == (1, 128, 128)
    assert x[0, 50, 50] == pytest.approx(0.0)     # 600 mm is the normalisation centre
    assert x[0, 0, 0] == 1.0 and np.all(x[0, 96:] == 1.0)


def test_wrong_frames_are_refused_with_a_message():
    with pytest.raises(ValueError, match="uint16 depth"):
        LocaliserCodec(128, "depth").encode(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        LocaliserCodec(128, "rgb").encode(np.zeros((10, 10), np.uint16))


@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_samples_target_the_pose_networks_box(modality):
    """Whole frames: the target decodes to box_from_points of the true joints (the crop the pose network
    expects); frames without the subject say absent; windows and flips keep box and joints together."""
    seq = make_localiser_sequence(modality, 3, 12)
    codec, margin = LocaliserCodec(128, modality), 1.25
    hidden = set(seq.info["hidden"])
    assert hidden and len(hidden) < len(seq)
    H, W = np.asarray(seq.frames[0]).shape[:2]
    rng = np.random.default_rng(0)
    for t in range(len(seq)):
        s = localiser_sample(seq, t, codec, margin, rng, augment=False)
        assert s["image"].shape == (codec.channels, 128, 128)
        uv = seq.joints_uv[t]
        inside = ((uv >= 0) & (uv <= [W - 1, H - 1])).all(1).mean()
        if t in hidden or inside < 0.5:       # away, or mostly out of the frame (a hand sliding in)
            assert s["target"][0] == 0
            continue
        assert s["target"][0] == 1
        want = box_from_points(seq.joints_uv[t], margin)
        got = codec.decode(s["target"][1:], W, H)
        np.testing.assert_allclose(got.as_array(), want.as_array(), atol=1e-3)
    # augmented: every present target decodes to a box whose centre is a joint box's centre in the window
    n_present = 0
    for _ in range(40):
        t = int(rng.integers(len(seq)))
        s = localiser_sample(seq, t, codec, margin, rng, augment=True)
        assert np.isfinite(s["image"]).all()
        n_present += int(s["target"][0])
    assert 0 < n_present < 40


def test_network_loss_and_export(tmp_path):
    """The network's outputs, a loss that falls when fitted to a few samples, and an ONNX graph equal to
    PyTorch's (the manifest entry the runtime reads)."""
    torch = pytest.importorskip("torch")
    from trt_tracker.export import _export_localiser
    from trt_tracker.models import ModelConfig, build_model
    from trt_tracker.models.localiser import localiser_loss
    from trt_tracker.train import preset, save_weights

    cfg = preset("hand-lite-localiser")
    torch.manual_seed(0)
    net = build_model(cfg.model)
    seq = make_localiser_sequence("depth", 5, 8)
    codec = LocaliserCodec(128, "depth")
    rng = np.random.default_rng(1)
    ss = [localiser_sample(seq, t, codec, 1.3, rng, augment=False) for t in range(len(seq))]
    x = torch.as_tensor(np.stack([s["image"] for s in ss]))
    y = torch.as_tensor(np.stack([s["target"] for s in ss]))
    out, logits = net.logits(x)
    assert out.shape == (len(ss), 4) and logits.shape == (len(ss), 16, 16)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    first = None
    for _ in range(25):
        out, logits = net.logits(x)
        loss = localiser_loss(out, logits, y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first
    save_weights(tmp_path / "localiser.pt", net.eval(), cfg, 25, {})
    pose_cfg = ModelConfig(task="pose", skeleton="HAND21", modality="depth", input_size=96, depth=10, width=0.5)
    spec, entry = _export_localiser(tmp_path / "localiser.pt", pose_cfg, tmp_path, progress=False)
    assert (tmp_path / "localiser.onnx").is_file() and spec["file"] == "localiser.onnx"
    assert max(spec["parity_max_abs_error"].values()) < 1e-4
    assert entry["input_size"] == 128 and entry["modality"] == "depth"
    with pytest.raises(ValueError, match="rgb pose network"):
        _export_localiser(tmp_path / "localiser.pt", ModelConfig(task="pose"), tmp_path, progress=False)


@pytest.fixture(scope="module")
def hand_with_localiser(tmp_path_factory):
    """A copy of hand-lite with an (untrained) localiser exported into it."""
    torch = pytest.importorskip("torch")
    from trt_tracker.export import _export_localiser
    from trt_tracker.models import build_model
    from trt_tracker.models.graphs import load_weights
    from trt_tracker.train import preset, save_weights

    d = tmp_path_factory.mktemp("hand") / "hand-lite"
    shutil.copytree(REPO / "export" / "hand-lite", d)
    for f in d.glob("localiser.*"):
        f.unlink()
    cfg = preset("hand-lite-localiser")
    torch.manual_seed(0)
    save_weights(d / "localiser.pt", build_model(cfg.model).eval(), cfg, 0, {})
    m = json.loads((d / "manifest.json").read_text())
    m["graphs"]["localiser"], m["localiser"] = _export_localiser(d / "localiser.pt", load_weights(d / "pose.pt")[1],
                                                                 d, progress=False)
    (d / "manifest.json").write_text(json.dumps(m))
    return d


def test_onnxruntime_localiser_equals_torch(hand_with_localiser):
    frames = [f.image for f in SyntheticSource("hand", 20_000_000, 3, 25.0)]
    with TrackerModel(hand_with_localiser) as mo, TrackerModel(hand_with_localiser, backend="torch") as mt:
        x = np.stack([mo.localiser.encode(f) for f in frames])
        po, bo = mo.localise(x)
        pt, bt = mt.localise(x)
    assert po.shape == (3,) and bo.shape == (3, 3)
    np.testing.assert_allclose(po, pt, atol=1e-4)
    np.testing.assert_allclose(bo, bt, atol=1e-4)


def test_a_manifest_with_a_broken_localiser_entry_is_refused(hand_with_localiser, tmp_path):
    from trt_tracker.stream.model import ModelError

    d = tmp_path / "m"
    shutil.copytree(hand_with_localiser, d)
    m = json.loads((d / "manifest.json").read_text())
    del m["localiser"]["input_size"]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="localiser entry is incomplete"):
        TrackerModel(d)


class OracleLocaliser:
    """A TrackerModel whose localiser answers with the ground-truth box (or a given box, or nobody) and
    which counts its network calls; whole frames only (``localiser_zoom=0``: it cannot see windows)."""

    def __init__(self, model, frames, margin, answer="truth", presence=1.0):
        self._m, self.frames, self.margin, self.answer, self.presence = model, frames, margin, answer, presence
        self.calls = []
        self.localiser = LocaliserCodec(128, model.modality)

    def frame(self, x):
        self.calls.append(("frame", len(x)))
        return self._m.frame(x)

    def temporal(self, pairs, related):
        return self._m.temporal(pairs, related)

    def localise(self, x):
        self.calls.append(("localise", len(x)))
        f = self.frames[self.current]
        H, W = f.image.shape[:2]
        if self.answer is None:
            return np.zeros(len(x), np.float32), np.zeros((len(x), 3), np.float32)
        uv = f.intrinsics.project(f.gt_joints_cam)
        box = box_from_points(uv, self.margin) if self.answer == "truth" else self.answer
        return (np.full(len(x), self.presence, np.float32),
                np.tile(self.localiser.encode_box(box, W, H), (len(x), 1)))

    def __getattr__(self, name):
        return getattr(self._m, name)


@pytest.mark.parametrize("kind", ["body", "hand"])
def test_a_track_starts_from_the_localisers_box(kind):
    """The localiser's box and a few variations of it in one frame-graph call (not a search over 32
    candidate windows), then one pass re-centred on the pose: on the subject."""
    frames = list(SyntheticSource(kind, 20_000_001, 4, 25.0))
    with TrackerModel(REPO / "export" / f"{kind}-lite", threads=1) as m:
        om = OracleLocaliser(m, frames, m.margin)
        tr = Tracker(om, TrackerConfig(durations=(1,), localiser_every=0, localiser_below=0.0, localiser_zoom=0))
        om.current = 0
        r = tr.step(frames[0])
        assert r.status in ("init", "search")
        n = len(tr.cfg.localiser_variants)      # the box and its variations in one call, then re-centred
        assert [c for c in om.calls if c[0] == "frame"] == [("frame", n)] + [("frame", 1)] * (tr.cfg.init_passes - 1)
        assert ("localise", 1) in om.calls
        uv = frames[0].intrinsics.project(frames[0].gt_joints_cam)
        torso = np.ptp(uv, axis=0).max()
        assert np.abs(r.single_2p5d[:, :2] - uv).mean() < 0.1 * torso


@pytest.mark.parametrize("kind", ["body", "hand"])
def test_no_subject_no_search(kind):
    """When the localiser finds nobody the frame is lost at once, without a frame-graph call."""
    frames = list(SyntheticSource(kind, 20_000_001, 2, 25.0))
    with TrackerModel(REPO / "export" / f"{kind}-lite", threads=1) as m:
        om = OracleLocaliser(m, frames, m.margin, answer=None)
        tr = Tracker(om, TrackerConfig(durations=(1,)))
        om.current = 0
        r = tr.step(frames[0])
    assert r.status == "lost" and "localiser finds no subject" in r.message
    assert not [c for c in om.calls if c[0] == "frame"]


def test_a_drifting_box_is_relocalised():
    """A tracked hand whose box is pushed off the hand is cut with the localiser's box; boxes that agree with
    it are kept."""
    frames = list(SyntheticSource("hand", 20_000_001, 6, 25.0))
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        om = OracleLocaliser(m, frames, m.margin)
        tr = Tracker(om, TrackerConfig(durations=(1,), localiser_every=1, localiser_below=0.0, localiser_zoom=0))
        out = []
        for i, f in enumerate(frames):
            om.current = i
            if i == 4:      # push the track's last pose off the hand by half a box side
                st = tr.tracks[0]
                J, z = st.last
                J = J.copy()
                J[:, 0] += 0.5 * st.box.size
                st.last = (J, z)
            out.append(tr.step(f))
    assert [r.message for r in out[1:4]] == [""] * 3
    assert out[4].message == "re-localised" and out[4].status == "track"
    want = box_from_points(frames[4].intrinsics.project(frames[4].gt_joints_cam), m.margin)
    np.testing.assert_allclose(out[4].box, want.as_array(), atol=1e-3)


def test_a_box_stays_within_the_localisers_scale_between_checks():
    """A pose collapsed to a point (a network gone wrong) cannot shrink the next box below the localiser's
    floor (its last box side / localiser_band), nor can a spread one grow it above the ceiling."""
    frames = list(SyntheticSource("body", 20_000_001, 4, 25.0))
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        om = OracleLocaliser(m, frames, m.margin)
        cfg = TrackerConfig(durations=(1,), localiser_every=0, localiser_below=0.0, box_velocity=False,
                            localiser_zoom=0)
        tr = Tracker(om, cfg)
        om.current = 0
        tr.step(frames[0])
        st = tr.tracks[0]
        scale = st.scale
        assert scale is not None
        J, z = st.last
        for shrink, bound in ((0.01, scale / cfg.localiser_band), (20.0, scale * cfg.localiser_band)):
            Jc = J.copy()
            Jc[:, :2] = Jc[:, :2].mean(0) + shrink * (Jc[:, :2] - Jc[:, :2].mean(0))
            st.last, st.box = (Jc, z), CropBox(0, 0, bound)      # the previous box at the bound: no rate limit
            box, _ = tr._track_box(st, frames[1])
            assert box.size == pytest.approx(bound)


def test_trains_validates_and_resumes(tmp_path):
    """``trt-tracker train --preset hand-lite-localiser`` end to end on a tiny budget: validation figures in
    the log, a weights file the exporter reads, and a resumed run that continues from its checkpoint."""
    pytest.importorskip("torch")
    from trt_tracker.models.graphs import load_localiser
    from trt_tracker.train import preset, train

    over = ["steps=2", "batch_size=2", "val_every=2", "checkpoint_every=2", "val_sequences=1",
            "val_samples_per_sequence=3", "stream.frames_per_sequence=6", "stream.samples_per_sequence=3",
            "stream.pool_size=2", "model.width=0.25", "model.input_size=64", "model.head_channels=16",
            f"out={tmp_path}"]
    cfg = preset("hand-lite-localiser").override(over)
    m = train(cfg, progress=False, device="cpu")
    assert {"val_presence_err", "val_centre_err_box", "val_size_err_log"} <= set(m)
    graph, mcfg = load_localiser(tmp_path / "hand-lite-localiser" / "weights.pt")
    assert mcfg.task == "localiser" and mcfg.input_size == 64
    m2 = train(cfg.override(["steps=4"]), progress=False, device="cpu")
    assert m2["step"] == 4
    log = (tmp_path / "hand-lite-localiser" / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in log] == [2, 4]


def test_the_benchmark_pools_and_chooses_on_validation_figures():
    """benchmarks.localiser: frame-weighted pooling, and the choice: most in-view frames tracked net of empty
    frames tracked, then the lowest live / GT-crop ratio."""
    from benchmarks.localiser import choose, pooled

    def row(tracked, empty_tracked, single, gt):
        return {"frames_in_view": 100, "tracked_in_view": tracked, "empty_frames": 20,
                "tracked_when_empty": empty_tracked, "relocalised": 0, "ms_per_frame": 10.0,
                "mpjpe_single": single, "mpjpe_gt_crops": gt}

    p = pooled([row(100, 0, 10.0, 8.0), row(50, 1, 20.0, 10.0)])
    assert p["tracked_share"] == 0.75 and p["tracked_when_empty"] == 1
    assert p["mpjpe_single"] == pytest.approx((100 * 10 + 50 * 20) / 150)
    assert p["worst_sequence_live_over_gt"] == pytest.approx(2.0)
    a = {"tracked_in_view": 190, "tracked_when_empty": 0, "per_sequence_live_over_gt": [1.3, 1.3, 1.3]}
    b = {"tracked_in_view": 195, "tracked_when_empty": 3, "per_sequence_live_over_gt": [1.3, 1.3, 1.2]}   # 192 net
    c = {"tracked_in_view": 192, "tracked_when_empty": 0, "per_sequence_live_over_gt": [1.2, 1.5, 1.0]}   # 192 net
    d = {"tracked_in_view": 192, "tracked_when_empty": 0, "per_sequence_live_over_gt": [1.1, 1.0, 1.1]}
    assert choose([a, b]) is b                 # more frames tracked, net of empty ones
    assert choose([a, b, c]) is b              # as many, a ratio no lower beyond noise: the simpler stays
    assert choose([a, b, d]) is d              # as many, lower on every sequence


def test_a_zoomed_check_looks_at_a_window_around_the_box_inside_the_frame():
    """localiser_zoom: the localiser sees a window of the frame's aspect around the box (its shorter side
    zoom x the box side, at least 0.45 of the frame's), shifted inside the frame, and its answer comes back
    in frame pixels."""
    codec = LocaliserCodec(128, "depth")
    seen = []

    class Fake:
        modality, localiser = "depth", codec

        def localise(self, x):
            seen.append(x.copy())
            return np.ones(len(x), np.float32), np.tile([0.2, -0.1, np.log(0.3)], (len(x), 1)).astype(np.float32)

    tr = Tracker.__new__(Tracker)
    tr.model, tr.cfg = Fake(), TrackerConfig(localiser_zoom=2.0)
    depth = np.arange(320 * 240, dtype=np.uint16).reshape(240, 320) % 1000 + 300
    from trt_tracker.stream.frame import Frame

    f = Frame(index=0, t_capture=0.0, image=depth, modality="depth")
    got = [b for b, _ in tr._run_localiser([(f, CropBox(300, 30, 60)), (f, None)])]
    # box side 60 -> window shorter side 120 -> 160 x 120, pushed inside the frame: x0 = 160, y0 = 0
    want = codec.decode([0.2, -0.1, np.log(0.3)], 160, 120)
    np.testing.assert_allclose(got[0].as_array(), [want.cx + 160, want.cy, want.size])
    np.testing.assert_allclose(seen[0][0], codec.encode(np.ascontiguousarray(depth[0:120, 160:320])))
    whole = codec.decode([0.2, -0.1, np.log(0.3)], 320, 240)
    np.testing.assert_allclose(got[1].as_array(), whole.as_array())


def test_the_manifest_carries_the_localiser_settings():
    """tracker.localiser in a manifest -> the tracker's settings; --no-localiser turns it off."""
    from trt_tracker.stream.app import tracker_config

    man = {"tracker": {"localiser": {"presence": 0.6, "every": 3, "below": 0.35, "jump": 0.2, "zoom": 2.5,
                                     "box_limits": [0.3, 1.0]}}}
    cfg = tracker_config(man, "Dmf")
    assert (cfg.localiser, cfg.localiser_presence, cfg.localiser_every, cfg.localiser_below, cfg.localiser_jump,
            cfg.localiser_zoom, cfg.box_limits) == (True, 0.6, 3, 0.35, 0.2, 2.5, (0.3, 1.0))
    assert tracker_config(man, "Dmf", localiser=False).localiser is False


def test_a_start_the_localiser_is_sure_of_is_confirmed_at_once():
    """A body track normally needs init_confidence for confirm_frames frames ("search" before); with the
    localiser's presence at least localiser_sure it needs only the keep confidence, at once."""
    frames = list(SyntheticSource("body", 20_000_001, 2, 25.0))
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        for presence, want in ((0.95, "init"), (0.8, "search")):
            om = OracleLocaliser(m, frames, m.margin, presence=presence)
            om.current = 0
            cfg = TrackerConfig(durations=(1,), confirm_frames=2, init_confidence=0.3, localiser_zoom=0,
                                localiser_sure=0.9)
            assert Tracker(om, cfg).step(frames[0]).status == want


def test_crop_shift_centred_equals_gt_crop_reference():
    """benchmarks.crop_shift's batched shifted crops at offset 0, scale 1 are the demo's ground-truth crops
    (stream.app.gt_crop_mpjpe, frame by frame); moved crops differ from them, and a hand network trained on
    centred crops loses accuracy when its crop is a fifth of a side off."""
    from benchmarks.crop_shift import shifted_errors
    from trt_tracker.stream.app import gt_crop_mpjpe
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.sources import SyntheticSource

    seed, frames = 10_000_100, (3, 9)
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        fast = shifted_errors(m, [seed], frames, 0.0, 1.0)
        seq = SyntheticSource("hand", seed, max(frames) + 1, 25.0).seq
        ref = [gt_crop_mpjpe(m, seq, [t]) for t in frames]
        np.testing.assert_allclose(fast, ref, rtol=1e-5)
        moved = shifted_errors(m, [seed], frames, 0.2, 1.0)
        assert np.mean(moved) > np.mean(fast)
