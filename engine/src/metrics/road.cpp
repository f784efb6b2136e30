// ROAD: Remove And Debias (Rong et al., "A Consistent and Efficient Evaluation Strategy for
// Attribution Methods", ICML 2022). Removing pixels by setting them to a constant leaks the map's
// shape into the input (the model can see where pixels were removed); imputing them from their
// neighbours, with a little noise, does not.
#include <Eigen/Sparse>
#include <Eigen/SparseLU>
#include <cmath>
#include <random>

#include "gradcam/metrics.h"

namespace gradcam {

std::vector<float> noisy_linear_imputation(const float* input, int h, int w, int c, const std::vector<uint8_t>& removed,
                                           float noise, uint64_t seed) {
  const size_t n = size_t(h) * w;
  std::vector<float> out(input, input + n * c);
  std::vector<int> unknown_index(n, -1);
  int unknowns = 0;
  for (size_t p = 0; p < n; ++p)
    if (removed[p]) unknown_index[p] = unknowns++;
  if (unknowns == 0) return out;

  // Eq. 3: x_p = sum_q w_pq x_q over the 8-neighbourhood, weights 1/6 (axes) and 1/12 (diagonals),
  // renormalised over the neighbours inside the image. Unknown neighbours stay on the left.
  std::vector<Eigen::Triplet<double>> entries;
  Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(unknowns, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int row = unknown_index[size_t(y) * w + x];
      if (row < 0) continue;
      double total = 0;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if ((dy || dx) && y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w) total += dy && dx ? 1.0 / 12 : 1.0 / 6;
      entries.emplace_back(row, row, 1.0);
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int ny = y + dy, nx = x + dx;
          if ((!dy && !dx) || ny < 0 || ny >= h || nx < 0 || nx >= w) continue;
          const double weight = (dy && dx ? 1.0 / 12 : 1.0 / 6) / total;
          const size_t q = size_t(ny) * w + nx;
          if (unknown_index[q] >= 0) {
            entries.emplace_back(row, unknown_index[q], -weight);
          } else {
            for (int k = 0; k < c; ++k) rhs(row, k) += weight * input[q * c + k];
          }
        }
    }
  Eigen::SparseMatrix<double> A(unknowns, unknowns);
  A.setFromTriplets(entries.begin(), entries.end());
  Eigen::SparseLU<Eigen::SparseMatrix<double>> lu;
  lu.compute(A);
  // A removed region with no known pixel around it has no defined fill: it keeps black.
  Eigen::MatrixXd solved = lu.info() == Eigen::Success ? Eigen::MatrixXd(lu.solve(rhs)) : Eigen::MatrixXd::Zero(unknowns, c);

  float lo = out[0], hi = out[0];
  for (float v : out) lo = std::min(lo, v), hi = std::max(hi, v);
  const double sigma = double(noise) * double(hi - lo);
  std::mt19937_64 rng(seed);  // Box-Muller on mt19937_64: the same noise natively and in wasm
  auto gaussian = [&rng] {
    double u1 = (double(rng() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = double(rng() >> 11) * (1.0 / 9007199254740992.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  };
  for (size_t p = 0; p < n; ++p) {
    const int row = unknown_index[p];
    if (row < 0) continue;
    for (int k = 0; k < c; ++k) out[p * c + k] = float(solved(row, k) + sigma * gaussian());
  }
  return out;
}

RoadResult road(Network& net, const float* input, const Map& map, int target, uint64_t seed) {
  const Architecture& arch = net.arch();
  const std::vector<int> order = relevance_order(map, arch.height, arch.width);
  const size_t n = order.size();
  RoadResult r;
  for (int percent = 10; percent <= 90; percent += 10) {
    const size_t k = (n * size_t(percent) + 50) / 100;
    std::vector<uint8_t> most(n, 0), least(n, 0);
    for (size_t i = 0; i < k; ++i) {
      most[size_t(order[i])] = 1;
      least[size_t(order[n - 1 - i])] = 1;
    }
    r.fractions.push_back(float(percent) / 100.f);
    for (auto [removed, curve] : {std::pair{&most, &r.morf}, std::pair{&least, &r.lerf}}) {
      // ROAD's noise: sigma 0.01 of the range (their NoisyLinearImputer's default).
      std::vector<float> x = noisy_linear_imputation(input, arch.height, arch.width, arch.channels, *removed, 0.01f,
                                                     seed + uint64_t(percent));
      net.forward(x.data());
      curve->push_back(net.probabilities()[size_t(target)]);
    }
  }
  for (size_t i = 0; i < r.fractions.size(); ++i) {
    r.morf_mean += r.morf[i] / double(r.fractions.size());
    r.lerf_mean += r.lerf[i] / double(r.fractions.size());
  }
  net.forward(input);
  return r;
}

}  // namespace gradcam
