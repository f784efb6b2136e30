// The data readers on tiny generated datasets in a temporary folder: the CIFAR-10 binary release
// and image folders, bad images, malformed input, the validation split and batch assembly.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "dataset.h"
#include "gradcam/image.h"
#include "gradcam/model.h"
#include "test_helpers.h"

namespace fs = std::filesystem;
using namespace trainer;
using trainer::test::TempDir;

namespace {

uint8_t pixel_value(int record, int plane, int k) { return uint8_t((record * 31 + plane * 70 + k) % 251); }

// n records of 1 label byte + R, G, B planes.
void write_batch(const fs::path& file, int n, int first_record) {
  std::ofstream f(file, std::ios::binary);
  for (int r = 0; r < n; ++r) {
    const int rec = first_record + r;
    f.put(char(rec % 10));
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 1024; ++k) f.put(char(pixel_value(rec, c, k)));
  }
}

void write_file(const fs::path& file, const std::vector<uint8_t>& bytes) {
  fs::create_directories(file.parent_path());
  std::ofstream f(file, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<uint8_t> solid_png(uint8_t r, uint8_t g, uint8_t b, int side = 32) {
  std::vector<uint8_t> rgb(size_t(side * side * 3));
  for (int k = 0; k < side * side; ++k) rgb[size_t(k * 3)] = r, rgb[size_t(k * 3 + 1)] = g, rgb[size_t(k * 3 + 2)] = b;
  return gradcam::encode_png(rgb.data(), side, side, 3);
}

const std::vector<std::string>& classes() { return gradcam::cifar10_classes(); }

}  // namespace

TEST_CASE("the CIFAR-10 binary release: five train batches, the test batch, planes to HWC") {
  TempDir dir("bin");
  const fs::path root = dir.path / "cifar-10-batches-bin";  // the release's own folder name is found
  fs::create_directories(root);
  for (int i = 1; i <= 5; ++i) write_batch(root / ("data_batch_" + std::to_string(i) + ".bin"), 3, (i - 1) * 3);
  write_batch(root / "test_batch.bin", 4, 100);
  LoadReport report;
  auto train = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::stop, 1, &report);
  REQUIRE_MESSAGE(train.ok(), (train.ok() ? "" : train.error()));
  CHECK(report.format == "cifar-10 binary");
  REQUIRE(train->size() == 15);
  for (int r = 0; r < 15; ++r) {
    CHECK(train->labels[size_t(r)] == r % 10);
    for (int k : {0, 33, 1023})
      for (int c = 0; c < 3; ++c) REQUIRE(train->image(r)[k * 3 + c] == pixel_value(r, c, k));
  }
  auto test = load_cifar10(dir.path.string(), "test", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE(test.ok());
  CHECK(test->size() == 4);
  CHECK(test->image(1)[5 * 3 + 2] == pixel_value(101, 2, 5));
}

TEST_CASE("a malformed or incomplete binary release is an error that names the file") {
  TempDir dir("badbin");
  write_batch(dir.path / "data_batch_1.bin", 2, 0);
  auto missing = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("data_batch_2.bin") != std::string::npos);
  write_file(dir.path / "test_batch.bin", std::vector<uint8_t>(3000, 1));
  auto truncated = load_cifar10(dir.path.string(), "test", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().find("test_batch.bin") != std::string::npos);
  CHECK(truncated.error().find("whole number of CIFAR-10 records") != std::string::npos);
}

TEST_CASE("image folders: labels from the class names, exact pixels, bad images skipped or stopping the run") {
  TempDir dir("folder");
  write_file(dir.path / "train" / "airplane" / "0000.png", solid_png(10, 20, 30));
  write_file(dir.path / "train" / "cat" / "0000.png", solid_png(200, 100, 50));
  write_file(dir.path / "train" / "cat" / "0001.jpg", {0xff, 0xd8, 0xff, 0x00, 0x12});  // a broken JPEG
  write_file(dir.path / "train" / "cat" / "notes.txt", {'h', 'i'});                   // not an image: ignored

  auto stop = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::stop, 2, nullptr);
  REQUIRE_FALSE(stop.ok());
  CHECK(stop.error().find("0001.jpg") != std::string::npos);
  CHECK(stop.error().find("--on-bad-image skip") != std::string::npos);

  LoadReport report;
  auto skip = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::skip, 2, &report);
  REQUIRE(skip.ok());
  CHECK(report.format == "image folder");
  REQUIRE(report.skipped.size() == 1);
  CHECK(report.skipped[0].find("0001.jpg") != std::string::npos);
  REQUIRE(skip->size() == 2);
  CHECK(skip->labels == std::vector<int>{0, 3});  // airplane, cat in CIFAR-10's label order
  CHECK(skip->image(0)[0] == 10);
  CHECK(skip->image(1)[1023 * 3 + 2] == 50);
}

