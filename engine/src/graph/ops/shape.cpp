// Ops that move values without arithmetic: Flatten, Reshape, Squeeze and Unsqueeze of any rank,
// Keras's Reshape, constant Pad, and the inference no-ops Identity and Dropout.
//
// ONNX's Flatten, Reshape, Squeeze and Unsqueeze keep the elements in their logical (row-major,
// [C,H,W]) order and change only the dims. A rows value is stored in that order, so they copy it; an
// image is stored channels-last, so they permute it (and their backward permutes back). A Keras
// flatten reads channels-last order and copies.
#include <algorithm>
#include <cstring>
#include <memory>

#include "../op_support.h"
#include "ops.h"
#include "strided.h"

namespace gradcam::ops {
namespace {

Status import_flatten(const OnnxImport& in, Node& n) {
  n.attrs.axis = int(attr_int(in.node, "axis", 1));
  n.attrs.channels_first_flatten = true;
  return {};
}

// Reshape to any constant shape: `x.view(x.size(0), -1)`'s [1, n], ShuffleNet's channel shuffle
// [1, 2, C/2, H, W], ViT's patch tokens [1, 768, 196].
Status import_reshape(const OnnxImport& in, Node& n) {
  const onnx::Tensor* shape = in.constant(1);
  if (!shape || shape->ints.empty()) return make_error(where(in.node) + "the target shape must be a constant");
  const auto& d = shape->ints;
  if (int(d.size()) > kMaxRank) return make_error(where(in.node) + "a target of rank " + std::to_string(d.size()) + "; the engine holds ranks 1.." + std::to_string(kMaxRank));
  if (std::count(d.begin(), d.end(), -1) > 1) return make_error(where(in.node) + "two -1 dimensions");
  if (attr_int(in.node, "allowzero", 0) != 0 && std::count(d.begin(), d.end(), 0) > 0)
    return make_error(where(in.node) + "allowzero=1 with a 0 in the shape (an empty tensor) is not supported");
  for (int64_t x : d)
    if (x < -1) return make_error(where(in.node) + "the target shape " + dims_text(d) + " has a negative dimension");
  n.attrs.channels_first_flatten = true;
  n.attrs.target_dims = d;
  return {};
}

// The output of a reshape as its dims, from the input's logical dims; a [1, n] result is left as
// the 1 x 1 x n vector the older ops read.
Status reshape_output(std::vector<int64_t> dims, Value& out) {
  if (dims.size() == 2 && dims[0] == 1) {
    out.shape = {1, 1, int(dims[1])};
    out.rank = 2;
    return {};
  }
  set_rows(out, std::move(dims));
  return {};
}

Status infer_flatten(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  const std::vector<int64_t> in = tensor_view(x).dims;
  const int64_t size = x.shape.size();
  const int rank = int(in.size());
  if (n.op_type == "Reshape") {
    std::vector<int64_t> d = n.attrs.target_dims;
    if (d.empty()) d = {1, n.attrs.out_channels > 0 ? n.attrs.out_channels : -1};  // built by hand: [1, n] or [1, -1]
    int64_t known = 1;
    int unknown = -1;
    for (size_t k = 0; k < d.size(); ++k) {
      if (d[k] == 0) {
        if (int(k) >= rank) return make_error(where(n) + "a 0 in the target shape " + dims_text(n.attrs.target_dims) + " past the input's rank " + std::to_string(rank));
        d[k] = in[k];
      }
      if (d[k] == -1) unknown = int(k);
      else known *= d[k];
    }
    if (unknown >= 0 && known > 0 && size % known == 0) d[size_t(unknown)] = size / known;
    int64_t product = 1;
    for (int64_t e : d) product *= e;
    if (product != size) {
      if (d.size() == 2 && d[0] == 1)  // the message the [1, n] reshape always gave
        return make_error(where(n) + "cannot reshape " + std::to_string(size) + " values to [1, " + std::to_string(d[1]) + "]");
      return make_error(where(n) + "cannot reshape " + dims_text(in) + " (" + std::to_string(size) + " values) to " +
                        dims_text(n.attrs.target_dims.empty() ? d : n.attrs.target_dims));
    }
    return reshape_output(d, out);
  }
  // Flatten: [product of the dims before axis, product of the rest] (ONNX allows axis = rank).
  const int axis = n.attrs.axis < 0 ? n.attrs.axis + rank : n.attrs.axis;
  if (axis < 0 || axis > rank) return make_error(where(n) + "axis " + std::to_string(n.attrs.axis) + " does not fit an input of rank " + std::to_string(rank));
  int64_t outer = 1;
  for (int k = 0; k < axis; ++k) outer *= in[size_t(k)];
  return reshape_output({outer, size / outer}, out);
}

// Squeeze (axes from the input since opset 13, the attribute before; none: every dim of 1) and
// Unsqueeze (axes of the output that are new dims of 1).
Status import_squeeze(const OnnxImport& in, Node& n) {
  n.attrs.channels_first_flatten = true;
  if (in.node.inputs.size() > 1 && !in.node.inputs[1].empty()) {
    const onnx::Tensor* t = in.constant(1);
    if (!t) return make_error(where(in.node) + "axes must be a constant");
    n.attrs.squeeze_axes = t->ints;
  } else {
    n.attrs.squeeze_axes = attr_ints(in.node, "axes");
  }
  if (n.attrs.squeeze_axes.empty() && in.node.op_type == "Unsqueeze") return make_error(where(in.node) + "no axes");
  return {};
}

Status infer_squeeze(const Graph& g, Node& n, Value& out) {
  const std::vector<int64_t> in = tensor_view(input_value(g, n)).dims;
  const int rank = int(in.size());
  const std::vector<int64_t>& axes = n.attrs.squeeze_axes;
  std::vector<int64_t> d;
  if (n.op_type == "Squeeze") {
    std::vector<bool> drop(in.size(), axes.empty());
    for (int64_t a : axes) {
      const int k = normalized_axis(a, rank);
      if (k < 0 || in[size_t(k)] != 1)
        return make_error(where(n) + "axis " + std::to_string(a) + " of " + dims_text(in) + " is not a dim of extent 1");
      drop[size_t(k)] = true;
    }
    for (size_t k = 0; k < in.size(); ++k)
      if (!drop[k] || in[k] != 1) d.push_back(in[k]);
    if (d.empty()) return make_error(where(n) + "squeezing " + dims_text(in) + " leaves a scalar, which the engine does not hold");
  } else {
    const int rank_out = rank + int(axes.size());
    if (rank_out > kMaxRank) return make_error(where(n) + "its output would have rank " + std::to_string(rank_out) + "; the engine holds ranks 1.." + std::to_string(kMaxRank));
    std::vector<bool> added(size_t(rank_out), false);
    for (int64_t a : axes) {
      const int k = normalized_axis(a, rank_out);
      if (k < 0 || added[size_t(k)]) return make_error(where(n) + "axes " + dims_text(axes) + " do not fit an output of rank " + std::to_string(rank_out));
      added[size_t(k)] = true;
    }
    size_t next = 0;
    for (int k = 0; k < rank_out; ++k) d.push_back(added[size_t(k)] ? 1 : in[next++]);
  }
  return reshape_output(d, out);
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

// Pad, constant mode. A [1,C,H,W] padded on height and width (ONNX pads [0, 0, t, l, 0, 0, b, r], or
// Keras's ZeroPadding2D) is an image: the attrs' pad_t..pad_r, rows copied into place. A rows
// value padded on other axes (Swin's F.pad of its channels-last [1, h, w, C] grid off 224, pads
// [0, 0, 0, 0, 0, b, r, 0]) stays rows: the input copied through a strided view of the output's
// interior, planned once.
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
  if (pads.empty() || pads.size() % 2 || pads.size() > size_t(2 * kMaxRank))
    return make_error(where(in.node) + "pads has " + std::to_string(pads.size()) + " entries: a begin and an end for each axis, ranks 1.." +
                      std::to_string(kMaxRank));
  for (int64_t p : pads)
    if (p < 0 || p > 4096) return make_error(where(in.node) + "pads must be 0..4096 (cropping is not supported)");
  n.attrs.pads = std::move(pads);
  return {};
}

// ONNX's pads on an image's [1,C,H,W] touch only H and W.
bool image_pads(const std::vector<int64_t>& p) { return p.size() == 8 && !p[0] && !p[1] && !p[4] && !p[5]; }

Status infer_pad(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  OpAttributes& a = n.attrs;
  if (a.pads.empty()) {  // Keras's ZeroPadding2D: pad_t..pad_r of an image
    if (Status s = require_rank4(g, n); !s) return s;
    if (x.layout != Layout::image) return make_error(where(n) + "pads an image; '" + x.name + "' is " + dims_text(x.dims));
    out.shape = {x.shape.h + a.pad_t + a.pad_b, x.shape.w + a.pad_l + a.pad_r, x.shape.c};
    out.rank = 4;
    return {};
  }
  std::vector<int64_t> dims = tensor_view(x).dims;
  const size_t rank = dims.size();
  if (a.pads.size() != 2 * rank)
    return make_error(where(n) + "pads has " + std::to_string(a.pads.size()) + " entries for '" + x.name + "' " + dims_text(dims) +
                      " (a begin and an end for each axis)");
  if (a.pads[0] || a.pads[rank]) return make_error(where(n) + "padding the batch axis is not supported");
  // An image's channels are its map's: padding them is not something a CAM model does.
  if (x.layout == Layout::image && !image_pads(a.pads))
    return make_error(where(n) + "only padding of height and width of a 4-D image is supported");
  if (rank == 4 && dims[0] == 1 && image_pads(a.pads)) {  // [1,C,H,W] padded on H and W: an image, as it always was
    a.pad_t = int(a.pads[2]), a.pad_l = int(a.pads[3]), a.pad_b = int(a.pads[6]), a.pad_r = int(a.pads[7]);
    out.shape = {int(dims[2] + a.pad_t + a.pad_b), int(dims[3] + a.pad_l + a.pad_r), int(dims[1])};
    out.rank = 4;
    return {};
  }
  for (size_t k = 0; k < rank; ++k) dims[k] += a.pads[k] + a.pads[k + rank];
  set_rows(out, std::move(dims));
  return {};
}

// Unless an image is padded into an image (rows copied into place): the input read once, through
// the output's interior (the begins in, the input's dims), whatever either's layout.
void plan_pad(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  const Value& x = input_value(g, n);
  const Value& y = g.value(n.output);
  if (x.layout == Layout::image && y.layout == Layout::image) return;
  StridedView interior = storage_view(y);
  const StridedView in = storage_view(x);
  for (int k = 0; k < in.rank; ++k) {
    interior.offset += n.attrs.pads[size_t(k)] * interior.strides[k];
    interior.dims[k] = in.dims[k];
  }
  auto c = std::make_shared<StridedCopy>();
  c->segments.push_back({in, interior});
  c->covers_input = true;
  c->input_size = int64_t(x.shape.size());
  p.state = std::move(c);
}

void forward_pad(const Node& n, NodePlan& p, const ForwardArgs& a) {
  const Shape& in = a.graph.value(n.inputs[0]).shape;
  const Shape& out = a.graph.value(n.output).shape;
  std::fill(a.out, a.out + out.size(), n.attrs.pad_value);
  if (p.state) return forward_strided(*static_cast<const StridedCopy*>(p.state.get()), a.in[0], a.out);
  for (int y = 0; y < in.h; ++y)
    std::memcpy(a.out + (size_t(y + n.attrs.pad_t) * out.w + n.attrs.pad_l) * out.c, a.in[0] + size_t(y) * in.w * in.c,
                sizeof(float) * size_t(in.w) * in.c);
}

void backward_pad(const Node& n, NodePlan& p, const BackwardArgs& a) {
  if (p.state) return backward_strided(*static_cast<const StridedCopy*>(p.state.get()), a.gout, a.gin[0]);
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

const OpDescriptor flatten_op = {"Flatten", import_flatten, infer_flatten, plan_nothing, forward_flatten, backward_flatten, OpFlags::any_rank};
const OpDescriptor reshape_op = {"Reshape", import_reshape, infer_flatten, plan_nothing, forward_flatten, backward_flatten, OpFlags::any_rank};
const OpDescriptor squeeze_op = {"Squeeze", import_squeeze, infer_squeeze, plan_nothing, forward_flatten, backward_flatten, OpFlags::any_rank};
const OpDescriptor unsqueeze_op = {"Unsqueeze", import_squeeze, infer_squeeze, plan_nothing, forward_flatten, backward_flatten, OpFlags::any_rank};
const OpDescriptor keras_reshape_op = {"KerasReshape", nullptr, infer_keras_reshape, plan_nothing, copy_forward, copy_backward};
const OpDescriptor pad_op = {"Pad", import_pad, infer_pad, plan_pad, forward_pad, backward_pad, OpFlags::any_rank};
const OpDescriptor identity_op = {"Identity", import_plain, same_shape, plan_nothing, copy_forward, copy_backward, OpFlags::any_rank};
const OpDescriptor dropout_op = {"Dropout", import_plain, same_shape, plan_nothing, copy_forward, copy_backward, OpFlags::any_rank};

}  // namespace gradcam::ops
