// The ONNX reader: what a ModelProto holds comes out as written, every tensor encoding converts,
// every limit refuses before it allocates, and corrupt files give one-line errors naming the file.
// The files are assembled here by a small protobuf writer of the tests' own (onnx_writer.h, not nanopb's), plus
// one written by the ONNX project's serializer (tests/fuzz/corpus/onnx, tests/fuzz/make_onnx_corpus.py).
#include <doctest/doctest.h>

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "formats/memory_left.h"
#include "formats/onnx.h"
#include "onnx_writer.h"
#include "../test_helpers.h"

using namespace gradcam::onnx;
using namespace gradcam::testing::onnx_writer;

namespace {

std::vector<uint8_t> model_bytes(const Proto& graph) {
  Proto m;
  m.varint(field::model_ir_version, 8).message(field::model_opset_import, opset("", 13));
  m.message(field::model_graph, graph);
  return {m.bytes.begin(), m.bytes.end()};
}

// A graph with one initializer, for the tensor tests.
std::vector<uint8_t> with_initializer(const Proto& t) {
  Proto g;
  return model_bytes(g.message(field::graph_initializer, t));
}

gradcam::Result<Model> read_bytes(const std::vector<uint8_t>& b) { return read_model(b.data(), b.size(), "m.onnx"); }

std::string read_error(const std::vector<uint8_t>& b) {
  auto r = read_bytes(b);
  return r ? std::string("(no error)") : r.error();
}

Tensor read_initializer(const Proto& t) {
  auto r = read_bytes(with_initializer(t));
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(r->initializers.size() == 1);
  return r->initializers[0];
}

}  // namespace

