// Element-wise activations. Each backward reads the forward input or output of the element, with
// the derivative at kinks as PyTorch's autograd defines it (so the cross-check holds exactly where
// inputs sit on a kink, e.g. ReLU6 at 6). Guided backprop (Springenberg et al., Eq. 6) also zeroes
// negative incoming gradients at the ReLU-like ops: Relu, Clip (ReLU6), LeakyRelu and a KerasReLU
// without slope or threshold.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

size_t count(const Graph& g, const Node& n) { return size_t(g.value(n.output).shape.size()); }

Status import_plain(const OnnxImport&, Node&) { return {}; }

// y = f(x), dy/dx = d(x, y); `relu_like` ops take the guided rule, and ReLU itself the deconvnet's
// (ReLU of the incoming gradient, the forward mask ignored: graph.h's ReluBackward). With
// `from_output` the backward reads y alone (d is given x = 0): a Relu or Clip fused into the
// convolution before it (graph/activation_fusion.h) has no input written.
template <float (*f)(float, const OpAttributes&), float (*d)(float, float, const OpAttributes&), bool relu_like,
          bool is_relu = false, bool from_output = false>
struct Elementwise {
  static void forward(const Node& n, NodePlan&, const ForwardArgs& a) {
    const size_t m = count(a.graph, n);
    for (size_t k = 0; k < m; ++k) a.out[k] = f(a.in[0][k], n.attrs);
  }
  static void backward(const Node& n, NodePlan&, const BackwardArgs& a) {
    const size_t m = count(a.graph, n);
    if (is_relu && a.relu == ReluBackward::deconvnet) {
      for (size_t k = 0; k < m; ++k) a.gin[0][k] = a.gout[k] > 0.f ? a.gout[k] : 0.f;
      return;
    }
    const bool guided = relu_like && a.relu == ReluBackward::guided;
    for (size_t k = 0; k < m; ++k) {
      const float g = guided && a.gout[k] < 0.f ? 0.f : a.gout[k];
      a.gin[0][k] = g * d(from_output ? 0.f : a.in[0][k], a.out[k], n.attrs);
    }
  }
};

float relu(float x, const OpAttributes&) { return x > 0.f ? x : 0.f; }
// y > 0 exactly where x > 0.
float relu_d(float, float y, const OpAttributes&) { return y > 0.f ? 1.f : 0.f; }

float leaky(float x, const OpAttributes& a) { return x > 0.f ? x : a.alpha * x; }
float leaky_d(float x, float, const OpAttributes& a) { return x > 0.f ? 1.f : a.alpha; }

float clip(float x, const OpAttributes& a) { return x < a.lo ? a.lo : (x > a.hi ? a.hi : x); }
// lo < y < hi exactly where lo < x < hi (whatever lo and hi: a y outside them is one of them).
float clip_d(float, float y, const OpAttributes& a) { return y > a.lo && y < a.hi ? 1.f : 0.f; }

float sigmoid(float x, const OpAttributes&) { return 1.f / (1.f + std::exp(-x)); }
float sigmoid_d(float, float y, const OpAttributes&) { return y * (1.f - y); }

float hard_sigmoid(float x, const OpAttributes& a) {
  const float v = a.alpha * x + a.beta;
  return v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
}
float hard_sigmoid_d(float x, float, const OpAttributes& a) {
  const float v = a.alpha * x + a.beta;
  return v > 0.f && v < 1.f ? a.alpha : 0.f;
}

// x * relu6(x + 3) / 6 (ONNX HardSwish: alpha 1/6, beta 1/2).
float hard_swish(float x, const OpAttributes&) {
  const float v = x / 6.f + 0.5f;
  return x * (v < 0.f ? 0.f : (v > 1.f ? 1.f : v));
}
float hard_swish_d(float x, float, const OpAttributes&) {
  if (x < -3.f) return 0.f;
  if (x <= 3.f) return x / 3.f + 0.5f;
  return 1.f;
}

float tanh_(float x, const OpAttributes&) { return std::tanh(x); }
float tanh_d(float, float y, const OpAttributes&) { return 1.f - y * y; }

