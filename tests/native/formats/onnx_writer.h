// A small protobuf writer for assembling ONNX files in tests (not nanopb's: the reader is checked
// against an independent encoder), shared by the reader's and the importer's tests.
#pragma once
#include <cctype>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace gradcam::testing::onnx_writer {

// Protobuf wire format: a field is a varint tag (number << 3 | wire type) and its value.
struct Proto {
  std::string bytes;

  Proto& raw_varint(uint64_t v) {
    do {
      uint8_t b = v & 0x7f;
      v >>= 7;
      bytes.push_back(char(v ? b | 0x80 : b));
    } while (v);
    return *this;
  }
  Proto& varint(int field, int64_t v) { return raw_varint(uint64_t(field) << 3).raw_varint(uint64_t(v)); }
  Proto& fixed32(int field, float f) {
    raw_varint(uint64_t(field) << 3 | 5);
    char b[4];
    std::memcpy(b, &f, 4);
    bytes.append(b, 4);
    return *this;
  }
  Proto& bytes_field(int field, const std::string& s) {
    raw_varint(uint64_t(field) << 3 | 2).raw_varint(s.size());
    bytes += s;
    return *this;
  }
  Proto& message(int field, const Proto& m) { return bytes_field(field, m.bytes); }
  Proto& packed_varints(int field, const std::vector<int64_t>& v) {
    Proto p;
    for (int64_t x : v) p.raw_varint(uint64_t(x));
    return bytes_field(field, p.bytes);
  }
  Proto& packed_floats(int field, const std::vector<float>& v) {
    std::string b(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return bytes_field(field, b);
  }
  Proto& packed_doubles(int field, const std::vector<double>& v) {
    std::string b(v.size() * 8, '\0');
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return bytes_field(field, b);
  }
};

// onnx.proto field numbers, as the test uses them.
namespace field {
constexpr int model_ir_version = 1, model_producer_name = 2, model_producer_version = 3, model_graph = 7,
              model_opset_import = 8, model_metadata_props = 14;
constexpr int graph_node = 1, graph_name = 2, graph_initializer = 5, graph_doc_string = 10, graph_input = 11,
              graph_output = 12, graph_value_info = 13, graph_sparse_initializer = 15;
constexpr int node_input = 1, node_output = 2, node_name = 3, node_op_type = 4, node_attribute = 5,
              node_domain = 7;
constexpr int attr_name = 1, attr_f = 2, attr_i = 3, attr_s = 4, attr_t = 5, attr_floats = 7, attr_ints = 8,
              attr_strings = 9, attr_type = 20;
constexpr int tensor_dims = 1, tensor_data_type = 2, tensor_float_data = 4, tensor_int32_data = 5,
              tensor_int64_data = 7, tensor_name = 8, tensor_raw_data = 9, tensor_double_data = 10,
              tensor_external_data = 13, tensor_data_location = 14;
}  // namespace field

inline std::string little_endian_bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

inline Proto tensor(const std::string& name, int data_type, const std::vector<int64_t>& dims) {
  Proto t;
  for (int64_t d : dims) t.varint(field::tensor_dims, d);
  return t.varint(field::tensor_data_type, data_type).bytes_field(field::tensor_name, name);
}

inline Proto value_info(const std::string& name, int elem_type, const std::vector<std::string>& dims) {
  Proto shape;
  for (const std::string& d : dims) {
    Proto dim;
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim.varint(1, std::stoll(d));  // dim_value
    else if (!d.empty())
      dim.bytes_field(2, d);  // dim_param
    shape.message(1, dim);
  }
  Proto tensor_type;
  tensor_type.varint(1, elem_type).message(2, shape);
  Proto type;
  type.message(1, tensor_type);
  Proto v;
  return v.bytes_field(1, name).message(2, type);
}

inline Proto opset(const std::string& domain, int64_t version) {
  Proto o;
  return o.bytes_field(1, domain).varint(2, version);
}

}  // namespace gradcam::testing::onnx_writer