TEST_CASE("an ONNX model's graph, attributes, initializers and shapes come out as written") {
  Proto conv;
  conv.bytes_field(field::node_input, "x").bytes_field(field::node_input, "w").bytes_field(field::node_input, "");
  conv.bytes_field(field::node_output, "y").bytes_field(field::node_name, "conv1").bytes_field(field::node_op_type, "Conv");
  Proto ks;
  ks.bytes_field(field::attr_name, "kernel_shape").packed_varints(field::attr_ints, {3, 3}).varint(field::attr_type, 7);
  Proto pad;
  pad.bytes_field(field::attr_name, "auto_pad").bytes_field(field::attr_s, "SAME_UPPER").varint(field::attr_type, 3);
  Proto alpha;
  alpha.bytes_field(field::attr_name, "alpha").fixed32(field::attr_f, 0.25f).varint(field::attr_type, 1);
  Proto group;
  group.bytes_field(field::attr_name, "group").varint(field::attr_i, -2).varint(field::attr_type, 2);
  Proto scales;
  scales.bytes_field(field::attr_name, "scales").packed_floats(field::attr_floats, {1.5f, 2.f}).varint(field::attr_type, 6);
  Proto names;
  names.bytes_field(field::attr_name, "names").bytes_field(field::attr_strings, "a").bytes_field(field::attr_strings, "");
  names.varint(field::attr_type, 8);
  Proto value;
  value.bytes_field(field::attr_name, "value").message(field::attr_t, tensor("c", 7, {2}).packed_varints(field::tensor_int64_data, {4, -5}));
  value.varint(field::attr_type, 4);
  Proto untyped;  // IR version 1 attributes have no type field: the value says it
  untyped.bytes_field(field::attr_name, "old").varint(field::attr_i, 9);
  Proto graph_attr;  // a subgraph (If, Loop) is not read, only named
  graph_attr.bytes_field(field::attr_name, "then_branch").varint(field::attr_type, 5);
  for (const Proto* a : {&ks, &pad, &alpha, &group, &scales, &names, &value, &untyped, &graph_attr})
    conv.message(field::node_attribute, *a);
  Proto relu;
  relu.bytes_field(field::node_input, "y").bytes_field(field::node_output, "z").bytes_field(field::node_op_type, "Relu");
  relu.bytes_field(field::node_domain, "com.example");

  Proto w = tensor("w", 1, {2, 1, 1, 1});
  float wv[] = {0.5f, -1.f};
  w.bytes_field(field::tensor_raw_data, little_endian_bytes(wv, 8));

  Proto g;
  g.message(field::graph_node, conv).message(field::graph_node, relu).bytes_field(field::graph_name, "tiny");
  g.bytes_field(field::graph_doc_string, "skipped, never stored").message(field::graph_initializer, w);
  g.message(field::graph_input, value_info("x", 1, {"N", "1", "", "4"}));
  g.message(field::graph_output, value_info("z", 1, {"N", "2", "4", "4"}));
  Proto no_shape;
  no_shape.bytes_field(1, "y");
  g.message(field::graph_value_info, no_shape);
  Proto m;
  Proto entry;
  entry.bytes_field(1, "classes").bytes_field(2, "cat,dog");
  m.varint(field::model_ir_version, 7).bytes_field(field::model_producer_name, "test").bytes_field(field::model_producer_version, "1.0");
  m.message(field::model_opset_import, opset("com.example", 2)).message(field::model_opset_import, opset("", 11));
  m.message(field::model_graph, g).message(field::model_metadata_props, entry);
  std::vector<uint8_t> bytes(m.bytes.begin(), m.bytes.end());

  auto r = read_model(bytes.data(), bytes.size(), "tiny.onnx");
  REQUIRE_MESSAGE(r.ok(), r.error());
  const Model& model = *r;
  CHECK(model.ir_version == 7);
  CHECK(model.producer_name == "test");
  CHECK(model.producer_version == "1.0");
  CHECK(model.graph_name == "tiny");
  CHECK(model.opsets.size() == 2);
  CHECK(model.default_opset() == 11);
  CHECK(model.metadata.at("classes") == "cat,dog");

  REQUIRE(model.nodes.size() == 2);
  const Node& n = model.nodes[0];
  CHECK(n.name == "conv1");
  CHECK(n.op_type == "Conv");
  CHECK(n.domain.empty());
  CHECK(n.inputs == std::vector<std::string>{"x", "w", ""});
  CHECK(n.outputs == std::vector<std::string>{"y"});
  REQUIRE(n.attributes.size() == 9);
  CHECK(n.attribute("kernel_shape")->kind == Attribute::Kind::ints);
  CHECK(n.attribute("kernel_shape")->ints == std::vector<int64_t>{3, 3});
  CHECK(n.attribute("auto_pad")->kind == Attribute::Kind::s);
  CHECK(n.attribute("auto_pad")->s == "SAME_UPPER");
  CHECK(n.attribute("alpha")->f == 0.25f);
  CHECK(n.attribute("group")->i == -2);
  CHECK(n.attribute("scales")->floats == std::vector<float>{1.5f, 2.f});
  CHECK(n.attribute("names")->strings == std::vector<std::string>{"a", ""});
  const Attribute* v = n.attribute("value");
  REQUIRE(v);
  CHECK(v->kind == Attribute::Kind::t);
  CHECK(v->t.name == "c");
  CHECK(v->t.ints == std::vector<int64_t>{4, -5});
  CHECK(n.attribute("old")->kind == Attribute::Kind::i);
  CHECK(n.attribute("old")->i == 9);
  CHECK(n.attribute("then_branch")->kind == Attribute::Kind::other);
  CHECK(n.attribute("missing") == nullptr);
  CHECK(model.nodes[1].domain == "com.example");

  REQUIRE(model.initializers.size() == 1);
  CHECK(model.initializers[0].dims == std::vector<int64_t>{2, 1, 1, 1});
  CHECK(model.initializers[0].floats == std::vector<float>{0.5f, -1.f});

  REQUIRE(model.inputs.size() == 1);
  const ValueInfo& x = model.inputs[0];
  CHECK(x.name == "x");
  CHECK(x.elem_type == 1);
  CHECK(x.has_shape);
  CHECK(x.dims == std::vector<int64_t>{-1, 1, -1, 4});
  CHECK(x.dim_params == std::vector<std::string>{"N", "", "", ""});
  REQUIRE(model.outputs.size() == 1);
  CHECK(model.outputs[0].dims == std::vector<int64_t>{-1, 2, 4, 4});
  REQUIRE(model.value_infos.size() == 1);
  CHECK_FALSE(model.value_infos[0].has_shape);
}

