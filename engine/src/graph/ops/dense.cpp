// Gemm and MatMul with a constant weight: y = x W + b on a 2-D activation, with an optional fused
// ReLU (Keras's dense activation). W is kept as [in][out] (Keras's layout), alpha and beta folded in.
// On rows of any rank [..., M, K] (ViT's and ConvNeXt's Linear on [1,197,768] or [1,H,W,C]; the
// [197,768] Gemm of torch's MultiheadAttention) every row is multiplied: one GEMM through Eigen. A
// [1, K] vector keeps the threaded GEMV kernel. MatMul of two activations (attention's
// [1,12,197,64] x [1,12,64,197]) multiplies the last two axes, the batch axes broadcast as numpy
// does, each operand's gradient summed over the batches it was broadcast to.
#include <algorithm>
#include <string>

#include <Eigen/Dense>

#include "../op_support.h"
#include "nd_walk.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

// W from a constant [in][out] (or [out][in] when transposed), scaled. The file's data is moved
// into the node where it is already [in][out] and this node is its last reader.
Status read_weight(const OnnxImport& in, size_t slot, bool trans_b, float alpha, Node& n) {
  const onnx::Tensor* b = in.constant(slot);
  if (!b || b->dims.size() != 2 || b->floats.empty())
    return make_error(where(in.node) + "the weight must be a constant 2-D float tensor (a product of two activations is not supported)");
  const int rows = int(b->dims[0]), cols = int(b->dims[1]);
  const int units = trans_b ? rows : cols, inputs = trans_b ? cols : rows;
  // The data as stored: read transposed (onnx::Tensor::transposed), a [out][in] is already [in][out].
  const bool out_in = trans_b != b->transposed;
  std::vector<float> w;
  if (onnx::Tensor* movable = in.movable(slot); movable && !out_in) {
    w = std::move(movable->floats);
    if (alpha != 1.f)
      for (float& v : w) v *= alpha;
  } else if (!out_in) {
    w.resize(b->floats.size());
    for (size_t k = 0; k < w.size(); ++k) w[k] = alpha * b->floats[k];
  } else {
    w.resize(size_t(units) * inputs);
    // In tiles, so that a transposed read (PyTorch's Linear: [out][in]) stays in cache: row by row,
    // VGG's 25088 x 4096 classifier missed the cache on every read and took seconds to load.
    constexpr int tile = 64;
    for (int i0 = 0; i0 < inputs; i0 += tile)
      for (int o0 = 0; o0 < units; o0 += tile)
        for (int i = i0; i < std::min(i0 + tile, inputs); ++i)
          for (int o = o0; o < std::min(o0 + tile, units); ++o)
            w[size_t(i) * units + o] = alpha * b->floats[size_t(o) * inputs + i];
  }
  n.attrs.out_channels = units;
  // Not `= {w, ...}`: an initializer list's elements are const, so it would copy the weight.
  n.weights.clear();
  n.weights.push_back(std::move(w));
  n.weights.emplace_back(size_t(units), 0.f);
  return {};
}

Status import_gemm(const OnnxImport& in, Node& n) {
  if (attr_int(in.node, "transA", 0) != 0) return make_error(where(in.node) + "transA=1 is not supported");
  if (in.constant(0)) return make_error(where(in.node) + "A must be the activation");
  const float alpha = attr_float(in.node, "alpha", 1.f), beta = attr_float(in.node, "beta", 1.f);
  if (Status s = read_weight(in, 1, attr_int(in.node, "transB", 0) != 0, alpha, n); !s) return s;
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
  if (!in.constant(1)) return {};  // two activations
  const onnx::Tensor* b = in.constant(1);
  if (b->dims.size() != 2)
    return make_error(where(in.node) + "a constant second operand must be 2-D [K, N], not " + dims_text(b->dims));
  return read_weight(in, 1, false, 1.f, n);
}

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<RowMajor>;
using ConstMatrixMap = Eigen::Map<const RowMajor>;

// ---- two activations ----

std::vector<int64_t> batch_of(const std::vector<int64_t>& dims) { return {dims.begin(), dims.end() - 2}; }

