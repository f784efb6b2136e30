// Colormaps, normalisation, bilinear upsampling and overlays (engine/src/render/colormap.cpp, map.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gradcam/colormap.h"

using namespace gradcam;

namespace {

using C3 = std::array<int, 3>;

C3 rgb(Colormap m, float t) {
  const auto c = colormap_rgb(m, t);
  return {c[0], c[1], c[2]};
}

bool near(C3 a, C3 b, int tol) {
  return std::abs(a[0] - b[0]) <= tol && std::abs(a[1] - b[1]) <= tol && std::abs(a[2] - b[2]) <= tol;
}

std::string str(C3 c) {
  std::ostringstream o;
  o << '(' << c[0] << ',' << c[1] << ',' << c[2] << ')';
  return o.str();
}

const Colormap kAll[] = {Colormap::turbo, Colormap::jet, Colormap::viridis, Colormap::inferno};

Image solid_pattern(int w, int h) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgba.resize(size_t(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &img.rgba[(size_t(y) * w + x) * 4];
      p[0] = uint8_t(x * 7 + y);
      p[1] = uint8_t(200 - x);
      p[2] = uint8_t(y * 3 + 1);
      p[3] = 255;
    }
  return img;
}

C3 pixel(const Image& img, int x, int y) {
  const uint8_t* p = &img.rgba[(size_t(y) * img.width + x) * 4];
  return {p[0], p[1], p[2]};
}

// Independent bilinear reference: the four neighbours' weights written out per output pixel.
float bilinear_reference(const std::vector<float>& src, int sh, int sw, int dh, int dw, int y, int x) {
  double sy = (y + 0.5) * sh / dh - 0.5, sx = (x + 0.5) * sw / dw - 0.5;
  sy = std::min(std::max(sy, 0.0), double(sh - 1));
  sx = std::min(std::max(sx, 0.0), double(sw - 1));
  const int y0 = int(std::floor(sy)), x0 = int(std::floor(sx));
  const int y1 = std::min(y0 + 1, sh - 1), x1 = std::min(x0 + 1, sw - 1);
  const double wy = sy - y0, wx = sx - x0;
  auto at = [&](int yy, int xx) { return double(src[size_t(yy) * sw + xx]); };
  return float((1 - wy) * (1 - wx) * at(y0, x0) + (1 - wy) * wx * at(y0, x1) +
               wy * (1 - wx) * at(y1, x0) + wy * wx * at(y1, x1));
}

}  // namespace

TEST_CASE("colormap names") {
  for (Colormap m : kAll) {
    auto p = parse_colormap(colormap_name(m));
    REQUIRE(p.ok());
    CHECK(*p == m);
  }
  CHECK(std::string(colormap_name(Colormap::viridis)) == "viridis");
  auto bad = parse_colormap("rainbow");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("rainbow") != std::string::npos);
  CHECK(bad.error().find("turbo, jet, viridis, inferno") != std::string::npos);
}

TEST_CASE("jet is MATLAB's jet, in RGB order") {
  CHECK(rgb(Colormap::jet, 0.0f) == C3{0, 0, 128});      // dark blue
  CHECK(rgb(Colormap::jet, 0.125f) == C3{0, 0, 255});    // blue
  CHECK(rgb(Colormap::jet, 0.25f) == C3{0, 128, 255});
  CHECK(rgb(Colormap::jet, 0.375f) == C3{0, 255, 255});  // cyan
  CHECK(rgb(Colormap::jet, 0.5f) == C3{128, 255, 128});
  CHECK(rgb(Colormap::jet, 0.625f) == C3{255, 255, 0});  // yellow
  CHECK(rgb(Colormap::jet, 0.75f) == C3{255, 128, 0});
  CHECK(rgb(Colormap::jet, 0.875f) == C3{255, 0, 0});    // red
  CHECK(rgb(Colormap::jet, 1.0f) == C3{128, 0, 0});      // dark red
}

