// Shape inference over the graph, the model file's layers as a chain of nodes, and finding the
// node to explain.
#include "gradcam/graph.h"

#include <cstdio>
#include <cstdlib>

#include "ops/ops.h"

namespace gradcam {

Status infer_shapes(Graph& g) {
  int64_t total = g.values.empty() ? 0 : g.values[0].shape.size();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (int v : n.inputs)
      if (v < 0 || v >= n.output) return make_error("node '" + n.name + "' reads a value computed after it");
    Value& out = g.values[size_t(n.output)];
    if (Status s = n.op->infer(g, n, out); !s) return s;
    if (out.shape.h < 1 || out.shape.w < 1 || out.shape.c < 1 || out.shape.h > ModelLimits::kMaxSide ||
        out.shape.w > ModelLimits::kMaxSide || out.shape.c > ModelLimits::kMaxChannels ||
        out.shape.size() > ModelLimits::kMaxTensorElements)
      return make_error("node '" + n.name + "': its output would be " + std::to_string(out.shape.h) + "x" +
                        std::to_string(out.shape.w) + "x" + std::to_string(out.shape.c) +
                        ", outside the engine's limits (sides 1.." + std::to_string(ModelLimits::kMaxSide) + ", 1.." +
                        std::to_string(ModelLimits::kMaxChannels) + " channels, " +
                        std::to_string(ModelLimits::kMaxTensorElements) + " floats): too big for this engine at this input size");
    total += out.shape.size();
    if (total > ModelLimits::kMaxActivationElements)
      return make_error("the network's activations would exceed " + std::to_string(ModelLimits::kMaxActivationElements) +
                        " floats (at node '" + n.name + "'): the model is too big for this engine at this input size");
  }
  if (g.output < 0 || g.values[size_t(g.output)].rank != 2)
    return make_error("the model's output must be 2-D logits [1, classes]");
  if (g.default_layer < 0)
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (g.nodes[i].explainable) g.default_layer = int(i);
  return {};
}

void prune_to_output(Graph& g) {
  std::vector<char> needed_value(g.values.size(), 0), needed_node(g.nodes.size(), 0);
  needed_value[size_t(g.output)] = 1;
  for (size_t i = g.nodes.size(); i-- > 0;) {
    if (!needed_value[size_t(g.nodes[i].output)]) continue;
    needed_node[i] = 1;
    for (int v : g.nodes[i].inputs) needed_value[size_t(v)] = 1;
  }
  std::vector<int> new_id(g.values.size(), -1);
  Graph out;
  out.input = g.input;
  out.format = g.format;
  out.asks_for_input_options = g.asks_for_input_options;
  out.values.push_back(g.values[0]);
  new_id[0] = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!needed_node[i]) continue;
    Node n = std::move(g.nodes[i]);
    for (int& v : n.inputs) v = new_id[size_t(v)];
    Value value = g.values[size_t(n.output)];
    value.producer = int(out.nodes.size());
    new_id[size_t(n.output)] = int(out.values.size());
    n.output = int(out.values.size());
    out.values.push_back(std::move(value));
    out.nodes.push_back(std::move(n));
  }
  out.output = new_id[size_t(g.output)];
  g = std::move(out);
}

std::vector<int> explainable_nodes(const Graph& g) {
  std::vector<int> out;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].explainable) out.push_back(int(i));
  return out;
}

Result<int> find_layer(const Graph& g, const std::string& name) {
  const ExplainableWords& words = g.words;
  if (name.empty() || name == "auto") {
    if (g.default_layer < 0) return make_error(words.none);
    return g.default_layer;
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.name != name && g.values[size_t(n.output)].name != name) continue;
    if (n.explainable) return int(i);
    if (!words.named_but_refused.empty()) return make_error("node \"" + name + "\" " + words.named_but_refused);
  }
  std::string names;
  const std::vector<int> all = explainable_nodes(g);
  const size_t shown = words.listed ? std::min(all.size(), words.listed) : all.size();
  for (size_t k = all.size() - shown; k < all.size(); ++k) names += (names.empty() ? "" : ", ") + g.nodes[size_t(all[k])].name;
  if (shown < all.size()) names = "the last " + std::to_string(shown) + " of " + std::to_string(all.size()) + ": " + names + "; `gradcam info` lists all";
  return make_error("no " + words.kind + " named \"" + name + "\" (" + words.plural + ": " + names + ")");
}

namespace {

std::string auto_pad(Padding p) { return p == Padding::same ? "SAME_UPPER" : "VALID"; }

}  // namespace

Result<Graph> graph_from_model(const Model& model) {
  const Architecture& arch = model.arch;
  Graph g;
  g.format = "model";  // its defaults (ExplainableWords) speak of conv layers, which it marks below
  g.input = {"input", arch.height, arch.width, arch.channels, false, false};
  g.values.push_back({"input", {arch.height, arch.width, arch.channels}, 4, -1});
  for (const LayerSpec& l : arch.layers) {
    Node n;
    n.name = l.name;
    n.op_type = layer_type_name(l.type);
    n.inputs = {int(g.values.size()) - 1};
    OpAttributes& a = n.attrs;
    switch (l.type) {
      case LayerType::conv2d:
        n.op = &ops::conv_op;
        a.kh = l.kernel_h, a.kw = l.kernel_w, a.sh = l.stride_h, a.sw = l.stride_w, a.auto_pad = auto_pad(l.padding);
        a.out_channels = l.filters;
        a.relu = l.activation == Activation::relu;
        n.weights = {model.param(l.name, "kernel"), model.param(l.name, "bias")};
        n.explainable = true;
        break;
      case LayerType::max_pool2d:
        n.op = &ops::max_pool_op;
        a.kh = l.pool_h, a.kw = l.pool_w, a.sh = l.stride_h, a.sw = l.stride_w, a.auto_pad = auto_pad(l.padding);
        break;
      case LayerType::dropout:
        n.op = &ops::dropout_op;
        break;
      case LayerType::batch_norm:
        n.op = &ops::batch_norm_op;
        ops::fold_batch_norm(model.param(l.name, "gamma"), model.param(l.name, "beta"), model.param(l.name, "moving_mean"),
                             model.param(l.name, "moving_variance"), l.epsilon, n);
        break;
      case LayerType::flatten:  // channels-last order, as Keras flattens
        n.op = &ops::flatten_op;
        break;
      case LayerType::dense:
        n.op = &ops::gemm_op;
        a.out_channels = l.filters;
        a.relu = l.activation == Activation::relu;  // a softmax is applied to the logits separately
        n.weights = {model.param(l.name, "kernel"), model.param(l.name, "bias")};
        break;
    }
    n.output = int(g.values.size());
    g.values.push_back({l.name, {l.output.h, l.output.w, l.output.c}, l.type == LayerType::flatten || l.type == LayerType::dense ? 2 : 4,
                        int(g.nodes.size())});
    g.nodes.push_back(std::move(n));
  }
  g.output = int(g.values.size()) - 1;
  // parse_architecture has checked the chain already; this fills the pads and the default layer.
  if (Status s = infer_shapes(g); !s) return make_error(s.error());
  return g;
}

std::shared_ptr<const Graph> model_graph(const Model& model) {
  if (model.graph) return model.graph;
  auto g = graph_from_model(model);
  if (!g) {  // parse_architecture checked the same shapes: this is a bug, not bad input
    std::fprintf(stderr, "gradcam: internal error planning the model: %s\n", g.error().c_str());
    std::abort();
  }
  return std::make_shared<const Graph>(std::move(*g));
}

}  // namespace gradcam