TEST_CASE("tensor data converts from raw_data and from the typed fields") {
  SUBCASE("FLOAT as little-endian raw_data and as float_data") {
    float v[] = {1.f, -2.5f, 3e-8f};
    Tensor raw = read_initializer(tensor("a", 1, {3}).bytes_field(field::tensor_raw_data, little_endian_bytes(v, 12)));
    CHECK(raw.floats == std::vector<float>{1.f, -2.5f, 3e-8f});
    CHECK(raw.ints.empty());
    Tensor typed = read_initializer(tensor("a", 1, {3}).packed_floats(field::tensor_float_data, {1.f, -2.5f, 3e-8f}));
    CHECK(typed.floats == raw.floats);
    // Unpacked, one value per field, as old writers did.
    Tensor unpacked = read_initializer(tensor("a", 1, {2}).fixed32(field::tensor_float_data, 4.f).fixed32(field::tensor_float_data, 5.f));
    CHECK(unpacked.floats == std::vector<float>{4.f, 5.f});
  }
  SUBCASE("FLOAT16 as raw_data and as int32_data, normals, subnormals, infinity") {
    // 1.0, -2.0, 65504 (largest half), 2^-24 (smallest subnormal), -inf
    uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0xfc00};
    Tensor raw = read_initializer(tensor("h", 10, {5}).bytes_field(field::tensor_raw_data, little_endian_bytes(h, 10)));
    REQUIRE(raw.floats.size() == 5);
    CHECK(raw.floats[0] == 1.f);
    CHECK(raw.floats[1] == -2.f);
    CHECK(raw.floats[2] == 65504.f);
    CHECK(raw.floats[3] == 0x1p-24f);
    CHECK(raw.floats[4] == -std::numeric_limits<float>::infinity());
    Tensor typed = read_initializer(tensor("h", 10, {5}).packed_varints(field::tensor_int32_data, {0x3c00, 0xc000, 0x7bff, 0x0001, 0xfc00}));
    CHECK(typed.floats == raw.floats);
  }
  SUBCASE("BFLOAT16 is float's upper half") {
    uint16_t b[] = {0x3f80, 0xc040};  // 1.0, -3.0
    CHECK(read_initializer(tensor("b", 16, {2}).bytes_field(field::tensor_raw_data, little_endian_bytes(b, 4))).floats ==
          std::vector<float>{1.f, -3.f});
  }
  SUBCASE("DOUBLE narrows to float") {
    double d[] = {0.1, -1e10};
    Tensor raw = read_initializer(tensor("d", 11, {2}).bytes_field(field::tensor_raw_data, little_endian_bytes(d, 16)));
    CHECK(raw.floats == std::vector<float>{0.1f, -1e10f});
    Tensor typed = read_initializer(tensor("d", 11, {2}).packed_doubles(field::tensor_double_data, {0.1, -1e10}));
    CHECK(typed.floats == raw.floats);
  }
  SUBCASE("INT64 as raw_data and as int64_data, negatives kept") {
    int64_t v[] = {-1, int64_t(1) << 40, 7};
    Tensor raw = read_initializer(tensor("i", 7, {3}).bytes_field(field::tensor_raw_data, little_endian_bytes(v, 24)));
    CHECK(raw.ints == std::vector<int64_t>{-1, int64_t(1) << 40, 7});
    CHECK(raw.floats.empty());
    Tensor typed = read_initializer(tensor("i", 7, {3}).packed_varints(field::tensor_int64_data, {-1, int64_t(1) << 40, 7}));
    CHECK(typed.ints == raw.ints);
  }
  SUBCASE("INT32, INT8, UINT8 and BOOL become int64 with their signs") {
    int32_t i32[] = {-7, 70000};
    CHECK(read_initializer(tensor("a", 6, {2}).bytes_field(field::tensor_raw_data, little_endian_bytes(i32, 8))).ints ==
          std::vector<int64_t>{-7, 70000});
    // protobuf writes a negative int32 as the 10-byte varint of its 64-bit sign extension
    CHECK(read_initializer(tensor("a", 6, {2}).packed_varints(field::tensor_int32_data, {-7, 70000})).ints ==
          std::vector<int64_t>{-7, 70000});
    CHECK(read_initializer(tensor("a", 3, {2}).bytes_field(field::tensor_raw_data, std::string("\xff\x05", 2))).ints ==
          std::vector<int64_t>{-1, 5});
    CHECK(read_initializer(tensor("a", 2, {2}).bytes_field(field::tensor_raw_data, std::string("\xff\x05", 2))).ints ==
          std::vector<int64_t>{255, 5});
    CHECK(read_initializer(tensor("a", 9, {2}).packed_varints(field::tensor_int32_data, {1, 0})).ints ==
          std::vector<int64_t>{1, 0});
  }
  SUBCASE("a scalar has one element; an empty dimension has none and needs no data") {
    Tensor scalar = read_initializer(tensor("s", 1, {}).packed_floats(field::tensor_float_data, {2.f}));
    CHECK(scalar.element_count() == 1);
    CHECK(scalar.floats == std::vector<float>{2.f});
    Tensor empty = read_initializer(tensor("e", 1, {4, 0}));
    CHECK(empty.element_count() == 0);
    CHECK(empty.floats.empty());
  }
}

