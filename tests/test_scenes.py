"""Scenes that exercise a live tracker (issue: live tracking that stays on the subject).

The synthetic body generator renders the same scene with the subject out of view
for chosen frames (``make_body_sequence(..., hidden=...)``).  The tracker must say
"lost" while nobody is there instead of tracking the background, and find the
subject again within a few frames when they come back.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trt_tracker.data.body import make_body_sequence
from trt_tracker.stream.app import tracker_config
from trt_tracker.stream.model import TrackerModel
from trt_tracker.stream.sources import SequenceSource
from trt_tracker.stream.tracker import Tracker

MODEL = Path(__file__).resolve().parents[1] / "export" / "body-lite"
RESUME_WITHIN = 5          # frames after the subject is back in view
LOSE_WITHIN = 3            # frames after the subject has left


@pytest.fixture(scope="module")
def model():
    with TrackerModel(MODEL, threads=1) as m:
        yield m


def track_scene(model, seed: int, n: int, hidden) -> tuple[list, list, set]:
    """Track a 25 fps scene of ``n`` frames whose frames ``hidden`` (25 fps indices) show nobody."""
    seq = make_body_sequence(seed, 2 * n, hidden=[2 * i for i in hidden]).subsample(2)
    hid = set(seq.info.get("hidden", []))
    assert hid == set(hidden)
    tr = Tracker(model, tracker_config(model.manifest, "Dmf"))
    with SequenceSource(seq) as src:
        res = [tr.step(f) for f in src]
    return res, [r.status for r in res], hid


TRACKED = ("init", "track")     # "search": a new track not yet confirmed; "lost": no pose


def _first_tracked_from(statuses, start) -> int:
    return next(i for i in range(start, len(statuses)) if statuses[i] in TRACKED)


@pytest.mark.parametrize("seed", [20_000_010, 20_000_011])
def test_subject_leaves_and_returns(model, seed):
    n, gone = 60, range(20, 35)
    res, st, hid = track_scene(model, seed, n, gone)
    assert all(s in TRACKED for s in st[2:gone.start]), st[:gone.start]      # confirmed by the 3rd frame
    # Nobody there: lost within LOSE_WITHIN frames, and (almost) no track on the background after that.
    empty = st[gone.start + LOSE_WITHIN:gone.stop]
    assert st[gone.start + LOSE_WITHIN] not in TRACKED and sum(s in TRACKED for s in empty) <= 0.1 * len(empty), \
        st[gone.start:gone.stop]
    back = _first_tracked_from(st, gone.stop)
    assert back - gone.stop < RESUME_WITHIN, st[gone.stop:]
    assert all(s in TRACKED for s in st[back:]), st[back:]
    # Once back, the track is on the subject: its 2D error is a fraction of the torso.
    for r in res[back + 2:]:
        uv = r.frame.intrinsics.project(r.gt_joints_cam)[:, :2]
        torso = np.linalg.norm(uv[8] - uv[0])
        assert np.median(np.linalg.norm(r.single_2p5d[:, :2] - uv, axis=1)) < 0.5 * torso


def test_subject_enters_late(model):
    n, gone = 40, range(0, 12)
    res, st, hid = track_scene(model, 20_000_012, n, gone)
    # This scene's background looks person-like to body-lite (empty windows reach confidence 0.36, against
    # 0.25 elsewhere): a few empty frames get tracked before the subject comes; the track must not stick.
    assert sum(s in TRACKED for s in st[:gone.stop]) <= 0.5 * gone.stop, st[:gone.stop]
    assert all(r.message for r, s in zip(res[:gone.stop], st) if s == "lost")
    back = _first_tracked_from(st, gone.stop)
    assert back - gone.stop < RESUME_WITHIN, st[gone.stop:]
    assert sum(s in TRACKED for s in st[back:]) >= 0.98 * (n - back)


def test_box_never_shrinks_below_its_floor(model):
    res, st, _ = track_scene(model, 20_000_013, 40, range(15, 20))
    H, W = res[0].frame.image.shape[:2]
    sizes = [r.box[2] for r in res if r.box is not None]
    assert sizes and min(sizes) >= 0.15 * min(H, W) - 1e-6


@pytest.fixture(scope="module")
def hand_model():
    with TrackerModel(MODEL.parent / "hand-lite", threads=1) as m:
        yield m


@pytest.mark.parametrize("seed", [20_000_010, 20_000_011])
def test_hand_leaves_and_returns(hand_model, seed):
    """The hand (and its arm) leaves the depth camera's view and comes back: lost while away, found again."""
    from trt_tracker.stream.sources import SyntheticSource

    n, gone = 50, range(20, 30)
    with SyntheticSource("hand", seed, n, 25.0, hidden=gone) as src:
        tr = Tracker(hand_model, tracker_config(hand_model.manifest, "Dmf"))
        st = [tr.step(f).status for f in src]
    empty = st[gone.start + LOSE_WITHIN:gone.stop]
    assert sum(s in TRACKED for s in empty) <= 0.1 * len(empty), st[gone.start:gone.stop]
    back = _first_tracked_from(st, gone.stop)
    assert back - gone.stop < RESUME_WITHIN, st[gone.stop:]
    assert sum(s in TRACKED for s in st[back:]) >= 0.9 * (n - back), st[back:]


