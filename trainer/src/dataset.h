// CIFAR-10 in the two forms people have it: the official binary release (data_batch_1..5.bin and
// test_batch.bin: records of 1 label byte + 3,072 bytes, R, G and B planes, each 32x32 row-major)
// and a folder of images train|test/<class>/*.jpg|png. Images are kept decoded as uint8 HWC.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/status.h"

namespace trainer {

struct Dataset {
  int height = 32, width = 32, channels = 3;
  std::vector<uint8_t> pixels;  // n * height * width * channels, HWC
  std::vector<int> labels;
  int size() const { return int(labels.size()); }
  const uint8_t* image(int i) const { return pixels.data() + int64_t(i) * height * width * channels; }
  int64_t image_size() const { return int64_t(height) * width * channels; }
};

enum class OnBadImage { skip, stop };

struct LoadReport {
  std::string format;               // "cifar-10 binary" or "image folder"
  std::vector<std::string> skipped; // "path: reason" for each bad image skipped
  double seconds = 0;
};

// split: "train" or "test". root is either a folder holding the binary batches (directly or in
// cifar-10-batches-bin/) or a folder holding train/ and test/ class folders. Class folder names
// must be in `classes` (their index is the label). Errors say what was expected where.
gradcam::Result<Dataset> load_cifar10(const std::string& root, const std::string& split,
                                      const std::vector<std::string>& classes, OnBadImage on_bad,
                                      int threads, LoadReport* report);

// The binary batch files of one split, read into a dataset (exposed for tests).
gradcam::Result<Dataset> load_cifar_binary(const std::vector<std::string>& files);

// Splits off `count` images for validation with a seeded shuffle; the rest is returned in `train`.
void split_validation(const Dataset& all, int count, uint64_t seed, Dataset& train, Dataset& val);

// A batch as the network's input: pixels * scale, optionally with the standard CIFAR augmentation
// (random crop of the image zero-padded by `pad` on each side, random horizontal flip), drawn from
// (seed, index) so that a resumed run sees the same batches.
struct Augment {
  bool enabled = false;
  int pad = 4;
  bool flip = true;
};
void make_batch(const Dataset& d, const int* indices, int B, float scale, const Augment& aug, uint64_t seed,
                float* x, int* labels);

}  // namespace trainer