TEST_CASE("every ONNX limit gives its error before allocating what the file asks for") {
  using gradcam::testing::largest_allocation;
  using gradcam::testing::reset_largest_allocation;
  // The largest allocation stays far below what the refused item would have needed; where the
  // file holds many small items (nodes), below what the items under the limit need together.
  auto refused_small = [](const std::vector<uint8_t>& b, const std::string& expected, size_t most = size_t(1) << 20) {
    reset_largest_allocation();
    std::string e = read_error(b);
    CHECK(e == expected);
    CHECK(largest_allocation() < most);
  };
  SUBCASE("a huge declared tensor in a tiny file") {
    refused_small(with_initializer(tensor("fc.weight", 1, {1 << 20, 1 << 20})),
                  "m.onnx: initializer 'fc.weight' has 1099511627776 elements, more than the limit of 134217728");
    refused_small(with_initializer(tensor("big", 1, {int64_t(1) << 40, int64_t(1) << 40})),
                  "m.onnx: initializer 'big': dims [1099511627776,1099511627776] have more elements than int64 can count");
    refused_small(with_initializer(tensor("neg", 1, {-3})), "m.onnx: initializer 'neg': dims [-3] has a negative dimension");
  }
  SUBCASE("one element past the tensor limit") {
    refused_small(with_initializer(tensor("t", 1, {Limits::kMaxTensorElements + 1})),
                  "m.onnx: initializer 't' has 134217729 elements, more than the limit of 134217728");
  }
  SUBCASE("dimensions") {
    // dims come before the name in the file, so the place is the initializer's index
    refused_small(with_initializer(tensor("t", 1, {1, 1, 1, 1, 1, 1, 1, 1, 1})),
                  "m.onnx: initializer 0: dims has more than the limit of 8 values");
    Proto g;
    g.message(field::graph_input, value_info("x", 1, {"1", "1", "1", "1", "1", "1", "1", "1", "1"}));
    refused_small(model_bytes(g), "m.onnx: graph input 'x': shape has more than the limit of 8 dimensions");
  }
  SUBCASE("strings") {
    Proto node;
    node.bytes_field(field::node_name, std::string(Limits::kMaxStringBytes + 1, 'n'));
    Proto g;
    refused_small(model_bytes(g.message(field::graph_node, node)),
                  "m.onnx: node 0: name is 4097 bytes, more than the limit of 4096");
    Proto ok;
    ok.bytes_field(field::node_name, std::string(Limits::kMaxStringBytes, 'n'));
    Proto g2;
    CHECK(read_bytes(model_bytes(g2.message(field::graph_node, ok))).ok());
  }
  SUBCASE("nodes") {
    Proto g;
    for (int i = 0; i <= Limits::kMaxNodes; ++i) g.message(field::graph_node, Proto{});
    refused_small(model_bytes(g), "m.onnx: the graph has more than the limit of 20000 nodes", size_t(16) << 20);
  }
  SUBCASE("initializers") {
    Proto g;
    for (int i = 0; i <= Limits::kMaxInitializers; ++i) g.message(field::graph_initializer, tensor("", 1, {0}));
    refused_small(model_bytes(g), "m.onnx: the graph has more than the limit of 20000 initializers", size_t(16) << 20);
  }
  SUBCASE("attributes per node") {
    Proto node;
    node.bytes_field(field::node_name, "n");
    for (int i = 0; i <= Limits::kMaxAttributes; ++i) {
      Proto a;
      std::string name = "a";  // not "a" + std::to_string(i): GCC 12's -Wrestrict misreads it at -O3
      name += std::to_string(i);
      node.message(field::node_attribute, a.bytes_field(field::attr_name, name).varint(field::attr_i, i));
    }
    Proto g;
    refused_small(model_bytes(g.message(field::graph_node, node)), "m.onnx: node 'n': more than the limit of 64 attributes");
  }
  SUBCASE("inputs per node") {
    Proto node;
    for (int i = 0; i <= Limits::kMaxNodeInputs; ++i) node.bytes_field(field::node_input, "");
    Proto g;
    refused_small(model_bytes(g.message(field::graph_node, node)),
                  "m.onnx: node 0: inputs has more than the limit of 4096 entries");
  }
  SUBCASE("the file size is checked before a byte is read") {
    uint8_t one = 0;
    auto r = read_model(&one, Limits::kMaxFileBytes + 1, "huge.onnx");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == "huge.onnx: the file is " + std::to_string(Limits::kMaxFileBytes + 1) +
                         " bytes, more than the limit of " + std::to_string(Limits::kMaxFileBytes));
  }
}

