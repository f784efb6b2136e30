// Element-wise activations. Each backward reads the forward input (and output) of the element, with
// the derivative at kinks as PyTorch's autograd defines it (so the cross-check holds exactly where
// inputs sit on a kink, e.g. ReLU6 at 6). Guided backprop (Springenberg et al., Eq. 6) also zeroes
// negative incoming gradients at the ReLU-like ops: Relu, Clip (ReLU6) and LeakyRelu.
#include <cmath>
#include <limits>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

size_t count(const Graph& g, const Node& n) { return size_t(g.value(n.output).shape.size()); }

Status import_plain(const OnnxImport&, Node&) { return {}; }

// y = f(x), dy/dx = d(x, y); `relu_like` ops take the guided rule, and ReLU itself the deconvnet's
// (ReLU of the incoming gradient, the forward mask ignored: graph.h's ReluBackward).
template <float (*f)(float, const OpAttributes&), float (*d)(float, float, const OpAttributes&), bool relu_like,
          bool is_relu = false>
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
      a.gin[0][k] = g * d(a.in[0][k], a.out[k], n.attrs);
    }
  }
};

float relu(float x, const OpAttributes&) { return x > 0.f ? x : 0.f; }
float relu_d(float x, float, const OpAttributes&) { return x > 0.f ? 1.f : 0.f; }

float leaky(float x, const OpAttributes& a) { return x > 0.f ? x : a.alpha * x; }
float leaky_d(float x, float, const OpAttributes& a) { return x > 0.f ? 1.f : a.alpha; }

float clip(float x, const OpAttributes& a) { return x < a.lo ? a.lo : (x > a.hi ? a.hi : x); }
float clip_d(float x, float, const OpAttributes& a) { return x > a.lo && x < a.hi ? 1.f : 0.f; }

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

using Relu = Elementwise<relu, relu_d, true, true>;
using Leaky = Elementwise<leaky, leaky_d, true>;
using Clip = Elementwise<clip, clip_d, true>;
using Sigmoid = Elementwise<sigmoid, sigmoid_d, false>;
using HardSigmoid = Elementwise<hard_sigmoid, hard_sigmoid_d, false>;
using HardSwish = Elementwise<hard_swish, hard_swish_d, false>;

}  // namespace

const OpDescriptor relu_op = {"Relu", import_plain, same_shape, plan_nothing, Relu::forward, Relu::backward};
const OpDescriptor leaky_relu_op = {"LeakyRelu", import_leaky, same_shape, plan_nothing, Leaky::forward, Leaky::backward};
const OpDescriptor clip_op = {"Clip", import_clip, same_shape, plan_nothing, Clip::forward, Clip::backward};
const OpDescriptor sigmoid_op = {"Sigmoid", import_plain, same_shape, plan_nothing, Sigmoid::forward, Sigmoid::backward};
const OpDescriptor hard_sigmoid_op = {"HardSigmoid", import_hard_sigmoid, same_shape, plan_nothing, HardSigmoid::forward,
                                      HardSigmoid::backward};
const OpDescriptor hard_swish_op = {"HardSwish", import_plain, same_shape, plan_nothing, HardSwish::forward,
                                    HardSwish::backward};

}  // namespace gradcam::ops
