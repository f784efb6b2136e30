// Two gradient-free layer maps that pytorch-grad-cam added after Eigen-CAM: KPCA-CAM (Eigen-CAM
// with a kernel) and FEM (channels weighted by how often they fire far above their mean).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "gradcam/methods.h"

namespace gradcam {

// KPCA-CAM, Karmani et al. 2024, arXiv 2410.00267, as pytorch-grad-cam's KPCA_CAM computes it
// (utils/svd_on_activations.py get_2d_projection_kernel): the positions' activation vectors x_i
// (centred per channel) go through sklearn's KernelPCA(n_components=1, kernel="sigmoid"), whose
// defaults are gamma = 1/c and coef0 = 1: K_ij = tanh(<x_i, x_j>/c + 1). sklearn centres K
// (K - row means - column means + grand mean), takes the eigenvector v of its largest eigenvalue
// lambda, flips v so that its entry of largest magnitude is positive (svd_flip), and projects the
// training points as v * sqrt(lambda). The map is that projection after ReLU.
Map kpca_cam(const float* A, const float*, int h, int w, int c) {
  const int n = h * w;
  Map m{h, w, std::vector<float>(size_t(n), 0.f)};
  Eigen::MatrixXd X(n, c);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) X(i, k) = std::isnan(A[size_t(i) * c + k]) ? 0.0 : A[size_t(i) * c + k];
  X.rowwise() -= X.colwise().mean();
  Eigen::MatrixXd K = ((X * X.transpose()) / double(c)).array() + 1.0;
  K = K.array().tanh().matrix();
  const Eigen::VectorXd row_mean = K.rowwise().mean();  // K is symmetric: column means are the same
  const double grand_mean = row_mean.mean();
  K.colwise() -= row_mean;
  K.rowwise() -= row_mean.transpose();
  K.array() += grand_mean;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(K);
  if (eig.info() != Eigen::Success) return m;
  const double lambda = eig.eigenvalues()(n - 1);  // ascending
  // sklearn zeroes non-positive eigenvalues (_check_psd_eigenvalues): nothing to project on.
  if (!(lambda > 0)) return m;
  Eigen::VectorXd v = eig.eigenvectors().col(n - 1);
  Eigen::Index largest = 0;
  v.cwiseAbs().maxCoeff(&largest);  // the first of equal magnitudes, as numpy's argmax
  if (v(largest) < 0) v = -v;
  v *= std::sqrt(lambda);
  for (int i = 0; i < n; ++i) m.values[size_t(i)] = float(std::max(v(i), 0.0));
  return m;
}

// FEM, Fuad et al. 2020 (IPTA, hal-02963298), as pytorch-grad-cam's FEM with its default k = 2:
// a channel's weight is the share of its positions where A^k > mean(A^k) + k * std(A^k) (the
// population std, as numpy's), and the map is ReLU(sum_k w_k A^k).
Map fem_cam(const float* A, const float*, int h, int w, int c) {
  constexpr double k_sigma = 2.0;
  const int n = h * w;
  std::vector<double> mean(static_cast<size_t>(c), 0.0), var(static_cast<size_t>(c), 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) mean[size_t(k)] += A[size_t(i) * c + k];
  for (double& v : mean) v /= n;
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) {
      const double d = A[size_t(i) * c + k] - mean[size_t(k)];
      var[size_t(k)] += d * d;
    }
  std::vector<float> weights(static_cast<size_t>(c), 0.f);
  for (int k = 0; k < c; ++k) {
    const double threshold = mean[size_t(k)] + k_sigma * std::sqrt(var[size_t(k)] / n);
    int above = 0;
    for (int i = 0; i < n; ++i) above += A[size_t(i) * c + k] > threshold;
    weights[size_t(k)] = float(double(above) / n);
  }
  return weighted_channel_sum(A, weights.data(), h, w, c);
}

}  // namespace gradcam