// alpha (e^x - 1) below zero (Clevert et al., arXiv 1511.07289; ONNX Elu, Keras elu).
float elu(float x, const OpAttributes& a) { return x > 0.f ? x : a.alpha * std::expm1(x); }
float elu_d(float x, float y, const OpAttributes& a) { return x > 0.f ? 1.f : y + a.alpha; }

// x * sigmoid(x): Keras swish / silu (EfficientNet's activation), one op instead of Sigmoid and Mul.
float swish(float x, const OpAttributes&) { return x / (1.f + std::exp(-x)); }
float swish_d(float x, float, const OpAttributes&) {
  const float s = 1.f / (1.f + std::exp(-x));
  return s * (1.f + x * (1.f - s));
}

// GELU (Hendrycks & Gimpel, arXiv 1606.08415): x Phi(x), exactly with erf or by the paper's tanh
// approximation. Keras 2.15's tf.keras.activations.gelu and Keras 3's keras.activations.gelu (so
// Activation('gelu')) both default to approximate=False, the erf form; TF.js's 'gelu' is the erf
// form and its 'gelu_new' the tanh one. (keras.ops.gelu alone defaults to approximate=True.)
constexpr float kSqrt2OverPi = 0.7978845608028654f, kGeluCubic = 0.044715f;
float gelu(float x, const OpAttributes& a) {
  if (a.approximate_tanh) return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
  return 0.5f * x * (1.f + std::erf(x * 0.7071067811865476f));
}
float gelu_d(float x, float, const OpAttributes& a) {
  if (a.approximate_tanh) {
    const float t = std::tanh(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kSqrt2OverPi * (1.f + 3.f * kGeluCubic * x * x);
  }
  // Phi(x) + x phi(x)
  return 0.5f * (1.f + std::erf(x * 0.7071067811865476f)) + x * 0.3989422804014327f * std::exp(-0.5f * x * x);
}

// Keras's ReLU layer (keras activations.relu, tf-keras backend.relu; both enforce threshold >= 0):
// min(x, max_value) where x > threshold, negative_slope * (x - threshold) elsewhere. Keras compares
// x > threshold strictly, so x == threshold gives 0 (its docstring's "threshold <= x" is not what
// it computes). attrs: alpha = negative_slope, lo = threshold, hi = max_value (+inf: none).
float keras_relu(float x, const OpAttributes& a) { return x > a.lo ? std::min(x, a.hi) : a.alpha * (x - a.lo); }
// At the kinks PyTorch's rule: 1 strictly inside (threshold, max_value), the slope at threshold.
float keras_relu_d(float x, float, const OpAttributes& a) { return x > a.lo ? (x < a.hi ? 1.f : 0.f) : a.alpha; }

Status import_elu(const OnnxImport& in, Node& n) {
  n.attrs.alpha = attr_float(in.node, "alpha", 1.f);
  return {};
}

// ONNX Gelu (opset 20): approximate = "none" | "tanh".
Status import_gelu(const OnnxImport& in, Node& n) {
  const std::string approximate = attr_string(in.node, "approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return make_error(where(in.node) + "approximate must be \"none\" or \"tanh\", not \"" + onnx::printable(approximate) + "\"");
  n.attrs.approximate_tanh = approximate == "tanh";
  return {};
}

// PRelu: x where x > 0, slope * x elsewhere, the slope a constant in weights[0] broadcast over the
// value's h x w x c: one value, one per channel, or (Keras's PReLU without shared_axes) one per
// element; with slope_h/w/c (Keras's shared_axes) any of the three axes shared, e.g. [h, 1, c].
// A learned slope can be anything (even above 1 or negative), so guided backprop does not treat it
// as a ReLU: its gradient is the plain one.
Status import_prelu(const OnnxImport& in, Node& n) {
  const onnx::Tensor* k = in.constant(1);
  if (!k || k->floats.empty()) return make_error(where(in.node) + "the slope must be a constant float tensor");
  int non_unit = 0;
  for (int64_t d : k->dims) non_unit += d != 1;
  const size_t nd = k->dims.size();
  // One value, or one per channel: [C,1,1], [1,C,1,1] for a 4-D input; [C], [1,C] for a 2-D one.
  if (non_unit > 1 || (non_unit == 1 && nd >= 3 && (k->dims[nd - 1] != 1 || k->dims[nd - 2] != 1)))
    return make_error(where(in.node) + "the slope must be a scalar or hold one value per channel");
  n.weights = {k->floats};
  n.attrs.constant_rank = int(std::max<size_t>(nd, 1));
  return {};
}

// Where element (y, x, c)'s slope lies: weights[0][y * sy + x * sx + c * sc], a stride 0 on a shared axis.
struct SlopeStrides {
  size_t sy = 0, sx = 0, sc = 0;
};

SlopeStrides slope_strides(const Node& n, const Shape& s) {
  const OpAttributes& a = n.attrs;
  const size_t m = n.weights[0].size();
  size_t h = 1, w = 1, c = 1;  // the slope's extents
  if (a.slope_c > 0) h = size_t(a.slope_h), w = size_t(a.slope_w), c = size_t(a.slope_c);
  else if (m == size_t(s.c)) c = m;
  else if (m > 1) h = size_t(s.h), w = size_t(s.w), c = size_t(s.c);
  return {h > 1 ? w * c : 0, w > 1 ? c : 0, c > 1 ? size_t(1) : 0};
}

std::string extents_text(int h, int w, int c) {
  std::string s = "[";
  s.append(std::to_string(h)).append(", ").append(std::to_string(w)).append(", ").append(std::to_string(c)).append("]");
  return s;
}

Status infer_prelu(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  if (n.weights.size() != 1) return make_error(where(n) + "needs its slope as one constant");
  const OpAttributes& a = n.attrs;
  const size_t m = n.weights[0].size(), channels = size_t(x.shape.c), total = size_t(x.shape.size());
  if (a.slope_h > 0 || a.slope_w > 0 || a.slope_c > 0) {
    auto fits = [](int extent, int axis) { return extent == 1 || extent == axis; };
    const std::string shape = extents_text(a.slope_h, a.slope_w, a.slope_c);
    if (!fits(a.slope_h, x.shape.h) || !fits(a.slope_w, x.shape.w) || !fits(a.slope_c, x.shape.c))
      return make_error(where(n) + "a slope of shape " + shape + " does not broadcast over the input's " +
                        extents_text(x.shape.h, x.shape.w, x.shape.c) + " (each extent 1 or the input's)");
    if (m != size_t(a.slope_h) * size_t(a.slope_w) * size_t(a.slope_c))
      return make_error(where(n) + "the slope has " + std::to_string(m) + " values, its shape " + shape + " needs " +
                        std::to_string(size_t(a.slope_h) * size_t(a.slope_w) * size_t(a.slope_c)));
    return same_shape(g, n, out);
  }
  if (m != 1 && m != channels && m != total)
    return make_error(where(n) + "the slope has " + std::to_string(m) + " values; the input has " + std::to_string(channels) +
                      " channels and " + std::to_string(total) + " values");
  // An ONNX [C] or [1,C] slope would broadcast over the width of a 4-D input, not its channels.
  if (m != 1 && (a.constant_rank == 1 || a.constant_rank == 2) && x.rank == 4 && x.shape.h * x.shape.w > 1)
    return make_error(where(n) + "a [C] slope broadcasts over the width of a 4-D input: not supported");
  return same_shape(g, n, out);
}

// Calls f(k, slope) for every element k of the node's output, in memory order.
template <class F>
void each_slope(const Node& n, const Graph& g, F f) {
  const Shape s = g.value(n.output).shape;
  const SlopeStrides st = slope_strides(n, s);
  const float* slope = n.weights[0].data();
  size_t k = 0;
  for (size_t y = 0; y < size_t(s.h); ++y)
    for (size_t x = 0; x < size_t(s.w); ++x) {
      const float* row = slope + y * st.sy + x * st.sx;
      for (size_t c = 0; c < size_t(s.c); ++c, ++k) f(k, row[c * st.sc]);
    }
}

void forward_prelu(const Node& n, NodePlan&, const ForwardArgs& a) {
  each_slope(n, a.graph, [&](size_t k, float slope) {
    const float x = a.in[0][k];
    a.out[k] = x > 0.f ? x : slope * x;
  });
}

void backward_prelu(const Node& n, NodePlan&, const BackwardArgs& a) {
  each_slope(n, a.graph, [&](size_t k, float slope) { a.gin[0][k] = a.in[0][k] > 0.f ? a.gout[k] : slope * a.gout[k]; });
}

Status import_leaky(const OnnxImport& in, Node& n) {
  n.attrs.alpha = attr_float(in.node, "alpha", 0.01f);
  return {};
}

Status import_hard_sigmoid(const OnnxImport& in, Node& n) {
  n.attrs.alpha = attr_float(in.node, "alpha", 0.2f);
  n.attrs.beta = attr_float(in.node, "beta", 0.5f);
  return {};
}

// Clip's bounds: inputs 1 and 2 since opset 11, attributes before.
Status import_clip(const OnnxImport& in, Node& n) {
  n.attrs.lo = attr_float(in.node, "min", -std::numeric_limits<float>::infinity());
  n.attrs.hi = attr_float(in.node, "max", std::numeric_limits<float>::infinity());
  for (size_t slot : {size_t(1), size_t(2)}) {
    if (slot >= in.node.inputs.size() || in.node.inputs[slot].empty()) continue;
    const onnx::Tensor* t = in.constant(slot);
    if (!t || t->floats.size() != 1) return make_error(where(in.node) + "min and max must be constant scalars");
    (slot == 1 ? n.attrs.lo : n.attrs.hi) = t->floats[0];
  }
  return {};
}

// Guided backprop and the deconvnet treat a KerasReLU as ReLU only when it is one below its
// threshold: no slope and a threshold of 0 (then it is Relu, or ReLU6 as Clip with max_value, and
// takes their rules: guided always, the deconvnet's only without max_value, as Captum changes only
// nn.ReLU). A leaky or thresholded unit keeps its plain gradient: it passes gradients where the
// paper's ReLU would not, and the paper does not say which of them to drop.
struct KerasRelu {
  static bool relu_like(const OpAttributes& a) { return a.alpha == 0.f && a.lo == 0.f; }
  static void forward(const Node& n, NodePlan&, const ForwardArgs& a) {
    const size_t m = count(a.graph, n);
    for (size_t k = 0; k < m; ++k) a.out[k] = keras_relu(a.in[0][k], n.attrs);
  }
  static void backward(const Node& n, NodePlan&, const BackwardArgs& a) {
    const size_t m = count(a.graph, n);
    const bool like_relu = relu_like(n.attrs);
    if (like_relu && a.relu == ReluBackward::deconvnet && std::isinf(n.attrs.hi) && n.attrs.hi > 0.f) {
      for (size_t k = 0; k < m; ++k) a.gin[0][k] = a.gout[k] > 0.f ? a.gout[k] : 0.f;
      return;
    }
    const bool guided = like_relu && a.relu == ReluBackward::guided;
    for (size_t k = 0; k < m; ++k) {
      const float g = guided && a.gout[k] < 0.f ? 0.f : a.gout[k];
      a.gin[0][k] = g * keras_relu_d(a.in[0][k], 0.f, n.attrs);
    }
  }
};

// erf (ONNX Erf; PyTorch's exact GELU exports as x * 0.5 * (1 + erf(x / sqrt 2))): d/dx = 2/sqrt(pi) e^(-x^2).
float erf_(float x, const OpAttributes&) { return std::erf(x); }
float erf_d(float x, float, const OpAttributes&) { return 1.1283791670955126f * std::exp(-x * x); }

// sqrt: d/dx = 1 / (2 sqrt x), infinite at 0 as PyTorch's autograd gives it.
float sqrt_(float x, const OpAttributes&) { return std::sqrt(x); }
float sqrt_d(float, float y, const OpAttributes&) { return 0.5f / y; }

// x^e for a constant exponent e (attrs.alpha): LayerNorm's variance, (x - mean)^2, as torch exports
// it. d/dx = e x^(e-1); at e == 2 written as 2x so that x == 0 gives 0 exactly.
float pow_(float x, const OpAttributes& a) { return a.alpha == 2.f ? x * x : std::pow(x, a.alpha); }
float pow_d(float x, float, const OpAttributes& a) { return a.alpha == 2.f ? 2.f * x : a.alpha * std::pow(x, a.alpha - 1.f); }

// Pow with a constant scalar exponent: the exponent is the node's attribute, the base its input.
Status import_pow(const OnnxImport& in, Node& n) {
  const onnx::Tensor* e = in.constant(1);
  if (in.constant(0) || !e || e->element_count() != 1 || (e->floats.empty() && e->ints.empty()))
    return make_error(where(in.node) + "only an activation raised to a constant scalar exponent is supported");
  n.attrs.alpha = e->floats.empty() ? float(e->ints[0]) : e->floats[0];
  return {};
}

using Relu = Elementwise<relu, relu_d, true, true, true>;
using Leaky = Elementwise<leaky, leaky_d, true>;
using Clip = Elementwise<clip, clip_d, true, false, true>;
using Sigmoid = Elementwise<sigmoid, sigmoid_d, false>;
using HardSigmoid = Elementwise<hard_sigmoid, hard_sigmoid_d, false>;
using HardSwish = Elementwise<hard_swish, hard_swish_d, false>;
using Tanh = Elementwise<tanh_, tanh_d, false>;
using Elu = Elementwise<elu, elu_d, false>;
using Gelu = Elementwise<gelu, gelu_d, false>;
using Swish = Elementwise<swish, swish_d, false>;
using Erf = Elementwise<erf_, erf_d, false>;
using Sqrt = Elementwise<sqrt_, sqrt_d, false>;
using Pow = Elementwise<pow_, pow_d, false>;

}  // namespace

