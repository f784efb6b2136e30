// BatchNormalization at inference: a per-channel affine map y = x * scale + shift, folded once from
// gamma, beta and the running statistics.
#include <cmath>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {

// scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
void fold_batch_norm(const std::vector<float>& gamma, const std::vector<float>& beta, const std::vector<float>& mean,
                     const std::vector<float>& var, float epsilon, Node& n) {
  std::vector<float> scale(gamma.size()), shift(gamma.size());
  for (size_t c = 0; c < gamma.size(); ++c) {
    scale[c] = gamma[c] / std::sqrt(var[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  n.weights = {std::move(scale), std::move(shift)};
}

namespace {

Status import_batch_norm(const OnnxImport& in, Node& n) {
  if (in.node.outputs.size() > 1) return make_error(where(in.node) + "training mode (running statistics as outputs) is not supported");
  const onnx::Tensor* t[4] = {in.constant(1), in.constant(2), in.constant(3), in.constant(4)};
  for (const onnx::Tensor* x : t)
    if (!x || x->floats.empty() || x->floats.size() != t[0]->floats.size())
      return make_error(where(in.node) + "scale, B, mean and var must be constants of one value per channel");
  fold_batch_norm(t[0]->floats, t[1]->floats, t[2]->floats, t[3]->floats, attr_float(in.node, "epsilon", 1e-5f), n);
  return {};
}

Status infer_batch_norm(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  if (int(n.weights[0].size()) != x.shape.c)
    return make_error(where(n) + "has " + std::to_string(n.weights[0].size()) + " channels, its input " +
                      std::to_string(x.shape.c));
  return same_shape(g, n, out);
}

void forward_batch_norm(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  const float* scale = n.weights[0].data();
  const float* shift = n.weights[1].data();
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.out[i * c + k] = a.in[0][i * c + k] * scale[k] + shift[k];
}

void backward_batch_norm(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t hw = size_t(s.h) * s.w, c = size_t(s.c);
  const float* scale = n.weights[0].data();
  for (size_t i = 0; i < hw; ++i)
    for (size_t k = 0; k < c; ++k) a.gin[0][i * c + k] = a.gout[i * c + k] * scale[k];
}

}  // namespace

const OpDescriptor batch_norm_op = {"BatchNormalization", import_batch_norm, infer_batch_norm, plan_nothing,
                                    forward_batch_norm, backward_batch_norm};

}  // namespace gradcam::ops