TEST_CASE("image folders of another size are reduced to 32x32") {
  TempDir dir("resize");
  write_file(dir.path / "test" / "ship" / "big.png", solid_png(0, 128, 255, 64));
  auto d = load_cifar10(dir.path.string(), "test", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE(d.ok());
  REQUIRE(d->size() == 1);
  CHECK(d->labels[0] == 8);
  CHECK(int(d->image(0)[(16 * 32 + 16) * 3 + 1]) == 128);
}

TEST_CASE("a missing, empty or wrongly laid out data folder gives a message saying what was expected") {
  TempDir dir("missing");
  auto none = load_cifar10((dir.path / "nope").string(), "train", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().find("no such folder") != std::string::npos);
  auto empty = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().find("data_batch_1..5.bin") != std::string::npos);
  CHECK(empty.error().find("train/<class>") != std::string::npos);
  write_file(dir.path / "train" / "unicorn" / "0.png", solid_png(1, 2, 3));
  auto unknown = load_cifar10(dir.path.string(), "train", classes(), OnBadImage::stop, 1, nullptr);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().find("unicorn") != std::string::npos);
}

TEST_CASE("the validation split is disjoint, complete and seeded") {
  Dataset all;
  const int n = 100;
  all.labels.resize(n);
  all.pixels.resize(size_t(n * all.image_size()));
  for (int i = 0; i < n; ++i) all.labels[size_t(i)] = i % 10, all.pixels[size_t(i * all.image_size())] = uint8_t(i);
  Dataset train, val, train2, val2;
  split_validation(all, 20, 5, train, val);
  split_validation(all, 20, 5, train2, val2);
  CHECK(train.size() == 80);
  CHECK(val.size() == 20);
  std::set<int> ids;
  for (const Dataset* d : {&train, &val})
    for (int i = 0; i < d->size(); ++i) ids.insert(d->image(i)[0]);
  CHECK(ids.size() == 100);
  CHECK(val.pixels == val2.pixels);
}

TEST_CASE("batches: scaled pixels, and augmentation that flips and shifts deterministically") {
  Dataset d;
  d.labels = {7};
  d.pixels.resize(size_t(d.image_size()));
  for (int k = 0; k < 32 * 32 * 3; ++k) d.pixels[size_t(k)] = uint8_t(k % 256);
  const int idx = 0;
  std::vector<float> x(size_t(d.image_size())), y(x.size());
  int label = -1;
  make_batch(d, &idx, 1, 0.5f, Augment{}, 0, x.data(), &label);
  CHECK(label == 7);
  CHECK(x[100] == 50.f);
  Augment flip_only;
  flip_only.enabled = true;
  flip_only.pad = 0;
  bool flipped = false;
  for (uint64_t seed = 0; seed < 8 && !flipped; ++seed) {
    make_batch(d, &idx, 1, 1.f, flip_only, seed, y.data(), &label);
    flipped = y[0] != x[0] * 2;
    if (flipped) {
      for (int c = 0; c < 3; ++c) CHECK(y[size_t(c)] == float(d.pixels[size_t(31 * 3 + c)]));  // (0,0) <- (0,31)
    }
  }
  CHECK(flipped);
  Augment crop;
  crop.enabled = true;
  std::vector<float> a(x.size()), b(x.size());
  make_batch(d, &idx, 1, 1.f, crop, 42, a.data(), &label);
  make_batch(d, &idx, 1, 1.f, crop, 42, b.data(), &label);
  CHECK(a == b);
}
