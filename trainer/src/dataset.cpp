#include "dataset.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>

#include "gradcam/dataset.h"
#include "gradcam/image.h"
#include "hash_random.h"

namespace trainer {

namespace fs = std::filesystem;
using gradcam::make_error;

namespace {

constexpr int kCifarSide = gradcam::CifarBatch::kSide;

bool read_bytes(const fs::path& p, std::vector<uint8_t>& out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

gradcam::Result<Dataset> load_image_folder(const fs::path& dir, const std::vector<std::string>& classes,
                                           OnBadImage on_bad, int threads, LoadReport* report) {
  auto listed = gradcam::class_folder_images(dir.string(), classes);
  if (!listed) return make_error(listed.error());
  const std::vector<gradcam::LabelledFile>& files = *listed;
  if (files.empty())
    return make_error(dir.string() + ": no images found (expected <class>/*.jpg|png folders named after the classes)");

  Dataset d;
  d.height = d.width = kCifarSide;
  const int64_t per = d.image_size();
  d.pixels.assign(files.size() * size_t(per), 0);
  d.labels.assign(files.size(), 0);
  std::vector<std::string> error(files.size());
  // Decoding is independent per file; threads split the list.
#pragma omp parallel for schedule(dynamic, 256) num_threads(std::max(threads, 1))
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<uint8_t> bytes;
    if (!read_bytes(files[i].path, bytes)) {
      error[i] = "cannot read the file";
      continue;
    }
    auto img = gradcam::decode_image(bytes.data(), bytes.size());
    if (!img.ok()) {
      error[i] = img.error();
      continue;
    }
    d.labels[i] = files[i].label;
    uint8_t* dst = d.pixels.data() + int64_t(i) * per;
    if (img->width == d.width && img->height == d.height) {
      for (int k = 0; k < d.width * d.height; ++k)
        for (int c = 0; c < 3; ++c) dst[k * 3 + c] = img->rgba[size_t(k) * 4 + size_t(c)];
    } else {  // any other size: the engine's own reduction (centre crop, area resampling)
      std::vector<float> v = gradcam::image_to_input(*img, d.height, d.width, gradcam::CropMode::center, 1.f);
      for (int64_t k = 0; k < per; ++k) dst[k] = uint8_t(std::clamp(v[size_t(k)] + 0.5f, 0.f, 255.f));
    }
  }
  // Drop (skip) or report (stop) the bad ones, in file order.
  size_t kept = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!error[i].empty()) {
      const std::string msg = files[i].path + ": " + error[i];
      if (on_bad == OnBadImage::stop)
        return make_error(msg + " (use --on-bad-image skip to leave bad images out)");
      if (report) report->skipped.push_back(msg);
      continue;
    }
    if (kept != i) {
      std::copy_n(d.pixels.data() + int64_t(i) * per, per, d.pixels.data() + int64_t(kept) * per);
      d.labels[kept] = d.labels[i];
    }
    ++kept;
  }
  d.pixels.resize(kept * size_t(per));
  d.labels.resize(kept);
  if (kept == 0) return make_error(dir.string() + ": none of the images could be decoded");
  return d;
}

}  // namespace

gradcam::Result<Dataset> load_cifar_binary(const std::vector<std::string>& files) {
  Dataset d;
  d.height = d.width = kCifarSide;
  for (const std::string& f : files) {
    auto batch = gradcam::read_cifar_batch(f);
    if (!batch) return make_error(batch.error());
    const size_t base = d.labels.size();
    d.labels.resize(base + batch->size());
    d.pixels.resize(d.labels.size() * gradcam::CifarBatch::kPixelBytes);
    for (size_t r = 0; r < batch->size(); ++r) {
      d.labels[base + r] = batch->label(r);
      batch->copy_rgb(r, d.pixels.data() + (base + r) * gradcam::CifarBatch::kPixelBytes);
    }
  }
  return d;
}

