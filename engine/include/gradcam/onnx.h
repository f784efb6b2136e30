// PLACEHOLDER until the onnx-reader branch merges (same API).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>
#include "gradcam/result.h"
namespace gradcam::onnx {
enum class DataType : int32_t { undefined = 0, float32 = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, float16 = 10, float64 = 11 };
struct Tensor {
  std::string name;
  int32_t data_type = 0;
  std::vector<int64_t> dims;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  int64_t element_count() const;
};
struct Attribute {
  enum class Kind { undefined, f, i, s, t, floats, ints, strings, other };
  std::string name;
  Kind kind = Kind::undefined;
  float f = 0; int64_t i = 0; std::string s; Tensor t;
  std::vector<float> floats; std::vector<int64_t> ints; std::vector<std::string> strings;
};
struct Node {
  std::string name, op_type, domain;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
  const Attribute* attribute(const std::string& name) const;
};
struct ValueInfo {
  std::string name;
  int32_t elem_type = 0;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_params;
  bool has_shape = false;
};
struct Model {
  int64_t ir_version = 0;
  std::vector<std::pair<std::string, int64_t>> opsets;
  std::string producer_name, producer_version, graph_name;
  std::vector<Node> nodes;
  std::vector<Tensor> initializers;
  std::vector<ValueInfo> inputs, outputs, value_infos;
  std::map<std::string, std::string> metadata;
  int64_t default_opset() const;
};
bool looks_like_onnx(const uint8_t* bytes, size_t size);
Result<Model> read_model(const uint8_t* bytes, size_t size, const std::string& source = "model");
}  // namespace gradcam::onnx
