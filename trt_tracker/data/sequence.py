"""The on-disk sequence format: frames plus ground truth, written and read losslessly.

Layout of a sequence directory (format ``trt_tracker.sequence``, version 1)::

    <dir>/
      meta.json          format, version, skeleton, modality, fps, num_frames,
                         image size, frame file pattern, free-form "info"
      joints.npz         joints_cam (T, K, 3) float64, camera-space mm (x right, y down, z forward)
                         joints_uv  (T, K, 2) float64, full-image pixels (redundant, for other readers)
                         intrinsics (6,) float64: fx, fy, cx, cy, width, height
                         timestamps (T,) float64 seconds from the first frame
      frames/000000.png  RGB: 8-bit, 3 channels (stored BGR by PNG convention of OpenCV,
                         read back as RGB);  depth: 16-bit, 1 channel, millimetres,
                         0 = no reading (a hole)

Frames in memory are ``(H, W, 3) uint8`` RGB or ``(H, W) uint16`` depth in mm.
A :class:`SequenceWriter` writes frames as they come and rewrites
``joints.npz``/``meta.json`` every ``flush_every`` frames and on close, so a
run interrupted by Ctrl-C still leaves a valid (shorter) sequence.
"""
from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..camera import Intrinsics, cam_to_2p5d
from ..skeleton import Skeleton, get_skeleton

FORMAT = "trt_tracker.sequence"
VERSION = 1
FRAME_PATTERN = "frames/{:06d}.png"
MODALITIES = ("rgb", "depth")


class SequenceFormatError(ValueError):
    """A sequence directory is missing, incomplete or not in this format."""


def _check_frame(frame: np.ndarray, modality: str) -> np.ndarray:
    frame = np.asarray(frame)
    if modality == "rgb":
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"an RGB frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    elif modality == "depth":
        if frame.dtype != np.uint16 or frame.ndim != 2:
            raise ValueError(f"a depth frame must be (H, W) uint16 millimetres, got {frame.shape} {frame.dtype}")
    else:
        raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    return frame


def write_frame_png(path: Path, frame: np.ndarray, modality: str) -> None:
    import cv2

    frame = _check_frame(frame, modality)
    img = frame[..., ::-1] if modality == "rgb" else frame
    # Write to a temporary name first so a frame file is never half-written.
    tmp = path.with_name(path.stem + ".tmp.png")
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(img), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f"could not write {path}")
    os.replace(tmp, path)


def read_frame_png(path: Path, modality: str) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise SequenceFormatError(f"cannot read frame {path} (missing or not a PNG)")
    if modality == "rgb":
        if img.ndim != 3 or img.dtype != np.uint8:
            raise SequenceFormatError(f"{path}: expected an 8-bit colour PNG, got {img.shape} {img.dtype}")
        return np.ascontiguousarray(img[..., ::-1])
    if img.ndim != 2 or img.dtype != np.uint16:
        raise SequenceFormatError(f"{path}: expected a 16-bit single-channel depth PNG, got {img.shape} {img.dtype}")
    return img


def out_of_view(joints_cam: np.ndarray, hidden, n_frames: int) -> tuple[np.ndarray, list[int]]:
    """The joints to render when the subject is out of view in frames ``hidden`` (scenes for a live
    tracker: it enters late, leaves and comes back): the same motion moved far to the side of the camera
    (nothing of it projects into the image) in those frames.  Returns (joints to render (T, K, 3), the
    hidden frame indices, sorted, for ``info["hidden"]``)."""
    idx = sorted({int(i) for i in hidden if 0 <= int(i) < n_frames}) if hidden is not None else []
    if not idx:
        return joints_cam, []
    shown = np.array(joints_cam, np.float64)
    shown[idx, :, 0] += 50.0 * shown[idx, :, 2].max(axis=1, keepdims=True)
    return shown, idx


ENTER_SIDES = ("left", "right", "top", "bottom")


