// GPU preprocessing for trt_tracker: warp + normalise N crops of one full frame
// straight into the network's float32 NCHW input (DESIGN §4, "crop <- preprocess").
//
// The CPU reference is PoseCodec.crop_input (trt_tracker/codec.py):
//   RGB  : cv2.warpAffine(INTER_LINEAR,  BORDER_CONSTANT 0) -> uint8 -> (v - mean_c) / std_c
//   depth: cv2.warpAffine(INTER_NEAREST, BORDER_CONSTANT 0) -> uint16 mm
//          -> clip((d - centre) / z_scale, -1, 1), holes (d == 0) -> 1
// and these kernels compute the same values without the intermediate crop image.
//
// Sampling conventions (OpenCV's):
// * pixel centres at integer coordinates;
// * inverse mapping: output pixel (x, y) of crop n samples the frame at
//       (sx, sy) = A_n (x, y, 1)^T,   A_n = crop_to_image_n = inverse(image_to_crop_n),
//   a 2x3 row-major matrix [a0 a1 a2; a3 a4 a5];
// * bilinear: ix = floor(sx), ax = sx - ix (same for y), four taps, taps outside
//   the frame read 0 (BORDER_CONSTANT 0), the result is rounded half-to-even and
//   saturated to 0..255 (the uint8 crop of the CPU path) before normalisation;
// * nearest: ix = round_half_even(sx), iy = round_half_even(sy), outside -> 0.
//
// Arithmetic and its tolerance against OpenCV.  OpenCV >= 4.11 warps 8U/16U
// images in float32 (imgproc warp_kernels.simd.hpp); these kernels repeat that
// arithmetic operation by operation, with explicitly rounded intrinsics so that
// nvcc/NVRTC cannot contract or reorder it (--fmad and fast-math flags do not
// change the result):
//     (fl() is one float32 rounding, fma() a fused multiply-add)
//     A  = float32(inverse computed in double, as cv::warpAffine does)  [host side]
//     mx = fl(fl(y * a1) + a2)          my = fl(fl(y * a4) + a5)        (no FMA)
//     sx = fma(a0, x, mx)               sy = fma(a3, x, my)
//     f0 = fma(ax, p01 - p00, p00)      f1 = fma(ax, p11 - p10, p10)
//     f  = fma(ay, f1 - f0, f0)         v  = sat_u8(round_half_even(f))
// With OpenCV 5.0 on x86 (its FMA SIMD path) the crops are bit-identical to
// crop_input (measured: 0 differing values at S = 64 and 256; at S = 37, 3 in
// 2e5 from OpenCV's scalar tail columns).  tests/test_gpu_preprocess.py compiles
// this file for the host CPU and checks it against the installed OpenCV on
// every machine, and checks the GPU against that host build bit for bit where a
// GPU exists.  Other OpenCV builds differ as follows:
// * 4.11/4.12 (row offset in double), SIMD paths without FMA, and OpenCV's scalar
//   tail columns round a few intermediate values differently: a pixel changes
//   only when f lies within ~1e-3 of a .5 tie, so |dv| <= 1 grey level on
//   ~1e-4 of the pixels (depth: a different tap only when a coordinate is
//   within a float rounding error of a .5 tie);
// * <= 4.10 (remap with INTER_BITS = 5 fixed point) snaps (sx, sy) to a 1/32
//   pixel grid (error <= 1/64 + 1/2048 px per axis) and rounds the exact
//   bilinear value there, so |dv| <= 255 * 2 * (1/64 + 1/2048) + 1 < 9.3, i.e.
//   at most 9 grey levels (reached only on pixel noise, where neighbours differ
//   by up to 255; about 1 level on natural images); its nearest neighbour
//   rounds half up on a 1/1024 grid (a different tap when a coordinate's
//   fraction is within ~1/1024 of .5, and at every exact .5 tie).
// After the grey level the normalisation is IEEE float32 in both paths:
// (v - mean_c) / std_c and (d - centre) / z_scale with __fsub_rn/__fdiv_rn, the
// same single-rounded operations NumPy performs, so equal grey levels give
// bit-equal network inputs.  One grey level is 1 / std_c <= 0.0175 after
// ImageNet normalisation.
//
// Output layout: out is (N, c_total, S, S) float32, C-contiguous; a kernel
// writes its C channels (3 RGB, 1 depth) of crop n at channels
// [c_offset, c_offset + C).  Two launches with c_offset 0 and C fill the
// stacked pair tensor (N, 2C, S, S) of the temporal network in place.
//
// Launch: block (256, 1, 1), grid (ceil(S*S / 256), N, 1); one thread per
// output pixel (all channels of it).  Frames are C-contiguous: RGB (H, W, 3)
// uint8, depth (H, W) uint16.  The host validates that every matrix is finite
// (a NaN coordinate would otherwise round to tap 0).
//
// The file has no #include so that NVRTC (cupy.RawModule(code=...)) compiles it
// exactly as nvcc does (CMakeLists.txt -> kernels/build/preprocess.fatbin).

