// The one serialiser of results: an explanation, a prediction alone, every layer's map, a model's
// info, curves and sanity checks. The CLI's --json, the JS API and the page print these, so a
// field has one name everywhere.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "api/result_values.h"
#include "gradcam/contract.h"
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

template <size_t N>
json names_json(const std::array<const char*, N>& names) {
  json out = json::array();
  for (const char* n : names) out.push_back(n);
  return out;
}

json name_tables() {
  json ops = json::array();
  for (const OpDescriptor* d : op_table()) ops.push_back(d->type);
  return {{"methods", names_json(method_names())}, {"scores", names_json(kScoreNames)},
          {"crops", names_json(kCropModeNames)},   {"colormaps", names_json(colormap_names())},
          {"metrics", metric_names()},              {"ops", ops}};
}

// true, false, or null where the file does not say (ONNX).
json trained_json(const Model& m) { return m.trained() ? json(true) : m.untrained() ? json(false) : json(nullptr); }

json map_json(const Map& m) { return {{"height", m.height}, {"width", m.width}, {"values", m.values}}; }

// 93.0%, or 0.52% below 10%: two figures either way.
std::string percent(float p) {
  char buf[16];
  std::snprintf(buf, sizeof buf, p >= 0.0995f ? "%.1f%%" : "%.2f%%", double(p) * 100.0);
  return buf;
}

}  // namespace

std::string explanation_summary(const Model& model, const Explanation& e) {
  const Architecture& a = model.arch;
  const std::vector<ClassScore> top = top_k(e.probabilities, 1);
  const int best = top.empty() ? e.target : top[0].index;
  std::string text = a.classes[size_t(best)] + " (" + percent(e.probabilities[size_t(best)]) + ") \u00b7 " +
                     method_label(e.method) + " for " + a.classes[size_t(e.target)];
  if (e.target != best) text += " (" + percent(e.probabilities[size_t(e.target)]) + ")";
  text += method_is_input_resolution(e.method) ? " at the input" : " at " + layer_name(model, e.layer);
  return text + " (" + std::to_string(e.cam.width) + "\u00d7" + std::to_string(e.cam.height) + ")";
}

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
      {"summary", explanation_summary(model, e)},
      {"cam", {{"height", e.cam.height}, {"width", e.cam.width}}},
      {"trained", trained_json(model)},
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
  // The signed per-channel attribution of the Captum-style methods, laid out as "input" is (the
  // model's own layout), so it can be compared with a reference on that tensor element by element.
  if (!e.attribution.empty()) j["attribution"] = model_layout_input(model, e.attribution);
  return j.dump();
}

std::string prediction_json(const Model& model, const std::vector<float>& probabilities, const std::vector<float>& logits,
                            double preprocess_ms, int top) {
  json j = {{"probabilities", probabilities},
            {"logits", logits},
            {"top", top_json(model.arch, probabilities, top)},
            {"trained", trained_json(model)},
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
            {"trained", trained_json(model)},
            {"timings_ms", {{"forward", first.forward_ms}, {"backward", first.backward_ms}, {"cam", cam_ms}}}};
  return j.dump();
}

json curve_value(const Curve& c) { return {{"fraction", c.fraction}, {"probability", c.probability}, {"auc", c.auc}}; }

json road_value(const RoadResult& r) {
  return {{"fraction", r.fractions}, {"morf", r.morf}, {"lerf", r.lerf}, {"morf_mean", r.morf_mean}, {"lerf_mean", r.lerf_mean}};
}

std::string curve_json(const Curve& c) { return curve_value(c).dump(); }

std::string sanity_check_json(const SanityCheck& check, bool maps) {
  json steps = json::array();
  for (const SanityStep& s : check.steps) {
    json step = {{"layer", s.layer}, {"spearman", s.spearman}, {"ssim", s.ssim}};
    if (maps) step["map"] = map_json(s.map);
    steps.push_back(step);
  }
  json j = {{"steps", steps}};
  if (maps) j["original"] = map_json(check.original);
  return j.dump();
}

std::string name_tables_json() { return name_tables().dump(); }

std::string crop_geometry_json(const CropGeometry& g, int width, int height, int input_width, int input_height) {
  const double w = width, h = height, iw = input_width, ih = input_height;
  return json{{"src", {g.src_x0 / w, g.src_y0 / h, g.src_x1 / w, g.src_y1 / h}},
              {"dst", {g.dst_x0 / iw, g.dst_y0 / ih, g.dst_x1 / iw, g.dst_y1 / ih}}}
      .dump();
}

