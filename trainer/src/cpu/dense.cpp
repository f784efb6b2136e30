#include <Eigen/Core>

#include "layers.h"

namespace trainer::cpu {

namespace {
using MatR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<MatR>;
using CMap = Eigen::Map<const MatR>;
}  // namespace

void dense_forward(float* out, const float* in, const float* kernel, const float* bias, int B, int n_in, int n_out,
                   bool relu) {
  Map Y(out, B, n_out);
  Y.noalias() = CMap(in, B, n_in) * CMap(kernel, n_in, n_out);
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < n_out; ++o) {
      const float v = Y(b, o) + bias[o];
      Y(b, o) = relu && v < 0.f ? 0.f : v;
    }
}

void dense_backward(float* din, float* dkernel, float* dbias, const float* dout, const float* in, const float* kernel,
                    int B, int n_in, int n_out) {
  CMap dY(dout, B, n_out);
  Map(dkernel, n_in, n_out).noalias() += CMap(in, B, n_in).transpose() * dY;
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < n_out; ++o) dbias[o] += dY(b, o);
  if (din) Map(din, B, n_in).noalias() = dY * CMap(kernel, n_in, n_out).transpose();
}

void relu_backward(float* dout, const float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (out[i] <= 0.f) dout[i] = 0.f;
}

}  // namespace trainer::cpu
