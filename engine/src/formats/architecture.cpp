// The architecture: its JSON schema (parse and print, every field checked before use). What its
// layers compute, their shapes and the parameters they need come from the graph the Keras layer
// handlers build of them (formats/model_graph.cpp: check_architecture, parameter_specs).
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "gradcam/model.h"

namespace gradcam {

using json = nlohmann::json;

const char* layer_type_name(LayerType t) {
  switch (t) {
    case LayerType::conv2d: return "conv2d";
    case LayerType::max_pool2d: return "max_pool2d";
    case LayerType::dropout: return "dropout";
    case LayerType::batch_norm: return "batch_norm";
    case LayerType::flatten: return "flatten";
    case LayerType::dense: return "dense";
  }
  return "?";
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::linear: return "linear";
    case Activation::relu: return "relu";
    case Activation::softmax: return "softmax";
  }
  return "?";
}

namespace {

// One side of a pair: a JSON integer in [1, ModelLimits::kMaxSide], compared as int64 before it
// becomes an int (4294967299 must not read as 3).
bool read_side(const json& v, int& out) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(ModelLimits::kMaxSide) : v.get<int64_t>() > ModelLimits::kMaxSide)
    return false;
  const int64_t side = v.get<int64_t>();
  if (side < 1) return false;
  out = int(side);
  return true;
}

// Reads a pair like "kernel":[3,3] (or a single integer meaning both), each in [1, kMaxSide].
bool read_pair(const json& j, const char* key, int& a, int& b, int fallback_a, int fallback_b) {
  if (!j.contains(key)) {
    a = fallback_a;
    b = fallback_b;
    return fallback_a > 0;
  }
  const json& v = j.at(key);
  if (v.is_array() && v.size() == 2) return read_side(v[0], a) && read_side(v[1], b);
  return read_side(v, a) && read_side(v, b);
}

// An integer field in [lo, hi]. JSON numbers such as 4e80 are refused here, before a conversion to
// an integer type (undefined behaviour for a double out of range; found by tools/fuzz.sh).
bool read_int(const json& j, const char* key, int lo, int hi, int& out) {
  if (!j.contains(key) || !j[key].is_number_integer()) return false;
  const int64_t v = j[key].is_number_unsigned() && j[key].get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX
                                                                                                : j[key].get<int64_t>();
  if (v < lo || v > hi) return false;
  out = int(v);
  return true;
}

Result<Padding> read_padding(const json& j, const std::string& where) {
  std::string p = j.value("padding", std::string("valid"));
  if (p == "valid") return Padding::valid;
  if (p == "same") return Padding::same;
  return make_error(where + ": padding must be \"valid\" or \"same\", got \"" + p + "\"");
}

