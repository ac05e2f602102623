"""The online tracker of DESIGN §4: crop -> frame graph -> temporal graph -> online solver.

One :meth:`Tracker.step` per frame:

1. **box**: around the previous tracked pose (``margin`` as in training), or
   from the initialiser when there is no track: the full frame for a body (two
   refinement passes of the frame graph), the nearest depth blob for a hand;
2. **frame graph** on the crop: single-frame joints ``J[t]`` and bones ``B[t]``
   pooled at ``J[t]``'s parents;
3. **temporal graph**, one batched call for all durations ``d`` whose frame
   ``t - d`` is in the track: the pair ``[I(t-d), I(t)]`` cropped with one box
   around ``Ĵ[t-d]`` and ``J[t]`` (as in training: a box around both frames'
   poses), related joints ``Ĵ[t-d]`` -> displacements ``Δd[t]``;
4. **solver**: ``Ĵ[t] = OnlineSolver.update(J[t], B[t], {d: Δd[t]})``;
5. camera space with the root depth: ground truth where the frame carries it
   and the RGB protocol asks for it, the depth map for depth frames, else
   fitted to the skeleton's nominal bone lengths (a monocular RGB camera knows
   no absolute depth).

A track is lost (and re-initialised on the next frame) when the tracked pose
leaves the image, collapses, or a depth frame has no valid depth near it.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..camera import CropBox, Intrinsics, box_from_points, p2p5d_to_cam
from ..solver import OnlineSolver
from ..solver import parse_durations as solver_parse_durations
from .frame import Frame, SourceError

ROOT_DEPTH_MODES = ("auto", "gt", "depth", "bones")


def parse_durations(spec) -> tuple[int, ...]:
    """``"Dmf"``, ``"Df"``, ``"1,2,3"``, ``"none"`` or a sequence -> forward durations, ascending (may be empty);
    :func:`trt_tracker.solver.parse_durations` online."""
    return tuple(sorted(solver_parse_durations(spec, online=True)))


@dataclass
class TrackerConfig:
    durations: tuple = (1, 2, 3)
    alpha: float = 0.0          # bone-term weight (Eq. 8)
    gamma: float = 3.0          # displacement weight (Eq. 8)
    window: int = 16            # solver window (frames)
    root_depth: str = "auto"    # auto | gt | depth | bones
    init_passes: int = 2        # body: frame-graph passes from the full frame
    min_inside: float = 0.5     # lost when fewer joints than this fraction lie inside the image
    blob_edge_mm: float = 30.0  # hand initialiser: depth jump that separates surfaces
    box_rate: float = 1.15      # largest box size change per frame (factor)
    box_limits: tuple = (0.45, 1.0)  # depth: box side bounds in units of the cube's size at the root depth
    preprocess: str = "cpu"     # cpu (OpenCV) or gpu (the CUDA kernels in kernels/, through CuPy)

    def __post_init__(self) -> None:
        self.durations = parse_durations(self.durations)
        if self.root_depth not in ROOT_DEPTH_MODES:
            raise ValueError(f"root_depth must be one of {ROOT_DEPTH_MODES}, got {self.root_depth!r}")
        if self.preprocess not in ("cpu", "gpu"):
            raise ValueError(f"preprocess must be cpu or gpu, got {self.preprocess!r}")
        if self.alpha < 0 or self.gamma < 0:
            raise ValueError(f"alpha and gamma must be >= 0, got alpha={self.alpha}, gamma={self.gamma}")


@dataclass(kw_only=True)
class TrackResult:
    """One frame's output (all poses in full-image 2.5D: u, v px, z root-relative mm; camera: mm)."""

    index: int
    t_capture: float
    timestamp: float | None
    status: str                          # "init" (new track), "track", "lost" (no pose this frame)
    joints_2p5d: np.ndarray | None = None  # tracked Ĵ[t] (K, 3)
    joints_cam: np.ndarray | None = None
    single_2p5d: np.ndarray | None = None  # single-frame J[t]
    single_cam: np.ndarray | None = None
    root_depth: float | None = None
    root_depth_source: str | None = None
    box: tuple | None = None             # (cx, cy, size) px
    durations: tuple = ()
    latency_ms: dict = field(default_factory=dict)
    gt_joints_cam: np.ndarray | None = None
    frame: Frame | None = None           # for sinks that draw; not serialised
    message: str = ""