TEST_CASE("turbo, viridis and inferno match the published maps within a few levels") {
  struct Ref {
    Colormap map;
    float t;
    C3 want;
  };
  const Ref refs[] = {
      {Colormap::viridis, 0.0f, {68, 1, 84}},    {Colormap::viridis, 0.25f, {59, 82, 139}},
      {Colormap::viridis, 0.5f, {33, 145, 140}}, {Colormap::viridis, 0.75f, {94, 201, 98}},
      {Colormap::viridis, 1.0f, {253, 231, 37}}, {Colormap::inferno, 0.0f, {0, 0, 4}},
      {Colormap::inferno, 0.5f, {188, 55, 84}},  {Colormap::inferno, 1.0f, {252, 255, 164}},
      {Colormap::turbo, 0.0f, {48, 18, 59}},     {Colormap::turbo, 0.5f, {164, 252, 60}},
      {Colormap::turbo, 1.0f, {122, 4, 3}},
  };
  for (const Ref& r : refs) {
    const C3 got = rgb(r.map, r.t);
    CHECK_MESSAGE(near(got, r.want, r.t == 0.25f || r.t == 0.75f ? 8 : 3),
                  colormap_name(r.map) << "(" << r.t << ") = " << str(got) << ", want "
                                       << str(r.want));
  }
}

TEST_CASE("channel order: high values are warm, low values cool (RGB, not BGR)") {
  for (Colormap m : {Colormap::jet, Colormap::turbo}) {
    const C3 hi = rgb(m, 1.0f), lo = rgb(m, 0.0f);
    CHECK_MESSAGE(hi[0] > hi[2], colormap_name(m) << "(1) = " << str(hi));
    CHECK_MESSAGE(lo[2] > lo[0], colormap_name(m) << "(0) = " << str(lo));
    const C3 hot = rgb(m, 0.9f);
    CHECK(hot[0] > 150);
    CHECK(hot[2] < 60);
  }
  for (Colormap m : {Colormap::viridis, Colormap::inferno}) {
    const C3 hi = rgb(m, 1.0f), lo = rgb(m, 0.0f);
    CHECK(hi[0] > hi[2]);  // yellow end
    CHECK(hi[1] > hi[2]);
    CHECK(lo[2] > lo[0] - 5);  // dark purple/black end
    CHECK(lo[2] >= lo[1]);
  }
}

TEST_CASE("colormap input is clamped; NaN counts as 0") {
  for (Colormap m : kAll) {
    CHECK(rgb(m, -3.0f) == rgb(m, 0.0f));
    CHECK(rgb(m, 7.0f) == rgb(m, 1.0f));
    CHECK(rgb(m, std::numeric_limits<float>::quiet_NaN()) == rgb(m, 0.0f));
    CHECK(rgb(m, std::numeric_limits<float>::infinity()) == rgb(m, 1.0f));
  }
}

TEST_CASE("colormaps are continuous; viridis and inferno brighten monotonically") {
  for (Colormap m : kAll) {
    C3 prev = rgb(m, 0.0f);
    int worst = 0;
    for (int i = 1; i <= 1000; ++i) {
      const C3 c = rgb(m, float(i) / 1000.0f);
      for (int k = 0; k < 3; ++k) worst = std::max(worst, std::abs(c[k] - prev[k]));
      prev = c;
    }
    CHECK_MESSAGE(worst <= 3, colormap_name(m) << " jumps by " << worst);
  }
  for (Colormap m : {Colormap::viridis, Colormap::inferno}) {
    double prev = -1;
    for (int i = 0; i <= 100; ++i) {
      const C3 c = rgb(m, float(i) / 100.0f);
      const double lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
      CHECK(lum >= prev - 1.0);
      prev = lum;
    }
  }
}

