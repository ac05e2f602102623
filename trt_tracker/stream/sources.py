"""Frame sources: webcam, video file, image folder, sequence folder, synthetic generator (RealSense: realsense.py).

Each is a :class:`~trt_tracker.stream.frame.FrameSource`.  Files are read
losslessly (``live=False``); cameras are ``live`` and the capture thread drops
the oldest frame when the tracker falls behind.  :func:`open_source` turns a
``--source`` string into a source.
"""
from __future__ import annotations

import time
from abc import abstractmethod
from pathlib import Path
from typing import Iterator

import numpy as np

from ..camera import Intrinsics
from .frame import Frame, FrameSource, SourceDisconnected, SourceError
from .realsense import RECORDING_SUFFIXES

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: Field of view assumed for a camera whose intrinsics are not given (a typical webcam).
DEFAULT_HFOV_DEG = 60.0


def default_intrinsics(width: int, height: int) -> Intrinsics:
    return Intrinsics.from_fov(width, height, DEFAULT_HFOV_DEG)


def _bgr_to_rgb(img: np.ndarray) -> np.ndarray:
    import cv2

    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class _OpenCVCapture(FrameSource):
    """Iteration and release for a ``cv2.VideoCapture`` read by the capture thread.

    Releasing a capture that another thread is reading can crash OpenCV, so
    ``close()`` only sets a flag while a read is in progress and the reader
    releases the capture when it sees it (within one frame).
    """

    cap = None
    _closed = False
    _reading = False

    @abstractmethod
    def _frames(self) -> Iterator[Frame]:
        """The frames, read from ``self.cap`` until it ends or ``self._closed`` is set."""

    def __iter__(self) -> Iterator[Frame]:
        self._reading = True
        try:
            yield from self._frames()
        finally:
            self._reading = False
            self.cap.release()

    def close(self) -> None:
        self._closed = True
        if not self._reading:
            self.cap.release()


class CameraSource(_OpenCVCapture):
    """A webcam through OpenCV (``index`` as in ``cv2.VideoCapture(index)``)."""

    live = True

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None, fps: float | None = None,
                 intrinsics: Intrinsics | None = None, read_timeout_s: float = 2.0):
        import cv2

        self.cap = cv2.VideoCapture(int(index))
        if not self.cap.isOpened():
            self.cap.release()
            raise SourceError(f"no camera at index {index}: none is connected, it is in use, or this user may not "
                              "open it (check /dev/video*); pass another --source")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or fps
        self.index_ = index
        self.intrinsics = intrinsics
        self.read_timeout_s = read_timeout_s

    def _frames(self) -> Iterator[Frame]:
        i = 0
        t_fail = None
        while not self._closed:
            ok, img = self.cap.read()
            if not ok or img is None:
                t_fail = t_fail or time.monotonic()
                if time.monotonic() - t_fail > self.read_timeout_s:
                    raise SourceDisconnected(f"camera {self.index_} stopped delivering frames (unplugged?)")
                time.sleep(0.01)
                continue
            t_fail = None
            t = time.monotonic()
            rgb = _bgr_to_rgb(img)
            if self.intrinsics is None:
                self.intrinsics = default_intrinsics(rgb.shape[1], rgb.shape[0])
            yield Frame(i, t, rgb, "rgb", self.intrinsics, t)
            i += 1


class VideoSource(_OpenCVCapture):
    """A video file through OpenCV; frames are RGB, read losslessly."""

    def __init__(self, path, intrinsics: Intrinsics | None = None, gt_joints_cam: np.ndarray | None = None):
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} not found")
        self.cap = cv2.VideoCapture(str(self.path))
        ok, first = self.cap.read() if self.cap.isOpened() else (False, None)
        if not ok or first is None:
            self.cap.release()
            raise SourceError(f"cannot read video {self.path}: not a video, or a codec OpenCV lacks "
                              "(try re-encoding it to H.264 or MJPEG)")
        self._first = first
        self.fps = self.cap.get(cv2.CAP_PROP_FPS) or None
        self.n = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        h, w = first.shape[:2]
        self.intrinsics = intrinsics or default_intrinsics(w, h)
        self.intrinsics_assumed = intrinsics is None
        self.gt = gt_joints_cam

    def __len__(self) -> int:
        if self.n is None:
            raise TypeError("this video does not state its frame count")
        return self.n

    def _frames(self) -> Iterator[Frame]:
        i = 0
        img = self._first
        while img is not None and not self._closed:
            t = time.monotonic()
            gt = self.gt[i] if self.gt is not None and i < len(self.gt) else None
            ts = i / self.fps if self.fps else None
            yield Frame(i, t, _bgr_to_rgb(img), "rgb", self.intrinsics, ts, gt)
            i += 1
            ok, img = self.cap.read()
            if not ok:
                img = None

class ImageFolderSource(FrameSource):
    """A folder of images in name order: 8-bit colour -> RGB frames, 16-bit single channel -> depth (mm)."""

    def __init__(self, path, intrinsics: Intrinsics | None = None, fps: float | None = None):
        self.path = Path(path)
        self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.files:
            raise SourceError(f"{self.path} has no images ({', '.join(IMAGE_EXTENSIONS)})")
        first = self._read(self.files[0])
        self.modality = "depth" if first.dtype == np.uint16 else "rgb"
        self.intrinsics = intrinsics or default_intrinsics(first.shape[1], first.shape[0])
        self.intrinsics_assumed = intrinsics is None
        self.fps = fps

    def _read(self, f: Path) -> np.ndarray:
        import cv2

        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise SourceError(f"cannot read image {f}")
        if img.dtype == np.uint16:
            if img.ndim != 2:
                raise SourceError(f"{f}: 16-bit images must be single-channel depth in mm")
            return img
        if img.dtype != np.uint8:
            raise SourceError(f"{f}: unsupported image type {img.dtype} (8-bit colour or 16-bit depth)")
        return _bgr_to_rgb(img)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        for i, f in enumerate(self.files):
            img = self._read(f)
            mod = "depth" if img.dtype == np.uint16 else "rgb"
            if mod != self.modality or img.shape[:2] != (self.intrinsics.height, self.intrinsics.width):
                raise SourceError(f"{f}: {img.shape} {img.dtype} differs from the folder's first image; "
                                  "all frames must have one size and type")
            yield Frame(i, time.monotonic(), img, mod, self.intrinsics, i / self.fps if self.fps else None)