// Source coordinate of output pixel (x, y) under A = [a0 a1 a2; a3 a4 a5].
__device__ __forceinline__ void map_to_frame(const float* __restrict__ A, int x, int y,
                                             float* sx, float* sy)
{
    const float fx = (float)x;
    const float fy = (float)y;
    const float mx = __fadd_rn(__fmul_rn(fy, A[1]), A[2]);
    const float my = __fadd_rn(__fmul_rn(fy, A[4]), A[5]);
    *sx = fmaf(A[0], fx, mx);
    *sy = fmaf(A[3], fx, my);
}

// This thread's output pixel (index within the S x S plane), crop n and source
// coordinate (sx, sy); false for the threads past the last pixel or crop.
__device__ __forceinline__ bool source_of_thread(const float* __restrict__ crop_to_image, int n_crops, int size,
                                                 int* pixel, int* n, float* sx, float* sy)
{
    *pixel = blockIdx.x * blockDim.x + threadIdx.x;
    *n = blockIdx.y;
    if (*pixel >= size * size || *n >= n_crops) {
        return false;
    }
    map_to_frame(crop_to_image + 6 * *n, *pixel % size, *pixel / size, sx, sy);
    return true;
}

// Tap (ix, iy) of channel c of an (H, W, C) uint8 frame; 0 outside (BORDER_CONSTANT 0).
__device__ __forceinline__ float tap_u8(const unsigned char* __restrict__ frame, int height, int width,
                                        int channels, int ix, int iy, int c)
{
    if ((unsigned)ix >= (unsigned)width || (unsigned)iy >= (unsigned)height) {
        return 0.0f;
    }
    return (float)frame[((size_t)iy * (size_t)width + (size_t)ix) * (size_t)channels + (size_t)c];
}

