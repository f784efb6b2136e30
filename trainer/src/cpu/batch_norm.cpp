#include <cmath>
#include <vector>

#include "layers.h"

namespace trainer::cpu {

void batch_norm_forward_train(float* out, float* save_mean, float* save_invstd, const float* in, const float* gamma,
                              const float* beta, float* moving_mean, float* moving_var, int64_t N, int C, float eps,
                              float momentum) {
  std::vector<double> sum(size_t(C), 0.0), sq(size_t(C), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) sum[size_t(c)] += in[n * C + c];
  for (int c = 0; c < C; ++c) save_mean[c] = float(sum[size_t(c)] / double(N));
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const double d = in[n * C + c] - save_mean[c];
      sq[size_t(c)] += d * d;
    }
  for (int c = 0; c < C; ++c) {
    const float var = float(sq[size_t(c)] / double(N));
    save_invstd[c] = 1.f / std::sqrt(var + eps);
    moving_mean[c] = momentum * moving_mean[c] + (1.f - momentum) * save_mean[c];
    moving_var[c] = momentum * moving_var[c] + (1.f - momentum) * var;
  }
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      out[n * C + c] = (in[n * C + c] - save_mean[c]) * save_invstd[c] * gamma[c] + beta[c];
}

void batch_norm_forward_infer(float* out, const float* in, const float* gamma, const float* beta,
                              const float* moving_mean, const float* moving_var, int64_t N, int C, float eps) {
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c)
      out[n * C + c] = (in[n * C + c] - moving_mean[c]) / std::sqrt(moving_var[c] + eps) * gamma[c] + beta[c];
}

void batch_norm_backward(float* din, float* dgamma, float* dbeta, const float* dout, const float* in,
                         const float* save_mean, const float* save_invstd, const float* gamma, int64_t N, int C) {
  // With xhat = (x - mean) * invstd:  dx = gamma*invstd/N * (N*dy - sum(dy) - xhat*sum(dy*xhat)).
  std::vector<double> sdy(size_t(C), 0.0), sdyx(size_t(C), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const float dy = dout[n * C + c];
      sdy[size_t(c)] += dy;
      sdyx[size_t(c)] += dy * (in[n * C + c] - save_mean[c]) * save_invstd[c];
    }
  for (int c = 0; c < C; ++c) {
    dgamma[c] += float(sdyx[size_t(c)]);
    dbeta[c] += float(sdy[size_t(c)]);
  }
  if (!din) return;
  for (int64_t n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const float xhat = (in[n * C + c] - save_mean[c]) * save_invstd[c];
      din[n * C + c] = gamma[c] * save_invstd[c] / float(N) *
                       (float(N) * dout[n * C + c] - float(sdy[size_t(c)]) - xhat * float(sdyx[size_t(c)]));
    }
}

}  // namespace trainer::cpu
