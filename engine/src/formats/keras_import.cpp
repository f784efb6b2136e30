// A Keras model config as the engine's graph. One reader of every dialect:
//  - Keras 2 / tf.keras model_config (tf_keras/src/engine/functional.py get_config): layers with
//    "inbound_nodes": [[["name", node_index, tensor_index, {}], ...]] per call, "input_layers" and
//    "output_layers" as [name, node_index, tensor_index] lists; a Sequential's layers in order (the
//    first with batch_input_shape when there is no InputLayer; Keras 2.0-2.2: the list itself);
//  - Keras 3 config.json (keras/src/models/functional.py, saving/serialization_lib.py): each call
//    {"args": [...], "kwargs": {...}} holding {"class_name": "__keras_tensor__", "config":
//    {"keras_history": [name, node_index, tensor_index]}} (alone or in lists), a single input or
//    output written as one [name, node_index, tensor_index];
//  - TF.js modelTopology (Keras 2's JSON, sometimes wrapped in {"model_config": ...});
//  - a model used as a layer (Functional or Sequential inside another): its layers are inlined, its
//    inputs bound to the tensors the outer layer is called on.
// Layers are built in dependency order, each call of a layer as its handler's nodes
// (keras_layers.cpp), with the layer's weights bound as it asks for them (keras_weights.cpp).
#include <map>
#include <set>

#include "formats/keras_graph.h"
#include "graph/ops/ops.h"

namespace gradcam {

namespace keras {

Result<int> GraphBuilder::add(Node n) {
  if (g.nodes.size() >= kMaxNodes) return make_error("the model has more than " + std::to_string(kMaxNodes) + " ops");
  for (int v : n.inputs)
    if (v < 0 || v >= int(g.values.size())) return make_error("reads a value that does not exist");
  n.output = int(g.values.size());
  g.values.push_back({n.name, {}, 4, int(g.nodes.size())});
  // As the ONNX importer does: the op's inference, then the value settled (a [1, n] result made a
  // rows vector, its map view set), so the next layer's handler reads what the network will hold.
  if (Status s = infer_node(g, n, g.values.back()); !s) {
    g.values.pop_back();
    return make_error(s.error());
  }
  g.nodes.push_back(std::move(n));
  return g.nodes.back().output;
}

namespace {

// A layer's output as the config refers to it: the layer, which call of it, which output.
struct Ref {
  std::string layer;
  int node = 0, tensor = 0;
  std::string key() const { return layer + "\n" + std::to_string(node) + "\n" + std::to_string(tensor); }
};

bool ref_of(const json& v, Ref& r) {
  if (!v.is_array() || v.size() < 3 || !v[0].is_string() || !v[1].is_number_integer() || !v[2].is_number_integer()) return false;
  r = {v[0].get<std::string>(), v[1].get<int>(), v[2].get<int>()};
  return true;
}

// Every tensor reference inside a Keras 3 call's args, in order.
void keras3_refs(const json& v, std::vector<Ref>& out) {
  if (v.is_object()) {
    if (v.contains("config") && v["config"].is_object() && v["config"].contains("keras_history")) {
      Ref r;
      if (ref_of(v["config"]["keras_history"], r)) out.push_back(r);
      return;
    }
    for (const auto& [k, x] : v.items()) keras3_refs(x, out);
  } else if (v.is_array()) {
    for (const json& x : v) keras3_refs(x, out);
  }
}

// Keras 2's call: a list of [name, node, tensor, kwargs] (possibly nested in lists).
void keras2_refs(const json& v, std::vector<Ref>& out) {
  Ref r;
  if (ref_of(v, r)) {
    out.push_back(r);
    return;
  }
  if (v.is_array())
    for (const json& x : v) keras2_refs(x, out);
}

// Each call of a layer: the tensors it reads.
std::vector<std::vector<Ref>> calls_of(const json& entry) {
  std::vector<std::vector<Ref>> calls;
  if (!entry.contains("inbound_nodes") || !entry["inbound_nodes"].is_array()) return calls;
  for (const json& call : entry["inbound_nodes"]) {
    std::vector<Ref> refs;
    if (call.is_object()) keras3_refs(call.contains("args") ? call["args"] : json(), refs);
    else keras2_refs(call, refs);
    calls.push_back(std::move(refs));
  }
  return calls;
}

// input_layers / output_layers: a list of refs, or (Keras 3, one tensor) a single ref.
std::vector<Ref> ref_list(const json& v) {
  std::vector<Ref> out;
  Ref r;
  if (ref_of(v, r)) return {r};
  if (v.is_array())
    for (const json& x : v)
      if (ref_of(x, r)) out.push_back(r);
  return out;
}

std::string class_of(const json& entry) {
  return entry.contains("class_name") && entry["class_name"].is_string() ? entry["class_name"].get<std::string>() : "";
}

std::string name_of(const json& entry) {
  if (entry.contains("config") && entry["config"].is_object() && entry["config"].contains("name") &&
      entry["config"]["name"].is_string())
    return entry["config"]["name"].get<std::string>();
  return entry.contains("name") && entry["name"].is_string() ? entry["name"].get<std::string>() : "";
}

bool is_model(const std::string& cls) { return cls == "Functional" || cls == "Model" || cls == "Sequential"; }

const json& layers_of(const json& model) {
  const json& config = model.at("config");
  return config.is_array() ? config : config.at("layers");  // Keras 2.0-2.2 Sequential: the list itself
}

constexpr int kMaxNesting = 16;

struct Importer {
  Importer(WeightStore& w, bool k3, int input_size) : weights(w), keras3(k3), size(input_size) {}
  GraphBuilder b;
  WeightStore& weights;
  bool keras3 = false;
  bool input_made = false;
  bool scales_pixels = false;  // the first layer on the image is Rescaling or Normalization
  std::set<std::string> names;
  int size = 0;  // --size