// out[n, c_offset + c, y, x] = (bilinear(frame, A_n (x, y, 1)) rounded to uint8 - mean[c]) / stddev[c]
//   frame         (height, width, 3) uint8 RGB
//   crop_to_image (n_crops, 6) float32, row-major 2x3 per crop
//   mean, stddev  (3,) float32 in grey levels (codec.RGB_MEAN, codec.RGB_STD)
//   out           (n_crops, c_total, size, size) float32; channels c_offset .. c_offset + 2 written
extern "C" __global__ void crop_rgb_u8_nchw(const unsigned char* __restrict__ frame, int height, int width,
                                            const float* __restrict__ crop_to_image, int n_crops, int size,
                                            const float* __restrict__ mean, const float* __restrict__ stddev,
                                            float* __restrict__ out, int c_total, int c_offset)
{
    int pixel, n;
    float sx, sy;
    if (!source_of_thread(crop_to_image, n_crops, size, &pixel, &n, &sx, &sy)) {
        return;
    }

    float value[3] = {0.0f, 0.0f, 0.0f};
    // All four taps outside <=> floor(sx) < -1 or floor(sx) >= W (same for y): the
    // border value, as OpenCV writes it.  Written as a negated "inside" test so that
    // it also holds for huge coordinates before any float -> int conversion.
    if (sx >= -1.0f && sx < (float)width && sy >= -1.0f && sy < (float)height) {
        const float fx0 = floorf(sx);
        const float fy0 = floorf(sy);
        const int ix = (int)fx0;
        const int iy = (int)fy0;
        const float ax = __fsub_rn(sx, fx0);  // in [0, 1]
        const float ay = __fsub_rn(sy, fy0);
#pragma unroll
        for (int c = 0; c < 3; ++c) {
            const float p00 = tap_u8(frame, height, width, 3, ix, iy, c);
            const float p01 = tap_u8(frame, height, width, 3, ix + 1, iy, c);
            const float p10 = tap_u8(frame, height, width, 3, ix, iy + 1, c);
            const float p11 = tap_u8(frame, height, width, 3, ix + 1, iy + 1, c);
            // Differences of integers <= 255 are exact; each fma rounds once.
            const float f0 = fmaf(ax, __fsub_rn(p01, p00), p00);
            const float f1 = fmaf(ax, __fsub_rn(p11, p10), p10);
            const float f = fmaf(ay, __fsub_rn(f1, f0), f0);
            const int level = min(max(__float2int_rn(f), 0), 255);  // round half to even, saturate
            value[c] = (float)level;
        }
    }
    const size_t plane = (size_t)size * (size_t)size;
    float* dst = out + ((size_t)n * (size_t)c_total + (size_t)c_offset) * plane + (size_t)pixel;
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        dst[(size_t)c * plane] = __fdiv_rn(__fsub_rn(value[c], mean[c]), stddev[c]);
    }
}

// out[n, c_offset, y, x] = 1                                              if d == 0 (hole or outside)
//                        = clamp((d - centre_mm[n]) / z_scale, -1, 1)    otherwise,
// d = frame[round(sy), round(sx)] (nearest, half to even; 0 outside the frame).
//   frame         (height, width) uint16 depth in mm
//   crop_to_image (n_crops, 6) float32
//   centre_mm     (n_crops,) float32, the depth each crop's cube is centred on
//   z_scale       cube_mm / 2 (float32)
//   out           (n_crops, c_total, size, size) float32; channel c_offset written
extern "C" __global__ void crop_depth_u16_nchw(const unsigned short* __restrict__ frame, int height, int width,
                                               const float* __restrict__ crop_to_image, int n_crops, int size,
                                               const float* __restrict__ centre_mm, float z_scale,
                                               float* __restrict__ out, int c_total, int c_offset)
{
    int pixel, n;
    float sx, sy;
    if (!source_of_thread(crop_to_image, n_crops, size, &pixel, &n, &sx, &sy)) {
        return;
    }

    // __float2int_rn rounds half to even and saturates out-of-range values to
    // INT_MIN/INT_MAX, which the unsigned comparison below rejects.
    const int ix = __float2int_rn(sx);
    const int iy = __float2int_rn(sy);
    unsigned int d = 0;
    if ((unsigned)ix < (unsigned)width && (unsigned)iy < (unsigned)height) {
        d = frame[(size_t)iy * (size_t)width + (size_t)ix];
    }
    float v = 1.0f;  // no reading counts as far
    if (d != 0) {
        v = __fdiv_rn(__fsub_rn((float)d, centre_mm[n]), z_scale);
        v = fminf(fmaxf(v, -1.0f), 1.0f);
    }
    const size_t plane = (size_t)size * (size_t)size;
    out[((size_t)n * (size_t)c_total + (size_t)c_offset) * plane + (size_t)pixel] = v;
}
