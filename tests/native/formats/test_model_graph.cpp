// The model file's layers become the graph through the Keras importer's layer handlers and keep the
// model file's own face: one node per layer under the layer's name and type, only conv2d layers
// explainable, batch norm folded, a ReLU fused, the last dense's softmax left to the engine.
#include <doctest/doctest.h>

#include "gradcam/graph.h"
#include "gradcam/model.h"
#include "graph/ops/ops.h"

using namespace gradcam;

TEST_CASE("the model file's graph: a node per layer, its name and type, conv2d layers explainable, BN folded") {
  const char* text = R"({"format": "gradcam-cnn", "version": 1, "input": {"height": 29, "width": 27, "channels": 3},
    "classes": ["a", "b", "c", "d", "e"], "layers": [
    {"type": "conv2d", "name": "c1", "filters": 8, "kernel": [3, 5], "strides": [2, 1], "padding": "same", "activation": "relu"},
    {"type": "batch_norm", "name": "bn1", "epsilon": 0.0007},
    {"type": "max_pool2d", "name": "p1", "pool": [3, 2], "strides": [2, 2], "padding": "same"},
    {"type": "conv2d", "name": "c2", "filters": 6, "kernel": [2, 2], "activation": "linear"},
    {"type": "dropout", "name": "d1", "rate": 0.25},
    {"type": "flatten", "name": "f"},
    {"type": "batch_norm", "name": "bn2"},
    {"type": "dense", "name": "h", "units": 7, "activation": "relu"},
    {"type": "dense", "name": "out", "units": 5, "activation": "softmax"}]})";
  auto arch = parse_architecture(text);
  REQUIRE(arch.ok());
  const Model model = random_model(*arch, 5);
  auto g = graph_from_model(model);
  REQUIRE(g.ok());
  REQUIRE(g->nodes.size() == arch->layers.size());
  const OpDescriptor* ops[] = {&ops::conv_op, &ops::batch_norm_op, &ops::max_pool_op, &ops::conv_op, &ops::dropout_op,
                               &ops::flatten_op, &ops::batch_norm_op, &ops::gemm_op, &ops::gemm_op};
  // Keras's shapes: 'same' gives ceil(in / stride) (29 / 2 -> 15, then 15 / 2 -> 8 and 27 / 2 -> 14),
  // 'valid' (in - k) / stride + 1 (8 - 2 + 1 = 7, 14 - 2 + 1 = 13); flatten 7 * 13 * 6 = 546.
  const Shape shapes[] = {{15, 27, 8}, {15, 27, 8}, {8, 14, 8}, {7, 13, 6}, {7, 13, 6},
                          {1, 1, 546}, {1, 1, 546}, {1, 1, 7}, {1, 1, 5}};
  for (size_t i = 0; i < g->nodes.size(); ++i) {
    const Node& n = g->nodes[i];
    const LayerSpec& l = arch->layers[i];
    CAPTURE(l.name);
    CHECK(n.name == l.name);
    CHECK(g->values[size_t(n.output)].name == l.name);
    CHECK(n.op_type == layer_type_name(l.type));
    CHECK(n.op == ops[i]);
    CHECK(n.explainable == (l.type == LayerType::conv2d));
    CHECK(g->values[size_t(n.output)].shape == shapes[i]);
    CHECK(n.attrs.relu == (l.activation == Activation::relu));
  }
  CHECK(g->format == "model");
  CHECK(g->words.kind == "conv layer");
  CHECK(g->default_layer == 3);  // the last conv2d
  CHECK(g->output == int(g->values.size()) - 1);
  CHECK(g->nodes[0].attrs.auto_pad == "SAME_UPPER");
  CHECK(g->nodes[0].weights[0] == model.param("c1", "kernel"));
  CHECK(g->nodes[8].weights[1] == model.param("out", "bias"));
  for (const char* bn : {"bn1", "bn2"}) {
    const size_t i = bn[2] == '1' ? 1 : 6;
    Node folded;
    ops::fold_batch_norm(model.param(bn, "gamma"), model.param(bn, "beta"), model.param(bn, "moving_mean"),
                         model.param(bn, "moving_variance"), arch->layers[i].epsilon, folded);
    CHECK(g->nodes[i].weights == folded.weights);  // bit for bit
  }
}

TEST_CASE("the model file's parameters are the weights its layers ask for, in layer order, in Keras's shapes") {
  const char* text = R"({"format": "gradcam-cnn", "version": 1, "input": {"height": 9, "width": 8, "channels": 3},
    "classes": ["a", "b"], "layers": [
    {"type": "conv2d", "name": "c1", "filters": 4, "kernel": [3, 2], "activation": "relu"},
    {"type": "batch_norm", "name": "bn"},
    {"type": "max_pool2d", "name": "p"},
    {"type": "flatten", "name": "f"},
    {"type": "dense", "name": "out", "units": 2, "activation": "softmax"}]})";
  auto arch = parse_architecture(text);
  REQUIRE(arch.ok());
  std::vector<std::string> listed;
  for (const ParamSpec& p : parameter_specs(*arch)) listed.push_back(p.name + " " + shape_text(p.shape));
  // conv 9x8 -> 7x7x4, pool -> 3x3x4, flatten 36.
  CHECK(listed == std::vector<std::string>{"c1.kernel [3,2,3,4]", "c1.bias [4]", "bn.gamma [4]", "bn.beta [4]",
                                           "bn.moving_mean [4]", "bn.moving_variance [4]", "out.kernel [36,2]",
                                           "out.bias [2]"});
}

TEST_CASE("an architecture's layers are checked by building them: errors name the layer as the file does") {
  Architecture a = seed_architecture();
  CHECK(check_architecture(a).ok());
  Architecture no_flatten = a;
  no_flatten.layers.erase(no_flatten.layers.begin() + 18);  // flatten: dense_2 reads a 1x1x16 map
  REQUIRE(no_flatten.layers[18].name == "dense");
  CHECK(check_architecture(no_flatten).error().find("layer 18 (dense): Dense on a 4-D input is not supported") == 0);
  Architecture conv_after_flatten = a;
  conv_after_flatten.layers.insert(conv_after_flatten.layers.begin() + 19, conv_after_flatten.layers[0]);
  conv_after_flatten.layers[19].name = "late_conv";
  CHECK(check_architecture(conv_after_flatten).error().find("layer 19 (late_conv): needs a 4-D input") == 0);
  // parameter_specs stops at the layer the check refuses.
  CHECK(parameter_specs(no_flatten).size() == parameter_specs(a).size() - 6);
  // The graph's limits hold at parse time (the engine used to accept these and abort when planning).
  // (A Flatten of 64x64x32 was the example here until a [1,n] value was limited by its size alone.)
  const char* too_big = R"({"format": "gradcam-cnn", "version": 1, "input": {"height": 4096, "width": 4096, "channels": 3},
    "classes": ["a", "b"], "layers": [{"type": "conv2d", "name": "c", "filters": 9, "kernel": [1, 1]},
    {"type": "flatten", "name": "f"}, {"type": "dense", "name": "d", "units": 2}]})";
  CHECK(parse_architecture(too_big).error().find("layer 0 (c): node 'c': its output would be 4096x4096x9, outside") == 0);
}

TEST_CASE("the model file's graph names the parameter a model built in code lacks") {
  Model model = random_model(seed_architecture(), 1);
  model.params.erase(model.arch.layers[0].name + ".bias");
  auto g = graph_from_model(model);
  REQUIRE(!g.ok());
  CHECK(g.error().find(model.arch.layers[0].name + ".bias") != std::string::npos);
}
