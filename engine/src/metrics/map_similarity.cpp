// How alike two maps are, for the sanity check (Adebayo et al., NeurIPS 2018, report both).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "gradcam/map.h"
#include "gradcam/metrics.h"

namespace gradcam {

namespace {

// Ranks 1..n, tied values sharing their mean rank.
std::vector<double> ranks(const std::vector<float>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean_rank = (double(i) + double(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = mean_rank;
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = double(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  // A constant map has no order: it is as unlike a varying map as a map can be, and like another constant.
  if (saa == 0 || sbb == 0) return saa == sbb ? 1.0 : 0.0;
  return sab / std::sqrt(saa * sbb);
}

}  // namespace

double spearman_correlation(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0.0;
  return pearson(ranks(a), ranks(b));
}

double map_ssim(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0.0;
  const std::vector<float> x = normalize_map(a.data(), int(a.size())), y = normalize_map(b.data(), int(b.size()));
  const double n = double(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double vx = 0, vy = 0, cxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    vx += (x[i] - mx) * (x[i] - mx) / n;
    vy += (y[i] - my) * (y[i] - my) / n;
    cxy += (x[i] - mx) * (y[i] - my) / n;
  }
  const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;  // K1, K2 of the paper, data range 1
  return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
}

}  // namespace gradcam
