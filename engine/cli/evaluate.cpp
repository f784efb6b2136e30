// gradcam evaluate: how faithful each method's maps are on a set of images (metrics.h): deletion
// and insertion areas (RISE), ROAD's MoRF and LeRF (noisy linear imputation) and the confidence
// change of keeping the top 20%, each averaged over the images, for the predicted class.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "gradcam/contract.h"
#include "gradcam/dataset.h"
#include "gradcam/metrics.h"

namespace gradcam::cli {

using json = nlohmann::ordered_json;

namespace {

// One image: a file, or a record of a CIFAR-10 binary batch.
struct Sample {
  fs::path file;
  const CifarBatch* batch = nullptr;
  size_t record = 0;
};

Image sample_image(const Sample& s) { return s.batch ? s.batch->image(s.record) : load_image(s.file.string()); }

int run_evaluate(const Args& a) {
  auto engine = load_engine(a);
  std::vector<std::pair<std::string, std::string>> fields;
  for (const char* key : {"layer", "crop"})
    if (a.has(key)) fields.emplace_back(key, a.get(key));
  const ExplainRequest request = unwrap_usage(parse_request(engine->model(), fields, "--"));
  const long limit = long(a.integer("limit", -1, 1, 1000000000));
  const int steps = int(a.integer("steps", 32, 1, 4096));

  std::vector<Method> methods;
  if (a.has("methods")) {
    std::stringstream list(a.get("methods"));
    for (std::string name; std::getline(list, name, ',');) methods.push_back(unwrap_usage(parse_method(name)));
    if (methods.empty()) throw UsageError{"--methods needs at least one method name"};
  } else {
    methods = all_methods();
  }
  if (a.has("csv")) {
    std::error_code ec;
    if (!a.has("overwrite") && fs::exists(a.get("csv"), ec))
      throw UsageError{a.get("csv") + ": already exists (pass --overwrite to replace it)"};
  }

  // The images: CIFAR-10 binary batches (the test batch when present), or every image file below.
  fs::path dir = a.require("data");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError{dir.string() + ": not a folder"};
  std::vector<std::string> bins = unwrap_file(files_below(dir.string(), is_cifar_batch_name));
  std::vector<CifarBatch> batches;
  std::vector<Sample> samples;
  if (!bins.empty()) {
    bins = evaluation_batches(bins);
    batches.reserve(bins.size());  // samples point into it
    for (const std::string& b : bins) {
      batches.push_back(unwrap_file(read_cifar_batch((dir / b).string())));
      for (size_t r = 0; r < batches.back().size(); ++r) samples.push_back({dir / b, &batches.back(), r});
    }
  } else {
    for (const std::string& f : unwrap_file(files_below(dir.string(), is_image_file_name))) samples.push_back({dir / f});
  }
  if (samples.empty()) throw FileError{dir.string() + ": no images and no CIFAR-10 *.bin files"};
  // --limit N: N images spread evenly over the sorted list (class folders sort by class, so the
  // first N would all be airplanes).
  if (limit > 0 && size_t(limit) < samples.size()) {
    std::vector<Sample> spread;
    for (long i = 0; i < limit; ++i) spread.push_back(samples[size_t(i) * samples.size() / size_t(limit)]);
    samples = std::move(spread);
  }

  // The metric table's summaries (contract.h): its columns, in its order.
  const std::vector<MetricSummary>& metrics = metric_summaries();
  std::vector<std::vector<double>> sums(methods.size(), std::vector<double>(metrics.size()));
  long images = 0, failed = 0;
  Network& net = engine->network();
  Progress progress{samples.size(), now_ms(), a.has("quiet") || a.has("json")};
  for (size_t i = 0; i < samples.size(); ++i) {
    try {
      const Image image = sample_image(samples[i]);
      const std::vector<float> input = engine->prepare(image, request.crop);
      for (size_t m = 0; m < methods.size(); ++m) {
        ExplainOptions o = request.options;
        o.method = methods[m];
        auto e = engine->explain(input, o);
        if (!e) throw FileError{samples[i].file.string() + ": " + e.error()};
        const std::vector<double> values = metric_summary_values(net, input.data(), e->cam, e->target, steps);
        for (size_t k = 0; k < metrics.size(); ++k) sums[m][k] += values[k];
      }
      images++;
    } catch (const FileError& err) {
      std::fprintf(stderr, "\ngradcam: %s (skipped)\n", err.message.c_str());
      failed++;
    }
    progress.update(i + 1);
  }
  if (images == 0) throw FileError{dir.string() + ": no image could be read"};

  json out = {{"images", images},
              {"failed", failed},
              {"layer", layer_name(engine->model(), request.options.layer)},
              {"crop", crop_mode_name(request.crop)},
              {"target", "predicted"},
              {"steps", steps},
              {"methods", json::object()}};
  std::string csv = "method";
  for (const MetricSummary& metric : metrics) csv += std::string(",") + metric.name;
  csv += "\n";
  for (size_t m = 0; m < methods.size(); ++m) {
    json row = json::object();
    csv += method_name(methods[m]);
    for (size_t k = 0; k < metrics.size(); ++k) {
      const double mean = sums[m][k] / double(images);
      row[metrics[k].name] = mean;
      char cell[32];
      std::snprintf(cell, sizeof cell, ",%.6f", mean);
      csv += cell;
    }
    csv += "\n";
    out["methods"][method_name(methods[m])] = row;
  }
  if (a.has("csv")) write_file_atomic(a.get("csv"), std::vector<uint8_t>(csv.begin(), csv.end()), a.has("overwrite"));
  if (a.has("json")) {
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("%ld images%s, layer %s, target: the predicted class, %d steps\n", images,
              failed ? (", " + std::to_string(failed) + " unreadable skipped").c_str() : "",
              layer_name(engine->model(), request.options.layer).c_str(), steps);
  // The first column as wide as the longest method name (integrated-gradients is 20 characters).
  int name_width = int(std::strlen("method"));
  for (Method m : methods) name_width = std::max(name_width, int(std::strlen(method_name(m))));
  std::printf("%-*s", name_width, "method");
  for (const MetricSummary& metric : metrics) std::printf(" %10s", metric.label);
  std::printf("\n%-*s", name_width, "");
  for (const MetricSummary& metric : metrics) std::printf(" %10s", metric.lower_is_better ? "(lower)" : "(higher)");
  std::printf("\n");
  for (size_t m = 0; m < methods.size(); ++m) {
    std::printf("%-*s", name_width, method_name(methods[m]));
    for (size_t k = 0; k < metrics.size(); ++k) std::printf(" %10.4f", sums[m][k] / double(images));
    std::printf("\n");
  }
  return 0;
}

}  // namespace

Command evaluate_command() {
  return {"evaluate", nullptr, run_evaluate,
          {{"model", "data", "methods", "layer", "crop", "limit", "steps", "csv"}, {"json", "quiet", "overwrite"}},
          "--model F --data DIR [--methods a,b,...] [--layer NAME] [--crop MODE] [--limit N]\n"
          "[--steps N] [--json] [--csv FILE [--overwrite]] [--quiet]",
          "how faithful each method's maps are: deletion and insertion areas (RISE), ROAD\n"
          "MoRF/LeRF, confidence change of the top 20%; means over the images (or the\n"
          "CIFAR-10 test batch); --limit N takes N images spread over the sorted list"};
}

}  // namespace gradcam::cli