def entering(joints_cam: np.ndarray, intr, side: str, frames: int) -> tuple[np.ndarray, list[int]]:
    """The subject slides into view from ``side`` of the image over the first ``frames`` frames (a
    minimum-jerk ramp of one rigid camera-space shift, which at frame 0 puts every joint past that border)
    and moves as generated from then on.  Returns (the joints: the new ground truth, (T, K, 3); the frames
    where no joint projects into the image, for ``info["hidden"]``)."""
    if side not in ENTER_SIDES:
        raise ValueError(f"side must be one of {ENTER_SIDES}, got {side!r}")
    X = np.array(joints_cam, np.float64)
    n = min(int(frames), len(X))
    if n < 1:
        return X, []
    uv = intr.project(X[0])
    z = float(X[0, :, 2].min())                 # the nearest joint needs the largest shift in pixels
    axis = 0 if side in ("left", "right") else 1
    size = intr.width if axis == 0 else intr.height
    f = intr.fx if axis == 0 else intr.fy
    margin = 0.1 * size
    du = -(uv[:, axis].max() + margin) if side in ("left", "top") else size - uv[:, axis].min() + margin
    shift = du * z / f
    s = np.arange(n) / n
    ramp = 1.0 - (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)
    X[:n, :, axis] += (ramp * shift)[:, None]
    UV = intr.project(X[:n])
    inside = (UV[..., 0] >= 0) & (UV[..., 0] < intr.width) & (UV[..., 1] >= 0) & (UV[..., 1] < intr.height)
    return X, [int(t) for t in np.flatnonzero(~inside.any(axis=1))]


@dataclass
class Sequence:
    """A sequence in memory: frames, ground truth and camera.

    ``frames`` is an array ``(T, H, W, 3)`` uint8 RGB / ``(T, H, W)`` uint16
    depth, or any indexable of such frames (e.g. :class:`LazyFrames`), or None
    for pose-only sequences.
    """

    skeleton: Skeleton
    modality: str
    fps: float
    intrinsics: Intrinsics
    joints_cam: np.ndarray
    frames: object = None
    timestamps: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}; choose one of {MODALITIES}")
        self.joints_cam = np.asarray(self.joints_cam, dtype=np.float64)
        T = len(self.joints_cam)
        if self.joints_cam.shape != (T, self.skeleton.K, 3):
            raise ValueError(f"joints_cam must be (T, {self.skeleton.K}, 3), got {self.joints_cam.shape}")
        if self.frames is not None and len(self.frames) != T:
            raise ValueError(f"{len(self.frames)} frames but {T} poses")
        if self.timestamps is None:
            self.timestamps = np.arange(T, dtype=np.float64) / self.fps
        self.timestamps = np.asarray(self.timestamps, dtype=np.float64)
        if self.timestamps.shape != (T,):
            raise ValueError(f"timestamps must be ({T},), got {self.timestamps.shape}")

    def __len__(self) -> int:
        return len(self.joints_cam)

    @property
    def joints_uv(self) -> np.ndarray:
        return self.intrinsics.project(self.joints_cam)

    @property
    def joints_2p5d(self) -> np.ndarray:
        return cam_to_2p5d(self.joints_cam, self.intrinsics, self.skeleton.root)

    @property
    def root_depth(self) -> np.ndarray:
        return self.joints_cam[:, self.skeleton.root, 2]

    def subsample(self, step: int, offset: int = 0) -> "Sequence":
        """Every ``step``-th frame from ``offset``: fps divides by ``step``."""
        if step < 1 or offset < 0:
            raise ValueError(f"step must be >= 1 and offset >= 0, got step={step}, offset={offset}")
        idx = np.arange(offset, len(self), step)
        frames = None
        if self.frames is not None:
            frames = self.frames[idx] if isinstance(self.frames, np.ndarray) else IndexedFrames(self.frames, idx)
        info = dict(self.info, subsample_step=step * self.info.get("subsample_step", 1))
        if "hidden" in info:           # frame indices (subject out of view) renumbered to the kept frames
            hidden = set(info["hidden"])
            info["hidden"] = [k for k, i in enumerate(idx.tolist()) if i in hidden]
        return Sequence(self.skeleton, self.modality, self.fps / step, self.intrinsics,
                        self.joints_cam[idx], frames, self.timestamps[idx], info)

    def at_fps(self, fps: float) -> "Sequence":
        """Subsample to the nearest integer step below the native rate
        (50 fps -> 25: step 2; -> 8: step 6 (8.33 fps); -> 2.5: step 20)."""
        step = max(1, int(round(self.fps / fps)))
        return self.subsample(step)


