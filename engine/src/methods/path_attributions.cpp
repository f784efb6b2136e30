// Attributions that integrate the gradient on the straight path from a baseline b to the input x:
// Integrated Gradients (the integral by Gauss-Legendre quadrature, as Captum by default) and
// GradientSHAP (its Monte-Carlo estimate over random baselines and random points on the path).
#include <chrono>
#include <random>

#include "methods/attribution.h"

namespace gradcam {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

// Integrated Gradients, Sundararajan et al. 2017, arXiv 1703.01365 Eq. 1:
// (x - b) * integral_0^1 dF(b + a (x - b))/dx da, the integral by Captum's default rule
// (method="gausslegendre", n_steps=50: nodes and weights of numpy's leggauss mapped to [0, 1]).
Map integrated_gradients(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const ExplainOptions& opt = cx.options;
  const size_t n = size_t(arch.height) * arch.width * arch.channels;
  const std::vector<float> b = baseline_input(arch, cx.input, opt.baseline.value_or(Baseline::black), opt.seed);
  const Quadrature q = gauss_legendre(opt.ig_steps);
  std::vector<double> integral(n, 0.0);
  std::vector<float> point(n), grad;
  auto t0 = std::chrono::steady_clock::now();
  for (size_t s = 0; s < q.alphas.size(); ++s) {
    const float alpha = float(q.alphas[s]);
    for (size_t i = 0; i < n; ++i) point[i] = b[i] + alpha * (cx.input[i] - b[i]);
    input_gradient_at(net, point.data(), cx.target, opt.score, ReluBackward::standard, grad);
    for (size_t i = 0; i < n; ++i) integral[i] += q.weights[s] * double(grad[i]);
  }
  net.forward(cx.input);  // leave the network holding this image's activations
  cx.backward_ms = ms_since(t0);
  cx.attribution.resize(n);
  for (size_t i = 0; i < n; ++i) cx.attribution[i] = float(double(cx.input[i] - b[i]) * integral[i]);
  return attribution_map(cx.attribution, arch.height, arch.width, arch.channels);
}

// GradientSHAP, Lundberg & Lee 2017, arXiv 1705.07874, as Captum's GradientShap: the mean over
// samples of dF(b + a (x - b))/dx * (x - b), with b drawn uniformly from the baselines and a uniform
// in [0, 1). Captum's defaults: n_samples = 5 and stdevs = 0 (no noise is added to x, so none is here).
// Draws, per sample: the baseline's index (mt19937_64 output mod the count), then a = (output >> 11) / 2^53.
Map gradient_shap(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const ExplainOptions& opt = cx.options;
  const size_t n = size_t(arch.height) * arch.width * arch.channels;
  std::vector<std::vector<float>> baselines;
  if (opt.baseline)
    baselines.push_back(baseline_input(arch, cx.input, *opt.baseline, opt.seed));
  else
    for (Baseline kind : {Baseline::black, Baseline::blur, Baseline::noise})
      baselines.push_back(baseline_input(arch, cx.input, kind, opt.seed));
  std::mt19937_64 rng(opt.seed);
  std::vector<double> sum(n, 0.0);
  std::vector<float> point(n), grad;
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < opt.gradient_shap_samples; ++s) {
    const std::vector<float>& b = baselines[size_t(rng() % baselines.size())];
    const float alpha = float(double(rng() >> 11) * (1.0 / 9007199254740992.0));
    for (size_t i = 0; i < n; ++i) point[i] = b[i] + alpha * (cx.input[i] - b[i]);
    input_gradient_at(net, point.data(), cx.target, opt.score, ReluBackward::standard, grad);
    for (size_t i = 0; i < n; ++i) sum[i] += double(grad[i]) * double(cx.input[i] - b[i]);
  }
  net.forward(cx.input);
  cx.backward_ms = ms_since(t0);
  cx.attribution.resize(n);
  for (size_t i = 0; i < n; ++i) cx.attribution[i] = float(sum[i] / opt.gradient_shap_samples);
  return attribution_map(cx.attribution, arch.height, arch.width, arch.channels);
}

}  // namespace gradcam
