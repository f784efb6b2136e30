// The dataset reader (gradcam/dataset.h): folder listings that fail loudly, class folders and the
// CIFAR-10 binary batches.
#include "gradcam/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace gradcam {

namespace fs = std::filesystem;

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  return ext;
}

// Ten times the release's largest file (30,730,000 bytes): a bound, not a format rule.
constexpr std::streamoff kMaxBatchBytes = std::streamoff(CifarBatch::kRecordBytes) * 100000;

}  // namespace

bool is_image_file_name(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

bool is_cifar_batch_name(const std::string& path) { return lower_extension(path) == ".bin"; }

Result<std::vector<std::string>> folder_entries(const std::string& dir) {
  std::vector<std::string> v;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    v.push_back(it->path().string());
  if (ec) return make_error(dir + ": cannot list folder (" + ec.message() + ")");
  std::sort(v.begin(), v.end());
  return v;
}

Result<std::vector<std::string>> files_below(const std::string& dir, bool (*keep)(const std::string& path)) {
  std::vector<std::string> rels;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (keep(it->path().string()) && it->is_regular_file(type_ec))
      rels.push_back(it->path().lexically_relative(dir).generic_string());
  }
  if (ec) return make_error(dir + ": cannot list folder (" + ec.message() + ")");
  std::sort(rels.begin(), rels.end());
  return rels;
}

Result<std::vector<LabelledFile>> class_folder_images(const std::string& dir, const std::vector<std::string>& classes) {
  auto entries = folder_entries(dir);
  if (!entries) return make_error(entries.error());
  std::vector<LabelledFile> files;
  std::error_code ec;
  for (const std::string& p : *entries) {
    if (!fs::is_directory(p, ec)) continue;
    const std::string name = fs::path(p).filename().string();
    auto it = std::find(classes.begin(), classes.end(), name);
    if (it == classes.end()) {
      std::string list;
      for (const std::string& c : classes) list += (list.empty() ? "" : ", ") + c;
      return make_error(p + ": folder is not one of the classes (" + list + ")");
    }
    auto images = folder_entries(p);
    if (!images) return make_error(images.error());
    for (const std::string& f : *images)
      if (is_image_file_name(f)) files.push_back({f, int(it - classes.begin())});
  }
  return files;
}

void CifarBatch::copy_rgb(size_t record, uint8_t* rgb) const {
  const uint8_t* planes = bytes.data() + record * kRecordBytes + 1;
  const size_t plane = size_t(kSide) * kSide;
  for (size_t k = 0; k < plane; ++k)
    for (size_t c = 0; c < 3; ++c) rgb[k * 3 + c] = planes[c * plane + k];
}

Image CifarBatch::image(size_t record) const {
  Image img{kSide, kSide, std::vector<uint8_t>(size_t(kSide) * kSide * 4, 255)};
  uint8_t rgb[kPixelBytes];
  copy_rgb(record, rgb);
  for (size_t k = 0; k < size_t(kSide) * kSide; ++k)
    for (size_t c = 0; c < 3; ++c) img.rgba[k * 4 + c] = rgb[k * 3 + c];
  return img;
}

Result<CifarBatch> read_cifar_batch(const std::string& path) {
  CifarBatch batch;
  batch.path = path;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return make_error(path + ": is a folder, not a CIFAR-10 batch file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return make_error(path + ": cannot read the file");
  const std::streamoff n = f.tellg();
  if (n < 0) return make_error(path + ": cannot read the file");
  if (n > kMaxBatchBytes)
    return make_error(path + ": " + std::to_string(n) + " bytes is more than 100,000 CIFAR-10 records");
  if (n == 0 || size_t(n) % CifarBatch::kRecordBytes)
    return make_error(path + ": " + std::to_string(n) +
                      " bytes is not a whole number of CIFAR-10 records (1 label byte + 3,072 pixel bytes)");
  batch.bytes.resize(size_t(n));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(batch.bytes.data()), n)) return make_error(path + ": cannot read the file");
  for (size_t r = 0; r < batch.size(); ++r)
    if (batch.label(r) >= CifarBatch::kClasses)
      return make_error(path + ": record " + std::to_string(r) + " has label " + std::to_string(batch.label(r)) +
                        " (CIFAR-10 labels are 0..9)");
  return batch;
}

std::vector<std::string> evaluation_batches(const std::vector<std::string>& batches) {
  for (const std::string& b : batches)
    if (fs::path(b).filename() == "test_batch.bin") return {b};
  return batches;
}

}  // namespace gradcam
