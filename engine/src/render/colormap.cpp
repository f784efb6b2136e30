// Heat-map rendering: colormaps (RGB order) and overlays, on maps normalised by map.h.
#include "gradcam/colormap.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <limits>

namespace gradcam {

namespace {

using RGB = std::array<uint8_t, 3>;

// turbo, viridis and inferno are each described by 11 colours sampled at t = 0, 0.1, ..., 1 from
// the published maps (Google's Turbo; matplotlib's viridis and inferno by van der Walt and Smith)
// and linearly interpolated between them: within a few levels of the originals, not a copy of them.
constexpr int kStops = 11;
constexpr RGB kTurbo[kStops] = {
    {48, 18, 59},   {68, 88, 203},  {62, 155, 254}, {24, 214, 203}, {70, 248, 132}, {162, 252, 60},
    {225, 221, 55}, {254, 166, 50}, {240, 91, 18},  {196, 37, 3},   {122, 4, 3},
};
constexpr RGB kViridis[kStops] = {
    {68, 1, 84},    {72, 37, 118},  {65, 68, 135},  {53, 96, 141},  {42, 120, 142}, {33, 144, 140},
    {34, 168, 132}, {67, 191, 113}, {122, 209, 81}, {187, 223, 39}, {253, 231, 37},
};
constexpr RGB kInferno[kStops] = {
    {0, 0, 4},       {22, 11, 57},   {66, 10, 104},  {106, 23, 110}, {147, 38, 103}, {188, 55, 84},
    {221, 81, 58},   {243, 120, 25}, {252, 165, 10}, {246, 215, 70}, {252, 255, 164},
};

inline uint8_t to_byte(float v) {
  return uint8_t(std::clamp(v, 0.0f, 255.0f) + 0.5f);
}

RGB interpolate(const RGB* stops, float t) {
  const float x = t * float(kStops - 1);
  int i = int(x);
  if (i >= kStops - 1) i = kStops - 2;
  const float f = x - float(i);
  const RGB& a = stops[i];
  const RGB& b = stops[i + 1];
  return {to_byte(a[0] + (float(b[0]) - a[0]) * f), to_byte(a[1] + (float(b[1]) - a[1]) * f),
          to_byte(a[2] + (float(b[2]) - a[2]) * f)};
}

// MATLAB's jet: piecewise-linear ramps, dark blue (0,0,0.5) -> blue -> cyan -> yellow -> red ->
// dark red (0.5,0,0).
RGB jet(float t) {
  auto ramp = [](float v) { return std::clamp(1.5f - std::fabs(v), 0.0f, 1.0f) * 255.0f; };
  return {to_byte(ramp(4.0f * t - 3.0f)), to_byte(ramp(4.0f * t - 2.0f)),
          to_byte(ramp(4.0f * t - 1.0f))};
}

inline uint8_t blend(uint8_t img, uint8_t col, float alpha) {
  return to_byte((1.0f - alpha) * float(img) + alpha * float(col));
}

float clamp_alpha(float alpha) {
  if (!(alpha >= 0.0f)) return 0.0f;  // also NaN
  return std::min(alpha, 1.0f);
}

// When a heat vector does not have the image's size (a broken precondition), the most plausible
// shape: the factorisation h x w of its size whose aspect is closest to the image's.
void guess_shape(size_t n, int img_w, int img_h, int* h, int* w) {
  *h = 1;
  *w = int(n);
  double best = std::numeric_limits<double>::infinity();
  const double target = std::log(double(img_w) / double(img_h));
  for (size_t a = 1; a * a <= n; ++a) {
    if (n % a) continue;
    const size_t b = n / a;
    const std::pair<size_t, size_t> cands[2] = {{a, b}, {b, a}};
    for (auto [hh, ww] : cands) {
      const double d = std::fabs(std::log(double(ww) / double(hh)) - target);
      if (d < best) {
        best = d;
        *h = int(hh);
        *w = int(ww);
      }
    }
  }
}

// The colormap table: one row per Colormap value, in its order.
struct ColormapRow {
  const char* name;
  RGB (*rgb)(float t);  // t in [0, 1]
};
constexpr std::array<ColormapRow, size_t(Colormap::count)> kColormaps = {{
    {"turbo", [](float t) { return interpolate(kTurbo, t); }},
    {"jet", jet},
    {"viridis", [](float t) { return interpolate(kViridis, t); }},
    {"inferno", [](float t) { return interpolate(kInferno, t); }},
}};
constexpr bool every_colormap_has_a_row() {
  for (const ColormapRow& r : kColormaps)
    if (!r.name || !r.rgb) return false;
  return true;
}
static_assert(every_colormap_has_a_row(), "a Colormap value without a row in kColormaps");

}  // namespace

const NameTable<Colormap>& colormap_names() {
  static constexpr NameTable<Colormap> names = names_of<Colormap>(kColormaps);
  return names;
}

Result<Colormap> parse_colormap(const std::string& name) {
  const int i = find_name(colormap_names(), name);
  if (i < 0) return make_error("unknown colormap '" + name + "'; valid: " + names_text(colormap_names()));
  return Colormap(i);
}

const char* colormap_name(Colormap map) { return kColormaps[size_t(map) < kColormaps.size() ? size_t(map) : 0].name; }

std::array<uint8_t, 3> colormap_rgb(Colormap map, float t) {
  if (!(t >= 0.0f)) t = 0.0f;  // also NaN
  if (t > 1.0f) t = 1.0f;
  return kColormaps[size_t(map) < kColormaps.size() ? size_t(map) : 0].rgb(t);
}

Image colorize(const std::vector<float>& normalized, int width, int height, Colormap map) {
  Image img;
  if (width <= 0 || height <= 0) return img;
  img.width = width;
  img.height = height;
  const size_t n = size_t(width) * size_t(height);
  img.rgba.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    // Precondition: normalized has width*height values; missing ones are taken as 0.
    const RGB c = colormap_rgb(map, i < normalized.size() ? normalized[i] : 0.0f);
    img.rgba[i * 4 + 0] = c[0];
    img.rgba[i * 4 + 1] = c[1];
    img.rgba[i * 4 + 2] = c[2];
    img.rgba[i * 4 + 3] = 255;
  }
  return img;
}

