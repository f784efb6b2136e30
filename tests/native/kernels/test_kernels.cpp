// Every fast kernel against its scalar reference, on shapes that exercise the vector tails.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/kernels.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::kernels;
using gradcam::testing::random_vector;

namespace {
float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}
struct ConvCase {
  int ih, iw, ic, oc, kh, kw, sh, sw;
  bool same;
};
int out_dim(int in, int k, int s, bool same) { return same ? (in + s - 1) / s : (in - k) / s + 1; }
}  // namespace

TEST_CASE("conv2d forward and input gradient match the scalar reference") {
  const ConvCase cases[] = {
      {8, 8, 3, 32, 3, 3, 1, 1, false}, {7, 9, 5, 17, 3, 3, 1, 1, true}, {6, 6, 16, 16, 1, 1, 1, 1, true},
      {9, 7, 4, 3, 5, 3, 2, 2, true},   {11, 10, 2, 40, 3, 3, 2, 1, false}, {5, 5, 1, 1, 3, 3, 1, 1, true},
      {15, 15, 64, 64, 3, 3, 1, 1, true}, {4, 13, 7, 12, 2, 4, 1, 3, true}};
  uint64_t seed = 1;
  for (const ConvCase& c : cases) {
    int oh = out_dim(c.ih, c.kh, c.sh, c.same), ow = out_dim(c.iw, c.kw, c.sw, c.same);
    ConvGeometry g = conv_geometry(c.ih, c.iw, c.ic, oh, ow, c.oc, c.kh, c.kw, c.sh, c.sw, c.same);
    auto in = random_vector(size_t(c.ih) * c.iw * c.ic, seed++, -1, 1);
    auto k = random_vector(size_t(c.kh) * c.kw * c.ic * c.oc, seed++, -1, 1);
    auto b = random_vector(size_t(c.oc), seed++, -1, 1);
    std::vector<float> padded(size_t(g.ph) * g.pw * g.ic), fast(size_t(oh) * ow * c.oc), ref(fast.size());
    std::vector<float> packed(k.size());
    pack_conv_kernel(g, k.data(), packed.data());
    // No activation, a ReLU, and both bounds (a Clip fused into the convolution).
    for (Clamp clamp : {Clamp{}, Clamp::relu(), Clamp{-0.25f, 0.5f}}) {
      pad_input(g, in.data(), padded.data());
      conv2d_forward(g, padded.data(), packed.data(), b.data(), clamp, fast.data());
      conv2d_forward_reference(g, in.data(), k.data(), b.data(), clamp, ref.data());
      CAPTURE(c.ih);
      CAPTURE(c.ic);
      CAPTURE(c.oc);
      CHECK(max_abs_diff(fast, ref) < 1e-4f * float(c.kh * c.kw * c.ic));
    }
    auto gout = random_vector(fast.size(), seed++, -1, 1);
    std::vector<float> kt(k.size()), gpad(padded.size()), gfast(in.size()), gref(in.size());
    transpose_kernel(g, k.data(), kt.data());
    conv2d_backward_input(g, gout.data(), kt.data(), gpad.data());
    crop_padded(g, gpad.data(), gfast.data());
    conv2d_backward_input_reference(g, gout.data(), k.data(), gref.data());
    CHECK(max_abs_diff(gfast, gref) < 1e-4f * float(c.kh * c.kw * c.oc));
  }
}

TEST_CASE("dense forward and input gradient match a direct sum") {
  for (auto [in, out] : {std::pair{16, 128}, {128, 64}, {7, 10}, {33, 5}}) {
    auto x = random_vector(size_t(in), 3, -1, 1);
    x[0] = 0;  // the zero-skip path
    auto W = random_vector(size_t(in) * out, 4, -1, 1);
    auto b = random_vector(size_t(out), 5, -1, 1);
    std::vector<float> y(static_cast<size_t>(out));
    dense_forward(in, out, x.data(), W.data(), b.data(), false, y.data());
    for (int o = 0; o < out; ++o) {
      double s = b[size_t(o)];
      for (int i = 0; i < in; ++i) s += double(x[size_t(i)]) * W[size_t(i) * out + o];
      CHECK(y[size_t(o)] == doctest::Approx(s).epsilon(1e-5));
    }
    auto gy = random_vector(size_t(out), 6, -1, 1);
    std::vector<float> gx(static_cast<size_t>(in));
    dense_backward_input(in, out, gy.data(), W.data(), gx.data());
    for (int i = 0; i < in; ++i) {
      double s = 0;
      for (int o = 0; o < out; ++o) s += double(W[size_t(i) * out + o]) * gy[size_t(o)];
      CHECK(gx[size_t(i)] == doctest::Approx(s).epsilon(1e-5));
    }
  }
}

TEST_CASE("max pooling picks the window maximum and routes the gradient to the first maximum") {
  // 4x4x1 input, 2x2 pool, stride 2.
  std::vector<float> in = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 9, 9, 7, 0, 1, 2};
  std::vector<float> out(4), ref(4);
  std::vector<int32_t> arg(4);
  ConvGeometry g = conv_geometry(4, 4, 1, 2, 2, 1, 2, 2, 2, 2, false);
  max_pool_forward(g, in.data(), out.data());
  max_pool_forward_reference(4, 4, 1, 2, 2, 2, 2, 2, 2, 0, 0, in.data(), ref.data(), arg.data());
  CHECK(out == std::vector<float>{5, 8, 7, 9});
  CHECK(ref == out);
  CHECK(arg == std::vector<int32_t>{1, 6, 12, 10});  // the first of two equal maxima (9, 9) wins
  std::vector<float> gout = {1, 2, 3, 4}, gin(16), gref(16);
  max_pool_backward(g, in.data(), out.data(), gout.data(), gin.data());
  max_pool_backward_reference(16, 4, gout.data(), arg.data(), gref.data());
  CHECK(gin == gref);
  CHECK(gin[1] == 1);
  CHECK(gin[10] == 4);
  CHECK(gin[11] == 0);
}

