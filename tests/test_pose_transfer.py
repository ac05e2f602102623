"""benchmarks.pose_transfer's portrait score on a fake model that returns given joints."""
from __future__ import annotations

import numpy as np

from benchmarks.pose_transfer import PORTRAIT_SCORED, portrait_pck
from trt_tracker.camera import box_from_points
from trt_tracker.codec import PoseCodec
from trt_tracker.data.body import make_body_sequence
from trt_tracker.data.samples import HALF_BODY_GROUPS


class FakeModel:
    """Returns, for each crop, the ground truth (moved by ``shift`` image px) in the network frame."""

    def __init__(self, seq, indices, shift=(0.0, 0.0)):
        self.codec, self.margin = PoseCodec(128, 32, 2000.0), 1.25
        sk = seq.skeleton
        framed = [sk.index(j) for j in HALF_BODY_GROUPS[sk.name][0]]
        self.J = []
        for t in indices:
            tf = self.codec.transform(box_from_points(seq.joints_uv[t, framed], self.margin))
            P = seq.joints_2p5d[t].copy()
            P[:, :2] += shift
            self.J.append(self.codec.encode_points(P, tf))

    def frame(self, x):
        assert x.shape == (len(self.J), 3, 128, 128)
        return np.stack(self.J), None, None


def test_portrait_pck_of_perfect_and_shifted_joints():
    seq = make_body_sequence(4, n_frames=8)
    ts = [1, 5, 7]
    assert portrait_pck(FakeModel(seq, ts), seq, ts) == (3 * len(PORTRAIT_SCORED), 3 * len(PORTRAIT_SCORED))
    uv = seq.joints_uv
    torso = min(np.linalg.norm((uv[t, 11] + uv[t, 14]) / 2 - (uv[t, 1] + uv[t, 4]) / 2) for t in ts)
    hits, n = portrait_pck(FakeModel(seq, ts, (0.25 * torso, 0.0)), seq, ts)
    assert hits == 0 and n == 15
    hits, n = portrait_pck(FakeModel(seq, ts, (0.1 * torso, 0.0)), seq, ts)
    assert hits == n
