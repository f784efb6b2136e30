// Constant folding at ONNX import: each folded op against the ONNX operator documentation's own
// examples (named in each check; onnx/docs/Operators.md), and the importer folding the shape
// arithmetic PyTorch exports for `x.view(x.size(0), -1)` so that the Reshape reads a constant.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "formats/onnx_fold.h"
#include "formats/onnx_import.h"
#include "onnx_writer.h"

using namespace gradcam;
namespace w = gradcam::testing::onnx_writer;

namespace {

onnx::Tensor ints(std::vector<int64_t> dims, std::vector<int64_t> v, int32_t type = 7) {
  onnx::Tensor t;
  t.data_type = type, t.dims = std::move(dims), t.ints = std::move(v);
  return t;
}
onnx::Tensor floats(std::vector<int64_t> dims, std::vector<float> v) {
  onnx::Tensor t;
  t.data_type = 1, t.dims = std::move(dims), t.floats = std::move(v);
  return t;
}
onnx::Tensor bools(std::vector<int64_t> dims, std::vector<int64_t> v) { return ints(std::move(dims), std::move(v), 9); }

onnx::Attribute attr(const std::string& name, int64_t i) {
  onnx::Attribute a;
  a.name = name, a.kind = onnx::Attribute::Kind::i, a.i = i;
  return a;
}
onnx::Attribute attr(const std::string& name, std::vector<int64_t> v) {
  onnx::Attribute a;
  a.name = name, a.kind = onnx::Attribute::Kind::ints, a.ints = std::move(v);
  return a;
}
onnx::Attribute attr(const std::string& name, const std::string& s) {
  onnx::Attribute a;
  a.name = name, a.kind = onnx::Attribute::Kind::s, a.s = s;
  return a;
}
onnx::Attribute attr(const std::string& name, const onnx::Tensor& t) {
  onnx::Attribute a;
  a.name = name, a.kind = onnx::Attribute::Kind::t, a.t = t;
  return a;
}

onnx::Tensor fold(const std::string& op, std::vector<const onnx::Tensor*> in, std::vector<onnx::Attribute> attrs = {}, int64_t opset = 17) {
  onnx::Node n;
  n.name = "n", n.op_type = op, n.outputs = {"y"}, n.attributes = std::move(attrs);
  for (size_t i = 0; i < in.size(); ++i) n.inputs.push_back(in[i] ? std::string(1, 'x').append(std::to_string(i)) : "");
  auto r = onnx::fold_node(n, in, opset);
  REQUIRE_MESSAGE(r.ok(), r.error());
  return *r;
}
std::string fold_error(const std::string& op, std::vector<const onnx::Tensor*> in, std::vector<onnx::Attribute> attrs = {}, int64_t opset = 17) {
  onnx::Node n;
  n.name = "n", n.op_type = op, n.outputs = {"y"}, n.attributes = std::move(attrs);
  for (size_t i = 0; i < in.size(); ++i) n.inputs.push_back(std::string(1, 'x').append(std::to_string(i)));
  auto r = onnx::fold_node(n, in, opset);
  return r ? "(no error)" : r.error();
}

using Dims = std::vector<int64_t>;
using Ints = std::vector<int64_t>;
using Floats = std::vector<float>;

}  // namespace

