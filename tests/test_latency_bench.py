"""``trt-tracker bench latency`` (benchmarks/latency.py): result structure and clear errors (the batched
tracker it times is tested in test_tracker.py).  No assertion here depends on speed."""
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
    assert [(p["durations"], p["pinned"]) for p in r["pipeline"]] == [([1], True), ([1], False), ([1, 2, 3], True)]
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
    """codec.encode_rgb writes channel-first, one OpenCV pass per channel; it must equal the plain HWC
    formula (every uint8 value in every channel, into a fresh array and into a slice of a batch)."""
    codec = PoseCodec(32, 8, 2000.0)
    crop = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    crop[:8, :] = np.arange(256, dtype=np.uint8).reshape(8, 32)[:, :, None]   # all 256 values, each channel
    got = codec.encode_rgb(crop)
    want = ((crop.astype(np.float32) - RGB_MEAN) / RGB_STD).transpose(2, 0, 1)
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (3, 32, 32)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    batch = np.full((2, 6, 32, 32), np.nan, np.float32)
    codec.encode_rgb(crop, out=batch[1, 3:])
    assert np.array_equal(batch[1, 3:], got) and np.isnan(batch[1, :3]).all() and np.isnan(batch[0]).all()


def test_full_size_networks_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU for PyTorch")
    rows = latency.full_size(["body-full-pose"], [1], runs=3, warmup=1)
    assert [(r["precision"], r["batch"]) for r in rows] == [("fp32", 1), ("fp16", 1)]
    assert all(_ordered(r["ms"]) and r["depth"] == 50 and r["input_size"] == 256 for r in rows)