TEST_CASE("normalize_map") {
  const float a[] = {2, 4, 6, 3};
  CHECK(normalize_map(a, 4) == std::vector<float>{0.0f, 0.5f, 1.0f, 0.25f});
  const float flat[] = {3, 3, 3};
  CHECK(normalize_map(flat, 3) == std::vector<float>{0, 0, 0});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float odd[] = {1, nan, 3, inf, -inf};
  CHECK(normalize_map(odd, 5) == std::vector<float>{0, 0, 1, 0, 0});
  const float huge[] = {-std::numeric_limits<float>::max(), 0, std::numeric_limits<float>::max()};
  CHECK(normalize_map(huge, 3) == std::vector<float>{0.0f, 0.5f, 1.0f});
  const float all_nan[] = {nan, nan};
  CHECK(normalize_map(all_nan, 2) == std::vector<float>{0, 0});
  CHECK(normalize_map(a, 0).empty());
}

TEST_CASE("upsample_bilinear: hand-derived 2x2 -> 4x4 (half-pixel centres, clamped edges)") {
  const float src[] = {0, 1, 2, 3};
  const std::vector<float> v = upsample_bilinear(src, 2, 2, 4, 4);
  // Source x for output x: 0.5*x - 0.25 -> clamp(-0.25)=0, 0.25, 0.75, clamp(1.25)=1.
  const std::vector<float> want = {0.0f, 0.25f, 0.75f, 1.0f,   //
                                   0.5f, 0.75f, 1.25f, 1.5f,   //
                                   1.5f, 1.75f, 2.25f, 2.5f,   //
                                   2.0f, 2.25f, 2.75f, 3.0f};
  CHECK(v == want);
}

TEST_CASE("upsample_bilinear_aligned: corners on corners (PyTorch's align_corners=True), 2x2 -> 3x3 and 2x2 -> 2x4") {
  const float src[] = {0, 1, 2, 3};
  CHECK(upsample_bilinear_aligned(src, 2, 2, 3, 3) == std::vector<float>{0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3});
  // Source x for output x: x * (2 - 1) / (4 - 1) = 0, 1/3, 2/3, 1.
  const std::vector<float> v = upsample_bilinear_aligned(src, 2, 2, 2, 4);
  CHECK(v[1] == doctest::Approx(1.0 / 3));
  CHECK(v[6] == doctest::Approx(2 + 2.0 / 3));
  CHECK(v[3] == 1.f);
}

TEST_CASE("upsample_bilinear agrees with an independent four-neighbour formula") {
  std::vector<float> src(3 * 5);
  for (size_t i = 0; i < src.size(); ++i) src[i] = float((i * 37) % 11) - 4.0f;
  for (auto [dh, dw] : {std::pair{7, 11}, std::pair{3, 5}, std::pair{2, 3}, std::pair{224, 224}}) {
    const std::vector<float> v = upsample_bilinear(src.data(), 3, 5, dh, dw);
    REQUIRE(v.size() == size_t(dh) * dw);
    for (int y = 0; y < dh; ++y)
      for (int x = 0; x < dw; ++x)
        REQUIRE(v[size_t(y) * dw + x] ==
                doctest::Approx(bilinear_reference(src, 3, 5, dh, dw, y, x)).epsilon(1e-5));
  }
  // The same size is an exact copy; a 1x1 source is a constant.
  CHECK(upsample_bilinear(src.data(), 3, 5, 3, 5) == src);
  const float one[] = {0.375f};
  for (float f : upsample_bilinear(one, 1, 1, 9, 4)) CHECK(f == 0.375f);
  // Halving with half-pixel centres samples between pixel pairs: their mean.
  const float row[] = {0, 2, 4, 8};
  CHECK(upsample_bilinear(row, 1, 4, 1, 2) == std::vector<float>{1.0f, 6.0f});
}

TEST_CASE("heatmap normalises then upsamples to width x height") {
  const float raw[] = {0, 10};  // 1 row, 2 columns
  const std::vector<float> h = heatmap(raw, 1, 2, /*width=*/4, /*height=*/2);
  CHECK(h == std::vector<float>{0.0f, 0.25f, 0.75f, 1.0f, 0.0f, 0.25f, 0.75f, 1.0f});
}

