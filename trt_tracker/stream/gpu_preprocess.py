"""GPU preprocessing: full frame -> N normalised crops, on the GPU, with CuPy.

The GPU twin of :meth:`PoseCodec.crop_input` (DESIGN §4, ``crop <- preprocess``):
one call uploads the frame once and a CUDA kernel (``kernels/preprocess.cu``)
warps, samples and normalises every crop straight into the network input:

* RGB ``(H, W, 3)`` uint8 -> ``(N, 3, S, S)`` float32, bilinear, ImageNet-normalised;
* depth ``(H, W)`` uint16 mm -> ``(N, 1, S, S)`` float32, nearest neighbour,
  ``clip((d - centre_n) / z_scale, -1, 1)``, holes -> 1;
* temporal pairs: both frames cropped with the same box into the halves of one
  ``(N, 2C, S, S)`` tensor (earlier frame in channels ``[0, C)``), no copy.

Agreement with the CPU path (the kernel's header has the derivation): with
OpenCV >= 4.11 the grey level / depth tap of a pixel is the one ``cv2.warpAffine``
gives (bit-identical with OpenCV 5.0 on x86 but for rare pixels of its scalar
tail columns; at most one grey level apart on ~1e-4 of the pixels with other
builds), and normalisation is the same IEEE float32 arithmetic as
NumPy's.  Older OpenCV (1/32-pixel fixed point) differs by up to 9 grey levels
on pixel noise.

Kernels come from ``kernels/build/preprocess.fatbin`` (``CMakeLists.txt``,
``scripts/build_kernels.sh``) or, when that file is missing, stale (built from
another source: its SHA-256 stamp differs) or has no code for this GPU, from
compiling ``kernels/preprocess.cu`` at run time with NVRTC.  ``kernels/`` is
found next to the package in a repository checkout; ``TRT_TRACKER_KERNELS``
overrides it.

Without CuPy or without a usable GPU this module still imports;
:func:`gpu_available` reports why, and :class:`GpuPreprocessor` raises
:class:`GpuUnavailable`.  Work is queued on CuPy's current stream.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..camera import CropTransform
from ..codec import RGB_MEAN, RGB_STD, PoseCodec

log = logging.getLogger(__name__)

KERNELS_ENV = "TRT_TRACKER_KERNELS"
SOURCE_NAME = "preprocess.cu"
FATBIN_NAME = "preprocess.fatbin"
STAMP_NAME = "preprocess.cu.sha256"
RGB_KERNEL = "crop_rgb_u8_nchw"
DEPTH_KERNEL = "crop_depth_u16_nchw"
BLOCK = 256
MAX_CROPS = 65535  # one grid row (blockIdx.y) per crop
CHANNELS = {"rgb": 3, "depth": 1}
SOURCES = ("auto", "compiled", "nvrtc")


class GpuUnavailable(RuntimeError):
    """CuPy is missing or cannot reach a CUDA device."""


class KernelLoadError(RuntimeError):
    """The kernels can be neither loaded from kernels/build nor compiled with NVRTC."""


def gpu_available() -> tuple[bool, str]:
    """``(True, device description)`` when CuPy can run kernels here, else ``(False, reason)``.

    Never raises: CuPy installs and imports on machines without a GPU and fails
    only on first use, so this asks the runtime for a device.
    """
    try:
        import cupy
    except ImportError as e:
        return False, f"CuPy is not installed (pip install 'trt_tracker[gpu]'): {e}"
    except Exception as e:  # a broken install (e.g. mismatched CUDA libraries)
        return False, f"CuPy failed to import: {type(e).__name__}: {e}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, no device, driver too old
        return False, f"CuPy {cupy.__version__} cannot reach a CUDA device: {type(e).__name__}: {e}"
    if count < 1:
        return False, f"CuPy {cupy.__version__}: no CUDA device"
    try:
        dev = cupy.cuda.Device()
        props = cupy.cuda.runtime.getDeviceProperties(dev.id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    except Exception as e:
        return False, f"CuPy {cupy.__version__}: CUDA device unusable: {type(e).__name__}: {e}"
    return True, (f"{name} (compute capability {props['major']}.{props['minor']}, device {dev.id}), "
                  f"CuPy {cupy.__version__}")


def kernels_dir() -> Path:
    """``$TRT_TRACKER_KERNELS`` if set, else ``kernels/`` of the repository checkout holding this package."""
    env = os.environ.get(KERNELS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[2] / "kernels"


def opencv_crop_to_image(image_to_crop: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine, computed as ``cv::warpAffine`` does (double), then float32.

    ``A = [a b; c d]``, ``D = 1 / (ad - bc)``; inverse ``[dD  -bD; -cD  aD]``,
    translation ``-A^-1 t``.  Rounded to float32 because OpenCV's warp kernels
    (and ours) evaluate the map in float32.  Returns (6,) float32, row-major.
    """
    M = np.asarray(image_to_crop, np.float64)
    det = M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0]
    D = 1.0 / det if det != 0 else 0.0
    a11, a22, a12, a21 = M[1, 1] * D, M[0, 0] * D, -M[0, 1] * D, -M[1, 0] * D
    b1 = -a11 * M[0, 2] - a12 * M[1, 2]
    b2 = -a21 * M[0, 2] - a22 * M[1, 2]
    return np.array([a11, a12, b1, a21, a22, b2], np.float64).astype(np.float32)


