// The model file: safetensors reading and writing, the architecture JSON, shape planning.
#include "gradcam/model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

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

std::string layer_label(size_t i, const LayerSpec& l) {
  return "layer " + std::to_string(i) + " (" + (l.name.empty() ? layer_type_name(l.type) : l.name) + ")";
}

// Reads a pair like "kernel":[3,3] (or a single integer meaning both).
bool read_pair(const json& j, const char* key, int& a, int& b, int fallback_a, int fallback_b) {
  if (!j.contains(key)) {
    a = fallback_a;
    b = fallback_b;
    return fallback_a > 0;
  }
  const json& v = j.at(key);
  if (v.is_number_integer()) {
    a = b = v.get<int>();
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer()) {
    a = v[0].get<int>();
    b = v[1].get<int>();
  } else {
    return false;
  }
  return a > 0 && b > 0 && a <= ModelLimits::kMaxSide && b <= ModelLimits::kMaxSide;
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

// A list of non-negative integers (tensor shapes and offsets), each at most hi.
bool read_uints(const json& v, uint64_t hi, std::vector<uint64_t>& out) {
  if (!v.is_array()) return false;
  out.clear();
  for (const json& x : v) {
    if (!x.is_number_unsigned() || x.get<uint64_t>() > hi) return false;
    out.push_back(x.get<uint64_t>());
  }
  return true;
}

Result<Padding> read_padding(const json& j, const std::string& where) {
  std::string p = j.value("padding", std::string("valid"));
  if (p == "valid") return Padding::valid;
  if (p == "same") return Padding::same;
  return make_error(where + ": padding must be \"valid\" or \"same\", got \"" + p + "\"");
}

// Keras output size and leading padding for one spatial dimension.
void conv_dim(int in, int k, int s, Padding p, int& out, int& pad_before) {
  if (p == Padding::valid) {
    out = in >= k ? (in - k) / s + 1 : 0;
    pad_before = 0;
  } else {
    out = (in + s - 1) / s;
    int total = std::max((out - 1) * s + k - in, 0);
    pad_before = total / 2;
  }
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) t += ',';
    t += std::to_string(s[i]);
  }
  return t + "]";
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

Status plan_shapes(Architecture& arch) {
  if (arch.height <= 0 || arch.width <= 0 || arch.channels <= 0 || arch.height > ModelLimits::kMaxSide ||
      arch.width > ModelLimits::kMaxSide || arch.channels > ModelLimits::kMaxChannels)
    return make_error("input shape " + std::to_string(arch.height) + "x" + std::to_string(arch.width) + "x" +
                      std::to_string(arch.channels) + " is outside the limits (1.." +
                      std::to_string(ModelLimits::kMaxSide) + " a side)");
  if (arch.layers.empty()) return make_error("architecture has no layers");
  if (int(arch.layers.size()) > ModelLimits::kMaxLayers)
    return make_error("architecture has " + std::to_string(arch.layers.size()) + " layers; the limit is " +
                      std::to_string(ModelLimits::kMaxLayers));
  Shape s{arch.height, arch.width, arch.channels};
  bool flat = false;
  int64_t activations = s.size();
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    LayerSpec& l = arch.layers[i];
    l.input = s;
    const std::string where = layer_label(i, l);
    switch (l.type) {
      case LayerType::conv2d: {
        if (flat) return make_error(where + ": conv2d after flatten");
        if (l.filters <= 0 || l.filters > ModelLimits::kMaxChannels)
          return make_error(where + ": filters must be 1.." + std::to_string(ModelLimits::kMaxChannels));
        int pt, pl;
        conv_dim(s.h, l.kernel_h, l.stride_h, l.padding, s.h, pt);
        conv_dim(s.w, l.kernel_w, l.stride_w, l.padding, s.w, pl);
        s.c = l.filters;
        break;
      }
      case LayerType::max_pool2d: {
        if (flat) return make_error(where + ": max_pool2d after flatten");
        int pt, pl;
        conv_dim(s.h, l.pool_h, l.stride_h, l.padding, s.h, pt);
        conv_dim(s.w, l.pool_w, l.stride_w, l.padding, s.w, pl);
        break;
      }
      case LayerType::flatten:
        s = Shape{1, 1, int(s.size())};
        flat = true;
        break;
      case LayerType::dense:
        if (!flat && (s.h != 1 || s.w != 1))
          return make_error(where + ": dense needs a flat input (add a flatten layer before it)");
        if (l.filters <= 0 || l.filters > ModelLimits::kMaxChannels)
          return make_error(where + ": units must be 1.." + std::to_string(ModelLimits::kMaxChannels));
        s = Shape{1, 1, l.filters};
        flat = true;
        break;
      case LayerType::dropout:
      case LayerType::batch_norm:
        break;
    }
    if (s.h <= 0 || s.w <= 0 || s.c <= 0)
      return make_error(where + ": output would be empty (" + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" +
                        std::to_string(s.c) + "); the input is too small for this network");
    if (s.size() > ModelLimits::kMaxTensorElements)
      return make_error(where + ": output has " + std::to_string(s.size()) + " elements, over the limit");
    l.output = s;
    activations += s.size();
    if (activations > ModelLimits::kMaxActivationElements)
      return make_error(where + ": the layer outputs up to here hold " + std::to_string(activations) +
                        " values, over the limit of " + std::to_string(ModelLimits::kMaxActivationElements));
  }
  const LayerSpec& last = arch.layers.back();
  if (last.type != LayerType::dense) return make_error("the last layer must be dense (the class scores)");
  if (int(arch.classes.size()) != last.output.c)
    return make_error("architecture names " + std::to_string(arch.classes.size()) + " classes but the last layer has " +
                      std::to_string(last.output.c) + " units");
  return Status::Ok();
}

