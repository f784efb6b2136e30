// ShapleyCAM, Cai et al. 2025, arXiv 2501.06261, as pytorch-grad-cam's shapley_cam.py
// computes it: w_k = mean_ij (G - 1/2 H A)^k_ij, G = d score / dA and H A the Hessian of the score
// with respect to the layer's activations A applied to A itself; the map is ReLU(sum_k w_k A^k).
//
// The engine has no second-order autodiff, so H A is a central difference of the gradient along A:
// H A ~ (G((1 + eps) A) - G((1 - eps) A)) / (2 eps), each gradient from a pass from the layer on
// (Network::forward_after) and a backward to the layer. Two error sources pull eps apart: float32
// rounding in the two gradients (relative ~1e-7 / eps) and, in a ReLU network, units whose sign
// flips within +-eps A (the gradient jumps there; the true H is 0 on each linear piece). Measured
// on the torchvision ResNet-18 fixture at layer1, layer2, layer4 with the logit and the probability
// scores (tests/js/methods_ablation_crosscheck.test.mjs prints the errors), eps = 1e-3 kept the map
// within 1e-3 of its maximum of autograd's; 1e-2 let kinks through, 1e-5 rounding.
#include <chrono>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

constexpr float kHessianStep = 1e-3f;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Map shapley_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Shape& s = net.output_shape(cx.layer);
  const int hw = s.h * s.w, c = s.c;
  auto t0 = std::chrono::steady_clock::now();
  net.backward(cx.dscore.data(), cx.layer);
  const std::vector<float> A = net.output(cx.layer);
  const std::vector<float> G = net.output_grad(cx.layer);
  std::vector<float> shifted(A.size()), dscore(cx.dscore.size()), plus, minus;
  // The gradient at (1 + step) A: the score's gradient is re-seeded because with the probability
  // score d score / d logits changes with the logits.
  auto gradient_at = [&](float step, std::vector<float>& out) {
    for (size_t i = 0; i < A.size(); ++i) shifted[i] = A[i] * (1.f + step);
    net.forward_after(cx.layer, shifted.data());
    score_gradient(net.logits(), net.probabilities(), cx.target, cx.options.score, dscore.data());
    net.backward(dscore.data(), cx.layer);
    out = net.output_grad(cx.layer);
  };
  gradient_at(kHessianStep, plus);
  gradient_at(-kHessianStep, minus);
  net.forward_after(cx.layer, A.data());  // leave the network holding this image's activations
  cx.backward_ms = ms_since(t0);
  std::vector<double> sums(size_t(c), 0.0);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) {
      const size_t e = size_t(i) * c + k;
      const double hvp = (double(plus[e]) - double(minus[e])) / (2.0 * kHessianStep);
      sums[size_t(k)] += double(G[e]) - 0.5 * hvp;
    }
  std::vector<float> weights(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) weights[size_t(k)] = float(sums[size_t(k)] / hw);
  return weighted_channel_sum(A.data(), weights.data(), s.h, s.w, c);
}

}  // namespace gradcam