def _source_sha256(src: Path) -> str:
    return hashlib.sha256(src.read_bytes()).hexdigest()


class PreprocessKernels:
    """The two kernels of one loaded module (``rgb``, ``depth``: CuPy kernel functions), ``origin``
    (``compiled:<fatbin>`` or ``nvrtc:<source>``) and ``note`` (why "auto" fell back to NVRTC)."""

    def __init__(self, module, origin: str, note: str = ""):
        self.rgb = module.get_function(RGB_KERNEL)  # forces the (lazy) module load
        self.depth = module.get_function(DEPTH_KERNEL)
        self.module = module
        self.origin = origin
        self.note = note


_CACHE: dict[tuple, PreprocessKernels] = {}
_CACHE_LOCK = threading.Lock()


def prebuilt_problem(directory: str | os.PathLike | None = None) -> str:
    """Why ``<kernels>/build/preprocess.fatbin`` cannot be used, or "" when it is present and
    built from the current ``preprocess.cu`` (its ``preprocess.cu.sha256`` stamp matches).
    Whether it has code for the GPU is only known when the driver loads it."""
    kdir = Path(directory) if directory is not None else kernels_dir()
    src, fatbin, stamp = kdir / SOURCE_NAME, kdir / "build" / FATBIN_NAME, kdir / "build" / STAMP_NAME
    if not fatbin.is_file():
        return f"{fatbin} not found (build it with scripts/build_kernels.sh)"
    if not stamp.is_file():
        return f"{stamp} not found: cannot tell which source {fatbin.name} was built from"
    recorded = stamp.read_text().split()
    if src.is_file() and (not recorded or recorded[0] != _source_sha256(src)):
        return f"{fatbin} is stale: {src} changed since it was built (rebuild it)"
    return ""


def _load_compiled(cupy, kdir: Path) -> PreprocessKernels:
    """The prebuilt fatbin; raises KernelLoadError saying why it cannot be used."""
    problem = prebuilt_problem(kdir)
    if problem:
        raise KernelLoadError(problem)
    fatbin = kdir / "build" / FATBIN_NAME
    try:
        return PreprocessKernels(cupy.RawModule(path=str(fatbin)), f"compiled:{fatbin}")
    except Exception as e:  # CUDADriverError: NO_BINARY_FOR_GPU, UNSUPPORTED_PTX_VERSION (driver too old), ...
        cc = cupy.cuda.Device().compute_capability
        raise KernelLoadError(f"{fatbin} cannot be loaded on this GPU (sm_{cc}): {type(e).__name__}: {e}") from e


def _load_nvrtc(cupy, kdir: Path) -> PreprocessKernels:
    src = kdir / SOURCE_NAME
    if not src.is_file():
        raise KernelLoadError(f"{src} not found (set {KERNELS_ENV} to the repository's kernels/ folder)")
    try:
        # Default NVRTC options: IEEE division and no fast math (the kernel pins its rounding anyway).
        module = cupy.RawModule(code=src.read_text(), backend="nvrtc")
        return PreprocessKernels(module, f"nvrtc:{src}")
    except Exception as e:  # CompileException, missing libnvrtc
        raise KernelLoadError(f"NVRTC could not compile {src}: {type(e).__name__}: {e}") from e