Status infer_product(const Graph& g, Node& n, Value& out) {
  const Value& a = input_value(g, n, 0);
  const Value& b = input_value(g, n, 1);
  for (const Value* v : {&a, &b})
    if (v->layout != Layout::rows || v->rank < 2)
      return make_error(where(n) + "multiplies two activations of rank 2 or more held as rows; '" + v->name + "' is " +
                        (v->layout == Layout::image ? "a [1,C,H,W] image" : "1-D"));
  const int64_t m = a.dims[a.dims.size() - 2], k = a.dims.back(), k2 = b.dims[b.dims.size() - 2], cols = b.dims.back();
  if (a.rank > kMaxWalkRank || b.rank > kMaxWalkRank)
    return make_error(where(n) + "multiplies values of rank above " + std::to_string(kMaxWalkRank) + ": not supported");
  std::vector<int64_t> batch = broadcast_dims(batch_of(a.dims), batch_of(b.dims));
  if (k != k2 || (batch.empty() && (a.rank > 2 || b.rank > 2)))
    return make_error(where(n) + "cannot multiply '" + a.name + "' " + dims_text(a.dims) + " by '" + b.name + "' " + dims_text(b.dims) +
                      " (the first's last extent must be the second's next to last; the leading axes broadcast)");
  batch.push_back(m);
  batch.push_back(cols);
  set_rows(out, std::move(batch));
  return {};
}

// The batches: the output's, and each operand's matrix at its own (broadcast) batch offset.
Walk<3> batch_walk(const Graph& g, const Node& n) {
  const std::vector<int64_t>& ad = input_value(g, n, 0).dims;
  const std::vector<int64_t>& bd = input_value(g, n, 1).dims;
  const std::vector<int64_t>& od = g.value(n.output).dims;
  // (On the stack: a pass allocates nothing here.)
  auto batch = [](const std::vector<int64_t>& d) {
    Extents e;
    e.rank = int(d.size()) - 2;
    std::copy(d.begin(), d.end() - 2, e.v.begin());
    return e;
  };
  auto matrices = [&](const std::vector<int64_t>& d) {  // batch strides in floats
    Extents s = broadcast_strides(batch(d));
    for (int k = 0; k < s.rank; ++k) s[k] *= d[d.size() - 2] * d.back();
    return s;
  };
  return make_walk<3>(batch(od), {matrices(od), matrices(ad), matrices(bd)});
}

void forward_product(const Node& n, NodePlan&, const ForwardArgs& a) {
  const std::vector<int64_t>& ad = input_value(a.graph, n, 0).dims;
  const std::vector<int64_t>& bd = input_value(a.graph, n, 1).dims;
  const Eigen::Index m = ad[ad.size() - 2], k = ad.back(), cols = bd.back();
  walk(batch_walk(a.graph, n), [&](int64_t o, int64_t i, int64_t j) {
    MatrixMap(a.out + o, m, cols).noalias() = ConstMatrixMap(a.in[0] + i, m, k) * ConstMatrixMap(a.in[1] + j, k, cols);
  });
}

// dA = dY B^T, dB = A^T dY, summed over broadcast batches.
void backward_product(const Node& n, NodePlan&, const BackwardArgs& a) {
  const std::vector<int64_t>& ad = input_value(a.graph, n, 0).dims;
  const std::vector<int64_t>& bd = input_value(a.graph, n, 1).dims;
  const Eigen::Index m = ad[ad.size() - 2], k = ad.back(), cols = bd.back();
  std::fill(a.gin[0], a.gin[0] + input_value(a.graph, n, 0).shape.size(), 0.f);
  std::fill(a.gin[1], a.gin[1] + input_value(a.graph, n, 1).shape.size(), 0.f);
  walk(batch_walk(a.graph, n), [&](int64_t o, int64_t i, int64_t j) {
    const ConstMatrixMap gy(a.gout + o, m, cols);
    MatrixMap(a.gin[0] + i, m, k).noalias() += gy * ConstMatrixMap(a.in[1] + j, k, cols).transpose();
    MatrixMap(a.gin[1] + j, k, cols).noalias() += ConstMatrixMap(a.in[0] + i, m, k).transpose() * gy;
  });
}

// ---- an activation times a constant ----

