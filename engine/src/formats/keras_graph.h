// The Keras importer's parts (formats/keras_import.cpp, keras_layers.cpp, keras_weights.cpp): a
// Keras model config, in any of its dialects, becomes the engine's graph of op descriptors, one
// Keras layer as one or a few nodes, the node that carries the layer's name being the one whose
// output is the layer's output. The model file's layers are built by the same handlers
// (formats/model_graph.cpp).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gradcam/graph.h"
#include "gradcam/keras.h"

namespace gradcam::keras {

using json = nlohmann::json;

// The file's tensors, handed to the layers that own them. Keras 2 .h5 and TF.js name each weight
// ("block1_conv1/kernel:0"); Keras 3 stores a layer's variables by position under a path made of
// class names ("layers/conv2d_1/vars/0"), which the importer computes for every layer.
class WeightStore {
 public:
  WeightStore(const std::vector<KerasTensor>& tensors, const std::string& source);
  // A store with no file behind it: each weight a layer asks for is appended to `wanted` as
  // "<layer>.<name>" with its shape and handed back as zeros, so that building a network lists the
  // parameters it implies, in the order its layers create them (the model file's parameter_specs).
  explicit WeightStore(std::vector<ParamSpec>& wanted);
  // A model file's params ("<layer>.<name>" -> values in Keras's layout, Model::params): each weight
  // a layer asks for is found by that name and must hold as many values as its shape needs, so
  // the graph is built without first listing the parameters (graph_from_model).
  explicit WeightStore(const std::map<std::string, std::vector<float>>& params);
  bool by_position() const { return by_position_; }
  // The next weight of a layer, checked against the shape the layer needs: by name (Keras 2,
  // TF.js: a weight whose name ends with "<layer>/<name>" in the layer's group `group`), or by
  // position (Keras 3: the next of `path`'s variables). A layer called twice gets the same values.
  Result<std::vector<float>> take(const std::string& layer_label, const std::string& layer, const std::string& group,
                                  const std::string& path, const char* name, const std::vector<int64_t>& shape);
  // Every tensor of the layer taken, called once a call of a layer is built.
  Status finish_layer(const std::string& layer_label, const std::string& layer, const std::string& group,
                      const std::string& path);
  // Every tensor of the file taken by some layer.
  Status check_all_used() const;

 private:
  const std::vector<KerasTensor>& tensors_;
  std::string source_;
  std::vector<ParamSpec>* wanted_ = nullptr;  // the recording store's list
  const std::map<std::string, std::vector<float>>* params_ = nullptr;  // the model file's store
  bool by_position_ = false;
  std::vector<char> used_;
  std::map<std::string, std::vector<size_t>> by_short_;             // "kernel" -> tensors
  std::map<std::string, std::map<std::string, size_t>> by_path_;    // "layers/conv2d" -> "0" -> tensor
  // A layer's weights in order, and how many its current call has taken: by path (Keras 3) or by
  // group and name (two layers may share a name in different groups: an outer and a nested one).
  std::map<std::string, std::vector<std::vector<float>>> taken_;
  std::map<std::string, size_t> cursor_;
  std::string key(const std::string& layer, const std::string& group, const std::string& path) const {
    return by_position_ ? path : group + "\n" + layer;
  }
};

// Keras names layers automatically per class and keeps counting within a Python session, so a
// notebook re-run saves weights as conv2d_9.. while a config written in another session says
// conv2d..: where a file's layer groups miss the config's names only by that numbering, the
// tensors renamed by order within each base name ("conv2d"); nullopt when nothing is renamed.
std::optional<std::vector<KerasTensor>> renumbered_tensors(const std::vector<KerasTensor>& tensors,
                                                           const std::vector<std::string>& layer_names);

// Adds nodes and infers each one's output shape as it is added, so a layer sees its inputs' shapes.
struct GraphBuilder {
  static constexpr size_t kMaxNodes = 20000;  // as many as an ONNX file may hold
  Graph g;
  // The node's output value id; its value is named after the node.
  Result<int> add(Node n);
};

// One call of one layer, as its handler sees it.
struct LayerCall {
  std::string name;   // the call's name: the name of its last node (the layer's, "<layer>/call_1" for a second call)
  std::string cls;    // its class
  const json& cfg;    // its config
  std::vector<int> inputs;  // value ids of the tensors it is called on
  bool keras3 = false;      // Keras 3 semantics where they differ from Keras 2 (hard_sigmoid)
  std::string group, path;  // where its weights are (WeightStore::take)
  GraphBuilder& b;
  WeightStore& w;
  std::string layer = {};  // the Keras layer whose weights these are, when `name` is not it (empty: `name`)
  std::string label = "";   // how errors name the layer, when not by its Keras class ("layer 3 (conv2d_2)")

  std::string where() const { return label.empty() ? "layer '" + name + "' (" + cls + "): " : label + ": "; }
  Error fail(const std::string& why) const { return make_error(where() + why); }
  const Value& input(size_t k = 0) const { return b.g.value(inputs[k]); }
  Result<std::vector<float>> weight(const char* w_name, const std::vector<int64_t>& shape) {
    return w.take(where(), layer.empty() ? name : layer, group, path, w_name, shape);
  }
  // Adds a node of `op` reading `in`; its name is the layer's when `part` is empty, else
  // "<layer>/<part>" (an intermediate node, never offered for explaining).
  Result<int> node(const OpDescriptor* op, std::vector<int> in, const std::string& part, OpAttributes attrs = {},
                   std::vector<std::vector<float>> weights = {});
};

// The handler of a layer class: builds its nodes and returns the value id of the layer's output.
using LayerHandler = Result<int> (*)(LayerCall& call);
LayerHandler find_layer_handler(const std::string& cls);
std::string supported_layers_text();  // "Activation, Add, ..." for the error that names a class

// The activation function `act` (Keras's name) applied to `in` as the layer's output node.
Result<int> activation_node(LayerCall& call, int in, const std::string& act, const std::string& part = "");
// A layer config's activation: a string, or Keras 3's {"class_name": "function", "config": "relu"}.
std::string activation_of(const json& cfg);

// The stand-in of a softmax until the importer knows whether it is the model's last op.
bool is_softmax_marker(const OpDescriptor* op);

// Keras's snake_case of a class name (keras/src/utils/naming.py to_snake_case): the Keras 3 path
// of a layer is "layers/" + this, numbered _1, _2, ... per name in its model's layer order.
std::string snake_case(const std::string& class_name);

}  // namespace gradcam::keras
