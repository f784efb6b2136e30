// Max pooling with the argmax kept for backward (out-of-bounds "same" padding never wins).
#pragma once
#include "common.cuh"
#include "conv2d.cuh"

namespace trainer::cuda {

__global__ void max_pool_forward_kernel(float* out, int32_t* argmax, const float* in, int B, Geometry g) {
  const int64_t n = int64_t(B) * g.oh * g.ow * g.oc;
  const int64_t in_img = int64_t(g.ih) * g.iw * g.ic;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % g.oc), ox = int((i / g.oc) % g.ow), oy = int((i / (int64_t(g.oc) * g.ow)) % g.oh);
    const int64_t b = i / (int64_t(g.oc) * g.ow * g.oh);
    const float* x = in + b * in_img;
    float best = 0.f;
    int32_t at = -1;
    for (int ky = 0; ky < g.kh; ++ky) {
      const int iy = oy * g.sh - g.pad_t + ky;
      if (iy < 0 || iy >= g.ih) continue;
      for (int kx = 0; kx < g.kw; ++kx) {
        const int ix = ox * g.sw - g.pad_l + kx;
        if (ix < 0 || ix >= g.iw) continue;
        const int32_t k = (iy * g.iw + ix) * g.ic + c;
        if (at < 0 || x[k] > best) best = x[k], at = k;
      }
    }
    out[i] = best;
    argmax[i] = at;
  }
}

__global__ void max_pool_backward_kernel(float* din, const float* dout, const int32_t* argmax, int B, Geometry g) {
  const int64_t out_img = int64_t(g.oh) * g.ow * g.oc, in_img = int64_t(g.ih) * g.iw * g.ic;
  const int64_t n = B * out_img;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    atomicAdd(din + (i / out_img) * in_img + argmax[i], dout[i]);  // windows may overlap when stride < size
}

inline void max_pool_forward(float* out, int32_t* argmax, const float* in, int B, const Geometry& g) {
  max_pool_forward_kernel<<<grid_for(int64_t(B) * g.oh * g.ow * g.oc), kThreads>>>(out, argmax, in, B, g);
  cudaCheckLaunch();
}

inline void max_pool_backward(float* din, const float* dout, const int32_t* argmax, int B, const Geometry& g) {
  cudaCheck(cudaMemset(din, 0, sizeof(float) * size_t(B) * g.ih * g.iw * g.ic));
  max_pool_backward_kernel<<<grid_for(int64_t(B) * g.oh * g.ow * g.oc), kThreads>>>(din, dout, argmax, B, g);
  cudaCheckLaunch();
}

}  // namespace trainer::cuda