Result<Architecture> parse_architecture(const std::string& text) {
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
          return make_error(where + ": kernel must be two positive integers");
        if (!read_pair(lj, "strides", l.stride_h, l.stride_w, 1, 1))
          return make_error(where + ": strides must be two positive integers");
        auto p = read_padding(lj, where);
        if (!p) return make_error(p.error());
        l.padding = *p;
      } else if (type == "max_pool2d") {
        l.type = LayerType::max_pool2d;
        if (!read_pair(lj, "pool", l.pool_h, l.pool_w, 2, 2))
          return make_error(where + ": pool must be two positive integers");
        if (!read_pair(lj, "strides", l.stride_h, l.stride_w, l.pool_h, l.pool_w))
          return make_error(where + ": strides must be two positive integers");
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
    Status s = plan_shapes(arch);
    if (!s) return make_error(s.error());
    return arch;
  } catch (const json::exception& e) {
    return make_error(std::string("architecture JSON: ") + e.what());
  }
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

std::vector<ParamSpec> parameter_specs(const Architecture& arch) {
  std::vector<ParamSpec> out;
  for (const LayerSpec& l : arch.layers) {
    if (l.type == LayerType::conv2d) {
      out.push_back({l.name + ".kernel", {l.kernel_h, l.kernel_w, l.input.c, l.filters}});
      out.push_back({l.name + ".bias", {l.filters}});
    } else if (l.type == LayerType::dense) {
      out.push_back({l.name + ".kernel", {l.input.size(), l.filters}});
      out.push_back({l.name + ".bias", {l.filters}});
    } else if (l.type == LayerType::batch_norm) {
      for (const char* p : {"gamma", "beta", "moving_mean", "moving_variance"})
        out.push_back({l.name + "." + p, {l.input.c}});
    }
  }
  return out;
}

bool Model::trained() const {
  auto it = metadata.find("trained");
  return it != metadata.end() && it->second == "true";
}

const std::vector<float>& Model::param(const std::string& layer, const char* name) const {
  return params.at(layer + "." + name);
}

