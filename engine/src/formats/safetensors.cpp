// The model file's container: safetensors (a little-endian u64 header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the data), read with every number checked
// before it sizes anything, and written in layer order with the architecture in __metadata__.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gradcam/model.h"
#include "half_float.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

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

}  // namespace

bool Model::trained() const {
  auto it = metadata.find("trained");
  return it != metadata.end() && it->second == "true";
}

bool Model::untrained() const {
  auto it = metadata.find("trained");
  return it != metadata.end() && it->second == "false";
}

const std::vector<float>& Model::param(const std::string& layer, const char* name) const {
  return params.at(layer + "." + name);
}

Result<Model> load_model(const uint8_t* bytes, size_t size, const std::string& source) {
  auto fail = [&](const std::string& m) { return make_error(source + ": " + m); };
  if (size == 0) return fail("empty file");
  if (size > ModelLimits::kMaxFileBytes) return fail("file is larger than the " + std::to_string(ModelLimits::kMaxFileBytes >> 20) + " MiB model limit");
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
    // The layers are built once, to check them and to list the tensors they need.
    auto parsed = parse_architecture_with_params(arch_it->second);
    if (!parsed) return fail(parsed.error());
    model.arch = std::move(parsed->arch);
    model.metadata.erase("architecture");

    for (const ParamSpec& spec : parsed->params) {
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

std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) t += ',';
    t += std::to_string(s[i]);
  }
  return t + "]";
}

Result<std::vector<uint8_t>> read_model_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return make_error(path + ": cannot open model file");
  std::streamoff n = f.tellg();
  if (n < 0) return make_error(path + ": cannot read model file");
  if (uint64_t(n) > ModelLimits::kMaxFileBytes) return make_error(path + ": " + "file is larger than the " + std::to_string(ModelLimits::kMaxFileBytes >> 20) + " MiB model limit");
  std::vector<uint8_t> bytes(static_cast<size_t>(n));
  f.seekg(0);
  if (n > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), n)) return make_error(path + ": cannot read model file");
  return bytes;
}

Result<Model> load_model_file(const std::string& path) {
  auto bytes = read_model_bytes(path);
  if (!bytes) return make_error(bytes.error());
  return load_model(bytes->data(), bytes->size(), path);
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

}  // namespace gradcam
