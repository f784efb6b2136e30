#include "graph/activation_fusion.h"

#include <limits>

#include "graph/ops/ops.h"

namespace gradcam {

namespace {

// The activations a clamp computes exactly: Relu, and a Clip with lo <= hi (ONNX leaves lo > hi
// undefined; the Clip op's own rule then differs from min(max(y, lo), hi)).
bool clamp_like(const Node& n) {
  if (n.op == &ops::relu_op) return true;
  return n.op == &ops::clip_op && n.attrs.lo <= n.attrs.hi;
}

// A convolution whose kernels take a clamp: every Conv, unless it already carries a ReLU of its own
// (a Keras conv2d's activation).
bool takes_clamp(const Node& n) { return n.op == &ops::conv_op && !n.attrs.relu; }

}  // namespace

std::vector<int> fuse_activations(const Graph& g, const std::vector<char>& kept) {
  std::vector<int> reads(g.values.size(), 0), reader(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].inputs) ++reads[size_t(v)], reader[size_t(v)] = int(i);
  std::vector<int> fused(g.nodes.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const size_t v = size_t(n.output);
    if (!takes_clamp(n) || kept[v] || int(v) == g.output || reads[v] != 1) continue;
    const Node& next = g.nodes[size_t(reader[v])];
    if (clamp_like(next) && next.inputs.size() == 1) fused[i] = reader[v];
  }
  return fused;
}

void set_fused_clamp(const Node& activation, ForwardArgs& args) {
  if (activation.op == &ops::relu_op) {
    args.clamp_lo = 0.f;
    args.clamp_hi = std::numeric_limits<float>::infinity();
  } else {
    args.clamp_lo = activation.attrs.lo;
    args.clamp_hi = activation.attrs.hi;
  }
}

}  // namespace gradcam
