// Small builders shared by the native tests.
#pragma once
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradcam/graph.h"
#include "gradcam/model.h"
#include "formats/onnx_import.h"

namespace gradcam::testing {

inline LayerSpec conv(const std::string& name, int filters, int kh, int kw, int sh, int sw, Padding p,
                      Activation act = Activation::relu) {
  LayerSpec l;
  l.type = LayerType::conv2d;
  l.name = name;
  l.filters = filters;
  l.kernel_h = kh;
  l.kernel_w = kw;
  l.stride_h = sh;
  l.stride_w = sw;
  l.padding = p;
  l.activation = act;
  return l;
}
inline LayerSpec pool(const std::string& name, int ph, int pw, int sh, int sw, Padding p = Padding::valid) {
  LayerSpec l;
  l.type = LayerType::max_pool2d;
  l.name = name;
  l.pool_h = ph;
  l.pool_w = pw;
  l.stride_h = sh;
  l.stride_w = sw;
  l.padding = p;
  return l;
}
inline LayerSpec simple(LayerType t, const std::string& name) {
  LayerSpec l;
  l.type = t;
  l.name = name;
  return l;
}
inline LayerSpec dense(const std::string& name, int units, Activation act) {
  LayerSpec l;
  l.type = LayerType::dense;
  l.name = name;
  l.filters = units;
  l.activation = act;
  return l;
}

// An architecture with the given body, then flatten and a dense head of n classes.
inline Architecture small_arch(int h, int w, std::vector<LayerSpec> body, int classes = 3,
                               Activation head = Activation::linear) {
  Architecture a;
  a.height = h;
  a.width = w;
  a.channels = 3;
  for (int i = 0; i < classes; ++i) a.classes.push_back("class" + std::to_string(i));
  a.layers = std::move(body);
  a.layers.push_back(simple(LayerType::flatten, "flatten"));
  a.layers.push_back(dense("head", classes, head));
  Status s = check_architecture(a);
  if (!s) throw std::runtime_error(s.error());
  return a;
}

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = 0.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The ranges GraphBuilder::conv draws a Conv's weights from.
struct ConvWeights {
  float kernel_range = 0.3f;  // kernel uniform in +-kernel_range
  float bias_lo = 0.f, bias_hi = 1.f;
};

// A graph built node by node as the ONNX importer leaves it (channels-first input, constants in
// each op's own layout), each node's shape inferred as it is added so that the next node's weights
// can be sized from it. Errors throw: a test graph that does not infer is a broken test.
struct GraphBuilder {
  Graph g;
  GraphBuilder(int h, int w, int c) {
    g.format = "onnx";
    g.asks_for_input_options = true;
    g.input = {"input", h, w, c, true, false};
    g.values.push_back({"input", {h, w, c}, 4, -1});
  }
  const Value& value(int id) const { return g.value(id); }
  // Adds a node of `type` (a row of op_table()) reading the values `inputs`; returns its output's id.
  int add(const std::string& type, std::vector<int> inputs, OpAttributes attrs = {},
          std::vector<std::vector<float>> weights = {}) {
    Node n;
    n.name = type + "_" + std::to_string(g.nodes.size());
    n.op_type = type;
    n.op = find_op(type);
    if (!n.op) throw std::runtime_error("no op " + type + " in the table");
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    n.weights = std::move(weights);
    n.output = int(g.values.size());
    g.values.push_back({n.name + "_out", {}, 4, int(g.nodes.size())});
    if (Status s = infer_node(g, n, g.values.back()); !s) throw std::runtime_error(s.error());
    g.nodes.push_back(std::move(n));
    return int(g.values.size()) - 1;
  }
  // A Conv as the ONNX importer leaves one: square k x k window, `stride`, k/2 padding on every side
  // (the input's size at stride 1 for odd k), `groups`, a fused ReLU when `relu`; weights in the op's
  // layout (kernel [k][k][ic/groups][oc], bias [oc]) drawn from `seed` and seed + 1.
  int conv(int x, int oc, int k, int stride, int groups, bool relu, uint64_t seed, ConvWeights w = {}) {
    OpAttributes a;
    a.kh = a.kw = k, a.sh = a.sw = stride, a.pad_t = a.pad_l = a.pad_b = a.pad_r = k / 2;
    a.groups = groups, a.out_channels = oc, a.relu = relu;
    const size_t taps = size_t(k) * size_t(k) * size_t(value(x).shape.c / groups);
    return add("Conv", {x}, a,
               {random_vector(taps * size_t(oc), seed, -w.kernel_range, w.kernel_range),
                random_vector(size_t(oc), seed + 1, w.bias_lo, w.bias_hi)});
  }
  // The model whose logits are `output` (2-D), after the engine's own shape inference.
  Model model(int output) {
    g.output = output;
    if (Status s = infer_shapes(g); !s) throw std::runtime_error(s.error());
    mark_explainable_4d_outputs(g);
    Model m;
    m.arch.height = g.input.height;
    m.arch.width = g.input.width;
    m.arch.channels = g.input.channels;
    for (int k = 0; k < g.value(output).shape.c; ++k) m.arch.classes.push_back("class" + std::to_string(k));
    m.graph = std::make_shared<const Graph>(g);
    return m;
  }
};

// A small ResNet-shaped graph (64x64x3 input) as the ONNX importer leaves it: a 7x7 stride-2 stem,
// max pooling, a basic block (two Winograd 3x3s and an identity residual), a downsampling block
// (3x3 stride 2, a 1x1 stride-2 shortcut), a depthwise 3x3 and a 1x1, average pooling, a global
// average pool (an explainable 1x1 map), then a linear head of 10 classes.
inline Model resnet_shaped_model() {
  GraphBuilder b(64, 64, 3);
  uint64_t seed = 100;
  auto conv = [&](int x, int oc, int k, int stride, int groups, bool relu) {
    seed += 2;
    return b.conv(x, oc, k, stride, groups, relu, seed, {0.25f, -0.1f, 0.1f});
  };
  const int stem = conv(0, 16, 7, 2, 1, true);  // 32x32x16
  OpAttributes maxpool;
  maxpool.kh = maxpool.kw = 3, maxpool.sh = maxpool.sw = 2, maxpool.pad_t = maxpool.pad_l = maxpool.pad_b = maxpool.pad_r = 1;
  const int pooled = b.add("MaxPool", {stem}, maxpool);  // 16x16x16
  const int block1 = b.add("Relu", {b.add("Add", {conv(conv(pooled, 16, 3, 1, 1, true), 16, 3, 1, 1, false), pooled})});
  const int down = conv(conv(block1, 48, 3, 2, 1, true), 48, 3, 1, 1, false);  // 8x8x48
  const int block2 = b.add("Relu", {b.add("Add", {down, conv(block1, 48, 1, 2, 1, false)})});
  const int mixed = conv(conv(block2, 48, 3, 1, 48, true), 64, 1, 1, 1, true);  // depthwise, then 1x1
  OpAttributes avg;
  avg.kh = avg.kw = 2, avg.sh = avg.sw = 2;
  const int features = b.add("GlobalAveragePool", {b.add("AveragePool", {mixed}, avg)});
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  OpAttributes head;
  head.out_channels = 10;
  const int logits = b.add("Gemm", {b.add("Flatten", {features}, flatten)}, head,
                           {random_vector(64 * 10, 300, -0.5f, 0.5f), random_vector(10, 301)});
  return b.model(logits);
}

// The largest single operator new since the reset (test_no_alloc.cpp replaces operator new).
void reset_largest_allocation();
std::size_t largest_allocation();
// The most bytes from operator new alive at once since reset_peak_live_bytes (ditto).
void reset_peak_live_bytes();
std::size_t peak_live_bytes_since_reset();
std::size_t live_bytes();

}  // namespace gradcam::testing