TEST_CASE("a file whose weights cannot fit in what is left of the memory is refused before it is read") {
#ifdef __EMSCRIPTEN__
  constexpr size_t kMiB = size_t(1) << 20;
  // wasm32: take the memory in untouched 256 MiB blocks until no more comes (less than 256 MiB is
  // left of the 4 GiB); a 300 MiB file is then refused by its size alone: the one byte behind it is
  // never read past.
  std::vector<std::unique_ptr<char[]>> taken;
  while (char* block = new (std::nothrow) char[256 * kMiB]) taken.emplace_back(block);
  CHECK(taken.size() >= 8);  // the memory grew past 2 GiB
  uint8_t one = 0;
  auto r = read_model(&one, 300 * kMiB, "big.onnx");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().rfind("big.onnx: the model's weights (300 MiB) do not fit in this WebAssembly memory: ", 0) == 0);
  CHECK(r.error().find(" of its 4096 MiB are left (the native CLI has no such limit)") != std::string::npos);
  taken.clear();
  CHECK(gradcam::check_fits_in_memory(300 * kMiB, "big.onnx").ok());
#else
  // A 64-bit build leaves the limit to the operating system: any size below the file limit passes.
  CHECK(gradcam::check_fits_in_memory(Limits::kMaxFileBytes, "big.onnx").ok());
  CHECK(Limits::kMaxFileBytes == (size_t(1) << 31) - 1);  // protobuf's limit on one message: ViT-L/16 (1.2 GB) loads
#endif
}

