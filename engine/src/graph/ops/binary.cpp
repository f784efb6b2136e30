// Add, Sub and Mul with ONNX broadcasting in the forms CNNs use: two activations of one shape (a
// residual sum), an activation and a per-channel [1,C,1,1] activation either side (squeeze-and-
// excitation gates: Keras's Multiply of [h,w,C] and [1,1,C]), a scalar, or an activation and a
// constant (scalar or one value per channel; Sub remembers which side). With broadcast_channels_last
// a 2-D [C] operand broadcasts over a 4-D one's channels, as Keras's merge layers do.
#include <algorithm>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

enum Variant { same = 0, broadcast_second = 1, broadcast_first = 2, constant = 3 };

Status import_binary(const OnnxImport& in, Node& n) {
  const onnx::Tensor* k = in.constant(0) ? in.constant(0) : in.constant(1);
  if (in.constant(0) && in.constant(1)) return make_error(where(in.node) + "both operands are constants (fold them before export)");
  if (k) {
    if (k->floats.empty()) return make_error(where(in.node) + "the constant operand must be a float tensor");
    // Scalar, or one value per channel: [C], [C,1,1], [1,C,1,1], [1,C].
    int non_unit = 0;
    for (size_t d = 0; d < k->dims.size(); ++d)
      if (k->dims[d] != 1) ++non_unit;
    const size_t nd = k->dims.size();
    const bool per_channel_4d = nd >= 3 && k->dims[nd - 1] == 1 && k->dims[nd - 2] == 1;
    const bool per_column_2d = nd <= 2;
    if (non_unit > 1 || (non_unit == 1 && !per_channel_4d && !per_column_2d))
      return make_error(where(in.node) + "a constant operand must be a scalar or hold one value per channel");
    n.weights = {k->floats};
    n.attrs.constant_rank = int(nd);
    n.attrs.constant_first = in.constant(0) != nullptr;
  }
  return {};
}

Status infer_binary(const Graph& g, Node& n, Value& out) {
  const Value& a = input_value(g, n, 0);
  if (n.inputs.size() == 1) {  // with a constant
    const size_t m = n.weights[0].size();
    if (m != 1 && m != size_t(a.shape.c))
      return make_error(where(n) + "the constant has " + std::to_string(m) + " values, the input " +
                        std::to_string(a.shape.c) + " channels");
    if (m != 1 && n.attrs.constant_rank >= 3 && a.rank != 4)
      return make_error(where(n) + "a [C,1,1] constant needs a 4-D input");
    if (m != 1 && n.attrs.constant_rank <= 2 && a.rank == 4 && !(a.shape.h == 1 && a.shape.w == 1))
      return make_error(where(n) + "a [C] constant broadcasts over the width of a 4-D input: not supported");
    return same_shape(g, n, out);
  }
  const Value& b = input_value(g, n, 1);
  const bool keras = n.attrs.broadcast_channels_last;
  auto per_channel = [keras](const Value& v, const Value& full) {
    return (v.rank == 4 || keras) && v.shape.h == 1 && v.shape.w == 1 && v.shape.c == full.shape.c;
  };
  if (a.shape == b.shape && (a.rank == b.rank || keras)) {
    out.shape = a.shape, out.rank = std::max(a.rank, b.rank);  // Keras: [C] and [1,1,C] give [1,1,C]
  } else if (per_channel(b, a) || b.shape.size() == 1) {
    out.shape = a.shape, out.rank = a.rank;
  } else if (per_channel(a, b) || a.shape.size() == 1) {
    out.shape = b.shape, out.rank = b.rank;
  } else {
    return make_error(where(n) + "cannot broadcast '" + a.name + "' and '" + b.name + "' (same shapes, a [1,C,1,1] operand or a scalar are supported)");
  }
  return {};
}

void plan_binary(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  if (n.inputs.size() == 1) {
    p.variant = constant;
    return;
  }
  const Value& a = input_value(g, n, 0);
  const Value& b = input_value(g, n, 1);
  p.variant = a.shape.size() == b.shape.size() ? same : (g.value(n.output).shape == a.shape ? broadcast_second : broadcast_first);
}

// Element k of an operand of `m` values broadcast over an output of `c` channels.
inline size_t at(size_t k, size_t m, size_t c) { return m == 1 ? 0 : (m == c ? k % c : k); }

enum class Arithmetic { add, subtract, multiply };

template <Arithmetic op>
inline float apply(float u, float v) {
  if constexpr (op == Arithmetic::add) return u + v;
  if constexpr (op == Arithmetic::subtract) return u - v;
  return u * v;
}

template <Arithmetic op>
void forward_binary(const Node& n, NodePlan& p, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t total = size_t(s.size()), c = size_t(s.c);
  const float* x = a.in[0];
  const float* y = nullptr;
  size_t mx = total, my = total;
  switch (p.variant) {
    case same: y = a.in[1]; break;
    case broadcast_second: y = a.in[1], my = size_t(a.graph.value(n.inputs[1]).shape.size()); break;
    case broadcast_first: y = a.in[1], mx = size_t(a.graph.value(n.inputs[0]).shape.size()); break;
    case constant: y = n.weights[0].data(), my = n.weights[0].size(); break;
  }
  // x is the activation and y the constant; Sub's constant first operand (c - x) swaps them back.
  const bool swap = op == Arithmetic::subtract && p.variant == constant && n.attrs.constant_first;
  for (size_t k = 0; k < total; ++k) {
    const float u = x[at(k, mx, c)], v = y[at(k, my, c)];
    a.out[k] = swap ? apply<op>(v, u) : apply<op>(u, v);
  }
}

template <Arithmetic op>
void backward_binary(const Node& n, NodePlan& p, const BackwardArgs& a) {
  constexpr bool multiply = op == Arithmetic::multiply;
  const Shape& s = a.graph.value(n.output).shape;
  const size_t total = size_t(s.size()), c = size_t(s.c);
  if (p.variant == constant) {
    const size_t m = n.weights[0].size();
    const float sign = op == Arithmetic::subtract && n.attrs.constant_first ? -1.f : 1.f;
    for (size_t k = 0; k < total; ++k) a.gin[0][k] = multiply ? a.gout[k] * n.weights[0][at(k, m, c)] : sign * a.gout[k];
    return;
  }
  const size_t mx = size_t(a.graph.value(n.inputs[0]).shape.size()), my = size_t(a.graph.value(n.inputs[1]).shape.size());
  // A broadcast operand's gradient is the sum over the positions it was broadcast to.
  std::fill(a.gin[0], a.gin[0] + mx, 0.f);
  std::fill(a.gin[1], a.gin[1] + my, 0.f);
  for (size_t k = 0; k < total; ++k) {
    const size_t i = at(k, mx, c), j = at(k, my, c);
    a.gin[0][i] += multiply ? a.gout[k] * a.in[1][j] : a.gout[k];
    if constexpr (op == Arithmetic::subtract)
      a.gin[1][j] -= a.gout[k];
    else
      a.gin[1][j] += multiply ? a.gout[k] * a.in[0][i] : a.gout[k];
  }
}

}  // namespace

const OpDescriptor add_op = {"Add", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::add>,
                             backward_binary<Arithmetic::add>};
const OpDescriptor sub_op = {"Sub", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::subtract>,
                             backward_binary<Arithmetic::subtract>};
const OpDescriptor mul_op = {"Mul", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::multiply>,
                             backward_binary<Arithmetic::multiply>};

}  // namespace gradcam::ops
