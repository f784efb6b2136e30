// The ONNX import of the layout ops (Transpose, Reshape of any rank, Slice, Gather, Squeeze,
// Unsqueeze, Expand, Concat with constants, Split) and of the values they make: an op written for
// images reads a rows [1,C,H,W] through a ToImage copy the importer inserts; any other rows value
// is refused there, naming the node. The logits of each small model are checked against the same
// arithmetic done here on the input.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/onnx_import.h"
#include "gradcam/engine.h"
#include "gradcam/network.h"
#include "onnx_writer.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;
using namespace gradcam::testing::onnx_writer;

namespace {

struct LayoutNode {
  std::string op_type;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Proto> attributes;
};

Proto ints_attribute(const std::string& name, const std::vector<int64_t>& v) {
  Proto a;
  a.bytes_field(field::attr_name, name);
  for (int64_t x : v) a.varint(field::attr_ints, x);
  return a.varint(field::attr_type, 7);
}
Proto int_attribute(const std::string& name, int64_t v) {
  Proto a;
  return a.bytes_field(field::attr_name, name).varint(field::attr_i, v).varint(field::attr_type, 2);
}

struct IntConstant {
  std::string name;
  std::vector<int64_t> dims, values;
};
struct FloatConstant {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// x [1,3,4,4] -> the nodes (the last writes "body") -> GlobalAveragePool -> Flatten -> logits [1,3].
Result<Model> import(const std::vector<LayoutNode>& nodes, const std::vector<IntConstant>& ints = {}, const std::vector<FloatConstant>& floats = {}) {
  Proto g;
  auto add = [&](const LayoutNode& n, const std::string& name) {
    Proto p;
    for (const std::string& i : n.inputs) p.bytes_field(field::node_input, i);
    for (const std::string& o : n.outputs) p.bytes_field(field::node_output, o);
    p.bytes_field(field::node_name, name).bytes_field(field::node_op_type, n.op_type);
    for (const Proto& a : n.attributes) p.message(field::node_attribute, a);
    g.message(field::graph_node, p);
  };
  for (size_t i = 0; i < nodes.size(); ++i) add(nodes[i], std::string(1, 'n').append(std::to_string(i)));  // (GCC 12 warns on "n" + ...)
  add({"GlobalAveragePool", {"body"}, {"pooled"}, {}}, "pool");
  add({"Flatten", {"pooled"}, {"logits"}, {}}, "flatten");
  for (const IntConstant& c : ints) g.message(field::graph_initializer, tensor(c.name, 7, c.dims).packed_varints(field::tensor_int64_data, c.values));
  for (const FloatConstant& c : floats) g.message(field::graph_initializer, tensor(c.name, 1, c.dims).packed_floats(field::tensor_float_data, c.values));
  g.message(field::graph_input, value_info("x", 1, {"1", "3", "4", "4"}));
  g.message(field::graph_output, value_info("logits", 1, {"1", "3"}));
  Proto m;
  m.varint(field::model_ir_version, 9).message(field::model_opset_import, opset("", 17)).message(field::model_graph, g);
  const std::vector<uint8_t> bytes(m.bytes.begin(), m.bytes.end());
  return load_onnx_model(bytes.data(), bytes.size(), "m.onnx");
}

// The input as the network reads it (channels-last h x w x c) and x[c][y][x] of it.
struct Input {
  std::vector<float> hwc = random_vector(4 * 4 * 3, 77, -1.f, 1.f);
  float at(int c, int y, int x) const { return hwc[size_t((y * 4 + x) * 3 + c)]; }
};

std::vector<float> logits(const Model& m, const Input& in) {
  Network net(m);
  net.forward(in.hwc.data());
  return net.logits();
}

int find_node(const Model& m, const std::string& name) {
  for (size_t i = 0; i < m.graph->nodes.size(); ++i)
    if (m.graph->nodes[i].name == name) return int(i);
  return -1;
}

// Whether the node named `name` can be explained; the node must exist.
bool explainable_node(const Model& m, const std::string& name) {
  const int i = find_node(m, name);
  REQUIRE_MESSAGE(i >= 0, "no node " << name);
  return m.graph->nodes[size_t(i)].explainable;
}

}  // namespace

TEST_CASE("an op written for images reads a rows [1,C,H,W] (a Transpose's) through a ToImage the importer inserts") {
  auto r = import({{"Transpose", {"x"}, {"body"}, {ints_attribute("perm", {0, 1, 3, 2})}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const int t = find_node(*r, "n0/ToImage");
  REQUIRE(t >= 0);
  CHECK(r->graph->nodes[size_t(t)].op_type == "ToImage");
  CHECK(r->graph->output_of(t).layout == Layout::image);
  CHECK(r->graph->nodes[size_t(find_node(*r, "pool"))].inputs[0] == r->graph->nodes[size_t(t)].output);
  // Named (or its output named), the node is explained through its image copy, the same tensor
  // (MaxViT's departition Reshape, the last block's output).
  CHECK(!r->graph->nodes[size_t(find_node(*r, "n0"))].explainable);
  for (const char* name : {"n0", "body"}) {
    auto named = find_layer(*r->graph, name);
    REQUIRE_MESSAGE(named.ok(), named.error());
    CHECK(*named == t);
  }
  const Input in;
  Network net(*r);
  net.forward(in.hwc.data());
  const Floats image = net.output(t);  // h x w x c of the transposed x: element (y, x) is x's (x, y)
  REQUIRE(image.size() == 48);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int c = 0; c < 3; ++c) CHECK(image[size_t((y * 4 + x) * 3 + c)] == in.at(c, x, y));
}

TEST_CASE("a rows [1,C,H,W] explained through its image copy gets its whole gradient, from readers before the copy too") {
  // r = x transposed, a rows [1,3,4,4]; a Mul (any rank) reads it before an AveragePool (an image
  // op) makes its image copy: body = avgpool1x1(r) + r * r. MaxViT's departition is read so by the
  // next block's downsampling shortcut (Pad) before its pre-norm. The map at r reads the copy's
  // gradient, which must hold the Mul's share: d logit_c / d r[c][y][x] = (1 + 2 r) / 16.
  auto r = import({{"Transpose", {"x"}, {"r"}, {ints_attribute("perm", {0, 1, 3, 2})}},
                   {"Mul", {"r", "r"}, {"sq"}, {}},
                   {"AveragePool", {"r"}, {"avg"}, {ints_attribute("kernel_shape", {1, 1})}},
                   {"Add", {"avg", "sq"}, {"body"}, {}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  auto layer = find_layer(*r->graph, "n0");
  REQUIRE_MESSAGE(layer.ok(), layer.error());
  REQUIRE(*layer == find_node(*r, "n0/ToImage"));
  const Input in;
  Network net(*r);
  net.forward(in.hwc.data());
  for (int target = 0; target < 3; ++target) {
    CAPTURE(target);
    std::vector<float> dscore(3, 0.f);
    dscore[size_t(target)] = 1.f;
    net.backward(dscore.data(), *layer);
    const Floats g = net.output_grad(*layer);  // h x w x c of r: element (y, x) is x's (x, y)
    REQUIRE(g.size() == 48);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 3; ++c) {
          const float want = c == target ? (1.f + 2.f * in.at(c, x, y)) / 16.f : 0.f;
          CHECK(g[size_t((y * 4 + x) * 3 + c)] == doctest::Approx(want).epsilon(1e-6));
        }
  }
}

TEST_CASE("an op written for images refuses any other rows value, naming the node and the shape") {
  auto r = import({{"Reshape", {"x", "shape"}, {"body"}, {}}}, {{"shape", {3}, {1, 3, 16}}});
  REQUIRE(!r.ok());
  CHECK(r.error() == "m.onnx: node 'pool' (GlobalAveragePool): reads 'body' of shape [1,3,16]; this op takes only [1,C,H,W] images and [1,n] vectors");
}

TEST_CASE("Split becomes one Slice per output; Concat joins rows on any axis") {
  auto r = import({{"Split", {"x", "sizes"}, {"a", "b"}, {int_attribute("axis", 1)}},
                   {"Concat", {"b", "a"}, {"body"}, {int_attribute("axis", 1)}}},
                  {{"sizes", {2}, {1, 2}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->graph->nodes[size_t(find_node(*r, "n0:0"))].op_type == "Slice");
  CHECK(r->graph->nodes[size_t(find_node(*r, "n0:1"))].op_type == "Slice");
  const Input in;
  const std::vector<float> z = logits(*r, in);
  for (int k = 0; k < 3; ++k) {  // channels [1, 2, 0]
    double mean = 0;
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) mean += in.at((k + 1) % 3, y, x) / 16.0;
    CHECK(z[size_t(k)] == doctest::Approx(mean).epsilon(1e-5));
  }
}

TEST_CASE("Slice, Gather, Unsqueeze, Expand and a Concat with a constant import from their constant inputs") {
  // x [1,3,4,4] -> columns 1..2 [1,3,4,2] -> column 0 of those [1,3,4] -> [1,3,4,1] -> [1,3,4,2]
  // -> beside a constant column [1,3,4,3].
  std::vector<float> column(12);
  for (size_t k = 0; k < column.size(); ++k) column[k] = 0.25f * float(k) - 1.f;
  auto r = import({{"Slice", {"x", "starts", "ends", "axes", "steps"}, {"s"}, {}},
                   {"Gather", {"s", "zero"}, {"g"}, {int_attribute("axis", -1)}},
                   {"Unsqueeze", {"g", "last"}, {"u"}, {}},
                   {"Expand", {"u", "shape"}, {"e"}, {}},
                   {"Concat", {"e", "column"}, {"body"}, {int_attribute("axis", 3)}}},
                  {{"starts", {1}, {1}}, {"ends", {1}, {-1}}, {"axes", {1}, {3}}, {"steps", {1}, {1}}, {"zero", {}, {0}},
                   {"last", {1}, {-1}}, {"shape", {4}, {1, 1, 1, 2}}},
                  {{"column", {1, 3, 4, 1}, column}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->graph->output_of(find_node(*r, "n1")).dims == std::vector<int64_t>{1, 3, 4});
  CHECK(r->graph->output_of(find_node(*r, "n3")).dims == std::vector<int64_t>{1, 3, 4, 2});
  const Input in;
  const std::vector<float> z = logits(*r, in);
  for (int c = 0; c < 3; ++c) {
    double sum = 0;
    for (int y = 0; y < 4; ++y) sum += 2 * in.at(c, y, 1) + column[size_t(c * 4 + y)];
    CHECK(z[size_t(c)] == doctest::Approx(sum / 12).epsilon(1e-5));
  }
}

TEST_CASE("Pad of a channels-last grid on h and w (Swin's F.pad off 224) makes a rows grid; an image's channels are not padded") {
  // x [1,3,4,4] -> the grid [1,4,4,3] -> 2 rows below and 1 column right, 0.5 [1,6,5,3] -> back to
  // [1,3,6,5]: the pooled means take the padding in.
  auto r = import({{"Transpose", {"x"}, {"grid"}, {ints_attribute("perm", {0, 2, 3, 1})}},
                   {"Pad", {"grid", "pads", "value"}, {"padded"}, {}},
                   {"Transpose", {"padded"}, {"body"}, {ints_attribute("perm", {0, 3, 1, 2})}}},
                  {{"pads", {8}, {0, 0, 0, 0, 0, 2, 1, 0}}}, {{"value", {}, {0.5f}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const Value& padded = r->graph->output_of(find_node(*r, "n1"));
  CHECK(padded.dims == std::vector<int64_t>{1, 6, 5, 3});
  CHECK(padded.map.grid == Shape{6, 5, 3});
  const Input in;
  const std::vector<float> z = logits(*r, in);
  for (int c = 0; c < 3; ++c) {
    double sum = 0.5 * (30 - 16);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) sum += in.at(c, y, x);
    CHECK(z[size_t(c)] == doctest::Approx(sum / 30).epsilon(1e-5));
  }
  auto channels = import({{"Pad", {"x", "pads"}, {"body"}, {}}}, {{"pads", {8}, {0, 1, 0, 0, 0, 0, 0, 0}}});
  REQUIRE(!channels.ok());
  CHECK(channels.error().find("node 'n0' (Pad): only padding of height and width of a 4-D image is supported") != std::string::npos);
}

TEST_CASE("ToImage is the engine's own op: a file naming it is refused as unknown; Split is listed as supported") {
  auto r = import({{"ToImage", {"x"}, {"body"}, {}}});
  REQUIRE(!r.ok());
  CHECK(r.error().find("m.onnx: node 'n0' (ToImage): op type ToImage is not supported (supported: ") == 0);
  const std::string supported = ", " + supported_ops_text() + ",";
  CHECK(supported.find(", ToImage,") == std::string::npos);
  for (const char* op : {"Transpose", "Slice", "Gather", "Expand", "Squeeze", "Unsqueeze", "Split"}) {
    CAPTURE(op);
    CHECK(supported.find(std::string(", ") + op + ",") != std::string::npos);
  }
}

TEST_CASE("token layers are explainable as their grid; a rows [1,C,H,W] is not, an image copy of one is") {
  // x -> tokens [1,16,3] (a 4x4 grid); x -> channels last [1,4,4,3] -> back [1,3,4,4]; their sum.
  auto r = import({{"Reshape", {"x", "flat"}, {"f"}, {}},
                   {"Transpose", {"f"}, {"tokens"}, {ints_attribute("perm", {0, 2, 1})}},
                   {"Transpose", {"x"}, {"nhwc"}, {ints_attribute("perm", {0, 2, 3, 1})}},
                   {"Transpose", {"nhwc"}, {"nchw"}, {ints_attribute("perm", {0, 3, 1, 2})}},
                   {"Reshape", {"tokens", "image"}, {"t"}, {}},
                   {"Add", {"t", "nchw"}, {"body"}, {}}},
                  {{"flat", {3}, {1, 3, 16}}, {"image", {4}, {1, 3, 4, 4}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const Graph& g = *r->graph;
  auto explainable = [&](const std::string& name) { return explainable_node(*r, name); };
  CHECK(!explainable("n0"));  // [1,3,16]: no grid
  CHECK(explainable("n1"));   // [1,16,3]: 4x4x3
  CHECK(explainable("n2"));   // [1,4,4,3], channels moved last: 4x4x3
  CHECK(!explainable("n3"));  // [1,3,4,4] in row-major order
  CHECK(!explainable("n4"));
  // Add takes values of any rank, so the image copy comes where the pooling reads the sum.
  CHECK(explainable("n5/ToImage"));
  CHECK(g.output_of(find_node(*r, "n1")).map.grid == Shape{4, 4, 3});
  CHECK(g.output_of(find_node(*r, "n2")).map.grid == Shape{4, 4, 3});

  auto engine = Engine::from_model(std::move(r), "m.onnx");
  REQUIRE_MESSAGE(engine.ok(), engine.error());
  const nlohmann::json info = nlohmann::json::parse((*engine)->info_json());
  bool listed = false;
  for (const auto& layer : info["layers"])
    if (layer["name"] == "n1") {
      listed = true;
      CHECK(layer["output"] == nlohmann::json{1, 16, 3});
      CHECK(layer["grid"] == nlohmann::json{4, 4, 3});
      CHECK(layer["class_token"] == false);
    }
  CHECK(listed);
  // Every method with a map at the layer gives a 4x4 map at the token layer.
  const Input in;
  for (const MethodDescriptor& d : method_table()) {
    if (method_is_input_resolution(d.id)) continue;
    CAPTURE(d.name);
    ExplainOptions options;
    options.layer = find_node((*engine)->model(), "n1");
    options.method = d.id;
    auto e = (*engine)->explain(in.hwc, options);
    REQUIRE_MESSAGE(e.ok(), e.error());
    CHECK(e->cam.width == 4);
    CHECK(e->cam.height == 4);
    CHECK(e->layer_shape == Shape{4, 4, 3});
  }
}

TEST_CASE("a channels-last grid stays one downstream (Swin's norm1) and is the default before the last attention") {
  // x -> channels last [1,4,4,3] -> a LayerNorm's scale (n1) -> windows [1,16,3] -> qkv (n3) ->
  // Softmax -> back to [1,4,4,3], the residual Add (n6) -> NCHW for the pooling.
  auto r = import({{"Transpose", {"x"}, {"nhwc"}, {ints_attribute("perm", {0, 2, 3, 1})}},
                   {"Mul", {"nhwc", "scale"}, {"norm"}, {}},
                   {"Reshape", {"norm", "windows"}, {"win"}, {}},
                   {"MatMul", {"win", "w"}, {"qkv"}, {}},
                   {"Softmax", {"qkv"}, {"attn"}, {int_attribute("axis", -1)}},
                   {"Reshape", {"attn", "grid"}, {"a4"}, {}},
                   {"Add", {"nhwc", "a4"}, {"res"}, {}},
                   {"Transpose", {"res"}, {"body"}, {ints_attribute("perm", {0, 3, 1, 2})}}},
                  {{"windows", {3}, {1, 16, 3}}, {"grid", {4}, {1, 4, 4, 3}}},
                  {{"scale", {3}, {0.5f, 1.5f, -1.f}}, {"w", {3, 3}, {1, 0, 2, 0, 1, -1, 3, 1, 0}}});
  REQUIRE_MESSAGE(r.ok(), r.error());
  const Graph& g = *r->graph;
  auto explainable = [&](const std::string& name) { return explainable_node(*r, name); };
  CHECK(explainable("n1"));   // [1,4,4,3] made by a Mul of a channels-last grid
  CHECK(explainable("n3"));   // [1,16,3] tokens
  CHECK(!explainable("n5"));  // [1,4,4,3] reshaped from tokens: nothing says where its channels are
  CHECK(explainable("n6"));   // the residual stream: one input is the grid
  CHECK(!explainable("n7"));  // back in NCHW order (the pooling reads its image copy)
  CHECK(g.output_of(find_node(*r, "n1")).map.grid == Shape{4, 4, 3});
  // pytorch-grad-cam's layer for Swin, the last block's norm1, not the window tokens or their qkv,
  // which lie nearer the Softmax.
  REQUIRE(g.default_layer >= 0);
  CHECK(g.nodes[size_t(g.default_layer)].name == "n1");
}
