// The one serialiser of results: an explanation, a prediction alone, and every layer's map. The
// CLI's --json, the JS API and the page print these, so a field has one name everywhere.
#include <nlohmann/json.hpp>

#include "gradcam/engine.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

json top_json(const Architecture& a, const std::vector<float>& probabilities, int k) {
  json top = json::array();
  for (const ClassScore& s : top_k(probabilities, k))
    top.push_back({{"index", s.index}, {"name", a.classes[size_t(s.index)]}, {"probability", s.probability}});
  return top;
}

json target_json(const Architecture& a, int target) { return {{"index", target}, {"name", a.classes[size_t(target)]}}; }

}  // namespace

std::string explanation_json(const Model& model, const Explanation& e, const JsonOptions& o) {
  const Architecture& a = model.arch;
  json j = {
      {"probabilities", e.probabilities},
      {"logits", e.logits},
      {"top", top_json(a, e.probabilities, o.top)},
      {"target", {{"index", e.target}, {"name", a.classes[size_t(e.target)]}, {"probability", e.probabilities[size_t(e.target)]}}},
      {"layer", {{"name", layer_name(model, e.layer)}, {"index", e.layer}, {"height", e.layer_shape.h}, {"width", e.layer_shape.w},
                 {"channels", e.layer_shape.c}}},
      {"method", method_name(e.method)},
      {"score", score_name(e.score)},
      {"cam", {{"height", e.cam.height}, {"width", e.cam.width}}},
      {"trained", model.trained()},
      {"timings_ms",
       {{"decode", o.decode_ms},
        {"preprocess", o.preprocess_ms},
        {"forward", e.forward_ms},
        {"backward", e.backward_ms},
        {"cam", e.cam_ms},
        {"total", o.decode_ms + o.preprocess_ms + e.forward_ms + e.backward_ms + e.cam_ms}}},
  };
  if (o.crop) j["crop"] = o.crop;
  if (o.cam_values) j["cam"]["values"] = e.cam.values;
  j["input_shape"] = model_input_shape(model);
  if (o.input) j["input"] = model_layout_input(model, *o.input);
  return j.dump();
}

std::string prediction_json(const Model& model, const std::vector<float>& probabilities, const std::vector<float>& logits,
                            double preprocess_ms, int top) {
  json j = {{"probabilities", probabilities},
            {"logits", logits},
            {"top", top_json(model.arch, probabilities, top)},
            {"trained", model.trained()},
            {"timings_ms", {{"preprocess", preprocess_ms}}}};
  return j.dump();
}

std::string all_layers_json(const Model& model, const std::vector<Explanation>& all, const std::vector<size_t>& offsets,
                            int top) {
  const Architecture& a = model.arch;
  const Explanation& first = all.front();
  json layers = json::array();
  double cam_ms = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const Explanation& x = all[i];
    layers.push_back({{"name", layer_name(model, x.layer)}, {"index", x.layer}, {"height", x.cam.height},
                      {"width", x.cam.width}, {"channels", x.layer_shape.c}, {"offset", offsets[i]}});
    cam_ms += x.cam_ms;
  }
  json j = {{"probabilities", first.probabilities},
            {"logits", first.logits},
            {"top", top_json(a, first.probabilities, top)},
            {"target", target_json(a, first.target)},
            {"method", method_name(first.method)},
            {"score", score_name(first.score)},
            {"layers", layers},
            {"trained", model.trained()},
            {"timings_ms", {{"forward", first.forward_ms}, {"backward", first.backward_ms}, {"cam", cam_ms}}}};
  return j.dump();
}

}  // namespace gradcam
