// The layer maps: each from one conv layer's activations A and the gradients G of the target score
// with respect to them (both h x w x c, HWC), returned after ReLU, before any normalisation. Pure
// functions (what pytorch-grad-cam calls get_cam_weights), each citing its paper's equation.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

Map empty_map(int h, int w) { return Map{h, w, std::vector<float>(size_t(h) * w, 0.f)}; }

// Spatial sum of each channel of X, or of X * Y.
std::vector<double> channel_sums(const float* X, const float* Y, int hw, int c) {
  std::vector<double> s(static_cast<size_t>(c), 0.0);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) s[size_t(k)] += double(X[size_t(i) * c + k]) * (Y ? Y[size_t(i) * c + k] : 1.f);
  return s;
}

}  // namespace

Map weighted_channel_sum(const float* A, const float* weights, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += weights[k] * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// Grad-CAM, arXiv 1610.02391 Eq. 1-2: alpha_k = mean_ij dY/dA^k_ij; L = ReLU(sum_k alpha_k A^k).
Map grad_cam(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> s = channel_sums(G, nullptr, h * w, c);
  std::vector<float> alpha(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) alpha[size_t(k)] = float(s[size_t(k)] / (h * w));
  return weighted_channel_sum(A, alpha.data(), h, w, c);
}

// Grad-CAM++, arXiv 1710.11063 Eq. 19 with the exponential score (so higher derivatives are powers
// of the first): a_ij = g^2 / (2 g^2 + sum_ab A_ab g^3), w_k = sum_ij a_ij ReLU(g_ij).
Map grad_cam_plusplus(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c), 0.f);
  for (int i = 0; i < h * w; ++i)
    for (int k = 0; k < c; ++k) {
      double g = G[size_t(i) * c + k];
      double g2 = g * g, g3 = g2 * g;
      double denom = 2 * g2 + sumA[size_t(k)] * g3;
      double a = denom != 0 ? g2 / denom : 0.0;
      wk[size_t(k)] += float(a * std::max(g, 0.0));
    }
  return weighted_channel_sum(A, wk.data(), h, w, c);
}

// XGrad-CAM, arXiv 2008.02312 Eq. 9: w_k = sum_ij (A_ij / sum_ab A_ab) dY/dA_ij.
Map xgrad_cam(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<double> sumAG = channel_sums(A, G, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) wk[size_t(k)] = float(sumAG[size_t(k)] / (sumA[size_t(k)] + 1e-7));
  return weighted_channel_sum(A, wk.data(), h, w, c);
}

// HiResCAM, arXiv 2011.08891 Eq. 4: L = ReLU(sum_k G^k (.) A^k), element-wise, no averaging.
Map hires_cam(const float* A, const float* G, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += G[size_t(i) * c + k] * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// LayerCAM, Jiang et al. 2021 Eq. 5-6: L = ReLU(sum_k ReLU(G^k) (.) A^k).
Map layer_cam(const float* A, const float* G, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += std::max(G[size_t(i) * c + k], 0.f) * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// Eigen-CAM, arXiv 2008.00299 Eq. 5: the activations (hw x c, centred per channel) projected on
// their first principal component. The component's sign is arbitrary; we choose the one that
// correlates positively with the summed activations, so the map is deterministic.
Map eigen_cam(const float* A, const float*, int h, int w, int c) {
  const int hw = h * w;
  Eigen::MatrixXd X(hw, c);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) X(i, k) = A[size_t(i) * c + k];
  Eigen::RowVectorXd mean = X.colwise().mean();
  X.rowwise() -= mean;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(X.transpose() * X);
  Eigen::VectorXd v = eig.eigenvectors().col(c - 1);  // eigenvalues ascend
  Eigen::VectorXd proj = X * v;
  Eigen::VectorXd total = X.rowwise().sum();
  if (proj.dot(total) < 0) proj = -proj;
  Map m = empty_map(h, w);
  for (int i = 0; i < hw; ++i) m.values[size_t(i)] = float(std::max(proj(i), 0.0));
  return m;
}

Map random_cam(const float*, const float*, int h, int w, int c) {
  // Seeded by the layer's shape only: the same map natively and in wasm (whose activations differ
  // in the last bits, so a seed from them would not be), and a pattern unrelated to any image.
  std::mt19937_64 rng(0x9e3779b97f4a7c15ull ^ (uint64_t(h) << 40 | uint64_t(w) << 20 | uint64_t(c)));
  Map m = empty_map(h, w);
  for (float& v : m.values) v = float(double(rng() >> 11) * (1.0 / 9007199254740992.0));
  return m;
}

}  // namespace gradcam
