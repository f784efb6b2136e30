// Finer-CAM, Zhang et al. 2025, arXiv 2501.11309, as pytorch-grad-cam's FinerCAM computes it by
// default (finer_cam.py with GradCAM as the base method, utils/model_targets.py
// FinerWeightedTarget): Grad-CAM of a score that compares the target's logit y_t with those of
// the classes whose logits are nearest to it, so that features the similar classes share cancel.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

constexpr int kComparedClasses = 3;  // finer_cam.py: comparison_categories = [1, 2, 3]
constexpr double kAlpha = 1.0;       // finer_cam.py: alpha = 1

}  // namespace

// The score S = sum_j p_j (y_t - alpha y_j) / (sum_j p_j + 1e-9) over the compared classes j, with
// p = softmax(y) (the weights p_j are differentiated too, as autograd does there), and
// dS/dy_m = (dN/dy_m D - N dD/dy_m) / D^2 with dp_j/dy_m = p_j (delta_jm - p_m). The classes are
// the kComparedClasses nearest to the target by |y_j - y_t| (finer_cam.py sorts all classes by it
// and skips the first, the target itself). pytorch-grad-cam differentiates logits: `--score` does
// not apply.
Map finer_cam(MethodContext& cx) {
  Network& net = cx.net;
  const std::vector<float>& y = net.logits();
  const int n = int(y.size()), t = cx.target;
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  order.erase(order.begin() + t);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return std::abs(y[size_t(a)] - y[size_t(t)]) < std::abs(y[size_t(b)] - y[size_t(t)]); });
  order.resize(size_t(std::min(kComparedClasses, n - 1)));

  const double ymax = *std::max_element(y.begin(), y.end());
  std::vector<double> p(static_cast<size_t>(n));
  double z = 0;
  for (int m = 0; m < n; ++m) z += p[size_t(m)] = std::exp(double(y[size_t(m)]) - ymax);
  for (double& v : p) v /= z;
  double N = 0, D = 1e-9;
  for (int j : order) N += p[size_t(j)] * (y[size_t(t)] - kAlpha * y[size_t(j)]), D += p[size_t(j)];
  std::vector<float> dscore(static_cast<size_t>(n));
  for (int m = 0; m < n; ++m) {
    double dN = 0, dD = 0;
    for (int j : order) {
      const double dp = p[size_t(j)] * ((j == m ? 1.0 : 0.0) - p[size_t(m)]);
      dN += dp * (y[size_t(t)] - kAlpha * y[size_t(j)]) + p[size_t(j)] * ((m == t ? 1.0 : 0.0) - (m == j ? kAlpha : 0.0));
      dD += dp;
    }
    dscore[size_t(m)] = float((dN * D - N * dD) / (D * D));
  }
  auto t0 = std::chrono::steady_clock::now();
  net.backward(dscore.data(), cx.layer);
  cx.backward_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const Shape& s = net.output_shape(cx.layer);
  return grad_cam(net.output(cx.layer).data(), net.output_grad(cx.layer).data(), s.h, s.w, s.c, cx.options.eigen_smooth);
}

}  // namespace gradcam
