"""GPU preprocessing: ``kernels/preprocess.cu`` and ``trt_tracker.stream.gpu_preprocess``.

The reference is :meth:`PoseCodec.crop_input` (``cv2.warpAffine`` + NumPy normalisation).

Tolerance against it (derived in the header of ``kernels/preprocess.cu``):

* RGB.  The kernel rounds each bilinear sample to a grey level (the uint8 crop of
  the CPU path) and normalises it with the same IEEE float32 operations as NumPy,
  so equal grey levels give bit-equal inputs; one grey level is
  ``1 / std_c <= 0.0175`` after normalisation.  OpenCV >= 4.11 evaluates the warp
  in float32 and the kernel repeats its arithmetic: at most 1 grey level apart
  on at most 0.1 % of the values (0 with OpenCV 5.0 on x86).  OpenCV < 4.11 snaps
  sample positions to 1/32 pixel: at most 9 grey levels on pixel noise.
* Depth.  Nearest neighbour, then the same float32 normalisation: OpenCV >= 4.11
  picks the same tap except on at most 0.01 % of the pixels (0 measured);
  OpenCV < 4.11 rounds half up on a 1/1024 grid: at most 1 %.

What runs where:

* everywhere: :func:`gpu_available` reports instead of raising; the bookkeeping of
  prebuilt kernels; the kernel source compiled for the host CPU (a C++ compiler
  and host definitions of the CUDA built-ins it uses) against ``crop_input``,
  including the pair layout; where nvcc exists, nvcc compiles the source (fatbin,
  and PTX whose arithmetic is checked) and CMake builds it;
* ``@pytest.mark.gpu``: the kernels on the GPU, prebuilt (fatbin) and compiled by
  NVRTC, bit for bit against the host build and within the tolerance above
  against ``crop_input``; pairs; ``out``/``c_offset``; falling back to NVRTC.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from trt_tracker.camera import CropBox, invert_affine
from trt_tracker.codec import RGB_STD, PoseCodec
from trt_tracker.stream import gpu_preprocess as gp

REPO = Path(__file__).resolve().parents[1]
KERNEL_SOURCE = REPO / "kernels" / "preprocess.cu"
CODECS = {  # a size that is a multiple of OpenCV's SIMD width, and one that leaves a scalar tail
    64: PoseCodec(64, 16, 2000.0),
    37: PoseCodec(37, 8, 600.0),
}


# ---------------------------------------------------------------- tolerance
@dataclass(frozen=True)
class Tolerance:
    levels: int  # largest RGB difference in grey levels
    fraction: float  # largest fraction of RGB values that differ at all
    depth_fraction: float  # largest fraction of depth pixels sampled from another tap


def opencv_tolerance() -> Tolerance:
    import cv2

    major, minor = (int(p) for p in cv2.__version__.split(".")[:2])
    if (major, minor) >= (4, 11):  # float32 warp kernels, the arithmetic preprocess.cu repeats
        return Tolerance(levels=1, fraction=1e-3, depth_fraction=1e-4)
    return Tolerance(levels=9, fraction=1.0, depth_fraction=1e-2)  # INTER_BITS=5 fixed point


def assert_matches_opencv(actual: np.ndarray, expected: np.ndarray, modality: str, tol: Tolerance) -> None:
    """(N, C, S, S) network inputs from two paths; C may hold several stacked crops."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    if modality == "rgb":
        std = np.tile(RGB_STD, actual.shape[1] // 3).reshape(1, -1, 1, 1)
        levels = np.abs(actual - expected) * std
        assert levels.max() <= tol.levels + 1e-3, f"{levels.max():.3f} grey levels apart"
        differ = (levels > 1e-3).mean()
        assert differ <= tol.fraction, f"{differ:.2e} of the values differ"
    else:
        differ = (actual != expected).mean()
        assert differ <= tol.depth_fraction, f"{differ:.2e} of the depth pixels differ"


# ------------------------------------------------------------------- data
def make_frame(rng, modality: str, height: int, width: int) -> np.ndarray:
    """Pixel noise (the worst case for interpolation); depth in mm with 10 % holes."""
    if modality == "rgb":
        return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    d = rng.integers(400, 1600, (height, width)).astype(np.uint16)
    d[rng.random((height, width)) < 0.1] = 0
    return d


def make_transforms(rng, codec: PoseCodec, height: int, width: int, n: int) -> list:
    """Boxes inside, partly outside, rotated/flipped/magnified, and wholly outside the frame."""
    side = min(height, width)
    tfs = []
    for i in range(n):
        kind = i % 4
        if kind == 0:  # inside, upright
            box = CropBox(rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height, rng.uniform(0.2, 0.6) * side)
            tfs.append(codec.transform(box))
        elif kind == 1:  # across an edge or corner, rotated
            cx = rng.choice([rng.uniform(-0.15, 0.1), rng.uniform(0.9, 1.15)]) * width
            cy = rng.choice([rng.uniform(-0.15, 0.1), rng.uniform(0.9, 1.15)]) * height
            box = CropBox(cx, cy, rng.uniform(0.3, 1.0) * side)
            tfs.append(codec.transform(box, rotation_deg=rng.uniform(-180, 180)))
        elif kind == 2:  # rotated, flipped, magnified (box smaller than the crop)
            box = CropBox(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.3, 0.9) * codec.input_size)
            tfs.append(codec.transform(box, rotation_deg=rng.uniform(-180, 180), flip=True))
        else:  # wholly outside: all border (RGB 0 before normalisation, depth holes)
            tfs.append(codec.transform(CropBox(-2.0 * side, rng.uniform(0, height), 0.5 * side)))
    return tfs


