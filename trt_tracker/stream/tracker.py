"""The online tracker of DESIGN §4: localise -> crop -> frame graph -> temporal graph -> solve -> finish.

One :class:`Tracker` tracks a batch of ``streams`` independent streams (many
cameras in one process); a single stream is a batch of one.  Each
:meth:`Tracker.step_batch` takes one frame per stream (or None for a stream
with no new frame) and runs the public phases on all of them:

1. :meth:`~Tracker.localise`: each stream's box: around its previous
   single-frame pose moved by the tracked pose's last motion (``margin`` as
   in training, size held within bounds), or
   from the initialiser when there is no track: the model's full-frame
   localiser's box (a model exported with one; nothing when it finds no
   subject), or candidate boxes (RGB: the full frame and a grid of smaller
   windows; depth: the nearest surfaces' hand-sized parts, then a grid of
   windows), checked by the frame graph in one batched call, the most
   confident kept and re-centred on its pose; a track is checked against the
   localiser every few frames and when its confidence dips, and cut with the
   localiser's box where the two disagree;
2. :meth:`~Tracker.crop`: one batched preprocessing pass (CPU: OpenCV, GPU: the
   CUDA kernels) cuts every crop of the step with each stream's one box: its
   frame crop ``I(t)`` and, for every duration ``d`` whose frame ``t - d`` is
   in the track, ``I(t-d)``; the pair ``[I(t-d), I(t)]`` reuses the frame crop
   (both frames of a pair share a box, as in training, and a box around the
   previous single-frame pose holds ``Ĵ[t-d]`` as well as ``J[t]``: on six
   held-out sequences, body and hand, the tracked error moved by -2.8 to
   +0.4 mm against a box cut around both poses per pair, with 1 + |D| crops
   per frame instead of 1 + 2|D|), and the
   related joints ``Ĵ[t-d]`` in that crop;
3. :meth:`~Tracker.frame_graph`: one call for every stream: single-frame joints
   ``J[t]`` and bones ``B[t]`` pooled at ``J[t]``'s parents;
4. :meth:`~Tracker.temporal_graph`: one call for every pair of every stream ->
   displacements ``Δd[t]`` (independent of the frame graph's outputs);
5. :meth:`~Tracker.solve`: ``Ĵ[t] = OnlineSolver.update(J[t], B[t], {d: Δd[t]})`` per stream;
6. :meth:`~Tracker.finish`: the loss test, camera space with the root depth
   (ground truth where the frame carries it and the RGB protocol asks for it,
   the depth map for depth frames, else fitted to the skeleton's nominal bone
   lengths: a monocular RGB camera knows no absolute depth), and the
   :class:`TrackResult`;
7. :meth:`~Tracker.prepare` (optional, between frames: the pipeline calls it
   after each step's sinks): what the tracked frames already decide about the
   next step, cut before its frames arrive (each stream's next box, its crop
   maps and frames ``t - d`` cut with it), so a step cuts only its new frames.

A track is lost (and re-initialised on its next frame) when the frame graph's
confidence says no subject is in the box (the mean per-joint heatmap mass
near the joints is below ``min_confidence``), when the tracked pose leaves the
image or collapses, or when a depth frame has no valid depth near it.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..camera import CropBox, CropTransform, Intrinsics, box_from_points, p2p5d_to_cam
from ..codec import CropJob, split_root_depth
from ..solver import OnlineSolver
from ..solver import parse_durations as solver_parse_durations
from .frame import Frame, SourceError

ROOT_DEPTH_MODES = ("auto", "gt", "network", "depth", "bones")
PREPROCESS_MODES = ("cpu", "gpu")
DEFAULT_DURATIONS = "Dmf"          # the paper's multi-frame forward set {1, 2, 3}: TrackerConfig's default
#: backends whose CPU threads exist once the model has loaded, so pinning the tracking thread afterwards
#: cannot pin them (PyTorch starts its intra-op threads on first use, and they inherit the caller's CPUs)
PINNABLE_BACKENDS = ("onnxruntime", "tensorrt")


def parse_durations(spec) -> tuple[int, ...]:
    """``"Dmf"``, ``"Df"``, ``"1,2,3"``, ``"none"`` or a sequence -> forward durations, ascending (may be empty);
    :func:`trt_tracker.solver.parse_durations` online."""
    return tuple(sorted(solver_parse_durations(spec, online=True)))


@dataclass
class TrackerConfig:
    durations: tuple = DEFAULT_DURATIONS
    alpha: float = 0.0          # bone-term weight (Eq. 8)
    gamma: float = 3.0          # displacement weight (Eq. 8)
    # each frame's joints and bones fused by the model's calibrated generalised least squares (its fusion.npz,
    # trt-tracker calibrate) in place of the bone term (then alpha is 0)
    fusion: bool = False
    window: int = 16            # solver window (frames)
    root_depth: str = "auto"    # auto | gt | network | depth | bones (auto: depth frames the network's when its
    #                             frame graph gives it, else from the depth map; RGB gt if known, else bones)
    init_passes: int = 2        # frame-graph passes of a new track: candidates, then re-centred on the pose
    init_candidates: int = 32   # candidate boxes a search tries per frame (the window grid in turns)
    min_inside: float = 0.5     # lost when fewer joints than this fraction lie inside the image
    blob_edge_mm: float = 30.0  # hand initialiser: depth jump that separates surfaces
    # depth frames: the root depth from the joints' surface depths (see root_depth_from_depth): a joint's
    # depth minus the surface depth at its pixel, and which of the joints' estimates to take
    surface_offset_mm: float = 11.0
    root_depth_quantile: float = 70.0
    root_depth_band_mm: float = 40.0
    box_rate: float = 1.15      # largest box size change per frame (factor)
    box_velocity: bool = True   # move the next box by the tracked pose's last frame-to-frame motion
    box_limits: tuple = (0.45, 1.0)  # depth: box side bounds in units of the cube's size at the root depth
    # depth: what a tracked frame's crop is normalised about: the last frame's root depth ("previous") or the
    # root depth this frame's depth map gives the predicted joints within a quarter cube of it ("depth"; it
    # reads the background where fingertips moved off their pixels; ``python -m benchmarks.live_tracking``,
    # ``hand_depth_choices``)
    depth_centre: str = "previous"
    # with the network's root depth, the tracked pose keeps the single-frame depths and tracks (u, v) only: the
    # solver's depths add the temporal network's root-relative depth displacements to the network's depths
    # about the centre (``python -m benchmarks.live_tracking``, ``hand_depth_choices``)
    keep_network_depths: bool = True
    # lost when the mean per-joint confidence (the heatmap's mass near each joint, from the frame graph) is
    # below this: no subject in the box (a new track starts from the initialiser); 0 switches it off
    min_confidence: float = 0.25
    init_confidence: float = 0.25  # what a new track needs (>= min_confidence: hysteresis against backgrounds)
    # depth: a track whose confidence falls below min_confidence is kept while it is at least this and a surface
    # fills at least ``min_occupancy`` of its box within half a cube of its depth centre (a hand turned from
    # the camera spreads its heatmaps, but its surface is still there; a box the hand has left has none);
    # 0 switches it off (``python -m benchmarks.hand_presence``)
    depth_keep_confidence: float = 0.0
    min_occupancy: float = 0.1
    max_dim_frames: int = 1000  # ... for at most this many frames in a row (then the track starts again)
    confirm_frames: int = 1        # a new track is "search" (not yet tracked) until it has held init_confidence
    #                                for this many frames: a background rarely does, a person at once
    # the model's full-frame localiser (issue 14; a model exported with localiser.pt): a new track starts from
    # its box (no frame-graph search over candidate windows; no subject below ``localiser_presence``), and a
    # track is checked against it every ``localiser_every`` frames (0: never) and on every frame whose previous
    # confidence is below ``localiser_below``: where the localiser's box is off the track's by more than
    # ``localiser_jump`` x the track box's side (centre) or by more than that factor + 1 in size, the frame
    # is cut with the localiser's box instead (the track goes on).  ``localiser=False``: the search as before.
    localiser: bool = True
    localiser_presence: float = 0.5
    localiser_every: int = 5
    localiser_below: float = 0.4
    localiser_jump: float = 0.3
    # between checks a track's box side stays within this factor of the localiser's last box side (0: off)
    localiser_band: float = 1.5
    # a check (and a start's second pass) runs the localiser on a window of the frame around the box, its
    # shorter side this many box sides (at least 0.45 of the frame's, as in training), so the subject is seen
    # larger than in the whole frame; 0: the whole frame only
    localiser_zoom: float = 2.0
    # a new track whose localiser presence is at least this needs only ``min_confidence``, at once (the
    # localiser is the evidence against a background that init_confidence / confirm_frames ask of the pose)
    localiser_sure: float = 0.9
    # a new track tries the localiser's box and these variations of it (side x factor; centre moved by a
    # fraction of the side, right and down), all in the frame graph's one batched call; the most confident wins
    localiser_variants: tuple = ((1.0, 0.0, 0.0), (0.85, 0.0, 0.0), (1.2, 0.0, 0.0), (1.0, 0.0, -0.1),
                                 (1.0, 0.0, 0.1), (1.0, -0.1, 0.0), (1.0, 0.1, 0.0))
    preprocess: str = "cpu"     # cpu (OpenCV) or gpu (the CUDA kernels in kernels/, through CuPy)
    # the solver's data term weighs joint k by (c_k / mean c)^confidence_weight, c the frame graph's per-joint
    # confidence (0: every joint alike; the model's manifest says which, tracker.confidence.weight)
    confidence_weight: float = 0.0

    def __post_init__(self) -> None:
        self.durations = parse_durations(self.durations)
        if self.root_depth not in ROOT_DEPTH_MODES:
            raise ValueError(f"root_depth must be one of {ROOT_DEPTH_MODES}, got {self.root_depth!r}")
        if self.preprocess not in PREPROCESS_MODES:
            raise ValueError(f"preprocess must be one of {PREPROCESS_MODES}, got {self.preprocess!r}")
        if not 0 <= self.root_depth_quantile <= 100 or not self.root_depth_band_mm > 0:
            raise ValueError(f"root_depth_quantile must be in [0, 100] and root_depth_band_mm > 0, got "
                             f"{self.root_depth_quantile} and {self.root_depth_band_mm}")
        if not 0 <= self.confidence_weight <= 8:
            raise ValueError(f"confidence_weight must be in [0, 8], got {self.confidence_weight}")
        if self.depth_centre not in ("depth", "previous"):
            raise ValueError(f"depth_centre must be 'depth' or 'previous', got {self.depth_centre!r}")
        if self.max_dim_frames < 0:
            raise ValueError(f"max_dim_frames must be >= 0, got {self.max_dim_frames}")
        if self.confirm_frames < 1:
            raise ValueError(f"confirm_frames must be >= 1, got {self.confirm_frames}")
        if not 0 <= self.depth_keep_confidence <= self.min_confidence or not 0 <= self.min_occupancy <= 1:
            raise ValueError(f"need 0 <= depth_keep_confidence <= min_confidence and min_occupancy in [0, 1], got "
                             f"{self.depth_keep_confidence}, {self.min_confidence} and {self.min_occupancy}")
        if not 0 <= self.min_confidence < 1 or not self.min_confidence <= self.init_confidence < 1:
            raise ValueError(f"need 0 <= min_confidence <= init_confidence < 1, got {self.min_confidence} and "
                             f"{self.init_confidence}")
        if self.localiser_zoom < 0:
            raise ValueError(f"localiser_zoom must be >= 0 (0: whole frames only), got {self.localiser_zoom}")
        if self.localiser_band and self.localiser_band < 1:
            raise ValueError(f"localiser_band must be 0 (off) or >= 1, got {self.localiser_band}")
        if not self.localiser_presence <= self.localiser_sure <= 1:
            raise ValueError(f"localiser_sure must be in [localiser_presence, 1], got {self.localiser_sure}")
        if not 0 < self.localiser_presence < 1 or self.localiser_every < 0 or self.localiser_jump <= 0:
            raise ValueError(f"need 0 < localiser_presence < 1, localiser_every >= 0 and localiser_jump > 0, got "
                             f"{self.localiser_presence}, {self.localiser_every} and {self.localiser_jump}")
        if self.alpha < 0 or self.gamma < 0:
            raise ValueError(f"alpha and gamma must be >= 0, got alpha={self.alpha}, gamma={self.gamma}")


@dataclass(kw_only=True)
class TrackResult:
    """One frame's output (all poses in full-image 2.5D: u, v px, z root-relative mm; camera: mm)."""

    index: int
    t_capture: float
    timestamp: float | None
    status: str                          # "init" (a track starts), "track", "search" (a new track not yet
    #                                      confirmed: a pose, not yet trusted), "lost" (no pose this frame)
    joints_2p5d: np.ndarray | None = None  # tracked Ĵ[t] (K, 3)
    joints_cam: np.ndarray | None = None
    single_2p5d: np.ndarray | None = None  # single-frame J[t]
    single_cam: np.ndarray | None = None
    confidence: np.ndarray | None = None   # per joint (K,), 0..1, from the frame graph
    root_depth: float | None = None
    root_depth_source: str | None = None
    box: tuple | None = None             # (cx, cy, size) px
    durations: tuple = ()
    latency_ms: dict = field(default_factory=dict)
    gt_joints_cam: np.ndarray | None = None
    frame: Frame | None = None           # for sinks that draw; not serialised
    message: str = ""

    @property
    def track_confidence(self) -> float | None:
        """The track's confidence: the mean of the per-joint ones."""
        return None if self.confidence is None else float(self.confidence.sum()) / self.confidence.size


