"""What flows through the pipeline: :class:`Frame` in, and the source/sink interfaces (DESIGN §4, §5).

A :class:`FrameSource` is an iterator of frames with ``close()`` and a context
manager.  Images are full frames: ``(H, W, 3)`` uint8 RGB, or ``(H, W)``
uint16 depth in millimetres (sources convert device depth units to mm).
``t_capture`` is ``time.monotonic()`` when the frame was captured (or read), so
stage latencies can be measured from it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..camera import Intrinsics

MODALITIES = ("rgb", "depth")


class SourceError(RuntimeError):
    """A source cannot be opened or read (missing camera, unreadable file, bad frames)."""


class SourceDisconnected(SourceError):
    """A live source stopped delivering frames (unplugged camera, dropped stream)."""


@dataclass
class Frame:
    """One captured frame.

    index : processed-frame counter of the source (0, 1, 2, ...)
    t_capture : ``time.monotonic()`` seconds at capture
    image : (H, W, 3) uint8 RGB or (H, W) uint16 depth mm
    modality : "rgb" or "depth"
    intrinsics : the camera of ``image`` (None when unknown, e.g. a plain video)
    timestamp : the source's own time in seconds (video position, device clock, sequence time)
    gt_joints_cam : (K, 3) ground-truth camera-space joints in mm, when the source has them
    color : (H, W, 3) uint8 RGB aligned to a depth image (RealSense), for display only
    """

    index: int
    t_capture: float
    image: np.ndarray
    modality: str
    intrinsics: Intrinsics | None = None
    timestamp: float | None = None
    gt_joints_cam: np.ndarray | None = None
    color: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_image(self.image, self.modality)


def check_image(image: np.ndarray, modality: str) -> np.ndarray:
    """Raise :class:`SourceError` with a useful message unless ``image`` fits ``modality``."""
    if modality not in MODALITIES:
        raise SourceError(f"unknown modality {modality!r}; choose one of {MODALITIES}")
    if not isinstance(image, np.ndarray):
        raise SourceError(f"a frame must be a NumPy array, got {type(image).__name__}")
    if modality == "rgb":
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SourceError(f"an RGB frame must be (H, W, 3) uint8, got {image.shape} {image.dtype}; "
                              "convert grey or RGBA images to 3-channel 8-bit RGB")
    elif image.ndim != 2 or image.dtype != np.uint16:
        raise SourceError(f"a depth frame must be (H, W) uint16 millimetres, got {image.shape} {image.dtype}")
    if image.shape[0] < 16 or image.shape[1] < 16:
        raise SourceError(f"frame of {image.shape[1]}x{image.shape[0]} pixels is too small to track in")
    return image


class FrameSource(ABC):
    """An iterator of :class:`Frame`.

    ``live`` sources (cameras) drop frames when the consumer is slow; file
    sources are read losslessly.  ``fps`` is the nominal rate (None if unknown).
    """

    modality: str = "rgb"
    live: bool = False
    fps: float | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice and from another thread."""

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} has no known length")

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Sink(ABC):
    """Consumes tracking results; ``close()`` flushes and leaves a valid file."""

    @abstractmethod
    def write(self, result) -> None:
        ...

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
