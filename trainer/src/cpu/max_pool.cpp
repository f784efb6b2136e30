#include <limits>

#include "layers.h"

namespace trainer::cpu {

void max_pool_forward(float* out, int32_t* argmax, const float* in, int B, const Geometry& g) {
  const int64_t in_img = int64_t(g.ih) * g.iw * g.ic, out_img = int64_t(g.oh) * g.ow * g.oc;
#pragma omp parallel for schedule(static)
  for (int b = 0; b < B; ++b) {
    const float* x = in + b * in_img;
    for (int oy = 0; oy < g.oh; ++oy)
      for (int ox = 0; ox < g.ow; ++ox)
        for (int c = 0; c < g.ic; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          int32_t at = -1;
          for (int ky = 0; ky < g.kh; ++ky) {
            const int iy = oy * g.sh - g.pad_t + ky;
            if (iy < 0 || iy >= g.ih) continue;
            for (int kx = 0; kx < g.kw; ++kx) {
              const int ix = ox * g.sw - g.pad_l + kx;
              if (ix < 0 || ix >= g.iw) continue;
              const int32_t k = int32_t((iy * g.iw + ix) * g.ic + c);
              if (at < 0 || x[k] > best) best = x[k], at = k;
            }
          }
          const int64_t o = b * out_img + (int64_t(oy) * g.ow + ox) * g.oc + c;
          out[o] = best;
          argmax[o] = at;
        }
  }
}

void max_pool_backward(float* din, const float* dout, const int32_t* argmax, int B, const Geometry& g) {
  const int64_t in_img = int64_t(g.ih) * g.iw * g.ic, out_img = int64_t(g.oh) * g.ow * g.oc;
  for (int64_t i = 0; i < B * in_img; ++i) din[i] = 0.f;
  for (int b = 0; b < B; ++b)
    for (int64_t o = 0; o < out_img; ++o) din[b * in_img + argmax[b * out_img + o]] += dout[b * out_img + o];
}

}  // namespace trainer::cpu
