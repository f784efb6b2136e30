// The any-rank arithmetic ops' shapes, layouts and refusals (their gradients are checked in
// test_graph_ops.cpp with nd_math_cases.h): which layout a result takes, numpy broadcasting's
// result dims, and the errors a person gets for what is not supported.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "gradcam/graph.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

OpAttributes constant_of(std::vector<int64_t> dims) {
  OpAttributes a;
  a.constant_rank = int(dims.size());
  a.constant_dims = std::move(dims);
  return a;
}

OpAttributes axes(std::vector<int64_t> reduce_axes, bool keep_dims) {
  OpAttributes a;
  a.reduce_axes = std::move(reduce_axes);
  a.keep_dims = keep_dims;
  return a;
}

std::string error_of(GraphBuilder& b, const std::string& type, std::vector<int> inputs, OpAttributes a = {},
                     std::vector<std::vector<float>> weights = {}) {
  try {
    b.add(type, std::move(inputs), std::move(a), std::move(weights));
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

std::vector<int64_t> dims_of(const GraphBuilder& b, int v) { return tensor_view(b.value(v)).dims; }

}  // namespace

TEST_CASE("broadcasting: an image with a higher-rank constant becomes rows; with its own dims it stays an image") {
  GraphBuilder b(5, 6, 3);
  const int wide = b.add("Mul", {0}, constant_of({1, 1, 1, 1, 1}), {{2.f}});
  CHECK(b.value(wide).layout == Layout::rows);
  CHECK(dims_of(b, wide) == std::vector<int64_t>{1, 1, 3, 5, 6});
  const int rows = b.add("ReduceSum", {wide}, axes({0}, false));
  CHECK(dims_of(b, rows) == std::vector<int64_t>{1, 3, 5, 6});
  // image [1,3,5,6] - rows [1,3,5,6]: an image again, which a Conv can read
  const int back = b.add("Sub", {0, rows});
  CHECK(b.value(back).layout == Layout::image);
  CHECK(b.value(back).shape == Shape{5, 6, 3});
  // a [6] constant aligns with the width, as numpy aligns it
  const int by_width = b.add("Div", {0}, constant_of({6}), {{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}});
  CHECK(b.value(by_width).layout == Layout::image);
  // [1,3,5,6] and [1,1,5,1] (a channel mean, then a mean over the width) give [1,3,5,6]
  const int mean = b.add("ReduceMean", {b.add("ReduceMean", {0}, axes({1}, true))}, axes({-1}, true));
  CHECK(dims_of(b, mean) == std::vector<int64_t>{1, 1, 5, 1});
  CHECK(dims_of(b, b.add("Add", {rows, mean})) == std::vector<int64_t>{1, 3, 5, 6});
}

TEST_CASE("the CNN forms keep their image or vector results (the fast path's shapes)") {
  GraphBuilder b(5, 6, 3);
  const int pooled = b.add("ReduceMean", {0}, axes({2, 3}, true));
  CHECK(b.value(pooled).layout == Layout::image);
  CHECK(b.value(pooled).shape == Shape{1, 1, 3});
  const int gated = b.add("Mul", {0, pooled});
  CHECK(b.value(gated).layout == Layout::image);
  const int vector = b.add("ReduceMean", {0}, axes({-2, -1}, false));
  CHECK(b.value(vector).is_vector());
  CHECK(b.value(b.add("Add", {0}, constant_of({3, 1, 1}), {{1.f, 2.f, 3.f}})).layout == Layout::image);
}

TEST_CASE("shapes that do not broadcast, and inputs an op does not take, are refused naming the node") {
  GraphBuilder b(5, 6, 3);
  const int rows = b.add("ReduceSum", {b.add("Mul", {0}, constant_of({1, 1, 1, 1, 1}), {{1.f}})}, axes({0}, false));
  CHECK(error_of(b, "Add", {0}, constant_of({4}), {{1.f, 2.f, 3.f, 4.f}}).find("cannot broadcast") != std::string::npos);
  CHECK(error_of(b, "Mul", {0}, constant_of({2, 2}), {{1.f, 2.f, 3.f}}) ==
        "node 'Mul_2' (Mul): the constant's 3 values do not fit its shape [2,2]");
  CHECK(error_of(b, "ReduceMean", {rows}, axes({4}, true)) ==
        "node 'ReduceMean_2' (ReduceMean): axis 4 is outside the input's 4 axes [1,3,5,6]");
  CHECK(error_of(b, "LayerNormalization", {0}, {}, {{1.f}, {0.f}}).find("only rows values") != std::string::npos);
  OpAttributes last;
  last.axis = -1;
  CHECK(error_of(b, "LayerNormalization", {rows}, last, {{1.f, 2.f}, {0.f, 0.f}}) ==
        "node 'LayerNormalization_2' (LayerNormalization): Scale and B must hold one value per element of a group (6), not 2");
  CHECK(error_of(b, "MatMul", {rows, rows}) ==
        "node 'MatMul_2' (MatMul): cannot multiply 'ReduceSum_1_out' [1,3,5,6] by 'ReduceSum_1_out' [1,3,5,6] (the first's last "
        "extent must be the second's next to last; the leading axes broadcast)");
  CHECK(error_of(b, "MatMul", {0, rows}).find("'input' is a [1,C,H,W] image") != std::string::npos);
  OpAttributes units;
  units.out_channels = 2;
  CHECK(error_of(b, "Gemm", {rows}, units, {std::vector<float>(12, 0.5f), {0.f, 0.f}}) ==
        "node 'Gemm_2' (Gemm): Gemm multiplies a 2-D [M, K]; 'ReduceSum_1_out' is [1,3,5,6] (MatMul takes any rank)");
  OpAttributes beyond;
  beyond.axis = 4;
  CHECK(error_of(b, "Softmax", {rows}, beyond) == "node 'Softmax_2' (Softmax): axis 4 is outside the input's 4 axes");
}

TEST_CASE("Einsum: its output's dims, and the equations it does not take, refused naming the node") {
  GraphBuilder b(5, 6, 3);
  const int rows = b.add("ReduceSum", {b.add("Mul", {0}, constant_of({1, 1, 1, 1, 1}), {{1.f}})}, axes({0}, false));
  auto einsum = [](const std::string& equation) {
    OpAttributes a;
    a.equation = equation;
    return a;
  };
  CHECK(dims_of(b, b.add("Einsum", {0, rows}, einsum("bchw,bcgw->bhgw"))) == std::vector<int64_t>{1, 5, 5, 6});
  CHECK(dims_of(b, b.add("Einsum", {rows}, einsum("abcd"))) == std::vector<int64_t>{1, 3, 5, 6});  // implicit: abcd
  CHECK(dims_of(b, b.add("Einsum", {rows}, einsum("a b c d -> d a"))) == std::vector<int64_t>{6, 1});
  CHECK(error_of(b, "Einsum", {rows, rows}, einsum("...ij,...jk->...ik")) ==
        "node 'Einsum_5' (Einsum): equation \"...ij,...jk->...ik\": an ellipsis (...) is not supported: name every axis with a letter");
  CHECK(error_of(b, "Einsum", {rows}, einsum("aacd->c")).find("a letter repeats within an operand (a diagonal)") != std::string::npos);
  CHECK(error_of(b, "Einsum", {rows, rows}, einsum("abcd,abdc->abc")) ==
        "node 'Einsum_5' (Einsum): equation \"abcd,abdc->abc\": letter 'd' has extents 6 and 5 (they must be equal, or one of them 1)");
  CHECK(error_of(b, "Einsum", {rows}, einsum("abc->a")).find("operand 1 has 3 letters but rank 4 [1,3,5,6]") != std::string::npos);
  CHECK(error_of(b, "Einsum", {rows}, einsum("abcd,abcd->a")).find("names 2 operands, the node has 1") != std::string::npos);
  CHECK(error_of(b, "Einsum", {rows}, einsum("abcd->e")).find("an output letter is in no operand") != std::string::npos);
}

TEST_CASE("Where: the result broadcasts all three; an image operand of the result's dims keeps it an image") {
  GraphBuilder b(5, 6, 3);
  const int rows = b.add("ReduceSum", {b.add("Mul", {0}, constant_of({1, 1, 1, 1, 1}), {{1.f}})}, axes({0}, false));
  auto condition = [](std::vector<int64_t> dims) {
    OpAttributes a;
    a.condition_dims = std::move(dims);
    return a;
  };
  CHECK(b.value(b.add("Where", {0, rows}, condition({6}), {std::vector<float>(6, 1.f)})).layout == Layout::image);
  OpAttributes scalar_y = condition({1, 1, 5, 1});
  CHECK(dims_of(b, b.add("Where", {rows}, scalar_y, {std::vector<float>(5, 0.f), {-1.f}})) == std::vector<int64_t>{1, 3, 5, 6});
  CHECK(error_of(b, "Where", {0, rows}, condition({4}), {std::vector<float>(4, 1.f)}) ==
        "node 'Where_4' (Where): cannot broadcast the condition [4], X [1,3,5,6] and Y [1,3,5,6] (numpy broadcasting, rank up to 6)");
  CHECK(error_of(b, "Where", {0, rows}, condition({2}), {std::vector<float>(3, 1.f)}).find("the condition's 3 values do not fit its shape [2]") !=
        std::string::npos);
  CHECK(error_of(b, "Where", {0}, condition({}), {{1.f}}).find("needs a constant condition and X and Y") != std::string::npos);
}