TEST_CASE("corrupt and unsupported ONNX files give one-line errors that name the file") {
  Proto w = tensor("w", 1, {4});
  float v[] = {1, 2, 3, 4};
  w.bytes_field(field::tensor_raw_data, little_endian_bytes(v, 16));
  const std::vector<uint8_t> good = with_initializer(w);
  REQUIRE(read_bytes(good).ok());

  std::vector<std::string> errors;
  SUBCASE("truncated") {
    for (size_t cut : {size_t(1), good.size() / 2, good.size() - 1}) {
      std::vector<uint8_t> part(good.begin(), good.begin() + std::ptrdiff_t(cut));
      std::string e = read_error(part);
      CHECK(e.rfind("m.onnx: ", 0) == 0);
      CHECK(e.find("truncated") != std::string::npos);
      CHECK(e.find('\n') == std::string::npos);
    }
  }
  SUBCASE("garbage, empty, and protobuf that is not a model") {
    std::vector<uint8_t> garbage(300);
    uint32_t x = 12345;
    for (uint8_t& b : garbage) b = uint8_t((x = x * 1103515245 + 12345) >> 16);
    std::string e = read_error(garbage);
    CHECK(e.rfind("m.onnx: ", 0) == 0);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(read_error({}) == "m.onnx: the file is empty");
    Proto m;
    m.varint(field::model_ir_version, 8);
    CHECK(read_error({m.bytes.begin(), m.bytes.end()}) == "m.onnx: no graph in the file: not an ONNX model");
  }
  SUBCASE("external data") {
    Proto entry;
    entry.bytes_field(1, "location").bytes_field(2, "weights.bin");
    Proto t = tensor("fc.weight", 1, {4});
    t.message(field::tensor_external_data, entry).varint(field::tensor_data_location, 1);
    CHECK(read_error(with_initializer(t)) ==
          "m.onnx: initializer 'fc.weight': external data is not supported: save the model with all tensors inside the file");
  }
  SUBCASE("raw_data of the wrong length") {
    Proto t = tensor("w", 1, {4});
    t.bytes_field(field::tensor_raw_data, little_endian_bytes(v, 12));
    CHECK(read_error(with_initializer(t)) == "m.onnx: initializer 'w': raw_data is 12 bytes, expected 16 for dims [4] of FLOAT");
  }
  SUBCASE("typed data of the wrong count, in the wrong field, or beside raw_data") {
    CHECK(read_error(with_initializer(tensor("w", 1, {3}).packed_floats(field::tensor_float_data, {1, 2}))) ==
          "m.onnx: initializer 'w': float_data has 2 values, expected 3 for dims [3] of FLOAT");
    CHECK(read_error(with_initializer(tensor("w", 1, {3}))) ==
          "m.onnx: initializer 'w': float_data has 0 values, expected 3 for dims [3] of FLOAT");
    CHECK(read_error(with_initializer(tensor("w", 1, {2}).packed_varints(field::tensor_int64_data, {1, 2}))) ==
          "m.onnx: initializer 'w' holds FLOAT values in int64_data, where ONNX keeps them in float_data");
    CHECK(read_error(with_initializer(tensor("w", 1, {1}).packed_floats(field::tensor_float_data, {1}).bytes_field(field::tensor_raw_data, std::string(4, '\0')))) ==
          "m.onnx: initializer 'w' has both raw_data and float_data: ONNX keeps a tensor's values in one");
  }
  SUBCASE("unsupported data types and sparse initializers") {
    CHECK(read_error(with_initializer(tensor("names", 8, {1}))) ==
          "m.onnx: initializer 'names': data type 8 (STRING) is not supported");
    Proto g;
    g.message(field::graph_sparse_initializer, Proto{});
    CHECK(read_error(model_bytes(g)) ==
          "m.onnx: the graph has a sparse initializer, which is not supported: save it as a dense initializer");
  }
  SUBCASE("a name with control bytes is escaped, so the message stays on one line") {
    CHECK(read_error(with_initializer(tensor("a\nb", 8, {1}))) ==
          "m.onnx: initializer 'a\\x0ab': data type 8 (STRING) is not supported");
  }
  SUBCASE("a node attribute's tensor is checked as an initializer is") {
    Proto a;
    a.bytes_field(field::attr_name, "value").message(field::attr_t, tensor("k", 7, {3}).packed_varints(field::tensor_int64_data, {1}));
    Proto node;
    node.bytes_field(field::node_name, "const").message(field::node_attribute, a);
    Proto g;
    CHECK(read_error(model_bytes(g.message(field::graph_node, node))) ==
          "m.onnx: node 'const' attribute 'value' tensor 'k': int64_data has 1 values, expected 3 for dims [3] of INT64");
  }
}

