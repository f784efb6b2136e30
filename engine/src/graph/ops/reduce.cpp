// ReduceMean and ReduceSum over any axes of a value of any rank, with keepdims. The mean over an
// image's height and width (a CNN's squeeze-and-excitation pooling, axes 2 and 3) keeps giving the
// image 1x1xC (keepdims) or the [1, C] vector it always has; any other reduction gives rows.
#include <algorithm>
#include <string>

#include "../op_support.h"
#include "nd_walk.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

// axes: the attribute (ReduceMean before opset 18) or the second input (ReduceSum from opset 13,
// ReduceMean from 18); empty reduces every axis.
Status import_reduce(const OnnxImport& in, Node& n) {
  n.attrs.reduce_axes = attr_ints(in.node, "axes");
  if (in.node.inputs.size() > 1 && !in.node.inputs[1].empty()) {
    const onnx::Tensor* t = in.constant(1);
    if (!t) return make_error(where(in.node) + "axes must be a constant");
    n.attrs.reduce_axes = t->ints;
  }
  if (n.attrs.reduce_axes.empty() && attr_int(in.node, "noop_with_empty_axes", 0) != 0)
    return make_error(where(in.node) + "noop_with_empty_axes (a reduction that does nothing) is not supported");
  n.attrs.keep_dims = attr_int(in.node, "keepdims", 1) != 0;
  return {};
}

// The input's dims with 1 along every reduced axis.
std::vector<int64_t> kept_dims(const Graph& g, const Node& n) {
  std::vector<int64_t> d = tensor_view(input_value(g, n)).dims;
  for (int64_t a : n.attrs.reduce_axes) d[size_t(a)] = 1;
  return d;
}

Status infer_reduce(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  const std::vector<int64_t> dims = tensor_view(x).dims;
  const int64_t rank = int64_t(dims.size());
  if (rank > kMaxWalkRank) return make_error(where(n) + "reads a value of rank " + std::to_string(rank) + " (at most 6 is supported)");
  std::vector<int64_t>& axes = n.attrs.reduce_axes;
  if (axes.empty())
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank)
      return make_error(where(n) + "axis " + std::to_string(a) + " is outside the input's " + std::to_string(rank) + " axes " + dims_text(dims));
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (x.layout == Layout::image && axes == std::vector<int64_t>{2, 3}) {  // the spatial mean, as before
    out.shape = {1, 1, x.shape.c};
    out.rank = n.attrs.keep_dims ? 4 : 2;
    return {};
  }
  std::vector<int64_t> kept = kept_dims(g, n), result;
  for (int64_t a = 0; a < rank; ++a)
    if (n.attrs.keep_dims || !std::binary_search(axes.begin(), axes.end(), a)) result.push_back(kept[size_t(a)]);
  if (result.empty()) result = {1};  // every axis reduced without keepdims: ONNX's scalar, held as [1]
  set_rows(out, std::move(result));
  return {};
}

// The input walked in its memory order; the output's offset along the input's axes (0 on a reduced one).
Walk<2> reduce_walk(const Graph& g, const Node& n) {
  const Value& x = input_value(g, n);
  const Value& y = g.value(n.output);
  // An image output is the 1x1xC of the spatial mean; a rows output (or the [1, C] vector) holds
  // its floats in the kept dims' row-major order.
  Extents kept = logical_dims(x);
  for (int64_t a : n.attrs.reduce_axes) kept[int(a)] = 1;
  const Extents out = y.layout == Layout::image ? value_strides(y) : broadcast_strides(kept);
  return make_walk<2>(logical_dims(x), {value_strides(x), out});
}

float reduced_count(const Graph& g, const Node& n) {
  return float(input_value(g, n).shape.size()) / float(g.value(n.output).shape.size());
}

template <bool mean>
void forward_reduce(const Node& n, NodePlan&, const ForwardArgs& a) {
  float* y = a.out;
  const float* x = a.in[0];
  std::fill(y, y + a.graph.value(n.output).shape.size(), 0.f);
  walk(reduce_walk(a.graph, n), [&](int64_t i, int64_t o) { y[o] += x[i]; });
  if (mean) {
    const float inv = 1.f / reduced_count(a.graph, n);
    for (int64_t k = 0; k < a.graph.value(n.output).shape.size(); ++k) y[k] *= inv;
  }
}

template <bool mean>
void backward_reduce(const Node& n, NodePlan&, const BackwardArgs& a) {
  const float scale = mean ? 1.f / reduced_count(a.graph, n) : 1.f;
  float* gx = a.gin[0];
  const float* g = a.gout;
  walk(reduce_walk(a.graph, n), [&](int64_t i, int64_t o) { gx[i] = g[o] * scale; });
}

}  // namespace

const OpDescriptor reduce_mean_op = {"ReduceMean", import_reduce, infer_reduce, plan_nothing, forward_reduce<true>,
                                     backward_reduce<true>, OpFlags::any_rank};
const OpDescriptor reduce_sum_op = {"ReduceSum", import_reduce, infer_reduce, plan_nothing, forward_reduce<false>,
                                    backward_reduce<false>, OpFlags::any_rank};

}  // namespace gradcam::ops