@pytest.mark.parametrize("side", ["left", "right", "top", "bottom"])
def test_hand_and_arm_enter_from_the_border(hand_model, side):
    """The hand and its arm slide in from a side of the image: a track starts within a few frames of the
    whole hand being in view, is on the hand (mean 2D error under 0.2 of the hand's extent; a track on the
    forearm is ~0.5 off) soon after and stays there.

    Not yet right (measured here, seed 20000013): while only the arm or part of the hand is in view the
    search can settle on the arm for a few frames (right, top, bottom: 2-4 frames ~0.5 extents off) until
    its confidence falls (the window search; the localiser now also checks a confident track)."""
    from trt_tracker.data.hand import make_hand_sequence

    n, ramp = 50, 16                               # 25 fps frames; the hand comes in over the first 16
    seq = make_hand_sequence(20_000_013, 2 * n, enter=(side, 2 * ramp)).subsample(2)
    uv = seq.joints_2p5d[..., :2]
    extent = np.ptp(uv, axis=1).max(axis=1)
    H, W = seq.frames.shape[1:3]
    whole = next(t for t in range(n) if ((uv[t] >= 0) & (uv[t] < [W, H])).all())
    tr = Tracker(hand_model, tracker_config(hand_model.manifest, "Dmf"))
    with SequenceSource(seq) as src:
        res = [tr.step(f) for f in src]
    st = [r.status for r in res]
    assert _first_tracked_from(st, whole) - whole < RESUME_WITHIN, (whole, st)
    on = [t for t, r in enumerate(res) if t >= whole and r.status in TRACKED
          and np.linalg.norm(r.single_2p5d[:, :2] - uv[t], axis=-1).mean() < 0.2 * extent[t]]
    assert on and on[0] - whole < 2 * RESUME_WITHIN, (whole, st)
    assert len(on) >= 0.9 * (n - on[0]), (on, st)


def _on_subject(r, share: float = 0.5) -> bool:
    """The single-frame pose's median 2D error is under ``share`` of the torso (neck to pelvis)."""
    uv = r.frame.intrinsics.project(r.gt_joints_cam)[:, :2]
    torso = np.linalg.norm(uv[8] - uv[0])
    return bool(np.median(np.linalg.norm(r.single_2p5d[:, :2] - uv, axis=1)) < share * torso)


def _track(model, seq) -> list:
    tr = Tracker(model, tracker_config(model.manifest, "Dmf"))
    with SequenceSource(seq) as src:
        return [tr.step(f) for f in src]


@pytest.mark.parametrize("side", ["left", "right"])
def test_subject_enters_from_the_frames_edge(model, side):
    """The person walks in from a side of the image: a track starts within a few frames of the whole person
    being in view and is on them from then on."""
    n, ramp = 40, 12
    seq = make_body_sequence(20_000_016, 2 * n, enter=(side, 2 * ramp)).subsample(2)
    uv = seq.joints_2p5d[..., :2]
    H, W = seq.frames.shape[1:3]
    whole = next(t for t in range(n) if ((uv[t] >= 0) & (uv[t] < [W, H])).all())
    res = _track(model, seq)
    st = [r.status for r in res]
    first = _first_tracked_from(st, whole)
    assert first - whole < RESUME_WITHIN, (whole, st)
    on = [t for t in range(first, n) if st[t] in TRACKED and _on_subject(res[t])]
    assert len(on) >= 0.9 * (n - first), (whole, st)


def test_subject_fully_occluded_for_a_moment(model):
    """A board covers the whole person for six frames: tracking resumes within a few frames of it going, on
    the person."""
    from dataclasses import replace

    n, covered = 40, range(15, 21)
    seq = make_body_sequence(20_000_017, 2 * n).subsample(2)
    frames = np.array(seq.frames)
    for t in covered:
        uv = seq.joints_2p5d[t, :, :2]
        (x0, y0), (x1, y1) = uv.min(0) - 20, uv.max(0) + 20
        frames[t, max(0, int(y0)):int(y1) + 1, max(0, int(x0)):int(x1) + 1] = (96, 110, 120)
    res = _track(model, replace(seq, frames=frames))
    st = [r.status for r in res]
    assert all(s in TRACKED for s in st[2:covered.start]), st
    back = _first_tracked_from(st, covered.stop)
    assert back - covered.stop < RESUME_WITHIN, st[covered.stop:]
    assert all(s in TRACKED and _on_subject(r) for r, s in zip(res[back + 1:], st[back + 1:])), st[back:]


def test_subject_moving_fast(model):
    """5 fps (ten 50 fps frames apart): large jumps between frames; the track stays on the person."""
    n = 30
    seq = make_body_sequence(20_000_018, 10 * n, action="walk").subsample(10)
    res = _track(model, seq)
    on = [r for r in res[1:] if r.status in TRACKED and _on_subject(r, 0.35)]
    assert len(on) >= 0.9 * (n - 1), [r.status for r in res]
