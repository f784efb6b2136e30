// A TF.js layers model (tfjs.h): model.json's Keras config and weightsManifest, the weight files it
// names, and a Teachable Machine metadata.json. Everything comes from outside: every shape, size
// and path is checked before it is used, and each weight is decoded by TF.js's own rule
// (tfjs-core/src/io/io_utils.ts, decodeWeight) so the engine sees the values tfjs-layers sees.
#include "gradcam/tfjs.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "formats/half_float.h"
#include "gradcam/graph.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

// How one manifest entry is stored: its element count and the bytes per stored value.
struct WeightLayout {
  std::string name, dtype, quantized;  // quantized: "", "uint8", "uint16" or "float16"
  std::vector<int64_t> shape;
  uint64_t count = 0;
  double scale = 1, min = 0;  // uint8 / uint16: value = q * scale + min
  bool skip = false;          // an optimizer's weight (group "optimizer"): stored, not a model weight
  uint64_t bytes() const { return count * (quantized == "uint8" ? 1 : quantized.empty() ? 4 : 2); }
};

Result<WeightLayout> weight_layout(const json& w) {
  WeightLayout l;
  if (!w.is_object() || !w.contains("name") || !w["name"].is_string()) return make_error("a manifest weight has no name");
  l.name = w["name"].get<std::string>();
  auto fail = [&](const std::string& why) { return make_error("weight " + l.name + ": " + why); };
  l.dtype = w.contains("dtype") && w["dtype"].is_string() ? w["dtype"].get<std::string>() : "";
  if (l.dtype != "float32" && l.dtype != "int32")
    return fail("dtype " + (l.dtype.empty() ? std::string("(none)") : l.dtype) +
                " is not a weight type (TF.js layers weights are float32 or int32)");
  if (!w.contains("shape") || !w["shape"].is_array() || w["shape"].size() > 8) return fail("has no valid shape");
  l.count = 1;
  for (const json& d : w["shape"]) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(ModelLimits::kMaxTensorElements))
      return fail("a dimension of its shape is out of range");
    l.count *= d.get<uint64_t>();  // checked per factor, so 8 factors cannot overflow
    if (l.count > uint64_t(ModelLimits::kMaxTensorElements))
      return fail("is larger than the limit of " + std::to_string(ModelLimits::kMaxTensorElements) + " values");
    l.shape.push_back(int64_t(d.get<uint64_t>()));
  }
  l.skip = w.contains("group") && w["group"] == "optimizer";
  if (w.contains("quantization") && !w["quantization"].is_null()) {
    const json& q = w["quantization"];
    if (!q.is_object() || !q.contains("dtype") || !q["dtype"].is_string()) return fail("quantization has no dtype");
    l.quantized = q["dtype"].get<std::string>();
    if (l.quantized == "uint8" || l.quantized == "uint16") {
      if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") || !q["min"].is_number())
        return fail("quantization " + l.quantized + " needs a numeric scale and min");
      l.scale = q["scale"].get<double>(), l.min = q["min"].get<double>();
    } else if (l.quantized == "float16") {
      if (l.dtype != "float32") return fail("float16 quantization applies to float32 weights only");
    } else {
      return fail("quantization dtype " + l.quantized + " is unknown (TF.js writes uint8, uint16 and float16)");
    }
  }
  return l;
}

// One weight's values from its stored bytes (`at` holds l.bytes() of them), little-endian as TF.js
// writes them. int32 weights (rare in layers) become floats. Quantised values are computed in double
// and rounded to float, as TF.js computes them in JS numbers and stores them in a Float32Array.
std::vector<float> decode_weight(const WeightLayout& l, const uint8_t* at) {
  std::vector<float> v(size_t(l.count));
  for (size_t i = 0; i < v.size(); ++i) {
    if (l.quantized == "uint8" || l.quantized == "uint16") {
      uint16_t q = at[i];
      if (l.quantized == "uint16") std::memcpy(&q, at + 2 * i, 2);
      const double x = q * l.scale + l.min;
      v[i] = float(l.dtype == "int32" ? std::round(x) : x);
    } else if (l.quantized == "float16") {
      uint16_t h;
      std::memcpy(&h, at + 2 * i, 2);
      v[i] = half_to_float(h);
    } else if (l.dtype == "int32") {
      int32_t x;
      std::memcpy(&x, at + 4 * i, 4);
      v[i] = float(x);
    } else {
      std::memcpy(&v[i], at + 4 * i, 4);
    }
  }
  return v;
}

