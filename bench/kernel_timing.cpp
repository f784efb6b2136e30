// Times the depthwise kernels on MobileNetV2's depthwise layers (224x224 input) against their
// scalar references, and its 1x1 (pointwise) convolutions alone and with a ReLU6 in the epilogue
// (a fused Clip). A measurement, not a test: it never fails because something is slow.
//   cmake --build build/native --target kernel_timing && build/native/kernel_timing
//   cmake --build --preset wasm --target kernel_timing && node build/wasm/kernel_timing.js
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/kernels.h"

using namespace gradcam::kernels;

namespace {

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// Median of `runs` timings of f, in milliseconds (the median shrugs off a busy neighbour).
template <class F>
double time_ms(F&& f, int runs) {
  // Warm the caches, and in wasm let V8 move the function from its baseline compiler to its
  // optimising one (a loop timed on its first calls ran ten times slower).
  for (int i = 0; i < 5; ++i) f();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + runs / 2, t.end());
  return t[size_t(runs / 2)];
}

void layer(int hw, int c, int stride) {
  // PyTorch's MobileNetV2: 3x3, padding 1.
  const ConvGeometry g = conv_geometry_explicit(hw, hw, c, c, 3, 3, stride, stride, 1, 1, 1, 1, 1, 1, c);
  const size_t in = size_t(g.ih) * g.iw * c, out = size_t(g.oh) * g.ow * c, pad = size_t(g.ph) * g.pw * c;
  auto x = random_vector(in, 1), k = random_vector(size_t(9) * c, 2), b = random_vector(size_t(c), 3);
  auto gout = random_vector(out, 4);
  std::vector<float> padded(pad), y(out), gin_padded(pad), gin(in);
  pad_input(g, x.data(), padded.data());
  const int runs = out > 200000 ? 20 : 200;
  const double fwd = time_ms([&] { depthwise_conv_forward(g, padded.data(), k.data(), b.data(), y.data()); }, runs);
  const double fwd_pad = time_ms([&] { pad_input(g, x.data(), padded.data()); }, runs);
  const double fwd_ref =
      time_ms([&] { depthwise_conv_forward_reference(g, x.data(), k.data(), b.data(), y.data()); }, runs / 4 + 1);
  const double bwd = time_ms(
      [&] {
        depthwise_conv_backward_input(g, gout.data(), k.data(), gin_padded.data());
        crop_padded(g, gin_padded.data(), gin.data());
      },
      runs);
  const double bwd_ref =
      time_ms([&] { depthwise_conv_backward_input_reference(g, gout.data(), k.data(), gin.data()); }, runs / 4 + 1);
  const double gflop = 2.0 * 9 * double(out) * 1e-9;
  std::printf("%3dx%-3d x %3d  s%d -> %3dx%-3d | forward %7.3f ms (%5.1f GFLOP/s, +pad_input %6.3f ms)  reference %8.3f ms  x%.0f"
              " | backward+crop %7.3f ms  reference %8.3f ms  x%.0f\n",
              hw, hw, c, stride, g.oh, g.ow, fwd, gflop / (fwd * 1e-3), fwd_pad, fwd_ref, fwd_ref / fwd, bwd, bwd_ref,
              bwd_ref / bwd);
}

// A 1x1 stride-1 convolution as the Conv op plans it (one long row of pixels), alone and with a
// ReLU6 clamped in its epilogue (a fused Clip): the clamp should cost nothing. (What fusing saves,
// the Clip node's own pass, is in `gradcam bench --profile`.)
void pointwise(int hw, int ic, int oc) {
  const int pixels = hw * hw;
  const ConvGeometry g = conv_geometry(1, pixels, ic, 1, pixels, oc, 1, 1, 1, 1, false);
  auto x = random_vector(size_t(pixels) * ic, 5), k = random_vector(size_t(ic) * oc, 6), b = random_vector(size_t(oc), 7);
  std::vector<float> packed(k.size()), y(size_t(pixels) * oc), clipped(y.size());
  pack_conv_kernel(g, k.data(), packed.data());
  const Clamp relu6{0.f, 6.f};
  const int runs = y.size() > 200000 ? 20 : 100;
  const double plain = time_ms([&] { conv2d_forward(g, x.data(), packed.data(), b.data(), Clamp{}, y.data()); }, runs);
  const double fused = time_ms([&] { conv2d_forward(g, x.data(), packed.data(), b.data(), relu6, clipped.data()); }, runs);
  const double gflop = 2.0 * double(pixels) * ic * oc * 1e-9;
  std::printf("1x1 %3dx%-3d %4d -> %4d | conv %7.3f ms (%5.1f GFLOP/s) | with a ReLU6 epilogue %7.3f ms\n", hw, hw, ic, oc,
              plain, gflop / (plain * 1e-3), fused);
}

}  // namespace

int main() {
  // MobileNetV2's depthwise layers at 224x224, one of each shape.
  const int layers[][3] = {{112, 32, 1},  {112, 96, 2}, {56, 144, 1}, {56, 144, 2}, {28, 192, 1},
                           {28, 192, 2},  {14, 384, 1}, {14, 576, 1}, {14, 576, 2}, {7, 960, 1}};
  for (const auto& l : layers) layer(l[0], l[1], l[2]);
  // Its pointwise layers: the expansions (followed by ReLU6) and projections, one of each shape.
  const int pointwise_layers[][3] = {{112, 32, 16}, {112, 16, 96}, {56, 96, 24},  {56, 24, 144}, {56, 144, 24},
                                     {28, 144, 32}, {28, 32, 192}, {28, 192, 32}, {14, 64, 384}, {14, 384, 64},
                                     {14, 96, 576}, {14, 576, 96}, {7, 160, 960}, {7, 960, 160}, {7, 320, 1280}};
  for (const auto& l : pointwise_layers) pointwise(l[0], l[1], l[2]);
}
