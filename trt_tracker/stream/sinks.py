"""Sinks: JSON Lines, annotated video, an on-screen window (DESIGN §4).

Each writes as results come and leaves a valid file when closed, including
after Ctrl-C or a dropped camera (the pipeline closes sinks in ``finally``).
"""
from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path

import numpy as np
import orjson

from .frame import Sink

TRACKED_BGR = (60, 200, 255)     # amber: tracked pose
SINGLE_BGR = (200, 120, 60)      # blue: single-frame pose


def _r(a, nd=2, lists: bool = True):
    if a is None:
        return None
    a = np.round(np.asarray(a, np.float64), nd)
    return a.tolist() if lists else a


def _poses(*arrays, lists: bool = True) -> list:
    """:func:`_r` of several poses, rounded in one pass when all are there and alike (the common case)."""
    if any(a is None for a in arrays) or len({np.shape(a) for a in arrays}) != 1:
        return [_r(a, lists=lists) for a in arrays]
    a = np.round(np.array(arrays, np.float64), 2)
    return a.tolist() if lists else list(a)


def result_record(res, lists: bool = True) -> dict:
    """The JSON Lines record of one :class:`~trt_tracker.stream.tracker.TrackResult`.

    ``lists=False`` leaves the rounded arrays as NumPy arrays, for orjson's ``OPT_SERIALIZE_NUMPY``: the
    same JSON without a Python float per number (:class:`JsonlSink`; tested equal)."""
    j, jc, s, sc = _poses(res.joints_2p5d, res.joints_cam, res.single_2p5d, res.single_cam, lists=lists)
    rec = {
        "index": int(res.index), "t_capture": round(float(res.t_capture), 6),
        "timestamp": None if res.timestamp is None else round(float(res.timestamp), 6),
        "status": res.status,
        "joints_2p5d": j, "joints_cam_mm": jc, "single_2p5d": s, "single_cam_mm": sc,
        "root_depth_mm": None if res.root_depth is None else round(float(res.root_depth), 2),
        "root_depth_source": res.root_depth_source,
        "confidence": _r(res.confidence, 3, lists),
        "track_confidence": None if res.track_confidence is None else round(float(res.track_confidence), 4),
        "box": None if res.box is None else [round(float(x), 2) for x in res.box], "durations": list(res.durations),
        "latency_ms": {k: round(float(v), 3) for k, v in res.latency_ms.items()},
    }
    if res.message:
        rec["message"] = res.message
    return rec


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE


class JsonlSink(Sink):
    """One JSON object per frame (see :func:`result_record`), flushed per line.

    Lines are encoded with orjson (UTF-8 bytes straight to the file): the
    sink sits on the camera-to-result path, where ``json.dumps`` costs about
    three times as much per record.  ``json.loads`` reads them back equal.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "wb")
        self.count = 0

    def write(self, result) -> None:
        self.f.write(orjson.dumps(result_record(result, lists=False), option=_ORJSON_OPTIONS))
        self.f.flush()                     # a whole line per frame reaches the file: valid after a kill
        self.count += 1

    def close(self) -> None:
        if not self.f.closed:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()


def read_jsonl(path) -> list[dict]:
    """Records of a JSON Lines file; a truncated last line (a killed writer) is ignored."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                break
    return out


