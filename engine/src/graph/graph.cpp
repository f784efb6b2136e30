// Shape inference over the graph, pruning it to its output, and finding the node to explain. (The
// model file's layers become a graph in formats/model_graph.cpp.)
#include "gradcam/graph.h"

#include <algorithm>
#include <cmath>

#include "graph/ops/strided.h"

namespace gradcam {

int64_t TensorView::size() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// The layout ops' storage view, as vectors: one place computes a value's dims and strides.
TensorView tensor_view(const Value& v) {
  const ops::StridedView s = ops::storage_view(v);
  return {std::vector<int64_t>(s.dims, s.dims + s.rank), std::vector<int64_t>(s.strides, s.strides + s.rank)};
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t k = 0; k < dims.size(); ++k) {
    if (k) s += ',';
    s += std::to_string(dims[k]);
  }
  s += ']';
  return s;
}

void set_rows(Value& v, std::vector<int64_t> dims) {
  v.layout = Layout::rows;
  v.dims = std::move(dims);
  settle_value(v);
}

namespace {
// The side of a square grid of n tokens (2 or more a side), or 0.
int square_side(int64_t n) {
  int64_t s = int64_t(std::sqrt(double(n)) + 0.5);
  return s >= 2 && s * s == n && s <= ModelLimits::kMaxSide ? int(s) : 0;
}
}  // namespace

void settle_value(Value& v) {
  v.map = {};
  if (v.layout == Layout::image && v.rank == 2) {  // an op written before rows: [1, n] as 1 x 1 x n
    v.layout = Layout::rows;
    v.dims = {1, v.shape.size()};
  }
  if (v.layout == Layout::image) {
    v.dims.clear();
    v.rank = 4;
    v.map.grid = v.shape;
    return;
  }
  int64_t count = 1;
  bool valid = !v.dims.empty();
  for (int64_t d : v.dims) {
    valid = valid && d >= 1 && d <= ModelLimits::kMaxTensorElements;
    count = valid ? count * d : 0;
    valid = valid && count <= ModelLimits::kMaxTensorElements;
  }
  v.rank = int(v.dims.size());
  v.shape = valid ? Shape{1, 1, int(count)} : Shape{0, 0, 0};  // check_output_limits names an invalid one
  if (!valid) return;
  // Token grids, as pytorch-grad-cam's reshape_transform reads them: [1, 1+h*w, C] (a class token
  // first, dropped), [1, h*w, C], and channels-last [1, h, w, C].
  const auto& d = v.dims;
  if (d.size() == 3 && d[0] == 1 && d[2] <= ModelLimits::kMaxChannels) {
    if (int s = square_side(d[1] - 1)) v.map = {d[2], Shape{s, s, int(d[2])}};
    else if (int t = square_side(d[1])) v.map = {0, Shape{t, t, int(d[2])}};
  } else if (d.size() == 4 && d[0] == 1 && d[1] * d[2] > 1 && d[1] <= ModelLimits::kMaxSide &&
             d[2] <= ModelLimits::kMaxSide && d[3] <= ModelLimits::kMaxChannels) {
    v.map = {0, Shape{int(d[1]), int(d[2]), int(d[3])}};
  }
}

Status check_output_limits(const Node& n, const Value& out) {
  if (out.layout == Layout::rows) {
    // Any rank: each extent at least 1 and the floats within the per-tensor limit (a [1, n] vector
    // too: it has no channel limit).
    if (out.shape.size() < 1)
      return make_error("node '" + n.name + "': its output would be " + dims_text(out.dims) +
                        ", outside the engine's limits (each extent at least 1, at most " +
                        std::to_string(ModelLimits::kMaxTensorElements) + " floats): too big for this engine at this input size");
    return {};
  }
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

Status infer_node(Graph& g, Node& n, Value& out) {
  if (!n.op->any_rank())
    for (int v : n.inputs) {
      const Value& in = g.value(v);
      if (in.layout == Layout::rows && !in.is_vector())
        return make_error("node '" + n.name + "' (" + n.op_type + "): reads '" + in.name + "' of shape " + dims_text(in.dims) +
                          "; this op takes only [1,C,H,W] images and [1,n] vectors");
    }
  out.layout = Layout::image;  // what the op does not set starts afresh (a value may be inferred twice)
  out.dims.clear();
  out.rank = 4;
  if (Status s = n.op->infer(g, n, out); !s) return s;
  settle_value(out);
  return {};
}

Status infer_shapes(Graph& g) {
  if (!g.values.empty()) settle_value(g.values[0]);  // the image input
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    for (int v : n.inputs)
      if (v < 0 || v >= n.output) return make_error("node '" + n.name + "' reads a value computed after it");
    Value& out = g.values[size_t(n.output)];
    if (Status s = infer_node(g, n, out); !s) return s;
    if (Status s = check_output_limits(n, out); !s) return s;
  }
  if (g.output < 0 || !g.values[size_t(g.output)].is_vector())
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
    // A rows [1,C,H,W] that the ONNX importer copied into the image layout for an image op (MaxViT's
    // window departition, a Reshape): the copy ("<node>/ToImage") is the same tensor, as a map.
    for (size_t j = i + 1; j < g.nodes.size(); ++j)
      if (g.nodes[j].op_type == "ToImage" && g.nodes[j].inputs[0] == n.output && g.nodes[j].explainable) return int(j);
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
