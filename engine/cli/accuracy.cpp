// gradcam accuracy (also answers to its first name, eval): how often the model's top class is the
// label, over class folders <class>/*.jpg|png or CIFAR-10 binary batches: the accuracy, each
// class's accuracy and the confusion matrix.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "gradcam/dataset.h"

namespace gradcam::cli {

namespace {

using json = nlohmann::json;

int run_accuracy(const Args& a) {
  auto engine = load_engine(a);
  const Architecture& arch = engine->arch();
  CropMode crop = unwrap_usage(parse_crop_mode(a.get("crop", "center")));
  fs::path dir = a.require("data");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError{dir.string() + ": not a folder"};
  const long limit = long(a.integer("limit", -1, 0, 1000000000));
  const int n = int(arch.classes.size());

  // Samples: (label, image file) from class folders, and records of the CIFAR-10 binary batches
  // beside them (the test split if present, else every batch given).
  const std::vector<LabelledFile> files = unwrap_file(class_folder_images(dir.string(), arch.classes));
  std::vector<std::string> bins;
  for (const std::string& p : unwrap_file(folder_entries(dir.string())))
    if (is_cifar_batch_name(p) && !fs::is_directory(p, ec)) bins.push_back(p);
  std::vector<CifarBatch> batches;
  for (const std::string& b : evaluation_batches(bins)) batches.push_back(unwrap_file(read_cifar_batch(b)));
  if (files.empty() && batches.empty())
    throw FileError{dir.string() + ": no <class>/*.jpg|png folders and no CIFAR-10 *.bin files"};

  std::vector<std::vector<long>> confusion(static_cast<size_t>(n), std::vector<long>(size_t(n), 0));
  long total = 0, correct = 0, failed = 0;
  auto classify = [&](int label, const Image& img) {
    const std::vector<float> p = unwrap_file(engine->predict(engine->prepare(img, crop)));
    int pred = int(std::max_element(p.begin(), p.end()) - p.begin());
    confusion[size_t(label)][size_t(pred)]++;
    total++;
    correct += pred == label;
  };
  size_t planned = files.size();
  for (const CifarBatch& b : batches) planned += b.size();
  if (limit >= 0) planned = std::min(planned, size_t(limit));
  Progress progress{planned, now_ms(), a.has("quiet") || a.has("json")};
  for (const LabelledFile& f : files) {
    if (limit >= 0 && total + failed >= limit) break;
    // An image that cannot be read is skipped; a pass the engine cannot run (too big for this
    // platform) fails every image alike, so it ends the run.
    Image img;
    try {
      img = load_image(f.path);
    } catch (const FileError& e) {
      std::fprintf(stderr, "\ngradcam: %s (skipped)\n", e.message.c_str());
      failed++;
      if ((total + failed) % 50 == 0) progress.update(size_t(total + failed));
      continue;
    }
    classify(f.label, img);
    if ((total + failed) % 50 == 0) progress.update(size_t(total + failed));
  }
  for (const CifarBatch& batch : batches) {
    for (size_t r = 0; r < batch.size(); ++r) {
      if (limit >= 0 && total + failed >= limit) break;
      if (batch.label(r) >= n)
        throw FileError{batch.path + ": record " + std::to_string(r) + " has label " + std::to_string(batch.label(r)) +
                        " but the model has " + std::to_string(n) + " classes"};
      classify(batch.label(r), batch.image(r));
      if ((total + failed) % 50 == 0) progress.update(size_t(total + failed));
    }
  }
  progress.update(size_t(total + failed));
  if (total == 0) throw FileError{dir.string() + ": no image could be read"};

  std::vector<double> per_class(static_cast<size_t>(n), 0.0);
  for (int c = 0; c < n; ++c) {
    long row = 0;
    for (long v : confusion[size_t(c)]) row += v;
    per_class[size_t(c)] = row ? double(confusion[size_t(c)][size_t(c)]) / double(row) : 0.0;
  }
  double acc = double(correct) / double(total);
  if (a.has("json")) {
    json j = {{"images", total}, {"failed", failed}, {"accuracy", acc}, {"classes", arch.classes},
              {"per_class_accuracy", per_class}, {"confusion", confusion}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("accuracy: %.2f%% (%ld of %ld images%s)\n", 100 * acc, correct, total,
              failed ? (", " + std::to_string(failed) + " unreadable skipped").c_str() : "");
  std::printf("\n%-12s %8s\n", "class", "accuracy");
  for (int c = 0; c < n; ++c) std::printf("%-12s %7.2f%%\n", arch.classes[size_t(c)].c_str(), 100 * per_class[size_t(c)]);
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
  for (int c = 0; c < n; ++c) std::printf(" %5.5s", arch.classes[size_t(c)].c_str());
  std::printf("\n");
  for (int r = 0; r < n; ++r) {
    std::printf("%-12s", arch.classes[size_t(r)].c_str());
    for (int c = 0; c < n; ++c) std::printf(" %5ld", confusion[size_t(r)][size_t(c)]);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

Command accuracy_command() {
  return {"accuracy", "eval", run_accuracy, {{"model", "data", "crop", "limit"}, {"json", "quiet"}},
          "--model F --data DIR [--crop MODE] [--json] [--limit N] [--quiet]",
          "accuracy, per-class accuracy and confusion matrix on a folder of\n"
          "<class>/*.jpg|png or CIFAR-10 binary batches (*.bin)"};
}

}  // namespace gradcam::cli
