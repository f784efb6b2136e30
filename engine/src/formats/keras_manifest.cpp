// The JS API's hand-over of a Keras file: h5wasm reads the HDF5 file in JS, which passes the
// tensors' names and shapes as JSON and their values as one float array. Everything here comes
// from outside the engine, so every offset and shape is checked against the array's length before
// it is used.
#include <nlohmann/json.hpp>

#include "gradcam/keras.h"

namespace gradcam {

using json = nlohmann::json;

Result<KerasFile> keras_file_from_manifest(const std::string& manifest, const float* data, size_t count) {
  json j = json::parse(manifest, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("Keras manifest is not a JSON object");
  try {
    KerasFile file;
    if (j.contains("model_config") && j["model_config"].is_string()) file.model_config = j["model_config"].get<std::string>();
    if (j.contains("keras_version") && j["keras_version"].is_string()) file.keras_version = j["keras_version"].get<std::string>();
    const json& tensors = j.at("tensors");
    if (!tensors.is_array()) return make_error("Keras manifest: tensors must be a list");
    if (tensors.size() > size_t(ModelLimits::kMaxLayers) * 8) return make_error("Keras manifest: too many tensors");
    for (const json& t : tensors) {
      KerasTensor k;
      k.layer = t.at("layer").get<std::string>();
      k.weight = t.at("weight").get<std::string>();
      const json& shape = t.at("shape");
      if (!shape.is_array() || shape.size() > 8)
        return make_error("Keras manifest: tensor " + k.layer + "/" + k.weight + " has no valid shape");
      uint64_t n = 1;
      for (const json& d : shape) {
        if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(ModelLimits::kMaxTensorElements))
          return make_error("Keras manifest: tensor " + k.layer + "/" + k.weight + " has a dimension out of range");
        n *= d.get<uint64_t>();  // at most 8 factors of 2^27 would overflow: checked per step
        if (n > uint64_t(ModelLimits::kMaxTensorElements))
          return make_error("Keras manifest: tensor " + k.layer + "/" + k.weight + " is larger than the limit");
        k.shape.push_back(int64_t(d.get<uint64_t>()));
      }
      const json& off = t.at("offset");
      if (!off.is_number_unsigned() || off.get<uint64_t>() > count || n > count - off.get<uint64_t>())
        return make_error("Keras manifest: tensor " + k.layer + "/" + k.weight + " lies outside the data");
      const size_t o = size_t(off.get<uint64_t>());
      if (n) k.values.assign(data + o, data + o + n);
      file.tensors.push_back(std::move(k));
    }
    return file;
  } catch (const json::exception& e) {
    return make_error(std::string("Keras manifest: ") + e.what());
  }
}

Result<Model> load_keras_manifest(const std::string& manifest, const float* data, size_t count,
                                  const std::string& arch_json, const std::string& source, int size) {
  auto file = keras_file_from_manifest(manifest, data, count);
  if (!file) return make_error(source + ": " + file.error());
  KerasArch given;
  if (!arch_json.empty()) {
    auto parsed = parse_keras_arch(arch_json);
    if (!parsed) return make_error("arch: " + parsed.error());
    given = std::move(parsed.value());
  }
  given.size = size;  // as Engine::load hands the native readers --size
  return load_keras_file(std::move(file.value()), source, arch_json.empty() && !size ? nullptr : &given);
}

}  // namespace gradcam
