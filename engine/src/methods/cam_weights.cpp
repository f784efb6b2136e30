// The layer maps: each from one conv layer's activations A and the gradients G of the target score
// with respect to them (both h x w x c, HWC), returned after ReLU, before any normalisation. Pure
// functions (what pytorch-grad-cam calls get_cam_weights / get_cam_image), each citing its paper's
// equation. The default of each is pytorch-grad-cam's exact computation (its master, read from its
// source); where the paper's form differs, the paper's is its own function and row.
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

// f(G, A) element-wise, as the hw x c "weighted activations" that are summed or projected.
template <class F>
std::vector<float> elementwise(const float* A, const float* G, int hw, int c, F f) {
  std::vector<float> out(size_t(hw) * c);
  for (size_t i = 0; i < out.size(); ++i) out[i] = f(A[i], G ? G[i] : 0.f);
  return out;
}

Map relu_map(const std::vector<double>& v, int h, int w) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) m.values[size_t(i)] = float(std::max(v[size_t(i)], 0.0));
  return m;
}

// splitmix64 (Steele, Lea & Flood 2014): a generator simple enough that a reference in another
// language (tools/reference_cams.py) draws the very same numbers.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<double> first_component_projection(const float* X, int h, int w, int c) {
  const int hw = h * w;
  Eigen::MatrixXd M(hw, c);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) {
      const float v = X[size_t(i) * c + k];
      M(i, k) = std::isnan(v) ? 0.0 : v;  // as get_2d_projection: NaN reads as 0
    }
  M.rowwise() -= M.colwise().mean();
  // The first right singular vector of M is the top eigenvector of M^T M (eigenvalues ascend).
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(M.transpose() * M);
  Eigen::VectorXd proj = M * eig.eigenvectors().col(c - 1);
  // SVD leaves the sign free (numpy's comes out of LAPACK's arithmetic, not a rule); ours makes the
  // projection correlate positively with the centred channel sum, so it is the same in every build.
  if (proj.dot(M.rowwise().sum()) < 0) proj = -proj;
  return std::vector<double>(proj.data(), proj.data() + hw);
}

Map combine_channels(const float* weighted, int h, int w, int c, bool eigen_smooth) {
  if (eigen_smooth) return relu_map(first_component_projection(weighted, h, w, c), h, w);
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += weighted[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

Map weighted_channel_sum(const float* A, const float* weights, int h, int w, int c, bool eigen_smooth) {
  if (eigen_smooth) {
    std::vector<float> wa(size_t(h) * w * c);
    for (size_t i = 0; i < wa.size(); ++i) wa[i] = weights[i % size_t(c)] * A[i];
    return combine_channels(wa.data(), h, w, c, true);
  }
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += weights[k] * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// Grad-CAM, arXiv 1610.02391 Eq. 1-2: alpha_k = mean_ij dY/dA^k_ij; L = ReLU(sum_k alpha_k A^k).
Map grad_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  std::vector<double> s = channel_sums(G, nullptr, h * w, c);
  std::vector<float> alpha(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) alpha[size_t(k)] = float(s[size_t(k)] / (h * w));
  return weighted_channel_sum(A, alpha.data(), h, w, c, eigen_smooth);
}

namespace {

// Grad-CAM++'s weights, arXiv 1710.11063 Eq. 19 with the exponential score (so higher derivatives
// are powers of the first): a_ij = g^2 / (2 g^2 + sum_ab A_ab g^3 + eps), w_k = sum_ij a_ij ReLU(g_ij).
std::vector<float> grad_cam_plusplus_weights(const float* A, const float* G, int h, int w, int c, double eps) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c), 0.f);
  for (int i = 0; i < h * w; ++i)
    for (int k = 0; k < c; ++k) {
      double g = G[size_t(i) * c + k];
      if (g <= 0) continue;  // ReLU(g) = 0; and a_ij is 0 where g = 0 in both forms
      double g2 = g * g, g3 = g2 * g;
      double denom = 2 * g2 + sumA[size_t(k)] * g3 + eps;
      if (denom != 0) wk[size_t(k)] += float(g2 / denom * g);
    }
  return wk;
}

}  // namespace

// pytorch-grad-cam's GradCAMPlusPlus adds eps = 1e-6 to the denominator: with gradients near 1e-3
// (g^2 near 1e-6) that is not negligible, so its maps differ from the paper's by a few percent.
Map grad_cam_plusplus(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  std::vector<float> wk = grad_cam_plusplus_weights(A, G, h, w, c, 1e-6);
  return weighted_channel_sum(A, wk.data(), h, w, c, eigen_smooth);
}