class FrameList(ABC):
    """Frames read on access: ``len``, integer indexing (negative too), slices and index
    arrays (lazy views), iteration, and ``np.asarray`` (reads all).  Subclasses
    implement :meth:`load`."""

    def __init__(self, n: int):
        self.n = int(n)

    @abstractmethod
    def load(self, i: int) -> np.ndarray:
        """Read frame ``i`` (0 <= i < n)."""

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            i = int(i)
            if i < 0:
                i += self.n
            if not 0 <= i < self.n:
                raise IndexError(f"frame {i} outside 0..{self.n - 1}")
            return self.load(i)
        return IndexedFrames(self, np.arange(self.n)[i])

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        a = np.stack([self[i] for i in range(len(self))])
        return a if dtype is None else a.astype(dtype)


class IndexedFrames(FrameList):
    """A lazy view ``base[idx[i]]`` of any indexable of frames."""

    def __init__(self, base, idx):
        super().__init__(len(idx))
        self.base, self.idx = base, np.asarray(idx)

    def load(self, i: int) -> np.ndarray:
        return self.base[int(self.idx[i])]

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            return super().__getitem__(i)
        return IndexedFrames(self.base, self.idx[i])


class LazyFrames(FrameList):
    """Frames of a sequence directory, read from PNG on access."""

    def __init__(self, root: Path, n: int, modality: str):
        super().__init__(n)
        self.root, self.modality = Path(root), modality

    def load(self, i: int) -> np.ndarray:
        return read_frame_png(self.root / FRAME_PATTERN.format(i), self.modality)


class SequenceWriter:
    """Writes a sequence directory frame by frame; a context manager.

    >>> with SequenceWriter(path, BODY17, "rgb", fps=50, intrinsics=K) as w:
    ...     for frame, joints in ...:
    ...         w.write(frame, joints)
    """

    def __init__(self, path, skeleton: Skeleton, modality: str, fps: float, intrinsics: Intrinsics,
                 info: dict | None = None, overwrite: bool = False, flush_every: int = 100):
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
        self.path = Path(path)
        if (self.path / "meta.json").exists() and not overwrite:
            raise FileExistsError(f"{self.path} already holds a sequence; pass overwrite=True to replace it")
        (self.path / "frames").mkdir(parents=True, exist_ok=True)
        if overwrite:
            for old in (self.path / "frames").glob("*.png"):
                old.unlink()
        self.skeleton, self.modality, self.fps, self.intrinsics = skeleton, modality, float(fps), intrinsics
        self.info = dict(info or {})
        self.flush_every = flush_every
        self._joints: list[np.ndarray] = []
        self._times: list[float] = []
        self._closed = False

    def write(self, frame: np.ndarray, joints_cam: np.ndarray, timestamp: float | None = None) -> None:
        if self._closed:
            raise RuntimeError("SequenceWriter is closed")
        joints_cam = np.asarray(joints_cam, dtype=np.float64)
        if joints_cam.shape != (self.skeleton.K, 3):
            raise ValueError(f"joints_cam must be ({self.skeleton.K}, 3), got {joints_cam.shape}")
        frame = _check_frame(frame, self.modality)
        if frame.shape[1] != self.intrinsics.width or frame.shape[0] != self.intrinsics.height:
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]} but the intrinsics say "
                             f"{self.intrinsics.width}x{self.intrinsics.height}")
        i = len(self._joints)
        write_frame_png(self.path / FRAME_PATTERN.format(i), frame, self.modality)
        self._joints.append(joints_cam)
        self._times.append(i / self.fps if timestamp is None else float(timestamp))
        if self.flush_every and len(self._joints) % self.flush_every == 0:
            self.flush()

    def __len__(self) -> int:
        return len(self._joints)

    def flush(self) -> None:
        """Rewrite ground truth and metadata for the frames written so far (atomically)."""
        T = len(self._joints)
        J = np.stack(self._joints) if T else np.zeros((0, self.skeleton.K, 3))
        uv = self.intrinsics.project(J) if T else np.zeros((0, self.skeleton.K, 2))
        tmp = self.path / "joints.tmp.npz"
        np.savez(tmp, joints_cam=J, joints_uv=uv, intrinsics=self.intrinsics.as_array(),
                 timestamps=np.asarray(self._times, dtype=np.float64))
        os.replace(tmp, self.path / "joints.npz")
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "skeleton": self.skeleton.name,
            "modality": self.modality,
            "fps": self.fps,
            "num_frames": T,
            "image_size": [self.intrinsics.width, self.intrinsics.height],
            "frame_pattern": FRAME_PATTERN,
            "depth_unit": "mm" if self.modality == "depth" else None,
            "info": self.info,
        }
        tmpm = self.path / "meta.tmp.json"
        tmpm.write_text(json.dumps(meta, indent=2, default=_json_default))
        os.replace(tmpm, self.path / "meta.json")

    def close(self) -> None:
        if not self._closed:
            self.flush()
            self._closed = True

    def __enter__(self) -> "SequenceWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


