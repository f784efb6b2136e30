// Add, Sub, Mul and Div with ONNX (numpy) broadcasting. The forms CNNs use run on a fast path over
// the floats as they lie: two activations of one shape (a residual sum), an activation and a per-
// channel [1,C,1,1] activation either side (squeeze-and-excitation gates: Keras's Multiply of
// [h,w,C] and [1,1,C]), a scalar, or an activation and a constant (scalar or one value per channel;
// Sub and Div remember which side). With broadcast_channels_last a 2-D [C] operand broadcasts over a
// 4-D one's channels, as Keras's merge layers do. Any other pair of shapes, of any rank and layout
// (LayerNorm's [1,H,W,C] - [1,H,W,1], a [C] layer scale over [1,H,W,C] tokens), takes the general
// kernel, chosen when the node is planned so the fast path pays nothing for it.
#include <algorithm>

#include "../op_support.h"
#include "nd_walk.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

enum Variant { same = 0, broadcast_second = 1, broadcast_first = 2, constant = 3, general = 4 };

Status import_binary(const OnnxImport& in, Node& n) {
  const onnx::Tensor* k = in.constant(0) ? in.constant(0) : in.constant(1);
  if (in.constant(0) && in.constant(1)) return make_error(where(in.node) + "both operands are constants (fold them before export)");
  if (k) {
    if (k->floats.empty()) return make_error(where(in.node) + "the constant operand must be a float tensor");
    if (k->dims.size() > size_t(kMaxWalkRank))
      return make_error(where(in.node) + "a constant operand of rank " + std::to_string(k->dims.size()) + " (at most " +
                        std::to_string(kMaxWalkRank) + " is supported)");
    n.weights = {k->floats};
    n.attrs.constant_rank = int(k->dims.size());
    n.attrs.constant_dims = k->dims;
    n.attrs.constant_first = in.constant(0) != nullptr;
  }
  return {};
}

bool image_or_vector(const Value& v) { return v.layout == Layout::image || v.is_vector(); }

bool shaped_as(Value& out, const Value& v) {
  out.shape = v.shape, out.rank = v.rank, out.layout = v.layout, out.dims = v.dims;
  return true;
}

// The fast path's forms (the engine's before values had any rank), with the output they give:
// `out` is set when the node takes one, else left alone and false returned.
bool fast_form(const Graph& g, const Node& n, Value& out) {
  const Value& a = input_value(g, n, 0);
  if (!image_or_vector(a)) return false;
  if (n.inputs.size() == 1) {  // with a constant: a scalar, or one value per channel
    const size_t m = n.weights[0].size();
    int non_unit = 0;
    for (int64_t d : n.attrs.constant_dims) non_unit += d != 1;
    // The dims, where the importer gave them (a graph built in code gives only the rank).
    const auto& d = n.attrs.constant_dims;
    const size_t nd = size_t(n.attrs.constant_rank);
    const bool dims_known = d.size() == nd && nd > 0;
    if (dims_known && nd > size_t(a.rank)) return false;  // a constant of higher rank widens the result
    if (m == 1) return shaped_as(out, a);
    if (m != size_t(a.shape.c) || (dims_known && non_unit != 1)) return false;
    // [C,1,1] or [1,C,1,1] over a 4-D input's channels; [C] or [1,C] over a vector (or a 1x1 map).
    const bool per_channel_4d = nd >= 3 && (!dims_known || (d[nd - 1] == 1 && d[nd - 2] == 1)) && a.rank == 4;
    const bool per_column = nd <= 2 && (a.rank == 2 || (a.shape.h == 1 && a.shape.w == 1));
    if (!per_channel_4d && !per_column) return false;
    return shaped_as(out, a);
  }
  const Value& b = input_value(g, n, 1);
  if (!image_or_vector(b)) return false;
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
    return false;
  }
  return true;
}

// The general form's operand dims: an activation's logical ones, a constant's own.
std::vector<int64_t> operand_dims(const Graph& g, const Node& n, int slot) {
  if (n.inputs.size() == 1 && slot == 1) return n.attrs.constant_dims;
  return tensor_view(input_value(g, n, slot)).dims;
}

