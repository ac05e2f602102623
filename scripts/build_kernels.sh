#!/usr/bin/env bash
# Compile the CUDA preprocessing kernels ahead of time into kernels/build/preprocess.fatbin
# (CMakeLists.txt at the repository root).  Extra arguments go to the configure step,
# e.g.  scripts/build_kernels.sh -DTRT_TRACKER_CUDA_ARCHS="86;89"
# Without nvcc there is nothing to build: trt_tracker then compiles kernels/preprocess.cu
# at run time with NVRTC (through CuPy), and this script says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${CUDACXX:-}
if [ -z "$NVCC" ]; then
  NVCC=$(command -v nvcc || true)
fi
if [ -z "$NVCC" ] && [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  NVCC=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc
fi
if [ -z "$NVCC" ] || [ ! -x "$NVCC" ]; then
  echo "build_kernels: nvcc not found (set CUDACXX or put nvcc on PATH); nothing built." >&2
  echo "build_kernels: the GPU preprocessor will compile kernels/preprocess.cu with NVRTC at run time." >&2
  exit 0
fi
if ! command -v cmake >/dev/null; then
  echo "build_kernels: cmake not found; install cmake >= 3.18 (or: pip install cmake)." >&2
  exit 1
fi
CUDACXX=$NVCC cmake -S . -B kernels/build "$@"
cmake --build kernels/build
echo "build_kernels: built kernels/build/preprocess.fatbin with $NVCC"
