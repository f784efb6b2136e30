// What the attributions at the input share: their baselines, the gradient at a point, Gauss-Legendre
// quadrature, and the reduction of a signed per-channel attribution to a heat map (attribution.h).
#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "gradcam/metrics.h"
#include "methods/attribution.h"

namespace gradcam {

std::vector<float> baseline_input(const Architecture& arch, const float* input, Baseline kind, uint64_t seed) {
  const int h = arch.height, w = arch.width, c = arch.channels;
  const size_t n = size_t(h) * w * c;
  if (kind == Baseline::zero) return std::vector<float>(n, 0.f);
  if (kind == Baseline::blur) return blurred_input(input, h, w, c);
  // A pixel value (0..255) in the model's input space: (pixel * scale - mean) / std.
  const bool normalised = arch.mean.size() == size_t(c) && arch.std.size() == size_t(c);
  auto to_input = [&](double pixel, int k) {
    const double v = pixel * arch.scale;
    return float(normalised ? (v - arch.mean[size_t(k)]) / arch.std[size_t(k)] : v);
  };
  std::vector<float> out(n);
  if (kind == Baseline::black) {
    for (size_t i = 0; i < n; ++i) out[i] = to_input(0.0, int(i % size_t(c)));
    return out;
  }
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; ++i) out[i] = to_input(255.0 * double(rng() >> 11) * (1.0 / 9007199254740992.0), int(i % size_t(c)));
  return out;
}

void input_gradient_at(Network& net, const float* x, int target, Score score, ReluBackward rule, std::vector<float>& out) {
  std::vector<float> d(size_t(net.num_classes()));
  net.forward(x);
  score_gradient(net.logits(), net.probabilities(), target, score, d.data());
  net.backward(d.data(), -1, rule);
  out.assign(net.input_grad().begin(), net.input_grad().end());
}

Quadrature gauss_legendre(int n) {
  // Nodes are the roots of the Legendre polynomial P_n, by Newton's method from Chebyshev guesses;
  // weights 2 / ((1 - x^2) P_n'(x)^2); then both mapped from [-1, 1] to [0, 1].
  auto legendre = [n](double x) {  // P_n(x) and P_n'(x), by (k+1) P_{k+1} = (2k+1) x P_k - k P_{k-1}
    double p0 = 1, p1 = x;
    for (int k = 1; k < n; ++k) {
      const double p2 = ((2 * k + 1) * x * p1 - k * p0) / (k + 1);
      p0 = p1;
      p1 = p2;
    }
    return std::pair<double, double>{p1, n * (x * p1 - p0) / (x * x - 1)};
  };
  constexpr double pi = 3.141592653589793;
  Quadrature q;
  q.alphas.resize(size_t(n));
  q.weights.resize(size_t(n));
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double x = std::cos(pi * (i + 0.75) / (n + 0.5));  // the i-th largest root, x >= 0
    for (int iter = 0; iter < 100; ++iter) {
      const auto [p, dp] = legendre(x);
      const double dx = p / dp;
      x -= dx;
      if (std::abs(dx) < 1e-15) break;
    }
    const double dp = legendre(x).second;
    const double weight = 0.5 * 2 / ((1 - x * x) * dp * dp);
    q.alphas[size_t(n - 1 - i)] = 0.5 * (1 + x);
    q.alphas[size_t(i)] = 0.5 * (1 - x);
    q.weights[size_t(n - 1 - i)] = q.weights[size_t(i)] = weight;
  }
  return q;
}

Map attribution_map(const std::vector<float>& a, int h, int w, int c) {
  Map m{h, w, std::vector<float>(size_t(h) * w, 0.f)};
  for (size_t i = 0; i < m.values.size(); ++i) {
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += a[i * size_t(c) + size_t(k)];
    m.values[i] = float(std::abs(sum));
  }
  return m;
}

int occlusion_window(const ExplainOptions& o, int height, int width) {
  return o.occlusion_window > 0 ? o.occlusion_window : std::max(1, std::min(height, width) / 8);
}

int occlusion_stride(const ExplainOptions& o, int height, int width) {
  return o.occlusion_stride > 0 ? o.occlusion_stride : std::max(1, occlusion_window(o, height, width) / 2);
}

}  // namespace gradcam
