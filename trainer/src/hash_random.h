// Counter-based random numbers: a value depends only on (seed, stream, index), so the CPU and the
// CUDA backends draw identical dropout masks and initial weights without sharing generator state,
// and a resumed run draws what the uninterrupted run would have drawn.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define TRAINER_HD __host__ __device__ __forceinline__
#else
#define TRAINER_HD inline
#endif

namespace trainer {

// SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014).
TRAINER_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits.
TRAINER_HD float hash_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ull * (stream + 1));
  h = mix64(h ^ (index * 0xd1b54a32d192ed03ull + 0x632be59bd9b4e019ull));
  return float(h >> 40) * (1.0f / 16777216.0f);
}

// Inverted dropout (Srivastava et al., JMLR 2014, with the 1/(1-rate) scale applied in training
// as Keras does): the multiplier of element `index` for this step.
TRAINER_HD float dropout_multiplier(uint64_t seed, uint64_t stream, uint64_t index, float rate) {
  return hash_uniform(seed, stream, index) < rate ? 0.f : 1.f / (1.f - rate);
}

}  // namespace trainer