Status infer_dense(const Graph& g, Node& n, Value& out) {
  if (n.inputs.size() == 2) return infer_product(g, n, out);
  const Value& x = input_value(g, n);
  if (x.layout == Layout::image && x.rank != 2)
    return make_error(where(n) + "needs a 2-D input [1, n]: flatten the 4-D '" + x.name + "' first");
  // A [1, n] vector (or a legacy op's rank-2 output not yet settled into one): one row.
  const bool one_row = x.layout == Layout::image || x.is_vector();
  const int units = n.attrs.out_channels;
  if (units < 1 || n.weights.empty() || n.weights.size() > 2)
    return make_error(where(n) + "needs a weight (and a bias) and at least one unit");
  // Keras Dense(use_bias=False): the weight alone, the bias zeros.
  if (n.weights.size() == 1) n.weights.emplace_back(size_t(units), 0.f);
  if (n.weights[1].size() != size_t(units))
    return make_error(where(n) + "the bias has " + std::to_string(n.weights[1].size()) + " values for " +
                      std::to_string(units) + " units");
  const int64_t k = one_row ? x.shape.size() : x.dims.back();
  if (int64_t(n.weights[0].size()) != k * units)
    return make_error(where(n) + "its weight expects " + std::to_string(n.weights[0].size() / size_t(units)) +
                      " inputs, '" + x.name + "' has " + std::to_string(k) + (one_row ? "" : " in its last axis " + dims_text(x.dims)));
  if (!one_row && n.op == &gemm_op && x.rank != 2)
    return make_error(where(n) + "Gemm multiplies a 2-D [M, K]; '" + x.name + "' is " + dims_text(x.dims) + " (MatMul takes any rank)");
  if (!one_row) {  // every row of [..., M, K]
    std::vector<int64_t> dims = x.dims;
    dims.back() = units;
    set_rows(out, std::move(dims));
    return {};
  }
  out.shape = {1, 1, units};
  out.rank = 2;
  return {};
}

void plan_dense(const Graph& g, const Node& n, NodePlan&, ScratchSizes& s) {
  s.at_least(s.grad, size_t(g.value(n.output).shape.size()));
}

// How many rows of K the input holds (1 for a [1, K] vector).
Eigen::Index rows_of(const Graph& g, const Node& n) {
  return Eigen::Index(g.value(n.output).shape.size() / n.attrs.out_channels);
}

void forward_dense(const Node& n, NodePlan& p, const ForwardArgs& a) {
  if (n.inputs.size() == 2) return forward_product(n, p, a);
  const int units = n.attrs.out_channels;
  if (const Eigen::Index rows = rows_of(a.graph, n); rows > 1) {
    const Eigen::Index k = Eigen::Index(n.weights[0].size()) / units;
    MatrixMap y(a.out, rows, units);
    y.noalias() = ConstMatrixMap(a.in[0], rows, k) * ConstMatrixMap(n.weights[0].data(), k, units);
    y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(n.weights[1].data(), units);
    if (n.attrs.relu) y = y.cwiseMax(0.f);
    return;
  }
  kernels::dense_forward(int(n.weights[0].size() / size_t(units)), units, a.in[0], n.weights[0].data(),
                         n.weights[1].data(), n.attrs.relu, a.out, a.batch);
}

void backward_dense(const Node& n, NodePlan& p, const BackwardArgs& a) {
  if (n.inputs.size() == 2) return backward_product(n, p, a);
  const int units = n.attrs.out_channels;
  const Eigen::Index rows = rows_of(a.graph, n);
  const float* gpre =
      n.attrs.relu ? relu_mask(a.out, a.gout, size_t(rows) * size_t(units), a.relu, a.scratch.grad.data()) : a.gout;
  if (rows > 1) {
    const Eigen::Index k = Eigen::Index(n.weights[0].size()) / units;
    MatrixMap(a.gin[0], rows, k).noalias() =
        ConstMatrixMap(gpre, rows, units) * ConstMatrixMap(n.weights[0].data(), k, units).transpose();
    return;
  }
  kernels::dense_backward_input(int(n.weights[0].size() / size_t(units)), units, gpre, n.weights[0].data(), a.gin[0]);
}

}  // namespace

const OpDescriptor gemm_op = {"Gemm", import_gemm, infer_dense, plan_dense, forward_dense, backward_dense,
                              OpFlags::any_rank | OpFlags::batched_forward};
const OpDescriptor matmul_op = {"MatMul", import_matmul, infer_dense, plan_dense, forward_dense, backward_dense,
                                OpFlags::any_rank | OpFlags::batched_forward};

}  // namespace gradcam::ops
