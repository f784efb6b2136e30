// Shape inference over the graph, pruning it to its output, and finding the node to explain. (The
// model file's layers become a graph in formats/model_graph.cpp.)
#include "gradcam/graph.h"

#include <algorithm>

namespace gradcam {

Status check_output_limits(const Node& n, const Value& out) {
  // A [1,n] value (a Flatten's, a Dense's) keeps its n in c: its limit is its size, not kMaxChannels
  // (a Flatten of 64x64x32 is 131,072 values).
  const bool channels_over = out.rank != 2 && out.shape.c > ModelLimits::kMaxChannels;
  if (out.shape.h < 1 || out.shape.w < 1 || out.shape.c < 1 || out.shape.h > ModelLimits::kMaxSide ||
      out.shape.w > ModelLimits::kMaxSide || channels_over || out.shape.size() > ModelLimits::kMaxTensorElements)
    return make_error("node '" + n.name + "': its output would be " + std::to_string(out.shape.h) + "x" +
                      std::to_string(out.shape.w) + "x" + std::to_string(out.shape.c) +
                      ", outside the engine's limits (sides 1.." + std::to_string(ModelLimits::kMaxSide) + ", 1.." +
                      std::to_string(ModelLimits::kMaxChannels) + " channels, " +
                      std::to_string(ModelLimits::kMaxTensorElements) + " floats): too big for this engine at this input size");
  return {};
}

Status infer_shapes(Graph& g) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (int v : n.inputs)
      if (v < 0 || v >= n.output) return make_error("node '" + n.name + "' reads a value computed after it");
    Value& out = g.values[size_t(n.output)];
    if (Status s = n.op->infer(g, n, out); !s) return s;
    if (Status s = check_output_limits(n, out); !s) return s;
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

}  // namespace gradcam