const OpDescriptor relu_op = {"Relu", import_plain, same_shape, plan_nothing, Relu::forward, Relu::backward, OpFlags::any_rank};
const OpDescriptor leaky_relu_op = {"LeakyRelu", import_leaky, same_shape, plan_nothing, Leaky::forward, Leaky::backward, OpFlags::any_rank};
const OpDescriptor clip_op = {"Clip", import_clip, same_shape, plan_nothing, Clip::forward, Clip::backward, OpFlags::any_rank};
const OpDescriptor sigmoid_op = {"Sigmoid", import_plain, same_shape, plan_nothing, Sigmoid::forward, Sigmoid::backward, OpFlags::any_rank};
const OpDescriptor hard_sigmoid_op = {"HardSigmoid", import_hard_sigmoid, same_shape, plan_nothing, HardSigmoid::forward,
                                      HardSigmoid::backward, OpFlags::any_rank};
const OpDescriptor hard_swish_op = {"HardSwish", import_plain, same_shape, plan_nothing, HardSwish::forward,
                                    HardSwish::backward, OpFlags::any_rank};
const OpDescriptor tanh_op = {"Tanh", import_plain, same_shape, plan_nothing, Tanh::forward, Tanh::backward, OpFlags::any_rank};
const OpDescriptor elu_op = {"Elu", import_elu, same_shape, plan_nothing, Elu::forward, Elu::backward, OpFlags::any_rank};
const OpDescriptor gelu_op = {"Gelu", import_gelu, same_shape, plan_nothing, Gelu::forward, Gelu::backward, OpFlags::any_rank};
const OpDescriptor erf_op = {"Erf", import_plain, same_shape, plan_nothing, Erf::forward, Erf::backward, OpFlags::any_rank};
const OpDescriptor sqrt_op = {"Sqrt", import_plain, same_shape, plan_nothing, Sqrt::forward, Sqrt::backward, OpFlags::any_rank};
const OpDescriptor pow_op = {"Pow", import_pow, same_shape, plan_nothing, Pow::forward, Pow::backward, OpFlags::any_rank};
const OpDescriptor prelu_op = {"PRelu", import_prelu, infer_prelu, plan_nothing, forward_prelu, backward_prelu};
// Not ONNX ops (no import): Keras's swish/silu and its ReLU layer.
const OpDescriptor swish_op = {"Swish", nullptr, same_shape, plan_nothing, Swish::forward, Swish::backward, OpFlags::any_rank};
const OpDescriptor keras_relu_op = {"KerasReLU", nullptr, same_shape, plan_nothing, KerasRelu::forward, KerasRelu::backward, OpFlags::any_rank};

}  // namespace gradcam::ops
