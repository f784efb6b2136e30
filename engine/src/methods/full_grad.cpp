// FullGrad, Srinivas & Fleuret 2019, arXiv 1905.00780 (the full-gradient saliency map, psi = abs, normalise, upsample),
// as pytorch-grad-cam's fullgrad_cam.py computes it: the input-gradient term |x (.) dS/dx| and, for
// every conv and batch-norm layer, the bias-gradient term |b_c (.) dS/dz_c| (z the layer's output,
// b its per-channel bias: a batch norm's effective bias beta - mean gamma / sqrt(var + eps)), each
// channel scaled to [0, 1] (min subtracted, divided by 1e-7 + max, as scale_cam_image does),
// upsampled to the input and summed. One backward to the input keeps every node's output gradient
// (Network::output_grad): the bias gradient is that gradient weighted by the bias per channel, so
// the graph needs nothing new. Like fullgrad_cam.py it leaves out dense layers (a bias with no
// position), and its layer is ignored: every layer contributes.
//
// An importer that folds a batch norm into the conv before it (ONNX exports do) leaves one bias, the
// sum of both; PyTorch's ResNets have bias-free convs, so there the terms are the same.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "gradcam/map.h"
#include "gradcam/methods.h"
#include "graph/ops/ops.h"

namespace gradcam {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Adds, per channel of the h x w x c term, (t - min) / (1e-7 + max - min) into sum (h x w).
void add_scaled_channels(const std::vector<float>& term, int hw, int c, std::vector<float>& sum) {
  for (int k = 0; k < c; ++k) {
    float lo = term[size_t(k)], hi = lo;
    for (int i = 0; i < hw; ++i) lo = std::min(lo, term[size_t(i) * c + k]), hi = std::max(hi, term[size_t(i) * c + k]);
    const float scale = 1.f / (1e-7f + (hi - lo));
    for (int i = 0; i < hw; ++i) sum[size_t(i)] += (term[size_t(i) * c + k] - lo) * scale;
  }
}

// The bias a node adds per channel, or nullptr: convs (a fused ReLU after it is handled by the
// caller) and batch norms, whose shift is their effective bias.
const std::vector<float>* channel_bias(const Node& n) {
  if (n.op == &ops::conv_op && n.weights.size() > 1) return &n.weights[1];
  if (n.op == &ops::batch_norm_op && n.weights.size() > 1) return &n.weights[1];
  return nullptr;
}

}  // namespace

Map full_grad(MethodContext& cx) {
  Network& net = cx.net;
  const Graph& graph = net.graph();
  const Shape& in = graph.value(0).shape;
  const int ih = in.h, iw = in.w;
  auto t0 = std::chrono::steady_clock::now();
  net.backward(cx.dscore.data(), -1);
  cx.backward_ms = ms_since(t0);

  Map m{ih, iw, std::vector<float>(size_t(ih) * iw, 0.f)};
  std::vector<float> term(net.input().size());
  for (size_t e = 0; e < term.size(); ++e) term[e] = std::abs(net.input()[e] * net.input_grad()[e]);
  add_scaled_channels(term, ih * iw, in.c, m.values);

  for (int i = 0; i < net.layer_count(); ++i) {
    const Node& n = graph.nodes[size_t(i)];
    const std::vector<float>* bias = channel_bias(n);
    const Value& out = graph.value(n.output);
    if (!bias || out.layout != Layout::image || int(bias->size()) != out.shape.c) continue;
    const int hw = out.shape.h * out.shape.w, c = out.shape.c;
    const Floats z = net.output(i);
    const Floats g = net.output_grad(i);
    term.assign(z.size(), 0.f);
    for (int p = 0; p < hw; ++p)
      for (int k = 0; k < c; ++k) {
        const size_t e = size_t(p) * c + k;
        // A ReLU fused into the conv (Keras): the bias's gradient is the one before it.
        const bool passes = !n.attrs.relu || z[e] > 0.f;
        term[e] = passes ? std::abs((*bias)[size_t(k)] * g[e]) : 0.f;
      }
    // Scaling each channel and upsampling are both affine, and bilinear weights sum to 1, so the
    // channels are summed at the layer's resolution and the sum upsampled once.
    std::vector<float> sum(size_t(hw), 0.f);
    add_scaled_channels(term, hw, c, sum);
    const std::vector<float> up = upsample_bilinear(sum.data(), out.shape.h, out.shape.w, ih, iw);
    for (size_t p = 0; p < up.size(); ++p) m.values[p] += up[p];
  }
  return m;
}

}  // namespace gradcam
