"""``trt-tracker bench latency`` (benchmarks/latency.py): result structure, the batched multi-stream
tracker against independent trackers, and clear errors.  No assertion here depends on speed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import latency
from trt_tracker.codec import RGB_MEAN, RGB_STD, PoseCodec

TINY = ["--quick", "--backends", "onnxruntime:cpu", "--frames", "36", "--warmup-frames", "6", "--runs", "5",
        "--warmup", "2", "--batch", "1", "2", "--streams", "1", "2", "--stream-steps", "4"]


def _ordered(s: dict) -> bool:
    return s["min"] <= s["median"] <= s["p95"] <= s["p99"]


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency")
    assert latency.main([*TINY, "--out", str(out)]) == 0
    (path,) = out.glob("latency-*.json")
    return json.loads(path.read_text()), path


def test_quick_run_writes_a_complete_result(quick_result):
    r, path = quick_result
    for key in ("machine", "versions", "settings", "backends", "model_only", "pipeline", "multi_stream",
                "targets", "headline", "skipped"):
        assert key in r, key
    assert r["versions"]["onnxruntime"]
    assert {b["name"] for b in r["backends"]} == {"onnxruntime:cpu"}
    assert {(m["graph"], m["batch"]) for m in r["model_only"]} == {(g, b) for g in ("frame", "temporal") for b in (1, 2)}
    for m in r["model_only"]:
        assert _ordered(m["ms"]) and m["items_per_s"] > 0
    assert [p["durations"] for p in r["pipeline"]] == [[1], [1, 2, 3]]
    assert [m["streams"] for m in r["multi_stream"]] == [1, 2]
    for plot in r["plots"]:
        assert plot.endswith(".png") and (path.parent / plot.split("/")[-1]).is_file()
    t = r["targets"]
    assert t["evaluated"] and isinstance(t["camera_to_result_p50_ms"]["met"], bool)
    assert isinstance(t["outside_networks_share"]["met"], bool)
    assert any("TARGET" in line for line in r["headline"])


def test_percentiles_are_ordered_and_stages_add_up_to_camera_to_result(quick_result):
    r, _ = quick_result
    for p in r["pipeline"]:
        c2r = p["camera_to_result"]
        assert _ordered(c2r) and all(_ordered(s) for s in p["stages"].values())
        assert p["measured_frames"] == len(p["camera_to_result_samples_ms"]) >= 2
        # The named stages are disjoint intervals inside camera to result: "other" (the rest) is never
        # negative, and with it the stage means add up to camera to result.
        assert p["stages"]["other"]["min"] > -0.01
        named = sum(p["stages"][s]["mean"] for s in latency.STAGES)
        assert 0.5 * c2r["mean"] <= named <= c2r["mean"] + 1e-6
        assert sum(s["mean"] for s in p["stages"].values()) == pytest.approx(c2r["mean"], rel=1e-6)
        assert p["stages"]["frame_graph"]["median"] > 0 and p["stages"]["temporal_graph"]["median"] > 0
        out = p["outside_networks"]
        assert 0 < out["share_median"] < 1 and out["ms"]["median"] < c2r["median"]
    for m in r["multi_stream"]:
        assert _ordered(m["step_ms"]) and _ordered(m["independent"]["step_ms"])
        assert m["temporal_batch"] == m["streams"] * len(m["durations"])


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


@pytest.mark.parametrize("model_dir", ["export/body-lite", "export/hand-lite"])
def test_batched_streams_equal_independent_trackers(model_dir):
    """The fast path (one network call per graph for all streams) against the slow reference."""
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.tracker import Tracker, TrackerConfig

    n, T, ds = 3, 6, (1, 2)
    with TrackerModel(model_dir, threads=1) as m:
        kind = "hand" if m.modality == "depth" else "body"
        seqs = latency.stream_frames(kind, n, T)
        cfg = TrackerConfig(durations=ds, gamma=3.0)
        counted = CountingModel(m)
        bt = latency.BatchedTracker(counted, cfg, n)
        refs = [Tracker(m, cfg) for _ in range(n)]
        batched_steps = 0
        for t in range(T):
            frames = [s[t] for s in seqs]
            counted.calls.clear()
            got = bt.step(frames)
            want = [tr.step(f) for tr, f in zip(refs, frames)]
            for g, w in zip(got, want):
                assert g.status == w.status and g.durations == w.durations
                if w.joints_2p5d is None:
                    assert g.joints_2p5d is None
                    continue
                np.testing.assert_allclose(g.joints_2p5d, w.joints_2p5d, atol=1e-3)
                np.testing.assert_allclose(g.joints_cam, w.joints_cam, atol=1e-2)
                np.testing.assert_allclose(g.single_2p5d, w.single_2p5d, atol=1e-3)
            if t >= max(ds) and all(w.status == "track" for w in want):
                assert counted.calls == [("frame", n), ("temporal", n * len(ds))]
                batched_steps += 1
        assert batched_steps > 0, "no step tracked every stream with all durations"


def test_batched_tracker_wants_one_frame_per_stream():
    from trt_tracker.stream.model import TrackerModel
    from trt_tracker.stream.tracker import TrackerConfig

    with TrackerModel("export/body-lite", threads=1) as m:
        bt = latency.BatchedTracker(m, TrackerConfig(durations=(1,)), 2)
        with pytest.raises(ValueError, match="one frame per stream"):
            bt.step([])


@pytest.mark.parametrize("argv, words", [
    (["--models", "export/no-such-model"], ["export/no-such-model", "not found"]),
    (["--model", "export/no-such-model"], ["export/no-such-model", "not found"]),
    (["--backends", "onnxruntime:cpu", "tensorflow:cpu"], ["unknown backend", "tensorflow:cpu"]),
    (["--durations", "1,-2"], ["forward durations"]),
])
def test_bad_settings_are_clear_errors(argv, words, capsys, tmp_path):
    assert latency.main(["--quick", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "error" in err and all(w in err for w in words), err
    assert not list(tmp_path.iterdir())          # nothing measured, nothing written


def test_fast_rgb_encoding_equals_the_reference_formula(rng):
    """codec.encode_rgb writes channel-first in one pass; it must equal the plain HWC formula bit for bit."""
    codec = PoseCodec(32, 8, 2000.0)
    crop = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    got = codec.encode_rgb(crop)
    want = ((crop.astype(np.float32) - RGB_MEAN) / RGB_STD).transpose(2, 0, 1)
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (3, 32, 32)
    assert np.array_equal(got, want)


def test_full_size_networks_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU for PyTorch")
    rows = latency.full_size(["body-full-pose"], [1], runs=3, warmup=1)
    assert [(r["precision"], r["batch"]) for r in rows] == [("fp32", 1), ("fp16", 1)]
    assert all(_ordered(r["ms"]) and r["depth"] == 50 and r["input_size"] == 256 for r in rows)
