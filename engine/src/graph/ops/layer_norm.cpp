// LayerNormalization (ONNX opset 17; Ba et al., arXiv 1607.06450): each group of the axes from
// `axis` on is normalised to zero mean and unit (biased) variance, then scaled and shifted by the
// constants Scale and B of those axes' shape: y = (x - mean) / sqrt(var + epsilon) * scale + bias.
// ViT's and ConvNeXt's LayerNorm over the channels of [1, tokens, C] or [1, H, W, C] rows.
#include <cmath>
#include <string>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

Status import_layer_norm(const OnnxImport& in, Node& n) {
  const onnx::Tensor* scale = in.constant(1);
  const onnx::Tensor* bias = in.constant(2);
  if (!scale || scale->floats.empty() || (in.node.inputs.size() > 2 && !in.node.inputs[2].empty() && (!bias || bias->floats.empty())))
    return make_error(where(in.node) + "Scale and B must be constant float tensors");
  if (in.node.outputs.size() > 1 && !(in.node.outputs[1].empty() && (in.node.outputs.size() < 3 || in.node.outputs[2].empty())))
    return make_error(where(in.node) + "the Mean and InvStdDev outputs (training) are not supported");
  n.attrs.axis = int(attr_int(in.node, "axis", -1));
  n.attrs.alpha = attr_float(in.node, "epsilon", 1e-5f);
  n.weights = {scale->floats, bias ? bias->floats : std::vector<float>(scale->floats.size(), 0.f)};
  return {};
}

// The size of each group (the axes from `axis` on); rows are row-major, so a group is contiguous.
size_t group_size(const Graph& g, const Node& n) {
  const Value& x = input_value(g, n);
  size_t m = 1;
  for (size_t k = size_t(n.attrs.axis); k < x.dims.size(); ++k) m *= size_t(x.dims[k]);
  return m;
}

Status infer_layer_norm(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  if (x.layout != Layout::rows)
    return make_error(where(n) + "normalises a [1,C,H,W] image over its axes from " + std::to_string(n.attrs.axis) +
                      ": only rows values (tokens, channels-last [1,H,W,C]) are supported");
  const int rank = x.rank;
  if (n.attrs.axis < -rank || n.attrs.axis >= rank)
    return make_error(where(n) + "axis " + std::to_string(n.attrs.axis) + " is outside the input's " + std::to_string(rank) + " axes");
  if (n.attrs.axis < 0) n.attrs.axis += rank;
  const size_t m = group_size(g, n);
  for (const std::vector<float>& w : n.weights)
    if (w.size() != m && w.size() != 1)
      return make_error(where(n) + "Scale and B must hold one value per element of a group (" + std::to_string(m) + "), not " +
                        std::to_string(w.size()));
  return same_shape(g, n, out);
}

struct Moments {
  float mean, rstd;  // rstd = 1 / sqrt(var + epsilon)
};
Moments moments(const float* x, size_t m, float epsilon) {
  double sum = 0, squares = 0;
  for (size_t k = 0; k < m; ++k) sum += x[k];
  const double mean = sum / double(m);
  for (size_t k = 0; k < m; ++k) squares += (x[k] - mean) * (x[k] - mean);
  return {float(mean), float(1.0 / std::sqrt(squares / double(m) + double(epsilon)))};
}

inline float at(const std::vector<float>& w, size_t k) { return w.size() == 1 ? w[0] : w[k]; }

void forward_layer_norm(const Node& n, NodePlan&, const ForwardArgs& a) {
  const size_t m = group_size(a.graph, n), groups = size_t(a.graph.value(n.output).shape.size()) / m;
  for (size_t i = 0; i < groups; ++i) {
    const float* x = a.in[0] + i * m;
    float* y = a.out + i * m;
    const Moments s = moments(x, m, n.attrs.alpha);
    for (size_t k = 0; k < m; ++k) y[k] = (x[k] - s.mean) * s.rstd * at(n.weights[0], k) + at(n.weights[1], k);
  }
}

// With h = (x - mean) rstd and gh = dy * scale: dx = rstd (gh - mean(gh) - h mean(gh h)).
void backward_layer_norm(const Node& n, NodePlan&, const BackwardArgs& a) {
  const size_t m = group_size(a.graph, n), groups = size_t(a.graph.value(n.output).shape.size()) / m;
  for (size_t i = 0; i < groups; ++i) {
    const float* x = a.in[0] + i * m;
    const float* g = a.gout + i * m;
    float* gx = a.gin[0] + i * m;
    const Moments s = moments(x, m, n.attrs.alpha);
    double sum_g = 0, sum_gh = 0;
    for (size_t k = 0; k < m; ++k) {
      const double gh = double(g[k]) * at(n.weights[0], k);
      sum_g += gh, sum_gh += gh * (x[k] - s.mean) * s.rstd;
    }
    const float mean_g = float(sum_g / double(m)), mean_gh = float(sum_gh / double(m));
    for (size_t k = 0; k < m; ++k) {
      const float h = (x[k] - s.mean) * s.rstd;
      gx[k] = s.rstd * (g[k] * at(n.weights[0], k) - mean_g - h * mean_gh);
    }
  }
}

}  // namespace

const OpDescriptor layer_norm_op = {"LayerNormalization", import_layer_norm, infer_layer_norm, plan_nothing, forward_layer_norm,
                                    backward_layer_norm, OpFlags::any_rank};

}  // namespace gradcam::ops