def full_frame_box(width: int, height: int) -> CropBox:
    return CropBox((width - 1) / 2, (height - 1) / 2, float(max(width, height)))


def nearest_blob(depth: np.ndarray, intr: Intrinsics | None, cube_mm: float, edge_mm: float = 30.0,
                 margin: float = 1.3, min_pixels: int = 30, iterations: int = 5):
    """The hand initialiser: (box, depth mm) of the hand nearest to the camera, or None.

    The depth image is cut into smooth surfaces at depth jumps larger than
    ``edge_mm`` between neighbouring pixels (and at holes).  Surfaces of fewer
    than ``min_pixels`` pixels are skipped.  The surface whose near end (2nd percentile of depth, robust to speckle)
    is nearest holds the hand, maybe with the forearm or a background it
    touches; a 3D mean shift centres a ball of radius ``cube_mm / 2`` on
    its nearest part: start at its points within a tenth of a cube of its
    nearest point, move the centre to the mean of the points inside the
    ball, repeat.  The box covers the points in the final ball
    (``margin`` as in training).
    """
    import cv2

    valid = depth > 0
    if valid.sum() < min_pixels:
        return None
    d = depth.astype(np.float32)
    jump = np.zeros(depth.shape, bool)
    jump[:, 1:] |= np.abs(np.diff(d, axis=1)) > edge_mm
    jump[1:, :] |= np.abs(np.diff(d, axis=0)) > edge_mm
    smooth = (valid & ~jump).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(smooth, connectivity=4)
    best = None
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_pixels:
            continue
        z = float(np.percentile(depth[labels == i], 2))
        if best is None or z < best[1]:
            best = (i, z)
    if best is None:
        return None
    ys, xs = np.nonzero(labels == best[0])
    z = depth[ys, xs].astype(np.float64)
    if intr is None:   # no metric back-projection: the component's box
        return box_from_points(np.stack([xs, ys], 1).astype(np.float64), margin), float(np.median(z))
    X = intr.backproject(np.stack([xs, ys], 1).astype(np.float64), z)
    centre = X[z <= z.min() + 0.1 * cube_mm].mean(0)
    inside = np.ones(len(X), bool)
    for _ in range(iterations):
        inside = np.linalg.norm(X - centre, axis=1) <= cube_mm / 2
        if not inside.any():
            return None
        centre = X[inside].mean(0)
    box = box_from_points(np.stack([xs[inside], ys[inside]], 1).astype(np.float64), margin)
    return box, float(centre[2])


def depth_at(depth: np.ndarray, uv, radius: int = 3) -> float | None:
    """Median valid depth (mm) in a (2r+1)^2 window at pixel ``uv``; None if none."""
    H, W = depth.shape
    u, v = int(round(float(uv[0]))), int(round(float(uv[1])))
    if not (0 <= u < W and 0 <= v < H):
        return None
    win = depth[max(0, v - radius):v + radius + 1, max(0, u - radius):u + radius + 1]
    win = win[win > 0]
    return float(np.median(win)) if win.size else None


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