TEST_CASE("colorize") {
  const std::vector<float> n = {0.0f, 0.5f, 1.0f, 0.25f, 0.75f, 0.125f};
  const Image img = colorize(n, 3, 2, Colormap::turbo);
  REQUIRE(img.width == 3);
  REQUIRE(img.height == 2);
  REQUIRE(img.rgba.size() == 24u);
  for (int i = 0; i < 6; ++i) {
    CHECK(pixel(img, i % 3, i / 3) == rgb(Colormap::turbo, n[size_t(i)]));
    CHECK(img.rgba[size_t(i) * 4 + 3] == 255);
  }
}

TEST_CASE("overlay blends per channel") {
  const Image img = solid_pattern(6, 4);
  std::vector<float> heat(24);
  for (size_t i = 0; i < heat.size(); ++i) heat[i] = float(i) / 23.0f;
  CHECK(overlay(img, heat, Colormap::jet, 0.0f).rgba == img.rgba);
  CHECK(overlay(img, heat, Colormap::jet, -2.0f).rgba == img.rgba);  // clamped to 0
  const Image full = overlay(img, heat, Colormap::jet, 1.0f);
  CHECK(full.rgba == colorize(heat, 6, 4, Colormap::jet).rgba);
  CHECK(overlay(img, heat, Colormap::jet, 5.0f).rgba == full.rgba);  // clamped to 1
  const Image half = overlay(img, heat, Colormap::viridis, 0.5f);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x) {
      const C3 a = pixel(img, x, y), c = rgb(Colormap::viridis, heat[size_t(y) * 6 + x]);
      const C3 got = pixel(half, x, y);
      for (int k = 0; k < 3; ++k) CHECK(got[k] == (a[k] + c[k] + 1) / 2);  // halves round up
    }
  // A hand-checked value: 0.3*100 + 0.7*jet(1).R = 30 + 89.6 -> 120.
  Image one;
  one.width = one.height = 1;
  one.rgba = {100, 100, 100, 255};
  CHECK(pixel(overlay(one, {1.0f}, Colormap::jet, 0.7f), 0, 0) == C3{120, 30, 30});
}

TEST_CASE("overlay with a heat of the wrong size resizes it rather than reading out of bounds") {
  const Image img = solid_pattern(4, 4);
  const std::vector<float> small = {0.0f, 1.0f, 0.5f, 0.25f};  // 2x2
  const Image got = overlay(img, small, Colormap::inferno, 1.0f);
  const Image want = colorize(upsample_bilinear(small.data(), 2, 2, 4, 4), 4, 4, Colormap::inferno);
  CHECK(got.rgba == want.rgba);
  // On a 8x2 image, 4 values are taken as 1x4 (the shape closest to the image's aspect).
  const Image wide = solid_pattern(8, 2);
  const Image w = overlay(wide, small, Colormap::inferno, 1.0f);
  CHECK(w.rgba == colorize(upsample_bilinear(small.data(), 1, 4, 2, 8), 8, 2, Colormap::inferno).rgba);
  // An empty heat counts as all zeros.
  const Image e = overlay(img, {}, Colormap::jet, 1.0f);
  CHECK(pixel(e, 2, 2) == rgb(Colormap::jet, 0.0f));
}

TEST_CASE("overlay_on_source: squash equals overlay with the upsampled heat map") {
  const float raw[] = {0.0f, 4.0f, 1.0f, 2.0f};  // 2x2 map over a 32x32 input
  const Image src = solid_pattern(64, 64);
  const Image got = overlay_on_source(src, raw, 2, 2, 32, 32, CropMode::squash, Colormap::jet, 0.6f);
  const Image want = overlay(src, heatmap(raw, 2, 2, 64, 64), Colormap::jet, 0.6f);
  REQUIRE(got.width == 64);
  REQUIRE(got.height == 64);
  int worst = 0;
  for (size_t i = 0; i < got.rgba.size(); ++i) worst = std::max(worst, std::abs(got.rgba[i] - want.rgba[i]));
  CHECK(worst <= 1);  // the same sampling; float rounding may differ by one level
  // Source at the input's own size with a full-resolution map: exactly the plain overlay.
  std::vector<float> full(32 * 32);
  for (size_t i = 0; i < full.size(); ++i) full[i] = float((i * 13) % 32);
  const Image s32 = solid_pattern(32, 32);
  CHECK(overlay_on_source(s32, full.data(), 32, 32, 32, 32, CropMode::squash, Colormap::turbo, 1.0f).rgba ==
        overlay(s32, normalize_map(full.data(), 32 * 32), Colormap::turbo, 1.0f).rgba);
  CHECK(overlay_on_source(src, raw, 2, 2, 32, 32, CropMode::squash, Colormap::jet, 0.0f).rgba == src.rgba);
}

