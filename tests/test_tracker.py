"""The batched tracker (stream/tracker.py): many streams in one Tracker equal independent single-stream
trackers on the same frames, with one network call per graph per step, and one batched crop pass that
equals cropping one box at a time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trt_tracker.camera import CropBox
from trt_tracker.codec import CropJob
from trt_tracker.stream.model import TrackerModel
from trt_tracker.stream.sources import SyntheticSource
from trt_tracker.stream.tracker import Tracker, TrackerConfig, box_occupancy

REPO = Path(__file__).resolve().parents[1]


class CountingModel:
    """A TrackerModel that records the batch size of every network call."""

    def __init__(self, model):
        self._m = model
        self.calls = []

    def frame(self, x):
        self.calls.append(("frame", len(x)))
        return self._m.frame(x)

    def temporal(self, pairs, related):
        self.calls.append(("temporal", len(pairs)))
        return self._m.temporal(pairs, related)

    def __getattr__(self, name):
        return getattr(self._m, name)


def sequences(kind: str, n: int, T: int) -> list[list]:
    return [list(SyntheticSource(kind, 20_000_000 + s, T, 25.0)) for s in range(n)]


def _same(g, w, atol: float = 1e-3, z_mean_mm: float | None = None) -> None:
    """Equal results; ``z_mean_mm``: depths compared by their mean absolute difference over the joints instead
    of joint by joint (boxes a fraction of a pixel apart can flip one joint's depth between two readings of
    its heatmap: a tenth of a pixel moved the body pose network's depth of one wrist by 10 mm)."""
    assert g.status == w.status and g.durations == w.durations and g.message == w.message
    if w.joints_2p5d is None:
        assert g.joints_2p5d is None
        return
    for a, b in ((g.joints_2p5d, w.joints_2p5d), (g.single_2p5d, w.single_2p5d)):
        np.testing.assert_allclose(a[:, :2], b[:, :2], atol=atol)          # px
        if z_mean_mm is None:
            np.testing.assert_allclose(a[:, 2], b[:, 2], atol=10 * atol)   # mm
        else:
            assert np.abs(a[:, 2] - b[:, 2]).mean() <= z_mean_mm
    if z_mean_mm is None:
        np.testing.assert_allclose(g.joints_cam, w.joints_cam, atol=10 * atol)
    else:
        assert np.linalg.norm(g.joints_cam - w.joints_cam, axis=-1).mean() <= z_mean_mm
    np.testing.assert_allclose(g.box, w.box, atol=atol * 1e-3 if atol <= 1e-3 else atol)


@pytest.mark.parametrize("min_confidence,localiser", [(0.0, False), (0.25, False), (0.25, True)])
@pytest.mark.parametrize("model_dir", ["body-lite", "hand-lite"])
def test_batched_streams_equal_independent_trackers(model_dir, min_confidence, localiser):
    """The fast path (one crop pass, one network call per graph for all streams) against the slow reference,
    with tracks that are lost on low confidence and start again (0.25) and without (0); with the window
    search (exactly equal) and with the localiser (equal up to its network's float differences between batch
    sizes, which move a box by a fraction of a pixel: (u, v) within half a pixel, depths within 3 mm on
    average over the joints)."""
    n, T, ds = 3, 6, (1, 2)
    with TrackerModel(REPO / "export" / model_dir, threads=1) as m:
        seqs = sequences("hand" if m.modality == "depth" else "body", n, T)
        cfg = TrackerConfig(durations=ds, alpha=0.3, gamma=3.0, min_confidence=min_confidence,
                            init_confidence=min_confidence, confirm_frames=1 if min_confidence == 0 else 2,
                            localiser=localiser, localiser_every=2)
        counted = CountingModel(m)
        bt = Tracker(counted, cfg, streams=n)
        refs = [Tracker(m, cfg) for _ in range(n)]
        batched_steps = 0
        for t in range(T):
            frames = [s[t] for s in seqs]
            counted.calls.clear()
            got = bt.step_batch(frames)
            want = [tr.step(f) for tr, f in zip(refs, frames)]
            for g, w in zip(got, want):
                _same(g, w, 0.5, z_mean_mm=3.0) if localiser else _same(g, w)
            if t >= max(ds) and all(w.status == "track" for w in want) and not localiser:
                assert counted.calls == [("frame", n), ("temporal", n * len(ds))]
                batched_steps += 1
        assert batched_steps > 0 or min_confidence > 0, "no step tracked every stream with all durations"


@pytest.mark.parametrize("model_dir,depth_centre,n", [("body-lite", "previous", 1), ("body-lite", "previous", 2),
                                                      ("hand-lite", "previous", 1), ("hand-lite", "depth", 2)])
def test_prepared_ahead_equals_cut_in_the_step(model_dir, depth_centre, n):
    """Tracker.prepare (the next box and earlier-frame crops cut between frames) against cutting everything in
    the step: the same results bit for bit, through lost and restarted tracks, a stream that skips a step
    and a frame of another size (whose prepared crops do not fit and are cut again); one stream (its frame
    crop cut straight into its pairs) and two."""
    T, ds = 8, (1, 2)
    with TrackerModel(REPO / "export" / model_dir, threads=1) as m:
        seqs = sequences("hand" if m.modality == "depth" else "body", n, T)
        f = seqs[-1][5]      # a frame of another size: the same scene padded on the right
        seqs[-1][5] = type(f)(f.index, f.t_capture, np.pad(f.image, ((0, 0), (0, 8)) + ((0, 0),) * (f.image.ndim - 2)),
                             f.modality, f.intrinsics, f.timestamp, f.gt_joints_cam)
        cfg = TrackerConfig(durations=ds, alpha=0.3, gamma=3.0, min_confidence=0.25, init_confidence=0.3,
                            confirm_frames=2, depth_centre=depth_centre)
        ahead, plain = Tracker(m, cfg, streams=n), Tracker(m, cfg, streams=n)
        prepared = 0
        for t in range(T):
            frames = [s[t] for s in seqs]
            if t == 3:
                frames[0] = None
            got, want = ahead.step_batch(frames), plain.step_batch(frames)
            for g, w in zip(got, want):
                if w is None:
                    assert g is None
                    continue
                assert g.status == w.status and g.durations == w.durations and g.message == w.message
                for a in ("joints_2p5d", "joints_cam", "single_2p5d", "confidence", "box"):
                    ga, wa = getattr(g, a), getattr(w, a)
                    assert (ga is None and wa is None) or np.array_equal(ga, wa), a
                prepared += "prepare" in g.latency_ms
                assert "prepare" not in w.latency_ms
            ahead.prepare()
        if depth_centre == "depth":
            assert prepared == 0       # the centre comes from the new frame: nothing can be cut before it
        else:
            assert prepared >= n * T // 2    # most tracked frames came with their box and earlier crops ready


def test_a_stream_without_a_frame_keeps_its_track():
    """None for a stream: no result for it, its track untouched; the others go on."""
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        a, b = sequences("body", 2, 5)
        # the window search: exactly equal (the localiser's batch-size float noise is the test above's)
        cfg = TrackerConfig(durations=(1,), gamma=3.0, localiser=False)
        bt, ref_a, ref_b = Tracker(m, cfg, streams=2), Tracker(m, cfg), Tracker(m, cfg)
        plan = [(0, 0), (1, None), (2, 1), (3, 2), (None, 3)]
        for ia, ib in plan:
            got = bt.step_batch([None if ia is None else a[ia], None if ib is None else b[ib]])
            for g, ref, seq, i in ((got[0], ref_a, a, ia), (got[1], ref_b, b, ib)):
                if i is None:
                    assert g is None
                else:
                    _same(g, ref.step(seq[i]))
        assert bt.tracks[0].frames == 4 and bt.tracks[1].frames == 4


def test_only_backends_with_threads_made_at_load_may_be_pinned():
    """PyTorch starts its CPU threads on first use, from the tracking thread: pinning that thread would pin
    them too, so a torch-backed tracker is never pinned; ONNX Runtime's exist once the model loads."""
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        assert Tracker(m, TrackerConfig(durations=(1,))).pinnable
        as_torch = CountingModel(m)
        as_torch.backend_name = "torch"
        assert not Tracker(as_torch, TrackerConfig(durations=(1,))).pinnable


def test_box_occupancy_counts_the_surface_at_the_tracked_depth():
    depth = np.zeros((100, 120), np.uint16)
    depth[20:40, 30:50] = 500          # a surface at the tracked depth: 400 of the box's 1600 pixels
    depth[40:60, 30:50] = 900          # another one far behind it
    box = CropBox(49.5, 39.5, 40.0)     # x 30..70, y 20..60
    assert box_occupancy(depth, box, 510.0, 125.0) == pytest.approx(400 / 1600)
    assert box_occupancy(depth, box, 900.0, 125.0) == pytest.approx(400 / 1600)
    assert box_occupancy(depth, box, 2000.0, 125.0) == 0.0                     # holes (0) never count
    assert box_occupancy(depth, CropBox(-100.0, -100.0, 50.0), 500.0, 125.0) == 0.0
    edge = CropBox(10.0, 10.0, 40.0)    # only its quarter inside the image counts: x 0..30, y 0..30
    depth[:30, :30] = 480
    assert box_occupancy(depth, edge, 500.0, 125.0) == pytest.approx(1.0)


def test_a_dim_hand_is_kept_while_its_box_holds_a_surface():
    """A tracked depth frame below the keep confidence stays tracked down to depth_keep_confidence when a
    surface fills its box at the track's depth, and is lost when the box is empty or the rule is off."""
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        K = m.skeleton.K
        depth = np.full((240, 320), 1500, np.uint16)
        depth[80:160, 120:200] = 450
        box = CropBox(160.0, 120.0, 100.0)
        P = np.column_stack([np.linspace(130, 190, K), np.linspace(90, 150, K), np.zeros(K)])
        dim = np.full(K, 0.2)
        on = Tracker(m, TrackerConfig(durations=(1,), min_confidence=0.25, depth_keep_confidence=0.15,
                                      min_occupancy=0.3))
        off = Tracker(m, TrackerConfig(durations=(1,), min_confidence=0.25))
        assert on._is_lost(P, depth, dim, 0.25, (box, 460.0)) == ""
        assert "fills 0 %" in on._is_lost(P, np.full_like(depth, 1500), dim, 0.25, (box, 460.0))
        assert on._is_lost(P, depth, np.full(K, 0.1), 0.25, (box, 460.0)).startswith("low confidence")
        assert on._is_lost(P, depth, dim, 0.25, None).startswith("low confidence")     # a new track: no rule
        assert off._is_lost(P, depth, dim, 0.25, (box, 460.0)).startswith("low confidence")
        with pytest.raises(ValueError, match="depth_keep_confidence"):
            TrackerConfig(min_confidence=0.25, depth_keep_confidence=0.3)


class DimModel(CountingModel):
    """A TrackerModel whose frame graph reports a mean confidence of ``dim`` once switched on."""

    dim = None

    def frame(self, x):
        J, B, C = self._m.frame(x)
        if self.dim is not None:
            C = C * (self.dim / C.mean(axis=1, keepdims=True))
        return J, B, C


def test_a_dim_track_is_kept_for_at_most_max_dim_frames_in_a_row():
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        (seq,) = sequences("hand", 1, 12)
        dm = DimModel(m)
        tr = Tracker(dm, TrackerConfig(durations=(1,), min_confidence=0.25, init_confidence=0.25,
                                       depth_keep_confidence=0.15, min_occupancy=0.05, max_dim_frames=3))
        got = []
        for t, f in enumerate(seq):
            dm.dim = 0.2 if t >= 4 else None
            got.append(tr.step(f).status)
        assert got[:4] == ["init", "track", "track", "track"], got
        assert got[4:7] == ["track"] * 3 and got[7] == "lost", got     # three dim frames kept, the fourth lost
        assert set(got[8:]) == {"lost"}, got      # no new track starts below the init confidence


def test_step_batch_wants_one_frame_per_stream():
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        bt = Tracker(m, TrackerConfig(durations=(1,)), streams=2)
        with pytest.raises(ValueError, match="one frame"):
            bt.step_batch([])
        with pytest.raises(ValueError, match="step_batch"):
            bt.step(None)
        with pytest.raises(ValueError, match="streams must be"):
            Tracker(m, TrackerConfig(), streams=0)


def test_reset_forgets_one_stream():
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as m:
        (a,) = sequences("body", 1, 3)
        bt = Tracker(m, TrackerConfig(durations=(1,)), streams=2)
        bt.step_batch([a[0], a[0]])
        bt.reset(1)
        r = bt.step_batch([a[1], a[1]])
        assert [x.status for x in r] == ["track", "init"]


@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_crop_batch_equals_one_crop_at_a_time(modality):
    """The batched CPU pass writes every crop where it belongs, equal to crop_input of that box alone."""
    from trt_tracker.codec import PoseCodec

    rng = np.random.default_rng(0)
    codec = PoseCodec(64, 16, 300.0)
    C = 3 if modality == "rgb" else 1
    imgs = ([rng.integers(0, 255, (120, 160, 3), dtype=np.uint8) for _ in range(2)] if modality == "rgb" else
            [rng.integers(300, 900, (120, 160), dtype=np.uint16) for _ in range(2)])
    tfs = [codec.transform(CropBox(60 + 10 * i, 50 + 5 * i, 40 + 20 * i)) for i in range(3)]
    cen = 600.0 if modality == "depth" else None
    jobs = [CropJob(imgs[0], tfs[0], cen, 0, 1), CropJob(imgs[1], tfs[1], cen, 0, 0),
            CropJob(imgs[1], tfs[2], cen, 1, 0, 0), CropJob(imgs[0], tfs[2], cen, 1, 0, C)]
    x, pairs = codec.crop_batch(jobs, (np.full((2, C, 64, 64), np.nan, np.float32),
                                       np.full((1, 2 * C, 64, 64), np.nan, np.float32)), modality)
    np.testing.assert_array_equal(x[1], codec.crop_input(imgs[0], tfs[0], modality, cen))
    np.testing.assert_array_equal(x[0], codec.crop_input(imgs[1], tfs[1], modality, cen))
    np.testing.assert_array_equal(pairs[0, :C], codec.crop_input(imgs[1], tfs[2], modality, cen))
    np.testing.assert_array_equal(pairs[0, C:], codec.crop_input(imgs[0], tfs[2], modality, cen))


class ConfidenceModel(CountingModel):
    """The real frame graph, with its per-joint confidence replaced by a chosen one."""

    def __init__(self, model, conf):
        super().__init__(model)
        self.conf = np.asarray(conf, np.float32)

    def frame(self, x):
        J, B, _ = self._m.frame(x)
        return J, B, np.broadcast_to(self.conf, (len(x), len(self.conf))).copy()


def test_confidence_weights_in_the_solver():
    """``confidence_weight``: equal confidences weigh every joint alike (the unweighted track exactly); a joint
    the network is unsure of follows the bone and displacement terms more than its single-frame estimate."""
    frames = sequences("hand", 1, 8)[0]
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        base = dict(durations=(1,), alpha=1.0, gamma=1.0, min_confidence=0.0, init_confidence=0.0,
                    root_depth="gt")
        K = m.skeleton.K

        def track(model, **kw):
            tr = Tracker(model, TrackerConfig(**base, **kw))
            return [tr.step(f) for f in frames]

        even = ConfidenceModel(m, np.full(K, 0.4))
        for g, w in zip(track(even, confidence_weight=2.0), track(even)):
            np.testing.assert_allclose(g.joints_2p5d, w.joints_2p5d, atol=1e-6)
        k = K - 1
        unsure = np.full(K, 0.4)
        unsure[k] = 0.01
        low = ConfidenceModel(m, unsure)
        a, b = track(low), track(low, confidence_weight=2.0)
        pull = lambda rs: np.mean([np.linalg.norm(r.joints_2p5d[k] - r.single_2p5d[k]) for r in rs[2:]])  # noqa: E731
        other = lambda rs: np.mean([np.linalg.norm(r.joints_2p5d[:k] - r.single_2p5d[:k], axis=-1).mean()  # noqa: E731
                                    for r in rs[2:]])
        assert pull(b) > 1.5 * pull(a) and other(b) < 2 * other(a)
    with pytest.raises(ValueError, match="confidence_weight"):
        TrackerConfig(confidence_weight=-1)
    with pytest.raises(ValueError, match="root_depth_quantile"):
        TrackerConfig(root_depth_quantile=120)


class CentreModel(CountingModel):
    """The real hand frame graph as if it gave z about the crop's depth centre (z_ref "centre"): its joints
    moved so that the root lies ``offset`` (network units) behind the centre."""

    z_ref = "centre"

    def __init__(self, model, offset):
        super().__init__(model)
        self.offset = offset

    def frame(self, x):
        J, B, C = self._m.frame(x)
        J = J.copy()
        J[..., 2] += self.offset - J[:, :1, 2]
        return J, B, C


def test_root_depth_from_a_network_that_gives_it():
    """A frame graph with z about the depth centre: each tracked frame's root depth is the centre (here the
    last root depth) plus the root's z, the joints come out root-relative, the tracked pose keeps the
    single-frame depths (its u, v tracked), and the source says so; asking a root-relative model for it is an error
    that names the fix."""
    frames = sequences("hand", 1, 6)[0]
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        base = dict(durations=(1,), gamma=3.0, min_confidence=0.0, init_confidence=0.0, confirm_frames=1)
        tr = Tracker(CentreModel(m, 0.1), TrackerConfig(**base))
        rs = [tr.step(f) for f in frames]
        assert [r.status for r in rs] == ["init"] + ["track"] * 5
        assert all(r.root_depth_source == "network" for r in rs)
        step, root = 0.1 * m.codec.z_scale, m.skeleton.root
        np.testing.assert_allclose(np.diff([r.root_depth for r in rs]), step, atol=1e-3)
        for r in rs:
            assert abs(r.single_2p5d[root, 2]) < 1e-9
            np.testing.assert_allclose(r.joints_2p5d[:, 2], r.single_2p5d[:, 2])
        assert max(np.abs(r.joints_2p5d[:, :2] - r.single_2p5d[:, :2]).max() for r in rs) > 0.01  # (u, v) tracked
        solver = Tracker(CentreModel(m, 0.1), TrackerConfig(**base, keep_network_depths=False))
        rs = [solver.step(f) for f in frames]
        assert max(np.abs(r.joints_2p5d[:, 2] - r.single_2p5d[:, 2]).max() for r in rs) > 0.01  # the solver's
    with TrackerModel(REPO / "export" / "body-lite", threads=1) as body:
        assert body.z_ref == "root"
        with pytest.raises(Exception, match="z_ref 'centre'"):
            Tracker(body, TrackerConfig(**base, root_depth="network")).step(sequences("body", 1, 1)[0][0])


def test_depth_crops_are_normalised_about_this_frames_depth():
    """depth_centre="depth": a tracked frame's crop is normalised about the root depth the frame's own depth
    map gives the predicted joints, so a frame moved 50 mm further away gives the same crop (the same pose,
    the root 50 mm deeper); about the last root depth ("previous") the crop changes."""
    import dataclasses

    f0, f1 = sequences("hand", 1, 2)[0]
    img = f1.image.astype(np.int64)
    far = dataclasses.replace(f1, image=np.where(img > 0, img + 50, 0).astype(np.uint16))
    with TrackerModel(REPO / "export" / "hand-lite", threads=1) as m:
        def run(frame, centre):
            tr = Tracker(m, TrackerConfig(durations=(), min_confidence=0.0, init_confidence=0.0, root_depth="depth",
                                          depth_centre=centre))
            tr.step(f0)
            return tr.step(frame)

        a, b = run(f1, "depth"), run(far, "depth")
        assert a.status == b.status == "track"
        np.testing.assert_allclose(b.single_2p5d, a.single_2p5d, atol=1e-6)
        assert b.root_depth - a.root_depth == pytest.approx(50.0, abs=1e-6)
        assert np.abs(run(far, "previous").single_2p5d - run(f1, "previous").single_2p5d).max() > 0.1
    with pytest.raises(ValueError, match="depth_centre"):
        TrackerConfig(depth_centre="mean")
