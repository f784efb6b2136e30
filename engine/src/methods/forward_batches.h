// How a method that runs many inputs through the network (Score-CAM's masked inputs) splits them
// into batches for Network::forward_batch. A batch reads each weight once, so larger is faster
// until its values leave the cache or memory runs short; each batch runs on a thread of its own,
// so there must be enough of them to share. The split depends on the number of inputs and the
// model alone, never on the thread count, so which images share a batch never changes a result.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gradcam {

// A batch pays only where the weights it reads once instead of B times are more than a core's
// cache holds anyway (measured natively, under load: ResNet-18's layer3, layer4 and classifier,
// 11 M floats, take 8% less per image in batches of 2 to 8; the seed model, whose 0.2 M floats stay
// in cache, only lost, its values leaving the cache between layers).
constexpr size_t kCachedWeightBytes = size_t(2) << 20;
// A batched pass may hold this much (values and scratch) on each thread: ResNet-18 at 224x224
// (14 MiB an image, forward only) batches 4.
constexpr size_t kBatchBytes = size_t(64) << 20;
// Beyond 16 images a batch gains nothing more: the weights' reads are already a sixteenth.
constexpr int64_t kMaxBatch = 16;
// At least this many batches where there are as many inputs, so that up to 8 threads share them.
constexpr int64_t kMinBatches = 8;

// The largest batch worth running: 1 where the weights read once per batch stay in cache, else
// what fits kBatchBytes, at most kMaxBatch.
// Bytes in 64 bits: wasm32's size_t would wrap at 4 GiB (2^30 floats an image gave batches of 16).
inline int64_t largest_batch(size_t floats_per_image, size_t batch_weight_floats) {
  if (uint64_t(batch_weight_floats) * sizeof(float) < kCachedWeightBytes) return 1;
  const uint64_t image_bytes = std::max<uint64_t>(uint64_t(floats_per_image) * sizeof(float), 1);
  const int64_t by_memory = int64_t(uint64_t(kBatchBytes) / image_bytes);
  return std::clamp<int64_t>(by_memory, 1, kMaxBatch);
}

// Batch b is items [bounds[b], bounds[b+1]); at most `most` each, their sizes within one.
inline std::vector<int64_t> forward_batches(int64_t items, int64_t most) {
  if (items <= 0) return {0};  // no batch
  most = std::max<int64_t>(most, 1);
  const int64_t batches = std::max((items + most - 1) / most, std::min(items, kMinBatches));
  std::vector<int64_t> bounds(size_t(batches) + 1);
  for (int64_t b = 0; b <= batches; ++b) bounds[size_t(b)] = items * b / batches;
  return bounds;
}

}  // namespace gradcam
