// ONNX models: a ModelProto read into plain structs (the graph, its initializers, its inputs and
// outputs), for the graph engine to plan from. Reading does no shape inference and checks no
// operator: it only guarantees that every size taken from the file was within Limits before
// anything was allocated for it, and that every tensor's data matches its declared shape.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gradcam/model.h"
#include "gradcam/status.h"

namespace gradcam::onnx {

// ONNX TensorProto.DataType values (others keep their number).
enum class DataType : int32_t { undefined = 0, float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, float16 = 10, float64 = 11 };

struct Tensor {
  std::string name;
  int32_t data_type = 0;            // ONNX TensorProto.DataType
  std::vector<int64_t> dims;
  std::vector<float> floats;        // FLOAT, FLOAT16, BFLOAT16, DOUBLE converted to float (raw_data little-endian or float_data/int32_data/double_data)
  std::vector<int64_t> ints;        // INT64, INT32, INT16, INT8, UINT32, UINT16, UINT8, BOOL converted to int64
  // A 2-D FLOAT initializer whose one reader is a Gemm with transB=1 (PyTorch's Linear) is read
  // transposed, [dims[1]][dims[0]], the engine's [in][out]: the importer then moves it into the
  // node instead of transposing a copy (VGG's 392 MiB classifier weight would be held twice).
  bool transposed = false;
  int64_t element_count() const;    // product of dims (1 for a scalar)
};

struct Attribute {
  enum class Kind { undefined, f, i, s, t, floats, ints, strings, other };  // other: graphs, sparse tensors, types (not read)
  std::string name;
  Kind kind = Kind::undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;  // "" for an omitted optional input, as in the file
  std::vector<Attribute> attributes;
  const Attribute* attribute(const std::string& name) const;  // nullptr if absent
};

struct ValueInfo {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;            // -1 where the dimension is dynamic (dim_param or absent)
  std::vector<std::string> dim_params;  // the symbolic name where dynamic, "" otherwise
  bool has_shape = false;
};

struct Model {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opsets;  // (domain, version); "" is the default ONNX domain
  std::string producer_name, producer_version, graph_name;
  std::vector<Node> nodes;  // in file order (ONNX requires topological order)
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs, value_infos;
  std::map<std::string, std::string> metadata;  // metadata_props
  int64_t default_opset() const;                // version of domain "" (or "ai.onnx"), 0 if missing
};

struct Limits {
  // What the platform can hold. An ONNX file is one protobuf message, which protobuf caps at 2 GiB
  // (a larger model keeps its weights as external data, which the engine refuses): a 64-bit build
  // takes that, since a file is read as it is decoded and its weights are about its size. wasm32's
  // 4 GiB must also hold the JS API's copy of the file's bytes and the pass: the model limit. What is
  // left of the memory when a file comes is checked before it is read (check_fits_in_memory).
  static constexpr bool kWide = sizeof(void*) >= 8;
  static constexpr size_t kMaxFileBytes = kWide ? (size_t(1) << 31) - 1 : ModelLimits::kMaxFileBytes;
  static constexpr int kMaxNodes = 20000;
  static constexpr int kMaxInitializers = 20000;
  static constexpr int64_t kMaxTensorElements = int64_t(1) << 27;  // one tensor
  // All initializers together (and constant attributes): a file's worth of floats.
  static constexpr int64_t kMaxTotalElements = int64_t(kMaxFileBytes / sizeof(float));
  static constexpr int kMaxDims = 8;
  static constexpr size_t kMaxStringBytes = 4096;                  // names, op types, attribute strings
  static constexpr int kMaxAttributes = 64;                        // per node
  // Counts a file could otherwise make as large as its size allows, a few bytes each.
  static constexpr int kMaxNodeInputs = 4096;                      // inputs, and outputs, of one node
  static constexpr int kMaxValueInfos = 100000;                    // graph inputs, outputs, value_info (each)
  static constexpr int64_t kMaxListElements = int64_t(1) << 20;    // one attribute's floats, ints or strings
  static constexpr int kMaxEntries = 4096;                         // opset imports, metadata entries
  static constexpr size_t kMaxMetadataBytes = 1u << 20;            // one metadata value (some exporters store JSON there)
};

// True when the bytes look like an ONNX ModelProto (used to tell formats apart by content, not by the
// file name; the other formats are safetensors (starts with an 8-byte little-endian header length
// then '{'), HDF5 (\x89HDF) and zip (PK\x03\x04)). Give the whole file or at least its first bytes.
// Text from a file as an error message shows it: control bytes escaped (\x0a), so a message stays
// on one line whatever the file holds. Node and value names are kept in this form.
std::string printable(const std::string& text);

bool looks_like_onnx(const uint8_t* bytes, size_t size);

// Errors are one line and name the file (`source`) and what is wrong, e.g.
// "resnet18.onnx: initializer 'fc.weight' has 513000000 elements, more than the limit of 134217728".
Result<Model> read_model(const uint8_t* bytes, size_t size, const std::string& source = "model");
// The same from an open file of `size` bytes, read as it is decoded: the file's bytes are never
// held whole beside the tensors read from them (each FLOAT tensor's data goes from the file into
// its floats), so loading needs about the weights' memory, not the file's plus the weights'.
Result<Model> read_model_file(std::FILE* file, size_t size, const std::string& source);

}  // namespace gradcam::onnx