// A manifest path may name a file in model.json's folder or below it, never elsewhere: a model
// from the web must not make the reader open /etc/passwd.
bool safe_relative_path(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.front() == '\\' || p.find(':') != std::string::npos) return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find_first_of("/\\", start);
    if (end == std::string::npos) end = p.size();
    if (p.compare(start, end - start, "..") == 0 && end - start == 2) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

bool is_tfjs_model_json(const uint8_t* bytes, size_t size) {
  size_t i = 0;
  if (size >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) i = 3;  // a UTF-8 BOM
  while (i < size && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\r' || bytes[i] == '\n')) ++i;
  if (i == size || bytes[i] != '{') return false;
  // Binary files fail within a few bytes, so parsing is cheap for everything that is not JSON.
  json j = json::parse(bytes + i, bytes + size, nullptr, false);
  return !j.is_discarded() && j.is_object() && (j.contains("modelTopology") || j.contains("weightsManifest"));
}

Result<KerasFile> keras_file_from_tfjs(const std::string& model_json, const TfjsWeightReader& read_weights,
                                       const std::string& source) {
  auto fail = [&](const std::string& why) { return make_error(source + ": " + why); };
  json j = json::parse(model_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not valid JSON (a TF.js model.json is one JSON object)");
  try {
    const std::string format = j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "";
    if (format == "graph-model")
      return fail("a TF.js graph model has no Keras layers to explain; convert the Keras model with "
                  "tensorflowjs_converter --output_format tfjs_layers_model");
    if (!format.empty() && format != "layers-model") return fail("format \"" + format + "\" is not a TF.js layers model");
    if (!j.contains("modelTopology") || !j["modelTopology"].is_object())
      return fail("has no modelTopology (the Keras model config)");
    const json& topology = j["modelTopology"];
    // tfjs-converter nests the config as Keras 2's .h5 does ({"model_config": ..., "keras_version"});
    // tfjs-layers' model.save() writes the config itself.
    const json& config = topology.contains("model_config") ? topology["model_config"] : topology;
    if (!config.is_object() || !config.contains("class_name")) return fail("modelTopology holds no Keras model config");
    KerasFile file;
    file.model_config = config.dump();
    if (topology.contains("keras_version") && topology["keras_version"].is_string())
      file.keras_version = topology["keras_version"].get<std::string>();

    if (!j.contains("weightsManifest") || !j["weightsManifest"].is_array())
      return fail("has no weightsManifest (the list of weight files)");
    uint64_t total = 0;
    for (const json& group : j["weightsManifest"]) {
      if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() || !group.contains("weights") ||
          !group["weights"].is_array())
        return fail("a weightsManifest group needs paths and weights lists");
      std::vector<WeightLayout> layouts;
      uint64_t needed = 0;
      for (const json& w : group["weights"]) {
        if (layouts.size() > size_t(ModelLimits::kMaxLayers) * 8) return fail("too many weights in the manifest");
        auto l = weight_layout(w);
        if (!l) return fail(l.error());
        needed += l->bytes();
        total += l->bytes();
        if (total > ModelLimits::kMaxFileBytes) return fail("the weights are larger than the " + std::to_string(ModelLimits::kMaxFileBytes >> 20) + " MiB model limit");
        layouts.push_back(std::move(l.value()));
      }
      std::vector<uint8_t> data;
      std::string names;
      for (const json& p : group["paths"]) {
        if (!p.is_string()) return fail("a weight file path is not a string");
        const std::string path = p.get<std::string>();
        if (!safe_relative_path(path))
          return fail("weight file \"" + path + "\" is not a path relative to model.json's folder");
        auto bytes = read_weights(path);
        if (!bytes) return fail(bytes.error());
        if (data.size() + bytes->size() > needed)
          return fail("weight file " + path + " holds more bytes than the manifest's weights need (" +
                      std::to_string(needed) + " for its group; is it another model's file?)");
        data.insert(data.end(), bytes->begin(), bytes->end());
        names.append(names.empty() ? "" : ", ").append(path);
      }
      uint64_t offset = 0;
      for (const WeightLayout& l : layouts) {
        if (offset + l.bytes() > data.size())
          return fail("weight file " + (names.empty() ? std::string("(none listed)") : names) + " is too short: " +
                      std::to_string(data.size()) + " bytes, the manifest's weights need " + std::to_string(needed) +
                      " (" + l.name + " is cut off)");
        if (!l.skip) {
          // "conv_pw_13/kernel" names its layer only: it binds by that name wherever the layer sits
          // (an empty group, as a Teachable Machine's nested base writes it); "model_1/conv/kernel"
          // also names the top-level layer (the nested model) it belongs to, as a Keras 2 group.
          const size_t first = l.name.find('/');
          const bool grouped = first != std::string::npos && l.name.find('/', first + 1) != std::string::npos;
          file.tensors.push_back({grouped ? l.name.substr(0, first) : std::string(), l.name, l.shape,
                                  decode_weight(l, data.data() + offset)});
        }
        offset += l.bytes();
      }
    }
    return file;
  } catch (const json::exception& e) {
    return fail(std::string("unexpected structure (") + e.what() + ")");
  }
}

Status apply_tfjs_metadata(Model& model, const std::string& metadata_json, const std::string& source) {
  auto fail = [&](const std::string& why) { return make_error(source + ": " + why); };
  json j = json::parse(metadata_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("not valid JSON");
  const bool teachable = j.contains("packageName") && j["packageName"] == "@teachablemachine/image";
  if (j.contains("labels")) {
    const json& labels = j["labels"];
    if (!labels.is_array()) return fail("labels must be a list of class names");
    std::vector<std::string> names;
    for (const json& l : labels) {
      if (!l.is_string()) return fail("labels must be a list of class names");
      names.push_back(l.get<std::string>());
    }
    if (names.size() != model.arch.classes.size())
      return fail("names " + std::to_string(names.size()) + " labels, the model has " +
                  std::to_string(model.arch.classes.size()) + " classes");
    model.arch.classes = std::move(names);
  }
  if (teachable) {
    if (j.contains("imageSize") &&
        (!j["imageSize"].is_number_integer() || j["imageSize"].get<int64_t>() != model.arch.height ||
         j["imageSize"].get<int64_t>() != model.arch.width))
      return fail("imageSize " + j["imageSize"].dump() + " is not the model's input size " +
                  std::to_string(model.arch.height) + "x" + std::to_string(model.arch.width));
    // @teachablemachine/image feeds (pixel - 127.5) / 127.5.
    model.arch.scale = 1.f / 127.5f;
    model.arch.mean.assign(size_t(model.arch.channels), 1.f);
    model.arch.std.assign(size_t(model.arch.channels), 1.f);
    model.metadata["description"] = "imported from a Teachable Machine image model";
    // The file now says its normalisation and classes: nothing is left for the person to give.
    if (model.graph && model.graph->asks_for_input_options) {
      auto graph = std::make_shared<Graph>(*model.graph);
      graph->asks_for_input_options = false;
      model.graph = std::move(graph);
    }
  }
  return {};
}

Result<Model> load_tfjs_model(const std::string& model_json, const TfjsWeightReader& read_weights,
                              const std::string* metadata_json, const std::string& source,
                              const std::string& metadata_source) {
  auto file = keras_file_from_tfjs(model_json, read_weights, source);
  if (!file) return make_error(file.error());
  auto model = load_keras_file(*file, source, nullptr);
  if (!model) return model;
  model->metadata["description"] = "imported from the TF.js model " + source;
  if (metadata_json)
    if (Status s = apply_tfjs_metadata(*model, *metadata_json, metadata_source); !s) return make_error(s.error());
  return model;
}

namespace {

Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path, uint64_t limit) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return make_error(path.string() + ": cannot open the file");
  const std::streamoff n = f.tellg();
  if (n < 0) return make_error(path.string() + ": cannot read the file");
  if (uint64_t(n) > limit) return make_error(path.string() + ": the file is larger than the model limit");
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  f.seekg(0);
  if (n > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), n)) return make_error(path.string() + ": cannot read the file");
  return bytes;
}

}  // namespace

Result<Model> load_tfjs_model_file(const std::string& path) {
  namespace fs = std::filesystem;
  auto text = read_file(path, ModelLimits::kMaxHeaderBytes);
  if (!text) return make_error(text.error());
  const fs::path folder = fs::path(path).parent_path();
  TfjsWeightReader reader = [&](const std::string& name) -> Result<std::vector<uint8_t>> {
    const fs::path p = folder / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      return make_error("weight file " + name + " is missing (looked for " + p.string() +
                        "; keep model.json and its .bin files together)");
    return read_file(p, ModelLimits::kMaxFileBytes);
  };
  const fs::path meta_path = folder / "metadata.json";
  std::error_code ec;
  std::string metadata;
  const bool has_metadata = fs::is_regular_file(meta_path, ec);
  if (has_metadata) {
    auto m = read_file(meta_path, ModelLimits::kMaxHeaderBytes);
    if (!m) return make_error(m.error());
    metadata.assign(m->begin(), m->end());
  }
  return load_tfjs_model(std::string(text->begin(), text->end()), reader, has_metadata ? &metadata : nullptr, path,
                         meta_path.string());
}

}  // namespace gradcam
