// The PyTorch/ONNX convolution family (explicit pads, ceil_mode, dilation, groups, depthwise,
// average pooling): each fast kernel against its scalar reference, and each backward against its
// forward through the adjoint identity <gout, F x> = <F^T gout, x>, which holds exactly (up to
// rounding) for a linear F and so checks that the backward is the forward's transpose. The
// references themselves were compared with PyTorch 1.13 once (F.conv2d, F.avg_pool2d,
// F.max_pool2d); see the commit that added this file.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/kernels.h"
#include "../test_helpers.h"

using namespace gradcam::kernels;
using gradcam::testing::random_vector;

namespace {

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// <a, b> in double, and the sum of |a_i b_i| that bounds its rounding.
struct Dot {
  double value = 0, magnitude = 0;
};
Dot dot(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  Dot d;
  for (size_t i = 0; i < a.size(); ++i) {
    d.value += double(a[i]) * b[i];
    d.magnitude += std::abs(double(a[i]) * b[i]);
  }
  return d;
}
// <gout, F x> == <gin, x> where gin = F^T gout.
void check_adjoint(const std::vector<float>& gout, const std::vector<float>& fx, const std::vector<float>& gin,
                   const std::vector<float>& x) {
  const Dot lhs = dot(gout, fx), rhs = dot(gin, x);
  CHECK(std::abs(lhs.value - rhs.value) <= 1e-5 * (lhs.magnitude + rhs.magnitude) + 1e-12);
}

struct Case {
  int ih, iw, ic, oc, kh, kw, sh, sw, dh, dw, pad_t, pad_l, pad_b, pad_r, groups;
  bool ceil_mode = false;
};
ConvGeometry geometry(const Case& c) {
  return conv_geometry_explicit(c.ih, c.iw, c.ic, c.oc, c.kh, c.kw, c.sh, c.sw, c.dh, c.dw, c.pad_t, c.pad_l, c.pad_b,
                                c.pad_r, c.groups, c.ceil_mode);
}
size_t in_size(const ConvGeometry& g) { return size_t(g.ih) * g.iw * g.ic; }
size_t out_size(const ConvGeometry& g) { return size_t(g.oh) * g.ow * g.oc; }
size_t padded_size(const ConvGeometry& g) { return size_t(g.ph) * g.pw * g.ic; }

#define CAPTURE_CASE(c)                                                                                          \
  CAPTURE((c).ih); CAPTURE((c).iw); CAPTURE((c).ic); CAPTURE((c).oc); CAPTURE((c).kh); CAPTURE((c).kw);      \
  CAPTURE((c).sh); CAPTURE((c).dh); CAPTURE((c).pad_t); CAPTURE((c).pad_l); CAPTURE((c).pad_b);             \
  CAPTURE((c).pad_r); CAPTURE((c).groups); CAPTURE((c).ceil_mode)

}  // namespace

TEST_CASE("conv_geometry_explicit sizes follow PyTorch's formula and ceil_mode rule") {
  // Values checked against torch.nn.functional shapes (PyTorch 1.13).
  ConvGeometry g = conv_geometry_explicit(112, 112, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false);
  CHECK(g.oh == 56);  // ResNet's stem max pool
  g = conv_geometry_explicit(112, 112, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true);
  CHECK(g.oh == 57);
  g = conv_geometry_explicit(6, 7, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, true);
  CHECK(g.oh == 3);  // ceil((6-3)/2)+1: the last window hangs one past the input
  CHECK(g.ow == 3);
  g = conv_geometry_explicit(6, 7, 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, false);
  CHECK(g.oh == 2);
  CHECK(g.ow == 3);
  // ceil would give 4 windows, but the fourth would start in the trailing padding: dropped.
  g = conv_geometry_explicit(5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, true);
  CHECK(g.oh == 3);
  // Dilation 2 makes a 3x3 kernel span 5; asymmetric pads.
  g = conv_geometry_explicit(10, 9, 4, 8, 3, 3, 1, 2, 2, 2, 2, 0, 1, 3, 2);
  CHECK(g.oh == 9);  // 10+2+1-5+1
  CHECK(g.ow == 4);  // floor((9+0+3-5)/2)+1
  CHECK(g.dh == 2);
  CHECK(g.groups == 2);
  // The padded buffer holds every tap and the whole input.
  CHECK(g.ph >= (g.oh - 1) * g.sh + 2 * 2 + 1);
  CHECK(g.ph >= g.pad_t + g.ih);
  CHECK(g.pw >= (g.ow - 1) * g.sw + 2 * 2 + 1);
  // conv_geometry keeps its meaning and now records the trailing "same" padding.
  g = conv_geometry(7, 7, 3, 4, 4, 8, 3, 3, 2, 2, true);
  CHECK(g.pad_t == 1);
  CHECK(g.pad_b == 1);
  CHECK(g.dh == 1);
  CHECK(g.groups == 1);
}