TEST_CASE("overlay_on_source: center crop colours the middle and dims the cut sides") {
  const Image src = solid_pattern(64, 32);
  std::vector<float> raw(32 * 32);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = float((i * 7) % 29);
  const std::vector<float> norm = normalize_map(raw.data(), 32 * 32);
  const Image got = overlay_on_source(src, raw.data(), 32, 32, 32, 32, CropMode::center, Colormap::viridis, 1.0f);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 64; ++x) {
      const C3 s = pixel(src, x, y), g = pixel(got, x, y);
      if (x < 16 || x >= 48) {
        REQUIRE(g == C3{(s[0] + 1) / 2, (s[1] + 1) / 2, (s[2] + 1) / 2});
      } else {
        // Source pixel x maps 1:1 onto input (and raw) pixel x - 16.
        REQUIRE(g == rgb(Colormap::viridis, norm[size_t(y) * 32 + (x - 16)]));
      }
    }
}

TEST_CASE("overlay_on_source: letterbox maps the whole source into the content rows") {
  const Image src = solid_pattern(64, 32);
  std::vector<float> raw(32 * 32);
  for (int r = 0; r < 32; ++r)
    for (int c = 0; c < 32; ++c) raw[size_t(r) * 32 + c] = float(r);  // value = input row
  const Image got = overlay_on_source(src, raw.data(), 32, 32, 32, 32, CropMode::letterbox, Colormap::inferno, 1.0f);
  for (int y = 0; y < 32; ++y) {
    // Source row y lands on input row 8 + (y + 0.5) / 2; the raw sample is 0.5 above that.
    const float t = (7.75f + 0.5f * float(y)) / 31.0f;
    for (int x = 0; x < 64; ++x) {
      const C3 g = pixel(got, x, y);
      REQUIRE_MESSAGE(near(g, rgb(Colormap::inferno, t), 1), "row " << y << ": " << str(g));
    }
  }
}

TEST_CASE("overlay_on_source handles a 4000x3000 photo quickly") {
  Image src;
  src.width = 4000;
  src.height = 3000;
  src.rgba.assign(size_t(4000) * 3000 * 4, 128);
  std::vector<float> raw(7 * 7);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = float(i);
  const auto t0 = std::chrono::steady_clock::now();
  const Image got = overlay_on_source(src, raw.data(), 7, 7, 224, 224, CropMode::center, Colormap::jet, 0.5f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(got.rgba.size() == src.rgba.size());
  CHECK(secs < 5.0);
  // Centre crop of 4000x3000 into a square: columns 500..3499 are used, the rest dimmed.
  CHECK(pixel(got, 100, 1500) == C3{64, 64, 64});
  CHECK(pixel(got, 3900, 1500) == C3{64, 64, 64});
  // Top-left of the used region: the map's minimum (t = 0); bottom-right: its maximum.
  const C3 lo = rgb(Colormap::jet, 0.0f), hi = rgb(Colormap::jet, 1.0f);
  CHECK(pixel(got, 500, 0) == C3{(128 + lo[0] + 1) / 2, (128 + lo[1] + 1) / 2, (128 + lo[2] + 1) / 2});
  CHECK(pixel(got, 3499, 2999) == C3{(128 + hi[0] + 1) / 2, (128 + hi[1] + 1) / 2, (128 + hi[2] + 1) / 2});
}
