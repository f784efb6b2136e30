#include "gradcam/engine.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <cstdio>
#include <memory>
#include <optional>

#include "gradcam/keras.h"
#include "gradcam/tfjs.h"
#include "gradcam/threads.h"
#include "formats/onnx.h"
#include "formats/onnx_import.h"

namespace gradcam {

using json = nlohmann::json;

std::vector<ClassScore> top_k(const std::vector<float>& p, int k) {
  std::vector<int> idx(p.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::clamp(k, 0, int(p.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
  });
  std::vector<ClassScore> out;
  for (int i = 0; i < k; ++i) out.push_back({idx[size_t(i)], p[size_t(idx[size_t(i)])]});
  return out;
}

Status set_normalization(Model& model, const std::vector<float>& mean, const std::vector<float>& std) {
  if (mean.empty() && std.empty()) {
    model.arch.mean.clear(), model.arch.std.clear();
    return {};
  }
  const size_t c = size_t(model.arch.channels);
  if (mean.size() != c || std.size() != c)
    return make_error("mean and std need " + std::to_string(c) + " values each (one per channel), got " +
                      std::to_string(mean.size()) + " and " + std::to_string(std.size()));
  for (size_t k = 0; k < c; ++k) {
    if (!std::isfinite(mean[k]) || !std::isfinite(std[k]) || !(std[k] > 0.f))
      return make_error("std must be positive and mean and std finite");
  }
  model.arch.mean = mean, model.arch.std = std;
  return {};
}

Status set_labels(Model& model, const std::vector<std::string>& labels) {
  if (labels.empty()) return {};
  if (labels.size() != model.arch.classes.size())
    return make_error("the labels name " + std::to_string(labels.size()) + " classes, the model has " +
                      std::to_string(model.arch.classes.size()));
  model.arch.classes = labels;
  return {};
}

Result<std::vector<std::string>> parse_labels(const std::string& text, const std::string& source) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
    pos = end + 1;
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  if (out.empty()) return make_error(source + ": no labels (one class name per line)");
  if (out.size() > size_t(ModelLimits::kMaxClasses)) return make_error(source + ": too many labels");
  return out;
}

Status Engine::set_model_options(const std::string& options_json) {
  auto o = parse_load_options(options_json);
  if (!o) return make_error(o.error());
  if (o->size) return make_error("size can only be given when loading");
  // Checked whole before anything changes: a bad label count leaves the normalisation as it was.
  if (!o->labels.empty() && o->labels.size() != model_.arch.classes.size())
    return gradcam::set_labels(model_, o->labels);
  const json j = json::parse(options_json, nullptr, false);
  if (j.contains("mean") || j.contains("std"))
    if (Status s = gradcam::set_normalization(model_, o->mean, o->std); !s) return s;
  if (o->threads > 0) set_thread_count(o->threads);
  return gradcam::set_labels(model_, o->labels);
}

Result<std::unique_ptr<Engine>> Engine::load(const uint8_t* bytes, size_t size, const std::string& source,
                                             const LoadOptions& options) {
  // The format is told by the file's first bytes, not its name.
  Result<Model> m = make_error("");
  KerasArch given;
  const bool keras = is_hdf5(bytes, size) || is_zip(bytes, size);
  if (!options.arch.empty()) {
    if (!keras)
      return make_error(source + ": " + options.arch_source + " is the architecture of a Keras weights file, and this is " +
                        "not a Keras file (.h5, .weights.h5, .keras)");
    auto parsed = parse_keras_arch(options.arch);
    if (!parsed) return make_error(options.arch_source + ": " + parsed.error());
    given = std::move(parsed.value());
  }
  given.size = options.size;
  const KerasArch* keras_arch = options.arch.empty() && !options.size ? nullptr : &given;
  if (is_hdf5(bytes, size))
    m = load_keras_hdf5(bytes, size, source, keras_arch);
  else if (is_zip(bytes, size))  // a Keras 3 .keras archive
    m = load_keras_archive(bytes, size, source, keras_arch);
  else if (is_tfjs_model_json(bytes, size))
    m = make_error(source + ": a TF.js model.json: its weight files are read beside it, so load it by its path "
                   "(or, in the JS API, hand over model.json with its .bin files)");
  else if (onnx::looks_like_onnx(bytes, size))
    m = load_onnx_model(bytes, size, source, OnnxOptions{options.size});
  else if (size > 8 && bytes[8] != '{')
    // Not a safetensors header either (an 8-byte length, then the JSON's '{'): reading it as one
    // would report a nonsense header length for what is simply not a model.
    m = make_error(source + ": not a model file: its bytes are none of safetensors, Keras (.h5, .keras) or ONNX");
  else
    m = load_model(bytes, size, source);
  return from_model(std::move(m), source, options);
}

Result<std::unique_ptr<Engine>> Engine::from_model(Result<Model> loaded, const std::string& source,
                                                   const LoadOptions& options) {
  if (!loaded) return make_error(loaded.error());
  Model& m = loaded.value();
  if (options.size > 0 && !m.graph && (options.size != m.arch.height || options.size != m.arch.width))
    return make_error(source + ": --size applies to ONNX models with a dynamic input size; this model takes " +
                      std::to_string(m.arch.height) + "x" + std::to_string(m.arch.width));
  // Only a normalisation the caller gives replaces the file's own (a Teachable Machine model's [-1, 1]).
  if (!options.mean.empty() || !options.std.empty())
    if (Status s = gradcam::set_normalization(m, options.mean, options.std); !s) return make_error(s.error());
  if (Status s = gradcam::set_labels(m, options.labels); !s) return make_error(s.error());
  if (options.threads > 0) set_thread_count(options.threads);
  return std::make_unique<Engine>(std::move(m));
}

namespace {

// An ONNX file read as it is decoded (onnx::read_model_file), never held whole: its tensors are
// most of it, and the file's bytes beside them would double the load's memory. Null when the file
// is not ONNX (or a Keras architecture is given, which load() refuses with its own message).
std::optional<Result<Model>> load_onnx_file(const std::string& path, const LoadOptions& options) {
  if (!options.arch.empty()) return std::nullopt;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f || std::fseek(f.get(), 0, SEEK_END) != 0) return std::nullopt;
  const long size = std::ftell(f.get());
  if (size <= 0 || uint64_t(size) > onnx::Limits::kMaxFileBytes) return std::nullopt;  // read_model_bytes says why
  uint8_t prefix[4096];
  std::rewind(f.get());
  const size_t n = std::fread(prefix, 1, sizeof prefix, f.get());
  if (is_hdf5(prefix, n) || is_zip(prefix, n) || !onnx::looks_like_onnx(prefix, n)) return std::nullopt;
  std::rewind(f.get());
  return load_onnx_model_file(f.get(), size_t(size), path, OnnxOptions{options.size});
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::load_file(const std::string& path, const LoadOptions& options) {
  if (auto onnx = load_onnx_file(path, options)) return from_model(std::move(*onnx), path, options);
  auto bytes = read_model_bytes(path);  // raw: load() tells the formats apart by the bytes
  if (!bytes) return make_error(bytes.error());
  // A TF.js model.json names weight files beside it, which only a path can find.
  if (is_tfjs_model_json(bytes->data(), bytes->size())) return from_model(load_tfjs_model_file(path), path, options);
  return load(bytes->data(), bytes->size(), path, options);
}

namespace {

// The model file's sequential layers become a graph here, once, so every front end sees one.
Model with_graph(Model m) {
  m.graph = model_graph(m);
  return m;
}

}  // namespace

Engine::Engine(Model model) : model_(with_graph(std::move(model))) {}

Network& Engine::network() {
  if (!net_) net_ = std::make_unique<Network>(model_, NetworkMemory::by_pass);
  return *net_;
}

std::vector<float> Engine::prepare(const Image& image, CropMode crop) const {
  std::vector<float> x = image_to_input(image, model_.arch.height, model_.arch.width, crop, model_.arch.scale);
  const Architecture& a = model_.arch;
  if (!a.mean.empty()) {
    const size_t c = size_t(a.channels);
    for (size_t k = 0; k < x.size(); ++k) x[k] = (x[k] - a.mean[k % c]) / a.std[k % c];  // pixel_to_input
  }
  return x;
}

float pixel_to_input(const Architecture& a, int k, float pixel) {
  const float x = pixel * a.scale;
  return a.mean.empty() ? x : (x - a.mean[size_t(k)]) / a.std[size_t(k)];
}

float input_to_pixel(const Architecture& a, int k, float x) {
  if (!a.mean.empty()) x = x * a.std[size_t(k)] + a.mean[size_t(k)];
  return x / a.scale;
}

std::string layer_name(const Model& model, int layer) {
  if (model.graph) return model.graph->nodes[size_t(layer)].name;
  return model.arch.layers[size_t(layer)].name;
}

std::vector<int64_t> model_input_shape(const Model& model) {
  const Architecture& a = model.arch;
  if (model.graph && model.graph->input.channels_first) return {1, a.channels, a.height, a.width};
  return {1, a.height, a.width, a.channels};
}

std::vector<float> model_layout_input(const Model& model, const std::vector<float>& hwc) {
  if (!model.graph || !model.graph->input.channels_first) return hwc;
  const size_t c = size_t(model.arch.channels), hw = hwc.size() / c;
  std::vector<float> chw(hwc.size());
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) chw[k * hw + i] = hwc[i * c + k];
  return chw;
}

Result<std::vector<float>> Engine::predict(const std::vector<float>& input) {
  Network& net = network();
  // Any plan holds the logits: a forward alone plans only when nothing was planned yet.
  if (!net.planned())
    if (Status s = net.plan_pass({}); !s) return make_error(s.error());
  net.forward(input.data());
  return net.probabilities();
}

Result<Explanation> Engine::explain(const std::vector<float>& input, const ExplainOptions& options) {
  return gradcam::explain(network(), input.data(), options);
}

}  // namespace gradcam