Result<Model> load_model(const uint8_t* bytes, size_t size, const std::string& source) {
  auto fail = [&](const std::string& m) { return make_error(source + ": " + m); };
  if (size == 0) return fail("empty file");
  if (size > ModelLimits::kMaxFileBytes) return fail("file is larger than the 512 MiB model limit");
  if (size < 8) return fail("too short to be a safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[i];
  if (n > ModelLimits::kMaxHeaderBytes || n > size - 8)
    return fail("not a safetensors file or truncated: header length " + std::to_string(n) + " does not fit in " +
                std::to_string(size) + " bytes");
  json header = json::parse(bytes + 8, bytes + 8 + n, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return fail("safetensors header is not valid JSON");
  const uint8_t* data = bytes + 8 + n;
  const uint64_t data_size = size - 8 - n;

  Model model;
  try {
    if (!header.contains("__metadata__") || !header["__metadata__"].is_object())
      return fail("no __metadata__ (the architecture JSON is stored there)");
    for (auto& [k, v] : header["__metadata__"].items()) {
      if (!v.is_string()) return fail("__metadata__." + k + " must be a string");
      model.metadata[k] = v.get<std::string>();
    }
    auto arch_it = model.metadata.find("architecture");
    if (arch_it == model.metadata.end()) return fail("__metadata__ has no \"architecture\"");
    auto arch = parse_architecture(arch_it->second);
    if (!arch) return fail(arch.error());
    model.arch = std::move(arch.value());
    model.metadata.erase("architecture");

    for (const ParamSpec& spec : parameter_specs(model.arch)) {
      if (!header.contains(spec.name)) return fail("missing tensor " + spec.name + " " + shape_text(spec.shape));
      const json& t = header[spec.name];
      std::string dtype = t.at("dtype").get<std::string>();
      std::vector<uint64_t> dims;
      if (!read_uints(t.at("shape"), uint64_t(ModelLimits::kMaxTensorElements), dims))
        return fail("tensor " + spec.name + " has a shape that is not a list of non-negative integers");
      std::vector<int64_t> shape(dims.begin(), dims.end());
      if (shape != spec.shape)
        return fail("tensor " + spec.name + " has shape " + shape_text(shape) + ", expected " + shape_text(spec.shape));
      int64_t count = 1;
      for (int64_t d : shape) count *= d;  // bounded: equals a planned shape
      if (count > ModelLimits::kMaxTensorElements) return fail("tensor " + spec.name + " is larger than the limit");
      size_t elem = dtype == "F32" ? 4 : dtype == "F16" ? 2 : 0;
      if (!elem) return fail("tensor " + spec.name + " has dtype " + dtype + "; F32 and F16 are supported");
      std::vector<uint64_t> off;
      if (!read_uints(t.at("data_offsets"), UINT64_MAX, off))
        return fail("tensor " + spec.name + " has data offsets that are not non-negative integers");
      if (off.size() != 2 || off[0] > off[1] || off[1] > data_size)
        return fail("tensor " + spec.name + " has data offsets outside the file (truncated?)");
      if (off[1] - off[0] != uint64_t(count) * elem)
        return fail("tensor " + spec.name + " has " + std::to_string(off[1] - off[0]) + " bytes, expected " +
                    std::to_string(uint64_t(count) * elem));
      std::vector<float> v(static_cast<size_t>(count));
      const uint8_t* p = data + off[0];
      for (int64_t i = 0; i < count; ++i) {
        if (elem == 4) {
          uint32_t b = uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 | uint32_t(p[4 * i + 2]) << 16 |
                       uint32_t(p[4 * i + 3]) << 24;
          std::memcpy(&v[i], &b, 4);
        } else {
          v[i] = half_to_float(uint16_t(p[2 * i] | p[2 * i + 1] << 8));
        }
        if (!std::isfinite(v[i])) return fail("tensor " + spec.name + " contains NaN or infinity");
      }
      model.params[spec.name] = std::move(v);
    }
  } catch (const json::exception& e) {
    return fail(std::string("malformed safetensors header: ") + e.what());
  }
  return model;
}

Result<Model> load_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return make_error(path + ": cannot open model file");
  std::streamoff n = f.tellg();
  if (n < 0) return make_error(path + ": cannot read model file");
  if (uint64_t(n) > ModelLimits::kMaxFileBytes) return make_error(path + ": file is larger than the 512 MiB model limit");
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  f.seekg(0);
  if (n > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), n)) return make_error(path + ": cannot read model file");
  return load_model(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> save_model(const Model& model) {
  json header = json::object();
  json meta = json::object();
  for (auto& [k, v] : model.metadata) meta[k] = v;
  meta["architecture"] = architecture_to_json(model.arch);
  header["__metadata__"] = meta;
  uint64_t offset = 0;
  std::vector<ParamSpec> specs = parameter_specs(model.arch);
  for (const ParamSpec& s : specs) {
    uint64_t bytes = model.params.at(s.name).size() * 4;
    header[s.name] = {{"dtype", "F32"}, {"shape", s.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h += ' ';  // keep tensor data 8-byte aligned, as the format suggests
  std::vector<uint8_t> out(8 + h.size() + offset);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(n >> (8 * i));
  std::memcpy(out.data() + 8, h.data(), h.size());
  uint8_t* p = out.data() + 8 + h.size();
  for (const ParamSpec& s : specs) {
    for (float f : model.params.at(s.name)) {
      uint32_t b;
      std::memcpy(&b, &f, 4);
      for (int i = 0; i < 4; ++i) *p++ = uint8_t(b >> (8 * i));
    }
  }
  return out;
}

Status save_model_file(const Model& model, const std::string& path) {
  std::vector<uint8_t> bytes = save_model(model);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f || !f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size())))
      return make_error(path + ": cannot write model file");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return make_error(path + ": cannot replace model file");
  return Status::Ok();
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> c = {"airplane", "automobile", "bird", "cat", "deer",
                                             "dog", "frog", "horse", "ship", "truck"};
  return c;
}

Architecture seed_architecture() {
  Architecture a;
  a.classes = cifar10_classes();
  auto conv = [&](const std::string& name, int filters, Padding p) {
    LayerSpec l;
    l.type = LayerType::conv2d;
    l.name = name;
    l.filters = filters;
    l.kernel_h = l.kernel_w = 3;
    l.padding = p;
    l.activation = Activation::relu;
    a.layers.push_back(l);
  };
  auto pool = [&](const std::string& name) {
    LayerSpec l;
    l.type = LayerType::max_pool2d;
    l.name = name;
    l.pool_h = l.pool_w = l.stride_h = l.stride_w = 2;
    a.layers.push_back(l);
  };
  auto simple = [&](LayerType t, const std::string& name, float rate = 0) {
    LayerSpec l;
    l.type = t;
    l.name = name;
    l.rate = rate;
    a.layers.push_back(l);
  };
  auto dense = [&](const std::string& name, int units, Activation act) {
    LayerSpec l;
    l.type = LayerType::dense;
    l.name = name;
    l.filters = units;
    l.activation = act;
    a.layers.push_back(l);
  };
  conv("conv2d", 32, Padding::valid);
  conv("conv2d_1", 128, Padding::same);
  pool("max_pooling2d");
  simple(LayerType::dropout, "dropout", 0.25f);
  conv("conv2d_2", 64, Padding::same);
  pool("max_pooling2d_1");
  simple(LayerType::dropout, "dropout_1", 0.25f);
  conv("conv2d_3", 64, Padding::same);
  conv("conv2d_4", 32, Padding::same);
  simple(LayerType::dropout, "dropout_2", 0.25f);
  conv("conv2d_5", 32, Padding::same);
  conv("conv2d_6", 16, Padding::same);
  pool("max_pooling2d_2");
  simple(LayerType::batch_norm, "batch_normalization");
  conv("conv2d_7", 32, Padding::same);
  conv("conv2d_8", 16, Padding::same);
  pool("max_pooling2d_3");
  simple(LayerType::batch_norm, "batch_normalization_1");
  simple(LayerType::flatten, "flatten");
  dense("dense", 128, Activation::relu);
  dense("dense_1", 64, Activation::relu);
  simple(LayerType::dropout, "dropout_3", 0.5f);
  dense("dense_2", 10, Activation::softmax);
  Status s = plan_shapes(a);
  (void)s;  // the seed network is valid by construction; tests check it
  return a;
}

Model random_model(const Architecture& arch, uint64_t seed) {
  Model m;
  m.arch = arch;
  m.metadata["trained"] = "false";
  m.metadata["description"] = "deterministic random weights (seed " + std::to_string(seed) + "), untrained";
  std::mt19937_64 rng(seed);
  auto uniform = [&](float lo, float hi) {
    return lo + (hi - lo) * float(double(rng() >> 11) * (1.0 / 9007199254740992.0));
  };
  for (const LayerSpec& l : arch.layers) {
    if (l.type == LayerType::conv2d || l.type == LayerType::dense) {
      int64_t fan_in = l.type == LayerType::conv2d ? int64_t(l.kernel_h) * l.kernel_w * l.input.c : l.input.size();
      float limit = std::sqrt(6.f / float(fan_in));  // He-uniform keeps ReLU activations from vanishing
      std::vector<float> k(static_cast<size_t>(fan_in * l.filters));
      for (float& v : k) v = uniform(-limit, limit);
      std::vector<float> b(static_cast<size_t>(l.filters));
      for (float& v : b) v = uniform(0.f, 0.1f);
      m.params[l.name + ".kernel"] = std::move(k);
      m.params[l.name + ".bias"] = std::move(b);
    } else if (l.type == LayerType::batch_norm) {
      size_t c = size_t(l.input.c);
      std::vector<float> g(c), be(c), mu(c), var(c);
      for (size_t i = 0; i < c; ++i) {
        g[i] = uniform(0.8f, 1.2f);
        be[i] = uniform(-0.1f, 0.1f);
        mu[i] = uniform(0.f, 0.2f);
        var[i] = uniform(0.5f, 1.5f);
      }
      m.params[l.name + ".gamma"] = g;
      m.params[l.name + ".beta"] = be;
      m.params[l.name + ".moving_mean"] = mu;
      m.params[l.name + ".moving_variance"] = var;
    }
  }
  return m;
}

}  // namespace gradcam
