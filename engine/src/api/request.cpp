// The one parser of explain requests (see request.h).
#include "gradcam/request.h"

#include "gradcam/contract.h"

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
  static const std::vector<std::string> keys = {"layer", "method",   "target", "score",  "crop",         "colormap",  "alpha",
                                                "samples", "steps", "baseline", "window", "stride", "eigen-smooth", "aug-smooth"};
  return keys;
}

bool request_key_is_switch(const std::string& key) { return key == "eigen-smooth" || key == "aug-smooth"; }

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
    auto v = read_real(named, value, 0, 1);
    if (!v) return make_error(v.error());
    r.alpha = float(*v);
    return {};
  }
  if (key == "samples") {
    auto v = read_integer(named, value, 1, 1000);
    if (!v) return make_error(v.error());
    // One count of random samples: SmoothGrad's noisy copies and GradientSHAP's draws (each method's
    // own default when not given: 25 and Captum's 5).
    r.options.smoothgrad_samples = r.options.gradient_shap_samples = int(*v);
    return {};
  }
  if (key == "steps") {  // Integrated Gradients' quadrature points
    auto v = read_integer(named, value, 1, 1000);
    if (!v) return make_error(v.error());
    r.options.ig_steps = int(*v);
    return {};
  }
  if (key == "baseline") {
    auto b = parse_baseline(value);
    if (!b) return make_error(named + ": " + b.error());
    r.options.baseline = *b;
    return {};
  }
  if (key == "window" || key == "stride") {  // occlusion's, in input pixels (explain checks them against the input)
    auto v = read_integer(named, value, 1, ModelLimits::kMaxSide);
    if (!v) return make_error(v.error());
    (key == "window" ? r.options.occlusion_window : r.options.occlusion_stride) = int(*v);
    return {};
  }
  if (key == "eigen-smooth" || key == "aug-smooth") {
    if (value != "true" && value != "false")
      return make_error(named + " must be true or false (got \"" + value + "\")");
    (key == "eigen-smooth" ? r.options.eigen_smooth : r.options.aug_smooth) = value == "true";
    return {};
  }
  return make_error("unknown option " + named + " (valid: " + names_text(request_keys(), ", ", prefix) + ")");
}

Result<ExplainRequest> parse_request(const Model& model,
                                     const std::vector<std::pair<std::string, std::string>>& fields,
                                     const std::string& prefix) {
  ExplainRequest r;
  // The default layer (the importer's choice), resolved here so the request is complete.
  if (Status st = set_request_field(r, model, "layer", "auto", prefix); !st) return make_error(st.error());
  for (const auto& [key, value] : fields)
    if (Status st = set_request_field(r, model, key, value, prefix); !st) return make_error(st.error());
  return r;
}

}  // namespace gradcam