// The fields, each checked; the layers are checked by building them (checked_parameter_specs).
Result<Architecture> read_architecture(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return make_error("architecture is not valid JSON");
  try {
    Architecture arch;
    if (j.value("format", std::string()) != "gradcam-cnn")
      return make_error("architecture format must be \"gradcam-cnn\"");
    int version = 0;
    if (!read_int(j, "version", 1, 1, version)) return make_error("architecture version must be 1");
    const json& in = j.at("input");
    if (!read_int(in, "height", 1, ModelLimits::kMaxSide, arch.height) ||
        !read_int(in, "width", 1, ModelLimits::kMaxSide, arch.width) ||
        !read_int(in, "channels", 1, ModelLimits::kMaxChannels, arch.channels))
      return make_error("input height and width must be integers 1.." + std::to_string(ModelLimits::kMaxSide) +
                        ", channels 1.." + std::to_string(ModelLimits::kMaxChannels));
    arch.scale = in.value("scale", 1.f / 255.f);
    if (!(arch.scale > 0 && std::isfinite(arch.scale))) return make_error("input scale must be positive");
    if (in.value("layout", std::string("HWC")) != "HWC") return make_error("input layout must be \"HWC\"");
    if (arch.channels != 3) return make_error("input must have 3 channels (RGB)");
    const json& classes = j.at("classes");
    if (!classes.is_array() || classes.empty() || classes.size() > size_t(ModelLimits::kMaxClasses))
      return make_error("classes must be a non-empty list of names");
    for (const json& c : classes) arch.classes.push_back(c.get<std::string>());
    const json& layers = j.at("layers");
    if (!layers.is_array()) return make_error("layers must be a list");
    if (layers.size() > size_t(ModelLimits::kMaxLayers))
      return make_error("architecture has " + std::to_string(layers.size()) + " layers; the limit is " +
                        std::to_string(ModelLimits::kMaxLayers));
    std::vector<std::string> names;
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& lj = layers[i];
      LayerSpec l;
      std::string type = lj.at("type").get<std::string>();
      l.name = lj.value("name", std::string());
      std::string where = "layer " + std::to_string(i) + " (" + (l.name.empty() ? type : l.name) + ")";
      if (type == "conv2d") {
        l.type = LayerType::conv2d;
        if (!read_int(lj, "filters", 1, ModelLimits::kMaxChannels, l.filters))
          return make_error(where + ": filters must be an integer 1.." + std::to_string(ModelLimits::kMaxChannels));
        if (!read_pair(lj, "kernel", l.kernel_h, l.kernel_w, 0, 0))
          return make_error(where + ": kernel must be two integers from 1 to " + std::to_string(ModelLimits::kMaxSide));
        if (!read_pair(lj, "strides", l.stride_h, l.stride_w, 1, 1))
          return make_error(where + ": strides must be two integers from 1 to " + std::to_string(ModelLimits::kMaxSide));
        auto p = read_padding(lj, where);
        if (!p) return make_error(p.error());
        l.padding = *p;
      } else if (type == "max_pool2d") {
        l.type = LayerType::max_pool2d;
        if (!read_pair(lj, "pool", l.pool_h, l.pool_w, 2, 2))
          return make_error(where + ": pool must be two integers from 1 to " + std::to_string(ModelLimits::kMaxSide));
        if (!read_pair(lj, "strides", l.stride_h, l.stride_w, l.pool_h, l.pool_w))
          return make_error(where + ": strides must be two integers from 1 to " + std::to_string(ModelLimits::kMaxSide));
        auto p = read_padding(lj, where);
        if (!p) return make_error(p.error());
        l.padding = *p;
      } else if (type == "dropout") {
        l.type = LayerType::dropout;
        l.rate = lj.value("rate", 0.f);
        if (!(l.rate >= 0 && l.rate < 1)) return make_error(where + ": rate must be in [0,1)");
      } else if (type == "batch_norm") {
        l.type = LayerType::batch_norm;
        l.epsilon = lj.value("epsilon", 1e-3f);
        if (!(l.epsilon > 0)) return make_error(where + ": epsilon must be positive");
      } else if (type == "flatten") {
        l.type = LayerType::flatten;
      } else if (type == "dense") {
        l.type = LayerType::dense;
        if (!read_int(lj, "units", 1, ModelLimits::kMaxChannels, l.filters))
          return make_error(where + ": units must be an integer 1.." + std::to_string(ModelLimits::kMaxChannels));
      } else {
        return make_error(where + ": unknown layer type \"" + type +
                          "\" (known: conv2d, max_pool2d, dropout, batch_norm, flatten, dense)");
      }
      if (l.type == LayerType::conv2d || l.type == LayerType::dense) {
        std::string act = lj.value("activation", std::string("linear"));
        if (act == "relu") l.activation = Activation::relu;
        else if (act == "linear") l.activation = Activation::linear;
        else if (act == "softmax" && l.type == LayerType::dense && i + 1 == layers.size()) l.activation = Activation::softmax;
        else return make_error(where + ": activation \"" + act + "\" is not supported here (relu, linear; softmax on the last dense layer)");
      }
      if (l.name.empty()) return make_error(where + ": every layer needs a name");
      if (std::find(names.begin(), names.end(), l.name) != names.end())
        return make_error(where + ": duplicate layer name \"" + l.name + "\"");
      names.push_back(l.name);
      arch.layers.push_back(l);
    }
    return arch;
  } catch (const json::exception& e) {
    return make_error(std::string("architecture JSON: ") + e.what());
  }
}

}  // namespace

Result<ParsedArchitecture> parse_architecture_with_params(const std::string& text) {
  auto arch = read_architecture(text);
  if (!arch) return make_error(arch.error());
  auto params = checked_parameter_specs(*arch);
  if (!params) return make_error(params.error());
  return ParsedArchitecture{std::move(*arch), std::move(*params)};
}

Result<Architecture> parse_architecture(const std::string& text) {
  auto parsed = parse_architecture_with_params(text);
  if (!parsed) return make_error(parsed.error());
  return std::move(parsed->arch);
}

std::string architecture_to_json(const Architecture& arch) {
  json j;
  j["format"] = "gradcam-cnn";
  j["version"] = 1;
  j["input"] = {{"height", arch.height}, {"width", arch.width}, {"channels", arch.channels},
                {"scale", arch.scale}, {"layout", "HWC"}};
  j["classes"] = arch.classes;
  json layers = json::array();
  for (const LayerSpec& l : arch.layers) {
    json lj = {{"type", layer_type_name(l.type)}, {"name", l.name}};
    const char* pad = l.padding == Padding::same ? "same" : "valid";
    switch (l.type) {
      case LayerType::conv2d:
        lj["filters"] = l.filters;
        lj["kernel"] = {l.kernel_h, l.kernel_w};
        lj["strides"] = {l.stride_h, l.stride_w};
        lj["padding"] = pad;
        lj["activation"] = activation_name(l.activation);
        break;
      case LayerType::max_pool2d:
        lj["pool"] = {l.pool_h, l.pool_w};
        lj["strides"] = {l.stride_h, l.stride_w};
        lj["padding"] = pad;
        break;
      case LayerType::dropout: lj["rate"] = l.rate; break;
      case LayerType::batch_norm: lj["epsilon"] = l.epsilon; break;
      case LayerType::flatten: break;
      case LayerType::dense:
        lj["units"] = l.filters;
        lj["activation"] = activation_name(l.activation);
        break;
    }
    layers.push_back(lj);
  }
  j["layers"] = layers;
  return j.dump();
}

}  // namespace gradcam
