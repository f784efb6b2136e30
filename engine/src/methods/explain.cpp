// explain(): one forward pass, the score's gradient, and the chosen method from the method table;
// explain_all_layers(): every conv layer's map from one forward and one backward pass.
#include <algorithm>
#include <chrono>

#include "gradcam/methods.h"
#include "methods/aug_smooth.h"
#include "methods/attribution.h"

namespace gradcam {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

// Zeros the size of `like`, for a sum of maps.
Map zero_map_like(const Map& like) { return Map{like.height, like.width, std::vector<float>(like.values.size(), 0.f)}; }

}  // namespace

Result<Score> parse_score(const std::string& name) {
  if (name == "softmax") return Score::probability;  // what the Keras tutorial calls it
  for (size_t i = 0; i < kScoreNames.size(); ++i)
    if (name == kScoreNames[i]) return Score(i);
  return make_error("unknown score \"" + name + "\" (known: " + names_text(kScoreNames) + ")");
}

const char* score_name(Score s) { return kScoreNames[size_t(s) < kScoreNames.size() ? size_t(s) : 0]; }

Result<Baseline> parse_baseline(const std::string& name) {
  for (size_t i = 0; i < kBaselineNames.size(); ++i)
    if (name == kBaselineNames[i]) return Baseline(i);
  return make_error("unknown baseline \"" + name + "\" (known: " + names_text(kBaselineNames) + ")");
}

const char* baseline_name(Baseline b) { return kBaselineNames[size_t(b) < kBaselineNames.size() ? size_t(b) : 0]; }

float target_score(const Network& net, int target, Score score) {
  return score == Score::logit ? net.logits()[size_t(target)] : net.probabilities()[size_t(target)];
}

float target_score(const Network& net, int image, int target, Score score) {
  return score == Score::logit ? net.batch_logits(image)[size_t(target)] : net.batch_probabilities(image)[size_t(target)];
}

void score_gradient(const std::vector<float>& logits, const std::vector<float>& probs, int target, Score score,
                    float* out) {
  const size_t n = logits.size();
  for (size_t j = 0; j < n; ++j) {
    if (score == Score::logit)
      out[j] = j == size_t(target) ? 1.f : 0.f;
    else  // dp_t/dz_j = p_t (delta_tj - p_j)
      out[j] = probs[size_t(target)] * ((j == size_t(target) ? 1.f : 0.f) - probs[j]);
  }
}

Result<int> parse_target(const Architecture& arch, const std::string& text) {
  if (text.empty() || text == "auto") return -1;
  const int n = int(arch.classes.size());
  for (int i = 0; i < n; ++i)
    if (arch.classes[size_t(i)] == text) return i;
  const bool negative = text[0] == '-';
  const std::string magnitude = negative ? text.substr(1) : text;
  bool digits = !magnitude.empty() && magnitude.size() < 9 && std::all_of(magnitude.begin(), magnitude.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    int v = std::stoi(magnitude);
    if (!negative && v < n) return v;
    return make_error("target " + text + " is out of range: the model has " + std::to_string(n) + " classes (0.." +
                      std::to_string(n - 1) + ")");
  }
  std::string all;
  for (const std::string& c : arch.classes) all += (all.empty() ? "" : ", ") + c;
  return make_error("unknown target \"" + text + "\": use auto, a class index or one of " + all);
}