TEST_CASE("an ONNX model written by the ONNX project's own serializer reads") {
  std::ifstream f(GRADCAM_SOURCE_DIR "/tests/fuzz/corpus/onnx/conv_gemm.onnx", std::ios::binary);
  REQUIRE(f);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(looks_like_onnx(bytes.data(), bytes.size()));
  auto r = read_model(bytes.data(), bytes.size(), "conv_gemm.onnx");
  REQUIRE_MESSAGE(r.ok(), r.error());
  std::vector<std::string> ops;
  for (const Node& n : r->nodes) ops.push_back(n.op_type);
  CHECK(ops == std::vector<std::string>{"Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"});
  CHECK(r->default_opset() == 13);
  CHECK(r->producer_name == "make_onnx_corpus");
  CHECK(r->metadata.at("classes") == "cat,dog,bird");
  REQUIRE(r->initializers.size() == 4);
  CHECK(r->initializers[0].name == "conv.weight");
  CHECK(r->initializers[0].dims == std::vector<int64_t>{2, 3, 3, 3});
  CHECK(r->initializers[0].floats.size() == 54);
  CHECK(r->initializers[3].floats == std::vector<float>{0.1f, 0.2f, 0.3f});  // float_data
  CHECK(r->nodes[0].attribute("pads")->ints == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(r->nodes[4].attribute("transB")->i == 1);
  REQUIRE(r->inputs.size() == 1);
  CHECK(r->inputs[0].dims == std::vector<int64_t>{-1, 3, 4, 4});
  CHECK(r->inputs[0].dim_params[0] == "N");
}

TEST_CASE("looks_like_onnx tells ONNX from safetensors, HDF5, zip and JPEG by content") {
  Proto t = tensor("w", 1, {1});
  const std::vector<uint8_t> onnx = with_initializer(t.packed_floats(field::tensor_float_data, {1}));
  CHECK(looks_like_onnx(onnx.data(), onnx.size()));
  CHECK(looks_like_onnx(onnx.data(), 16));  // a prefix is enough
  auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  auto looks = [](const std::vector<uint8_t>& b) { return looks_like_onnx(b.data(), b.size()); };
  // safetensors headers of 264 bytes (the first byte is ONNX's ir_version tag) and of 1.2 MB
  CHECK_FALSE(looks(bytes(std::string("\x08\x01\0\0\0\0\0\0{\"a\":{}}", 17))));
  CHECK_FALSE(looks(bytes(std::string("\x08\x20\x12\0\0\0\0\0{\"a\":{}}", 17))));
  CHECK_FALSE(looks(bytes("\x89HDF\r\n\x1a\n\0\0\0\0")));
  CHECK_FALSE(looks(bytes("PK\x03\x04\x14\0\0\0")));
  CHECK_FALSE(looks(bytes("\xff\xd8\xff\xe0\0\x10JFIF")));
  CHECK_FALSE(looks({}));
}

TEST_CASE("every seed of the ONNX fuzz corpus reads, with the values its generator wrote") {
  auto load = [](const char* name) {
    std::ifstream f(std::string(GRADCAM_SOURCE_DIR "/tests/fuzz/corpus/onnx/") + name, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto r = read_model(bytes.data(), bytes.size(), name);
    REQUIRE_MESSAGE(r.ok(), r.error());
    return std::move(r).value();
  };
  auto initializer = [](const Model& m, const std::string& name) -> const Tensor& {
    for (const Tensor& t : m.initializers)
      if (t.name == name) return t;
    FAIL("no initializer " << name);
    return m.initializers.front();
  };
  Model c = load("constant_reshape.onnx");
  CHECK(initializer(c, "scale16").floats == std::vector<float>{1.f, -2.f, 0.5f, 65504.f});
  CHECK(initializer(c, "offset64").floats == std::vector<float>{0.25f, 0.5f, 0.75f, 1.f});
  CHECK(initializer(c, "shape").ints == std::vector<int64_t>{1, 4});
  CHECK(c.nodes[0].attribute("value")->t.ints == std::vector<int64_t>{2, 2});
  CHECK(c.value_infos.size() == 1);

  Model a = load("attributes.onnx");
  CHECK(a.nodes[0].inputs == std::vector<std::string>{"x", "", "scales"});
  CHECK(a.nodes[0].attribute("mode")->s == "linear");
  CHECK(a.nodes[0].attribute("cubic_coeff_a")->f == -0.75f);
  CHECK(a.nodes[2].domain == "com.example");
  CHECK(a.nodes[2].attribute("is_")->ints == std::vector<int64_t>{3, -4});
  CHECK(a.nodes[2].attribute("ss")->strings == std::vector<std::string>{"a", "b"});
  CHECK(a.inputs[0].dim_params == std::vector<std::string>{"", "", "H", "W"});
  CHECK_FALSE(a.value_infos[0].has_shape);

  Model i = load("integers.onnx");
  CHECK(initializer(i, "i8").ints == std::vector<int64_t>{-1, 2, -3});
  CHECK(initializer(i, "u8").ints == std::vector<int64_t>{1, 255, 0});
  CHECK(initializer(i, "flags").ints == std::vector<int64_t>{1, 0, 1});
  CHECK(initializer(i, "i32").ints == std::vector<int64_t>{-7, 0, 7});
}
