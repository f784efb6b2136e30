// Inverted dropout with the counter-based mask shared with the CPU (hash_random.h), so both
// backends drop the same units for the same (seed, layer, element).
#pragma once
#include "../hash_random.h"
#include "conv2d.cuh"

namespace trainer::cuda {

__global__ void dropout_kernel(float* out, const float* in, int64_t n, float rate, uint64_t seed, uint64_t stream) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = in[i] * dropout_multiplier(seed, stream, uint64_t(i), rate);
}

// Forward and backward are the same multiplication by the mask.
inline void dropout_apply(float* out, const float* in, int64_t n, float rate, uint64_t seed, uint64_t stream) {
  dropout_kernel<<<grid_for(n), kThreads>>>(out, in, n, rate, seed, stream);
  cudaCheckLaunch();
}

}  // namespace trainer::cuda