def load_kernels(source: str = "auto", directory: str | os.PathLike | None = None) -> PreprocessKernels:
    """Load (once per device, source and folder) the preprocessing kernels.

    source: "compiled" (kernels/build/preprocess.fatbin only), "nvrtc" (compile
    kernels/preprocess.cu now), or "auto" (the fatbin, else NVRTC; the reason for
    falling back is logged and kept in ``.note``).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    ok, why = gpu_available()
    if not ok:
        raise GpuUnavailable(why)
    import cupy

    kdir = Path(directory).resolve() if directory is not None else kernels_dir()
    key = (source, str(kdir), cupy.cuda.Device().id)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if source == "compiled":
            kernels = _load_compiled(cupy, kdir)
        elif source == "nvrtc":
            kernels = _load_nvrtc(cupy, kdir)
        else:
            try:
                kernels = _load_compiled(cupy, kdir)
            except KernelLoadError as e:
                log.warning("GPU preprocessing: %s; compiling %s with NVRTC instead", e, SOURCE_NAME)
                kernels = _load_nvrtc(cupy, kdir)
                kernels.note = str(e)
        _CACHE[key] = kernels
        return kernels


class GpuPreprocessor:
    """Crops for one codec and modality, computed on the GPU.

    codec: the :class:`PoseCodec` of the network (input size S, cube for depth).
    modality: "rgb" (C=3) or "depth" (C=1).
    source, kernels_dir: see :func:`load_kernels`; ``origin`` tells which was used.
    """

    def __init__(self, codec: PoseCodec, modality: str, source: str = "auto",
                 kernels_dir: str | os.PathLike | None = None):
        if modality not in CHANNELS:
            raise ValueError(f"modality must be one of {tuple(CHANNELS)}, got {modality!r}")
        self.codec = codec
        self.modality = modality
        self.channels = CHANNELS[modality]
        self.size = int(codec.input_size)
        self._kernels = load_kernels(source, kernels_dir)
        import cupy

        self._cp = cupy
        self.device = cupy.cuda.Device().id  # the preprocessor works on the device current at construction
        self._mean = cupy.asarray(np.asarray(RGB_MEAN, np.float32))
        self._std = cupy.asarray(np.asarray(RGB_STD, np.float32))
        self._z_scale = np.float32(codec.z_scale)

    @property
    def origin(self) -> str:
        """``compiled:<fatbin path>`` or ``nvrtc:<source path>``."""
        return self._kernels.origin

    @property
    def fallback_reason(self) -> str:
        """Why ``source="auto"`` did not use the prebuilt fatbin ("" when it did)."""
        return self._kernels.note

    # ------------------------------------------------------------- public
    def crops(self, frame, transforms: Sequence[CropTransform], centres_mm=None, *, out=None, c_offset: int = 0):
        """N crops of one frame: ``(N, C, S, S)`` float32 CuPy array (``PoseCodec.crop_input`` per box).

        frame: (H, W, 3) uint8 RGB or (H, W) uint16 depth mm, NumPy (uploaded once) or CuPy.
        transforms: N crop transforms with ``input_size == codec.input_size``.
        centres_mm: depth only: one centre for all crops or N of them (mm, > 0).
        out, c_offset: write into channels ``[c_offset, c_offset + C)`` of an existing
            C-contiguous float32 ``(N, C_total, S, S)`` CuPy array instead (returned).
        """
        with self._cp.cuda.Device(self.device):
            mats = self._matrices(transforms)
            centres = self._centres(centres_mm, len(mats))
            out = self._output(out, len(mats), c_offset, self.channels)
            if len(mats):
                self._launch(self._upload(frame), mats, centres, out, c_offset)
        return out

    def pairs(self, frame_prev, frame_cur, transforms: Sequence[CropTransform], centres_mm=None, *, out=None):
        """Temporal-network input: ``(N, 2C, S, S)``, crops of ``frame_prev`` in channels ``[0, C)``
        and of ``frame_cur`` in ``[C, 2C)``, both with transform n and (depth) centre n, like
        ``concatenate([crop_input(prev, tf, m, c), crop_input(cur, tf, m, c)])``."""
        with self._cp.cuda.Device(self.device):
            mats = self._matrices(transforms)
            centres = self._centres(centres_mm, len(mats))
            out = self._output(out, len(mats), 0, 2 * self.channels)
            if len(mats):
                self._launch(self._upload(frame_prev), mats, centres, out, 0)
                self._launch(self._upload(frame_cur), mats, centres, out, self.channels)
        return out

    def crop_batch(self, jobs, outs):
        """:meth:`PoseCodec.crop_batch` on the GPU: every :class:`~trt_tracker.codec.CropJob` cut into its
        place in the host arrays ``outs``; each distinct image is uploaded once and cut with all its boxes in
        one launch, and each output comes back in one device->host copy."""
        cp = self._cp
        groups: dict[int, list] = {}
        for j in jobs:
            groups.setdefault(id(j.image), []).append(j)
        with cp.cuda.Device(self.device):
            dev = [cp.empty(o.shape, np.float32) for o in outs]
            for g in groups.values():
                x = self.crops(g[0].image, [j.transform for j in g],
                               [j.centre_mm for j in g] if self.modality == "depth" else None)
                for i, j in enumerate(g):
                    dev[j.out][j.row, j.channel:j.channel + self.channels] = x[i]
            for o, d in zip(outs, dev):
                o[...] = cp.asnumpy(d)
        return outs

    # ------------------------------------------------------------ helpers
    def _matrices(self, transforms: Sequence[CropTransform]):
        """(N, 6) float32 crop->image maps on the device."""
        transforms = list(transforms)
        rows = []
        for i, tf in enumerate(transforms):
            if tf.input_size != self.size:
                raise ValueError(f"transform {i} crops to {tf.input_size} px, the codec's input is {self.size} px")
            rows.append(opencv_crop_to_image(tf.image_to_crop))
        if len(rows) > MAX_CROPS:
            raise ValueError(f"at most {MAX_CROPS} crops per call (the grid's y dimension), got {len(rows)}")
        mats = np.stack(rows) if rows else np.zeros((0, 6), np.float32)
        if not np.all(np.isfinite(mats)):
            raise ValueError("crop transforms must be finite and invertible")
        return self._cp.asarray(mats)

    def _centres(self, centres_mm, n: int):
        """(N,) float32 depth centres on the device (None for RGB, which ignores them like crop_input)."""
        if self.modality != "depth":
            return None
        if centres_mm is None:
            raise ValueError("depth crops need centres_mm (the depth each cube is centred on)")
        c = np.asarray(self._cp.asnumpy(centres_mm) if isinstance(centres_mm, self._cp.ndarray) else centres_mm,
                       np.float64)
        if c.ndim == 0:
            c = np.full(n, float(c))
        if c.shape != (n,):
            raise ValueError(f"centres_mm must be one value or {n} values, got shape {c.shape}")
        if not np.all(np.isfinite(c) & (c > 0)):
            raise ValueError(f"depth normalisation centres must be positive depths in mm, got {c}")
        return self._cp.asarray(c.astype(np.float32))

    def _output(self, out, n: int, c_offset: int, c_needed: int):
        shape_tail = (self.size, self.size)
        if out is None:
            if c_offset != 0:
                raise ValueError("c_offset needs an out array")
            return self._cp.empty((n, c_needed) + shape_tail, np.float32)
        if not isinstance(out, self._cp.ndarray) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError("out must be a C-contiguous float32 CuPy array")
        if out.ndim != 4 or out.shape[0] != n or out.shape[2:] != shape_tail:
            raise ValueError(f"out must have shape ({n}, C_total, {self.size}, {self.size}), got {out.shape}")
        if not (0 <= c_offset and c_offset + c_needed <= out.shape[1]):
            raise ValueError(f"channels [{c_offset}, {c_offset + c_needed}) do not fit in out's {out.shape[1]}")
        if out.device.id != self.device:
            raise ValueError(f"out is on device {out.device.id}, this preprocessor works on device {self.device}")
        return out

    def _upload(self, frame):
        """The frame as a C-contiguous device array of the modality's dtype (one host->device copy)."""
        cp = self._cp
        if not isinstance(frame, cp.ndarray):
            frame = np.asarray(frame)
        dtype, ndim = (np.uint8, 3) if self.modality == "rgb" else (np.uint16, 2)
        if frame.dtype != dtype or frame.ndim != ndim or (ndim == 3 and frame.shape[2] != 3):
            want = "(H, W, 3) uint8 RGB" if self.modality == "rgb" else "(H, W) uint16 depth mm"
            raise ValueError(f"expected an {want} frame, got {frame.shape} {frame.dtype}")
        if isinstance(frame, cp.ndarray):
            if frame.device.id != self.device:
                raise ValueError(f"frame is on device {frame.device.id}, this preprocessor uses device {self.device}")
            return cp.ascontiguousarray(frame)
        return cp.asarray(np.ascontiguousarray(frame))

    def _launch(self, frame, mats, centres, out, c_offset: int) -> None:
        n, c_total = out.shape[0], out.shape[1]
        height, width = frame.shape[:2]
        grid = ((self.size * self.size + BLOCK - 1) // BLOCK, n, 1)
        i32 = np.int32
        common_tail = (out, i32(c_total), i32(c_offset))
        if self.modality == "rgb":
            args = (frame, i32(height), i32(width), mats, i32(n), i32(self.size), self._mean, self._std) + common_tail
            self._kernels.rgb(grid, (BLOCK, 1, 1), args)
        else:
            args = (frame, i32(height), i32(width), mats, i32(n), i32(self.size), centres, self._z_scale) + common_tail
            self._kernels.depth(grid, (BLOCK, 1, 1), args)
