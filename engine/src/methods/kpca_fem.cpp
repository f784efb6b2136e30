// Two gradient-free layer maps that pytorch-grad-cam added after Eigen-CAM: KPCA-CAM (Eigen-CAM
// with a kernel) and FEM (channels weighted by how often they fire far above their mean).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

// The eigenpair of the largest eigenvalue of a symmetric matrix. Up to 128 rows a dense solver;
// above, the kernel matrix of a 30x30 or 56x56 layer (900 or 3136 rows) would take seconds to
// minutes that way, so Lanczos with full reorthogonalisation (Golub & Van Loan, Matrix
// Computations, Sec. 10.1), restarted from its Ritz vector until K v = lambda v to 1e-10.
void top_eigenpair(const Eigen::MatrixXd& K, double& lambda, Eigen::VectorXd& v) {
  const Eigen::Index n = K.rows();
  if (n <= 128) {
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(K);
    lambda = eig.eigenvalues()(n - 1);  // ascending
    v = eig.eigenvectors().col(n - 1);
    return;
  }
  const Eigen::Index m = std::min<Eigen::Index>(n, 96);
  // A fixed start with no structure of its own, less its mean: a centred kernel maps the constant
  // vector to zero, so the wanted eigenvector is orthogonal to it.
  Eigen::VectorXd start(n);
  for (Eigen::Index i = 0; i < n; ++i) start(i) = std::sin(1.0 + 0.7548776662466927 * double(i));
  start.array() -= start.mean();
  Eigen::MatrixXd Q(n, m);
  Eigen::VectorXd alpha(m), beta(m);
  const double breakdown = 1e-13 * K.norm();
  for (int restart = 0; restart < 50; ++restart) {
    Q.col(0) = start.normalized();
    Eigen::Index k = 0;
    while (k < m) {
      Eigen::VectorXd w = K * Q.col(k);
      alpha(k) = Q.col(k).dot(w);
      for (int pass = 0; pass < 2; ++pass) w -= Q.leftCols(k + 1) * (Q.leftCols(k + 1).transpose() * w);
      beta(k) = w.norm();
      ++k;
      if (k == m || !(beta(k - 1) > breakdown)) break;  // full, or an invariant subspace
      Q.col(k) = w / beta(k - 1);
    }
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(k, k);
    for (Eigen::Index i = 0; i < k; ++i) {
      T(i, i) = alpha(i);
      if (i + 1 < k) T(i, i + 1) = T(i + 1, i) = beta(i);
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ritz(T);
    lambda = ritz.eigenvalues()(k - 1);
    v = Q.leftCols(k) * ritz.eigenvectors().col(k - 1);
    if ((K * v - lambda * v).norm() <= 1e-10 * std::max(std::abs(lambda), 1e-300)) return;
    start = v;
  }
}

}  // namespace

// KPCA-CAM, Karmani et al. 2024, arXiv 2410.00267, as pytorch-grad-cam's KPCA_CAM computes it
// (utils/svd_on_activations.py get_2d_projection_kernel): the positions' activation vectors x_i
// (centred per channel) go through sklearn's KernelPCA(n_components=1, kernel="sigmoid"), whose
// defaults are gamma = 1/c and coef0 = 1: K_ij = tanh(<x_i, x_j>/c + 1). sklearn centres K
// (K - row means - column means + grand mean), takes the eigenvector v of its largest eigenvalue
// lambda, flips v so that its entry of largest magnitude is positive (svd_flip), and projects the
// training points as v * sqrt(lambda). The map is that projection after ReLU. (sklearn's solver
// for one component of more than 200 points is ARPACK's Lanczos; which one finds v does not
// change v.)
Map kpca_cam(const float* A, const float*, int h, int w, int c, bool) {
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
  double lambda = 0;
  Eigen::VectorXd v;
  top_eigenpair(K, lambda, v);
  // sklearn zeroes non-positive eigenvalues (_check_psd_eigenvalues): nothing to project on.
  if (!(lambda > 0) || !v.allFinite()) return m;
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
Map fem_cam(const float* A, const float*, int h, int w, int c, bool) {
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
