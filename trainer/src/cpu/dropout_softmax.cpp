#include <algorithm>
#include <cmath>

#include "layers.h"

namespace trainer::cpu {

void dropout_forward(float* out, const float* in, int64_t n, float rate, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] * dropout_multiplier(seed, stream, uint64_t(i), rate);
}

void dropout_backward(float* din, const float* dout, int64_t n, float rate, uint64_t seed, uint64_t stream) {
  for (int64_t i = 0; i < n; ++i) din[i] = dout[i] * dropout_multiplier(seed, stream, uint64_t(i), rate);
}

float softmax_cross_entropy(float* probs, float* dlogits, int* correct, const float* logits, const int* labels, int B,
                            int K, float smoothing) {
  double loss = 0;
  int right = 0;
  for (int b = 0; b < B; ++b) {
    const float* z = logits + int64_t(b) * K;
    float* p = probs + int64_t(b) * K;
    const int arg = int(std::max_element(z, z + K) - z);
    right += arg == labels[b];
    double sum = 0;
    for (int k = 0; k < K; ++k) sum += std::exp(double(z[k] - z[arg]));
    const double log_sum = std::log(sum);
    for (int k = 0; k < K; ++k) {
      const double log_p = double(z[k] - z[arg]) - log_sum;
      p[k] = float(std::exp(log_p));
      const double target = (k == labels[b] ? 1.0 - smoothing : 0.0) + smoothing / K;
      loss -= target * log_p;
      if (dlogits) dlogits[int64_t(b) * K + k] = float((std::exp(log_p) - target) / B);
    }
  }
  if (correct) *correct = right;
  return float(loss / B);
}

}  // namespace trainer::cpu