std::string request_json(const Model& model, const ExplainRequest& r) {
  const ExplainOptions& o = r.options;
  return json{{"layer", o.layer >= 0 ? json(layer_name(model, o.layer)) : json(nullptr)},
              {"method", method_name(o.method)},
              {"target", o.target},
              {"score", score_name(o.score)},
              {"crop", crop_mode_name(r.crop)},
              {"colormap", colormap_name(r.colormap)},
              {"alpha", r.alpha},
              {"samples", o.smoothgrad_samples},
              {"steps", o.ig_steps},
              {"baseline", o.baseline ? json(baseline_name(*o.baseline)) : json(nullptr)},
              {"window", o.occlusion_window},
              {"stride", o.occlusion_stride},
              {"eigen_smooth", o.eigen_smooth},
              {"aug_smooth", o.aug_smooth}}
      .dump();
}

std::string Engine::info_json() const {
  const Architecture& a = model_.arch;
  const Graph& g = graph();
  json layers = json::array();
  // A model with a layer list (the model file, Keras) describes its layers and counts its own
  // tensors (batch norm stores four vectors, the graph folds them to two); an imported graph
  // (ONNX) lists its explainable nodes and counts the constants they hold.
  int64_t parameters = 0;
  if (model_.params.empty())
    for (const Node& n : g.nodes)
      for (const auto& w : n.weights) parameters += int64_t(w.size());
  else
    for (const auto& [name, v] : model_.params) parameters += int64_t(v.size());
  if (!a.layers.empty()) {
    for (size_t i = 0; i < a.layers.size(); ++i) {
      const LayerSpec& l = a.layers[i];
      const Shape& out = g.output_of(int(i)).shape;  // the model file's graph: one node per layer
      json lj = {{"name", l.name}, {"type", layer_type_name(l.type)}, {"output", {out.h, out.w, out.c}}};
      if (l.type == LayerType::conv2d) {
        lj["kernel"] = {l.kernel_h, l.kernel_w};
        lj["strides"] = {l.stride_h, l.stride_w};
        lj["padding"] = l.padding == Padding::same ? "same" : "valid";
      }
      if (l.type == LayerType::conv2d || l.type == LayerType::dense) lj["activation"] = activation_name(l.activation);
      layers.push_back(lj);
    }
  } else {
    // Every node that can be explained: its name, op type, output tensor name and NCHW shape (a token
    // grid: its own dims, and the grid).
    for (int i : explainable_nodes(g)) {
      const Node& n = g.nodes[size_t(i)];
      const Value& v = g.value(n.output);
      json node = {{"name", n.name}, {"type", n.op_type}, {"output_name", v.name}, {"output", tensor_view(v).dims}};
      if (v.layout == Layout::rows) {  // a token grid: the h x w x c map a CAM reads, after the class token or not
        node["grid"] = {v.map.grid.h, v.map.grid.w, v.map.grid.c};
        node["class_token"] = v.map.offset > 0;
      }
      layers.push_back(node);
    }
  }
  // The method table as front ends need it: names to send back, labels to show, whether the map
  // lives at a layer or at the input, and whether one pass explains every layer.
  json method_details = json::array();
  for (const MethodDescriptor& d : method_table())
    method_details.push_back({{"name", d.name},
                              {"label", d.label},
                              {"paper", d.paper},
                              {"resolution", d.resolution == MapResolution::input ? "input" : "layer"},
                              {"all_layers", d.layer_map != nullptr}});
  json meta = json::object();
  for (const auto& [k, v] : model_.metadata) meta[k] = v;
  json explainable = json::array();
  for (int i : explainable_nodes(g)) explainable.push_back(g.nodes[size_t(i)].name);
  json input = {{"height", a.height}, {"width", a.width}, {"channels", a.channels}, {"scale", a.scale}};
  if (!a.mean.empty()) input["mean"] = a.mean, input["std"] = a.std;
  const json names = name_tables();
  json j = {{"format", g.format},
            {"classes", a.classes},
            {"input", input},
            {"input_shape", model_input_shape(model_)},
            {"input_layout", g.input.channels_first ? "NCHW" : "NHWC"},
            {"asks_for_input_options", g.asks_for_input_options},
            {"layers", layers},
            {"conv_layers", explainable},
            {"explainable", explainable},
            {"default_layer", g.default_layer >= 0 ? json(g.nodes[size_t(g.default_layer)].name) : json(nullptr)},
            {"nodes", int(g.nodes.size())},
            {"methods", names["methods"]},
            {"method_details", method_details},
            {"names", names},
            {"trained", trained_json(model_)},
            {"parameters", parameters},
            {"metadata", meta}};
  return j.dump();
}

}  // namespace gradcam
