// ShapleyCAM, Cai 2025, arXiv 2501.06261, as pytorch-grad-cam's shapley_cam.py computes it:
// w_k = mean_ij (G - 1/2 H A)^k_ij, G = d score / dA and H A the Hessian of the score with respect
// to the layer's activations A applied to A itself; the map is ReLU(sum_k w_k A^k).
//
// The engine has no second-order autodiff. H A = J^T (d2s/dz2) (J A) + the curvature of the ops
// between the layer and the logits z (J = dz/dA, s the score as a function of z). The second term
// is 0 where those ops are piecewise linear (conv, ReLU, pooling, batch norm, add, dense: ResNets,
// VGGs), which is also what autograd gives there; smooth activations after the layer (sigmoid,
// hard-swish, a squeeze-excitation's Mul) would add to it, and that part is left out. J A is a
// central difference of the logits along A, from two passes from the layer on (forward_after);
// d2s/dz2 is exact (0 for the logit, the softmax's Hessian for the probability); J^T is a backward.
//
// Why not a finite difference of the gradient itself (two gradients at (1 +- eps) A): in a ReLU
// network the gradient jumps wherever a unit downstream changes sign, and each jump divided by
// 2 eps swamps the true H A. Measured on the torchvision ResNet-18 fixture (tests/js/
// methods_ablation_crosscheck.test.mjs's model) with the probability score, eps = 1e-3: 1.6e-3 of
// the map's maximum off autograd at layer4, 18x the maximum at layer1 (millions of ReLUs after it).
// The logits are continuous, so their difference errs by O(eps) times the share of units crossing
// a kink, not by jumps; float32 rounding of the logits errs by ~1e-6 |z| / eps the other way.
// kLogitStep, measured with the probability score against autograd (|diff| / the map's maximum,
// layer1 / layer3 / layer4 = the last block, after which the network is linear): eps 1e-2: 1.2e-1
// at layer1, 2.9e-4 at layer4; 1e-3: 4.5e-2, -, 1.2e-3; 3e-4: 9.3e-3, 5.9e-3, 1.3e-2; 1e-4: 5.8e-3,
// -, 2.7e-2; 3e-5: 1.3e-2, 3.0e-2, 3.3e-2. 3e-4 has the smallest worst case; that test holds the
// probability score to 3e-2 of the map's maximum. With the logit the term is 0 and the map exact.
#include <chrono>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

constexpr float kLogitStep = 3e-4f;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// (d2s/dz2) v for the score s: 0 for a logit; for p_t = softmax(z)_t,
// d2p_t/dz_i dz_j = p_t ((d_ti - p_i)(d_tj - p_j) - p_i (d_ij - p_j)).
std::vector<float> score_hessian_times(const std::vector<float>& p, int t, Score score, const std::vector<double>& v) {
  std::vector<float> out(p.size(), 0.f);
  if (score == Score::logit) return out;
  double pv = 0;
  for (size_t j = 0; j < p.size(); ++j) pv += double(p[j]) * v[j];
  const double pt = p[size_t(t)], vt = v[size_t(t)] - pv;
  for (size_t i = 0; i < p.size(); ++i) {
    const double d = (i == size_t(t) ? 1.0 : 0.0) - p[i];
    out[i] = float(pt * (d * vt - p[i] * (v[i] - pv)));
  }
  return out;
}

}  // namespace

Map shapley_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Shape& s = net.output_shape(cx.layer);
  const int hw = s.h * s.w, c = s.c;
  const std::vector<float> A = net.output(cx.layer);
  const std::vector<float> p = net.probabilities();
  auto t0 = std::chrono::steady_clock::now();
  net.backward(cx.dscore.data(), cx.layer);
  const std::vector<float> G = net.output_grad(cx.layer);
  std::vector<float> hvp(A.size(), 0.f);
  if (cx.options.score != Score::logit) {
    std::vector<float> shifted(A.size());
    std::vector<double> jv(p.size(), 0.0);
    for (float sign : {1.f, -1.f}) {
      for (size_t i = 0; i < A.size(); ++i) shifted[i] = A[i] * (1.f + sign * kLogitStep);
      net.forward_after(cx.layer, shifted.data());
      for (size_t j = 0; j < jv.size(); ++j) jv[j] += sign * double(net.logits()[j]) / (2.0 * kLogitStep);
    }
    net.forward_after(cx.layer, A.data());  // leave the network holding this image's activations
    const std::vector<float> u = score_hessian_times(p, cx.target, cx.options.score, jv);
    net.backward(u.data(), cx.layer);
    hvp = net.output_grad(cx.layer);
  }
  cx.backward_ms = ms_since(t0);
  std::vector<double> sums(static_cast<size_t>(c), 0.0);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) {
      const size_t e = size_t(i) * c + k;
      sums[size_t(k)] += double(G[e]) - 0.5 * double(hvp[e]);
    }
  std::vector<float> weights(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) weights[size_t(k)] = float(sums[size_t(k)] / hw);
  return weighted_channel_sum(A.data(), weights.data(), s.h, s.w, c, cx.options.eigen_smooth);
}

}  // namespace gradcam
