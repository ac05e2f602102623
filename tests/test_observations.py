"""The simulated observation model: its error sizes are the ones it promises."""
import numpy as np

from trt_tracker.data.observations import NoiseModel, simulate_observations
from trt_tracker.skeleton import BODY17


def test_error_sizes_and_structure():
    rng = np.random.default_rng(1)
    T = 4000
    gt = np.cumsum(rng.normal(0, 8, size=(T, 17, 3)), axis=0)
    nm = NoiseModel(joint_outlier_rate=0.0, bone_outlier_rate=0.0, disp_outlier_rate=0.0)
    J, B, D = simulate_observations(gt, BODY17, (1, 3, -2), nm, rng, fps=25.0)
    err = J - gt
    body = err.mean(axis=1, keepdims=True)            # the shared part (own errors average out over 17 joints)
    own = err - body
    expect_total = np.hypot(nm.joint_sigma, nm.body_sigma)
    assert np.allclose(err.std(axis=(0, 1)), expect_total, rtol=0.1)
    assert np.allclose(own.std(axis=(0, 1)), np.asarray(nm.joint_sigma) * np.sqrt(16 / 17), rtol=0.05)
    # AR(1) correlation in time: exp(-dt / tau).
    r = np.corrcoef(own[1:, :, 0].ravel(), own[:-1, :, 0].ravel())[0, 1]
    assert abs(r - np.exp(-1 / (25 * nm.joint_corr_time_s))) < 0.03
    J2, _, _ = simulate_observations(gt, BODY17, (), nm, np.random.default_rng(2), fps=2.5)
    own2 = (J2 - gt) - (J2 - gt).mean(axis=1, keepdims=True)
    assert abs(np.corrcoef(own2[1:, :, 0].ravel(), own2[:-1, :, 0].ravel())[0, 1]) < 0.05
    nr = BODY17.non_root
    assert np.isclose((B - BODY17.bones(gt))[:, nr].std(), nm.bone_sigma, rtol=0.05)
    assert np.all(np.isnan(D[3][:3])) and np.all(np.isnan(D[-2][-2:])) and np.all(np.isfinite(D[3][3:]))
    true3 = gt[3:] - gt[:-3]
    mag = np.linalg.norm(true3, axis=-1)
    e3 = np.linalg.norm(D[3][3:] - true3, axis=-1)
    # Displacement error grows with the displacement.
    small, large = e3[mag < np.percentile(mag, 20)].mean(), e3[mag > np.percentile(mag, 80)].mean()
    assert large > 1.5 * small


def test_outliers_and_determinism():
    gt = np.zeros((500, 17, 3))
    a = simulate_observations(gt, BODY17, (1,), NoiseModel(joint_outlier_rate=0.05), np.random.default_rng(5))
    b = simulate_observations(gt, BODY17, (1,), NoiseModel(joint_outlier_rate=0.05), np.random.default_rng(5))
    assert np.array_equal(a[0], b[0])
    big = np.linalg.norm(a[0], axis=-1) > 150
    assert 0.03 < big.mean() < 0.07