# ------------------------------------------------------------------ drawing
def depth_to_bgr(depth: np.ndarray) -> np.ndarray:
    """uint16 mm -> a colour image (near = warm), holes black."""
    import cv2

    valid = depth > 0
    out = np.zeros(depth.shape + (3,), np.uint8)
    if valid.any():
        lo, hi = np.percentile(depth[valid], [1, 99])
        d = np.clip((depth.astype(np.float32) - lo) / max(hi - lo, 1.0), 0, 1)
        out = cv2.applyColorMap(((1 - d) * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
        out[~valid] = 0
    return out


def draw_skeleton(img: np.ndarray, P: np.ndarray, parents, color, thickness: int = 2) -> None:
    import cv2

    P = np.asarray(P)
    for k, p in enumerate(parents):
        if p >= 0 and np.all(np.isfinite(P[[k, p], :2])):
            a = tuple(int(round(x)) for x in P[p, :2])
            b = tuple(int(round(x)) for x in P[k, :2])
            cv2.line(img, a, b, color, thickness, cv2.LINE_AA)
    for k in range(len(P)):
        if np.all(np.isfinite(P[k, :2])):
            cv2.circle(img, tuple(int(round(x)) for x in P[k, :2]), thickness + 1, color, -1, cv2.LINE_AA)


class Annotator:
    """Draws a result: single-frame pose (thin, blue), tracked pose (amber), box, fps and latency.

    Frames narrower than :attr:`MIN_WIDTH` (after ``scale``) are drawn larger, by the whole factor the
    first frame needs, so the status lines stay legible (a 176 x 144 video is drawn at 352 x 288).
    """

    MIN_WIDTH = 320

    def __init__(self, parents, scale: int = 1):
        self.parents = list(parents)
        self.scale = max(1, int(scale))
        self._sized = False
        self._t = deque(maxlen=30)

    def __call__(self, res) -> np.ndarray:
        import cv2

        f = res.frame
        if f is None:
            raise ValueError("the result carries no frame to draw on")
        if f.modality == "depth":
            img = cv2.cvtColor(f.color, cv2.COLOR_RGB2BGR) if f.color is not None else depth_to_bgr(f.image)
        else:
            img = cv2.cvtColor(f.image, cv2.COLOR_RGB2BGR)
        if not self._sized:              # one size for the whole video: the writer opens on the first frame
            self.scale = max(self.scale, -(-self.MIN_WIDTH // max(1, img.shape[1])))
            self._sized = True
        s = self.scale
        if s > 1:
            img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_NEAREST)
        if res.box is not None:
            cx, cy, size = res.box
            cv2.rectangle(img, (int((cx - size / 2) * s), int((cy - size / 2) * s)),
                          (int((cx + size / 2) * s), int((cy + size / 2) * s)), (90, 90, 90), 1)
        if res.single_2p5d is not None:
            draw_skeleton(img, (res.single_2p5d[:, :2] + 0.5) * s - 0.5, self.parents, SINGLE_BGR, 1)
        if res.joints_2p5d is not None:
            draw_skeleton(img, (res.joints_2p5d[:, :2] + 0.5) * s - 0.5, self.parents, TRACKED_BGR, 2)
        self._t.append(res.t_capture)
        fps = (len(self._t) - 1) / (self._t[-1] - self._t[0]) if len(self._t) > 1 and self._t[-1] > self._t[0] else 0
        lat = res.latency_ms.get("total", float("nan"))
        state = res.status + (" (re-localised)" if res.message == "re-localised" else "")
        lines = [f"#{res.index} {state}  {fps:5.1f} fps  {lat:5.1f} ms",
                 "tracked (amber) vs single-frame (blue)"]
        for i, text in enumerate(lines):
            y = 14 + 14 * i
            cv2.putText(img, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(img, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        return img


class VideoSink(Sink):
    """Annotated video (mp4v in .mp4, MJPG in .avi); the writer opens on the first frame's size."""

    def __init__(self, path, fps: float, parents, scale: int = 1):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = float(fps or 25.0)
        self.annotate = Annotator(parents, scale)
        self.writer = None
        self.count = 0

    def write(self, result) -> None:
        import cv2

        img = self.annotate(result)
        if self.writer is None:
            fourcc = cv2.VideoWriter_fourcc(*("MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (img.shape[1], img.shape[0]))
            if not self.writer.isOpened():
                raise OSError(f"cannot write video {self.path} (no encoder for {self.path.suffix}; try .avi)")
            self.size = img.shape[:2]
        if img.shape[:2] != self.size:
            img = cv2.resize(img, (self.size[1], self.size[0]))
        self.writer.write(img)
        self.count += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def display_available() -> tuple[bool, str]:
    """Whether an OpenCV window can be shown here (never raises)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY is not set)"
    try:
        import cv2

        cv2.namedWindow("trt-tracker", cv2.WINDOW_NORMAL)
        return True, ""
    except Exception as e:  # headless OpenCV builds raise cv2.error here
        return False, f"OpenCV has no GUI support ({str(e).strip().splitlines()[-1][:120]})"


class WindowSink(Sink):
    """Shows the annotated frames; becomes a no-op (with one message) where no display exists.

    Pressing q or Esc in the window sets ``quit_requested``.
    """

    def __init__(self, parents, scale: int = 2, log=print):
        self.ok, why = display_available()
        if not self.ok:
            log(f"[window] not shown: {why}")
        self.annotate = Annotator(parents, scale)
        self.quit_requested = False
        self._last = 0.0

    def write(self, result) -> None:
        if not self.ok:
            return
        import cv2

        try:
            cv2.imshow("trt-tracker", self.annotate(result))
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                self.quit_requested = True
        except Exception:
            self.ok = False

    def close(self) -> None:
        if self.ok:
            try:
                import cv2

                cv2.destroyWindow("trt-tracker")
            except Exception:
                pass