class Tracker:
    """``Tracker(model, config)``; ``step(frame) -> TrackResult``; ``reset()`` forgets the track."""

    def __init__(self, model, config: TrackerConfig | None = None):
        self.model = model
        self.cfg = config or TrackerConfig()
        self.sk = model.skeleton
        self.codec = model.codec
        self.C = 1 if model.modality == "depth" else 3
        self.solver = OnlineSolver(self.sk, self.cfg.durations or (1,), alpha=self.cfg.alpha,
                                   gammas=self.cfg.gamma if self.cfg.durations else 0.0,
                                   window=max(self.cfg.window, max(self.cfg.durations, default=1)))
        self.gpu = None
        if self.cfg.preprocess == "gpu":
            from .gpu_preprocess import GpuPreprocessor, gpu_available

            ok, why = gpu_available()
            if not ok:
                raise SourceError(f"GPU preprocessing asked for, but {why}; use --preprocess cpu")
            self.gpu = GpuPreprocessor(self.codec, model.modality)
        self.reset()

    def reset(self) -> None:
        self.solver.reset()
        self.history: deque = deque(maxlen=max(self.cfg.durations, default=0) + 1)  # (image, Ĵ, root depth)
        # (single-frame J 2.5D, root depth) of the previous frame, None when no track.  The next box follows J,
        # not the tracked pose: the tracked pose carries the bone and displacement terms, and a box that
        # followed them would feed their errors back into the next crop.
        self.last: tuple | None = None
        self.box: CropBox | None = None  # the previous frame's box
        self.frames = 0
        self.lost = 0

    # ----------------------------------------------------------- helpers
    def _crop(self, image, tf, centre):
        """(C, S, S) float32 network input of one crop (CPU: OpenCV; GPU: the CUDA kernels)."""
        if self.gpu is not None:
            x = self.gpu.crops(image, [tf], None if centre is None else [centre])
            return self.gpu._cp.asnumpy(x[0])
        return self.codec.crop_input(image, tf, self.model.modality, centre)

    def _frame_graph(self, image, box: CropBox, centre, lat):
        t0 = time.perf_counter()
        tf = self.codec.transform(box)
        x = self._crop(image, tf, centre)[None]
        t1 = time.perf_counter()
        Jn, Bn = self.model.frame(x)
        t2 = time.perf_counter()
        lat["preprocess"] = lat.get("preprocess", 0.0) + (t1 - t0) * 1e3
        lat["frame_graph"] = lat.get("frame_graph", 0.0) + (t2 - t1) * 1e3
        return self._decode_frame(Jn[0], Bn[0], tf)

    def _decode_frame(self, Jn, Bn, tf):
        """One crop's frame-graph outputs (network frame) -> ``J[t]`` (K, 3), ``B[t]`` (K, 3) in the image."""
        J = self.codec.decode_points(Jn, tf)
        B = self.codec.decode_vectors(Bn, tf)
        B[self.sk.root] = 0.0
        return J, B

    def _root_depth(self, frame: Frame, P, fallback):
        mode = self.cfg.root_depth
        if mode == "auto":
            mode = "depth" if frame.modality == "depth" else ("gt" if frame.gt_joints_cam is not None else "bones")
        if mode == "gt":
            if frame.gt_joints_cam is None:
                raise SourceError("root depth 'gt' asked for, but the source has no ground truth; "
                                  "use --root-depth auto")
            return float(frame.gt_joints_cam[self.sk.root, 2]), "gt"
        if mode == "depth":
            if frame.modality != "depth":
                raise SourceError("root depth 'depth' needs depth frames")
            z = depth_at(frame.image, P[self.sk.root, :2])
            return (z, "depth") if z is not None else (fallback, "previous")
        if frame.intrinsics is None:
            raise SourceError("camera-space joints need intrinsics; this source has none (pass --intrinsics)")
        return root_depth_from_bones(P, frame.intrinsics, self.sk.parents, self.sk.bone_lengths_mm,
                                     self.sk.root), "bones"

    def _next_box(self, P_prev, z_prev, frame) -> CropBox:
        """The box around a previous pose, its size held within bounds.

        A box is only as good as the pose it comes from: a pose predicted
        too small gives a smaller box, in which the next pose is predicted
        smaller still.  So the size may change by at most ``box_rate`` per frame
        and stays within ``box_limits`` x (the metric cube seen at the root
        depth) for depth frames, or of the shorter image side for RGB.
        """
        box = box_from_points(P_prev[:, :2], self.model.margin)
        size = box.size
        if self.box is not None:
            r = self.cfg.box_rate
            size = float(np.clip(size, self.box.size / r, self.box.size * r))
        H, W = frame.image.shape[:2]
        if frame.modality == "depth" and frame.intrinsics is not None and z_prev:
            ref = self.codec.cube_mm * frame.intrinsics.fx / z_prev
            lo, hi = self.cfg.box_limits
        else:
            ref = float(min(H, W))
            lo, hi = 0.15, 2.0
        size = float(np.clip(size, lo * ref, hi * ref))
        return CropBox(box.cx, box.cy, size)

    def _is_lost(self, P, image) -> str:
        if not np.all(np.isfinite(P)):
            return "non-finite pose"
        H, W = image.shape[:2]
        inside = (P[:, 0] >= 0) & (P[:, 0] < W) & (P[:, 1] >= 0) & (P[:, 1] < H)
        if inside.mean() < self.cfg.min_inside:
            return "pose left the image"
        ext = float(np.ptp(P[:, :2], axis=0).max())
        if ext < 4.0:
            return "pose collapsed"
        return ""

    # ----------------------------------------------------------- one frame
    # step() runs these phases in order.  A caller that steps many tracks together runs the same
    # phases per track with one network call per graph for all of them (benchmarks/latency.py).
    def _check_frame(self, frame: Frame) -> None:
        if frame.modality != self.model.modality:
            raise SourceError(f"the model {self.model.dir.name} tracks {self.model.modality} frames, the source "
                              f"gives {frame.modality}; pick the matching model (body-lite: rgb, hand-lite: depth)")

    def _initial_box(self, frame: Frame):
        """A new track's first box and depth centre (None for RGB); None when the initialiser finds nothing."""
        if frame.modality == "depth":
            return nearest_blob(frame.image, frame.intrinsics, self.codec.cube_mm, self.cfg.blob_edge_mm,
                                self.model.margin)
        H, W = frame.image.shape[:2]
        return full_frame_box(W, H), None

    def _refined_box(self, frame: Frame, J, centre):
        """One initialiser pass: the box (and depth centre) around the single-frame pose ``J``."""
        box = box_from_points(J[:, :2], self.model.margin)
        if frame.modality == "depth":
            centre = depth_at(frame.image, J[self.sk.root, :2]) or centre
        return box, centre

    def _tracked_box(self, frame: Frame):
        """The box (and depth centre, None for RGB) around the previous frame's single-frame pose."""
        J_prev, centre = self.last
        return self._next_box(J_prev, centre, frame), (centre if frame.modality == "depth" else None)

    def _temporal_inputs(self, frame: Frame, J, lat):
        """The temporal graph's batch: every duration ``d`` whose frame ``t - d`` is in this track.

        Returns (durations, pairs (n, 2C, S, S) float32, related (n, K, 2) float32, crop transforms);
        ``n = 0`` at the start of a track.
        """
        ds = [d for d in self.cfg.durations if d <= len(self.history)]
        if not ds:
            return (), None, None, []
        t0 = time.perf_counter()
        C, S = self.C, self.codec.input_size
        pairs = np.empty((len(ds), 2 * C, S, S), np.float32)
        rels = np.empty((len(ds), self.sk.K, 2), np.float32)
        tfs = []
        for i, d in enumerate(ds):
            img_p, P_p, z_p = self.history[-d]
            tf = self.codec.transform(box_from_points(np.concatenate([P_p[:, :2], J[:, :2]]), self.model.margin))
            c = z_p if frame.modality == "depth" else None
            pairs[i, :C] = self._crop(img_p, tf, c)
            pairs[i, C:] = self._crop(frame.image, tf, c)
            rels[i] = self.codec.encode_points(P_p, tf)[:, :2]
            tfs.append(tf)
        lat["preprocess"] = lat.get("preprocess", 0.0) + (time.perf_counter() - t0) * 1e3
        return tuple(ds), pairs, rels, tfs

    def _decode_deltas(self, Dn, ds, tfs) -> dict:
        """Temporal-graph outputs (n, K, 3) -> ``{d: Δd[t]}`` in the image."""
        return {d: self.codec.decode_vectors(Dn[i], tfs[i]) for i, d in enumerate(ds)}

    def step(self, frame: Frame) -> TrackResult:
        t_start = time.monotonic()
        lat = {"queue": (t_start - frame.t_capture) * 1e3}
        self._check_frame(frame)
        if self.last is None:
            status = "init"
            first = self._initial_box(frame)
            if first is None:
                return self._lost(frame, lat, "no valid depth in the frame")
            box, centre = first
            for _ in range(max(0, self.cfg.init_passes - 1)):
                J, _ = self._frame_graph(frame.image, box, centre, lat)
                box, centre = self._refined_box(frame, J, centre)
        else:
            status = "track"
            box, centre = self._tracked_box(frame)
        J, B = self._frame_graph(frame.image, box, centre, lat)

        # Temporal graph: every duration whose frame t-d is in this track, one batched call.
        ds, pairs, rels, tfs = self._temporal_inputs(frame, J, lat)
        deltas = {}
        if ds:
            t1 = time.perf_counter()
            Dn = self.model.temporal(pairs, rels)
            lat["temporal_graph"] = (time.perf_counter() - t1) * 1e3
            deltas = self._decode_deltas(Dn, ds, tfs)
        return self._finish(frame, lat, status, box, centre, J, B, deltas, ds)

    def _finish(self, frame: Frame, lat, status, box, centre, J, B, deltas, ds) -> TrackResult:
        """Solve (Eq. 8), test for loss, lift to camera space and remember the frame."""
        image = frame.image
        t0 = time.perf_counter()
        if self.cfg.durations or self.cfg.alpha > 0:
            P = self.solver.update(J, B if self.cfg.alpha > 0 else None, deltas)
        else:
            P = J.copy()

        lat["solve"] = (time.perf_counter() - t0) * 1e3

        why = self._is_lost(P, image)
        if why:
            return self._lost(frame, lat, why, J)
        fallback = self.last[1] if self.last is not None else centre
        t0 = time.perf_counter()
        z_root, z_src = self._root_depth(frame, P, fallback)
        if z_root is None:
            return self._lost(frame, lat, "no valid depth at the root joint", J)
        intr = frame.intrinsics
        P_cam = J_cam = None
        if intr is not None:
            P_cam = p2p5d_to_cam(P, intr, z_root, self.sk.root)
            J_cam = p2p5d_to_cam(J, intr, z_root, self.sk.root)
        lat["postprocess"] = (time.perf_counter() - t0) * 1e3
        self.history.append((image, P, z_root))
        self.last = (J, z_root)
        self.box = box
        self.frames += 1
        lat["total"] = (time.monotonic() - frame.t_capture) * 1e3
        return TrackResult(index=frame.index, t_capture=frame.t_capture, timestamp=frame.timestamp, status=status,
                           joints_2p5d=P, joints_cam=P_cam, single_2p5d=J, single_cam=J_cam, root_depth=z_root,
                           root_depth_source=z_src, box=tuple(box.as_array()), durations=tuple(ds), latency_ms=lat,
                           gt_joints_cam=frame.gt_joints_cam, frame=frame)

    def _lost(self, frame, lat, why, J=None) -> TrackResult:
        self.solver.reset()
        self.history.clear()
        self.last = None
        self.box = None
        self.lost += 1
        lat["total"] = (time.monotonic() - frame.t_capture) * 1e3
        return TrackResult(index=frame.index, t_capture=frame.t_capture, timestamp=frame.timestamp, status="lost",
                           single_2p5d=J, latency_ms=lat, gt_joints_cam=frame.gt_joints_cam, frame=frame, message=why)
