// Exact area (box) resampling: every output pixel is the coverage-weighted mean of the source
// pixels under it, so a 4000x3000 photo reduced to 32x32 does not alias.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gradcam/image.h"

namespace gradcam {

namespace {

// Per-output-sample box weights along one axis: output i covers [a_i, b_i) of the source, with
// a_i = lo + i*(hi-lo)/n; each source sample k gets the length of [k,k+1) ∩ [a_i,b_i), normalised.
struct AxisWeights {
  std::vector<int> first;     // first source index per output
  std::vector<int> count;     // number of source samples per output
  std::vector<int> offset;    // into w
  std::vector<double> w;
  int max_count = 0;
};

AxisWeights axis_weights(int src_n, double lo, double hi, int n) {
  AxisWeights ax;
  ax.first.resize(n);
  ax.count.resize(n);
  ax.offset.resize(n);
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0.0;
    hi = double(src_n);
  }
  ax.w.reserve(size_t(n) * 2 + size_t(std::clamp(hi - lo, 0.0, double(src_n))) + 8);
  const double step = (hi - lo) / n;
  for (int i = 0; i < n; ++i) {
    double a = lo + step * i;
    double b = (i + 1 == n) ? hi : lo + step * (i + 1);
    a = std::clamp(a, 0.0, double(src_n));
    b = std::clamp(b, 0.0, double(src_n));
    ax.offset[i] = int(ax.w.size());
    if (!(b - a > 1e-12)) {
      // Degenerate footprint (empty region or entirely outside): the nearest source sample.
      const int k = std::clamp(int(std::floor(a)), 0, src_n - 1);
      ax.first[i] = k;
      ax.count[i] = 1;
      ax.w.push_back(1.0);
    } else {
      const int k0 = std::clamp(int(std::floor(a)), 0, src_n - 1);
      const int k1 = std::clamp(int(std::ceil(b)), k0 + 1, src_n);  // exclusive
      const double inv = 1.0 / (b - a);
      int first = -1, cnt = 0;
      for (int k = k0; k < k1; ++k) {
        const double cover = std::min(b, double(k + 1)) - std::max(a, double(k));
        if (cover <= 0.0) continue;
        if (first < 0) first = k;
        // Keep indices contiguous: a zero weight inside the run cannot happen, coverage is an interval.
        ax.w.push_back(cover * inv);
        ++cnt;
      }
      if (cnt == 0) {
        first = k0;
        cnt = 1;
        ax.w.push_back(1.0);
      }
      ax.first[i] = first;
      ax.count[i] = cnt;
    }
    ax.max_count = std::max(ax.max_count, ax.count[i]);
  }
  return ax;
}

// Separable area resampling. src has `stride` values per pixel of which the first c are used;
// writes dh*dw*c values at out (HWC) as float(weighted mean) * scale. The horizontal pass runs once
// per needed source row, cached in a ring of rows so memory stays small for any size.
template <class T>
void area_resample(const T* src, int sh, int sw, int stride, int c, double x0, double y0,
                   double x1, double y1, int dh, int dw, float scale, float* out,
                   int out_row_stride /* floats per output row */) {
  const AxisWeights ax = axis_weights(sw, x0, x1, dw);
  const AxisWeights ay = axis_weights(sh, y0, y1, dh);
  const int ring = std::max(1, ay.max_count + 1);
  const size_t row_len = size_t(dw) * c;
  std::vector<double> rows(size_t(ring) * row_len);
  std::vector<double> acc(row_len);
  std::vector<int> slot_row(size_t(ring), -1);  // which source row each ring slot holds

  auto horizontal = [&](int k) {
    double* dst = &rows[size_t(k % ring) * row_len];
    const T* srow = src + size_t(k) * sw * stride;
    for (int j = 0; j < dw; ++j) {
      double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      const int first = ax.first[j], cnt = ax.count[j];
      const double* wt = &ax.w[ax.offset[j]];
      if (c <= 8) {
        for (int t = 0; t < cnt; ++t) {
          const T* p = srow + size_t(first + t) * stride;
          for (int ch = 0; ch < c; ++ch) s[ch] += wt[t] * double(p[ch]);
        }
        for (int ch = 0; ch < c; ++ch) dst[size_t(j) * c + ch] = s[ch];
      } else {
        for (int ch = 0; ch < c; ++ch) {
          double v = 0;
          for (int t = 0; t < cnt; ++t) v += wt[t] * double(srow[size_t(first + t) * stride + ch]);
          dst[size_t(j) * c + ch] = v;
        }
      }
    }
  };

  for (int i = 0; i < dh; ++i) {
    const int first = ay.first[i], cnt = ay.count[i];
    // An output row needs cnt < ring consecutive source rows, so they never share a slot; rows
    // shared with the previous output row are reused.
    for (int k = first; k < first + cnt; ++k) {
      if (slot_row[size_t(k % ring)] != k) {
        horizontal(k);
        slot_row[size_t(k % ring)] = k;
      }
    }
    std::fill(acc.begin(), acc.end(), 0.0);
    const double* wt = &ay.w[ay.offset[i]];
    for (int t = 0; t < cnt; ++t) {
      const double* r = &rows[size_t((first + t) % ring) * row_len];
      for (size_t q = 0; q < row_len; ++q) acc[q] += wt[t] * r[q];
    }
    float* o = out + size_t(i) * out_row_stride;
    // Rounded to float before scaling, so a constant region gives exactly float(v) * scale.
    for (size_t q = 0; q < row_len; ++q) o[q] = static_cast<float>(acc[q]) * scale;
  }
}

}  // namespace

std::vector<float> image_to_input(const Image& image, int height, int width, CropMode mode,
                                  float scale) {
  if (height <= 0 || width <= 0) return {};
  std::vector<float> out(size_t(height) * size_t(width) * 3, 0.0f);
  if (image.width <= 0 || image.height <= 0 ||
      image.rgba.size() < size_t(image.width) * size_t(image.height) * 4)
    return out;
  const CropGeometry g = crop_geometry(image.width, image.height, width, height, mode);
  const int cw = g.dst_x1 - g.dst_x0, ch = g.dst_y1 - g.dst_y0;
  if (cw <= 0 || ch <= 0) return out;
  float* origin = out.data() + (size_t(g.dst_y0) * width + g.dst_x0) * 3;
  area_resample(image.rgba.data(), image.height, image.width, 4, 3, g.src_x0, g.src_y0, g.src_x1,
                g.src_y1, ch, cw, scale, origin, width * 3);
  return out;
}

std::vector<float> area_resize(const float* src, int sh, int sw, int c, double x0, double y0,
                               double x1, double y1, int dh, int dw) {
  if (dh <= 0 || dw <= 0 || c <= 0) return {};
  std::vector<float> out(size_t(dh) * size_t(dw) * size_t(c), 0.0f);
  if (src == nullptr || sh <= 0 || sw <= 0) return out;
  area_resample(src, sh, sw, c, c, x0, y0, x1, y1, dh, dw, 1.0f, out.data(), dw * c);
  return out;
}

}  // namespace gradcam