TEST_CASE("vectorised max pooling matches the reference (channel tails, 'same' borders, ties)") {
  struct Case {
    int ih, iw, c, k, s;
    bool same;
  };
  for (const Case& t : {Case{8, 8, 16, 2, 2, false}, Case{7, 9, 5, 3, 2, true}, Case{15, 15, 128, 2, 2, false},
                        Case{6, 5, 33, 3, 1, true}}) {
    int oh = t.same ? (t.ih + t.s - 1) / t.s : (t.ih - t.k) / t.s + 1, ow = t.same ? (t.iw + t.s - 1) / t.s : (t.iw - t.k) / t.s + 1;
    ConvGeometry g = conv_geometry(t.ih, t.iw, t.c, oh, ow, t.c, t.k, t.k, t.s, t.s, t.same);
    auto in = random_vector(size_t(t.ih) * t.iw * t.c, 77, -1, 1);
    for (size_t i = 0; i < in.size(); i += 3) in[i] = 0.f;  // ReLU zeros: ties inside windows
    std::vector<float> out(size_t(oh) * ow * t.c), ref(out.size());
    std::vector<int32_t> arg(out.size());
    max_pool_forward(g, in.data(), out.data());
    max_pool_forward_reference(t.ih, t.iw, t.c, oh, ow, t.k, t.k, t.s, t.s, g.pad_t, g.pad_l, in.data(), ref.data(), arg.data());
    CHECK(out == ref);
    auto gout = random_vector(out.size(), 78, -1, 1);
    std::vector<float> gin(in.size()), gref(in.size());
    max_pool_backward(g, in.data(), out.data(), gout.data(), gin.data());
    max_pool_backward_reference(int(in.size()), int(out.size()), gout.data(), arg.data(), gref.data());
    CHECK(gin == gref);
  }
}

TEST_CASE("Winograd F(4x4,3x3) matches direct convolution, including ragged tiles and channel tails") {
  struct Case {
    int oh, ow, ic, oc;
  };
  const Case cases[] = {{30, 30, 32, 128}, {15, 15, 128, 64}, {7, 7, 64, 32}, {3, 3, 16, 32},
                        {5, 9, 3, 5},     {1, 1, 7, 9},      {8, 4, 4, 4},   {13, 6, 17, 33}};
  uint64_t seed = 100;
  for (const Case& c : cases) {
    // A valid 3x3 convolution of an (oh+2) x (ow+2) input.
    ConvGeometry g = conv_geometry(c.oh + 2, c.ow + 2, c.ic, c.oh, c.ow, c.oc, 3, 3, 1, 1, false);
    auto in = random_vector(size_t(c.oh + 2) * (c.ow + 2) * c.ic, seed++, -1, 1);
    auto k = random_vector(size_t(9) * c.ic * c.oc, seed++, -0.5f, 0.5f);
    auto b = random_vector(size_t(c.oc), seed++, -1, 1);
    std::vector<float> U(size_t(kWinogradPositions) * c.ic * c.oc), scratch(winograd_scratch_floats(c.oh, c.ow, c.ic, c.oc));
    winograd_transform_kernel(k.data(), c.ic, c.oc, U.data());
    std::vector<float> fast(size_t(c.oh) * c.ow * c.oc, -7.f), ref(fast.size());
    for (Clamp clamp : {Clamp{}, Clamp::relu(), Clamp{-0.25f, 0.5f}}) {
      winograd_conv3x3(in.data(), c.oh, c.ow, c.ic, c.oc, U.data(), b.data(), clamp, fast.data(), scratch.data());
      conv2d_forward_reference(g, in.data(), k.data(), b.data(), clamp, ref.data());
      float scale = 0;
      for (float v : ref) scale = std::max(scale, std::abs(v));
      CAPTURE(c.oh);
      CAPTURE(c.ic);
      CAPTURE(c.oc);
      // Winograd's transforms add rounding; the error stays far below the values' scale.
      CHECK(max_abs_diff(fast, ref) < 2e-5f * std::max(scale, 1.f) * std::sqrt(float(c.ic)));
    }
  }
}

TEST_CASE("pad_input writes every float of the padded copy: the input inside, zeros around it") {
  // The buffer is the network's shared scratch, which holds whatever the last node left there.
  const ConvGeometry g = conv_geometry_explicit(5, 7, 3, 3, 3, 3, 2, 1, 1, 1, 2, 1, 1, 3, 1, true);
  const auto in = random_vector(size_t(g.ih) * g.iw * g.ic, 99, 1, 2);
  std::vector<float> padded(size_t(g.ph) * g.pw * g.ic, 123.f);
  pad_input(g, in.data(), padded.data());
  for (int y = 0; y < g.ph; ++y)
    for (int x = 0; x < g.pw; ++x)
      for (int c = 0; c < g.ic; ++c) {
        const int iy = y - g.pad_t, ix = x - g.pad_l;
        const bool inside = iy >= 0 && iy < g.ih && ix >= 0 && ix < g.iw;
        CHECK(padded[(size_t(y) * g.pw + x) * g.ic + c] == (inside ? in[(size_t(iy) * g.iw + ix) * g.ic + c] : 0.f));
      }
}