Status infer_binary(const Graph& g, Node& n, Value& out) {
  if (fast_form(g, n, out)) return {};
  if (n.inputs.size() == 1) {
    int64_t count = 1;
    for (int64_t d : n.attrs.constant_dims) count *= d;
    if (size_t(count) != n.weights[0].size())
      return make_error(where(n) + "the constant's " + std::to_string(n.weights[0].size()) + " values do not fit its shape " +
                        dims_text(n.attrs.constant_dims));
  }
  if (n.attrs.broadcast_channels_last)
    return make_error(where(n) + "cannot broadcast '" + input_value(g, n, 0).name + "' and '" + input_value(g, n, 1).name +
                      "' (same shapes, a [C] or [1,1,C] operand or a scalar are supported)");
  const std::vector<int64_t> a = operand_dims(g, n, 0), b = operand_dims(g, n, 1);
  std::vector<int64_t> dims = broadcast_dims(a, b);
  if (dims.empty() || dims.size() > size_t(kMaxWalkRank))
    return make_error(where(n) + "cannot broadcast '" + input_value(g, n, 0).name + "' " + dims_text(a) + " and " +
                      (n.inputs.size() == 1 ? std::string("its constant") : "'" + input_value(g, n, 1).name + "'") + " " + dims_text(b) +
                      " (numpy broadcasting: each pair of extents equal or one of them 1)");
  // An image operand of the result's own [1,C,H,W] keeps the result an image (a conv can read it).
  for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
    const Value& v = input_value(g, n, int(slot));
    if (v.layout == Layout::image && tensor_view(v).dims == dims) {
      out.shape = v.shape, out.rank = 4;
      return {};
    }
  }
  set_rows(out, std::move(dims));
  return {};
}

void plan_binary(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  Value fast;
  if (!fast_form(g, n, fast)) {
    p.variant = general;
    return;
  }
  if (n.inputs.size() == 1) {
    p.variant = constant;
    return;
  }
  const Value& a = input_value(g, n, 0);
  const Value& b = input_value(g, n, 1);
  p.variant = a.shape.size() == b.shape.size() ? same : (g.value(n.output).shape == a.shape ? broadcast_second : broadcast_first);
}

// The general form's walk: the output (in its memory order), the first operand, the second.
Walk<3> general_walk(const Graph& g, const Node& n) {
  const Value& out = g.value(n.output);
  const Extents second =
      n.inputs.size() == 1 ? broadcast_strides(Extents(n.attrs.constant_dims)) : value_strides(input_value(g, n, 1));
  return make_walk<3>(logical_dims(out), {value_strides(out), value_strides(input_value(g, n, 0)), second});
}

// Element k of an operand of `m` values broadcast over an output of `c` channels.
inline size_t at(size_t k, size_t m, size_t c) { return m == 1 ? 0 : (m == c ? k % c : k); }

enum class Arithmetic { add, subtract, multiply, divide };

template <Arithmetic op>
inline float apply(float u, float v) {
  if constexpr (op == Arithmetic::add) return u + v;
  if constexpr (op == Arithmetic::subtract) return u - v;
  if constexpr (op == Arithmetic::divide) return u / v;
  return u * v;
}

// d(u op v)/du and d(u op v)/dv, times the incoming gradient g.
template <Arithmetic op>
inline float d_first(float g, float, float v) {
  if constexpr (op == Arithmetic::multiply) return g * v;
  if constexpr (op == Arithmetic::divide) return g / v;
  return g;
}
template <Arithmetic op>
inline float d_second(float g, float u, float v) {
  if constexpr (op == Arithmetic::multiply) return g * u;
  if constexpr (op == Arithmetic::divide) return -g * u / (v * v);
  if constexpr (op == Arithmetic::subtract) return -g;
  return g;
}