def tie_transforms(codec: PoseCodec) -> list:
    """Axis-aligned boxes whose sample coordinates land exactly on .5 (rounding ties) or on pixels."""
    S = codec.input_size
    return [codec.transform(CropBox(40.5, 30.5, 2.0 * S)), codec.transform(CropBox(41.0, 30.0, 2.0 * S)),
            codec.transform(CropBox(40.5, 30.5, 0.5 * S)), codec.transform(CropBox(33.0, 27.5, float(S)))]


def cpu_crops(codec, modality, frame, tfs, centres=None) -> np.ndarray:
    c = np.broadcast_to(np.asarray(1.0 if centres is None else centres, np.float64), (len(tfs),))
    return np.stack([codec.crop_input(frame, tf, modality, float(c[i])) for i, tf in enumerate(tfs)])


# ------------------------------------------------------- host build of the kernels
HOST_HARNESS = r"""
// preprocess.cu built for the host CPU.  The CUDA built-ins it uses, as host code:
// correctly rounded float32 operations (compiled with -ffp-contract=off, no fast
// math), fmaf a true fused multiply-add, rounding to nearest even; and a loop over
// the launch grid GpuPreprocessor uses: block (BLOCK), grid (ceil(S*S / BLOCK), N).
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#define __global__
#define __device__
#define __forceinline__ inline
struct HostDim3 { unsigned x, y, z; };
static HostDim3 blockIdx, threadIdx, blockDim;
using std::max;
using std::min;
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline int __float2int_rn(float v) {
    if (std::isnan(v)) return 0;
    if (v >= 2147483648.0f) return INT_MAX;
    if (v < -2147483648.0f) return INT_MIN;
    return (int)std::nearbyint(v);
}
#include "preprocess.cu"

#define HOST_GRID(block, n, size, CALL)                                             \
    blockDim = {(unsigned)(block), 1u, 1u};                                         \
    for (unsigned by = 0; by < (unsigned)(n); ++by)                                 \
        for (unsigned bx = 0; bx < (unsigned)(((size) * (size) + (block) - 1) / (block)); ++bx) \
            for (unsigned t = 0; t < (unsigned)(block); ++t) {                      \
                blockIdx = {bx, by, 0u};                                            \
                threadIdx = {t, 0u, 0u};                                            \
                CALL;                                                               \
            }

extern "C" void host_crop_rgb(int block, const unsigned char* frame, int height, int width, const float* A,
                              int n, int size, const float* mean, const float* sd, float* out, int c_total,
                              int c_offset) {
    HOST_GRID(block, n, size, crop_rgb_u8_nchw(frame, height, width, A, n, size, mean, sd, out, c_total, c_offset))
}

extern "C" void host_crop_depth(int block, const unsigned short* frame, int height, int width, const float* A,
                                int n, int size, const float* centres, float z_scale, float* out, int c_total,
                                int c_offset) {
    HOST_GRID(block, n, size, crop_depth_u16_nchw(frame, height, width, A, n, size, centres, z_scale, out, c_total,
                                                  c_offset))
}
"""


