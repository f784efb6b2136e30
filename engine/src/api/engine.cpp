#include "gradcam/engine.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "gradcam/keras.h"
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

Result<LoadOptions> parse_load_options(const std::string& options_json) {
  LoadOptions o;
  const json j = json::parse(options_json.empty() ? "{}" : options_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("model options must be an object");
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (v.is_null()) continue;
      if (k == "mean") {
        o.mean = v.get<std::vector<float>>();
      } else if (k == "std") {
        o.std = v.get<std::vector<float>>();
      } else if (k == "labels" && v.is_string()) {
        auto labels = parse_labels(v.get<std::string>(), "labels");
        if (!labels) return make_error(labels.error());
        o.labels = std::move(*labels);
      } else if (k == "labels") {
        o.labels = v.get<std::vector<std::string>>();
      } else if (k == "size") {
        o.size = v.get<int>();
      } else {
        return make_error("unknown model option \"" + k + "\" (valid: mean, std, labels, size)");
      }
    }
  } catch (const json::exception&) {
    return make_error("model options: mean and std are arrays of numbers, labels an array of strings or a labels file's text, size a number");
  }
  if (o.mean.empty() != o.std.empty()) return make_error("mean and std go together");
  if (o.size < 0 || o.size > 4096) return make_error("size must be 1..4096");
  return o;
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
  return gradcam::set_labels(model_, o->labels);
}

Result<std::unique_ptr<Engine>> Engine::load(const uint8_t* bytes, size_t size, const std::string& source,
                                             const LoadOptions& options) {
  // The format is told by the file's first bytes, not its name.
  Result<Model> m = make_error("");
  if (is_hdf5(bytes, size))
    m = load_keras_hdf5(bytes, size, source);
  else if (is_zip(bytes, size))  // a Keras 3 .keras archive
    m = load_keras_archive(bytes, size, source);
  else if (onnx::looks_like_onnx(bytes, size))
    m = load_onnx_model(bytes, size, source, OnnxOptions{options.size});
  else if (size > 8 && bytes[8] != '{')
    // Not a safetensors header either (an 8-byte length, then the JSON's '{'): reading it as one
    // would report a nonsense header length for what is simply not a model.
    m = make_error(source + ": not a model file: its bytes are none of safetensors, Keras (.h5, .keras) or ONNX");
  else
    m = load_model(bytes, size, source);
  if (!m) return make_error(m.error());
  if (options.size > 0 && !m->graph && (options.size != m->arch.height || options.size != m->arch.width))
    return make_error(source + ": --size applies to ONNX models with a dynamic input size; this model takes " +
                      std::to_string(m->arch.height) + "x" + std::to_string(m->arch.width));
  if (Status s = gradcam::set_normalization(*m, options.mean, options.std); !s) return make_error(s.error());
  if (Status s = gradcam::set_labels(*m, options.labels); !s) return make_error(s.error());
  return std::make_unique<Engine>(std::move(m.value()));
}

Result<std::unique_ptr<Engine>> Engine::load_file(const std::string& path, const LoadOptions& options) {
  auto bytes = read_model_bytes(path);  // raw: load() tells the formats apart by the bytes
  if (!bytes) return make_error(bytes.error());
  return load(bytes->data(), bytes->size(), path, options);
}

namespace {

// The model file's sequential layers become a graph here, once, so every front end sees one.
Model with_graph(Model m) {
  m.graph = model_graph(m);
  return m;
}

}  // namespace

Engine::Engine(Model model) : model_(with_graph(std::move(model))), net_(model_) {}

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

const std::vector<float>& Engine::predict(const std::vector<float>& input) {
  net_.forward(input.data());
  return net_.probabilities();
}

Result<Explanation> Engine::explain(const std::vector<float>& input, const ExplainOptions& options) {
  return gradcam::explain(net_, input.data(), options);
}

std::string Engine::info_json() const {
  const Architecture& a = model_.arch;
  const Graph& g = graph();
  const bool onnx = is_onnx();
  json layers = json::array();
  // A model file counts its own tensors (batch norm stores four vectors, the graph folds them to
  // two); an ONNX model, the constants its nodes hold.
  int64_t parameters = 0;
  if (onnx)
    for (const Node& n : g.nodes)
      for (const auto& w : n.weights) parameters += int64_t(w.size());
  else
    for (const auto& [name, v] : model_.params) parameters += int64_t(v.size());
  if (!onnx) {
    for (const LayerSpec& l : a.layers) {
      json lj = {{"name", l.name}, {"type", layer_type_name(l.type)}, {"output", {l.output.h, l.output.w, l.output.c}}};
      if (l.type == LayerType::conv2d) {
        lj["kernel"] = {l.kernel_h, l.kernel_w};
        lj["strides"] = {l.stride_h, l.stride_w};
        lj["padding"] = l.padding == Padding::same ? "same" : "valid";
      }
      if (l.type == LayerType::conv2d || l.type == LayerType::dense) lj["activation"] = activation_name(l.activation);
      layers.push_back(lj);
    }
  } else {
    // Every node that can be explained: its name, op type, output tensor name and NCHW shape.
    for (int i : explainable_nodes(g)) {
      const Node& n = g.nodes[size_t(i)];
      const Value& v = g.value(n.output);
      layers.push_back({{"name", n.name}, {"type", n.op_type}, {"output_name", v.name}, {"output", {1, v.shape.c, v.shape.h, v.shape.w}}});
    }
  }
  // The method table as front ends need it: names to send back, labels to show, whether the map
  // lives at a layer or at the input, and whether one pass explains every layer.
  json methods = json::array(), method_details = json::array();
  for (const MethodDescriptor& d : method_table()) {
    methods.push_back(d.name);
    method_details.push_back({{"name", d.name},
                              {"label", d.label},
                              {"paper", d.paper},
                              {"resolution", d.resolution == MapResolution::input ? "input" : "layer"},
                              {"all_layers", d.layer_map != nullptr}});
  }
  json meta = json::object();
  for (const auto& [k, v] : model_.metadata) meta[k] = v;
  json explainable = json::array();
  for (int i : explainable_nodes(g)) explainable.push_back(g.nodes[size_t(i)].name);
  json input = {{"height", a.height}, {"width", a.width}, {"channels", a.channels}, {"scale", a.scale}};
  if (!a.mean.empty()) input["mean"] = a.mean, input["std"] = a.std;
  json j = {{"format", onnx ? "onnx" : "model"},
            {"classes", a.classes},
            {"input", input},
            {"input_shape", model_input_shape(model_)},
            {"input_layout", g.input.channels_first ? "NCHW" : "NHWC"},
            {"layers", layers},
            {"conv_layers", explainable},
            {"explainable", explainable},
            {"default_layer", g.default_layer >= 0 ? json(g.nodes[size_t(g.default_layer)].name) : json(nullptr)},
            {"nodes", int(g.nodes.size())},
            {"methods", methods},
            {"method_details", method_details},
            {"trained", model_.trained()},
            {"parameters", parameters},
            {"metadata", meta}};
  return j.dump();
}

}  // namespace gradcam