Image overlay(const Image& image, const std::vector<float>& heat, Colormap map, float alpha) {
  Image out = image;
  const size_t n = size_t(std::max(image.width, 0)) * size_t(std::max(image.height, 0));
  if (n == 0 || image.rgba.size() < n * 4) return out;
  alpha = clamp_alpha(alpha);
  // Precondition: heat has the image's size. Otherwise (a caller's bug) it is resized bilinearly
  // from its most plausible shape rather than read out of bounds; an empty heat counts as zeros.
  const std::vector<float>* h = &heat;
  std::vector<float> resized;
  if (heat.size() != n) {
    if (heat.empty()) {
      resized.assign(n, 0.0f);
    } else {
      int hh = 1, hw = 1;
      guess_shape(heat.size(), image.width, image.height, &hh, &hw);
      resized = upsample_bilinear(heat.data(), hh, hw, image.height, image.width);
    }
    h = &resized;
  }
  for (size_t i = 0; i < n; ++i) {
    const RGB c = colormap_rgb(map, (*h)[i]);
    uint8_t* p = &out.rgba[i * 4];
    p[0] = blend(p[0], c[0], alpha);
    p[1] = blend(p[1], c[1], alpha);
    p[2] = blend(p[2], c[2], alpha);
  }
  return out;
}

Image overlay_on_source(const Image& source, const float* raw, int raw_height, int raw_width,
                        int input_height, int input_width, CropMode mode, Colormap map,
                        float alpha) {
  Image out = source;
  const int W = source.width, H = source.height;
  if (W <= 0 || H <= 0 || source.rgba.size() < size_t(W) * size_t(H) * 4) return out;
  // Without a map or an input size there is nothing to place: the source comes back unchanged.
  if (raw == nullptr || raw_height <= 0 || raw_width <= 0 || input_height <= 0 || input_width <= 0)
    return out;
  alpha = clamp_alpha(alpha);
  const std::vector<float> norm = normalize_map(raw, raw_height * raw_width);
  const CropGeometry g = crop_geometry(W, H, input_width, input_height, mode);

  // Source pixel centre -> input coordinate (through the crop) -> raw-map coordinate -> taps.
  // inside = false marks pixels outside the used source region.
  struct AxisMap {
    std::vector<BilinearTap> tap;
    std::vector<char> inside;
  };
  auto build = [](int n, double s0, double s1, int d0, int d1, int input_n, int raw_n) {
    AxisMap m;
    m.tap.resize(size_t(n));
    m.inside.resize(size_t(n));
    const double span = s1 - s0;
    for (int p = 0; p < n; ++p) {
      const double c = p + 0.5;
      const bool in = span > 0 && c >= s0 && c < s1;
      m.inside[size_t(p)] = in ? 1 : 0;
      const double input = in ? d0 + (c - s0) * double(d1 - d0) / span : 0.0;
      m.tap[size_t(p)] = bilinear_tap(input * double(raw_n) / double(input_n) - 0.5, raw_n);
    }
    return m;
  };
  const AxisMap mx = build(W, g.src_x0, g.src_x1, g.dst_x0, g.dst_x1, input_width, raw_width);
  const AxisMap my = build(H, g.src_y0, g.src_y1, g.dst_y0, g.dst_y1, input_height, raw_height);

  std::vector<float> row(static_cast<size_t>(raw_width));  // the raw map interpolated vertically for one row
  for (int y = 0; y < H; ++y) {
    uint8_t* p = &out.rgba[size_t(y) * W * 4];
    const bool row_in = my.inside[size_t(y)] != 0;
    if (row_in) {
      const BilinearTap& ty = my.tap[size_t(y)];
      const float* r0 = norm.data() + size_t(ty.i0) * raw_width;
      const float* r1 = norm.data() + size_t(ty.i1) * raw_width;
      for (int x = 0; x < raw_width; ++x) row[size_t(x)] = r0[x] + (r1[x] - r0[x]) * ty.f;
    }
    for (int x = 0; x < W; ++x, p += 4) {
      if (!row_in || !mx.inside[size_t(x)]) {
        // Never seen by the model: kept, at half brightness, uncoloured.
        p[0] = uint8_t((p[0] + 1) / 2);
        p[1] = uint8_t((p[1] + 1) / 2);
        p[2] = uint8_t((p[2] + 1) / 2);
        continue;
      }
      const BilinearTap& tx = mx.tap[size_t(x)];
      const float t = row[size_t(tx.i0)] + (row[size_t(tx.i1)] - row[size_t(tx.i0)]) * tx.f;
      const RGB c = colormap_rgb(map, t);
      p[0] = blend(p[0], c[0], alpha);
      p[1] = blend(p[1], c[1], alpha);
      p[2] = blend(p[2], c[2], alpha);
    }
  }
  return out;
}

}  // namespace gradcam
