// The model-randomisation sanity check (Adebayo et al., NeurIPS 2018, Sec. 3, cascading
// randomisation from the top): see metrics.h.
#include <cmath>
#include <random>

#include "gradcam/graph.h"
#include "gradcam/metrics.h"

namespace gradcam {

namespace {

// One step: the map with some weights re-initialised, compared with the original.
Result<SanityStep> step_with(const Model& randomised, const float* input, const ExplainOptions& fixed, const Map& original,
                             const std::string& layer) {
  Network net(randomised);
  auto e = explain(net, input, fixed);
  if (!e) return make_error(e.error());
  SanityStep step;
  step.layer = layer;
  step.spearman = spearman_correlation(original.values, e->cam.values);
  step.ssim = map_ssim(original.values, e->cam.values);
  step.map = std::move(e->cam);
  return step;
}

// An ONNX model has no initialisation recipe in its file: convolutions and dense layers get
// He-uniform weights (fan-in from the kernel) and zero biases, batch norms become the identity.
bool reinitialise(Node& n, std::mt19937_64& rng) {
  const std::string& t = n.op->type;
  if (t == "BatchNormalization") {
    std::fill(n.weights[0].begin(), n.weights[0].end(), 1.f);
    std::fill(n.weights[1].begin(), n.weights[1].end(), 0.f);
    return true;
  }
  if (t != "Conv" && t != "Gemm" && t != "MatMul") return false;
  const double fan_in = double(n.weights[0].size()) / double(std::max(n.attrs.out_channels, 1));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const float limit = float(std::sqrt(6.0 / std::max(fan_in, 1.0)));
  for (float& w : n.weights[0]) w = u(rng) * limit;
  std::fill(n.weights[1].begin(), n.weights[1].end(), 0.f);
  return true;
}

}  // namespace

Result<SanityCheck> sanity_check(const Model& model, const float* input, const ExplainOptions& options, uint64_t seed) {
  SanityCheck out;
  ExplainOptions fixed = options;
  {
    Network net(model);
    auto e = explain(net, input, options);
    if (!e) return make_error(e.error());
    out.original = e->cam;
    fixed.target = e->target;  // the same class at every step, not whatever the random net prefers
    fixed.layer = e->layer;
  }
  // An imported graph keeps its weights in its nodes: they are re-initialised there, node by node.
  // A model with a layer list keeps them as named parameters, re-initialised as the trainer does.
  if (model.graph && model.arch.layers.empty()) {
    Model randomised = model;
    auto graph = std::make_shared<Graph>(*model.graph);
    std::mt19937_64 rng(seed);
    for (int i = int(graph->nodes.size()) - 1; i >= 0; --i) {
      if (!reinitialise(graph->nodes[size_t(i)], rng)) continue;
      randomised.graph = graph;
      auto step = step_with(randomised, input, fixed, out.original, graph->nodes[size_t(i)].name);
      if (!step) return make_error(step.error());
      out.steps.push_back(std::move(*step));
    }
    return out;
  }
  // Fresh weights from the same initialisation the trainer starts from.
  const Model fresh = random_model(model.arch, seed);
  Model randomised = model;
  randomised.graph.reset();  // rebuilt from the changed params at every step
  for (int i = int(model.arch.layers.size()) - 1; i >= 0; --i) {
    const LayerSpec& l = model.arch.layers[size_t(i)];
    bool has_weights = false;
    for (const auto& [name, values] : fresh.params)
      if (name.compare(0, l.name.size() + 1, l.name + ".") == 0) {
        randomised.params[name] = values;
        has_weights = true;
      }
    if (!has_weights) continue;
    auto step = step_with(randomised, input, fixed, out.original, l.name);
    if (!step) return make_error(step.error());
    out.steps.push_back(std::move(*step));
  }
  return out;
}

}  // namespace gradcam