TEST_CASE("dense conv2d runs PyTorch geometry: asymmetric pads and strides") {
  const Case cases[] = {{9, 8, 3, 20, 3, 3, 2, 2, 1, 1, 0, 1, 2, 0, 1},  {7, 7, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
                        {6, 11, 5, 33, 2, 4, 1, 3, 1, 1, 1, 2, 0, 3, 1}, {5, 5, 17, 7, 5, 5, 2, 1, 1, 1, 2, 2, 2, 2, 1},
                        {8, 8, 4, 17, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1, 1}};
  uint64_t seed = 100;
  for (const Case& c : cases) {
    CAPTURE_CASE(c);
    const ConvGeometry g = geometry(c);
    auto x = random_vector(in_size(g), seed++, -1, 1);
    auto k = random_vector(size_t(c.kh) * c.kw * c.ic * c.oc, seed++, -1, 1);
    std::vector<float> zero_bias(size_t(c.oc), 0.f), padded(padded_size(g)), fast(out_size(g)), ref(fast.size());
    std::vector<float> packed(k.size());
    pack_conv_kernel(g, k.data(), packed.data());
    pad_input(g, x.data(), padded.data());
    conv2d_forward(g, padded.data(), packed.data(), zero_bias.data(), Clamp{}, fast.data());
    conv2d_forward_reference(g, x.data(), k.data(), zero_bias.data(), Clamp{}, ref.data());
    CHECK(max_abs_diff(fast, ref) < 1e-5f * float(c.kh * c.kw * c.ic));
    auto gout = random_vector(fast.size(), seed++, -1, 1);
    std::vector<float> kt(k.size()), gpad(padded.size()), gin(x.size()), gref(x.size());
    transpose_kernel(g, k.data(), kt.data());
    conv2d_backward_input(g, gout.data(), kt.data(), gpad.data());
    crop_padded(g, gpad.data(), gin.data());
    conv2d_backward_input_reference(g, gout.data(), k.data(), gref.data());
    CHECK(max_abs_diff(gin, gref) < 1e-5f * float(c.kh * c.kw * c.oc));
    check_adjoint(gout, fast, gin, x);
  }
}

TEST_CASE("depthwise conv matches its reference and its backward is its transpose") {
  // Channel counts around the vector width (4 on wasm, 8 or 16 natively), strides 1 and 2,
  // asymmetric pads, dilation 2, and non-square kernels.
  const Case cases[] = {
      {8, 8, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16},    {9, 9, 5, 5, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 5},
      {12, 10, 17, 17, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 17},  {7, 13, 40, 40, 5, 5, 2, 1, 1, 1, 2, 1, 2, 3, 40},
      {11, 6, 67, 67, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 67},   {6, 9, 1, 1, 1, 3, 1, 2, 1, 2, 0, 2, 0, 1, 1},
      {10, 10, 96, 96, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 96},  {5, 20, 33, 33, 3, 3, 1, 1, 1, 3, 1, 0, 1, 5, 33},
      {3, 3, 8, 8, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 8}};
  uint64_t seed = 200;
  ptrdiff_t clamped_low = 0, clamped_high = 0;  // outputs the clamp case set to a bound
  for (const Case& c : cases) {
    CAPTURE_CASE(c);
    const ConvGeometry g = geometry(c);
    REQUIRE(g.oh > 0);
    auto x = random_vector(in_size(g), seed++, -1, 1);
    auto k = random_vector(size_t(c.kh) * c.kw * c.ic, seed++, -1, 1);
    auto b = random_vector(size_t(c.ic), seed++, -1, 1);
    std::vector<float> padded(padded_size(g)), fast(out_size(g)), ref(fast.size());
    pad_input(g, x.data(), padded.data());
    depthwise_conv_forward(g, padded.data(), k.data(), b.data(), fast.data());
    depthwise_conv_forward_reference(g, x.data(), k.data(), b.data(), ref.data());
    CHECK(max_abs_diff(fast, ref) < 1e-5f * float(c.kh * c.kw));
    // A ReLU6-like clamp in the epilogue (a fused Clip), both bounds reached.
    const Clamp clamp{-0.5f, 0.75f};
    depthwise_conv_forward(g, padded.data(), k.data(), b.data(), fast.data(), clamp);
    depthwise_conv_forward_reference(g, x.data(), k.data(), b.data(), ref.data(), clamp);
    CHECK(max_abs_diff(fast, ref) < 1e-5f * float(c.kh * c.kw));
    clamped_low += std::count(fast.begin(), fast.end(), -0.5f);
    clamped_high += std::count(fast.begin(), fast.end(), 0.75f);

    // Without bias the forward is linear.
    depthwise_conv_forward(g, padded.data(), k.data(), nullptr, fast.data());
    depthwise_conv_forward_reference(g, x.data(), k.data(), nullptr, ref.data());
    CHECK(max_abs_diff(fast, ref) < 1e-5f * float(c.kh * c.kw));
    auto gout = random_vector(fast.size(), seed++, -1, 1);
    std::vector<float> gpad(padded.size(), 123.f), gin(x.size()), gref(x.size());
    depthwise_conv_backward_input(g, gout.data(), k.data(), gpad.data());
    crop_padded(g, gpad.data(), gin.data());
    depthwise_conv_backward_input_reference(g, gout.data(), k.data(), gref.data());
    CHECK(max_abs_diff(gin, gref) < 1e-5f * float(c.kh * c.kw));
    check_adjoint(gout, fast, gin, x);
    check_adjoint(gout, ref, gref, x);

    // The same layer as a grouped convolution with groups == channels: kernel [kh][kw][1][c] is the
    // depthwise [kh][kw][c].
    std::vector<float> grouped(fast.size());
    grouped_conv_forward(g, padded.data(), k.data(), nullptr, grouped.data());
    CHECK(max_abs_diff(grouped, ref) < 1e-5f * float(c.kh * c.kw));
  }
  CHECK(clamped_low > 0);
  CHECK(clamped_high > 0);
}

TEST_CASE("depthwise backward falls back to scatter for very wide kernels") {
  const Case c{4, 30, 9, 9, 1, 17, 1, 1, 1, 1, 0, 8, 0, 8, 9};
  const ConvGeometry g = geometry(c);
  auto k = random_vector(size_t(c.kh) * c.kw * c.ic, 7, -1, 1);
  auto gout = random_vector(out_size(g), 8, -1, 1);
  std::vector<float> gpad(padded_size(g)), gin(in_size(g)), gref(gin.size());
  depthwise_conv_backward_input(g, gout.data(), k.data(), gpad.data());
  crop_padded(g, gpad.data(), gin.data());
  depthwise_conv_backward_input_reference(g, gout.data(), k.data(), gref.data());
  CHECK(max_abs_diff(gin, gref) < 1e-4f);
}

TEST_CASE("grouped and dilated conv match their reference and the backward is the transpose") {
  const Case cases[] = {
      {8, 8, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},       // 2 groups, 2 -> 4 channels each
      {9, 7, 6, 12, 3, 3, 2, 2, 2, 2, 2, 1, 2, 3, 3},      // dilation 2, stride 2, asymmetric pads
      {7, 7, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8},      // depthwise multiplier 2
      {6, 9, 5, 15, 3, 2, 1, 2, 1, 1, 0, 1, 1, 0, 5},      // multiplier 3, odd channels
      {10, 10, 3, 40, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1, 1},    // dense, dilated: vector path with tail
      {8, 11, 64, 64, 3, 3, 2, 1, 1, 1, 1, 1, 0, 1, 2},    // 32 -> 32 per group: vector path
      {7, 8, 34, 68, 1, 3, 1, 1, 1, 2, 0, 2, 0, 2, 2},     // 17 -> 34 per group: vectors plus tails
      {12, 12, 12, 6, 5, 5, 3, 3, 1, 1, 2, 2, 2, 2, 3}};   // fewer outputs than inputs per group
  uint64_t seed = 300;
  for (const Case& c : cases) {
    CAPTURE_CASE(c);
    const ConvGeometry g = geometry(c);
    REQUIRE(g.oh > 0);
    const int icg = c.ic / c.groups;
    auto x = random_vector(in_size(g), seed++, -1, 1);
    auto k = random_vector(size_t(c.kh) * c.kw * icg * c.oc, seed++, -1, 1);
    auto b = random_vector(size_t(c.oc), seed++, -1, 1);
    std::vector<float> padded(padded_size(g)), fast(out_size(g)), ref(fast.size());
    pad_input(g, x.data(), padded.data());
    const float tol = 1e-5f * float(c.kh * c.kw * icg);
    grouped_conv_forward(g, padded.data(), k.data(), b.data(), fast.data());
    grouped_conv_forward_reference(g, x.data(), k.data(), b.data(), ref.data());
    CHECK(max_abs_diff(fast, ref) < tol);

    grouped_conv_forward(g, padded.data(), k.data(), nullptr, fast.data());
    grouped_conv_forward_reference(g, x.data(), k.data(), nullptr, ref.data());
    CHECK(max_abs_diff(fast, ref) < tol);
    auto gout = random_vector(fast.size(), seed++, -1, 1);
    std::vector<float> gpad(padded.size(), 123.f), gin(x.size()), gref(x.size());
    grouped_conv_backward_input(g, gout.data(), k.data(), gpad.data());
    crop_padded(g, gpad.data(), gin.data());
    grouped_conv_backward_input_reference(g, gout.data(), k.data(), gref.data());
    CHECK(max_abs_diff(gin, gref) < 1e-5f * float(c.kh * c.kw * c.oc / c.groups));
    check_adjoint(gout, fast, gin, x);
    check_adjoint(gout, ref, gref, x);

    if (c.groups == 1 && c.dh == 1 && c.dw == 1) {  // the dense reference agrees
      std::vector<float> zero_bias(size_t(c.oc), 0.f), dense(ref.size());
      conv2d_forward_reference(g, x.data(), k.data(), zero_bias.data(), Clamp{}, dense.data());
      CHECK(max_abs_diff(dense, ref) < tol);
    }
  }
}

TEST_CASE("average pooling matches its reference both ways of counting, and its backward is the transpose") {
  const Case cases[] = {
      {8, 8, 16, 16, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, false},  {7, 7, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},
      {6, 9, 17, 17, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, true},   {10, 7, 40, 40, 3, 2, 3, 2, 1, 1, 1, 0, 1, 1, 1, true},
      {5, 5, 3, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, false},    {9, 8, 20, 20, 3, 3, 1, 2, 2, 2, 1, 2, 2, 0, 1, false},
      {11, 11, 33, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true}, {4, 4, 8, 8, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, false}};
  uint64_t seed = 400;
  for (const Case& c : cases) {
    for (bool count_include_pad : {false, true}) {
      CAPTURE_CASE(c);
      CAPTURE(count_include_pad);
      const ConvGeometry g = geometry(c);
      REQUIRE(g.oh > 0);
      auto x = random_vector(in_size(g), seed++, -1, 1);
      std::vector<float> fast(out_size(g)), ref(fast.size());
      avg_pool_forward(g, count_include_pad, x.data(), fast.data());
      avg_pool_forward_reference(g, count_include_pad, x.data(), ref.data());
      CHECK(max_abs_diff(fast, ref) < 1e-6f);
      auto gout = random_vector(fast.size(), seed++, -1, 1);
      std::vector<float> gin(x.size(), 123.f), gref(x.size());
      avg_pool_backward(g, count_include_pad, gout.data(), gin.data());
      avg_pool_backward_reference(g, count_include_pad, gout.data(), gref.data());
      CHECK(max_abs_diff(gin, gref) < 1e-6f);
      check_adjoint(gout, fast, gin, x);
    }
  }
  // Constant input: every window averages to the constant when padding does not count, and ceil_mode
  // overhang windows with count_include_pad divide by fewer than kh*kw.
  const ConvGeometry g = conv_geometry_explicit(6, 6, 3, 3, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, true);
  REQUIRE(g.oh == 3);  // the last window covers rows 4, 5 and one past the input
  std::vector<float> ones(in_size(g), 1.f), out(out_size(g));
  for (bool count_include_pad : {false, true}) {
    avg_pool_forward(g, count_include_pad, ones.data(), out.data());
    for (float v : out) CHECK(v == doctest::Approx(1.f));
  }
}

TEST_CASE("max pooling with explicit pads and ceil_mode windows that hang over the end") {
  const Case cases[] = {{7, 7, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true},
                        {6, 9, 5, 5, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 1, true},
                        {8, 7, 17, 17, 2, 3, 2, 3, 1, 1, 1, 1, 0, 1, 1, true},
                        {10, 10, 33, 33, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, false},
                        {5, 5, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, true}};
  uint64_t seed = 500;
  for (const Case& c : cases) {
    CAPTURE_CASE(c);
    const ConvGeometry g = geometry(c);
    REQUIRE(g.oh > 0);
    auto x = random_vector(in_size(g), seed++, -1, 1);
    std::vector<float> fast(out_size(g)), ref(fast.size());
    std::vector<int32_t> argmax(fast.size());
    max_pool_forward(g, x.data(), fast.data());
    max_pool_forward_reference(g.ih, g.iw, g.ic, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pad_t, g.pad_l, x.data(),
                               ref.data(), argmax.data());
    CHECK(max_abs_diff(fast, ref) == 0.f);
    auto gout = random_vector(fast.size(), seed++, -1, 1);
    std::vector<float> gin(x.size()), gref(x.size());
    max_pool_backward(g, x.data(), fast.data(), gout.data(), gin.data());
    max_pool_backward_reference(int(x.size()), int(fast.size()), gout.data(), argmax.data(), gref.data());
    CHECK(max_abs_diff(gin, gref) < 1e-6f);
    // Max pooling is linear where the argmax does not move: out = x[argmax].
    check_adjoint(gout, fast, gin, x);
  }
}