// Either operand (or the constant, which is the second) of any shape and layout.
template <Arithmetic op>
void forward_general(const Node& n, const ForwardArgs& a) {
  const float* x = a.in[0];
  const float* y = n.inputs.size() == 1 ? n.weights[0].data() : a.in[1];
  const bool swap = n.inputs.size() == 1 && n.attrs.constant_first;  // c - x, c / x
  float* out = a.out;
  walk(general_walk(a.graph, n), [&](int64_t o, int64_t i, int64_t j) { out[o] = swap ? apply<op>(y[j], x[i]) : apply<op>(x[i], y[j]); });
}

// A broadcast operand's gradient is the sum over the positions it was broadcast to.
template <Arithmetic op>
void backward_general(const Node& n, const BackwardArgs& a) {
  const float* x = a.in[0];
  const bool with_constant = n.inputs.size() == 1;
  const float* y = with_constant ? n.weights[0].data() : a.in[1];
  const float* g = a.gout;
  float* gx = a.gin[0];
  float* gy = with_constant ? nullptr : a.gin[1];
  std::fill(gx, gx + input_value(a.graph, n, 0).shape.size(), 0.f);
  if (gy) std::fill(gy, gy + input_value(a.graph, n, 1).shape.size(), 0.f);
  const Walk<3> w = general_walk(a.graph, n);
  if (with_constant && n.attrs.constant_first) {  // c op x: x is the second operand
    walk(w, [&](int64_t o, int64_t i, int64_t j) { gx[i] += d_second<op>(g[o], y[j], x[i]); });
  } else if (with_constant) {
    walk(w, [&](int64_t o, int64_t i, int64_t j) { gx[i] += d_first<op>(g[o], x[i], y[j]); });
  } else {
    walk(w, [&](int64_t o, int64_t i, int64_t j) {
      gx[i] += d_first<op>(g[o], x[i], y[j]);
      gy[j] += d_second<op>(g[o], x[i], y[j]);
    });
  }
}

template <Arithmetic op>
void forward_binary(const Node& n, NodePlan& p, const ForwardArgs& a) {
  if (p.variant == general) return forward_general<op>(n, a);
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
  // x is the activation and y the constant; a constant first operand (c - x, c / x) swaps them back.
  const bool swap = (op == Arithmetic::subtract || op == Arithmetic::divide) && p.variant == constant && n.attrs.constant_first;
  for (size_t k = 0; k < total; ++k) {
    const float u = x[at(k, mx, c)], v = y[at(k, my, c)];
    a.out[k] = swap ? apply<op>(v, u) : apply<op>(u, v);
  }
}

template <Arithmetic op>
void backward_binary(const Node& n, NodePlan& p, const BackwardArgs& a) {
  if (p.variant == general || (op == Arithmetic::divide && p.variant != same)) return backward_general<op>(n, a);
  constexpr bool multiply = op == Arithmetic::multiply;
  const Shape& s = a.graph.value(n.output).shape;
  const size_t total = size_t(s.size()), c = size_t(s.c);
  if (p.variant == constant) {
    const size_t m = n.weights[0].size();
    const float sign = op == Arithmetic::subtract && n.attrs.constant_first ? -1.f : 1.f;
    for (size_t k = 0; k < total; ++k) a.gin[0][k] = multiply ? a.gout[k] * n.weights[0][at(k, m, c)] : sign * a.gout[k];
    return;
  }
  if constexpr (op == Arithmetic::divide) {  // the same shape (the other forms went to the general kernel)
    for (size_t k = 0; k < total; ++k) {
      a.gin[0][k] = d_first<op>(a.gout[k], a.in[0][k], a.in[1][k]);
      a.gin[1][k] = d_second<op>(a.gout[k], a.in[0][k], a.in[1][k]);
    }
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
                             backward_binary<Arithmetic::add>, OpFlags::any_rank};
const OpDescriptor sub_op = {"Sub", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::subtract>,
                             backward_binary<Arithmetic::subtract>, OpFlags::any_rank};
const OpDescriptor mul_op = {"Mul", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::multiply>,
                             backward_binary<Arithmetic::multiply>, OpFlags::any_rank};
const OpDescriptor div_op = {"Div", import_binary, infer_binary, plan_binary, forward_binary<Arithmetic::divide>,
                             backward_binary<Arithmetic::divide>, OpFlags::any_rank};

}  // namespace gradcam::ops