  // [batch, height, width, channels] of an InputLayer or a Sequential's first layer.
  Status make_input(const json& shape, const std::string& from) {
    if (input_made) return make_error("the model has more than one input; one image input is supported");
    if (!shape.is_array() || shape.size() != 4)
      return make_error(from + ": the input must be an image [batch, height, width, channels], not " + shape.dump());
    json fixed = shape;
    const bool open = shape[1].is_null() || shape[2].is_null();
    if (open && size <= 0)
      return make_error(from + ": the input's height and width are not fixed (" + shape.dump() +
                        "): give the size to use (--size N)");
    if (!open && size > 0 && (shape[1] != size || shape[2] != size))
      return make_error("--size " + std::to_string(size) + " does not match the model's fixed input " + shape[1].dump() + "x" +
                        shape[2].dump());
    if (open) fixed[1] = fixed[2] = size;
    return make_fixed_input(fixed, from, open);
  }

  Status make_fixed_input(const json& shape, const std::string& from, bool open) {
    for (size_t k = 1; k < 4; ++k)
      if (!shape[k].is_number_integer() || shape[k].get<int64_t>() < 1 || shape[k].get<int64_t>() > ModelLimits::kMaxSide)
        return make_error(from + ": the input shape " + shape.dump() + " is outside 1.." + std::to_string(ModelLimits::kMaxSide));
    if (shape[3] != 3) return make_error(from + ": the input must have 3 channels (RGB), not " + shape[3].dump());
    Graph& g = b.g;
    g.input = {"input", shape[1].get<int>(), shape[2].get<int>(), 3, false, open};
    g.values.push_back({from.empty() ? "input" : from, {g.input.height, g.input.width, 3}, 4, -1});
    input_made = true;
    return {};
  }

