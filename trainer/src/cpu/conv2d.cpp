#include <Eigen/Core>
#include <algorithm>
#include <cstring>

#include "layers.h"

namespace trainer::cpu {

namespace {

using MatR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Map = Eigen::Map<MatR>;
using CMap = Eigen::Map<const MatR>;

// Images per GEMM: enough rows to keep the GEMM efficient, few enough that the column buffer
// (rows x kh*kw*ic) stays around 16 MiB.
int chunk_images(const Geometry& g, int B) {
  const int64_t per_image = int64_t(g.oh) * g.ow * g.kh * g.kw * g.ic;
  return int(std::clamp<int64_t>((int64_t(4) << 20) / std::max<int64_t>(per_image, 1), 1, B));
}

// Row (oy,ox) of one image's column matrix holds the receptive field in (ky,kx,c) order.
void im2col(float* cols, const float* in, const Geometry& g) {
  const int K = g.kh * g.kw * g.ic;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox) {
      float* row = cols + (int64_t(oy) * g.ow + ox) * K;
      for (int ky = 0; ky < g.kh; ++ky) {
        const int iy = oy * g.sh - g.pad_t + ky;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int ix = ox * g.sw - g.pad_l + kx;
          float* dst = row + (ky * g.kw + kx) * g.ic;
          if (iy < 0 || iy >= g.ih || ix < 0 || ix >= g.iw)
            std::memset(dst, 0, sizeof(float) * size_t(g.ic));
          else
            std::memcpy(dst, in + (int64_t(iy) * g.iw + ix) * g.ic, sizeof(float) * size_t(g.ic));
        }
      }
    }
}

void col2im_add(float* din, const float* cols, const Geometry& g) {
  const int K = g.kh * g.kw * g.ic;
  for (int oy = 0; oy < g.oh; ++oy)
    for (int ox = 0; ox < g.ow; ++ox) {
      const float* row = cols + (int64_t(oy) * g.ow + ox) * K;
      for (int ky = 0; ky < g.kh; ++ky) {
        const int iy = oy * g.sh - g.pad_t + ky;
        if (iy < 0 || iy >= g.ih) continue;
        for (int kx = 0; kx < g.kw; ++kx) {
          const int ix = ox * g.sw - g.pad_l + kx;
          if (ix < 0 || ix >= g.iw) continue;
          const float* src = row + (ky * g.kw + kx) * g.ic;
          float* dst = din + (int64_t(iy) * g.iw + ix) * g.ic;
          for (int c = 0; c < g.ic; ++c) dst[c] += src[c];
        }
      }
    }
}

}  // namespace

int64_t conv2d_scratch_floats(const Geometry& g, int B) {
  return int64_t(chunk_images(g, B)) * g.oh * g.ow * g.kh * g.kw * g.ic;
}

void conv2d_forward(float* out, float* cols, const float* in, const float* kernel, const float* bias, int B,
                    const Geometry& g, bool relu) {
  const int K = g.kh * g.kw * g.ic, P = g.oh * g.ow;
  const int64_t in_img = int64_t(g.ih) * g.iw * g.ic;
  const int chunk = chunk_images(g, B);
  CMap W(kernel, K, g.oc);
  for (int b0 = 0; b0 < B; b0 += chunk) {
    const int nb = std::min(chunk, B - b0);
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; ++b) im2col(cols + int64_t(b) * P * K, in + (b0 + b) * in_img, g);
    Map Y(out + int64_t(b0) * P * g.oc, int64_t(nb) * P, g.oc);
    Y.noalias() = CMap(cols, int64_t(nb) * P, K) * W;
  }
  const int64_t rows = int64_t(B) * P;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* y = out + r * g.oc;
    for (int c = 0; c < g.oc; ++c) {
      const float v = y[c] + bias[c];
      y[c] = relu && v < 0.f ? 0.f : v;
    }
  }
}

void conv2d_backward(float* din, float* dkernel, float* dbias, float* cols, const float* dout, const float* in,
                     const float* kernel, int B, const Geometry& g) {
  const int K = g.kh * g.kw * g.ic, P = g.oh * g.ow;
  const int64_t in_img = int64_t(g.ih) * g.iw * g.ic;
  const int chunk = chunk_images(g, B);
  CMap W(kernel, K, g.oc);
  Map dW(dkernel, K, g.oc);
  const int64_t rows = int64_t(B) * P;
  for (int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < g.oc; ++c) dbias[c] += dout[r * g.oc + c];
  if (din) std::fill(din, din + B * in_img, 0.f);
  for (int b0 = 0; b0 < B; b0 += chunk) {
    const int nb = std::min(chunk, B - b0);
    const int64_t n = int64_t(nb) * P;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < nb; ++b) im2col(cols + int64_t(b) * P * K, in + (b0 + b) * in_img, g);
    CMap dY(dout + int64_t(b0) * P * g.oc, n, g.oc);
    dW.noalias() += CMap(cols, n, K).transpose() * dY;
    if (din) {
      Map dC(cols, n, K);
      dC.noalias() = dY * W.transpose();
#pragma omp parallel for schedule(static)
      for (int b = 0; b < nb; ++b) col2im_add(din + (b0 + b) * in_img, cols + int64_t(b) * P * K, g);
    }
  }
}

}  // namespace trainer::cpu
