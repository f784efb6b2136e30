// The model file's network as a graph. Its layers are Keras layers under the trainer's names
// (conv2d is Conv2D, max_pool2d MaxPooling2D, dropout Dropout, batch_norm BatchNormalization,
// flatten Flatten, dense Dense) and its params are their Keras weights, so the Keras importer's
// layer handlers build them: one place in the engine says what a layer is as ops. The file keeps
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

// The model's params as a Keras 2 file names them: "conv2d.kernel" is conv2d's "conv2d/kernel".
Result<std::vector<KerasTensor>> keras_tensors(const Model& model) {
  std::vector<KerasTensor> out;
  for (const ParamSpec& p : parameter_specs(model.arch)) {
    const size_t dot = p.name.rfind('.');
    auto found = model.params.find(p.name);
    if (found == model.params.end()) return make_error("the model has no parameter " + p.name);
    const std::string layer = p.name.substr(0, dot);
    out.push_back({layer, layer + "/" + p.name.substr(dot + 1), p.shape, found->second});
  }
  return out;
}

}  // namespace

Result<Graph> graph_from_model(const Model& model) {
  const Architecture& arch = model.arch;
  auto tensors = keras_tensors(model);
  if (!tensors) return make_error(tensors.error());
  keras::WeightStore weights(*tensors, "model");
  keras::GraphBuilder b;
  Graph& g = b.g;
  g.format = "model";  // its defaults (ExplainableWords) speak of conv layers, which it marks below
  g.input = {"input", arch.height, arch.width, arch.channels, false, false};
  g.values.push_back({"input", {arch.height, arch.width, arch.channels}, 4, -1});
  int x = 0;
  for (const LayerSpec& l : arch.layers) {
    const KerasLayer k = keras_layer(l);
    const size_t first = g.nodes.size();
    keras::LayerCall call{l.name, k.cls, k.config, {x}, false, l.name, "", b, weights};
    auto out = keras::find_layer_handler(k.cls)(call);
    if (!out) return make_error(out.error());
    if (Status s = weights.finish_layer(call.where(), l.name, l.name, ""); !s) return make_error(s.error());
    for (size_t i = first; i < g.nodes.size(); ++i) g.nodes[i].explainable = false;
    Node& named = g.nodes[size_t(g.values[size_t(*out)].producer)];
    named.op_type = layer_type_name(l.type);
    named.explainable = l.type == LayerType::conv2d;
    x = *out;
  }
  g.output = x;
  if (Status s = weights.check_all_used(); !s) return make_error(s.error());
  // parse_architecture has checked the chain already; this fills the default layer.
  if (Status s = infer_shapes(g); !s) return make_error(s.error());
  return std::move(g);
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
