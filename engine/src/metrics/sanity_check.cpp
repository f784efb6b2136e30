// The model-randomisation sanity check (Adebayo et al., NeurIPS 2018, Sec. 3, cascading
// randomisation from the top): see metrics.h.
#include <cmath>
#include <optional>
#include <random>

#include "gradcam/graph.h"
#include "gradcam/metrics.h"
#include "gradcam/threads.h"
#include "parallel/thread_pool.h"

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

// The cascade's steps, explained a group at a time over the thread pool: the randomised models are
// made in order (each step adds a layer's fresh weights to the last, and the random draws follow
// that order), and a group of up to thread_count() of them is explained at once, each step's
// passes on one thread (its kernels then run alone there: the same bits as a pass split over the
// pool). A group holds a copy of the weights per step, so it is no larger than the threads.
class StepRunner {
 public:
  StepRunner(const float* input, const ExplainOptions& fixed, const Map& original, SanityCheck& out)
      : input_(input), fixed_(fixed), original_(original), out_(out), group_(size_t(std::max(thread_count(), 1))) {}

  // Whether a step's model must be a copy: with one thread each step runs before the next is made.
  bool copies() const { return group_ > 1; }

  Status add(Model randomised, std::string layer) {
    pending_.emplace_back(std::move(randomised), std::move(layer));
    return pending_.size() >= group_ ? flush() : Status{};
  }

  Status flush() {
    std::vector<std::optional<Result<SanityStep>>> done(pending_.size());
    parallel_for(int64_t(pending_.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        done[size_t(i)] = step_with(pending_[size_t(i)].first, input_, fixed_, original_, pending_[size_t(i)].second);
    });
    pending_.clear();
    for (auto& step : done) {
      if (!*step) return make_error(step->error());
      out_.steps.push_back(std::move(**step));
    }
    return {};
  }

 private:
  const float* input_;
  const ExplainOptions& fixed_;
  const Map& original_;
  SanityCheck& out_;
  size_t group_;
  std::vector<std::pair<Model, std::string>> pending_;
};

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
  StepRunner runner(input, fixed, out.original, out);
  if (model.graph && model.arch.layers.empty()) {
    Model randomised = model;
    auto graph = std::make_shared<Graph>(*model.graph);
    std::mt19937_64 rng(seed);
    for (int i = int(graph->nodes.size()) - 1; i >= 0; --i) {
      if (!reinitialise(graph->nodes[size_t(i)], rng)) continue;
      randomised.graph = runner.copies() ? std::make_shared<Graph>(*graph) : graph;
      if (auto s = runner.add(randomised, graph->nodes[size_t(i)].name); !s) return make_error(s.error());
    }
    if (auto s = runner.flush(); !s) return make_error(s.error());
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
    if (auto s = runner.add(randomised, l.name); !s) return make_error(s.error());
  }
  if (auto s = runner.flush(); !s) return make_error(s.error());
  return out;
}

}  // namespace gradcam
