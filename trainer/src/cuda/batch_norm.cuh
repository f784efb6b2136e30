// Batch normalisation over N = B*H*W rows per channel: the same equations as the CPU reference
// (cpu/batch_norm.cpp): batch mean and biased variance in training, moving statistics updated
// with momentum, the standard backward formula.
#pragma once
#include "common.cuh"
#include "conv2d.cuh"

namespace trainer::cuda {

__device__ inline float block_sum(float v, float* partial) {
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int step = blockDim.x / 2; step > 0; step /= 2) {
    if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
    __syncthreads();
  }
  const float s = partial[0];
  __syncthreads();
  return s;
}

// One block per channel: two-pass mean and variance, then the moving statistics.
__global__ void batch_norm_stats_kernel(float* save_mean, float* save_invstd, float* moving_mean, float* moving_var,
                                        const float* in, int64_t N, int C, float eps, float momentum) {
  __shared__ float partial[kThreads];
  const int c = blockIdx.x;
  float s = 0.f;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) s += in[n * C + c];
  const float mean = block_sum(s, partial) / float(N);
  float q = 0.f;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    const float d = in[n * C + c] - mean;
    q += d * d;
  }
  const float var = block_sum(q, partial) / float(N);
  if (threadIdx.x == 0) {
    save_mean[c] = mean;
    save_invstd[c] = rsqrtf(var + eps);
    moving_mean[c] = momentum * moving_mean[c] + (1.f - momentum) * mean;
    moving_var[c] = momentum * moving_var[c] + (1.f - momentum) * var;
  }
}

__global__ void batch_norm_apply_kernel(float* out, const float* in, const float* mean, const float* invstd,
                                        const float* gamma, const float* beta, int64_t N, int C) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % C);
    out[i] = (in[i] - mean[c]) * invstd[c] * gamma[c] + beta[c];
  }
}

__global__ void batch_norm_infer_kernel(float* out, const float* in, const float* gamma, const float* beta,
                                        const float* moving_mean, const float* moving_var, int64_t N, int C,
                                        float eps) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < N * C; i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % C);
    out[i] = (in[i] - moving_mean[c]) / sqrtf(moving_var[c] + eps) * gamma[c] + beta[c];
  }
}

// One block per channel: sums of dy and dy*xhat, then dx.
__global__ void batch_norm_backward_kernel(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                                           const float* mean, const float* invstd, const float* gamma, int64_t N,
                                           int C) {
  __shared__ float partial[kThreads];
  const int c = blockIdx.x;
  float a = 0.f, b = 0.f;
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    const float dy = dout[n * C + c];
    a += dy;
    b += dy * (in[n * C + c] - mean[c]) * invstd[c];
  }
  const float sdy = block_sum(a, partial), sdyx = block_sum(b, partial);
  if (threadIdx.x == 0) {
    dgamma[c] += sdyx;
    dbeta[c] += sdy;
  }
  if (!din) return;
  const float k = gamma[c] * invstd[c] / float(N);
  for (int64_t n = threadIdx.x; n < N; n += blockDim.x) {
    const float xhat = (in[n * C + c] - mean[c]) * invstd[c];
    din[n * C + c] = k * (float(N) * dout[n * C + c] - sdy - xhat * sdyx);
  }
}

inline void batch_norm_forward_train(float* out, float* save_mean, float* save_invstd, const float* in,
                                     const float* gamma, const float* beta, float* moving_mean, float* moving_var,
                                     int64_t N, int C, float eps, float momentum) {
  batch_norm_stats_kernel<<<C, kThreads>>>(save_mean, save_invstd, moving_mean, moving_var, in, N, C, eps, momentum);
  cudaCheckLaunch();
  batch_norm_apply_kernel<<<grid_for(N * C), kThreads>>>(out, in, save_mean, save_invstd, gamma, beta, N, C);
  cudaCheckLaunch();
}

inline void batch_norm_forward_infer(float* out, const float* in, const float* gamma, const float* beta,
                                     const float* moving_mean, const float* moving_var, int64_t N, int C, float eps) {
  batch_norm_infer_kernel<<<grid_for(N * C), kThreads>>>(out, in, gamma, beta, moving_mean, moving_var, N, C, eps);
  cudaCheckLaunch();
}

inline void batch_norm_backward(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                                const float* mean, const float* invstd, const float* gamma, int64_t N, int C) {
  batch_norm_backward_kernel<<<C, kThreads>>>(din, dgamma, dbeta, dout, in, mean, invstd, gamma, N, C);
  cudaCheckLaunch();
}

}  // namespace trainer::cuda