def full_frame_box(width: int, height: int) -> CropBox:
    return CropBox((width - 1) / 2, (height - 1) / 2, float(max(width, height)))


def depth_candidates(depth: np.ndarray, intr: Intrinsics | None, cube_mm: float, edge_mm: float = 30.0,
                     margin: float = 1.3, min_pixels: int = 30, iterations: int = 5, max_candidates: int = 6,
                     seeds_per_surface: int = 8):
    """Where a hand may be in a depth image: up to ``max_candidates`` (box, depth mm), nearest surface first.

    The depth image is cut into smooth surfaces at depth jumps larger than
    ``edge_mm`` between neighbouring pixels (and at holes).  Surfaces of fewer
    than ``min_pixels`` pixels are skipped.  For each surface, nearest first
    (its 2nd percentile of depth, robust to speckle), a 3D mean shift centres a
    ball of radius ``cube_mm / 2`` on a part of it: first its nearest part
    (start at its points within a tenth of a cube of its nearest point), then
    up to ``seeds_per_surface - 1`` more parts spread over it (farthest-point
    seeds at least half a cube apart: a hand on an arm that the surface
    includes); each start moves to the mean of the points inside the ball,
    ``iterations`` times.  A box covers the points in each final ball
    (``margin`` as in training); balls that end within a quarter cube of an
    earlier one are dropped.  The tracker asks the pose network which of them
    holds a hand (its confidence).
    """
    import cv2

    valid = depth > 0
    if valid.sum() < min_pixels:
        return []
    d = depth.astype(np.float32)
    jump = np.zeros(depth.shape, bool)
    jump[:, 1:] |= np.abs(np.diff(d, axis=1)) > edge_mm
    jump[1:, :] |= np.abs(np.diff(d, axis=0)) > edge_mm
    smooth = (valid & ~jump).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(smooth, connectivity=4)
    surfaces = sorted((float(np.percentile(depth[labels == i], 2)), i) for i in range(1, n)
                      if stats[i, cv2.CC_STAT_AREA] >= min_pixels)
    out, centres = [], []
    for _, i in surfaces:
        if len(out) >= max_candidates:
            break
        ys, xs = np.nonzero(labels == i)
        z = depth[ys, xs].astype(np.float64)
        if intr is None:   # no metric back-projection: the component's box
            out.append((box_from_points(np.stack([xs, ys], 1).astype(np.float64), margin), float(np.median(z))))
            continue
        step = max(1, len(xs) // 4000)            # a large surface (a wall) is thinned for the mean shifts
        xs, ys, z = xs[::step], ys[::step], z[::step]
        X = intr.backproject(np.stack([xs, ys], 1).astype(np.float64), z)
        starts = [X[z <= z.min() + 0.1 * cube_mm].mean(0)]
        sub = X[:: max(1, len(X) // 2000)]
        dist = np.linalg.norm(sub - starts[0], axis=1)
        while len(starts) < seeds_per_surface and dist.max() > cube_mm / 2:
            starts.append(sub[int(dist.argmax())])
            dist = np.minimum(dist, np.linalg.norm(sub - starts[-1], axis=1))
        for centre in starts:
            inside = np.zeros(len(X), bool)
            for _ in range(iterations):
                inside = np.linalg.norm(X - centre, axis=1) <= cube_mm / 2
                if not inside.any():
                    break
                centre = X[inside].mean(0)
            if not inside.any() or any(np.linalg.norm(centre - c) < cube_mm / 4 for c in centres):
                continue
            centres.append(centre)
            out.append((box_from_points(np.stack([xs[inside], ys[inside]], 1).astype(np.float64), margin),
                        float(centre[2])))
            if len(out) >= max_candidates:
                break
    return out


def window_candidates(width: int, height: int, scales=(0.75, 0.5)) -> list[CropBox]:
    """Where a person may be in an RGB frame: the full frame, then square windows of each ``scale`` x the
    shorter side on a grid with half-window steps covering the frame."""
    boxes = [full_frame_box(width, height)]
    for sc in scales:
        side = sc * min(width, height)
        xs = np.linspace(side / 2, width - side / 2, max(1, int(np.ceil((width - side) / (side / 2))) + 1))
        ys = np.linspace(side / 2, height - side / 2, max(1, int(np.ceil((height - side) / (side / 2))) + 1))
        boxes += [CropBox(float(x - 0.5), float(y - 0.5), float(side)) for y in ys for x in xs]
    return boxes


def depth_window_candidates(depth: np.ndarray, scales=(0.35, 0.55), quantile: float = 10.0) -> list:
    """Square windows of each ``scale`` x the shorter side on a grid with half-window steps, each with the
    depth its crop is normalised about: the ``quantile`` (%) of the valid depths in its central half (a hand
    is the nearest thing in its window).  Windows without valid depth there are skipped."""
    H, W = depth.shape[:2]
    out = []
    for box in window_candidates(W, H, scales)[1:]:
        h = box.size / 4
        win = depth[max(0, int(box.cy - h)):int(box.cy + h) + 1, max(0, int(box.cx - h)):int(box.cx + h) + 1]
        win = win[win > 0]
        if win.size:
            out.append((box, float(np.percentile(win, quantile))))
    return out


def root_depth_from_depth(P: np.ndarray, depth: np.ndarray, surface_offset_mm: float, radius: int = 2,
                          min_joints: int = 3, quantile: float = 50.0, band_mm: float = np.inf,
                          prior: tuple | None = None) -> float | None:
    """The root depth (mm) a depth map gives a 2.5D pose ``P`` (u, v px; z root-relative mm): for every joint
    with a valid reading at its pixel, surface depth + ``surface_offset_mm`` (a joint lies inside the
    hand, behind the skin the camera sees) - its relative z; of these, the ones within ``band_mm`` of their
    median (a pixel that sees past the hand reads the background), and of those the ``quantile``-th
    percentile.  None with fewer than ``min_joints`` readings.

    One pixel at the root alone was off by 23 mm (median) on the demo's hand, which alone tripled the
    camera-space error; the median over the joints follows the true root depth within a few mm.  An upper
    quantile does better still, because a joint hidden behind fingers or palm reads a surface in front of
    it (too near), while a joint seen past the hand is cut by the band: the tracker's defaults (70th
    percentile within 40 mm, offset 11 mm, chosen on validation sequences) have a 7.0 mm median error on
    the demo's hand against 12.3 mm for the median with 13 mm (``python -m benchmarks.live_tracking``,
    ``hand_root_depth``; the latter at commit 20e8327).

    ``prior=(z, tol)``: only the estimates within ``tol`` mm of ``z`` count (a pose from the last frame on
    this frame's depth map: fingertips that moved off their pixels read the background).
    """
    P = np.asarray(P, np.float64)
    d = depth_at_points(depth, P[:, :2], radius)
    ok = np.isfinite(d)
    if ok.sum() < min_joints:
        return None
    v = d[ok] + surface_offset_mm - P[ok, 2]
    if prior is not None:
        v = v[np.abs(v - prior[0]) <= prior[1]]
        if len(v) < min_joints:
            return None
    if np.isfinite(band_mm):
        near = v[np.abs(v - np.median(v)) <= band_mm]
        v = near if len(near) >= min_joints else v
    return float(np.percentile(v, quantile))


def depth_at_points(depth: np.ndarray, uv: np.ndarray, radius: int = 3) -> np.ndarray:
    """Median valid depth (mm) in a (2r+1)^2 window at each pixel ``uv`` (N, 2) -> (N,), NaN where the pixel
    is outside the image or its window has no reading (one gather for all points: the tracker asks per
    joint every depth frame)."""
    H, W = depth.shape
    c = np.rint(np.asarray(uv, np.float64)).astype(np.int64)
    inside = (c[:, 0] >= 0) & (c[:, 0] < W) & (c[:, 1] >= 0) & (c[:, 1] < H)
    off = np.arange(-radius, radius + 1)
    xs = c[:, 0, None, None] + off[None, None, :]
    ys = c[:, 1, None, None] + off[None, :, None]
    valid = (xs >= 0) & (xs < W) & (ys >= 0) & (ys < H)
    win = depth[np.clip(ys, 0, H - 1), np.clip(xs, 0, W - 1)].astype(np.float64)
    win[~valid | (win <= 0)] = np.nan
    win = win.reshape(len(c), -1)
    out = np.full(len(c), np.nan)
    has = inside & np.isfinite(win).any(axis=1)
    out[has] = np.nanmedian(win[has], axis=1)
    return out


def box_occupancy(depth: np.ndarray, box: CropBox, centre_mm: float, half_mm: float) -> float:
    """The fraction of a box's pixels (its part inside the image) whose depth reading lies within ``half_mm``
    of ``centre_mm``: how much of the box a surface at the tracked depth fills (0 for a box out of the image)."""
    H, W = depth.shape[:2]
    x0, y0 = max(0, int(round(box.x0))), max(0, int(round(box.y0)))
    x1, y1 = min(W, int(round(box.x0 + box.size))), min(H, int(round(box.y0 + box.size)))
    if x1 <= x0 or y1 <= y0:
        return 0.0
    d = depth[y0:y1, x0:x1].astype(np.float64)
    return float(np.count_nonzero((d > 0) & (np.abs(d - centre_mm) < half_mm))) / d.size


def depth_at(depth: np.ndarray, uv, radius: int = 3) -> float | None:
    """Median valid depth (mm) in a (2r+1)^2 window at pixel ``uv``; None if none."""
    d = float(depth_at_points(depth, np.asarray(uv, np.float64)[None, :2], radius)[0])
    return None if np.isnan(d) else d


def root_depth_from_bones(P: np.ndarray, intr: Intrinsics, parents, lengths_mm, root: int = 0) -> float:
    """The root depth Z (mm) whose back-projection of the 2.5D pose ``P`` best matches nominal bone lengths.

    ``min_Z Σ_k (|X_k(Z) - X_parent(k)(Z)| - L_k)²`` with ``X(Z) = backproject(u, v, Z + z_rel)``.
    """
    from scipy.optimize import minimize_scalar

    par = np.asarray(parents)
    nr = np.flatnonzero(par >= 0)
    L = np.asarray(lengths_mm, np.float64)[nr]

    def cost(Z):
        X = p2p5d_to_cam(P, intr, Z, root)
        return float(np.sum((np.linalg.norm(X[nr] - X[par[nr]], axis=-1) - L) ** 2))

    r = minimize_scalar(cost, bounds=(200.0, 20000.0), method="bounded", options={"xatol": 1.0})
    return float(r.x)


@dataclass
class TrackState:
    """One stream's track: what its next frame needs from the earlier ones."""

    solver: OnlineSolver
    history: deque               # (image, Ĵ 2.5D) of the last max(D) + 1 frames, newest last
    # (single-frame J 2.5D, root depth) of the previous frame, None when there is no track.  The next box
    # follows J, not the tracked pose: the tracked pose carries the bone and displacement terms, and a box
    # that followed them would feed their errors back into the next crop.
    last: tuple | None = None
    box: CropBox | None = None   # the previous frame's box
    frames: int = 0              # frames tracked
    lost: int = 0                # frames lost
    pending: int = 0             # frames a new track still needs to be confirmed
    search: int = 0              # frames searched since the track was lost
    grid_offset: int = 0         # where the next search frame continues in the grid of candidate windows
    dim: int = 0                 # frames in a row kept below the keep confidence by their depth surface
    since_check: int = 0         # frames since the localiser last checked this track
    conf: float | None = None    # the last tracked frame's track confidence
    scale: float | None = None   # the localiser's last box side for this track (px): the box's floor and ceiling
    frame: Frame | None = None   # the last tracked frame (its size, modality and intrinsics)
    ahead: "Ahead | None" = None  # the next frame's box and earlier-frame crops, cut by Tracker.prepare

    def forget(self) -> None:
        self.conf = None
        self.scale = None
        self.since_check = 0
        self.solver.reset()
        self.history.clear()
        self.last = None
        self.box = None
        self.pending = 0
        self.dim = 0
        self.frame = None
        self.ahead = None


@dataclass
class Ahead:
    """What a track's next frame needs that its earlier frames already decide (:meth:`Tracker.prepare`):
    the box, its crop transform and, for each duration ``d`` with a pair, frame ``t - d`` cut with it and
    ``Ĵ[t-d]`` in that crop.  Valid for a next frame of the size, modality and intrinsics it was cut for."""

    shape: tuple
    modality: str
    intrinsics: Intrinsics | None
    box: CropBox
    centre: float | None
    tf: CropTransform
    dec: tuple | None
    durations: tuple
    pairs: np.ndarray            # (len(durations), 2C, S, S) float32: channels [0, C) frame t - d, the rest free
    related: np.ndarray          # (len(durations), K, 2) float32
    ms: float = 0.0              # what cutting it took (ms), off the next frame's camera-to-result path

    def fits(self, frame: Frame) -> bool:
        return (frame.image.shape == self.shape and frame.modality == self.modality
                and frame.intrinsics == self.intrinsics)


@dataclass
class StepItem:
    """One stream's frame on its way through the phases of one step."""

    stream: int
    frame: Frame
    lat: dict                            # this frame's stage latencies (ms)
    status: str = ""                     # "init", "track", "search" or "lost"
    box: CropBox | None = None
    centre: float | None = None          # depth frames: the depth (mm) the crops are normalised about
    tf: CropTransform | None = None      # the frame crop's transform
    dec: tuple | None = None             # its PoseCodec.decoder: (scale, shift), None for a rotated crop
    ahead: Ahead | None = None           # the box and earlier-frame crops prepared before this frame came
    durations: tuple = ()                # the durations with a pair this step (cut with ``tf`` too)
    J: np.ndarray | None = None          # single-frame J[t] (K, 3), image 2.5D
    root_net: float | None = None        # the frame graph's root depth (mm; a model with z_ref "centre")
    B: np.ndarray | None = None          # bones B[t] (K, 3)
    conf: np.ndarray | None = None       # per-joint confidence (K,), None from an older export
    deltas: dict = field(default_factory=dict)  # {d: Δd[t]}
    P: np.ndarray | None = None          # tracked Ĵ[t]
    result: TrackResult | None = None
    relocalised: bool = False            # the localiser moved this tracked frame's box
    sure: bool = False                   # a new track the localiser is sure of (presence >= localiser_sure)


#: the stage times of :attr:`Tracker.step_ms` (ms, the whole batch)
STEP_STAGES = ("localise", "preprocess", "frame_graph", "temporal_graph", "solve", "postprocess")


class Tracker:
    """``Tracker(model, config, streams=1)``; ``step(frame)`` (one stream) or ``step_batch(frames)`` (one frame
    or None per stream) -> results; ``reset(stream=None)`` forgets one track or all.

    ``step_ms`` holds the last step's stage times for the whole batch (ms).
    """

    def __init__(self, model, config: TrackerConfig | None = None, streams: int = 1):
        if int(streams) < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        self.model = model
        self.cfg = config or TrackerConfig()
        self.sk = model.skeleton
        self.codec = model.codec
        self.C = 1 if model.modality == "depth" else 3
        self.gpu = None
        if self.cfg.preprocess == "gpu":
            from .gpu_preprocess import GpuPreprocessor, gpu_available

            ok, why = gpu_available()
            if not ok:
                raise SourceError(f"GPU preprocessing asked for, but {why}; use --preprocess cpu")
            self.gpu = GpuPreprocessor(self.codec, model.modality)
        self.fusion = None
        if self.cfg.fusion:
            if self.cfg.alpha > 0:
                raise ValueError("the spatial fusion replaces the bone term: use alpha 0 with fusion")
            self.fusion = getattr(model, "fusion", None)
            if self.fusion is None:
                raise ValueError(f"the tracker asks for the spatial fusion but the model has none (no fusion.npz in "
                                 "its manifest); run trt-tracker calibrate and re-export, or track without it")
        window = max(self.cfg.window, max(self.cfg.durations, default=1))
        self.tracks = [TrackState(OnlineSolver(self.sk, self.cfg.durations or (1,), alpha=self.cfg.alpha,
                                               gammas=self.cfg.gamma if self.cfg.durations else 0.0,
                                               window=window, confidences=self.cfg.confidence_weight > 0),
                                  deque(maxlen=max(self.cfg.durations, default=0) + 1))
                       for _ in range(int(streams))]
        self.step_ms = dict.fromkeys(STEP_STAGES, 0.0)

    @property
    def streams(self) -> int:
        return len(self.tracks)

    @property
    def pinnable(self) -> bool:
        """Whether a pipeline may keep this tracker's thread on one CPU (:func:`~.pipeline.pin_thread`)."""
        return getattr(self.model, "backend_name", None) in PINNABLE_BACKENDS

    def reset(self, stream: int | None = None) -> None:
        """Forget the track of ``stream`` (every stream's when None); its next frame starts a new one."""
        for st in self.tracks if stream is None else [self.tracks[stream]]:
            st.forget()

    # ----------------------------------------------------------- stepping
    def step(self, frame: Frame) -> TrackResult:
        """Track one frame of a single-stream tracker."""
        if self.streams != 1:
            raise ValueError(f"this tracker has {self.streams} streams: use step_batch with one frame per stream")
        return self.step_batch([frame])[0]

    def step_batch(self, frames) -> list:
        """One frame (or None: nothing new) per stream -> one :class:`TrackResult` (or None) per stream."""
        frames = list(frames)
        if len(frames) != self.streams:
            raise ValueError(f"step_batch needs one frame (or None) per stream ({self.streams}), got {len(frames)}")
        self.step_ms = dict.fromkeys(STEP_STAGES, 0.0)
        t_start = time.monotonic()
        items = []
        for i, f in enumerate(frames):
            if f is not None:
                self._check_frame(f)
                items.append(StepItem(i, f, {"queue": (t_start - f.t_capture) * 1e3}))
        self.localise(items)
        live = [it for it in items if it.result is None]
        x, pairs, related = self.crop(live)
        self.frame_graph(live, x)
        self.temporal_graph(live, pairs, related)
        self.solve(live)
        self.finish(live)
        out = [None] * self.streams
        for it in items:
            out[it.stream] = it.result
        return out

    # ----------------------------------------------------------- phases
    def localise(self, items) -> None:
        """Each item's box (and depth centre): around its track's previous single-frame pose moved by the
        tracked pose's last motion (checked against the model's localiser, :meth:`_localise`, every
        ``localiser_every`` frames and after a frame below ``localiser_below``), or, for a stream without a
        track, the localiser's box, or without one a search: candidate boxes
        (:meth:`_candidates`: RGB the full frame and windows of 0.75 and 0.5 of its shorter side; depth the
        nearest surfaces' hand-sized parts, then windows of 0.35 and 0.55) go through the frame graph in one
        call for all starting streams, the most confident wins and its box is re-centred on its pose (each of
        ``init_passes - 2`` more passes re-centres it again).  A frame with no candidate (no valid depth) is
        lost."""
        starting, checks = [], []
        use_loc = self.cfg.localiser and getattr(self.model, "localiser", None) is not None
        for it in items:
            st = self.tracks[it.stream]
            if st.last is not None:
                it.status = "track"
                ahead, st.ahead = st.ahead, None
                if ahead is not None and ahead.fits(it.frame):
                    it.box, it.centre, it.ahead = ahead.box, ahead.centre, ahead
                    it.lat["prepare"] = ahead.ms
                else:
                    it.box, it.centre = self._track_box(st, it.frame)
                st.since_check += 1
                if use_loc and ((self.cfg.localiser_every and st.since_check >= self.cfg.localiser_every)
                                or (st.conf is not None and st.conf < self.cfg.localiser_below)):
                    checks.append(it)
                continue
            if use_loc:
                if it.frame.modality == "depth" and not it.frame.image.any():
                    self._lose(it, "no valid depth in the frame")
                else:
                    starting.append((it, None))
                continue
            cands = self._candidates(it.frame, st)
            if not cands:
                self._lose(it, "no valid depth in the frame")
                continue
            it.status = "init"
            starting.append((it, cands))
        if use_loc and (starting or checks):
            starting = self._localise(starting, checks)
        if not starting:
            return
        # One frame-graph call for every candidate of every starting stream; each keeps its most confident.
        probes = [StepItem(it.stream, it.frame, {}, box=box, centre=c) for it, cands in starting
                  for box, c in cands]
        before = dict(self.step_ms)
        x, _, _ = self.crop(probes, pairs=False)
        self.frame_graph(probes, x)
        for it, _ in starting:          # the pass served every starting stream once
            for k in ("preprocess", "frame_graph"):
                it.lat[k] = it.lat.get(k, 0.0) + self.step_ms[k] - before[k]
        o = 0
        for it, cands in starting:
            group = probes[o:o + len(cands)]
            o += len(cands)
            best = max(group, key=lambda p: -np.inf if p.conf is None else float(p.conf.mean()))
            it.box, it.centre = self._refined_box(it.frame, best.J, best.centre, best.root_net)
        its = [it for it, _ in starting]
        for _ in range(max(0, self.cfg.init_passes - 2)):
            x, _, _ = self.crop(its, pairs=False)
            self.frame_graph(its, x)
            for it in its:
                it.box, it.centre = self._refined_box(it.frame, it.J, it.centre, it.root_net)

    def _localise(self, starting, checks) -> list:
        """The localiser on the frames of new tracks (whole frames, then a window around what it found) and
        of checked tracks (a window around the track's box), batched: a new track's candidates become the
        localiser's box and its ``localiser_variants`` (none when it finds no subject: the frame is lost); a
        checked track whose box is off
        the localiser's is cut with the localiser's box this frame.  Returns the starting streams that have
        candidates."""
        t0 = time.perf_counter()
        its = [it for it, _ in starting]
        zoom = self.cfg.localiser_zoom
        answers = self._run_localiser([(it.frame, None) for it in its]
                                      + [(it.frame, it.box if zoom else None) for it in checks])
        found = [b for b, _ in answers]
        if zoom:          # a new track's second look, closer
            again = [i for i, b in enumerate(found[:len(its)]) if b is not None]
            for i, (b, p) in zip(again, self._run_localiser([(its[i].frame, found[i]) for i in again])):
                if b is not None:
                    found[i], answers[i] = b, (b, max(p, answers[i][1]))
        self._charge(its + checks, "localise", t0)
        out = []
        for it, box, (_, p) in zip(its, found[:len(its)], answers):
            st = self.tracks[it.stream]
            it.sure = p >= self.cfg.localiser_sure
            if box is None:
                self._lose(it, "the localiser finds no subject")
                continue
            c = self._box_depth(it.frame, box)
            if it.frame.modality == "depth" and c is None:
                self._lose(it, "no valid depth in the localiser's box")
                continue
            it.status = "init"
            out.append((it, [(CropBox(box.cx + dx * box.size, box.cy + dy * box.size, box.size * k), c)
                             for k, dx, dy in self.cfg.localiser_variants or ((1.0, 0.0, 0.0),)]))
            st.scale = box.size
        for it, box in zip(checks, found[len(its):]):
            st = self.tracks[it.stream]
            st.since_check = 0
            if box is None:
                continue
            st.scale = box.size
            b = it.box
            off = np.hypot(box.cx - b.cx, box.cy - b.cy) / b.size
            ratio = max(box.size / b.size, b.size / box.size)
            if off > self.cfg.localiser_jump or ratio > 1 + self.cfg.localiser_jump:
                c = self._box_depth(it.frame, box) if it.frame.modality == "depth" else None
                it.box, it.ahead = box, None
                it.lat.pop("prepare", None)
                if c is not None:
                    it.centre = c
                it.relocalised = True
        return out

    def _run_localiser(self, jobs) -> list:
        """``[(frame, box or None)]`` -> (the localiser's box, or None for no subject; its presence) for each,
        in one call: on the whole frame, or on a window around ``box`` (:attr:`TrackerConfig.localiser_zoom`)."""
        if not jobs:
            return []
        codec = self.model.localiser
        x = np.empty((len(jobs), codec.channels, codec.input_size, codec.input_size), np.float32)
        wins = []
        for i, (frame, box) in enumerate(jobs):
            img = frame.image
            H, W = img.shape[:2]
            x0 = y0 = 0
            w, h = W, H
            if box is not None:
                short = min(H, W)
                side = min(max(self.cfg.localiser_zoom * box.size, 0.45 * short), short)
                w, h = int(round(W * side / short)), int(round(H * side / short))
                x0 = int(round(min(max(box.cx - w / 2, 0), W - w)))
                y0 = int(round(min(max(box.cy - h / 2, 0), H - h)))
                img = np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w])
            codec.encode(img, out=x[i])
            wins.append((x0, y0, w, h))
        presence, boxes = self.model.localise(x)
        out = []
        for p, b, (x0, y0, w, h) in zip(presence, boxes, wins):
            if float(p) < self.cfg.localiser_presence:
                out.append((None, float(p)))
                continue
            box = codec.decode(b, w, h)
            out.append((CropBox(box.cx + x0, box.cy + y0, box.size), float(p)))
        return out

    def _box_depth(self, frame: Frame, box: CropBox) -> float | None:
        """Depth frames: the depth to normalise a crop about from the surfaces in ``box``'s central half (the
        nearest quarter of the valid readings, plus the surface offset); None for RGB or no reading."""
        if frame.modality != "depth":
            return None
        H, W = frame.image.shape[:2]
        h = box.size / 4
        x0, x1 = int(max(0, box.cx - h)), int(min(W, box.cx + h + 1))
        y0, y1 = int(max(0, box.cy - h)), int(min(H, box.cy + h + 1))
        d = frame.image[y0:y1, x0:x1]
        d = d[d > 0]
        if d.size == 0:
            return None
        return float(np.percentile(d, 25)) + self.cfg.surface_offset_mm

    def crop(self, items, pairs: bool = True):
        """One batched preprocessing pass for ``items``: frame crops (N, C, S, S) float32, and (``pairs``) the
        temporal pairs (M, 2C, S, S) with their related joints (M, K, 2), M = the items' durations with a pair;
        every crop of an item is cut with its box.  Sets each item's crop transform and durations."""
        t0 = time.perf_counter()
        C, S = self.C, self.codec.input_size
        for it in items:
            if it.ahead is not None:
                it.tf, it.dec = it.ahead.tf, it.ahead.dec
            else:
                it.tf = self.codec.transform(it.box)
                it.dec = self.codec.decoder(it.tf)
        one = items[0].ahead if len(items) == 1 and pairs and items[0].ahead is not None else None
        if one is not None and one.durations and self.gpu is None:
            # One stream with its pairs' earlier halves cut ahead: its frame crop goes straight into the
            # first pair's second half and the frame graph reads it there (no allocation, no copy; the GPU
            # pass writes whole arrays back, so it takes the general path).
            it = items[0]
            it.durations = one.durations
            self._cut([CropJob(it.frame.image, it.tf, it.centre, 0, 0, C)], [one.pairs])
            for row in range(1, len(one.pairs)):
                one.pairs[row, C:] = one.pairs[0, C:]
            self._charge(items, "preprocess", t0)
            return one.pairs[:1, C:], one.pairs, one.related
        jobs = [CropJob(it.frame.image, it.tf, it.centre, 0, r) for r, it in enumerate(items)]
        rels, shared, ready = [], [], []
        if pairs:
            for r, it in enumerate(items):
                if it.ahead is not None:          # frames t - d were cut with this box while waiting for t
                    it.durations = it.ahead.durations
                    for i in range(len(it.durations)):
                        ready.append((len(rels), it.ahead.pairs[i, :C]))
                        shared.append((len(rels), r))
                        rels.append(it.ahead.related[i])
                    continue
                st = self.tracks[it.stream]
                it.durations = self._pair_durations(st)
                for d in it.durations:
                    img_p, P_p = st.history[-d]
                    row = len(rels)
                    jobs.append(CropJob(img_p, it.tf, it.centre, 1, row, 0))
                    shared.append((row, r))
                    rels.append(self.codec.encode_points(P_p, it.tf)[:, :2])
        outs = (np.empty((len(items), C, S, S), np.float32), np.empty((len(rels), 2 * C, S, S), np.float32))
        self._cut(jobs, outs)
        for row, crop in ready:
            outs[1][row, :C] = crop
        for row, r in shared:             # the current frame's half of a pair is its frame crop
            outs[1][row, C:] = outs[0][r]
        related = np.asarray(rels, np.float32).reshape(len(rels), self.sk.K, 2)
        self._charge(items, "preprocess", t0)
        return outs[0], outs[1], related

    def frame_graph(self, items, x) -> None:
        """One frame-graph call for every item: its ``J[t]`` and ``B[t]`` in the image."""
        if not items:
            return
        t0 = time.perf_counter()
        Jn, Bn, Cn = self.model.frame(x)
        self._charge(items, "frame_graph", t0)
        for i, it in enumerate(items):
            it.conf = None if Cn is None else Cn[i].astype(np.float64)
            if it.dec is not None:                       # PoseCodec.decode_points/vectors, maps precomputed
                it.J = Jn[i] * it.dec[0] + it.dec[1]
                it.B = Bn[i] * it.dec[0]
            else:
                it.J = self.codec.decode_points(Jn[i], it.tf)
                it.B = self.codec.decode_vectors(Bn[i], it.tf)
            if self.model.z_ref == "centre" and it.centre is not None:    # z about the centre: root depth too
                it.J, z = split_root_depth(it.J, it.centre, self.sk.root)
                it.root_net = float(z)
            it.B[self.sk.root] = 0.0

    def temporal_graph(self, items, pairs, related) -> None:
        """One temporal-graph call for every pair of every item: its ``{d: Δd[t]}`` in the image."""
        if not len(pairs):
            return
        t0 = time.perf_counter()
        Dn = self.model.temporal(pairs, related)
        self._charge([it for it in items if it.durations], "temporal_graph", t0)
        o = 0
        for it in items:
            it.deltas = {d: Dn[o + i] * it.dec[0] if it.dec is not None else self.codec.decode_vectors(Dn[o + i], it.tf)
                         for i, d in enumerate(it.durations)}
            o += len(it.durations)

    def solve(self, items) -> None:
        """Eq. 8 per stream: each item's tracked ``Ĵ[t]``."""
        t0 = time.perf_counter()
        p = self.cfg.confidence_weight
        for it in items:
            J = it.J if self.fusion is None else self.fusion(it.J, it.B)
            if self.cfg.durations or self.cfg.alpha > 0:
                w = None
                if p > 0:       # an older export has no confidence: every joint alike
                    c = it.conf if it.conf is not None and it.conf.mean() > 0 else np.ones(self.sk.K)
                    w = (c / c.mean()) ** p
                it.P = self.tracks[it.stream].solver.update(J, it.B if self.cfg.alpha > 0 else None, it.deltas,
                                                            weights=w)
            else:
                it.P = np.array(J, copy=True)
        self._charge(items, "solve", t0)

    def finish(self, items) -> None:
        """Loss tests, root depth and camera space; remember each tracked frame; each item's result."""
        for it in items:
            t0 = time.perf_counter()
            st, frame, P, J = self.tracks[it.stream], it.frame, it.P, it.J
            new = it.status == "init" or st.pending > 0
            why = self._is_lost(P, frame.image, it.conf,
                                self.cfg.init_confidence if new and not it.sure else self.cfg.min_confidence,
                                None if new or frame.modality != "depth" or st.dim >= self.cfg.max_dim_frames
                                else (it.box, it.centre))
            if why:
                self._lose(it, why)
                continue
            if frame.modality == "depth":        # frames kept below the keep confidence by their surface
                c = None if it.conf is None else float(it.conf.sum()) / it.conf.size
                st.dim = st.dim + 1 if not new and c is not None and c < self.cfg.min_confidence else 0
            fallback = st.last[1] if st.last is not None else it.centre
            z_root, z_src = self._root_depth(frame, P, fallback, it.root_net)
            if z_root is None:
                self._lose(it, "no valid depth at the root joint")
                continue
            if z_src == "network" and self.cfg.keep_network_depths:
                # The network's depths about the crop's centre are read off this frame's depth map; the
                # solver's depths add the temporal network's root-relative depth displacements to them.
                P = P.copy()
                P[:, 2] = J[:, 2]
            P_cam = J_cam = None
            if frame.intrinsics is not None:      # both poses in one conversion
                P_cam, J_cam = p2p5d_to_cam(np.stack((P, J)), frame.intrinsics, z_root, self.sk.root)
            st.history.append((frame.image, P))
            st.conf = None if it.conf is None else float(it.conf.sum()) / it.conf.size
            st.frame = frame
            st.last = (J, z_root)
            st.box = it.box
            st.frames += 1
            st.search = 0                     # the next loss starts a search with the full budget
            if it.status == "init":
                st.pending = 0 if it.sure else self.cfg.confirm_frames - 1
            elif st.pending > 0:
                st.pending -= 1
            if st.pending > 0:
                it.status = "search"
            elif new and it.status == "track":
                it.status = "init"            # the first frame of a confirmed track
            dt = (time.perf_counter() - t0) * 1e3
            it.lat["postprocess"] = dt
            self.step_ms["postprocess"] += dt
            it.lat["total"] = (time.monotonic() - frame.t_capture) * 1e3
            it.result = TrackResult(index=frame.index, t_capture=frame.t_capture, timestamp=frame.timestamp,
                                    status=it.status, joints_2p5d=P, joints_cam=P_cam, single_2p5d=J,
                                    single_cam=J_cam, confidence=it.conf, root_depth=z_root, root_depth_source=z_src,
                                    box=(it.box.cx, it.box.cy, it.box.size), durations=it.durations, latency_ms=it.lat,
                                    gt_joints_cam=frame.gt_joints_cam, frame=frame,
                                    message="re-localised" if it.relocalised else "")

    def prepare(self) -> None:
        """Cut, while waiting for the next frames, what the earlier frames already decide: each tracked
        stream's next box (around its last pose moved by its last motion), its crop transform, and frames
        ``t - d`` cut with it for the temporal pairs.  The next :meth:`step_batch` then cuts only the new
        frames, so this work leaves the camera-to-result path (a live pipeline calls it after the sinks).
        Optional: results are identical with or without it; a stream whose next frame differs in size,
        modality or intrinsics, or whose depth centre comes from that frame (``depth_centre="depth"``),
        is cut in the step as before."""
        t0 = time.perf_counter()
        todo = [st for st in self.tracks if st.last is not None and st.ahead is None and st.frame is not None
                and not (st.frame.modality == "depth" and self.cfg.depth_centre == "depth")]
        if not todo:
            return
        C, S = self.C, self.codec.input_size
        jobs, made = [], []
        for st in todo:
            box, centre = self._track_box(st, st.frame)
            tf = self.codec.transform(box)
            ds = self._pair_durations(st)
            pairs = np.empty((len(ds), 2 * C, S, S), np.float32)
            rel = np.empty((len(ds), self.sk.K, 2), np.float32)
            for i, d in enumerate(ds):
                img_p, P_p = st.history[-d]
                jobs.append(CropJob(img_p, tf, centre, len(made), i))
                rel[i] = self.codec.encode_points(P_p, tf)[:, :2]
            f = st.frame
            made.append((st, Ahead(f.image.shape, f.modality, f.intrinsics, box, centre, tf, self.codec.decoder(tf),
                                   ds, pairs, rel)))
        self._cut(jobs, [a.pairs for _, a in made])
        ms = (time.perf_counter() - t0) * 1e3
        for st, a in made:
            a.ms = ms
            st.ahead = a

    # ----------------------------------------------------------- helpers
    def _cut(self, jobs, outs) -> None:
        """Every crop job into its place in ``outs`` (one batched pass: CUDA kernels or OpenCV)."""
        if not jobs:
            return
        if self.gpu is not None:
            self.gpu.crop_batch(jobs, outs)
        else:
            self.codec.crop_batch(jobs, outs, self.model.modality)

    def _pair_durations(self, st: TrackState) -> tuple:
        """The durations whose frame ``t - d`` is in the track (all of them once it is long enough)."""
        if st.last is None:
            return ()
        n = len(st.history)
        return tuple(d for d in self.cfg.durations if d <= n)

    def _track_box(self, st: TrackState, frame: Frame):
        """A tracked stream's box (and depth centre) for ``frame``: around its last single-frame pose moved
        by the tracked pose's last motion, size held within bounds (:meth:`_next_box`)."""
        J_prev, z_prev = st.last
        if self.cfg.box_velocity and len(st.history) >= 2:   # where the subject will be: + last motion
            v = st.history[-1][1][:, :2] - st.history[-2][1][:, :2]
            J_prev = J_prev.copy()
            J_prev[:, :2] += v
        box = self._next_box(J_prev, z_prev, frame, st.box, st.scale)
        if frame.modality != "depth":
            return box, None
        centre = z_prev
        if self.cfg.depth_centre == "depth":
            # this frame's depth at the predicted joints: a root depth that does not depend on the last one,
            # so an error in it (the network's own root) cannot feed back
            z = root_depth_from_depth(J_prev, frame.image, self.cfg.surface_offset_mm,
                                      quantile=self.cfg.root_depth_quantile, band_mm=self.cfg.root_depth_band_mm,
                                      prior=(z_prev, self.codec.cube_mm / 4))
            centre = z if z is not None else z_prev
        return box, centre

    def _charge(self, items, stage: str, t0: float) -> None:
        """A batched stage's time, to the step and to each item it served."""
        dt = (time.perf_counter() - t0) * 1e3
        self.step_ms[stage] += dt
        for it in items:
            it.lat[stage] = it.lat.get(stage, 0.0) + dt

    def _lose(self, it: StepItem, why: str) -> None:
        st = self.tracks[it.stream]
        st.forget()
        st.lost += 1
        f = it.frame
        it.lat["total"] = (time.monotonic() - f.t_capture) * 1e3
        it.status = "lost"
        it.result = TrackResult(index=f.index, t_capture=f.t_capture, timestamp=f.timestamp, status="lost",
                                single_2p5d=it.J, confidence=it.conf, latency_ms=it.lat, gt_joints_cam=f.gt_joints_cam, frame=f, message=why)

    def _check_frame(self, frame: Frame) -> None:
        if frame.modality != self.model.modality:
            raise SourceError(f"the model {self.model.dir.name} tracks {self.model.modality} frames, the source "
                              f"gives {frame.modality}; pick the matching model (body-lite: rgb, hand-lite: depth)")

    def _candidates(self, frame: Frame, st: TrackState) -> list:
        """A new track's candidate boxes with their depth centres (None for RGB); empty when there is none.

        A search's first frame tries up to ``init_candidates``, each later frame half of that, so a
        search never stalls a live stream for long: the first candidates (RGB: the full frame; depth: the
        nearest surfaces' parts, up to half the budget) every frame, the grid of windows in turns.
        """
        n = self.cfg.init_candidates if st.search == 0 else max(4, self.cfg.init_candidates // 2)
        st.search += 1
        if frame.modality == "depth":
            first = depth_candidates(frame.image, frame.intrinsics, self.codec.cube_mm, self.cfg.blob_edge_mm,
                                     self.model.margin, max_candidates=max(1, n // 2))
            if not first:
                return []
            grid = depth_window_candidates(frame.image)
        else:
            H, W = frame.image.shape[:2]
            boxes = window_candidates(W, H)
            first, grid = [(boxes[0], None)], [(b, None) for b in boxes[1:]]
        room = n - len(first)
        if room <= 0 or not grid:
            return first[:n]
        if len(grid) <= room:
            return first + grid
        o = st.grid_offset % len(grid)
        st.grid_offset += room
        return first + (grid[o:] + grid[:o])[:room]

    def _refined_box(self, frame: Frame, J, centre, root_net=None):
        """One initialiser pass: the box (and depth centre) around the single-frame pose ``J``; the depth
        centre is the network's root depth when it gives one, else the depth at the root's pixel."""
        box = box_from_points(J[:, :2], self.model.margin)
        if root_net is not None and np.isfinite(root_net):
            centre = root_net
        elif frame.modality == "depth":
            centre = depth_at(frame.image, J[self.sk.root, :2]) or centre
        return box, centre

    def _next_box(self, P_prev, z_prev, frame, box_prev, scale: float | None = None) -> CropBox:
        """The box around a previous pose, its size held within bounds.

        A box is only as good as the pose it comes from: a pose predicted
        too small gives a smaller box, in which the next pose is predicted
        smaller still.  So the size may change by at most ``box_rate`` per frame
        and stays within ``box_limits`` x (the metric cube seen at the root
        depth) for depth frames, or of the shorter image side for RGB, and within
        ``localiser_band`` of the localiser's last box side (``scale``) when it has one.
        """
        box = box_from_points(P_prev[:, :2], self.model.margin)
        size = box.size
        if box_prev is not None:
            r = self.cfg.box_rate
            size = min(max(size, box_prev.size / r), box_prev.size * r)
        H, W = frame.image.shape[:2]
        if frame.modality == "depth" and frame.intrinsics is not None and z_prev:
            ref = self.codec.cube_mm * frame.intrinsics.fx / z_prev
            lo, hi = self.cfg.box_limits
        else:
            ref = float(min(H, W))
            lo, hi = 0.15, 2.0
        size = min(max(size, lo * ref), hi * ref)
        if scale and self.cfg.localiser_band:
            size = min(max(size, scale / self.cfg.localiser_band), scale * self.cfg.localiser_band)
        return CropBox(box.cx, box.cy, size)

    def _root_depth(self, frame: Frame, P, fallback, root_net=None):
        mode = self.cfg.root_depth
        if mode == "auto":
            if frame.modality == "depth":
                mode = "network" if self.model.z_ref == "centre" else "depth"
            else:
                mode = "gt" if frame.gt_joints_cam is not None else "bones"
        if mode == "network":
            if self.model.z_ref != "centre":
                raise SourceError(f"root depth 'network' needs a model whose frame graph gives it (z_ref 'centre'); "
                                  f"{self.model.dir.name} gives root-relative z: use --root-depth auto or depth")
            return (root_net, "network") if root_net is not None and np.isfinite(root_net) else (fallback, "previous")
        if mode == "gt":
            if frame.gt_joints_cam is None:
                raise SourceError("root depth 'gt' asked for, but the source has no ground truth; "
                                  "use --root-depth auto")
            return float(frame.gt_joints_cam[self.sk.root, 2]), "gt"
        if mode == "depth":
            if frame.modality != "depth":
                raise SourceError("root depth 'depth' needs depth frames")
            z = root_depth_from_depth(P, frame.image, self.cfg.surface_offset_mm,
                                      quantile=self.cfg.root_depth_quantile, band_mm=self.cfg.root_depth_band_mm)
            return (z, "depth") if z is not None else (fallback, "previous")
        if frame.intrinsics is None:
            raise SourceError("camera-space joints need intrinsics; this source has none (pass --intrinsics)")
        return root_depth_from_bones(P, frame.intrinsics, self.sk.parents, self.sk.bone_lengths_mm,
                                     self.sk.root), "bones"

    def _is_lost(self, P, image, conf=None, threshold: float = 0.0, depth_box=None) -> str:
        """Why a pose is lost ("" when it is not).  ``depth_box``: (box, depth centre) of a tracked depth
        frame, whose low confidence is forgiven down to ``depth_keep_confidence`` while the box holds a surface
        (:func:`box_occupancy` >= ``min_occupancy``)."""
        if not np.isfinite(P).all():
            return "non-finite pose"
        if conf is not None and threshold > 0:
            c = float(conf.sum()) / conf.size
            if c < threshold:
                keep = self.cfg.depth_keep_confidence
                occ = None
                if depth_box is not None and keep > 0 and c >= keep and depth_box[1] is not None:
                    occ = box_occupancy(image, depth_box[0], depth_box[1], self.codec.cube_mm / 2)
                if occ is None or occ < self.cfg.min_occupancy:
                    return f"low confidence ({c:.2f} < {threshold:g}): no subject in the box" + (
                        "" if occ is None else f" (a surface fills {100 * occ:.0f} % of it)")
        H, W = image.shape[:2]
        uv = P[:, :2]
        (u0, v0), (u1, v1) = uv.min(axis=0).tolist(), uv.max(axis=0).tolist()
        if (u0 < 0 or v0 < 0 or u1 >= W or v1 >= H) and \
                np.count_nonzero(((uv >= 0) & (uv < (W, H))).all(axis=1)) < self.cfg.min_inside * len(P):
            return "pose left the image"
        if max(u1 - u0, v1 - v0) < 4.0:
            return "pose collapsed"
        return ""