class HostKernels:
    """The same calls as :class:`GpuPreprocessor`, on the host build of preprocess.cu (NumPy in and out)."""

    def __init__(self, lib_path: Path):
        self.lib = ctypes.CDLL(str(lib_path))
        ptr, i32, f32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        self.lib.host_crop_rgb.argtypes = [i32, ptr, i32, i32, ptr, i32, i32, ptr, ptr, ptr, i32, i32]
        self.lib.host_crop_depth.argtypes = [i32, ptr, i32, i32, ptr, i32, i32, ptr, f32, ptr, i32, i32]

    def crops(self, codec, modality, frame, tfs, centres=None, out=None, c_offset=0):
        C, S, n = gp.CHANNELS[modality], codec.input_size, len(tfs)
        out = np.zeros((n, C, S, S), np.float32) if out is None else out
        assert out.flags.c_contiguous and out.dtype == np.float32
        A = np.ascontiguousarray(np.stack([gp.opencv_crop_to_image(tf.image_to_crop) for tf in tfs]))
        frame = np.ascontiguousarray(frame)
        h, w = frame.shape[:2]
        if modality == "rgb":
            mean = np.ascontiguousarray(gp.RGB_MEAN, np.float32)
            std = np.ascontiguousarray(gp.RGB_STD, np.float32)
            self.lib.host_crop_rgb(gp.BLOCK, frame.ctypes.data, h, w, A.ctypes.data, n, S, mean.ctypes.data,
                                   std.ctypes.data, out.ctypes.data, out.shape[1], c_offset)
        else:
            c = np.ascontiguousarray(np.broadcast_to(np.asarray(centres, np.float64), (n,)), np.float32)
            self.lib.host_crop_depth(gp.BLOCK, frame.ctypes.data, h, w, A.ctypes.data, n, S, c.ctypes.data,
                                     float(np.float32(codec.z_scale)), out.ctypes.data, out.shape[1], c_offset)
        return out

    def pairs(self, codec, modality, prev, cur, tfs, centres=None):
        C, S = gp.CHANNELS[modality], codec.input_size
        out = np.zeros((len(tfs), 2 * C, S, S), np.float32)
        self.crops(codec, modality, prev, tfs, centres, out, 0)
        return self.crops(codec, modality, cur, tfs, centres, out, C)