gradcam::Result<Dataset> load_cifar10(const std::string& root_name, const std::string& split,
                                      const std::vector<std::string>& classes, OnBadImage on_bad, int threads,
                                      LoadReport* report) {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::path root(root_name);
  if (!fs::exists(root, ec)) return make_error(root_name + ": no such folder");
  if (!fs::is_directory(root, ec)) return make_error(root_name + ": not a folder");
  if (fs::is_directory(root / "cifar-10-batches-bin", ec)) root /= "cifar-10-batches-bin";
  gradcam::Result<Dataset> out = make_error("");
  std::string format;
  if (fs::exists(root / "test_batch.bin", ec) || fs::exists(root / "data_batch_1.bin", ec)) {
    format = "cifar-10 binary";
    std::vector<std::string> files;
    if (split == "train")
      for (int i = 1; i <= 5; ++i) files.push_back((root / ("data_batch_" + std::to_string(i) + ".bin")).string());
    else
      files.push_back((root / "test_batch.bin").string());
    for (const auto& f : files)
      if (!fs::exists(f, ec)) return make_error(f + ": missing (the CIFAR-10 binary release has data_batch_1..5.bin "
                                                "and test_batch.bin)");
    out = load_cifar_binary(files);
  } else if (fs::is_directory(root / split, ec)) {
    format = "image folder";
    out = load_image_folder(root / split, classes, on_bad, threads, report);
  } else {
    return make_error(root_name + ": expected CIFAR-10 data: either the binary release (data_batch_1..5.bin, "
                      "test_batch.bin) or image folders " + split + "/<class>/*.jpg|png; found neither");
  }
  if (report) {
    report->format = format;
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

void split_validation(const Dataset& all, int count, uint64_t seed, Dataset& train, Dataset& val) {
  std::vector<int> order(size_t(all.size()));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ 0x76616c69646174ull);
  std::shuffle(order.begin(), order.end(), rng);
  count = std::clamp(count, 0, all.size());
  auto take = [&](Dataset& d, int from, int to) {
    d.height = all.height, d.width = all.width, d.channels = all.channels;
    // Shuffled order, so that the first N images (--limit-train) are a random sample of all classes.
    std::vector<int> idx(order.begin() + from, order.begin() + to);
    d.labels.resize(idx.size());
    d.pixels.resize(idx.size() * size_t(all.image_size()));
    for (size_t k = 0; k < idx.size(); ++k) {
      d.labels[k] = all.labels[size_t(idx[k])];
      std::copy_n(all.image(idx[k]), all.image_size(), d.pixels.data() + int64_t(k) * all.image_size());
    }
  };
  take(val, 0, count);
  take(train, count, all.size());
}

void make_batch(const Dataset& d, const int* indices, int B, float scale, const Augment& aug, uint64_t seed,
                float* x, int* labels) {
  const int H = d.height, W = d.width, C = d.channels;
  for (int b = 0; b < B; ++b) {
    const int idx = indices[b];
    labels[b] = d.labels[size_t(idx)];
    const uint8_t* src = d.image(idx);
    float* dst = x + int64_t(b) * d.image_size();
    int dy = 0, dx = 0;
    bool flip = false;
    if (aug.enabled) {
      const int span = 2 * aug.pad + 1;
      dy = std::min(int(hash_uniform(seed, 1, uint64_t(idx)) * span), span - 1) - aug.pad;
      dx = std::min(int(hash_uniform(seed, 2, uint64_t(idx)) * span), span - 1) - aug.pad;
      flip = aug.flip && hash_uniform(seed, 3, uint64_t(idx)) < 0.5f;
    }
    for (int y = 0; y < H; ++y)
      for (int xo = 0; xo < W; ++xo) {
        const int sy = y + dy, sx0 = xo + dx, sx = flip ? W - 1 - sx0 : sx0;
        float* p = dst + (int64_t(y) * W + xo) * C;
        if (sy < 0 || sy >= H || sx0 < 0 || sx0 >= W) {
          for (int c = 0; c < C; ++c) p[c] = 0.f;
        } else {
          const uint8_t* q = src + (int64_t(sy) * W + sx) * C;
          for (int c = 0; c < C; ++c) p[c] = float(q[c]) * scale;
        }
      }
  }
}

}  // namespace trainer