// The paper's Eq. 19 exactly: no eps (a_ij = 0 where the denominator vanishes).
Map grad_cam_plusplus_paper(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  std::vector<float> wk = grad_cam_plusplus_weights(A, G, h, w, c, 0.0);
  return weighted_channel_sum(A, wk.data(), h, w, c, eigen_smooth);
}

// XGrad-CAM, arXiv 2008.02312 Eq. 9: w_k = sum_ij (A_ij / sum_ab A_ab) dY/dA_ij.
Map xgrad_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<double> sumAG = channel_sums(A, G, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) wk[size_t(k)] = float(sumAG[size_t(k)] / (sumA[size_t(k)] + 1e-7));
  return weighted_channel_sum(A, wk.data(), h, w, c, eigen_smooth);
}

// HiResCAM, arXiv 2011.08891 Eq. 4: L = ReLU(sum_k G^k (.) A^k), element-wise, no averaging.
Map hires_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  auto ga = elementwise(A, G, h * w, c, [](float a, float g) { return g * a; });
  return combine_channels(ga.data(), h, w, c, eigen_smooth);
}

// pytorch-grad-cam's GradCAMElementWise: HiResCAM with a ReLU on each element first,
// L = ReLU(sum_k ReLU(G^k (.) A^k)), so negative evidence in one channel cannot cancel another's.
Map grad_cam_elementwise(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  auto ga = elementwise(A, G, h * w, c, [](float a, float g) { return std::max(g * a, 0.f); });
  return combine_channels(ga.data(), h, w, c, eigen_smooth);
}

// LayerCAM, Jiang et al. 2021 Eq. 5-6: L = ReLU(sum_k ReLU(G^k) (.) A^k).
Map layer_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth) {
  auto ga = elementwise(A, G, h * w, c, [](float a, float g) { return std::max(g, 0.f) * a; });
  return combine_channels(ga.data(), h, w, c, eigen_smooth);
}

// Eigen-CAM, arXiv 2008.00299 Eq. 5: the activations (hw x c, centred per channel) projected on
// their first principal component, then ReLU. It is already a projection: eigen_smooth changes nothing.
Map eigen_cam(const float* A, const float*, int h, int w, int c, bool) {
  return relu_map(first_component_projection(A, h, w, c), h, w);
}

// pytorch-grad-cam's EigenGradCAM: Eigen-CAM on G (.) A, so the component is the target's.
Map eigen_grad_cam(const float* A, const float* G, int h, int w, int c, bool) {
  auto ga = elementwise(A, G, h * w, c, [](float a, float g) { return g * a; });
  return relu_map(first_component_projection(ga.data(), h, w, c), h, w);
}

// Seg-Eigen-CAM, Chung & Ying 2025, Appl. Sci. 15(13) 7562, Eq. 10 and 13: the first principal
// component of |G| (.) A, its sign chosen so the larger magnitude is positive (|min| > |max| flips).
Map seg_eigen_cam(const float* A, const float* G, int h, int w, int c, bool) {
  auto ga = elementwise(A, G, h * w, c, [](float a, float g) { return std::abs(g) * a; });
  std::vector<double> proj = first_component_projection(ga.data(), h, w, c);
  const auto [lo, hi] = std::minmax_element(proj.begin(), proj.end());
  if (std::abs(*lo) > std::abs(*hi))
    for (double& v : proj) v = -v;
  return relu_map(proj, h, w);
}

std::vector<float> random_channel_weights(int h, int w, int c) {
  uint64_t state = uint64_t(h) << 40 | uint64_t(w) << 20 | uint64_t(c);
  std::vector<float> weights(static_cast<size_t>(c));
  for (float& v : weights) v = float(double(splitmix64(state) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
  return weights;
}

// pytorch-grad-cam's RandomCAM: channel weights uniform in [-1, 1] on the real activations (its
// map still shows the image). Its numpy draw is unseeded; ours is seeded by the layer's shape.
Map random_cam(const float* A, const float*, int h, int w, int c, bool eigen_smooth) {
  std::vector<float> weights = random_channel_weights(h, w, c);
  return weighted_channel_sum(A, weights.data(), h, w, c, eigen_smooth);
}

Map random_noise_map(const float*, const float*, int h, int w, int c, bool) {
  // Seeded by the layer's shape only: the same map natively and in wasm (whose activations differ
  // in the last bits, so a seed from them would not be), and a pattern unrelated to any image.
  std::mt19937_64 rng(0x9e3779b97f4a7c15ull ^ (uint64_t(h) << 40 | uint64_t(w) << 20 | uint64_t(c)));
  Map m = empty_map(h, w);
  for (float& v : m.values) v = float(double(rng() >> 11) * (1.0 / 9007199254740992.0));
  return m;
}

}  // namespace gradcam
