// Labelled images on disk, in the two forms people have them: folders of images named after the
// classes (<class>/*.jpg|png|...) and the CIFAR-10 binary release (records of 1 label byte and
// 3,072 pixel bytes: the R, G and B planes of a 32x32 image, row-major). One reader for the CLI's
// accuracy, evaluate and batch commands and the trainer, so they agree on what an image file is,
// on the order of the files and on what a CIFAR-10 record holds. Paths are sorted, so every run
// (and every shard of one) sees the files in the same order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/image.h"
#include "gradcam/status.h"

namespace gradcam {

// The extensions decode_image reads: .jpg .jpeg .png .bmp .gif, in any case.
bool is_image_file_name(const std::string& path);

// The entries directly in `dir` (files and folders), as sorted paths; an error when it cannot be
// listed.
Result<std::vector<std::string>> folder_entries(const std::string& dir);

// The regular files at any depth below `dir` whose names pass `keep`, as sorted paths relative to
// `dir` with '/' separators ("cat/0001.png").
Result<std::vector<std::string>> files_below(const std::string& dir, bool (*keep)(const std::string& path));

// An image file and its class index.
struct LabelledFile {
  std::string path;
  int label = 0;
};

// The images of class folders: dir/<class>/<image> with <class> one of `classes` (its index is the
// label); files directly in `dir` are left to the caller (CIFAR-10 batches may sit beside the
// folders). A folder with another name is an error that lists the classes.
Result<std::vector<LabelledFile>> class_folder_images(const std::string& dir, const std::vector<std::string>& classes);

// One file of the CIFAR-10 binary release, read whole.
struct CifarBatch {
  static constexpr int kSide = 32;
  static constexpr size_t kPixelBytes = size_t(3) * kSide * kSide;
  static constexpr size_t kRecordBytes = 1 + kPixelBytes;
  static constexpr int kClasses = 10;
  std::string path;
  std::vector<uint8_t> bytes;
  size_t size() const { return bytes.size() / kRecordBytes; }
  int label(size_t record) const { return bytes[record * kRecordBytes]; }
  // The record's pixels as 32x32 RGB, interleaved (HWC): kPixelBytes at `rgb`.
  void copy_rgb(size_t record, uint8_t* rgb) const;
  // The record as an image (alpha 255), as decode_image would give it.
  Image image(size_t record) const;
};

// A batch file: a whole, non-zero number of records with labels 0..9; errors name the file (and
// the record).
Result<CifarBatch> read_cifar_batch(const std::string& path);

// True for a CIFAR-10 batch file name (*.bin).
bool is_cifar_batch_name(const std::string& path);

// The batches to measure on among `batches`: the test split (test_batch.bin) when it is there,
// else all of them.
std::vector<std::string> evaluation_batches(const std::vector<std::string>& batches);

}  // namespace gradcam
