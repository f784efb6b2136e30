// Softmax fused with label-smoothed categorical cross-entropy: one thread per image (K is small).
#pragma once
#include "conv2d.cuh"

namespace trainer::cuda {

__global__ void softmax_cross_entropy_kernel(float* probs, float* dlogits, float* losses, int* correct,
                                             const float* logits, const int* labels, int B, int K, float smoothing) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  const float* z = logits + int64_t(b) * K;
  int arg = 0;
  for (int k = 1; k < K; ++k)
    if (z[k] > z[arg]) arg = k;
  float sum = 0.f;
  for (int k = 0; k < K; ++k) sum += expf(z[k] - z[arg]);
  const float log_sum = logf(sum);
  float loss = 0.f;
  for (int k = 0; k < K; ++k) {
    const float log_p = z[k] - z[arg] - log_sum, p = expf(log_p);
    const float target = (k == labels[b] ? 1.f - smoothing : 0.f) + smoothing / K;
    probs[int64_t(b) * K + k] = p;
    loss -= target * log_p;
    if (dlogits) dlogits[int64_t(b) * K + k] = (p - target) / B;
  }
  losses[b] = loss;
  correct[b] = arg == labels[b];
}

inline void softmax_cross_entropy(float* probs, float* dlogits, float* losses, int* correct, const float* logits,
                                  const int* labels, int B, int K, float smoothing) {
  softmax_cross_entropy_kernel<<<(B + 127) / 128, 128>>>(probs, dlogits, losses, correct, logits, labels, B, K,
                                                         smoothing);
  cudaCheckLaunch();
}

}  // namespace trainer::cuda
