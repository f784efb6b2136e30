#include "gradcam/engine.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "gradcam/keras.h"

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

Result<std::unique_ptr<Engine>> Engine::load(const uint8_t* bytes, size_t size, const std::string& source) {
  // The format is told by the file's first bytes, not its name: HDF5 is a Keras file.
  if (is_hdf5(bytes, size)) {
    auto m = load_keras_hdf5(bytes, size, source);
    if (!m) return make_error(m.error());
    return std::make_unique<Engine>(std::move(m.value()));
  }
  if (is_zip(bytes, size)) {  // a Keras 3 .keras archive
    auto m = load_keras_archive(bytes, size, source);
    if (!m) return make_error(m.error());
    return std::make_unique<Engine>(std::move(m.value()));
  }
  auto m = load_model(bytes, size, source);
  if (!m) return make_error(m.error());
  return std::make_unique<Engine>(std::move(m.value()));
}

Result<std::unique_ptr<Engine>> Engine::load_file(const std::string& path) {
  auto bytes = read_model_bytes(path);  // raw: load() tells safetensors from HDF5 by the bytes
  if (!bytes) return make_error(bytes.error());
  return load(bytes->data(), bytes->size(), path);
}

Engine::Engine(Model model) : model_(std::move(model)), net_(model_) {}

std::vector<float> Engine::prepare(const Image& image, CropMode crop) const {
  return image_to_input(image, model_.arch.height, model_.arch.width, crop, model_.arch.scale);
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
  json layers = json::array();
  int64_t parameters = 0;
  for (const auto& [name, v] : model_.params) parameters += int64_t(v.size());
  for (const LayerSpec& l : a.layers) {
    json lj = {{"name", l.name},
               {"type", layer_type_name(l.type)},
               {"output", {l.output.h, l.output.w, l.output.c}}};
    if (l.type == LayerType::conv2d) {
      lj["kernel"] = {l.kernel_h, l.kernel_w};
      lj["strides"] = {l.stride_h, l.stride_w};
      lj["padding"] = l.padding == Padding::same ? "same" : "valid";
    }
    if (l.type == LayerType::conv2d || l.type == LayerType::dense) lj["activation"] = activation_name(l.activation);
    layers.push_back(lj);
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
  json j = {{"classes", a.classes},
            {"input", {{"height", a.height}, {"width", a.width}, {"channels", a.channels}, {"scale", a.scale}}},
            {"layers", layers},
            {"conv_layers", json::array()},
            {"methods", methods},
            {"method_details", method_details},
            {"trained", model_.trained()},
            {"parameters", parameters},
            {"metadata", meta}};
  for (const LayerSpec& l : a.layers)
    if (l.type == LayerType::conv2d) j["conv_layers"].push_back(l.name);
  return j.dump();
}

}  // namespace gradcam
