// Pooling: MaxPool and AveragePool over windows (explicit padding, ceil_mode), the global average
// over height and width (GlobalAveragePool; ReduceMean is reduce.cpp's) and the global maximum
// (GlobalMaxPool). The global ones keep 1x1xC (4-D) or give [C] (2-D) by keep_dims: ONNX's are 4-D
// (the default), Keras's GlobalAveragePooling2D/GlobalMaxPooling2D are 2-D unless keepdims=True.
#include <algorithm>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

Status import_window(const OnnxImport& in, Node& n) {
  if (!in.node.attribute("kernel_shape")) return make_error(where(in.node) + "kernel_shape is required");
  if (Status s = read_window(in.node, n.attrs, 1, 1); !s) return s;
  if (n.attrs.dh != 1 || n.attrs.dw != 1) return make_error(where(in.node) + "dilated pooling is not supported");
  n.attrs.ceil_mode = attr_int(in.node, "ceil_mode", 0) != 0;
  n.attrs.count_include_pad = attr_int(in.node, "count_include_pad", 0) != 0;
  if (attr_int(in.node, "storage_order", 0) != 0) return make_error(where(in.node) + "storage_order=1 is not supported");
  return {};
}

Status infer_window(const Graph& g, Node& n, Value& out) {
  if (Status s = require_rank4(g, n); !s) return s;
  const Shape& in = input_value(g, n).shape;
  int oh = 0, ow = 0;
  if (Status s = window_output(n, n.attrs, in.h, in.w, oh, ow); !s) return s;
  out.shape = {oh, ow, in.c};
  out.rank = 4;
  return {};
}

void plan_window(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  p.geometry = window_geometry(n, input_value(g, n).shape, g.value(n.output).shape);
}

void forward_max(const Node&, NodePlan& p, const ForwardArgs& a) { kernels::max_pool_forward(p.geometry, a.in[0], a.out); }
void backward_max(const Node&, NodePlan& p, const BackwardArgs& a) {
  kernels::max_pool_backward(p.geometry, a.in[0], a.out, a.gout, a.gin[0]);
}

void forward_average(const Node& n, NodePlan& p, const ForwardArgs& a) {
  kernels::avg_pool_forward(p.geometry, n.attrs.count_include_pad, a.in[0], a.out);
}
void backward_average(const Node& n, NodePlan& p, const BackwardArgs& a) {
  kernels::avg_pool_backward(p.geometry, n.attrs.count_include_pad, a.gout, a.gin[0]);
}

// ---- the mean over height and width ----

Status import_global(const OnnxImport&, Node&) { return {}; }

Status infer_global(const Graph& g, Node& n, Value& out) {
  if (Status s = require_rank4(g, n); !s) return s;
  out.shape = {1, 1, input_value(g, n).shape.c};
  out.rank = n.attrs.keep_dims ? 4 : 2;
  return {};
}

void forward_global(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  std::fill(a.out, a.out + c, 0.f);
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.out[k] += a.in[0][i * c + k];
  const float inv = 1.f / float(hw);
  for (size_t k = 0; k < c; ++k) a.out[k] *= inv;
}

void backward_global(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  const float inv = 1.f / float(hw);
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.gin[0][i * c + k] = a.gout[k] * inv;
}

// The gradient goes to the first position holding the channel's maximum (row-major), as MaxPool's
// does within a window; a tie (a channel of equal values, e.g. all zero after a ReLU) is not split.
void forward_global_max(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  std::copy(a.in[0], a.in[0] + c, a.out);
  for (size_t i = 1; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.out[k] = std::max(a.out[k], a.in[0][i * c + k]);
}

void backward_global_max(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  std::fill(a.gin[0], a.gin[0] + hw * c, 0.f);
  for (size_t k = 0; k < c; ++k)
    for (size_t i = 0; i < hw; ++i)
      if (a.in[0][i * c + k] == a.out[k]) {
        a.gin[0][i * c + k] = a.gout[k];
        break;
      }
}

}  // namespace

const OpDescriptor max_pool_op = {"MaxPool", import_window, infer_window, plan_window, forward_max, backward_max};
const OpDescriptor average_pool_op = {"AveragePool", import_window, infer_window, plan_window, forward_average, backward_average};
const OpDescriptor global_average_pool_op = {"GlobalAveragePool", import_global, infer_global, plan_nothing, forward_global, backward_global};
const OpDescriptor global_max_pool_op = {"GlobalMaxPool", import_global, infer_global, plan_nothing, forward_global_max,
                                         backward_global_max};

}  // namespace gradcam::ops
