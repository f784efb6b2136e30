// Gemm and MatMul with a constant weight: y = x W + b on a 2-D activation, with an optional fused
// ReLU (Keras's dense activation). W is kept as [in][out] (Keras's layout), alpha and beta folded in.
#include <algorithm>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

// W from a constant [in][out] (or [out][in] when transposed), scaled.
Status read_weight(const OnnxImport& in, const onnx::Tensor* b, bool trans_b, float alpha, Node& n) {
  if (!b || b->dims.size() != 2 || b->floats.empty())
    return make_error(where(in.node) + "the weight must be a constant 2-D float tensor (a product of two activations is not supported)");
  const int rows = int(b->dims[0]), cols = int(b->dims[1]);
  const int units = trans_b ? rows : cols, inputs = trans_b ? cols : rows;
  std::vector<float> w(size_t(units) * inputs);
  // In tiles, so that a transposed read (PyTorch's Linear: [out][in]) stays in cache: row by row,
  // VGG's 25088 x 4096 classifier missed the cache on every read and took seconds to load.
  constexpr int tile = 64;
  for (int i0 = 0; i0 < inputs; i0 += tile)
    for (int o0 = 0; o0 < units; o0 += tile)
      for (int i = i0; i < std::min(i0 + tile, inputs); ++i)
        for (int o = o0; o < std::min(o0 + tile, units); ++o)
          w[size_t(i) * units + o] = alpha * (trans_b ? b->floats[size_t(o) * cols + i] : b->floats[size_t(i) * cols + o]);
  n.attrs.out_channels = units;
  n.weights = {std::move(w), std::vector<float>(size_t(units), 0.f)};
  return {};
}

Status import_gemm(const OnnxImport& in, Node& n) {
  if (attr_int(in.node, "transA", 0) != 0) return make_error(where(in.node) + "transA=1 is not supported");
  if (in.constant(0)) return make_error(where(in.node) + "A must be the activation");
  const float alpha = attr_float(in.node, "alpha", 1.f), beta = attr_float(in.node, "beta", 1.f);
  if (Status s = read_weight(in, in.constant(1), attr_int(in.node, "transB", 0) != 0, alpha, n); !s) return s;
  if (const onnx::Tensor* c = in.constant(2)) {
    std::vector<float>& bias = n.weights[1];
    if (c->floats.size() == 1)
      std::fill(bias.begin(), bias.end(), beta * c->floats[0]);
    else if (c->floats.size() == bias.size())
      for (size_t o = 0; o < bias.size(); ++o) bias[o] = beta * c->floats[o];
    else
      return make_error(where(in.node) + "C must have one value per output or be a scalar");
  } else if (in.node.inputs.size() > 2 && !in.node.inputs[2].empty()) {
    return make_error(where(in.node) + "C must be a constant");
  }
  return {};
}

Status import_matmul(const OnnxImport& in, Node& n) {
  if (in.constant(0)) return make_error(where(in.node) + "the first operand must be the activation");
  return read_weight(in, in.constant(1), false, 1.f, n);
}

Status infer_dense(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  if (x.rank != 2) return make_error(where(n) + "needs a 2-D input [1, n]: flatten the 4-D '" + x.name + "' first");
  const int units = n.attrs.out_channels;
  if (units < 1 || n.weights.empty() || n.weights.size() > 2)
    return make_error(where(n) + "needs a weight (and a bias) and at least one unit");
  // Keras Dense(use_bias=False): the weight alone, the bias zeros.
  if (n.weights.size() == 1) n.weights.emplace_back(size_t(units), 0.f);
  if (n.weights[1].size() != size_t(units))
    return make_error(where(n) + "the bias has " + std::to_string(n.weights[1].size()) + " values for " +
                      std::to_string(units) + " units");
  if (int64_t(n.weights[0].size()) != x.shape.size() * units)
    return make_error(where(n) + "its weight expects " + std::to_string(n.weights[0].size() / size_t(units)) +
                      " inputs, '" + x.name + "' has " + std::to_string(x.shape.size()));
  out.shape = {1, 1, units};
  out.rank = 2;
  return {};
}

void plan_dense(const Graph& g, const Node& n, NodePlan&, ScratchSizes& s) {
  s.at_least(s.grad, size_t(g.value(n.output).shape.size()));
}

void forward_dense(const Node& n, NodePlan&, const ForwardArgs& a) {
  const int units = n.attrs.out_channels;
  kernels::dense_forward(int(n.weights[0].size() / size_t(units)), units, a.in[0], n.weights[0].data(),
                         n.weights[1].data(), n.attrs.relu, a.out, a.batch);
}

void backward_dense(const Node& n, NodePlan&, const BackwardArgs& a) {
  const int units = n.attrs.out_channels;
  const float* gpre = n.attrs.relu ? relu_mask(a.out, a.gout, size_t(units), a.relu, a.scratch.grad.data()) : a.gout;
  kernels::dense_backward_input(int(n.weights[0].size() / size_t(units)), units, gpre, n.weights[0].data(), a.gin[0]);
}

}  // namespace

const OpDescriptor gemm_op = {"Gemm", import_gemm, infer_dense, plan_dense, forward_dense, backward_dense, /*any_rank=*/false, /*batched_forward=*/true};
const OpDescriptor matmul_op = {"MatMul", import_matmul, infer_dense, plan_dense, forward_dense, backward_dense,
                                /*any_rank=*/false, /*batched_forward=*/true};

}  // namespace gradcam::ops
