// Ops that move values without arithmetic: Flatten and Reshape to 2-D, Keras's Reshape, constant
// Pad, and the inference no-ops Identity and Dropout.
//
// An ONNX Flatten of [1,C,H,W] reads channels-first order, while values here are stored channels-
// last: the op permutes (and its backward permutes back). A Keras flatten reads channels-last order
// and copies.
#include <algorithm>
#include <cstring>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

Status import_flatten(const OnnxImport& in, Node& n) {
  if (attr_int(in.node, "axis", 1) != 1) return make_error(where(in.node) + "only axis=1 (keep the batch) is supported");
  n.attrs.channels_first_flatten = true;
  return {};
}

// Reshape to [1, n] (or [-1, n], [1, -1], [0, -1]): what `x.view(x.size(0), -1)` exports to.
Status import_reshape(const OnnxImport& in, Node& n) {
  const onnx::Tensor* shape = in.constant(1);
  if (!shape || shape->ints.empty()) return make_error(where(in.node) + "the target shape must be a constant");
  const auto& d = shape->ints;
  const bool two_d = d.size() == 2 && (d[0] == 1 || d[0] == 0 || d[0] == -1);
  if (!two_d) return make_error(where(in.node) + "only a reshape to 2-D [1, n] is supported");
  n.attrs.channels_first_flatten = true;
  n.attrs.out_channels = int(std::max<int64_t>(d[1], -1));  // -1: inferred
  if (d[0] == -1 && d[1] == -1) return make_error(where(in.node) + "two -1 dimensions");
  return {};
}

Status infer_flatten(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  const int64_t size = x.shape.size();
  if (n.op_type == "Reshape" && n.attrs.out_channels > 0 && n.attrs.out_channels != size)
    return make_error(where(n) + "cannot reshape " + std::to_string(size) + " values to [1, " +
                      std::to_string(n.attrs.out_channels) + "]");
  out.shape = {1, 1, int(size)};
  out.rank = 2;
  return {};
}

// Channels-last (h, w, c) to channels-first (c, h, w) order, and back.
void forward_flatten(const Node& n, NodePlan& p, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  if (!n.attrs.channels_first_flatten || (s.h == 1 && s.w == 1)) return copy_forward(n, p, a);
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.out[k * hw + i] = a.in[0][i * c + k];
}

void backward_flatten(const Node& n, NodePlan& p, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.inputs[0]).shape;
  if (!n.attrs.channels_first_flatten || (s.h == 1 && s.w == 1)) return copy_backward(n, p, a);
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.gin[0][i * c + k] = a.gout[k * hw + i];
}

// Pad: constant mode, height and width only. pads = [n0, c0, h0, w0, n1, c1, h1, w1].
Status import_pad(const OnnxImport& in, Node& n) {
  if (attr_string(in.node, "mode", "constant") != "constant") return make_error(where(in.node) + "only mode=constant is supported");
  std::vector<int64_t> pads = attr_ints(in.node, "pads");  // before opset 11
  n.attrs.pad_value = attr_float(in.node, "value", 0.f);
  if (in.node.inputs.size() > 1 && !in.node.inputs[1].empty()) {
    const onnx::Tensor* t = in.constant(1);
    if (!t) return make_error(where(in.node) + "pads must be a constant");
    pads = t->ints;
  }
  if (in.node.inputs.size() > 2 && !in.node.inputs[2].empty()) {
    const onnx::Tensor* v = in.constant(2);
    if (!v || v->floats.size() != 1) return make_error(where(in.node) + "constant_value must be a constant scalar");
    n.attrs.pad_value = v->floats[0];
  }
  if (in.node.inputs.size() > 3 && !in.node.inputs[3].empty()) return make_error(where(in.node) + "the axes input is not supported");
  if (pads.size() != 8 || pads[0] || pads[1] || pads[4] || pads[5])
    return make_error(where(in.node) + "only padding of height and width of a 4-D tensor is supported");
  for (int64_t p : pads)
    if (p < 0 || p > 4096) return make_error(where(in.node) + "pads must be 0..4096 (cropping is not supported)");
  n.attrs.pad_t = int(pads[2]), n.attrs.pad_l = int(pads[3]), n.attrs.pad_b = int(pads[6]), n.attrs.pad_r = int(pads[7]);
  return {};
}

