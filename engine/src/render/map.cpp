// Maps as numbers: normalisation and resampling, shared by the methods (Score-CAM's masks, Guided
// Grad-CAM's upsampled map) and by rendering (colormap.cpp), so attribution needs no rendering.
#include "gradcam/map.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace gradcam {

BilinearTap bilinear_tap(double s, int sn) {
  s = std::clamp(s, 0.0, double(sn - 1));
  const int i0 = std::min(int(s), sn - 1);
  const int i1 = std::min(i0 + 1, sn - 1);
  return {i0, i1, float(s - i0)};
}

std::vector<float> normalize_map(const float* values, int count) {
  if (values == nullptr || count <= 0) return {};
  std::vector<float> out(size_t(count), 0.0f);
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < count; ++i) {
    const float v = values[i];
    if (!std::isfinite(v)) continue;  // NaN and infinities carry no position; they map to 0
    lo = std::min(lo, double(v));
    hi = std::max(hi, double(v));
  }
  const double range = hi - lo;
  if (!(range > 0.0) || !std::isfinite(range)) return out;  // constant (or nothing finite)
  for (int i = 0; i < count; ++i) {
    const float v = values[i];
    if (std::isfinite(v)) out[size_t(i)] = float(std::clamp((double(v) - lo) / range, 0.0, 1.0));
  }
  return out;
}

namespace {

// Bilinear resampling given where each output row and column samples the source (in source pixels).
template <class Coordinate>
std::vector<float> resample_bilinear(const float* src, int sh, int sw, int dh, int dw, Coordinate source_of) {
  if (dh <= 0 || dw <= 0) return {};
  std::vector<float> out(size_t(dh) * size_t(dw), 0.0f);
  if (src == nullptr || sh <= 0 || sw <= 0) return out;
  std::vector<BilinearTap> xs(static_cast<size_t>(dw));
  for (int x = 0; x < dw; ++x) xs[size_t(x)] = bilinear_tap(source_of(x, sw, dw), sw);
  for (int y = 0; y < dh; ++y) {
    const BilinearTap ty = bilinear_tap(source_of(y, sh, dh), sh);
    const float* r0 = src + size_t(ty.i0) * sw;
    const float* r1 = src + size_t(ty.i1) * sw;
    float* o = out.data() + size_t(y) * dw;
    for (int x = 0; x < dw; ++x) {
      const BilinearTap& tx = xs[size_t(x)];
      const float top = r0[tx.i0] + (r0[tx.i1] - r0[tx.i0]) * tx.f;
      const float bot = r1[tx.i0] + (r1[tx.i1] - r1[tx.i0]) * tx.f;
      o[x] = top + (bot - top) * ty.f;
    }
  }
  return out;
}

}  // namespace

std::vector<float> upsample_bilinear(const float* src, int sh, int sw, int dh, int dw) {
  return resample_bilinear(src, sh, sw, dh, dw,
                           [](int d, int sn, int dn) { return (d + 0.5) * double(sn) / double(dn) - 0.5; });
}

std::vector<float> upsample_bilinear_aligned(const float* src, int sh, int sw, int dh, int dw) {
  return resample_bilinear(src, sh, sw, dh, dw,
                           [](int d, int sn, int dn) { return dn > 1 ? d * double(sn - 1) / double(dn - 1) : 0.0; });
}

std::vector<float> heatmap(const float* raw, int raw_height, int raw_width, int width, int height) {
  if (raw == nullptr || raw_height <= 0 || raw_width <= 0)
    return upsample_bilinear(nullptr, 0, 0, height, width);
  const std::vector<float> norm = normalize_map(raw, raw_height * raw_width);
  return upsample_bilinear(norm.data(), raw_height, raw_width, height, width);
}

}  // namespace gradcam
