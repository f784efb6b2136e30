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

// A batched pass may hold this much (values and scratch) on each thread. 64 MiB lets ResNet-18
// at 224x224 (about 16 MiB an image forward-only) batch 4, and the seed model (32x32) batch 16.
constexpr size_t kBatchBytes = size_t(64) << 20;
// Beyond 16 images a batch gains little: the weights' reads are already a sixteenth.
constexpr int64_t kMaxBatch = 16;
// At least this many batches where there are as many inputs, so that up to 8 threads share them.
constexpr int64_t kMinBatches = 8;

// Batch b is items [bounds[b], bounds[b+1]); the batches' sizes differ by at most one.
inline std::vector<int64_t> forward_batches(int64_t items, size_t floats_per_image) {
  if (items <= 0) return {0};  // no batch
  const int64_t by_memory = int64_t(kBatchBytes / std::max<size_t>(floats_per_image * sizeof(float), 1));
  const int64_t most = std::clamp<int64_t>(by_memory, 1, kMaxBatch);
  const int64_t batches = std::max((items + most - 1) / most, std::min(items, kMinBatches));
  std::vector<int64_t> bounds(size_t(batches) + 1);
  for (int64_t b = 0; b <= batches; ++b) bounds[size_t(b)] = items * b / batches;
  return bounds;
}

}  // namespace gradcam