Result<Explanation> explain(Network& net, const float* input, const ExplainOptions& opt) {
  const Graph& graph = net.graph();
  int layer = opt.layer;
  if (layer < 0) {
    auto l = find_layer(graph, "");
    if (!l) return make_error(l.error());
    layer = *l;
  }
  if (layer >= net.layer_count() || !graph.nodes[size_t(layer)].explainable)
    return make_error("layer " + std::to_string(layer) + " " + graph.words.refused);
  if (opt.target >= net.num_classes()) return make_error("target class " + std::to_string(opt.target) + " is out of range");
  if (opt.smoothgrad_samples < 1 || opt.smoothgrad_samples > 1000)
    return make_error("SmoothGrad samples must be 1..1000");
  if (opt.ig_steps < 1 || opt.ig_steps > 1000) return make_error("Integrated Gradients steps must be 1..1000");
  if (opt.gradient_shap_samples < 1 || opt.gradient_shap_samples > 1000)
    return make_error("GradientSHAP samples must be 1..1000");
  if (opt.method == Method::occlusion) {
    // Captum's conditions: the window fits the input, and a stride skips no pixel.
    const int side = std::min(net.arch().height, net.arch().width);
    const int window = occlusion_window(opt, net.arch().height, net.arch().width);
    const int stride = occlusion_stride(opt, net.arch().height, net.arch().width);
    if (opt.occlusion_window < 0 || window > side)
      return make_error("the occlusion window must be 1.." + std::to_string(side) + " pixels (the input is " +
                        std::to_string(net.arch().height) + "x" + std::to_string(net.arch().width) + "), got " +
                        std::to_string(opt.occlusion_window));
    if (opt.occlusion_stride < 0 || stride > window)
      return make_error("the occlusion stride must be 1 to the window (" + std::to_string(window) +
                        " pixels) so that every pixel is occluded, got " + std::to_string(stride));
  }
  const MethodDescriptor& method = method_descriptor(opt.method);
  // A CAM reads the layer's output and gradient alone; the other methods may read any node's.
  if (Status s = method.layer_map ? net.plan_pass({{layer}, layer}) : net.plan_all(); !s) return make_error(s.error());

  Explanation e;
  e.layer = layer;
  e.layer_shape = net.output_shape(layer);
  e.method = opt.method;
  e.score = opt.score;

  auto t0 = std::chrono::steady_clock::now();
  net.forward(input);
  e.forward_ms = ms_since(t0);
  e.logits = net.logits();
  e.probabilities = net.probabilities();
  e.target = opt.target < 0 ? argmax(e.probabilities) : opt.target;
  std::vector<float> dscore(e.logits.size());
  score_gradient(e.logits, e.probabilities, e.target, opt.score, dscore.data());

  if (opt.aug_smooth) {
    // Every augmentation explains the target chosen on the image itself (pytorch-grad-cam, given
    // no target, would take each augmented input's own top class).
    const Architecture& arch = net.arch();
    const auto& augmentations = test_time_augmentations();
    ExplainOptions once = opt;
    once.aug_smooth = false;
    once.layer = layer;
    once.target = e.target;
    for (const Augmentation& a : augmentations) {
      const std::vector<float> x = augment_input(input, arch.height, arch.width, arch.channels, a);
      auto one = explain(net, x.data(), once);
      if (!one) return make_error(one.error());
      if (e.cam.values.empty()) e.cam = zero_map_like(one->cam);
      add_deaugmented(one->cam, a, arch.height, arch.width, 1.f / float(augmentations.size()), e.cam);
      e.forward_ms += one->forward_ms;
      e.backward_ms += one->backward_ms;
      e.cam_ms += one->cam_ms;
    }
    net.forward(input);  // leave the network holding this image's activations
    return e;
  }

  auto t1 = std::chrono::steady_clock::now();
  if (method.layer_map) {
    if (method.needs_gradient) {
      net.backward(dscore.data(), layer);
      e.backward_ms = ms_since(t1);
      t1 = std::chrono::steady_clock::now();
    }
    const Shape& s = e.layer_shape;
    e.cam = method.layer_map(net.output(layer).data(), net.output_grad(layer).data(), s.h, s.w, s.c, opt.eigen_smooth);
    e.cam_ms = ms_since(t1);
  } else {
    MethodContext context{net, input, layer, e.target, dscore, opt, 0, {}};
    e.cam = method.run(context);
    e.attribution = std::move(context.attribution);
    e.backward_ms = context.backward_ms;
    e.cam_ms = std::max(0.0, ms_since(t1) - context.backward_ms);
  }
  return e;
}

Result<std::vector<Explanation>> explain_all_layers(Network& net, const float* input, const ExplainOptions& opt) {
  const MethodDescriptor& method = method_descriptor(opt.method);
  if (!method.layer_map) {
    std::string names;
    for (const MethodDescriptor& d : method_table())
      if (d.layer_map) names += (names.empty() ? "" : ", ") + std::string(d.name);
    return make_error("all layers at once works for " + names + ", not " + method.name);
  }
  if (opt.target >= net.num_classes()) return make_error("target class " + std::to_string(opt.target) + " is out of range");
  const std::vector<int> conv = explainable_nodes(net.graph());
  if (conv.empty()) return make_error("the model has no layer to explain");
  if (Status s = net.plan_pass({conv, conv.front()}); !s) return make_error(s.error());
  if (opt.aug_smooth) {  // as in explain(): every augmentation's maps, de-augmented and averaged
    const Architecture& arch = net.arch();
    net.forward(input);
    ExplainOptions once = opt;
    once.aug_smooth = false;
    once.target = opt.target < 0 ? argmax(net.probabilities()) : opt.target;
    const auto& augmentations = test_time_augmentations();
    std::vector<Explanation> out;
    for (const Augmentation& a : augmentations) {
      const std::vector<float> x = augment_input(input, arch.height, arch.width, arch.channels, a);
      auto all = explain_all_layers(net, x.data(), once);
      if (!all) return make_error(all.error());
      if (out.empty()) {
        out = *all;
        for (Explanation& e : out) e.cam = zero_map_like(e.cam);
      }
      for (size_t i = 0; i < out.size(); ++i)
        add_deaugmented((*all)[i].cam, a, arch.height, arch.width, 1.f / float(augmentations.size()), out[i].cam);
    }
    net.forward(input);  // the image's own logits in every result, and its activations left in the network
    for (Explanation& e : out) e.logits = net.logits(), e.probabilities = net.probabilities();
    return out;
  }

  auto t0 = std::chrono::steady_clock::now();
  net.forward(input);
  const double forward_ms = ms_since(t0);
  const int target = opt.target < 0 ? argmax(net.probabilities()) : opt.target;
  auto t1 = std::chrono::steady_clock::now();
  double backward_ms = 0;
  if (method.needs_gradient) {
    std::vector<float> dscore(size_t(net.num_classes()));
    score_gradient(net.logits(), net.probabilities(), target, opt.score, dscore.data());
    net.backward(dscore.data(), conv.front());
    backward_ms = ms_since(t1);
  }
  std::vector<Explanation> out;
  for (int layer : conv) {
    auto t2 = std::chrono::steady_clock::now();
    Explanation e;
    e.logits = net.logits();
    e.probabilities = net.probabilities();
    e.target = target;
    e.layer = layer;
    e.layer_shape = net.output_shape(layer);
    e.method = opt.method;
    e.score = opt.score;
    const Shape& s = e.layer_shape;
    e.cam = method.layer_map(net.output(layer).data(), net.output_grad(layer).data(), s.h, s.w, s.c, opt.eigen_smooth);
    e.forward_ms = forward_ms;
    e.backward_ms = backward_ms;
    e.cam_ms = ms_since(t2);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace gradcam
