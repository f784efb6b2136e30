// Convolution: im2col / col2im kernels and cuBLAS SGEMM over the whole batch (the kernel
// [kh,kw,ic,oc] is the (kh*kw*ic) x oc matrix), as the CPU reference does in chunks.
#pragma once
#include "../plan.h"
#include "common.cuh"

namespace trainer::cuda {

// One thread per column-matrix element: row (b,oy,ox), column (ky,kx,c). I is the index type:
// 32-bit where the sizes allow (the usual case), since 64-bit division costs several times more
// and these kernels are mostly index arithmetic.
template <class I>
__global__ void im2col_kernel(float* cols, const float* in, int B, Geometry g) {
  const I K = I(g.kh) * g.kw * g.ic;
  const I n = I(B) * g.oh * g.ow * K;
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    const I col = i % K;
    const I row = i / K;
    const I c = col % g.ic, kx = (col / g.ic) % g.kw, ky = col / (g.ic * g.kw);
    const I ox = row % g.ow, oy = (row / g.ow) % g.oh;
    const I b = row / (I(g.ow) * g.oh);
    const I iy = oy * g.sh - g.pad_t + ky, ix = ox * g.sw - g.pad_l + kx;
    cols[i] = (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw) ? 0.f
                                                              : in[((b * g.ih + iy) * g.iw + ix) * g.ic + c];
  }
}

// Gather form of col2im: each input element sums the column entries that read it (no atomics,
// deterministic).
template <class I>
__global__ void col2im_kernel(float* din, const float* cols, int B, Geometry g) {
  const I K = I(g.kh) * g.kw * g.ic;
  const I n = I(B) * g.ih * g.iw * g.ic;
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    const I c = i % g.ic, ix = (i / g.ic) % g.iw, iy = (i / (I(g.ic) * g.iw)) % g.ih;
    const I b = i / (I(g.ic) * g.iw * g.ih);
    float sum = 0.f;
    for (int ky = 0; ky < g.kh; ++ky) {
      const I ty = iy + g.pad_t - ky;
      if (ty < 0 || ty % g.sh) continue;
      const I oy = ty / g.sh;
      if (oy >= g.oh) continue;
      for (int kx = 0; kx < g.kw; ++kx) {
        const I tx = ix + g.pad_l - kx;
        if (tx < 0 || tx % g.sw) continue;
        const I ox = tx / g.sw;
        if (ox >= g.ow) continue;
        sum += cols[((b * g.oh + oy) * g.ow + ox) * K + (ky * g.kw + kx) * g.ic + c];
      }
    }
    din[i] = sum;
  }
}

// out[r, c] = act(out[r, c] + bias[c])
__global__ void bias_activation_kernel(float* out, const float* bias, int64_t rows, int cols, bool relu) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = out[i] + bias[i % cols];
    out[i] = relu && v < 0.f ? 0.f : v;
  }
}

__global__ void relu_backward_kernel(float* dout, const float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (out[i] <= 0.f) dout[i] = 0.f;
}

// dbias[c] += sum over rows of dout[r, c]: one block per channel, a tree reduction.
__global__ void bias_backward_kernel(float* dbias, const float* dout, int64_t rows, int cols) {
  __shared__ float partial[kThreads];
  const int c = blockIdx.x;
  float s = 0.f;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) s += dout[r * cols + c];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
    __syncthreads();
  }
  if (threadIdx.x == 0) dbias[c] += partial[0];
}

inline int grid_for(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)); }

// 32-bit indices when every index, and index + grid stride, of both the column matrix and the
// image batch stays below 2^31.
inline bool indices_fit_int32(int B, const Geometry& g) {
  const int64_t limit = int64_t(1) << 30;
  return int64_t(B) * g.oh * g.ow * g.kh * g.kw * g.ic < limit && int64_t(B) * g.ih * g.iw * g.ic < limit;
}

inline void im2col(float* cols, const float* in, int B, const Geometry& g) {
  const int64_t n = int64_t(B) * g.oh * g.ow * g.kh * g.kw * g.ic;
  if (indices_fit_int32(B, g))
    im2col_kernel<int><<<grid_for(n), kThreads>>>(cols, in, B, g);
  else
    im2col_kernel<int64_t><<<grid_for(n), kThreads>>>(cols, in, B, g);
  cudaCheckLaunch();
}

inline void col2im(float* din, const float* cols, int B, const Geometry& g) {
  const int64_t m = int64_t(B) * g.ih * g.iw * g.ic;
  if (indices_fit_int32(B, g))
    col2im_kernel<int><<<grid_for(m), kThreads>>>(din, cols, B, g);
  else
    col2im_kernel<int64_t><<<grid_for(m), kThreads>>>(din, cols, B, g);
  cudaCheckLaunch();
}

inline void conv2d_forward(cublasHandle_t h, float* out, float* cols, const float* in, const float* kernel,
                           const float* bias, int B, const Geometry& g, bool relu) {
  const int K = g.kh * g.kw * g.ic;
  const int64_t rows = int64_t(B) * g.oh * g.ow;
  im2col(cols, in, B, g);
  gemm_row_major(h, false, false, int(rows), g.oc, K, cols, K, kernel, g.oc, out, g.oc, 0.f);
  bias_activation_kernel<<<grid_for(rows * g.oc), kThreads>>>(out, bias, rows, g.oc, relu);
  cudaCheckLaunch();
}

// dout: d(loss)/d(pre-activation). din may be null (first layer).
inline void conv2d_backward(cublasHandle_t h, float* din, float* dkernel, float* dbias, float* cols, const float* dout,
                            const float* in, const float* kernel, int B, const Geometry& g) {
  const int K = g.kh * g.kw * g.ic;
  const int64_t rows = int64_t(B) * g.oh * g.ow;
  bias_backward_kernel<<<g.oc, kThreads>>>(dbias, dout, rows, g.oc);
  cudaCheckLaunch();
  im2col(cols, in, B, g);
  gemm_row_major(h, true, false, K, g.oc, int(rows), cols, K, dout, g.oc, dkernel, g.oc, 1.f);  // dW += cols^T dY
  if (!din) return;
  gemm_row_major(h, false, true, int(rows), K, g.oc, dout, g.oc, kernel, g.oc, cols, K, 0.f);  // dcols = dY W^T
  col2im(din, cols, B, g);
}

}  // namespace trainer::cuda
