// The dataset reader (engine/src/image/dataset.cpp) on small folders written here: which files
// are images, their order, class folders, CIFAR-10 batches and the errors that name the file.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gradcam/dataset.h"
#include "gradcam/model.h"

namespace fs = std::filesystem;
using namespace gradcam;

namespace {

// A fresh folder under the system's temporary folder, removed at the end of the test.
struct Folder {
  fs::path path;
  explicit Folder(const std::string& name) {
    const auto tick = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path() / ("gradcam-dataset-" + name + "-" + std::to_string(tick));
    fs::create_directories(path);
  }
  ~Folder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::vector<uint8_t>& bytes) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream f(path / rel, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
};

// n CIFAR-10 records: label (first + r) % 10, then the R, G, B planes with values from the record.
std::vector<uint8_t> batch_bytes(int n, int first) {
  std::vector<uint8_t> b;
  for (int r = first; r < first + n; ++r) {
    b.push_back(uint8_t(r % 10));
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 1024; ++k) b.push_back(uint8_t((r * 31 + c * 70 + k) % 251));
  }
  return b;
}

}  // namespace

TEST_CASE("image file names and the files below a folder, sorted and relative") {
  CHECK(is_image_file_name("a/b/Photo.JPG"));
  CHECK(is_image_file_name("x.jpeg"));
  CHECK(is_image_file_name("x.gif"));
  CHECK_FALSE(is_image_file_name("notes.txt"));
  CHECK_FALSE(is_image_file_name("png"));
  CHECK(is_cifar_batch_name("test_batch.BIN"));
  Folder dir("below");
  for (const char* f : {"b/2.png", "a/1.jpg", "a/deeper/3.gif", "top.bmp", "a/readme.txt"}) dir.write(f, {1});
  fs::create_directories(dir.path / "folder.png");  // a folder with an image's name is not an image
  auto files = files_below(dir.path.string(), is_image_file_name);
  REQUIRE(files.ok());
  CHECK(*files == std::vector<std::string>{"a/1.jpg", "a/deeper/3.gif", "b/2.png", "top.bmp"});
  auto missing = files_below((dir.path / "nope").string(), is_image_file_name);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().find("nope: cannot list folder") != std::string::npos);
}

TEST_CASE("class folders: labels from the folder names, other names are an error listing the classes") {
  const std::vector<std::string>& classes = cifar10_classes();
  Folder dir("classes");
  dir.write("ship/b.png", {1});
  dir.write("cat/a.jpg", {1});
  dir.write("cat/z.txt", {1});
  dir.write("test_batch.bin", batch_bytes(1, 0));  // files beside the folders are the caller's
  auto files = class_folder_images(dir.path.string(), classes);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].label == 3);
  CHECK(fs::path((*files)[0].path).filename() == "a.jpg");
  CHECK((*files)[1].label == 8);
  dir.write("unicorn/x.png", {1});
  auto unknown = class_folder_images(dir.path.string(), classes);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().find("unicorn: folder is not one of the classes (airplane, automobile,") != std::string::npos);
}

TEST_CASE("CIFAR-10 batches: records as images, the test split first, malformed files named") {
  Folder dir("cifar");
  dir.write("data_batch_1.bin", batch_bytes(3, 0));
  auto batch = read_cifar_batch((dir.path / "data_batch_1.bin").string());
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 3);
  CHECK(batch->label(2) == 2);
  const Image img = batch->image(1);
  CHECK(img.width == 32);
  CHECK(img.height == 32);
  for (int k : {0, 33, 1023}) {
    for (int c = 0; c < 3; ++c) CHECK(img.rgba[size_t(k) * 4 + size_t(c)] == uint8_t((31 + c * 70 + k) % 251));
    CHECK(img.rgba[size_t(k) * 4 + 3] == 255);
  }
  std::vector<uint8_t> rgb(CifarBatch::kPixelBytes);
  batch->copy_rgb(2, rgb.data());
  CHECK(rgb[5 * 3 + 1] == uint8_t((62 + 70 + 5) % 251));

  CHECK(evaluation_batches({"d/data_batch_1.bin", "d/test_batch.bin"}) == std::vector<std::string>{"d/test_batch.bin"});
  CHECK(evaluation_batches({"a.bin", "b.bin"}) == std::vector<std::string>{"a.bin", "b.bin"});

  dir.write("short.bin", std::vector<uint8_t>(3000, 1));
  auto cut = read_cifar_batch((dir.path / "short.bin").string());
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().find("short.bin: 3000 bytes is not a whole number of CIFAR-10 records") != std::string::npos);
  dir.write("empty.bin", {});
  CHECK_FALSE(read_cifar_batch((dir.path / "empty.bin").string()).ok());
  std::vector<uint8_t> bad = batch_bytes(2, 0);
  bad[CifarBatch::kRecordBytes] = 10;
  dir.write("label.bin", bad);
  auto label = read_cifar_batch((dir.path / "label.bin").string());
  REQUIRE_FALSE(label.ok());
  CHECK(label.error().find("label.bin: record 1 has label 10 (CIFAR-10 labels are 0..9)") != std::string::npos);
  CHECK(read_cifar_batch((dir.path / "nope.bin").string()).error().find("nope.bin: cannot read") != std::string::npos);
}
