// Loading an ONNX model costs about its weights' memory: the file is read as it is decoded (by path)
// or held by the caller (bytes), each FLOAT tensor goes from the file into its floats, a Gemm's
// [out][in] weight is read transposed and moved into the node, and every other initializer is freed
// once the node that reads it is imported. The bytes alive at once are counted by the test binary's
// operator new (graph/test_no_alloc.cpp).
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "gradcam/engine.h"
#include "formats/onnx_import.h"
#include "onnx_writer.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing::onnx_writer;

namespace {

constexpr int kSide = 64, kMaps = 4, kInputs = kMaps * kSide * kSide, kUnits = 1024;  // a 64 MiB classifier

// The classifier's weight in PyTorch's Linear layout, [out][in]; values that tell every entry apart.
float weight(int o, int i) { return float((o * 7 + i * 13) % 1009) / 1009.f; }

std::string raw_floats(const std::vector<float>& v) { return little_endian_bytes(v.data(), v.size() * sizeof(float)); }

Proto initializer(const std::string& name, const std::vector<int64_t>& dims, const std::vector<float>& values) {
  return tensor(name, 1, dims).bytes_field(field::tensor_raw_data, raw_floats(values));
}

Proto node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output, bool trans_b = false) {
  Proto p;
  for (const std::string& x : inputs) p.bytes_field(field::node_input, x);
  p.bytes_field(field::node_output, output).bytes_field(field::node_name, output).bytes_field(field::node_op_type, op);
  if (trans_b) {
    Proto a;
    p.message(field::node_attribute, a.bytes_field(field::attr_name, "transB").varint(field::attr_i, 1).varint(field::attr_type, 2));
  }
  return p;
}

// Where a file lists its initializers: after its nodes (as writers do), before them, or between the
// first Gemm and the nodes after it.
enum class Order { nodes_first, initializers_first, between };

// x [1,3,64,64] -> 1x1 Conv to 4 maps -> Flatten -> Gemm(transB=1) -> logits [1,1024]. `shared`: a
// second Gemm reads the same weight (the sum of both is the output).
std::string classifier_model(bool shared = false, Order order = Order::nodes_first) {
  std::vector<float> w(size_t(kUnits) * kInputs);
  for (int o = 0; o < kUnits; ++o)
    for (int i = 0; i < kInputs; ++i) w[size_t(o) * kInputs + i] = weight(o, i);
  Proto nodes, later, inits, g;
  nodes.message(field::graph_node, node("Conv", {"x", "conv.w"}, "maps"));
  nodes.message(field::graph_node, node("Flatten", {"maps"}, "flat"));
  nodes.message(field::graph_node, node("Gemm", {"flat", "fc.w", "fc.b"}, shared ? "a" : "logits", true));
  if (shared) {
    later.message(field::graph_node, node("Gemm", {"flat", "fc.w"}, "b", true));
    later.message(field::graph_node, node("Add", {"a", "b"}, "logits"));
  }
  inits.message(field::graph_initializer, initializer("conv.w", {kMaps, 3, 1, 1}, std::vector<float>(size_t(kMaps) * 3, 0.5f)));
  inits.message(field::graph_initializer, initializer("fc.w", {kUnits, kInputs}, w));
  inits.message(field::graph_initializer, initializer("fc.b", {kUnits}, std::vector<float>(kUnits, 0.25f)));
  g.bytes = order == Order::initializers_first ? inits.bytes + nodes.bytes + later.bytes
            : order == Order::between          ? nodes.bytes + inits.bytes + later.bytes
                                               : nodes.bytes + later.bytes + inits.bytes;
  g.message(field::graph_input, value_info("x", 1, {"1", "3", std::to_string(kSide), std::to_string(kSide)}));
  g.message(field::graph_output, value_info("logits", 1, {"1", std::to_string(kUnits)}));
  Proto m;
  m.varint(field::model_ir_version, 9).message(field::model_opset_import, opset("", 14)).message(field::model_graph, g);
  return m.bytes;
}

constexpr size_t kWeightBytes = (size_t(kUnits) * kInputs + kUnits + kMaps * 3) * sizeof(float);

// The Gemm nodes' weights are the file's, as the engine keeps them: [in][out].
void check_classifier(const Model& m, int gemms) {
  int seen = 0;
  for (const Node& n : m.graph->nodes) {
    if (n.op_type != "Gemm") continue;
    ++seen;
    REQUIRE(n.weights[0].size() == size_t(kUnits) * kInputs);
    for (int o : {0, 1, 517, kUnits - 1})
      for (int i : {0, 1, 4000, kInputs - 1}) CHECK(n.weights[0][size_t(i) * kUnits + o] == weight(o, i));
  }
  CHECK(seen == gemms);
}

}  // namespace

TEST_CASE("loading an ONNX file by path holds at most 1.5x its weights, and its Gemm weight arrives as the engine's [in][out]") {
  const std::string bytes = classifier_model();
  const auto path = std::filesystem::temp_directory_path() / ("gradcam-load-memory-" + std::to_string(::getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  const size_t before = testing::live_bytes();
  testing::reset_peak_live_bytes();
  auto engine = Engine::load_file(path.string());
  const size_t peak = testing::peak_live_bytes_since_reset() - before;
  std::filesystem::remove(path);
  REQUIRE_MESSAGE(engine.ok(), engine.error());
  MESSAGE("peak while loading: ", peak >> 20, " MiB for ", kWeightBytes >> 20, " MiB of weights");
  CHECK(peak <= kWeightBytes * 3 / 2);
  check_classifier((*engine)->model(), 1);
}

TEST_CASE("loading ONNX bytes the caller holds adds at most 1.5x the weights to them") {
  const std::vector<uint8_t> bytes = [] {
    const std::string b = classifier_model();
    return std::vector<uint8_t>(b.begin(), b.end());
  }();
  const size_t before = testing::live_bytes();
  testing::reset_peak_live_bytes();
  auto m = load_onnx_model(bytes.data(), bytes.size(), "m.onnx");
  const size_t peak = testing::peak_live_bytes_since_reset() - before;
  REQUIRE_MESSAGE(m.ok(), m.error());
  CHECK(peak <= kWeightBytes * 3 / 2);
  check_classifier(*m, 1);
}

TEST_CASE("a Gemm weight that two nodes read, or that the file lists before its nodes, is read as the file has it") {
  for (bool shared : {false, true})
    for (Order order : {Order::nodes_first, Order::initializers_first, Order::between}) {
      CAPTURE(shared);
      CAPTURE(int(order));
      const std::string b = classifier_model(shared, order);
      auto m = load_onnx_model(reinterpret_cast<const uint8_t*>(b.data()), b.size(), "m.onnx");
      REQUIRE_MESSAGE(m.ok(), m.error());
      check_classifier(*m, shared ? 2 : 1);
    }
}
