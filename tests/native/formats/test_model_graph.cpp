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
  for (size_t i = 0; i < g->nodes.size(); ++i) {
    const Node& n = g->nodes[i];
    const LayerSpec& l = arch->layers[i];
    CAPTURE(l.name);
    CHECK(n.name == l.name);
    CHECK(g->values[size_t(n.output)].name == l.name);
    CHECK(n.op_type == layer_type_name(l.type));
    CHECK(n.op == ops[i]);
    CHECK(n.explainable == (l.type == LayerType::conv2d));
    CHECK(g->values[size_t(n.output)].shape == l.output);
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

TEST_CASE("the model file's graph names the parameter a model built in code lacks") {
  Model model = random_model(seed_architecture(), 1);
  model.params.erase(model.arch.layers[0].name + ".bias");
  auto g = graph_from_model(model);
  REQUIRE(!g.ok());
  CHECK(g.error().find(model.arch.layers[0].name + ".bias") != std::string::npos);
}
