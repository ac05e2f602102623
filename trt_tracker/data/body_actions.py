"""The nine synthetic BODY17 actions as joint-angle curves, and the keyframe and noise helpers they use.

Each action ``fn(t, rng, neutral, subject) -> _Track`` (:data:`_ACTION_FNS`,
keyed by the names in :data:`.body_motion.ACTIONS`) returns joint-angle
curves, a yaw rate, a ballistic lift and a foot-contact weight over the whole
sequence; :func:`.body_motion.simulate_body` blends them and places the root.
Everything is deterministic given a :class:`numpy.random.Generator`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from .body_kinematics import _IDX, _SIDES, D

GRAVITY_MM_S2 = 9810.0


# ---------------------------------------------------------------- actions
@dataclass
class _Track:
    """One action's curves over the whole sequence.

    angles (T, D) rad; yaw_rate (T,) rad/s (+ turns left); lift (T,) mm of
    ballistic flight above standing; contact (T,) 1 when the feet bear weight.
    """

    angles: np.ndarray
    yaw_rate: np.ndarray
    lift: np.ndarray
    contact: np.ndarray


def _pose(base: np.ndarray, **deg: float) -> np.ndarray:
    """Copy of ``base`` (D,) with some DOFs set (degrees)."""
    p = base.copy()
    for name, value in deg.items():
        p[_IDX[name]] = np.radians(value)
    return p


def _sided(side: str, **deg: float) -> dict[str, float]:
    """``_sided("r", sh_flex=90)`` -> ``{"r_sh_flex": 90}``."""
    return {f"{side}_{k}": v for k, v in deg.items()}


def _neutral_pose(rng: np.random.Generator) -> np.ndarray:
    """Relaxed standing pose with per-sequence variation, (D,) radians."""
    base = np.zeros(D)
    deg = {"spine_flex": rng.uniform(0, 8), "head_flex": rng.uniform(-5, 10), "pelvis_tilt": rng.uniform(0, 6)}
    abd, elbow, hip_abd, knee = rng.uniform(6, 14), rng.uniform(8, 22), rng.uniform(2, 6), rng.uniform(2, 8)
    for s in _SIDES:
        deg.update(_sided(s, sh_abd=abd + rng.normal(0, 1.5), elbow=elbow + rng.normal(0, 3),
                          sh_twist=rng.uniform(-10, 10), hip_abd=hip_abd, knee=knee, hip_flex=rng.uniform(0, 4)))
    return _pose(base, **deg)


def _smooth_noise(t: np.ndarray, rng: np.random.Generator, amp_deg: np.ndarray,
                  f_lo: float = 0.15, f_hi: float = 0.8, terms: int = 3) -> np.ndarray:
    """Band-limited random wobble (T, D): a sum of sinusoids with random frequencies and phases."""
    out = np.zeros((len(t), len(amp_deg)))
    for _ in range(terms):
        f = rng.uniform(f_lo, f_hi, len(amp_deg))
        ph = rng.uniform(0, 2 * np.pi, len(amp_deg))
        out += np.sin(2 * np.pi * f * t[:, None] + ph)
    return out * np.radians(amp_deg) / np.sqrt(terms)


def _idle_amplitudes() -> np.ndarray:
    amp = np.full(D, 1.5)
    for n in ("head_flex", "head_side", "head_twist"):
        amp[_IDX[n]] = 4.0
    for n in ("pelvis_tilt", "pelvis_roll"):
        amp[_IDX[n]] = 0.8
    return amp


def _interp_keys(t: np.ndarray, times: list[float], poses: list[np.ndarray]) -> np.ndarray:
    """Monotone cubic (PCHIP) interpolation of key poses: C1, no overshoot past the keys."""
    times = np.asarray(times, dtype=np.float64)
    order = np.argsort(times, kind="stable")
    times, poses = times[order], np.asarray(poses)[order]
    keep = np.concatenate([[True], np.diff(times) > 1e-6])
    return PchipInterpolator(times[keep], poses[keep], axis=0, extrapolate=True)(t)


def _bump(x: np.ndarray, kappa: float) -> np.ndarray:
    """Periodic bump peaking at x = 0 (von Mises shape), in [0, 1]."""
    return np.exp(kappa * (np.cos(x) - 1.0))


def _keyframed(t: np.ndarray, rng: np.random.Generator, neutral: np.ndarray, cycle) -> np.ndarray:
    """Repeat ``cycle(rng, t0) -> (key times, key poses)`` from a random phase until past the end.

    The sequence may start anywhere inside a cycle.  Returns the PCHIP-interpolated angles (T, D).
    """
    t_end = t[-1] if len(t) else 0.0
    t0 = -rng.uniform(0.0, 1.5)
    times, poses = [t0 - 0.5], [neutral]
    while t0 <= t_end + 0.5:
        ct, cp = cycle(rng, t0)
        times += ct
        poses += cp
        t0 = ct[-1]
    times.append(t0 + 1.0)
    poses.append(poses[-1])
    return _interp_keys(t, times, poses)


def _walk(t, rng, neutral, subject) -> _Track:
    T = len(t)
    f = rng.uniform(0.8, 1.0)                          # gait cycles per second (two steps)
    A_h = np.radians(rng.uniform(16.0, 24.0))          # hip flexion amplitude
    A_a = A_h * rng.uniform(0.6, 1.3)                  # arm swing amplitude
    K_sw = rng.uniform(50.0, 62.0)                     # peak swing knee flexion (deg)
    phi_r = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
    ang = np.tile(neutral, (T, 1))
    for side, phi, phi_other in (("r", phi_r, phi_r + np.pi), ("l", phi_r + np.pi, phi_r)):
        # Hip swings sinusoidally (max forward at heel strike, phi = pi/2).
        ang[:, _IDX[f"{side}_hip_flex"]] += np.radians(4.0) + A_h * np.sin(phi)
        # Knee: large flexion in early swing, small loading bump after heel strike.
        ang[:, _IDX[f"{side}_knee"]] += np.radians(K_sw * _bump(phi + np.pi / 4, 2.5)
                                                   + 12.0 * _bump(phi - 0.75 * np.pi, 4.0))
        ang[:, _IDX[f"{side}_hip_abd"]] += np.radians(2.0) * np.sin(phi + 0.5)
        # Arms swing with the opposite leg; elbows bend more in front.
        ang[:, _IDX[f"{side}_sh_flex"]] += A_a * np.sin(phi_other)
        ang[:, _IDX[f"{side}_elbow"]] += np.radians(8.0 + 12.0 * (1 + np.sin(phi_other)) / 2)
    ang[:, _IDX["spine_twist"]] += -np.radians(5.0) * np.sin(phi_r)
    ang[:, _IDX["pelvis_roll"]] += np.radians(3.0) * np.sin(phi_r)
    ang[:, _IDX["spine_flex"]] += np.radians(rng.uniform(2, 6))
    # Walk on a circle of radius R (bounded, like Human3.6M's loops): yaw rate = v / R,
    # with the stride speed v = 4 * leg * sin(A_h) * f.
    v = 4.0 * subject.leg_length_mm * np.sin(A_h) * f
    R = rng.uniform(1000.0, 1600.0)
    yaw_rate = np.full(T, rng.choice([-1.0, 1.0]) * v / R)
    return _Track(ang, yaw_rate, np.zeros(T), np.ones(T))


def _wave(t, rng, neutral, subject) -> _Track:
    T = len(t)
    r = rng.random()
    sides = ("r",) if r < 0.55 else ("l",) if r < 0.9 else ("r", "l")
    freq = rng.uniform(1.2, 2.4)
    amp_twist, amp_elbow = rng.uniform(12.0, 25.0), rng.uniform(5.0, 12.0)
    # Upper arm out and up by `abd`, forearm near vertical: elbow ~ 180 - abd.
    abd = {s: rng.uniform(85.0, 120.0) for s in sides}
    raised = {s: _pose(np.zeros(D), **_sided(s, sh_abd=abd[s], sh_flex=rng.uniform(0, 30),
                                               sh_twist=rng.uniform(-85, -65),
                                               elbow=180.0 - abd[s] + rng.uniform(-15, 10),
                                               clav_elev=rng.uniform(5, 15)))
              for s in sides}

    def cycle(rng, t0):
        up = t0 + rng.uniform(0.6, 0.9)
        hold = up + rng.uniform(1.5, 3.5)
        down = hold + rng.uniform(0.6, 0.9)
        rest = down + rng.uniform(0.4, 1.8)
        return [up, hold, down, rest], [np.ones(1), np.ones(1), np.zeros(1), np.zeros(1)]

    env = _keyframed(t, rng, np.zeros(1), cycle)
    env = np.clip(env[:, 0], 0, 1)
    osc = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    ang = np.tile(neutral, (T, 1))
    for s in sides:
        target = raised[s]
        for name in ("sh_abd", "sh_flex", "sh_twist", "elbow", "clav_elev"):
            i = _IDX[f"{s}_{name}"]
            ang[:, i] = neutral[i] + env * (target[i] - neutral[i])
        ang[:, _IDX[f"{s}_sh_twist"]] += env * np.radians(amp_twist) * osc
        ang[:, _IDX[f"{s}_elbow"]] += env * np.radians(amp_elbow) * np.cos(2 * np.pi * freq * t)
    look = 1.0 if sides == ("l",) else -1.0 if sides == ("r",) else 0.0
    ang[:, _IDX["head_twist"]] += env * np.radians(rng.uniform(5, 20)) * look
    ang[:, _IDX["spine_side"]] += env * np.radians(rng.uniform(0, 8)) * look
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _reach(t, rng, neutral, subject) -> _Track:
    T = len(t)
    side = [rng.choice(_SIDES)]

    def cycle(rng, t0):
        if rng.random() < 0.4:
            side[0] = "l" if side[0] == "r" else "r"
        s = side[0]
        flex = rng.uniform(30, 170)
        low = flex < 70
        deg = _sided(s, sh_flex=flex, sh_abd=rng.uniform(-15, 80), sh_twist=rng.uniform(-40, 40),
                     elbow=rng.uniform(0, 35), clav_prot=rng.uniform(5, 20),
                     clav_elev=rng.uniform(10, 25) if flex > 120 else 0.0)
        sign = 1.0 if s == "l" else -1.0      # turn the chest towards the reaching side
        deg.update(spine_flex=rng.uniform(15, 45) if low else rng.uniform(-5, 10),
                   spine_twist=sign * rng.uniform(0, 25), spine_side=-sign * rng.uniform(0, 12),
                   head_flex=float(np.clip(-(flex - 60) / 3, -30, 30)), head_twist=sign * rng.uniform(0, 20))
        if low:
            deg.update(r_knee=rng.uniform(5, 25), l_knee=rng.uniform(5, 25))
        target = _pose(neutral, **deg)
        a = t0 + rng.uniform(0.45, 0.9)
        b = a + rng.uniform(0.15, 0.6)
        c = b + rng.uniform(0.45, 0.9)
        d = c + rng.uniform(0.2, 1.0)
        return [a, b, c, d], [target, target, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _squat(t, rng, neutral, subject) -> _Track:
    T = len(t)
    arms = rng.choice(["forward", "hips", "behind_head"])

    def cycle(rng, t0):
        d = rng.uniform(0.5, 1.0)
        deg = {"spine_flex": 15 + 25 * d, "head_flex": -10 * d, "pelvis_tilt": 5 + 10 * d}
        for s in _SIDES:
            deg.update(_sided(s, hip_flex=50 + 60 * d, knee=60 + 70 * d, hip_abd=rng.uniform(6, 15)))
            if arms == "forward":
                deg.update(_sided(s, sh_flex=rng.uniform(50, 95), sh_abd=rng.uniform(0, 15), elbow=rng.uniform(0, 30)))
            elif arms == "hips":
                deg.update(_sided(s, sh_abd=30, sh_flex=-15, elbow=110, sh_twist=-20))
            else:
                deg.update(_sided(s, sh_abd=120, sh_flex=20, elbow=140, sh_twist=-70))
        down_pose = _pose(neutral, **deg)
        a = t0 + rng.uniform(0.8, 1.4)
        b = a + rng.uniform(0.1, 0.6)
        c = b + rng.uniform(0.7, 1.2)
        e = c + rng.uniform(0.3, 1.2)
        return [a, b, c, e], [down_pose, down_pose, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    if arms != "forward":   # hold the arm pose throughout
        for s in _SIDES:
            held = {"hips": dict(sh_abd=30, sh_flex=-15, elbow=110, sh_twist=-20),
                    "behind_head": dict(sh_abd=120, sh_flex=20, elbow=140, sh_twist=-70)}[arms]
            for k, v in held.items():
                ang[:, _IDX[f"{s}_{k}"]] = np.radians(v)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _turn(t, rng, neutral, subject) -> _Track:
    T = len(t)
    times, yaws = [-1.0], [0.0]
    t0, yaw = -rng.uniform(0.0, 1.0), 0.0
    while t0 <= t[-1] + 1.0:
        delta = np.radians(rng.uniform(60, 180)) * rng.choice([-1.0, 1.0])
        rate = np.radians(rng.uniform(70, 150))
        times += [t0, t0 + abs(delta) / rate]
        yaws += [yaw, yaw + delta]
        yaw += delta
        t0 = times[-1] + rng.uniform(0.3, 1.5)
    yaw_curve = PchipInterpolator(np.asarray(times), np.asarray(yaws))
    yaw_rate = yaw_curve.derivative()(t)
    # Stepping while turning: each foot lifts in turn, as much as the body turns.
    intensity = np.clip(np.abs(yaw_rate) / np.radians(90), 0, 1)
    phi = 2 * np.pi * rng.uniform(1.6, 2.2) * t + rng.uniform(0, 2 * np.pi)
    ang = np.tile(neutral, (T, 1))
    for side, ph in (("r", phi), ("l", phi + np.pi)):
        lift = np.maximum(0.0, np.sin(ph)) * intensity
        ang[:, _IDX[f"{side}_hip_flex"]] += np.radians(18.0) * lift
        ang[:, _IDX[f"{side}_knee"]] += np.radians(35.0) * lift
        ang[:, _IDX[f"{side}_sh_flex"]] += np.radians(8.0) * np.sin(ph + np.pi) * intensity
    # Head and chest lead the turn.
    ang[:, _IDX["head_twist"]] += np.clip(0.35 * yaw_rate, -0.8, 0.8)
    ang[:, _IDX["spine_twist"]] += np.clip(0.15 * yaw_rate, -0.4, 0.4)
    return _Track(ang, yaw_rate, np.zeros(T), np.ones(T))


def _jump(t, rng, neutral, subject) -> _Track:
    T = len(t)
    style = rng.choice(["swing", "jack", "tuck"])
    flights: list[tuple[float, float]] = []

    def cycle(rng, t0):
        depth = rng.uniform(0.6, 1.0)
        crouch = {"spine_flex": 30 * depth, "pelvis_tilt": 8 * depth, "head_flex": -5}
        ext = {"spine_flex": 0.0, "pelvis_tilt": 0.0}
        air = dict(ext)
        for s in _SIDES:
            crouch.update(_sided(s, hip_flex=65 * depth, knee=90 * depth, sh_flex=-25 * depth, elbow=15))
            ext.update(_sided(s, hip_flex=-3, knee=2))
            if style == "swing":
                ext.update(_sided(s, sh_flex=rng.uniform(10, 30), elbow=10))
                air.update(_sided(s, hip_flex=5, knee=15, sh_flex=rng.uniform(35, 55), elbow=15))
            elif style == "jack":
                ext.update(_sided(s, sh_abd=40, elbow=10))
                air.update(_sided(s, hip_abd=rng.uniform(15, 25), knee=5, sh_abd=rng.uniform(65, 90), elbow=10))
            else:
                ext.update(_sided(s, sh_flex=30, elbow=20))
                air.update(_sided(s, hip_flex=rng.uniform(30, 45), knee=rng.uniform(35, 55), sh_flex=40, elbow=60))
        p_crouch, p_ext, p_air = _pose(neutral, **crouch), _pose(neutral, **ext), _pose(neutral, **air)
        # Landing absorbs with the legs; the arms come down slowly afterwards.
        p_land = _pose(p_ext, **{k: 0.6 * v for k, v in crouch.items() if "sh_" not in k})
        t_f = rng.uniform(0.25, 0.4)                        # flight time, s
        a = t0 + rng.uniform(0.4, 0.6)                      # bottom of the crouch
        take = a + rng.uniform(0.2, 0.26)                  # take-off, legs extended
        land = take + t_f
        absorb = land + rng.uniform(0.15, 0.25)
        stand = absorb + rng.uniform(0.3, 0.5)
        rest = stand + rng.uniform(0.1, 0.9)
        flights.append((take, land))
        # The legs are still extending at take-off (the extended key comes just after it), so the
        # root's upward velocity carries on into the flight instead of restarting from zero.
        return ([a, take + 0.04, take + t_f / 2, land, absorb, stand, rest],
                [p_crouch, p_ext, p_air, p_ext, p_land, neutral, neutral])

    ang = _keyframed(t, rng, neutral, cycle)
    lift, contact = np.zeros(T), np.ones(T)
    for take, land in flights:
        # Ballistic flight: z = v0 tau - g tau^2 / 2 with v0 = g t_f / 2.
        tau = t - take
        inside = (tau >= 0) & (t <= land)
        v0 = GRAVITY_MM_S2 * (land - take) / 2
        lift[inside] = v0 * tau[inside] - GRAVITY_MM_S2 * tau[inside] ** 2 / 2
        contact[inside] = 0.0
    return _Track(ang, np.zeros(T), lift, contact)


def _guard(neutral: np.ndarray, rng: np.random.Generator, lead: str) -> np.ndarray:
    deg = {"spine_flex": rng.uniform(5, 15), "head_flex": rng.uniform(5, 15)}
    for s in _SIDES:
        deg.update(_sided(s, sh_flex=rng.uniform(35, 55), sh_abd=rng.uniform(15, 25), elbow=rng.uniform(110, 130),
                          sh_twist=rng.uniform(-20, 0), knee=rng.uniform(12, 25)))
    deg[f"{lead}_hip_flex"] = rng.uniform(10, 18)
    deg[f"{'l' if lead == 'r' else 'r'}_hip_flex"] = -rng.uniform(3, 10)
    return _pose(neutral, **deg)


def _kick(t, rng, neutral, subject) -> _Track:
    T = len(t)
    guard = _guard(neutral, rng, rng.choice(_SIDES))

    def cycle(rng, t0):
        s = rng.choice(_SIDES)
        side_kick = rng.random() < 0.3
        other = "l" if s == "r" else "r"
        lean = {"spine_flex": -5.0, f"{other}_knee": 15.0}
        if side_kick:
            lean.update(spine_side=(-20.0 if s == "r" else 20.0))
            chamber = _pose(guard, **lean, **_sided(s, hip_flex=45, hip_abd=45, knee=110, hip_twist=-30))
            strike = _pose(guard, **lean, **_sided(s, hip_flex=20, hip_abd=50, knee=10, hip_twist=-35))
        else:
            chamber = _pose(guard, **lean, **_sided(s, hip_flex=rng.uniform(70, 95), knee=rng.uniform(90, 120)))
            strike = _pose(guard, **lean, **_sided(s, hip_flex=rng.uniform(75, 100), knee=rng.uniform(5, 20)))
        a = t0 + rng.uniform(0.25, 0.35)
        b = a + rng.uniform(0.22, 0.3)
        c = b + rng.uniform(0.2, 0.3)
        d = c + rng.uniform(0.2, 0.3)
        e = d + rng.uniform(0.4, 1.2)
        return [a, b, c, d, e], [chamber, strike, chamber, guard, guard]

    ang = _keyframed(t, rng, guard, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _box(t, rng, neutral, subject) -> _Track:
    T = len(t)
    lead = rng.choice(_SIDES)
    guard = _guard(neutral, rng, lead)

    def cycle(rng, t0):
        s = rng.choice(_SIDES)
        kind = rng.choice(["jab", "jab", "hook", "uppercut"])
        sign = 1.0 if s == "r" else -1.0         # a right punch turns the chest to the left
        if kind == "jab":
            deg = _sided(s, sh_flex=rng.uniform(80, 95), sh_abd=rng.uniform(0, 15), elbow=rng.uniform(0, 15),
                         clav_prot=rng.uniform(10, 20))
            deg.update(spine_twist=sign * rng.uniform(10, 20))
        elif kind == "hook":
            deg = _sided(s, sh_flex=rng.uniform(60, 80), sh_abd=rng.uniform(75, 90), elbow=rng.uniform(80, 100),
                         sh_twist=-60)
            deg.update(spine_twist=sign * rng.uniform(20, 30))
        else:
            deg = _sided(s, sh_flex=rng.uniform(60, 90), sh_abd=rng.uniform(5, 15), elbow=rng.uniform(90, 110))
            deg.update(spine_twist=sign * rng.uniform(5, 15), spine_flex=0.0)
        strike = _pose(guard, **deg)
        a = t0 + rng.uniform(0.25, 0.35)
        b = a + rng.uniform(0.25, 0.35)
        c = b + rng.uniform(0.1, 0.6)
        return [a, b, c], [strike, guard, guard]

    ang = _keyframed(t, rng, guard, cycle)
    bounce = np.sin(2 * np.pi * rng.uniform(1.5, 2.2) * t + rng.uniform(0, 2 * np.pi))
    for s in _SIDES:
        ang[:, _IDX[f"{s}_knee"]] += np.radians(5.0) * bounce
        ang[:, _IDX[f"{s}_hip_flex"]] += np.radians(2.5) * bounce
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


def _stretch(t, rng, neutral, subject) -> _Track:
    T = len(t)

    def both(**kw):
        out = {}
        for s in _SIDES:
            out.update(_sided(s, **kw))
        return out

    def pose_named(name: str) -> np.ndarray:
        if name == "overhead":
            return _pose(neutral, head_flex=-15,
                         **both(sh_flex=rng.uniform(165, 180), sh_abd=10, elbow=rng.uniform(0, 15)))
        if name == "side_bend":
            side = rng.choice([-1.0, 1.0])
            return _pose(neutral, spine_side=side * rng.uniform(25, 35), **both(sh_flex=170, sh_abd=15, elbow=10))
        if name == "toe_touch":
            return _pose(neutral, spine_flex=rng.uniform(70, 90), pelvis_tilt=rng.uniform(15, 25), head_flex=30,
                         **both(sh_flex=rng.uniform(60, 90), elbow=5, knee=rng.uniform(0, 10)))
        if name == "t_pose":
            return _pose(neutral, **both(sh_abd=rng.uniform(80, 95), elbow=rng.uniform(0, 10)))
        if name == "twist":
            return _pose(neutral, spine_twist=rng.choice([-1.0, 1.0]) * rng.uniform(30, 45),
                         **both(sh_abd=90, elbow=5))
        s = rng.choice(_SIDES)  # cross-body arm stretch
        return _pose(neutral, **_sided(s, sh_flex=90, sh_abd=-30, elbow=5, clav_prot=15))

    names = ("overhead", "side_bend", "toe_touch", "t_pose", "twist", "cross")

    def cycle(rng, t0):
        p = pose_named(names[rng.integers(len(names))])
        a = t0 + rng.uniform(1.0, 2.0)
        b = a + rng.uniform(0.5, 1.5)
        c = b + rng.uniform(0.8, 1.6)
        d = c + rng.uniform(0.2, 0.8)
        return [a, b, c, d], [p, p, neutral, neutral]

    ang = _keyframed(t, rng, neutral, cycle)
    return _Track(ang, np.zeros(T), np.zeros(T), np.ones(T))


_ACTION_FNS = {"walk": _walk, "wave": _wave, "reach": _reach, "squat": _squat, "turn": _turn,
               "jump": _jump, "kick": _kick, "box": _box, "stretch": _stretch}