TEST_CASE("Folding Shape, Gather, Slice, Concat, Unsqueeze, Squeeze and Reshape follows the ONNX examples") {
  const auto x345 = onnx::shape_only({3, 4, 5});
  // Shape: "shape_start_1" gives [4, 5]; "shape_end_negative_1" gives [3, 4] (opset 15).
  auto shape = fold("Shape", {&x345}, {attr("start", int64_t(1))});
  CHECK(shape.dims == Dims{2});
  CHECK(shape.ints == Ints{4, 5});
  CHECK(fold("Shape", {&x345}, {attr("end", int64_t(-1))}).ints == Ints{3, 4});
  CHECK(fold("Shape", {&x345}).ints == Ints{3, 4, 5});

  // Gather, the documentation's example 1 (axis 0) and example 2 (axis 1).
  const auto data0 = floats({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  const auto idx0 = ints({2, 2}, {0, 1, 1, 2});
  auto g0 = fold("Gather", {&data0, &idx0});
  CHECK(g0.dims == Dims{2, 2, 2});
  CHECK(g0.floats == Floats{1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f});
  const auto data1 = floats({3, 3}, {1.0f, 1.2f, 1.9f, 2.3f, 3.4f, 3.9f, 4.5f, 5.7f, 5.9f});
  const auto idx1 = ints({1, 2}, {0, 2});
  auto g1 = fold("Gather", {&data1, &idx1}, {attr("axis", int64_t(1))});
  CHECK(g1.dims == Dims{3, 1, 2});
  CHECK(g1.floats == Floats{1.0f, 1.9f, 2.3f, 3.9f, 4.5f, 5.9f});
  // "gather_negative_indices": data arange(10), indices [0, -9, -10] -> [0, 1, 0]; a scalar index
  // (what x.size(0) exports) drops the axis.
  const auto arange10 = ints({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto negative = ints({3}, {0, -9, -10});
  CHECK(fold("Gather", {&arange10, &negative}).ints == Ints{0, 1, 0});
  const auto scalar0 = ints({}, {0});
  auto batch = fold("Gather", {&shape, &scalar0});
  CHECK(batch.dims.empty());
  CHECK(batch.ints == Ints{4});

  // Slice, the documentation's example 1 (steps) and example 2 (negative and too-large ends).
  const auto d24 = floats({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  const auto s1 = ints({2}, {1, 0}), e1 = ints({2}, {2, 3}), a1 = ints({2}, {0, 1}), st1 = ints({2}, {1, 2});
  auto sl1 = fold("Slice", {&d24, &s1, &e1, &a1, &st1});
  CHECK(sl1.dims == Dims{1, 2});
  CHECK(sl1.floats == Floats{5, 7});
  const auto s2 = ints({2}, {0, 1}), e2 = ints({2}, {-1, 1000});
  auto sl2 = fold("Slice", {&d24, &s2, &e2});
  CHECK(sl2.dims == Dims{1, 3});
  CHECK(sl2.floats == Floats{2, 3, 4});
  // "slice_neg_steps" in one dimension: x[20:0:-3] of arange(10) is [9, 6, 3]; "slice_end_out_of_
  // bounds" and INT64_MAX as "to the end", as PyTorch writes x[1:].
  const auto s3 = ints({1}, {20}), e3 = ints({1}, {0}), st3 = ints({1}, {-3});
  CHECK(fold("Slice", {&arange10, &s3, &e3, nullptr, &st3}).ints == Ints{9, 6, 3});
  const auto s4 = ints({1}, {7}), e4 = ints({1}, {INT64_MAX});
  CHECK(fold("Slice", {&arange10, &s4, &e4}).ints == Ints{7, 8, 9});
  const auto s5 = ints({1}, {-1}), e5 = ints({1}, {INT64_MIN}), st5 = ints({1}, {-1});
  CHECK(fold("Slice", {&arange10, &s5, &e5, nullptr, &st5}).ints == Ints{9, 8, 7, 6, 5, 4, 3, 2, 1, 0});  // x[::-1]
  // Opset 1..9: starts/ends/axes are attributes.
  CHECK(fold("Slice", {&d24}, {attr("starts", Ints{1, 0}), attr("ends", Ints{2, 3}), attr("axes", Ints{0, 1})}, 9).floats == Floats{5, 6, 7});

  // Concat, axis 1 of [[1,2],[3,4]] and [[5,6],[7,8]]; PyTorch's [batch] ++ [-1].
  const auto c1 = ints({2, 2}, {1, 2, 3, 4}), c2 = ints({2, 2}, {5, 6, 7, 8});
  auto cat = fold("Concat", {&c1, &c2}, {attr("axis", int64_t(1))});
  CHECK(cat.dims == Dims{2, 4});
  CHECK(cat.ints == Ints{1, 2, 5, 6, 3, 4, 7, 8});
  CHECK(fold("Concat", {&c1, &c2}, {attr("axis", int64_t(-2))}).ints == Ints{1, 2, 3, 4, 5, 6, 7, 8});

  // Unsqueeze "unsqueeze_two_axes" ([3,4,5], axes [1,4] -> [3,1,4,5,1]) and "unsqueeze_negative_
  // axes" ([1,3,1,5], axes [-2] -> [1,3,1,1,5]); axes as an input from opset 13, an attribute before.
  const auto x = floats({3, 4, 5}, Floats(60, 1.f));
  const auto axes14 = ints({2}, {1, 4});
  CHECK(fold("Unsqueeze", {&x, &axes14}).dims == Dims{3, 1, 4, 5, 1});
  CHECK(fold("Unsqueeze", {&x}, {attr("axes", Ints{1, 4})}, 11).dims == Dims{3, 1, 4, 5, 1});
  const auto x1315 = floats({1, 3, 1, 5}, Floats(15, 1.f));
  const auto minus2 = ints({1}, {-2});
  CHECK(fold("Unsqueeze", {&x1315, &minus2}).dims == Dims{1, 3, 1, 1, 5});
  auto one = fold("Unsqueeze", {&batch, &scalar0});
  CHECK(one.dims == Dims{1});
  // Squeeze "squeeze" ([1,3,4,5], axes [0] -> [3,4,5]) and "squeeze_negative_axes" ([1,3,1,5],
  // axes [-2] -> [1,3,5]); no axes: every 1.
  const auto x1345 = floats({1, 3, 4, 5}, Floats(60, 1.f));
  const auto axis0 = ints({1}, {0});
  CHECK(fold("Squeeze", {&x1345, &axis0}).dims == Dims{3, 4, 5});
  CHECK(fold("Squeeze", {&x1315, &minus2}).dims == Dims{1, 3, 5});
  CHECK(fold("Squeeze", {&x1315}).dims == Dims{3, 5});
  CHECK(fold("Squeeze", {&x1345}, {attr("axes", Ints{0})}, 11).dims == Dims{3, 4, 5});
  CHECK(fold_error("Squeeze", {&x1345, &minus2}) == "node 'n' (Squeeze): axis -2 does not have size 1");

  // Reshape "reshape_negative_dim" ([2,3,4] to [2,-1,2] -> [2,6,2]), "reshape_zero_dim" ([2,3,4] to
  // [2,0,4,1] -> [2,3,4,1]) and with allowzero a 0 is a 0 (opset 14).
  const auto x234 = floats({2, 3, 4}, Floats(24, 1.f));
  const auto neg = ints({3}, {2, -1, 2}), zero = ints({4}, {2, 0, 4, 1});
  CHECK(fold("Reshape", {&x234, &neg}).dims == Dims{2, 6, 2});
  CHECK(fold("Reshape", {&x234, &zero}).dims == Dims{2, 3, 4, 1});
  CHECK(fold_error("Reshape", {&x234, &zero}, {attr("allowzero", int64_t(1))}) ==
        "node 'n' (Reshape): cannot reshape [2,3,4] to [2,0,4,1]");

  // Transpose "transpose_default" reverses the axes; perm [1,0] of [[1,2,3],[4,5,6]].
  const auto m23 = ints({2, 3}, {1, 2, 3, 4, 5, 6});
  auto t = fold("Transpose", {&m23}, {attr("perm", Ints{1, 0})});
  CHECK(t.dims == Dims{3, 2});
  CHECK(t.ints == Ints{1, 4, 2, 5, 3, 6});
}

TEST_CASE("Folding Expand, ConstantOfShape, Range, Where, ScatterND and Cast follows the ONNX examples") {
  // Expand "dim_changed": [[1],[2],[3]] to [2,1,6] gives [2,3,6]; "dim_unchanged": to [3,4].
  const auto col = floats({3, 1}, {1, 2, 3});
  const auto to216 = ints({3}, {2, 1, 6}), to34 = ints({2}, {3, 4});
  auto e = fold("Expand", {&col, &to216});
  CHECK(e.dims == Dims{2, 3, 6});
  CHECK(e.floats[0] == 1.f);
  CHECK(e.floats[6] == 2.f);
  CHECK(e.floats[17] == 3.f);
  CHECK(e.floats[18] == 1.f);
  CHECK(fold("Expand", {&col, &to34}).floats == Floats{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});

  // ConstantOfShape "float_ones" ([4,3,2] of 1.0) and "int32_zeros"; no value: float 0.
  const auto shape432 = ints({3}, {4, 3, 2});
  auto ones = fold("ConstantOfShape", {&shape432}, {attr("value", floats({1}, {1.f}))});
  CHECK(ones.dims == Dims{4, 3, 2});
  CHECK(ones.floats == Floats(24, 1.f));
  auto zeros = fold("ConstantOfShape", {&shape432}, {attr("value", ints({1}, {0}, 6))});
  CHECK(zeros.data_type == 6);
  CHECK(zeros.ints == Ints(24, 0));
  CHECK(fold("ConstantOfShape", {&shape432}).floats == Floats(24, 0.f));

  // Range, the documentation's two examples: (3, 9, 3) -> [3, 6] and (10, 4, -2) -> [10, 8, 6].
  const auto r3 = ints({}, {3}), r9 = ints({}, {9}), r10 = ints({}, {10}), r4 = ints({}, {4}), rm2 = ints({}, {-2});
  CHECK(fold("Range", {&r3, &r9, &r3}).ints == Ints{3, 6});
  CHECK(fold("Range", {&r10, &r4, &rm2}).ints == Ints{10, 8, 6});
  const auto f0 = floats({}, {0.f}), f1 = floats({}, {1.f}), f025 = floats({}, {0.25f});
  CHECK(fold("Range", {&f0, &f1, &f025}).floats == Floats{0.f, 0.25f, 0.5f, 0.75f});

  // Where, the documentation's example: condition [[1,0],[1,1]], x [[1,2],[3,4]], y [[9,8],[7,6]].
  const auto cond = bools({2, 2}, {1, 0, 1, 1});
  const auto wx = floats({2, 2}, {1, 2, 3, 4}), wy = floats({2, 2}, {9, 8, 7, 6});
  CHECK(fold("Where", {&cond, &wx, &wy}).floats == Floats{1, 8, 3, 4});
  // Broadcast: a [2,1] condition chooses rows of a scalar and a [3] vector.
  const auto rows = bools({2, 1}, {1, 0});
  const auto k = floats({}, {-1.f}), v3 = floats({3}, {5, 6, 7});
  auto wb = fold("Where", {&rows, &k, &v3});
  CHECK(wb.dims == Dims{2, 3});
  CHECK(wb.floats == Floats{-1, -1, -1, 5, 6, 7});

  // ScatterND, the documentation's example 1: data 1..8, indices [[4],[3],[1],[7]], updates
  // [9,10,11,12] -> [1,11,3,10,9,6,7,12]; reduction "add" (opset 16's example 1 without the
  // repeated index).
  const auto sdata = ints({8}, {1, 2, 3, 4, 5, 6, 7, 8});
  const auto sidx = ints({4, 1}, {4, 3, 1, 7});
  const auto supd = ints({4}, {9, 10, 11, 12});
  CHECK(fold("ScatterND", {&sdata, &sidx, &supd}).ints == Ints{1, 11, 3, 10, 9, 6, 7, 12});
  CHECK(fold("ScatterND", {&sdata, &sidx, &supd}, {attr("reduction", std::string("add"))}).ints == Ints{1, 13, 3, 14, 14, 6, 7, 20});
  // Whole slices: data [2,2], index [[1]] replaces row 1.
  const auto s22 = floats({2, 2}, {1, 2, 3, 4});
  const auto row1 = ints({1, 1}, {1});
  const auto new_row = floats({1, 2}, {7, 8});
  CHECK(fold("ScatterND", {&s22, &row1, &new_row}).floats == Floats{1, 2, 7, 8});

  // Cast: float to int64 truncates toward zero, to bool is "not zero"; int64 to float.
  const auto fx = floats({4}, {1.5f, -1.7f, 0.f, 2.f});
  auto to_int = fold("Cast", {&fx}, {attr("to", int64_t(7))});
  CHECK(to_int.data_type == 7);
  CHECK(to_int.ints == Ints{1, -1, 0, 2});
  CHECK(fold("Cast", {&fx}, {attr("to", int64_t(9))}).ints == Ints{1, 1, 0, 1});
  CHECK(fold("Cast", {&to_int}, {attr("to", int64_t(1))}).floats == Floats{1, -1, 0, 2});
}

TEST_CASE("Folding arithmetic, comparisons and logic follows the ONNX examples, with numpy broadcasting") {
  // Add "add_bcast"-style: [[1],[2]] + [10,20,30].
  const auto a21 = ints({2, 1}, {1, 2}), b3 = ints({3}, {10, 20, 30});
  auto sum = fold("Add", {&a21, &b3});
  CHECK(sum.dims == Dims{2, 3});
  CHECK(sum.ints == Ints{11, 21, 31, 12, 22, 32});
  const auto fx = floats({2}, {3, 4}), fy = floats({2}, {1, 2});
  CHECK(fold("Sub", {&fx, &fy}).floats == Floats{2, 2});    // "sub_example": [1,2,3]-[3,2,1] form
  CHECK(fold("Mul", {&fx, &fy}).floats == Floats{3, 8});
  CHECK(fold("Div", {&fx, &fy}).floats == Floats{3, 2});    // "div_example": [3,4]/[1,2] -> [3,2]
  // Integer Div truncates toward zero (onnxruntime's rule); by zero is an error naming the node.
  const auto i7 = ints({2}, {7, -7}), i2 = ints({}, {2}), i0 = ints({}, {0});
  CHECK(fold("Div", {&i7, &i2}).ints == Ints{3, -3});
  CHECK(fold_error("Div", {&i7, &i0}) == "node 'n' (Div): integer division by zero");
  // Mod "mod_mixed_sign_int64" (fmod 0: the divisor's sign) and "mod_mixed_sign_float32" (fmod 1).
  const auto mx = ints({6}, {-4, 7, 5, 4, -7, 8}), my = ints({6}, {2, -3, 8, -2, 3, 5});
  CHECK(fold("Mod", {&mx, &my}).ints == Ints{0, -2, 5, 0, 2, 3});
  const auto fmx = floats({6}, {-4.3f, 7.2f, 5.0f, 4.3f, -7.2f, 8.0f}), fmy = floats({6}, {2.1f, -3.4f, 8.0f, -2.1f, 3.4f, 5.0f});
  auto fm = fold("Mod", {&fmx, &fmy}, {attr("fmod", int64_t(1))});
  const Floats fm_expected{-0.1f, 0.4f, 5.f, 0.1f, -0.4f, 3.f};
  for (size_t i = 0; i < fm_expected.size(); ++i) CHECK(fm.floats[i] == doctest::Approx(fm_expected[i]).epsilon(1e-4));
  // Pow "pow_example": [1,2,3]^[4,5,6] -> [1,32,729]; Neg, Floor, Ceil, Sqrt, Abs.
  const auto p1 = floats({3}, {1, 2, 3}), p2 = floats({3}, {4, 5, 6});
  CHECK(fold("Pow", {&p1, &p2}).floats == Floats{1, 32, 729});
  const auto fr = floats({3}, {-1.5f, 1.2f, 2.f});
  CHECK(fold("Neg", {&fr}).floats == Floats{1.5f, -1.2f, -2.f});
  CHECK(fold("Floor", {&fr}).floats == Floats{-2, 1, 2});
  CHECK(fold("Ceil", {&fr}).floats == Floats{-1, 2, 2});
  CHECK(fold("Abs", {&fr}).floats == Floats{1.5f, 1.2f, 2.f});
  const auto sq = floats({3}, {1, 4, 9});
  CHECK(fold("Sqrt", {&sq}).floats == Floats{1, 2, 3});
  // Min/Max "min_example"/"max_example": [3,2,1], [1,4,4], [2,5,0] -> [1,2,0] / [3,5,4].
  const auto m1 = floats({3}, {3, 2, 1}), m2 = floats({3}, {1, 4, 4}), m3 = floats({3}, {2, 5, 0});
  CHECK(fold("Min", {&m1, &m2, &m3}).floats == Floats{1, 2, 0});
  CHECK(fold("Max", {&m1, &m2, &m3}).floats == Floats{3, 5, 4});
  // Comparisons give bool; Not, And, Or ("and2d"-style truth tables).
  const auto e1 = ints({3}, {1, 2, 3}), e2 = ints({3}, {3, 2, 1});
  auto eq = fold("Equal", {&e1, &e2});
  CHECK(eq.data_type == 9);
  CHECK(eq.ints == Ints{0, 1, 0});
  CHECK(fold("Less", {&e1, &e2}).ints == Ints{1, 0, 0});
  CHECK(fold("Greater", {&e1, &e2}).ints == Ints{0, 0, 1});
  const auto t1 = bools({4}, {1, 1, 0, 0}), t2 = bools({4}, {1, 0, 1, 0});
  CHECK(fold("Not", {&t1}).ints == Ints{0, 0, 1, 1});
  CHECK(fold("And", {&t1, &t2}).ints == Ints{1, 0, 0, 0});
  CHECK(fold("Or", {&t1, &t2}).ints == Ints{1, 1, 1, 0});
  const auto bad = ints({2}, {1, 2});
  CHECK(fold_error("Add", {&b3, &bad}) == "node 'n' (Add): shapes [3] and [2] do not broadcast");
}

TEST_CASE("A folded result is bounded: ConstantOfShape and Expand cannot make a huge tensor from a few bytes") {
  const auto huge = ints({3}, {4096, 4096, 4096});
  CHECK(fold_error("ConstantOfShape", {&huge}) ==
        "node 'n' (ConstantOfShape): the folded result would have more than " + std::to_string(onnx::kMaxFoldedElements) + " elements");
  const auto one = floats({1}, {1.f});
  CHECK(fold_error("Expand", {&one, &huge}).find("more than") != std::string::npos);
  const auto big = ints({}, {int64_t(1) << 40}), zero = ints({}, {0}), step = ints({}, {1});
  CHECK(fold_error("Range", {&zero, &big, &step}).find("more than") != std::string::npos);
}

namespace {

// x [1,3,4,4] -> GlobalAveragePool -> "pooled" [1,3,1,1] -> Reshape to [x.size(0), -1] as PyTorch 1.13
// exports `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat), with an Expand/ConstantOfShape/
// Where chain on constants for a per-channel offset added to the logits.
Result<Model> view_model(int opset_version) {
  using w::Proto;
  namespace f = w::field;
  Proto g;
  int count = 0;
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out, std::vector<Proto> attrs = {}) {
    Proto p;
    for (const std::string& i : in) p.bytes_field(f::node_input, i);
    p.bytes_field(f::node_output, out).bytes_field(f::node_name, std::string(1, 'n').append(std::to_string(count++))).bytes_field(f::node_op_type, op);
    for (const Proto& a : attrs) p.message(f::node_attribute, a);
    g.message(f::graph_node, p);
  };
  auto int_attr = [](const std::string& name, int64_t v) {
    Proto a;
    return a.bytes_field(f::attr_name, name).varint(f::attr_i, v).varint(f::attr_type, 2);
  };
  auto ints_attr = [](const std::string& name, const std::vector<int64_t>& v) {
    Proto a;
    a.bytes_field(f::attr_name, name);
    for (int64_t x : v) a.varint(f::attr_ints, x);
    return a.varint(f::attr_type, 7);
  };
  auto int64_init = [&](const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& v) {
    g.message(f::graph_initializer, w::tensor(name, 7, dims).packed_varints(f::tensor_int64_data, v));
  };
  const bool axes_input = opset_version >= 13;
  node("GlobalAveragePool", {"x"}, "pooled");
  node("Shape", {"pooled"}, "shape");
  node("Gather", {"shape", "zero"}, "batch", {int_attr("axis", 0)});
  if (axes_input) node("Unsqueeze", {"batch", "axes0"}, "batch1");
  else node("Unsqueeze", {"batch"}, "batch1", {ints_attr("axes", {0})});
  node("Concat", {"batch1", "minus1"}, "target", {int_attr("axis", 0)});
  node("Reshape", {"pooled", "target"}, "flat");
  // offset = Where(Equal(Expand(ConstantOfShape([3]) , [3]), 0), [1,2,3], 0): [1,2,3].
  node("ConstantOfShape", {"three"}, "zeros3");
  node("Expand", {"zeros3", "three"}, "zeros3e");
  node("Equal", {"zeros3e", "fzero"}, "mask");
  node("Where", {"mask", "steps", "fzero"}, "offset");
  node("Add", {"flat", "offset"}, "logits");
  int64_init("zero", {}, {0});
  int64_init("axes0", {1}, {0});
  int64_init("minus1", {1}, {-1});
  int64_init("three", {1}, {3});
  g.message(f::graph_initializer, w::tensor("fzero", 1, {}).packed_floats(f::tensor_float_data, {0.f}));
  g.message(f::graph_initializer, w::tensor("steps", 1, {3}).packed_floats(f::tensor_float_data, {1.f, 2.f, 3.f}));
  g.message(f::graph_input, w::value_info("x", 1, {"1", "3", "4", "4"}));
  g.message(f::graph_output, w::value_info("logits", 1, {"1", "3"}));
  Proto m;
  m.varint(f::model_ir_version, 8).message(f::model_opset_import, w::opset("", opset_version)).message(f::model_graph, g);
  const std::vector<uint8_t> bytes(m.bytes.begin(), m.bytes.end());
  return load_onnx_model(bytes.data(), bytes.size(), "view.onnx");
}

}  // namespace

TEST_CASE("The importer folds x.view(x.size(0), -1)'s shape arithmetic and a constant Where chain: only the real work runs") {
  for (int opset_version : {11, 13, 17}) {
    CAPTURE(opset_version);
    auto r = view_model(opset_version);
    REQUIRE_MESSAGE(r.ok(), r.error());
    const Graph& g = *r->graph;
    std::vector<std::string> types;
    for (const Node& n : g.nodes) types.push_back(n.op_type);
    CHECK(types == std::vector<std::string>{"GlobalAveragePool", "Reshape", "Add"});
    CHECK(g.nodes[1].attrs.target_dims.back() == -1);                   // Reshape read [1, -1] (or [0, -1])
    CHECK(g.value(g.nodes[1].output).is_vector());
    CHECK(g.nodes[2].weights == std::vector<std::vector<float>>{{1.f, 2.f, 3.f}});  // the folded Where
    CHECK(g.value(g.output).shape == Shape{1, 1, 3});
    CHECK(!r->trained());  // an ONNX file does not say: neither trained nor untrained
    CHECK(!r->untrained());
  }
}

TEST_CASE("An op the engine cannot run names the node and lists the model's other unsupported op types, folded ones left out") {
  using w::Proto;
  namespace f = w::field;
  Proto g;
  int count = 0;
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    Proto p;
    for (const std::string& i : in) p.bytes_field(f::node_input, i);
    p.bytes_field(f::node_output, out).bytes_field(f::node_name, std::string(1, 'n').append(std::to_string(count++))).bytes_field(f::node_op_type, op);
    g.message(f::graph_node, p);
  };
  node("Shape", {"x"}, "s");            // folded: not listed
  node("Floor", {"x"}, "t");            // foldable, but on an activation
  node("Hardmax", {"t"}, "e");
  node("Hardmax", {"e"}, "e2");         // listed once
  node("LpNormalization", {"e2"}, "body");
  node("GlobalAveragePool", {"body"}, "p");
  node("Flatten", {"p"}, "logits");
  g.message(f::graph_input, w::value_info("x", 1, {"1", "3", "4", "4"}));
  g.message(f::graph_output, w::value_info("logits", 1, {"1", "3"}));
  Proto m;
  m.varint(f::model_ir_version, 8).message(f::model_opset_import, w::opset("", 17)).message(f::model_graph, g);
  const std::vector<uint8_t> bytes(m.bytes.begin(), m.bytes.end());
  auto r = load_onnx_model(bytes.data(), bytes.size(), "m.onnx");
  REQUIRE(!r.ok());
  CHECK(r.error() ==
        "m.onnx: node 'n1' (Floor): op type Floor is not supported on activations (only on constants and static shapes, "
        "folded when the model loads); the model's other unsupported op types: Hardmax, LpNormalization");
}
