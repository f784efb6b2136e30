// The optimisers of optimizer.h, one thread per parameter.
#pragma once
#include "conv2d.cuh"

namespace trainer::cuda {

__global__ void rmsprop_kernel(float* w, const float* g, float* v, int64_t n, float lr, float rho, float eps) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    v[i] = rho * v[i] + (1.f - rho) * g[i] * g[i];
    w[i] -= lr * g[i] / sqrtf(v[i] + eps);
  }
}

__global__ void adamw_kernel(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1,
                             float beta2, float eps, float decay, float c1, float c2) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    m[i] = beta1 * m[i] + (1.f - beta1) * g[i];
    v[i] = beta2 * v[i] + (1.f - beta2) * g[i] * g[i];
    w[i] -= lr * ((m[i] / c1) / (sqrtf(v[i] / c2) + eps) + decay * w[i]);
  }
}

inline void rmsprop_update(float* w, const float* g, float* v, int64_t n, float lr, float rho, float eps) {
  rmsprop_kernel<<<grid_for(n), kThreads>>>(w, g, v, n, lr, rho, eps);
  cudaCheckLaunch();
}

inline void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                         float eps, float decay, int64_t t) {
  const float c1 = 1.f - std::pow(beta1, float(t)), c2 = 1.f - std::pow(beta2, float(t));
  adamw_kernel<<<grid_for(n), kThreads>>>(w, g, m, v, n, lr, beta1, beta2, eps, decay, c1, c2);
  cudaCheckLaunch();
}

}  // namespace trainer::cuda