  static bool input_shape(const json& entry, json& shape) {
    const json& cfg = entry.contains("config") && entry["config"].is_object() ? entry["config"] : entry;
    for (const char* key : {"batch_input_shape", "batch_shape"})
      if (cfg.contains(key) && cfg[key].is_array()) {
        shape = cfg[key];
        return true;
      }
    return false;
  }

  // The input shape of a Sequential's first layer, looking inside it when it is a model itself:
  // tfjs-layers (a Teachable Machine export) writes the base network's batch_input_shape on the
  // first layer of the nested Sequential, not on the outer one.
  static bool first_input_shape(const json& entry, json& shape, int depth = 0) {
    if (input_shape(entry, shape)) return true;
    if (depth > kMaxNesting || !is_model(class_of(entry))) return false;
    const json& cfg = entry.contains("config") ? entry["config"] : json();
    if (cfg.is_object() && cfg.contains("build_input_shape") && cfg["build_input_shape"].is_array()) {
      shape = cfg["build_input_shape"];
      return true;
    }
    const json& layers = layers_of(entry);
    return layers.is_array() && !layers.empty() && first_input_shape(layers[0], shape, depth + 1);
  }

  // One call of one layer: its outputs' value ids.
  Result<std::vector<int>> call(const json& entry, size_t call_index, std::vector<int> inputs, const std::string& group,
                                const std::string& path, int depth) {
    const std::string cls = class_of(entry), name = name_of(entry);
    const std::string where = "layer '" + name + "' (" + cls + "): ";
    if (inputs.empty()) return make_error(where + "is called on nothing");
    if (is_model(cls)) return model(entry, &inputs, group, path + "/layers", depth + 1);
    const LayerHandler handler = find_layer_handler(cls);
    if (!handler) return make_error(where + "this layer class is not supported (supported: " + supported_layers_text() + ")");
    if (!entry.contains("config") || !entry["config"].is_object()) return make_error(where + "has no config");
    std::string node_name = name;
    if (call_index > 0) node_name = name + "/call_" + std::to_string(call_index);
    else if (names.count(name)) node_name = group + "/" + name;  // a nested model's layer named as an outer one
    LayerCall c{node_name, cls, entry["config"], std::move(inputs), keras3, group, path, b, weights, name};
    if ((cls == "Rescaling" || cls == "Normalization") && c.inputs == std::vector<int>{0}) scales_pixels = true;
    auto out = handler(c);
    if (!out) return make_error(out.error());
    if (Status s = weights.finish_layer(c.where(), name, group, path); !s) return make_error(s.error());
    names.insert(node_name);
    return std::vector<int>{*out};
  }

