#include "optimizer.h"

#include <algorithm>
#include <cmath>

namespace trainer {

void rmsprop_update(float* w, const float* g, float* v, int64_t n, float lr, float rho, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    v[i] = rho * v[i] + (1.f - rho) * g[i] * g[i];
    w[i] -= lr * g[i] / std::sqrt(v[i] + eps);
  }
}

void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float decay, int64_t t) {
  const float c1 = 1.f - std::pow(beta1, float(t)), c2 = 1.f - std::pow(beta2, float(t));
  for (int64_t i = 0; i < n; ++i) {
    m[i] = beta1 * m[i] + (1.f - beta1) * g[i];
    v[i] = beta2 * v[i] + (1.f - beta2) * g[i] * g[i];
    w[i] -= lr * ((m[i] / c1) / (std::sqrt(v[i] / c2) + eps) + decay * w[i]);
  }
}

float Schedule::lr(int64_t step) const {
  if (kind == ScheduleKind::constant) return peak_lr;
  if (step < warmup_steps) return peak_lr * float(step + 1) / float(warmup_steps);
  const double span = double(std::max<int64_t>(total_steps - warmup_steps, 1));
  const double progress = std::min(1.0, double(step - warmup_steps) / span);
  const double cosine = 0.5 * (1.0 + std::cos(3.14159265358979323846 * progress));
  return float(peak_lr * (final_fraction + (1.0 - final_fraction) * cosine));
}

}  // namespace trainer