def _cxx() -> str | None:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> HostKernels:
    cxx = _cxx()
    if cxx is None:
        pytest.skip("no C++ compiler to build kernels/preprocess.cu for the host")
    d = tmp_path_factory.mktemp("host_kernels")
    (d / "harness.cpp").write_text(HOST_HARNESS)
    lib = d / "libpreprocess_host.so"
    cmd = [cxx, "-std=c++14", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wno-unknown-pragmas", "-shared",
           "-fPIC", f"-I{KERNEL_SOURCE.parent}", "-o", str(lib), str(d / "harness.cpp")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return HostKernels(lib)


def _nvcc() -> str | None:
    for cand in (os.environ.get("CUDACXX"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


# ================================================================ everywhere
def _cuda_usable() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def test_gpu_available_reports_instead_of_raising():
    ok, why = gp.gpu_available()
    assert isinstance(ok, bool) and isinstance(why, str) and why
    assert ok == _cuda_usable(), why


def test_without_cupy_reports_and_refuses(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    ok, why = gp.gpu_available()
    assert ok is False and "CuPy is not installed" in why
    with pytest.raises(gp.GpuUnavailable, match="CuPy is not installed"):
        gp.GpuPreprocessor(CODECS[64], "rgb")


def test_cupy_without_device_reports(monkeypatch):
    """CuPy imports on GPU-less machines and fails on first use: reported, not raised."""
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.__version__ = "0.test"
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    ok, why = gp.gpu_available()
    assert ok is False and "cannot reach a CUDA device" in why and "no CUDA-capable device" in why
    with pytest.raises(gp.GpuUnavailable, match="no CUDA-capable device"):
        gp.load_kernels("nvrtc")


def test_unknown_source_and_modality_are_errors():
    with pytest.raises(ValueError, match="source must be one of"):
        gp.load_kernels("jit")
    with pytest.raises(ValueError, match="modality"):
        gp.GpuPreprocessor(CODECS[64], "ir")


def test_kernels_dir_is_the_checkout_or_the_env_override(monkeypatch, tmp_path):
    monkeypatch.delenv(gp.KERNELS_ENV, raising=False)
    assert gp.kernels_dir() == KERNEL_SOURCE.parent
    assert (gp.kernels_dir() / gp.SOURCE_NAME).is_file()
    monkeypatch.setenv(gp.KERNELS_ENV, str(tmp_path))
    assert gp.kernels_dir() == tmp_path.resolve()


def test_prebuilt_problem_missing_stale_fresh(tmp_path):
    shutil.copy(KERNEL_SOURCE, tmp_path / gp.SOURCE_NAME)
    assert "not found" in gp.prebuilt_problem(tmp_path)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / gp.FATBIN_NAME).write_bytes(b"fatbin")
    assert "cannot tell which source" in gp.prebuilt_problem(tmp_path)
    digest = hashlib.sha256(KERNEL_SOURCE.read_bytes()).hexdigest()
    (tmp_path / "build" / gp.STAMP_NAME).write_text(digest + "\n")
    assert gp.prebuilt_problem(tmp_path) == ""
    with open(tmp_path / gp.SOURCE_NAME, "a") as f:
        f.write("// edited after the build\n")
    assert "stale" in gp.prebuilt_problem(tmp_path)


def test_crop_to_image_is_opencvs_inverse(rng):
    codec = CODECS[64]
    for tf in make_transforms(rng, codec, 120, 160, 8):
        A = gp.opencv_crop_to_image(tf.image_to_crop)
        assert A.dtype == np.float32 and A.shape == (6,)
        ref = invert_affine(tf.image_to_crop).ravel()
        np.testing.assert_allclose(A, ref, rtol=2 ** -23, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("size", sorted(CODECS))
@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_host_build_matches_crop_input(host, rng, modality, size):
    """The kernel source, run on the CPU, against the CPU reference: the tolerance above."""
    codec, tol = CODECS[size], opencv_tolerance()
    for height, width in [(97, 131), (240, 320)]:
        frame = make_frame(rng, modality, height, width)
        tfs = make_transforms(rng, codec, height, width, 12)
        centres = rng.uniform(700, 1300, len(tfs)) if modality == "depth" else None
        assert_matches_opencv(host.crops(codec, modality, frame, tfs, centres),
                              cpu_crops(codec, modality, frame, tfs, centres), modality, tol)


def opencv_nearest_ties_to_even() -> bool:
    """Whether this OpenCV's nearest-neighbour warp rounds source coordinates on .5 half to even (4.11 to
    5.0; older ones and 5.1 round half up), probed on a ramp rather than read from the version."""
    import cv2

    ramp = np.arange(16, dtype=np.uint16)[None].repeat(2, 0)
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])        # x_src = x_dst + 0.5: every one a tie
    out = cv2.warpAffine(ramp, shift, (8, 2), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)[0]
    return out.tolist() == [0, 2, 2, 4, 4, 6, 6, 8]


@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_host_build_rounding_ties(host, rng, modality):
    """Coordinates exactly on .5: round half to even like OpenCV 4.11-5.0 (the kernels' rule; others round
    nearest-neighbour ties half up, which only exact ties can show)."""
    tol = opencv_tolerance()
    if tol.levels > 1:
        pytest.skip("OpenCV < 4.11 rounds nearest-neighbour ties half up (fixed point)")
    if modality == "depth" and not opencv_nearest_ties_to_even():
        pytest.skip("this OpenCV rounds nearest-neighbour ties half up; the kernels round them half to even")
    codec = CODECS[64]
    frame = make_frame(rng, modality, 120, 160)
    tfs = tie_transforms(codec)
    centres = 1000.0 if modality == "depth" else None
    assert_matches_opencv(host.crops(codec, modality, frame, tfs, centres),
                          cpu_crops(codec, modality, frame, tfs, centres), modality, tol)


@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_host_build_pairs_and_channel_offset(host, rng, modality):
    codec = CODECS[37]
    C, S = gp.CHANNELS[modality], codec.input_size
    prev, cur = make_frame(rng, modality, 90, 120), make_frame(rng, modality, 90, 120)
    tfs = make_transforms(rng, codec, 90, 120, 5)
    centres = rng.uniform(700, 1300, len(tfs)) if modality == "depth" else None
    pair = host.pairs(codec, modality, prev, cur, tfs, centres)
    expected = np.concatenate([cpu_crops(codec, modality, prev, tfs, centres),
                               cpu_crops(codec, modality, cur, tfs, centres)], axis=1)
    assert pair.shape == (len(tfs), 2 * C, S, S)
    assert_matches_opencv(pair, expected, modality, opencv_tolerance())
    # A write at c_offset touches exactly its C channels.
    out = np.full((len(tfs), C + 2, S, S), -7.0, np.float32)
    host.crops(codec, modality, cur, tfs, centres, out, 1)
    np.testing.assert_array_equal(out[:, 1:1 + C], pair[:, C:])
    assert np.all(out[:, 0] == -7.0) and np.all(out[:, 1 + C:] == -7.0)


def test_nvcc_compiles_the_kernels(tmp_path):
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found (set CUDACXX or put it on PATH)")
    fatbin, ptx = tmp_path / "preprocess.fatbin", tmp_path / "preprocess.ptx"
    for cmd in ([nvcc, "-fatbin", "-gencode=arch=compute_75,code=sm_75", "-o", str(fatbin), str(KERNEL_SOURCE)],
                [nvcc, "-ptx", "-arch=compute_75", "-o", str(ptx), str(KERNEL_SOURCE)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    assert fatbin.stat().st_size > 0
    text = ptx.read_text()
    for name in (gp.RGB_KERNEL, gp.DEPTH_KERNEL):
        assert f".entry {name}(" in text
    # The arithmetic the CPU comparison relies on: IEEE division, fused and unfused ops as written.
    assert "div.rn.f32" in text and "fma.rn.f32" in text and "mul.rn.f32" in text
    assert "approx" not in text and "div.full" not in text


def test_cmake_builds_the_kernels(tmp_path):
    nvcc, cmake = _nvcc(), shutil.which("cmake")
    if nvcc is None or cmake is None:
        pytest.skip(f"needs nvcc and cmake (nvcc: {nvcc}, cmake: {cmake})")
    out = tmp_path / "kernels" / "build"
    env = dict(os.environ, CUDACXX=nvcc)
    for cmd in ([cmake, "-S", str(REPO), "-B", str(tmp_path / "cmake"), f"-DTRT_TRACKER_KERNELS_OUT={out}",
                 "-DTRT_TRACKER_CUDA_ARCHS=75", "-DTRT_TRACKER_CUDA_PTX_ARCH=75"],
                [cmake, "--build", str(tmp_path / "cmake")]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    assert (out / gp.FATBIN_NAME).stat().st_size > 0
    shutil.copy(KERNEL_SOURCE, tmp_path / "kernels" / gp.SOURCE_NAME)
    assert gp.prebuilt_problem(tmp_path / "kernels") == ""  # stamped with the source's SHA-256


def test_build_script_without_nvcc_says_so(tmp_path):
    bindir = tmp_path / "bin"  # a PATH with the tools the script needs, and no nvcc
    bindir.mkdir()
    for tool in ("dirname",):
        os.symlink(shutil.which(tool), bindir / tool)
    env = {"PATH": str(bindir), "CUDA_HOME": str(tmp_path / "no-cuda"), "HOME": str(tmp_path)}
    r = subprocess.run([shutil.which("bash"), str(REPO / "scripts" / "build_kernels.sh")], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "nvcc not found" in r.stderr and "NVRTC" in r.stderr


# ================================================================== on a GPU
def _build_for_this_gpu(d: Path, nvcc: str) -> str:
    """Build ``d/build/preprocess.fatbin`` (+ stamp) for the current GPU; "" on success, else nvcc's complaint."""
    import cupy

    cc = cupy.cuda.Device().compute_capability  # e.g. "90"
    shutil.copy(KERNEL_SOURCE, d / gp.SOURCE_NAME)
    (d / "build").mkdir()
    cmd = [nvcc, "-fatbin", f"-gencode=arch=compute_{cc},code=sm_{cc}", "-o", str(d / "build" / gp.FATBIN_NAME),
           str(d / gp.SOURCE_NAME)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:  # e.g. an nvcc older than the GPU (compile errors fail test_nvcc_compiles_the_kernels)
        return f"{' '.join(cmd)}: {r.stderr.strip()}"
    digest = hashlib.sha256(KERNEL_SOURCE.read_bytes()).hexdigest()
    (d / "build" / gp.STAMP_NAME).write_text(digest + "\n")
    return ""


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory) -> Path:
    """A kernels folder with a fresh fatbin that loads here: built for this GPU when nvcc can, else the checkout's."""
    candidates, why = [], []
    nvcc = _nvcc()
    if nvcc is None:
        why.append("nvcc not found")
    else:
        d = tmp_path_factory.mktemp("kernels")
        err = _build_for_this_gpu(d, nvcc)
        if err:
            why.append(err)
        else:
            candidates.append(d)
    problem = gp.prebuilt_problem(KERNEL_SOURCE.parent)
    if problem:
        why.append(problem)
    else:
        candidates.append(KERNEL_SOURCE.parent)
    for d in candidates:
        try:
            gp.load_kernels("compiled", d)
            return d
        except gp.KernelLoadError as e:  # e.g. built by an nvcc newer than the driver
            why.append(str(e))
    pytest.skip("no prebuilt kernels load on this GPU: " + "; ".join(why))


@pytest.fixture(params=["compiled", "nvrtc"])
def make_pre(request):
    """GpuPreprocessor factory for one kernel source (the fatbin, or NVRTC on the checkout's .cu)."""
    source = request.param
    kdir = request.getfixturevalue("compiled_dir") if source == "compiled" else KERNEL_SOURCE.parent

    def make(codec, modality):
        pre = gp.GpuPreprocessor(codec, modality, source=source, kernels_dir=kdir)
        assert pre.origin.startswith(f"{source}:")
        return pre

    return make


@pytest.mark.gpu
@pytest.mark.parametrize("size", sorted(CODECS))
@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_gpu_crops_match_host_build_and_crop_input(make_pre, host, rng, modality, size):
    import cupy

    codec, tol = CODECS[size], opencv_tolerance()
    pre = make_pre(codec, modality)
    for height, width in [(97, 131), (480, 640)]:
        frame = make_frame(rng, modality, height, width)
        tfs = make_transforms(rng, codec, height, width, 16) + tie_transforms(codec)
        centres = rng.uniform(700, 1300, len(tfs)) if modality == "depth" else None
        gpu = pre.crops(frame, tfs, centres)
        assert isinstance(gpu, cupy.ndarray) and gpu.dtype == np.float32
        assert gpu.shape == (len(tfs), gp.CHANNELS[modality], size, size)
        gpu = cupy.asnumpy(gpu)
        np.testing.assert_array_equal(gpu, host.crops(codec, modality, frame, tfs, centres))
        n = len(tfs) - len(tie_transforms(codec))  # ties: compared with OpenCV in the host-build test
        cpu = cpu_crops(codec, modality, frame, tfs[:n], None if centres is None else centres[:n])
        assert_matches_opencv(gpu[:n], cpu, modality, tol)
        # The frame may already be on the device.
        np.testing.assert_array_equal(cupy.asnumpy(pre.crops(cupy.asarray(frame), tfs, centres)), gpu)


@pytest.mark.gpu
@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_gpu_pairs_layout(make_pre, host, rng, modality):
    import cupy

    codec = CODECS[64]
    C, S = gp.CHANNELS[modality], codec.input_size
    pre = make_pre(codec, modality)
    prev, cur = make_frame(rng, modality, 120, 160), make_frame(rng, modality, 120, 160)
    tfs = make_transforms(rng, codec, 120, 160, 6)
    centres = rng.uniform(700, 1300, len(tfs)) if modality == "depth" else None
    pair = pre.pairs(prev, cur, tfs, centres)
    assert pair.shape == (len(tfs), 2 * C, S, S)
    pair = cupy.asnumpy(pair)
    np.testing.assert_array_equal(pair[:, :C], cupy.asnumpy(pre.crops(prev, tfs, centres)))
    np.testing.assert_array_equal(pair[:, C:], cupy.asnumpy(pre.crops(cur, tfs, centres)))
    np.testing.assert_array_equal(pair, host.pairs(codec, modality, prev, cur, tfs, centres))
    expected = np.concatenate([cpu_crops(codec, modality, prev, tfs, centres),
                               cpu_crops(codec, modality, cur, tfs, centres)], axis=1)
    assert_matches_opencv(pair, expected, modality, opencv_tolerance())
    # Writing into a caller's tensor at c_offset touches exactly C channels.
    out = cupy.full((len(tfs), C + 2, S, S), -7.0, cupy.float32)
    assert pre.crops(cur, tfs, centres, out=out, c_offset=1) is out
    out = cupy.asnumpy(out)
    np.testing.assert_array_equal(out[:, 1:1 + C], pair[:, C:])
    assert np.all(out[:, 0] == -7.0) and np.all(out[:, 1 + C:] == -7.0)


@pytest.mark.gpu
@pytest.mark.parametrize("modality", ["rgb", "depth"])
def test_gpu_crop_batch_places_every_job_like_the_gpu_crops(make_pre, rng, modality):
    """The tracker's batched pass on the GPU: every job lands in its output, item and channels, equal to
    that box cropped alone by the same kernels (and near OpenCV's crop_input, the CPU pass)."""
    import cupy

    from trt_tracker.codec import CropJob

    codec = CODECS[64]
    C, S = gp.CHANNELS[modality], codec.input_size
    pre = make_pre(codec, modality)
    a, b = make_frame(rng, modality, 120, 160), make_frame(rng, modality, 120, 160)
    tfs = make_transforms(rng, codec, 120, 160, 3)
    c = [900.0, 1000.0, 1100.0] if modality == "depth" else [None] * 3
    jobs = [CropJob(a, tfs[0], c[0], 0, 1), CropJob(b, tfs[1], c[1], 0, 0),
            CropJob(b, tfs[2], c[2], 1, 0, 0), CropJob(a, tfs[2], c[2], 1, 0, C)]
    x, pairs = pre.crop_batch(jobs, (np.zeros((2, C, S, S), np.float32), np.zeros((1, 2 * C, S, S), np.float32)))

    def alone(img, tf, centre):
        return cupy.asnumpy(pre.crops(img, [tf], None if centre is None else [centre]))[0]

    np.testing.assert_array_equal(x[1], alone(a, tfs[0], c[0]))
    np.testing.assert_array_equal(x[0], alone(b, tfs[1], c[1]))
    np.testing.assert_array_equal(pairs[0, :C], alone(b, tfs[2], c[2]))
    np.testing.assert_array_equal(pairs[0, C:], alone(a, tfs[2], c[2]))
    cpu = codec.crop_batch(jobs, (np.zeros_like(x), np.zeros_like(pairs)), modality)
    assert_matches_opencv(x, cpu[0], modality, opencv_tolerance())
    assert_matches_opencv(pairs, cpu[1], modality, opencv_tolerance())


@pytest.mark.gpu
def test_gpu_auto_falls_back_to_nvrtc(compiled_dir, tmp_path, rng):
    codec = CODECS[64]
    only_source = tmp_path / "only_source"
    only_source.mkdir()
    shutil.copy(KERNEL_SOURCE, only_source / gp.SOURCE_NAME)
    pre = gp.GpuPreprocessor(codec, "rgb", source="auto", kernels_dir=only_source)
    assert pre.origin.startswith("nvrtc:") and "not found" in pre.fallback_reason
    with pytest.raises(gp.KernelLoadError, match="not found"):
        gp.GpuPreprocessor(codec, "rgb", source="compiled", kernels_dir=only_source)

    stale = shutil.copytree(compiled_dir, tmp_path / "stale")
    with open(stale / gp.SOURCE_NAME, "a") as f:
        f.write("// edited after the build\n")
    pre = gp.GpuPreprocessor(codec, "rgb", source="auto", kernels_dir=stale)
    assert pre.origin.startswith("nvrtc:") and "stale" in pre.fallback_reason

    fresh = gp.GpuPreprocessor(codec, "rgb", source="auto", kernels_dir=compiled_dir)
    assert fresh.origin.startswith("compiled:") and fresh.fallback_reason == ""
    frame = make_frame(rng, "rgb", 100, 100)
    tfs = make_transforms(rng, codec, 100, 100, 4)
    import cupy

    np.testing.assert_array_equal(cupy.asnumpy(pre.crops(frame, tfs)), cupy.asnumpy(fresh.crops(frame, tfs)))


@pytest.mark.gpu
def test_gpu_rejects_bad_inputs(make_pre, rng):
    import cupy

    codec = CODECS[64]
    rgb, depth = make_pre(codec, "rgb"), make_pre(codec, "depth")
    tfs = make_transforms(rng, codec, 80, 80, 2)
    frame = make_frame(rng, "rgb", 80, 80)
    with pytest.raises(ValueError, match="uint8 RGB"):
        rgb.crops(frame.astype(np.float32), tfs)
    with pytest.raises(ValueError, match="crops to"):
        rgb.crops(frame, [CODECS[37].transform(CropBox(40, 40, 30))])
    with pytest.raises(ValueError, match="centres_mm"):
        depth.crops(make_frame(rng, "depth", 80, 80), tfs)
    with pytest.raises(ValueError, match="positive depths"):
        depth.crops(make_frame(rng, "depth", 80, 80), tfs, [1000.0, 0.0])
    with pytest.raises(ValueError, match="do not fit"):
        rgb.crops(frame, tfs, out=cupy.zeros((2, 4, 64, 64), cupy.float32), c_offset=2)
    assert rgb.crops(frame, []).shape == (0, 3, 64, 64)