class SequenceSource(FrameSource):
    """A sequence in the project's format (or in memory), with ground truth and intrinsics."""

    def __init__(self, seq_or_path, loop: int = 1, realtime: bool = False):
        """``realtime``: deliver frames at the sequence's fps, like a camera (and drop when behind)."""
        from ..data.sequence import Sequence, SequenceFormatError, load_sequence

        if isinstance(seq_or_path, Sequence):
            self.seq = seq_or_path
        else:
            try:
                self.seq = load_sequence(seq_or_path)
            except SequenceFormatError as e:
                raise SourceError(str(e)) from None
        if self.seq.frames is None:
            raise SourceError("this sequence has no frames")
        self.modality = self.seq.modality
        self.intrinsics = self.seq.intrinsics
        self.fps = self.seq.fps
        self.loop = int(loop)
        self.realtime = self.live = bool(realtime)
        self._closed = False
        # frames where the subject is out of view (``info["hidden"]``): no ground truth to score them against
        self._hidden = frozenset(int(i) for i in self.seq.info.get("hidden", []))

    def __len__(self) -> int:
        return len(self.seq) * self.loop

    def __iter__(self) -> Iterator[Frame]:
        T = len(self.seq)
        t0 = time.monotonic()
        for i in range(T * self.loop):
            if self._closed:
                return
            if self.realtime:
                wait = t0 + i / self.fps - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            t = i % T
            img = np.asarray(self.seq.frames[t])
            yield Frame(i, time.monotonic(), img, self.modality, self.intrinsics,
                        float(self.seq.timestamps[t] + (i // T) * (T / self.fps)),
                        None if t in self._hidden else self.seq.joints_cam[t])

    def close(self) -> None:
        self._closed = True


#: what the synthetic generator renders: a body (RGB, BODY17) or a hand (depth, HAND21)
SYNTHETIC_KINDS = ("body", "hand")


class SyntheticSource(SequenceSource):
    """The synthetic generator, live: a body RGB or hand depth sequence rendered from a seed.

    ``fps`` sub-samples the 50 fps generator (25: every 2nd frame); ``loop``
    repeats the sequence (soak runs) with continuing frame indices.
    ``hidden``: frame indices (at ``fps``) where the subject is out of view
    (it leaves and comes back); those frames carry no ground truth.
    """

    def __init__(self, kind: str = "body", seed: int = 20_000_000, frames: int = 300, fps: float = 25.0,
                 loop: int = 1, realtime: bool = False, progress: bool = False, hidden=None):
        from ..data.body import make_body_sequence
        from ..data.hand import make_hand_sequence

        if kind not in SYNTHETIC_KINDS:
            raise SourceError(f"synthetic source kind must be one of {', '.join(SYNTHETIC_KINDS)}, got {kind!r}")
        step = max(1, int(round(50.0 / fps)))
        make = make_body_sequence if kind == "body" else make_hand_sequence
        gone = None if hidden is None else [int(i) * step for i in hidden]
        seq = make(int(seed), int(frames) * step, progress=progress, hidden=gone).subsample(step)
        super().__init__(seq, loop, realtime)


def parse_synthetic(spec: str) -> dict:
    """``synthetic:body`` / ``synthetic:hand:SEED[:FRAMES]``."""
    parts = spec.split(":")
    out = {"kind": parts[1] if len(parts) > 1 else "body"}
    try:
        if len(parts) > 2:
            out["seed"] = int(parts[2])
        if len(parts) > 3:
            out["frames"] = int(parts[3])
    except ValueError:
        raise SourceError(f"--source {spec!r}: use synthetic:body|hand[:SEED[:FRAMES]]") from None
    return out


def open_source(spec: str, intrinsics: Intrinsics | None = None, gt=None, **camera) -> FrameSource:
    """A ``--source`` string -> source: an integer (webcam), ``realsense``, a .bag/.db3 recording,
    ``synthetic:body|hand[:SEED[:FRAMES]]``, a sequence folder (meta.json), an image folder or a video."""
    s = str(spec)
    if s.isdigit():
        return CameraSource(int(s), intrinsics=intrinsics, **camera)
    if s.startswith("synthetic"):
        return SyntheticSource(**parse_synthetic(s))
    if s == "realsense" or s.startswith("realsense:"):
        from .realsense import RealSenseSource

        serial = s.split(":", 1)[1] if ":" in s else None
        return RealSenseSource(serial=serial, **camera)
    p = Path(s)
    if p.suffix.lower() in RECORDING_SUFFIXES:
        from .realsense import RealSenseSource

        return RealSenseSource(p)
    if p.is_dir():
        if (p / "meta.json").is_file():
            return SequenceSource(p)
        return ImageFolderSource(p, intrinsics)
    if p.suffix.lower() in VIDEO_EXTENSIONS or p.is_file():
        return VideoSource(p, intrinsics, gt)
    raise SourceError(f"--source {s!r}: no such file or folder, and not a camera index, 'realsense' or "
                      "'synthetic:body|hand'")