def save_sequence(seq: Sequence, path, overwrite: bool = False, progress: bool = False) -> Path:
    """Write a whole :class:`Sequence` (which must have frames) to ``path``."""
    if seq.frames is None:
        raise ValueError("this sequence has no frames to save")
    frames = seq.frames
    it = range(len(seq))
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc=f"writing {Path(path).name}", unit="frame")
    with SequenceWriter(path, seq.skeleton, seq.modality, seq.fps, seq.intrinsics, seq.info,
                        overwrite=overwrite, flush_every=0) as w:
        for i in it:
            w.write(frames[i], seq.joints_cam[i], seq.timestamps[i])
    return Path(path)


def load_sequence(path, lazy: bool = True) -> Sequence:
    """Read a sequence directory; frames are read on access when ``lazy``."""
    path = Path(path)
    if not path.is_dir():
        raise SequenceFormatError(f"{path} is not a directory (expected a sequence folder with meta.json)")
    meta_path = path / "meta.json"
    if not meta_path.exists():
        raise SequenceFormatError(f"{path} has no meta.json; is it a trt_tracker sequence? "
                                  "Write one with `trt-tracker synth`.")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise SequenceFormatError(f"{meta_path} is not valid JSON: {e}") from None
    if meta.get("format") != FORMAT:
        raise SequenceFormatError(f"{meta_path}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise SequenceFormatError(f"{meta_path}: version {meta.get('version')} is not supported (this reader: {VERSION})")
    try:
        with np.load(path / "joints.npz") as z:
            J, intr, ts = z["joints_cam"], z["intrinsics"], z["timestamps"]
    except (OSError, KeyError, ValueError) as e:
        raise SequenceFormatError(f"{path / 'joints.npz'} is missing or incomplete: {e}") from None
    T = int(meta["num_frames"])
    if len(J) != T:
        raise SequenceFormatError(f"{path}: meta.json says {T} frames but joints.npz has {len(J)}")
    modality = meta["modality"]
    missing = [i for i in (0, T - 1) if T and not (path / FRAME_PATTERN.format(i)).exists()]
    if missing:
        raise SequenceFormatError(f"{path}: frame file(s) {missing} are missing")
    frames = LazyFrames(path, T, modality)
    if not lazy:
        frames = np.asarray(frames) if T else None
    return Sequence(get_skeleton(meta["skeleton"]), modality, float(meta["fps"]),
                    Intrinsics.from_array(intr), J, frames, ts, dict(meta.get("info", {})))
