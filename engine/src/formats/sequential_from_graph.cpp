// An imported graph written back as the model file's sequential network (import-keras): when the
// graph is a chain of what the model file holds, each node becomes the layer of its name with the
// node's own weights, so the model file computes exactly what the graph does. A batch norm is
// already folded into a per-channel scale and shift; it is written as gamma = scale, beta =
// shift, moving_mean = 0, moving_variance = 1 - 2^-10 with epsilon 2^-10, which fold back to the
// same floats (the variance and epsilon sum to exactly 1).
#include "gradcam/graph.h"
#include "graph/ops/ops.h"

namespace gradcam {

namespace {

constexpr float kFoldedEpsilon = 1.f / 1024.f;

Result<Padding> padding_of(const Node& n) {
  if (n.attrs.auto_pad == "SAME_UPPER") return Padding::same;
  if (n.attrs.auto_pad == "VALID") return Padding::valid;
  return make_error("node '" + n.name + "' has explicit padding");
}

}  // namespace

Result<Model> sequential_model_of(const Model& m) {
  if (!m.graph) return m;
  const Graph& g = *m.graph;
  Model out;
  out.arch.height = m.arch.height, out.arch.width = m.arch.width, out.arch.channels = m.arch.channels;
  out.arch.scale = m.arch.scale;
  out.arch.classes = m.arch.classes;
  out.metadata = m.metadata;
  int previous = 0;  // the value the next node must read: a chain
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    auto refuse = [&](const std::string& why) { return make_error("node '" + n.name + "' (" + n.op_type + ") " + why); };
    if (n.inputs != std::vector<int>{previous}) return refuse("does not read the node before it: the network is not a chain");
    previous = n.output;
    LayerSpec l;
    l.name = n.name;
    const OpAttributes& a = n.attrs;
    if (n.op == &ops::identity_op) continue;  // a linear activation
    if (n.op == &ops::relu_op && !out.arch.layers.empty() && out.arch.layers.back().activation == Activation::linear &&
        (out.arch.layers.back().type == LayerType::conv2d || out.arch.layers.back().type == LayerType::dense)) {
      out.arch.layers.back().activation = Activation::relu;  // the model file fuses it, under the conv's name
      continue;
    }
    if (n.op == &ops::conv_op) {
      if (a.groups != 1 || a.dh != 1 || a.dw != 1) return refuse("is grouped or dilated");
      auto p = padding_of(n);
      if (!p) return refuse(p.error());
      l.type = LayerType::conv2d;
      l.filters = a.out_channels, l.kernel_h = a.kh, l.kernel_w = a.kw, l.stride_h = a.sh, l.stride_w = a.sw, l.padding = *p;
      l.activation = a.relu ? Activation::relu : Activation::linear;
      out.params[n.name + ".kernel"] = n.weights[0];
      out.params[n.name + ".bias"] = n.weights[1];
    } else if (n.op == &ops::max_pool_op) {
      auto p = padding_of(n);
      if (!p) return refuse(p.error());
      l.type = LayerType::max_pool2d;
      l.pool_h = a.kh, l.pool_w = a.kw, l.stride_h = a.sh, l.stride_w = a.sw, l.padding = *p;
    } else if (n.op == &ops::dropout_op) {
      l.type = LayerType::dropout;
    } else if (n.op == &ops::batch_norm_op) {
      l.type = LayerType::batch_norm;
      l.epsilon = kFoldedEpsilon;
      const size_t c = n.weights[0].size();
      out.params[n.name + ".gamma"] = n.weights[0];
      out.params[n.name + ".beta"] = n.weights[1];
      out.params[n.name + ".moving_mean"] = std::vector<float>(c, 0.f);
      out.params[n.name + ".moving_variance"] = std::vector<float>(c, 1.f - kFoldedEpsilon);
    } else if (n.op == &ops::flatten_op && !a.channels_first_flatten) {
      l.type = LayerType::flatten;
    } else if (n.op == &ops::gemm_op) {
      l.type = LayerType::dense;
      l.filters = a.out_channels;
      l.activation = a.relu ? Activation::relu : i + 1 == g.nodes.size() ? Activation::softmax : Activation::linear;
      out.params[n.name + ".kernel"] = n.weights[0];
      out.params[n.name + ".bias"] = n.weights[1];
    } else {
      return refuse("is not one of the model file's layers (conv2d, max_pool2d, dropout, batch_norm, flatten, dense)");
    }
    out.arch.layers.push_back(std::move(l));
  }
  if (previous != g.output) return make_error("the network's output is not its last node");
  if (out.arch.layers.empty() || out.arch.layers.back().type != LayerType::dense)
    return make_error("the network does not end in a dense layer");
  if (Status s = check_architecture(out.arch); !s) return make_error(s.error());
  return out;
}

}  // namespace gradcam