  // A Sequential or Functional model: `inputs` are the outer tensors it is called on (none for the
  // whole model, whose InputLayer becomes the graph's input). Returns its outputs' value ids.
  Result<std::vector<int>> model(const json& entry, const std::vector<int>* inputs, const std::string& group,
                                 const std::string& prefix, int depth) {
    if (depth > kMaxNesting) return make_error("models are nested more than " + std::to_string(kMaxNesting) + " deep");
    const std::string cls = class_of(entry);
    const json& layers = layers_of(entry);
    if (!layers.is_array() || layers.empty()) return make_error("model '" + name_of(entry) + "' has no layers");
    const bool top = inputs == nullptr;
    // Keras 3 weight paths: layers/<snake_case class>[_N], numbered per name in this model's order.
    std::vector<std::string> paths;
    std::map<std::string, int> used;
    for (const json& l : layers) {
      const std::string snake = snake_case(class_of(l));
      const int n = used.count(snake) ? ++used[snake] : (used[snake] = 0);
      paths.push_back(prefix + "/" + snake + (n ? "_" + std::to_string(n) : ""));
    }
    // Keras 2 weight groups: a top-level layer's own name; inside a nested model, that model's.
    auto group_of = [&](const json& l) { return top ? name_of(l) : group; };

    if (cls == "Sequential") {
      int x = top ? -1 : inputs->front();
      if (!top && inputs->size() != 1) return make_error("model '" + name_of(entry) + "' (Sequential) is called on several tensors");
      for (size_t i = 0; i < layers.size(); ++i) {
        const json& l = layers[i];
        if (class_of(l) == "InputLayer") {
          if (top) {
            json shape;
            if (!input_shape(l, shape)) return make_error("layer '" + name_of(l) + "' (InputLayer) gives no batch_shape");
            if (Status s = make_input(shape, name_of(l)); !s) return make_error(s.error());
            x = 0;
          }
          continue;
        }
        if (x < 0) {
          json shape;
          const json& config = entry["config"];
          if (!first_input_shape(l, shape) && !(config.is_object() && config.contains("build_input_shape") &&
                                           (shape = config["build_input_shape"]).is_array()))
            return make_error("the model gives no input shape [batch, height, width, channels] (an InputLayer, or "
                              "batch_input_shape on the first layer)");
          if (Status s = make_input(shape, "input"); !s) return make_error(s.error());
          x = 0;
        }
        auto out = call(l, 0, {x}, group_of(l), paths[i], depth);
        if (!out) return out;
        if (out->size() != 1) return make_error("layer '" + name_of(l) + "' in a Sequential model gives several outputs");
        x = out->front();
      }
      if (x < 0) return make_error("the model has no layers to run");
      return std::vector<int>{x};
    }

    // Functional: every call of every layer once its inputs exist.
    const json& config = entry.at("config");
    std::map<std::string, int> tensors;
    const std::vector<Ref> ins = ref_list(config.contains("input_layers") ? config["input_layers"] : json());
    if (ins.empty()) return make_error("model '" + name_of(entry) + "' names no input_layers");
    if (!top && ins.size() != inputs->size())
      return make_error("model '" + name_of(entry) + "' takes " + std::to_string(ins.size()) + " inputs, it is called on " +
                        std::to_string(inputs->size()));
    for (size_t k = 0; k < ins.size(); ++k) {
      if (top) {
        const json* input_layer = nullptr;
        for (const json& l : layers)
          if (name_of(l) == ins[k].layer) input_layer = &l;
        json shape;
        if (!input_layer || !input_shape(*input_layer, shape))
          return make_error("input '" + ins[k].layer + "' is not an InputLayer with a batch shape");
        if (Status s = make_input(shape, ins[k].layer); !s) return make_error(s.error());
        tensors[ins[k].key()] = 0;
      } else {
        tensors[ins[k].key()] = (*inputs)[k];
      }
    }
    struct Pending {
      size_t layer, call;
      std::vector<Ref> refs;
    };
    std::vector<Pending> pending;
    for (size_t i = 0; i < layers.size(); ++i) {
      if (class_of(layers[i]) == "InputLayer") continue;
      auto calls = calls_of(layers[i]);
      for (size_t k = 0; k < calls.size(); ++k) pending.push_back({i, k, std::move(calls[k])});
    }
    while (!pending.empty()) {
      bool progress = false;
      for (size_t p = 0; p < pending.size();) {
        std::vector<int> in;
        for (const Ref& r : pending[p].refs) {
          auto t = tensors.find(r.key());
          if (t == tensors.end()) break;
          in.push_back(t->second);
        }
        if (in.size() < pending[p].refs.size()) {
          ++p;
          continue;
        }
        const json& l = layers[pending[p].layer];
        auto out = call(l, pending[p].call, std::move(in), group_of(l), paths[pending[p].layer], depth);
        if (!out) return make_error(out.error());
        for (size_t t = 0; t < out->size(); ++t) tensors[Ref{name_of(l), int(pending[p].call), int(t)}.key()] = (*out)[t];
        pending.erase(pending.begin() + std::ptrdiff_t(p));
        progress = true;
      }
      if (!progress) {
        const json& l = layers[pending[0].layer];
        std::string missing;
        for (const Ref& r : pending[0].refs)
          if (!tensors.count(r.key())) missing = r.layer;
        return make_error("layer '" + name_of(l) + "' (" + class_of(l) + ") reads '" + missing +
                          "', which no layer of the model computes");
      }
    }
    std::vector<int> outs;
    for (const Ref& r : ref_list(config.contains("output_layers") ? config["output_layers"] : json())) {
      auto t = tensors.find(r.key());
      if (t == tensors.end()) return make_error("the model's output '" + r.layer + "' is computed by no layer");
      outs.push_back(t->second);
    }
    if (outs.empty()) return make_error("model '" + name_of(entry) + "' names no output_layers");
    return outs;
  }
};

// Every layer's name, nested models' layers included, in config order.
void collect_layer_names(const json& model, std::vector<std::string>& out, int depth) {
  if (depth > kMaxNesting || !model.is_object() || !model.contains("config")) return;
  const json& config = model["config"];
  const json* layers = config.is_array() ? &config : config.is_object() && config.contains("layers") ? &config["layers"] : nullptr;
  if (!layers || !layers->is_array()) return;
  for (const json& l : *layers) {
    out.push_back(name_of(l));
    if (is_model(class_of(l))) collect_layer_names(l, out, depth + 1);
  }
}

// Explainable: a node that carries a layer's name and outputs a map of more than one pixel. The
// default is keras.io's "last conv layer": the map that the last global pooling or flatten
// collapses, looked for behind the pooling, dropout and batch norm layers in between.
void mark_explainable_layers(Graph& g) {
  for (Node& n : g.nodes) {
    const Value& v = g.values[size_t(n.output)];
    n.explainable = n.explainable && v.layout == Layout::image && v.shape.h * v.shape.w > 1;
  }
  g.default_layer = -1;
  for (const Node& n : g.nodes) {
    const Value& in = g.values[size_t(n.inputs[0])];
    const bool collapses = n.op == &ops::global_average_pool_op || n.op == &ops::global_max_pool_op ||
                           n.op == &ops::flatten_op || (in.rank == 4 && g.values[size_t(n.output)].rank == 2);
    if (!collapses || in.shape.h * in.shape.w <= 1 || in.producer < 0) continue;
    int p = in.producer;
    auto passes = [&](const Node& m) {
      return m.op == &ops::max_pool_op || m.op == &ops::average_pool_op || m.op == &ops::dropout_op ||
             m.op == &ops::identity_op || m.op == &ops::batch_norm_op;
    };
    while (passes(g.nodes[size_t(p)]) && g.values[size_t(g.nodes[size_t(p)].inputs[0])].producer >= 0)
      p = g.values[size_t(g.nodes[size_t(p)].inputs[0])].producer;
    if (g.nodes[size_t(p)].explainable) g.default_layer = p;
    else if (g.nodes[size_t(in.producer)].explainable) g.default_layer = in.producer;
  }
  if (g.default_layer < 0)
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (g.nodes[i].explainable) g.default_layer = int(i);
  g.words = {"layer", "layers with a feature map", "has no feature map",
             "the model has no layer with a feature map (height x width above 1) to explain",
             "has no feature map to explain (a 2-D output, a 1x1 map, or a part of a layer): only layers whose output "
             "has height x width above 1 can be explained",
             12};
}

// A final softmax is dropped: the engine differentiates its input, the logits. Any other softmax
// is computed over channels.
Status settle_softmax(Graph& g) {
  const int out_node = g.values[size_t(g.output)].producer;
  if (out_node >= 0 && is_softmax_marker(g.nodes[size_t(out_node)].op)) {
    const Node& soft = g.nodes[size_t(out_node)];
    g.output = soft.inputs[0];
    const int logits = g.values[size_t(g.output)].producer;
    // Dense(activation='softmax') was "<layer>/dense" then "<layer>": the dense takes the name back.
    if (logits >= 0 && g.nodes[size_t(logits)].name.rfind(soft.name + "/", 0) == 0) {
      g.nodes[size_t(logits)].name = soft.name;
      g.values[size_t(g.output)].name = soft.name;
      g.nodes[size_t(logits)].explainable = true;
    }
  }
  prune_to_output(g);
  for (Node& n : g.nodes)
    if (is_softmax_marker(n.op)) n.op = &ops::softmax_op, n.op_type = ops::softmax_op.type;
  return {};
}

}  // namespace

}  // namespace keras

Result<Model> import_keras_model(const KerasFile& file, const std::string& source, int size) {
  using keras::json;
  auto fail = [&](const std::string& m) { return make_error(source + ": " + m); };
  json j = json::parse(file.model_config, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("the model's config is not valid JSON");
  if (j.contains("model_config") && j["model_config"].is_object()) j = json(j["model_config"]);  // TF.js, some Keras 2
  const std::string cls = keras::class_of(j);
  if (!keras::is_model(cls))
    return fail("the model's class \"" + cls + "\" is not supported (Sequential, Functional, Model)");
  std::vector<std::string> layer_names;
  keras::collect_layer_names(j, layer_names, 0);
  const std::optional<std::vector<KerasTensor>> renamed = keras::renumbered_tensors(file.tensors, layer_names);
  keras::WeightStore weights(renamed ? *renamed : file.tensors, source);
  // Keras 3 by its version, or, where the file names none (a .keras archive keeps it in
  // metadata.json), by its config's Keras 3 form or its weights stored by position.
  const bool keras3 = file.keras_version.rfind("3", 0) == 0 ||
                      (file.keras_version.empty() && (j.contains("module") || j.contains("registered_name") || weights.by_position()));
  keras::Importer im(weights, keras3, size);
  Graph& g = im.b.g;
  try {
    auto outs = im.model(j, nullptr, "", "layers", 0);
    if (!outs) return fail(outs.error());
    if (outs->size() != 1) return fail("the model has " + std::to_string(outs->size()) + " outputs; one (the class scores) is supported");
    g.output = outs->front();
  } catch (const json::exception& e) {
    return fail(std::string("the model's config has an unexpected structure (") + e.what() + ")");
  }
  if (g.output <= 0) return fail("the model's output is its input");
  if (Status s = weights.check_all_used(); !s) return fail(s.error());
  g.format = "keras";
  g.asks_for_input_options = !im.scales_pixels;
  if (Status s = keras::settle_softmax(g); !s) return fail(s.error());
  if (Status s = infer_shapes(g); !s) return fail(s.error());
  keras::mark_explainable_layers(g);

  Model model;
  model.arch.height = g.input.height;
  model.arch.width = g.input.width;
  model.arch.channels = g.input.channels;
  // A model that starts with Rescaling or Normalization takes pixels 0..255; otherwise the
  // tutorial's 1/255, which the person can change (asks_for_input_options).
  model.arch.scale = im.scales_pixels ? 1.f : 1.f / 255.f;
  const int classes = g.values[size_t(g.output)].shape.c;
  if (classes > ModelLimits::kMaxClasses) return fail(std::to_string(classes) + " classes is more than the limit");
  if (classes == 10) model.arch.classes = cifar10_classes();
  else
    for (int c = 0; c < classes; ++c) model.arch.classes.push_back("class_" + std::to_string(c));
  model.metadata["trained"] = "true";  // a person's own model: it is taken to be trained
  const size_t slash = source.find_last_of('/');
  model.metadata["description"] = "imported from the Keras file " + source.substr(slash == std::string::npos ? 0 : slash + 1);
  if (!file.keras_version.empty()) model.metadata["keras_version"] = file.keras_version;
  model.graph = std::make_shared<const Graph>(std::move(g));
  return model;
}

}  // namespace gradcam
