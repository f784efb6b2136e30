// SoftmaxChannels: the softmax over the channels of each position (the last axis of a channels-last
// value), wherever it sits in the graph, as Keras's Activation('softmax') and Softmax(axis=-1) layers
// compute it mid-graph. Softmax: ONNX's (opset 13: along one axis) inside the graph, on a value of
// any rank and layout (attention's [1,12,197,197] along its last axis); the ONNX importer still drops
// a final Softmax itself (its input is the logits).
#include <algorithm>
#include <cmath>
#include <string>

#include "../op_support.h"
#include "nd_walk.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

void forward_softmax(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t c = size_t(s.c), positions = size_t(s.h) * size_t(s.w);
  for (size_t i = 0; i < positions; ++i) {
    const float* x = a.in[0] + i * c;
    float* y = a.out + i * c;
    const float largest = *std::max_element(x, x + c);  // exp of at most 0: no overflow
    float sum = 0.f;
    for (size_t k = 0; k < c; ++k) sum += (y[k] = std::exp(x[k] - largest));
    const float inv = 1.f / sum;
    for (size_t k = 0; k < c; ++k) y[k] *= inv;
  }
}

// dx_k = y_k (g_k - sum_j g_j y_j), per position.
void backward_softmax(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t c = size_t(s.c), positions = size_t(s.h) * size_t(s.w);
  for (size_t i = 0; i < positions; ++i) {
    const float* y = a.out + i * c;
    const float* g = a.gout + i * c;
    float dot = 0.f;
    for (size_t k = 0; k < c; ++k) dot += g[k] * y[k];
    for (size_t k = 0; k < c; ++k) a.gin[0][i * c + k] = y[k] * (g[k] - dot);
  }
}

// ONNX Softmax from opset 13: along `axis` (default -1). Before opset 13 it flattened the axes from
// `axis` on into one; PyTorch's exporter always writes the axis, and along the last axis both agree.
Status import_softmax_axis(const OnnxImport& in, Node& n) {
  n.attrs.axis = int(attr_int(in.node, "axis", -1));
  return {};
}

Status infer_softmax_axis(const Graph& g, Node& n, Value& out) {
  const int rank = int(tensor_view(input_value(g, n)).dims.size());
  if (rank > kMaxWalkRank) return make_error(where(n) + "reads a value of rank " + std::to_string(rank) + " (at most 6 is supported)");
  if (n.attrs.axis < -rank || n.attrs.axis >= rank)
    return make_error(where(n) + "axis " + std::to_string(n.attrs.axis) + " is outside the input's " + std::to_string(rank) + " axes");
  if (n.attrs.axis < 0) n.attrs.axis += rank;
  return same_shape(g, n, out);
}

// Every line along the axis: the walk over the other axes gives each line's first float (input
// and output share one layout), `stride` apart along it.
struct Lines {
  Walk<1> walk;
  int64_t length = 0, stride = 0;
};
Lines lines(const Graph& g, const Node& n) {
  const Value& x = input_value(g, n);
  Extents others = logical_dims(x);
  const Extents strides = value_strides(x);  // 0 along an extent of 1: a line of one float
  const int axis = n.attrs.axis;
  const int64_t length = others[axis];
  others[axis] = 1;
  return {make_walk<1>(others, {strides}), length, strides[axis]};
}

void forward_softmax_axis(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Lines l = lines(a.graph, n);
  const float* x = a.in[0];
  float* y = a.out;
  walk(l.walk, [&](int64_t o) {
    float largest = x[o];
    for (int64_t k = 1; k < l.length; ++k) largest = std::max(largest, x[o + k * l.stride]);
    float sum = 0.f;
    for (int64_t k = 0; k < l.length; ++k) sum += (y[o + k * l.stride] = std::exp(x[o + k * l.stride] - largest));
    const float inv = 1.f / sum;
    for (int64_t k = 0; k < l.length; ++k) y[o + k * l.stride] *= inv;
  });
}

void backward_softmax_axis(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Lines l = lines(a.graph, n);
  const float* y = a.out;
  const float* g = a.gout;
  float* gx = a.gin[0];
  walk(l.walk, [&](int64_t o) {
    float dot = 0.f;
    for (int64_t k = 0; k < l.length; ++k) dot += g[o + k * l.stride] * y[o + k * l.stride];
    for (int64_t k = 0; k < l.length; ++k) gx[o + k * l.stride] = y[o + k * l.stride] * (g[o + k * l.stride] - dot);
  });
}

}  // namespace

const OpDescriptor softmax_axis_op = {"Softmax", import_softmax_axis, infer_softmax_axis, plan_nothing, forward_softmax_axis,
                                      backward_softmax_axis, OpFlags::any_rank};
const OpDescriptor softmax_op = {"SoftmaxChannels", nullptr, same_shape, plan_nothing, forward_softmax, backward_softmax};

}  // namespace gradcam::ops
