// Every fast kernel against its scalar reference, on shapes that exercise the vector tails.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcam/kernels.h"
#include "test_helpers.h"

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
    for (bool relu : {false, true}) {
      pad_input(g, in.data(), padded.data());
      conv2d_forward(g, padded.data(), k.data(), b.data(), relu, fast.data());
      conv2d_forward_reference(g, in.data(), k.data(), b.data(), relu, ref.data());
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

TEST_CASE("max pooling picks the window maximum and routes the gradient to it") {
  // 4x4x1 input, 2x2 pool, stride 2.
  std::vector<float> in = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 9, 9, 7, 0, 1, 2};
  std::vector<float> out(4);
  std::vector<int32_t> arg(4);
  max_pool_forward(4, 4, 1, 2, 2, 2, 2, 2, 2, 0, 0, in.data(), out.data(), arg.data());
  CHECK(out == std::vector<float>{5, 8, 7, 9});
  CHECK(arg == std::vector<int32_t>{1, 6, 12, 10});  // the first of two equal maxima (9, 9) wins
  std::vector<float> gout = {1, 2, 3, 4}, gin(16);
  max_pool_backward(16, 4, gout.data(), arg.data(), gin.data());
  CHECK(gin[1] == 1);
  CHECK(gin[6] == 2);
  CHECK(gin[12] == 3);
  CHECK(gin[10] == 4);
  CHECK(gin[11] == 0);
}