Status infer_pad(const Graph& g, Node& n, Value& out) {
  if (Status s = require_rank4(g, n); !s) return s;
  const Shape& in = input_value(g, n).shape;
  out.shape = {in.h + n.attrs.pad_t + n.attrs.pad_b, in.w + n.attrs.pad_l + n.attrs.pad_r, in.c};
  out.rank = 4;
  return {};
}

void forward_pad(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& in = a.graph.value(n.inputs[0]).shape;
  const Shape& out = a.graph.value(n.output).shape;
  std::fill(a.out, a.out + out.size(), n.attrs.pad_value);
  for (int y = 0; y < in.h; ++y)
    std::memcpy(a.out + (size_t(y + n.attrs.pad_t) * out.w + n.attrs.pad_l) * out.c, a.in[0] + size_t(y) * in.w * in.c,
                sizeof(float) * size_t(in.w) * in.c);
}

void backward_pad(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& in = a.graph.value(n.inputs[0]).shape;
  const Shape& out = a.graph.value(n.output).shape;
  for (int y = 0; y < in.h; ++y)
    std::memcpy(a.gin[0] + size_t(y) * in.w * in.c, a.gout + (size_t(y + n.attrs.pad_t) * out.w + n.attrs.pad_l) * out.c,
                sizeof(float) * size_t(in.w) * in.c);
}

Status import_plain(const OnnxImport&, Node&) { return {}; }

// KerasReshape: Keras's Reshape and Flatten read and write channels-last order, the storage order,
// so the data stays as it is and only the shape and rank change. The target is reshape_h/w/c, the
// dimensions after the batch: [h,w,c] (rank 4) or, with reshape_h == 0, [c] (rank 2: Flatten,
// Reshape((n,))); one of them may be -1 (inferred, as Keras allows). Reshape((1,1,c)) of a [c] is
// how squeeze-and-excitation blocks in Keras Applications make their gate.
Status infer_keras_reshape(const Graph& g, Node& n, Value& out) {
  const int64_t size = input_value(g, n).shape.size();
  const OpAttributes& a = n.attrs;
  const bool two_d = a.reshape_h == 0;
  std::vector<int64_t> dims = two_d ? std::vector<int64_t>{a.reshape_c} : std::vector<int64_t>{a.reshape_h, a.reshape_w, a.reshape_c};
  auto target = [&] {  // as Keras writes it: (n,) or (h, w, c)
    std::string t = "(";
    for (size_t i = 0; i < dims.size(); ++i) {
      if (i > 0) t += ", ";
      t += std::to_string(dims[i]);
    }
    t += two_d ? ",)" : ")";
    return t;
  };
  int64_t known = 1;
  int unknown = -1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1 && unknown < 0) {
      unknown = int(i);
    } else if (dims[i] < 1) {
      return make_error(where(n) + "the target shape " + target() + " needs positive dimensions (one may be -1)");
    } else {
      known *= dims[i];
      if (known > size) return make_error(where(n) + "cannot reshape " + std::to_string(size) + " values to " + target());
    }
  }
  if (unknown >= 0) {
    if (size % known != 0)
      return make_error(where(n) + "cannot reshape " + std::to_string(size) + " values to " + target());
    dims[size_t(unknown)] = size / known;
  }
  int64_t product = 1;
  for (int64_t d : dims) product *= d;
  if (product != size) return make_error(where(n) + "cannot reshape " + std::to_string(size) + " values to " + target());
  out.shape = two_d ? Shape{1, 1, int(dims[0])} : Shape{int(dims[0]), int(dims[1]), int(dims[2])};
  out.rank = two_d ? 2 : 4;
  return {};
}

}  // namespace

const OpDescriptor flatten_op = {"Flatten", import_flatten, infer_flatten, plan_nothing, forward_flatten, backward_flatten};
const OpDescriptor reshape_op = {"Reshape", import_reshape, infer_flatten, plan_nothing, forward_flatten, backward_flatten};
const OpDescriptor keras_reshape_op = {"KerasReshape", nullptr, infer_keras_reshape, plan_nothing, copy_forward, copy_backward};
const OpDescriptor pad_op = {"Pad", import_pad, infer_pad, plan_nothing, forward_pad, backward_pad};
const OpDescriptor identity_op = {"Identity", import_plain, same_shape, plan_nothing, copy_forward, copy_backward};
const OpDescriptor dropout_op = {"Dropout", import_plain, same_shape, plan_nothing, copy_forward, copy_backward};

}  // namespace gradcam::ops
