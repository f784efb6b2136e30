// The model file's network as a graph. Its layers are Keras layers under the trainer's names
// (conv2d is Conv2D, max_pool2d MaxPooling2D, dropout Dropout, batch_norm BatchNormalization,
// flatten Flatten, dense Dense) and its params are their Keras weights, so the Keras importer's
// layer handlers build them: one place in the engine says what a layer is as ops. The same build
// checks an architecture's shapes and lists the parameters it needs (the handlers ask for them
// with a recording WeightStore), so the model file has no shape rules of its own. The file keeps
// its own words: only its conv2d layers are offered for explaining, and a node's type is the
// file's layer type, as `info` has always shown them.
#include <cstdio>
#include <cstdlib>

#include "formats/keras_graph.h"
#include "gradcam/graph.h"

namespace gradcam {

namespace {

using keras::json;

struct KerasLayer {
  const char* cls;
  json config;
};

// The Keras class and get_config() fields of a model file layer.
KerasLayer keras_layer(const LayerSpec& l) {
  const char* padding = l.padding == Padding::same ? "same" : "valid";
  // A softmax on the last dense is not an op: the engine differentiates the logits and applies
  // the softmax to them itself.
  const char* activation = l.activation == Activation::relu ? "relu" : "linear";
  switch (l.type) {
    case LayerType::conv2d:
      return {"Conv2D", {{"filters", l.filters},
                         {"kernel_size", json::array({l.kernel_h, l.kernel_w})},
                         {"strides", json::array({l.stride_h, l.stride_w})},
                         {"padding", padding},
                         {"activation", activation}}};
    case LayerType::max_pool2d:
      return {"MaxPooling2D", {{"pool_size", json::array({l.pool_h, l.pool_w})},
                               {"strides", json::array({l.stride_h, l.stride_w})},
                               {"padding", padding}}};
    case LayerType::dropout: return {"Dropout", {{"rate", l.rate}}};
    case LayerType::batch_norm: return {"BatchNormalization", {{"epsilon", l.epsilon}}};  // float -> double -> float: exact
    case LayerType::flatten: return {"Flatten", json::object()};
    case LayerType::dense: return {"Dense", {{"units", l.filters}, {"activation", activation}}};
  }
  return {"", json::object()};
}

// How the model file's errors name a layer: "layer 3 (conv2d_2)".
std::string layer_label(size_t i, const LayerSpec& l) {
  return "layer " + std::to_string(i) + " (" + (l.name.empty() ? layer_type_name(l.type) : l.name) + ")";
}

// The model file's layers as a graph, one node per layer, with the weights `weights` hands out.
// Each layer's output is held to the engine's limits as it is added, so that no later layer works
// on a shape beyond them. Without `keep_weights` each node's weights are dropped once its shape is
// known: the graph is only read for its shapes, and a large network's zeros are then held one
// layer at a time.
Result<Graph> layer_graph(const Architecture& arch, keras::WeightStore& weights, bool keep_weights) {
  keras::GraphBuilder b;
  Graph& g = b.g;
  g.format = "model";  // its defaults (ExplainableWords) speak of conv layers, which it marks below
  g.input = {"input", arch.height, arch.width, arch.channels, false, false};
  g.values.push_back({"input", {arch.height, arch.width, arch.channels}, 4, -1});
  int x = 0;
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    const LayerSpec& l = arch.layers[i];
    const KerasLayer k = keras_layer(l);
    const size_t first = g.nodes.size();
    keras::LayerCall call{l.name, k.cls, k.config, {x}, false, l.name, "", b, weights, "", layer_label(i, l)};
    auto out = keras::find_layer_handler(k.cls)(call);
    if (!out) return make_error(out.error());
    if (Status s = weights.finish_layer(call.where(), l.name, l.name, ""); !s) return make_error(s.error());
    for (size_t n = first; n < g.nodes.size(); ++n) {
      Node& node = g.nodes[n];
      if (Status s = check_output_limits(node, g.value(node.output)); !s)
        return make_error(call.where() + s.error());
      node.explainable = false;
      if (!keep_weights) std::vector<std::vector<float>>().swap(node.weights);
    }
    Node& named = g.nodes[size_t(g.values[size_t(*out)].producer)];
    named.op_type = layer_type_name(l.type);
    named.explainable = l.type == LayerType::conv2d;
    x = *out;
  }
  g.output = x;
  return std::move(g);
}

}  // namespace

Result<std::vector<ParamSpec>> checked_parameter_specs(const Architecture& arch) {
  if (arch.height <= 0 || arch.width <= 0 || arch.channels <= 0 || arch.height > ModelLimits::kMaxSide ||
      arch.width > ModelLimits::kMaxSide || arch.channels > ModelLimits::kMaxChannels)
    return make_error("input shape " + std::to_string(arch.height) + "x" + std::to_string(arch.width) + "x" +
                      std::to_string(arch.channels) + " is outside the limits (1.." +
                      std::to_string(ModelLimits::kMaxSide) + " a side)");
  if (arch.layers.empty()) return make_error("architecture has no layers");
  if (int(arch.layers.size()) > ModelLimits::kMaxLayers)
    return make_error("architecture has " + std::to_string(arch.layers.size()) + " layers; the limit is " +
                      std::to_string(ModelLimits::kMaxLayers));
  std::vector<ParamSpec> wanted;
  keras::WeightStore recording(wanted);
  auto g = layer_graph(arch, recording, false);
  if (!g) return make_error(g.error());
  if (arch.layers.back().type != LayerType::dense) return make_error("the last layer must be dense (the class scores)");
  const int units = g->value(g->output).shape.c;
  if (int(arch.classes.size()) != units)
    return make_error("architecture names " + std::to_string(arch.classes.size()) + " classes but the last layer has " +
                      std::to_string(units) + " units");
  return wanted;
}

Status check_architecture(const Architecture& arch) {
  auto params = checked_parameter_specs(arch);
  if (!params) return make_error(params.error());
  return {};
}

std::vector<ParamSpec> parameter_specs(const Architecture& arch) {
  std::vector<ParamSpec> wanted;
  keras::WeightStore recording(wanted);
  // An architecture that check_architecture refuses lists the parameters of the layers before the
  // one it refuses.
  (void)layer_graph(arch, recording, false);
  return wanted;
}

Result<Graph> graph_from_model(const Model& model) {
  // One build, the weights taken from model.params by name (params the layers do not ask for are
  // ignored, as they always were).
  keras::WeightStore weights(model.params);
  auto g = layer_graph(model.arch, weights, true);
  if (!g) return make_error(g.error());
  // check_architecture has built the same layers already; this fills the default layer.
  if (Status s = infer_shapes(*g); !s) return make_error(s.error());
  return g;
}

std::shared_ptr<const Graph> model_graph(const Model& model) {
  if (model.graph) return model.graph;
  auto g = graph_from_model(model);
  if (!g) {  // check_architecture built the same layers: this is a bug, not bad input
    std::fprintf(stderr, "gradcam: internal error planning the model: %s\n", g.error().c_str());
    std::abort();
  }
  return std::make_shared<const Graph>(std::move(*g));
}

}  // namespace gradcam
