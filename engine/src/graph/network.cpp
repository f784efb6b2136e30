#include "gradcam/network.h"

#include <algorithm>
#include <cmath>

namespace gradcam {

Network::Network(const Model& model) : model_(model), graph_(model_graph(model)) {
  const Graph& g = *graph_;
  const size_t nodes = g.nodes.size();
  values_.resize(g.values.size());
  grads_.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    values_[v].assign(size_t(g.values[v].shape.size()), 0.f);
    grads_[v].assign(size_t(g.values[v].shape.size()), 0.f);
  }
  plans_.resize(nodes);
  in_.resize(nodes);
  gin_.resize(nodes);
  accumulate_slot_.resize(nodes);
  // The last consumer of each value (in topological order) is the first to write its gradient in
  // backward; every other consumer adds to it.
  std::vector<int> last_consumer(g.values.size(), -1);
  for (size_t i = 0; i < nodes; ++i)
    for (int v : g.nodes[i].inputs) last_consumer[size_t(v)] = int(i);
  ScratchSizes sizes;
  size_t accumulate = 0;
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    n.op->plan(g, n, plans_[i], sizes);
    size_t node_accumulate = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      in_[i].push_back(values_[size_t(v)].data());
      bool repeated = false;  // the same value at an earlier slot of this node
      for (size_t j = 0; j < k; ++j) repeated = repeated || n.inputs[j] == v;
      const bool add = last_consumer[size_t(v)] != int(i) || repeated;
      accumulate_slot_[i].push_back(add ? 1 : 0);
      if (add) node_accumulate += values_[size_t(v)].size();
    }
    accumulate = std::max(accumulate, node_accumulate);
  }
  accumulate_.assign(accumulate, 0.f);
  for (size_t i = 0; i < nodes; ++i) {
    const Node& n = g.nodes[i];
    size_t offset = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const size_t v = size_t(n.inputs[k]);
      if (accumulate_slot_[i][k]) {
        gin_[i].push_back(accumulate_.data() + offset);
        offset += values_[v].size();
      } else {
        gin_[i].push_back(grads_[v].data());
      }
    }
  }
  scratch_.padded.assign(sizes.padded, 0.f);
  scratch_.winograd.assign(sizes.winograd, 0.f);
  scratch_.grad.assign(sizes.grad, 0.f);
  logits_.assign(values_[size_t(g.output)].size(), 0.f);
  probs_.assign(logits_.size(), 0.f);
}

void Network::run_node(int i) {
  const Node& n = graph_->nodes[size_t(i)];
  n.op->forward(n, plans_[size_t(i)], ForwardArgs{*graph_, in_[size_t(i)].data(), values_[size_t(n.output)].data(), scratch_});
}

void Network::forward(const float* input) { forward_from(0, input); }

void Network::forward_from(int first, const float* x) {
  const Graph& g = *graph_;
  std::vector<float>& target = values_[size_t(g.nodes[size_t(first)].inputs[0])];
  if (x != target.data()) std::copy(x, x + target.size(), target.begin());
  run_from(first);
}

void Network::forward_after(int layer, const float* output) {
  std::vector<float>& target = values_[size_t(graph_->nodes[size_t(layer)].output)];
  if (output != target.data()) std::copy(output, output + target.size(), target.begin());
  run_from(layer + 1);
}

void Network::run_from(int first) {
  const Graph& g = *graph_;
  for (int i = first; i < layer_count(); ++i) run_node(i);
  const std::vector<float>& out = values_[size_t(g.output)];
  std::copy(out.begin(), out.end(), logits_.begin());
  // Softmax with the maximum subtracted, so large logits do not overflow.
  float m = *std::max_element(logits_.begin(), logits_.end());
  double sum = 0;
  for (size_t k = 0; k < logits_.size(); ++k) sum += probs_[k] = std::exp(logits_[k] - m);
  for (float& v : probs_) v = float(v / sum);
}

void Network::backward(const float* dscore_dlogits, int stop, ReluBackward relu) {
  const Graph& g = *graph_;
  std::copy(dscore_dlogits, dscore_dlogits + logits_.size(), grads_[size_t(g.output)].begin());
  for (int i = layer_count() - 1; i > stop; --i) {
    const Node& n = g.nodes[size_t(i)];
    const size_t o = size_t(n.output);
    n.op->backward(n, plans_[size_t(i)],
                   BackwardArgs{g, in_[size_t(i)].data(), values_[o].data(), grads_[o].data(), gin_[size_t(i)].data(), scratch_,
                                relu});
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!accumulate_slot_[size_t(i)][k]) continue;
      std::vector<float>& dst = grads_[size_t(n.inputs[k])];
      const float* src = gin_[size_t(i)][k];
      for (size_t e = 0; e < dst.size(); ++e) dst[e] += src[e];
    }
  }
}

}  // namespace gradcam
