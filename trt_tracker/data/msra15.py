"""Reader (and writer, for tests and conversions) of MSRA Hand 2015's own files.

Layout (Sun et al., "Cascaded Hand Pose Regression", CVPR 2015; the
dataset's readme)::

    <root>/P0 .. P8/<gesture>/joint.txt
    <root>/P0 .. P8/<gesture>/000000_depth.bin, 000001_depth.bin, ...

gestures ``1 2 3 4 5 6 7 8 9 I IP L MP RP T TIP Y`` (~500 frames each).

* ``joint.txt``: first line the frame count N, then N lines of 63 floats,
  ``x y z`` of 21 joints, in millimetres.
* ``NNNNNN_depth.bin``: six int32 ``width height left top right bottom``
  (the hand box, ``[left, right) x [top, bottom)`` in 0-based pixels), then
  ``(bottom - top) * (right - left)`` float32 depths (mm) of the box only,
  row-major; the rest of the 320x240 image is empty (0).
* Camera: 320x240, principal point (160, 120), focal length 241.42.

What public loaders do, and what this module follows (checked against the
code of mks0601/V2V-PoseNet_RELEASE ``src/data/MSRA/data.lua``,
dragonbook/V2V-PoseNet-pytorch ``datasets/msra_hand.py`` and
moberweger/deep-prior-pp ``src/data/importers.py`` (``MSRA15Importer``)):

* **z is stored negative**: all three negate it on reading
  (``jointWorld[..][3] = -splitted[..]``, ``joints_world[.., 2] = -float(..)``,
  ``gt3Dorig[:, 2] *= -1``).
* **y is stored pointing up**: their projections are
  ``u = fx * x / z + 160`` and ``v = 120 - fy * y / z`` (with z already
  negated); DeepPrior++ writes the intrinsic matrix with ``-fy``.
* Hence our camera space (x right, y down, z forward) is
  ``(x, -y, -z)`` of the stored numbers: :func:`msra15_to_camera`.
* **Joint order** (V2V-PoseNet's comment, the same in the readme):
  wrist; index mcp, pip, dip, tip; middle; ring; little; thumb.  That is
  HAND21's order, so :data:`MSRA15_TO_HAND21` is the identity.
* **Header ints**: V2V-PoseNet-pytorch unpacks them unsigned, DeepPrior++
  signed; they are small positive numbers either way (read here as
  little-endian int32).  Box ends are exclusive: every loader places the
  crop at ``[top:bottom, left:right]`` (0-based) and reads
  ``(right-left)*(bottom-top)`` floats.
* Pixel centres: V2V (Lua) uses 0-based integer pixel coordinates with the
  principal point 160/120, which is our convention (camera.py); DeepPrior++'s
  point-cloud helper adds 0.5 — a half-pixel ambiguity this reader does not
  try to resolve.

The frame rate is not documented (the Creative Interactive Gesture Camera
streams at up to 30 fps); sequences are loaded with ``fps=30`` unless told.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from ..camera import Intrinsics
from ..skeleton import HAND21
from .sequence import FrameList, Sequence

#: MSRA15's camera (the readme): 320x240, principal point (160, 120), focal 241.42.
MSRA15_INTRINSICS = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
MSRA15_SUBJECTS = tuple(f"P{i}" for i in range(9))
MSRA15_GESTURES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP", "RP", "T", "TIP", "Y")
#: ``hand21 = msra[..., MSRA15_TO_HAND21, :]``: the orders are the same (see the module docstring).
MSRA15_TO_HAND21 = np.arange(21)
#: Stored (x, y, z) times this gives our camera space (x right, y down, z forward).
MSRA15_AXIS_SIGNS = np.array([1.0, -1.0, -1.0])
DEPTH_FILE_PATTERN = "{:06d}_depth.bin"
JOINT_FILE = "joint.txt"
_HEADER = struct.Struct("<6i")
_MAX_SIDE = 1 << 15


class MSRA15FormatError(ValueError):
    """An MSRA15 file is missing, truncated or not in the documented layout."""


# ------------------------------------------------------------------ axes
def msra15_to_camera(joints_msra: np.ndarray) -> np.ndarray:
    """Stored MSRA15 joints (..., 21, 3) -> camera space (x right, y down, z forward), HAND21 order."""
    J = np.asarray(joints_msra, dtype=np.float64)
    return (J * MSRA15_AXIS_SIGNS)[..., MSRA15_TO_HAND21, :]


def camera_to_msra15(joints_cam: np.ndarray) -> np.ndarray:
    """Inverse of :func:`msra15_to_camera`."""
    J = np.asarray(joints_cam, dtype=np.float64)
    out = np.empty_like(J)
    out[..., MSRA15_TO_HAND21, :] = J
    return out * MSRA15_AXIS_SIGNS


# ----------------------------------------------------------------- depth
def read_depth_bin(path, dtype=np.float32):
    """Read one ``NNNNNN_depth.bin``.

    Returns ``(depth, box)``: the full image (height, width) of the header
    (240x320 in the dataset) with the stored box in place and 0 elsewhere,
    as float32 mm (``dtype=np.uint16``: rounded to whole mm), and
    ``box = (left, top, right, bottom)`` (exclusive ends).
    """
    path = Path(path)
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.uint16)):
        raise ValueError(f"dtype must be float32, float64 or uint16, got {dtype}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"MSRA15 depth file {path} does not exist") from None
    if len(data) < _HEADER.size:
        raise MSRA15FormatError(f"{path}: {len(data)} bytes is shorter than the 24-byte header "
                                "(six int32: width height left top right bottom)")
    width, height, left, top, right, bottom = _HEADER.unpack_from(data)
    if not (0 < width <= _MAX_SIDE and 0 < height <= _MAX_SIDE):
        raise MSRA15FormatError(f"{path}: header says image size {width}x{height}; not an MSRA15 depth file?")
    if not (0 <= left <= right <= width and 0 <= top <= bottom <= height):
        raise MSRA15FormatError(f"{path}: hand box left={left} top={top} right={right} bottom={bottom} "
                                f"does not fit the {width}x{height} image")
    n = (right - left) * (bottom - top)
    expected = _HEADER.size + 4 * n
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise MSRA15FormatError(f"{path}: {what}: {len(data)} bytes, expected {expected} "
                                f"(24-byte header + {bottom - top}x{right - left} float32 box)")
    crop = np.frombuffer(data, dtype="<f4", count=n, offset=_HEADER.size).reshape(bottom - top, right - left)
    if dtype == np.uint16:
        out = np.zeros((height, width), np.uint16)
        c = np.nan_to_num(crop.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        out[top:bottom, left:right] = np.clip(np.rint(c), 0, 65535).astype(np.uint16)
    else:
        out = np.zeros((height, width), dtype)
        out[top:bottom, left:right] = crop
    return out, (left, top, right, bottom)


def write_depth_bin(path, depth: np.ndarray, box=None) -> tuple:
    """Write a full depth image (H, W) mm in MSRA15's layout, storing only ``box``.

    ``box = (left, top, right, bottom)`` (exclusive ends); by default the
    bounding box of the non-zero pixels (an empty image stores an empty box).
    Returns the box written.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be a 2-D image (H, W), got shape {depth.shape}")
    H, W = depth.shape
    if box is None:
        ys, xs = np.nonzero(depth)
        box = (0, 0, 0, 0) if len(xs) == 0 else (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    left, top, right, bottom = (int(v) for v in box)
    if not (0 <= left <= right <= W and 0 <= top <= bottom <= H):
        raise ValueError(f"box {box} does not fit a {W}x{H} image")
    crop = np.ascontiguousarray(depth[top:bottom, left:right], dtype="<f4")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(_HEADER.pack(W, H, left, top, right, bottom))
        f.write(crop.tobytes())
    os.replace(tmp, path)
    return (left, top, right, bottom)


# ---------------------------------------------------------------- joints
def read_joints(path, camera: bool = True) -> np.ndarray:
    """Read a ``joint.txt``: (N, 21, 3) float64 mm.

    ``camera=True`` (default): our camera space and HAND21 order
    (:func:`msra15_to_camera`); ``False``: the numbers as stored.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"MSRA15 joint file {path} does not exist "
                                "(expected <root>/P<k>/<gesture>/joint.txt)") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise MSRA15FormatError(f"{path}: empty; the first line must be the frame count")
    try:
        n = int(lines[0].split()[0])
    except ValueError:
        raise MSRA15FormatError(f"{path}: line 1 must be the frame count, got {lines[0][:60]!r}") from None
    if n < 0:
        raise MSRA15FormatError(f"{path}: negative frame count {n}")
    body = lines[1:]
    while body and not body[-1].strip():
        body.pop()
    if len(body) != n:
        raise MSRA15FormatError(f"{path}: line 1 says {n} frames but {len(body)} joint lines follow")
    out = np.empty((n, 21 * 3), dtype=np.float64)
    for i, line in enumerate(body):
        parts = line.split()
        if len(parts) != 63:
            raise MSRA15FormatError(f"{path}: line {i + 2} has {len(parts)} numbers, expected 63 (21 joints x 3)")
        try:
            out[i] = [float(p) for p in parts]
        except ValueError as e:
            raise MSRA15FormatError(f"{path}: line {i + 2}: {e}") from None
    J = out.reshape(n, 21, 3)
    return msra15_to_camera(J) if camera else J


def write_joints(path, joints_cam: np.ndarray) -> None:
    """Write camera-space HAND21 joints (N, 21, 3) mm as an MSRA15 ``joint.txt`` (stored axes)."""
    J = np.asarray(joints_cam, dtype=np.float64)
    if J.ndim != 3 or J.shape[1:] != (21, 3):
        raise ValueError(f"joints must be (N, 21, 3), got {J.shape}")
    raw = camera_to_msra15(J).reshape(len(J), 63)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(f"{len(J)}\n")
        for row in raw:
            f.write(" ".join(f"{v:.6f}" for v in row) + "\n")
    os.replace(tmp, path)


# -------------------------------------------------------------- sequences
def _subject_name(subject) -> str:
    if isinstance(subject, (int, np.integer)) and not isinstance(subject, bool):
        subject = f"P{int(subject)}"
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"subject must be an int k or a name like 'P{{k}}', got {subject!r}")
    return subject


def _gesture_name(gesture) -> str:
    g = str(gesture)
    if not g or "/" in g or "\\" in g or g in (".", ".."):
        raise ValueError(f"bad gesture folder name {gesture!r}")
    return g


class MSRA15Frames(FrameList):
    """Depth frames of one MSRA15 gesture folder, read on access as (240, 320) uint16 mm."""

    def __init__(self, folder, n: int, dtype=np.uint16):
        super().__init__(n)
        self.folder, self.dtype = Path(folder), dtype

    def path(self, i: int) -> Path:
        return self.folder / DEPTH_FILE_PATTERN.format(i)

    def load(self, i: int) -> np.ndarray:
        return read_depth_bin(self.path(i), self.dtype)[0]


def load_msra15_sequence(root, subject, gesture, fps: float = 30.0, check_files: bool = True) -> Sequence:
    """One subject's gesture as a :class:`Sequence` (modality ``depth``, HAND21, MSRA15 intrinsics).

    Joints are converted to our camera space; frames are read lazily as
    uint16 mm (the stored float depth rounded).  With ``check_files`` every
    ``NNNNNN_depth.bin`` must exist (its header is read when accessed).
    """
    subject = _subject_name(subject)
    gesture = _gesture_name(gesture)
    folder = Path(root) / subject / gesture
    if not folder.is_dir():
        raise FileNotFoundError(f"MSRA15 folder {folder} does not exist (expected <root>/{subject}/{gesture}/)")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    J = read_joints(folder / JOINT_FILE)
    frames = MSRA15Frames(folder, len(J))
    if check_files:
        missing = [frames.path(i).name for i in range(len(J)) if not frames.path(i).is_file()]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise MSRA15FormatError(f"{folder}: joint.txt lists {len(J)} frames but depth file(s) "
                                    f"{', '.join(missing[:5])}{more} are missing")
    info = {"dataset": "MSRA15", "subject": subject, "gesture": gesture, "source": str(folder),
            "fps_assumed": True}
    return Sequence(HAND21, "depth", float(fps), MSRA15_INTRINSICS, J, frames, None, info)


class MSRA15Subject:
    """One subject folder ``<root>/P<k>``: its gestures and their sequences.

    >>> s = MSRA15Subject(root, 3)
    >>> s.gestures            # folders present, in MSRA15's order
    >>> seq = s["TIP"]        # == load_msra15_sequence(root, "P3", "TIP")
    """

    def __init__(self, root, subject, fps: float = 30.0):
        self.root = Path(root)
        self.name = _subject_name(subject)
        self.fps = fps
        self.path = self.root / self.name
        if not self.path.is_dir():
            raise FileNotFoundError(f"MSRA15 subject folder {self.path} does not exist")

    @property
    def gestures(self) -> list[str]:
        present = [p.name for p in self.path.iterdir() if (p / JOINT_FILE).is_file()]
        order = {g: i for i, g in enumerate(MSRA15_GESTURES)}
        return sorted(present, key=lambda g: (order.get(g, len(order)), g))

    def __len__(self) -> int:
        return len(self.gestures)

    def __iter__(self):
        return (self[g] for g in self.gestures)

    def __getitem__(self, gesture) -> Sequence:
        return load_msra15_sequence(self.root, self.name, gesture, fps=self.fps)

    def num_frames(self) -> dict:
        """Frame count per gesture (from the first line of each joint.txt)."""
        out = {}
        for g in self.gestures:
            with open(self.path / g / JOINT_FILE) as f:
                out[g] = int(f.readline().split()[0])
        return out


def write_msra15_sequence(root, subject, gesture, frames, joints_cam, boxes=None, overwrite: bool = False) -> Path:
    """Write frames (T, H, W) mm and camera-space HAND21 joints (T, 21, 3) in MSRA15's exact layout.

    Creates ``<root>/<subject>/<gesture>/joint.txt`` and
    ``000000_depth.bin ...``; ``boxes`` (T, 4) ``left top right bottom``
    per frame, default the bounding box of each frame's non-zero pixels.
    Returns the gesture folder.
    """
    subject = _subject_name(subject)
    gesture = _gesture_name(gesture)
    J = np.asarray(joints_cam, dtype=np.float64)
    if J.ndim != 3 or J.shape[1:] != (21, 3):
        raise ValueError(f"joints_cam must be (T, 21, 3), got {J.shape}")
    if len(frames) != len(J):
        raise ValueError(f"{len(frames)} frames but {len(J)} poses")
    if boxes is not None and len(boxes) != len(J):
        raise ValueError(f"{len(boxes)} boxes but {len(J)} frames")
    folder = Path(root) / subject / gesture
    if (folder / JOINT_FILE).exists() and not overwrite:
        raise FileExistsError(f"{folder} already holds a sequence; pass overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for old in folder.glob("*_depth.bin"):
            old.unlink()
    for i in range(len(J)):
        write_depth_bin(folder / DEPTH_FILE_PATTERN.format(i), frames[i], None if boxes is None else boxes[i])
    write_joints(folder / JOINT_FILE, J)
    return folder
