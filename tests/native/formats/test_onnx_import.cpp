// The ONNX import of the ops Keras layers also use (Tanh, Elu, Gelu, PRelu, Sub, Max, Mean, Sum,
// GlobalMaxPool): each reads its attributes and constants from a file, and the engine's own
// Keras-only ops (Swish, KerasReLU, SoftmaxChannels, KerasReshape) are not ONNX op types: a file
// naming one is refused as an unknown op, and the supported list leaves them out.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "formats/onnx_import.h"
#include "onnx_writer.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing::onnx_writer;

namespace {

struct OnnxNode {
  std::string op_type;
  std::vector<std::string> inputs;
  std::string output;
  std::vector<Proto> attributes;
};

Proto float_attribute(const std::string& name, float v) {
  Proto a;
  return a.bytes_field(field::attr_name, name).fixed32(field::attr_f, v).varint(field::attr_type, 1);
}
Proto string_attribute(const std::string& name, const std::string& v) {
  Proto a;
  return a.bytes_field(field::attr_name, name).bytes_field(field::attr_s, v).varint(field::attr_type, 3);
}

struct Initializer {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// x [1,3,4,4] -> the nodes -> GlobalAveragePool -> Flatten -> the output [1,3]; the last node listed
// writes "body".
Result<Model> import(const std::vector<OnnxNode>& nodes, const std::vector<Initializer>& constants = {}, int opset_version = 20) {
  Proto g;
  auto add = [&](const OnnxNode& n, const std::string& name) {
    Proto p;
    for (const std::string& i : n.inputs) p.bytes_field(field::node_input, i);
    p.bytes_field(field::node_output, n.output).bytes_field(field::node_name, name).bytes_field(field::node_op_type, n.op_type);
    for (const Proto& a : n.attributes) p.message(field::node_attribute, a);
    g.message(field::graph_node, p);
  };
  for (size_t i = 0; i < nodes.size(); ++i) add(nodes[i], std::string(1, 'n').append(std::to_string(i)));
  add({"GlobalAveragePool", {"body"}, "pooled", {}}, "pool");
  add({"Flatten", {"pooled"}, "logits", {}}, "flatten");
  for (const Initializer& c : constants) g.message(field::graph_initializer, tensor(c.name, 1, c.dims).packed_floats(field::tensor_float_data, c.values));
  g.message(field::graph_input, value_info("x", 1, {"1", "3", "4", "4"}));
  g.message(field::graph_output, value_info("logits", 1, {"1", "3"}));
  Proto m;
  m.varint(field::model_ir_version, 9).message(field::model_opset_import, opset("", opset_version)).message(field::model_graph, g);
  const std::vector<uint8_t> bytes(m.bytes.begin(), m.bytes.end());
  return load_onnx_model(bytes.data(), bytes.size(), "m.onnx");
}

const Node& node(const Model& m, const std::string& name) {
  for (const Node& n : m.graph->nodes)
    if (n.name == name) return n;
  FAIL("no node ", name);
  return m.graph->nodes[0];
}

}  // namespace

TEST_CASE("ONNX Tanh, Elu, Gelu, PRelu, Sub, Max, Mean, Sum and GlobalMaxPool import with their attributes and constants") {
  auto r = import({{"Tanh", {"x"}, "a", {}},
                   {"Elu", {"a"}, "b", {float_attribute("alpha", 0.7f)}},
                   {"Gelu", {"b"}, "c", {string_attribute("approximate", "tanh")}},
                   {"Gelu", {"c"}, "d", {}},
                   {"PRelu", {"d", "slope"}, "e", {}},
                   {"Sub", {"mean", "e"}, "f", {}},
                   {"Sub", {"f", "x"}, "g", {}},
                   {"Max", {"g", "f", "x"}, "h", {}},
                   {"Mean", {"h", "g"}, "i", {}},
                   {"Sum", {"i", "h", "g"}, "body", {}}},
                  {{"slope", {3, 1, 1}, {0.1f, 0.2f, 0.3f}}, {"mean", {1, 3, 1, 1}, {0.5f, 0.25f, 0.125f}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const Model& m = *r;
  CHECK(node(m, "n0").op_type == "Tanh");
  CHECK(node(m, "n1").attrs.alpha == 0.7f);
  CHECK(node(m, "n2").attrs.approximate_tanh);
  CHECK(!node(m, "n3").attrs.approximate_tanh);
  CHECK(node(m, "n4").weights == std::vector<std::vector<float>>{{0.1f, 0.2f, 0.3f}});
  CHECK(node(m, "n5").weights == std::vector<std::vector<float>>{{0.5f, 0.25f, 0.125f}});
  CHECK(node(m, "n5").attrs.constant_first);  // mean - e
  CHECK(node(m, "n6").inputs.size() == 2);
  CHECK(node(m, "n7").inputs.size() == 3);
  CHECK(node(m, "n9").inputs.size() == 3);
  CHECK(m.graph->value(m.graph->output).shape == Shape{1, 1, 3});

  auto pooled = import({{"GlobalMaxPool", {"x"}, "body", {}}});
  REQUIRE_MESSAGE(pooled.ok(), pooled.error());
  CHECK(node(*pooled, "n0").attrs.keep_dims);
  CHECK(pooled->graph->output_of(0).rank == 4);  // [1,C,1,1], as ONNX defines it
  CHECK(pooled->graph->output_of(0).shape == Shape{1, 1, 3});
}

TEST_CASE("ONNX files with the new ops' unsupported forms give one-line errors naming the node") {
  auto error = [](const std::vector<OnnxNode>& nodes, const std::vector<Initializer>& constants = {}) {
    auto r = import(nodes, constants);
    return r ? std::string("(no error)") : r.error();
  };
  CHECK(error({{"Gelu", {"x"}, "body", {string_attribute("approximate", "fast")}}}) ==
        "m.onnx: node 'n0' (Gelu): approximate must be \"none\" or \"tanh\", not \"fast\"");
  CHECK(error({{"PRelu", {"x", "s"}, "body", {}}}, {{"s", {3, 4, 4}, std::vector<float>(48, 0.1f)}}) ==
        "m.onnx: node 'n0' (PRelu): the slope must be a scalar or hold one value per channel");
  CHECK(error({{"PRelu", {"x", "s"}, "body", {}}}, {{"s", {3}, {0.1f, 0.2f, 0.3f}}}) ==
        "m.onnx: node 'n0' (PRelu): a [C] slope broadcasts over the width of a 4-D input: not supported");
  CHECK(error({{"Max", {"x", "c"}, "body", {}}}, {{"c", {1}, {0.f}}}) ==
        "m.onnx: node 'n0' (Max): constant operands are not supported (only activations)");
  // The engine's Keras-only ops are not ONNX's, whatever a file calls its nodes.
  const std::string supported = supported_ops_text();
  auto listed = [&](const std::string& op) { return (", " + supported + ",").find(", " + op + ",") != std::string::npos; };
  for (const std::string keras_only : {"Swish", "KerasReLU", "SoftmaxChannels", "KerasReshape"}) {
    CAPTURE(keras_only);
    std::string expected = "m.onnx: node 'n0' (";
    expected += keras_only;
    expected += "): op type ";
    expected += keras_only;
    expected += " is not supported (supported: ";
    expected += supported;
    expected += ")";
    CHECK(error({{keras_only, {"x"}, "body", {}}}) == expected);
    CHECK(!listed(keras_only));
  }
  for (const char* onnx_op : {"Tanh", "Elu", "Gelu", "PRelu", "Sub", "Max", "Mean", "Sum", "GlobalMaxPool", "HardSwish"})
    CHECK(listed(onnx_op));
}
