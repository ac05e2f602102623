"""The second renderer of benchmarks/cross_renderer (a figure the networks never trained on) and its scoring."""
import numpy as np
import pytest

from benchmarks.cross_renderer import pool, score
from benchmarks.figure_renderer import FigureRenderer
from trt_tracker.data.body import body_scene, make_body_sequence
from trt_tracker.skeleton import BODY17

NECK = BODY17.names.index("neck")


@pytest.fixture(scope="module")
def scene():
    _, _, cam, X, _ = body_scene(20_000_100, 6, camera="webcam")
    return cam.intrinsics, X


def test_body_scene_is_the_sequence_without_pixels(scene):
    intr, X = scene
    seq = make_body_sequence(20_000_100, 6, camera="webcam")
    np.testing.assert_array_equal(seq.joints_cam, X)
    assert seq.intrinsics == intr


def test_figure_is_drawn_on_its_joints_and_deterministic(scene):
    intr, X = scene
    a = FigureRenderer(intr, np.random.default_rng(1)).render(X[:2])
    b = FigureRenderer(intr, np.random.default_rng(1)).render(X[:2])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, intr.height, intr.width, 3) and a.dtype == np.uint8
    room = FigureRenderer(intr, np.random.default_rng(1)).room.astype(float)
    uv = np.rint(intr.project(X[0])).astype(int)

    def diff(x, y):
        return np.abs(a[0, y - 2:y + 3, x - 2:x + 3].astype(float) - room[y - 2:y + 3, x - 2:x + 3]).mean()

    torso = [BODY17.names.index(n) for n in ("torso", "neck", "l_shoulder", "r_shoulder")]
    assert min(diff(*uv[k]) for k in torso) > 12          # the figure covers its torso joints ...
    far = [(10, 10), (intr.width - 11, 10)]
    far = [p for p in far if np.min(np.hypot(*(uv - p).T)) > 150]
    assert far and max(diff(*p) for p in far) < 8         # ... and leaves the far room as it was (noise, JPEG)


def test_figure_renderer_rejects_other_skeletons(scene):
    intr, _ = scene
    with pytest.raises(ValueError, match="camera-space joints"):
        FigureRenderer(intr, np.random.default_rng(0)).render(np.zeros((3, 21, 3)))


def test_score_in_torso_lengths():
    rng = np.random.default_rng(0)
    uv = rng.uniform(100, 300, (4, BODY17.K, 2))
    torso = np.linalg.norm(uv[:, NECK] - uv[:, BODY17.root], axis=-1)
    exact = [{"index": t, "status": "track", "joints_2p5d": np.c_[uv[t], np.zeros(BODY17.K)].tolist()}
             for t in range(4)]
    s = score(exact, uv, NECK, BODY17.root)
    assert s["tracked_share"] == 1 and s["error_torso_mean"] == 0 and s["pck"] == 1 and s["on_figure_share"] == 1
    shifted = [dict(r, joints_2p5d=(np.asarray(r["joints_2p5d"]) + [0.3 * torso[t], 0, 0]).tolist())
               for t, r in enumerate(exact)]
    shifted[3]["status"] = "lost"                       # a lost frame is no tracked frame ...
    del shifted[2]                                      # ... nor is a missing one
    s = score(shifted, uv, NECK, BODY17.root)
    assert s["tracked"] == 2 and s["tracked_share"] == 0.5
    assert s["error_torso_mean"] == pytest.approx(0.3) and s["pck"] == 0 and s["on_figure_share"] == 0.5
    p = pool([score(exact, uv, NECK, BODY17.root), s])
    assert p["frames"] == 8 and p["tracked"] == 6 and p["error_torso_mean"] == pytest.approx(0.1)
    assert p["pck"] == pytest.approx(4 / 6)
