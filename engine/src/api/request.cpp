// The one parser of explain requests (see request.h).
#include "gradcam/request.h"

#include <cerrno>
#include <cstdlib>

namespace gradcam {

namespace {

template <class T>
Status assign(T& out, Result<T> r, const std::string& key) {
  if (!r) return make_error(key + ": " + r.error());
  out = std::move(r.value());
  return {};
}

}  // namespace

const std::vector<std::string>& request_keys() {
  static const std::vector<std::string> keys = {"layer", "method", "target", "score",
                                                "crop",  "colormap", "alpha", "samples"};
  return keys;
}

Status set_request_field(ExplainRequest& r, const Model& model, const std::string& key, const std::string& value,
                         const std::string& prefix) {
  const std::string named = prefix + key;
  if (key == "layer") return assign(r.options.layer, find_layer(*model.graph, value), named);
  if (key == "method") return assign(r.options.method, parse_method(value), named);
  if (key == "target") return assign(r.options.target, parse_target(model.arch, value), named);
  if (key == "score") return assign(r.options.score, parse_score(value), named);
  if (key == "crop") return assign(r.crop, parse_crop_mode(value), named);
  if (key == "colormap") return assign(r.colormap, parse_colormap(value), named);
  if (key == "alpha") {
    char* end = nullptr;
    const float v = std::strtof(value.c_str(), &end);
    if (value.empty() || end == value.c_str() || *end || !(v >= 0 && v <= 1))
      return make_error(named + " must be a number from 0 to 1 (got \"" + value + "\")");
    r.alpha = v;
    return {};
  }
  if (key == "samples") {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || end == value.c_str() || *end || errno == ERANGE || v < 1 || v > 1000)
      return make_error(named + " must be a whole number from 1 to 1000 (got \"" + value + "\")");
    r.options.smoothgrad_samples = int(v);
    return {};
  }
  std::string keys;
  for (const std::string& k : request_keys()) keys += (keys.empty() ? "" : ", ") + prefix + k;
  return make_error("unknown option " + named + " (valid: " + keys + ")");
}

Result<ExplainRequest> parse_request(const Model& model,
                                     const std::vector<std::pair<std::string, std::string>>& fields,
                                     const std::string& prefix) {
  ExplainRequest r;
  // The default layer (the last conv layer; ONNX: the last 4-D node before pooling), resolved here so the request is complete.
  if (Status st = set_request_field(r, model, "layer", "auto", prefix); !st) return make_error(st.error());
  for (const auto& [key, value] : fields)
    if (Status st = set_request_field(r, model, key, value, prefix); !st) return make_error(st.error());
  return r;
}

}  // namespace gradcam
