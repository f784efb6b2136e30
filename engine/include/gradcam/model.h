// The model file: safetensors with Keras layer names and layouts, plus the architecture as JSON in
// __metadata__.architecture: the network, its classes and its weight layout in one file, which the
// trainer and init-model write. It is one of the model formats the engine reads; Keras (.h5,
// .keras) and ONNX files are models too (keras.h, formats/onnx_import.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gradcam/status.h"

namespace gradcam {

enum class LayerType { conv2d, max_pool2d, dropout, batch_norm, flatten, dense };
enum class Activation { linear, relu, softmax };
enum class Padding { valid, same };

const char* layer_type_name(LayerType t);
const char* activation_name(Activation a);

// Height x width x channels (HWC, one image). A flat tensor is 1 x 1 x n.
struct Shape {
  int h = 0, w = 0, c = 0;
  int64_t size() const { return int64_t(h) * w * c; }
  bool operator==(const Shape&) const = default;
};

struct LayerSpec {
  LayerType type = LayerType::dropout;
  std::string name;
  // conv2d / dense
  int filters = 0;  // conv2d filters or dense units
  int kernel_h = 0, kernel_w = 0;
  int stride_h = 1, stride_w = 1;
  Padding padding = Padding::valid;
  Activation activation = Activation::linear;
  // max_pool2d
  int pool_h = 0, pool_w = 0;
  // dropout
  float rate = 0.f;
  // batch_norm
  float epsilon = 1e-3f;
};

struct Architecture {
  int height = 32, width = 32, channels = 3;
  float scale = 1.f / 255.f;  // input = pixel * scale
  // Per-channel normalisation after scaling, torchvision's: input = (pixel * scale - mean) / std.
  // Empty: none (the model file's network takes pixel * scale).
  std::vector<float> mean, std;
  std::vector<std::string> classes;
  std::vector<LayerSpec> layers;
};

// Limits checked before anything is allocated from a size read out of a file.
struct ModelLimits {
  // 1 GiB: what wasm32's 4 GiB address space holds while a model loads (the file's bytes, the
  // tensors read from them and the weights, then the network's pass). VGG-16/19 are 553-575 MB.
  static constexpr size_t kMaxFileBytes = size_t(1) << 30;
  static constexpr size_t kMaxHeaderBytes = 16u << 20;  // safetensors JSON header
  static constexpr int kMaxLayers = 256;
  static constexpr int kMaxSide = 4096;                 // input height/width
  static constexpr int kMaxChannels = 65536;
  static constexpr int64_t kMaxTensorElements = int64_t(1) << 27;  // 128 Mi floats per tensor
  // The values and gradients one pass holds at once (Network plans them): wasm32 has a 4 GiB
  // address space for the weights and the pass together.
  static constexpr size_t kMaxPassBytes = sizeof(void*) == 4 ? size_t(3) << 30 : size_t(1) << 40;
  static constexpr int kMaxClasses = 100000;
};

// Parses the architecture JSON, field by field, then checks it as check_architecture does.
// Errors name the layer and the field ("layer 3 (conv2d_2): kernel must be two integers from 1 to 4096").
Result<Architecture> parse_architecture(const std::string& json);
std::string architecture_to_json(const Architecture& arch);
// Checks an architecture built or edited in code as parse_architecture checks a parsed one: the
// input and layer count within ModelLimits, and its layers built as the engine's graph (the Keras
// layer handlers; each layer's shape within the engine's limits), a dense layer last with one unit
// per class. The shapes themselves are the graph's: model_graph(model), Network::output_shape.
Status check_architecture(const Architecture& arch);

// A tensor's name and Keras shape, e.g. "conv2d_3.kernel" [3,3,64,32].
struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
};
// Every parameter the architecture needs, in layer order: the weights its layers ask for as the
// graph is built (for an architecture check_architecture refuses, those of the layers before the
// one it refuses).
std::vector<ParamSpec> parameter_specs(const Architecture& arch);
// check_architecture and parameter_specs from one build of the layers: the parameters of an
// architecture the check accepts, or its error.
Result<std::vector<ParamSpec>> checked_parameter_specs(const Architecture& arch);
// parse_architecture and the parameters the architecture needs, from that one build (the model
// file's reader then reads the tensors they name).
struct ParsedArchitecture {
  Architecture arch;
  std::vector<ParamSpec> params;
};
Result<ParsedArchitecture> parse_architecture_with_params(const std::string& json);

struct Graph;

struct Model {
  // For a model file: the sequential network (arch.layers) and its Keras-layout params. For an
  // ONNX model: arch holds only the input size, scale and classes; the network is `graph`.
  Architecture arch;
  std::shared_ptr<const Graph> graph;  // the network as a graph (built from arch.layers when null)
  std::map<std::string, std::vector<float>> params;  // "<layer>.<param>" -> Keras layout, F32
  std::map<std::string, std::string> metadata;       // __metadata__ other than "architecture"
  // Metadata "trained": "true", "false" (random weights: the CLI, page and widget say so), or
  // absent where the file cannot tell (ONNX): neither trained() nor untrained().
  bool trained() const;
  bool untrained() const;
  const std::vector<float>& param(const std::string& layer, const char* name) const;
};

// Reads a model file. F32 and F16 tensors; every parameter the architecture needs must be present
// with exactly the Keras shape. `source` names the file in error messages.
Result<Model> load_model(const uint8_t* bytes, size_t size, const std::string& source = "model");
Result<Model> load_model_file(const std::string& path);
// A model file's bytes, any format, with its size checked against ModelLimits before reading.
Result<std::vector<uint8_t>> read_model_bytes(const std::string& path);
// A tensor shape as error messages print it: [3,3,32,64].
std::string shape_text(const std::vector<int64_t>& shape);
// Writes a model file (F32, tensors in layer order, architecture in __metadata__).
std::vector<uint8_t> save_model(const Model& model);
Status save_model_file(const Model& model, const std::string& path);

// A model whose network is an imported graph (model.graph), as the model file's sequential network
// with the graph's own weights, when the graph is a chain of what the model file holds (Conv
// without groups or dilation, with or without ReLU; MaxPool; Dropout; BatchNormalization; Flatten in
// Keras's order; Gemm last). Errors name the node that cannot be held. A model without a graph is
// returned as it is.
Result<Model> sequential_model_of(const Model& m);

// The seed network of the Keras Grad-CAM tutorial, with Keras's automatic layer names.
Architecture seed_architecture();
const std::vector<std::string>& cifar10_classes();

// Deterministic random weights (for demos and tests until trained weights exist): He-uniform
// kernels, small positive biases so that ReLU units are alive, identity batch norm with some spread.
// metadata "trained" = "false".
Model random_model(const Architecture& arch, uint64_t seed);

}  // namespace gradcam
