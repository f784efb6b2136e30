// Maps at the input's resolution, from the gradient of the target score with respect to the input
// pixels: plain (saliency), averaged over noisy copies (SmoothGrad), through guided ReLUs (guided
// backprop), and guided backprop times Grad-CAM (Guided Grad-CAM); and Captum's Input x Gradient and
// Deconvolution, which keep their signed per-channel attribution.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "gradcam/methods.h"
#include "methods/network_pool.h"
#include "parallel/thread_pool.h"
#include "gradcam/map.h"
#include "methods/attribution.h"

namespace gradcam {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Per input pixel, the largest absolute gradient over colour channels (Simonyan et al., Sec. 3.1).
Map input_gradient_map(const std::vector<float>& g, int h, int w, int c) {
  Map m{h, w, std::vector<float>(size_t(h) * w, 0.f)};
  for (int i = 0; i < h * w; ++i) {
    float best = 0.f;
    for (int k = 0; k < c; ++k) best = std::max(best, std::abs(g[size_t(i) * c + k]));
    m.values[size_t(i)] = best;
  }
  return m;
}

}  // namespace

// Saliency, Simonyan et al. 2014, arXiv 1312.6034 Sec. 3.1: max over colours of |d score / d input|.
Map saliency_map(MethodContext& cx) {
  const Architecture& arch = cx.net.arch();
  auto t0 = std::chrono::steady_clock::now();
  cx.net.backward(cx.dscore.data(), -1);
  cx.backward_ms = ms_since(t0);
  return input_gradient_map(cx.net.input_grad(), arch.height, arch.width, arch.channels);
}

// SmoothGrad, Smilkov et al. 2017, arXiv 1706.03825 Eq. 1: the gradient averaged over noisy copies
// of the input (noise sigma a fraction of the input's range).
Map smooth_grad(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const ExplainOptions& opt = cx.options;
  const size_t n = size_t(arch.height) * arch.width * arch.channels;
  auto [lo, hi] = std::minmax_element(cx.input, cx.input + n);
  float range = *hi - *lo > 0 ? *hi - *lo : 1.f;
  // Box-Muller on mt19937_64's output (fixed by the standard), not std::normal_distribution
  // (which differs between standard libraries), so native and wasm draw the same noise.
  std::mt19937_64 rng(opt.seed);
  const float sigma = opt.smoothgrad_sigma * range;
  auto noise = [&rng, sigma] {
    double u1 = (double(rng() >> 11) + 1.0) * (1.0 / 9007199254740993.0);  // (0, 1]
    double u2 = double(rng() >> 11) * (1.0 / 9007199254740992.0);
    return float(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  };
  // The samples go in blocks: the block's noisy copies are drawn in sample order, their gradients
  // computed over the thread pool (each on a network of its own), then added to the mean in sample
  // order, so the noise and the sum are the same for any thread count. The block size is a
  // constant: memory stays two blocks of inputs whatever --samples asks.
  constexpr int kSamplesPerBlock = 8;
  const int samples = opt.smoothgrad_samples;
  std::vector<float> noisy(size_t(kSamplesPerBlock) * n), grads(size_t(kSamplesPerBlock) * n), mean(n, 0.f);
  NetworkPool networks(net);
  for (int s0 = 0; s0 < samples; s0 += kSamplesPerBlock) {
    const int count = std::min(kSamplesPerBlock, samples - s0);
    for (size_t i = 0; i < size_t(count) * n; ++i) noisy[i] = cx.input[i % n] + noise();
    parallel_for(count, 1, [&](int64_t begin, int64_t end) {
      NetworkPool::Lease pass(networks);
      std::vector<float> d(cx.dscore.size());
      for (int64_t b = begin; b < end; ++b) {
        pass->forward(noisy.data() + size_t(b) * n);
        score_gradient(pass->logits(), pass->probabilities(), cx.target, opt.score, d.data());
        pass->backward(d.data(), -1);
        std::copy(pass->input_grad().begin(), pass->input_grad().end(), grads.begin() + std::ptrdiff_t(size_t(b) * n));
      }
    });
    for (int b = 0; b < count; ++b)
      for (size_t i = 0; i < n; ++i) mean[i] += grads[size_t(b) * n + i] / float(samples);
  }
  net.forward(cx.input);  // leave the network holding this image's activations
  return input_gradient_map(mean, arch.height, arch.width, arch.channels);
}

// Guided backpropagation, Springenberg et al. 2015, arXiv 1412.6806 Sec. 3.4: ReLUs that also block
// negative gradients on the way back.
Map guided_backprop(MethodContext& cx) {
  const Architecture& arch = cx.net.arch();
  auto t0 = std::chrono::steady_clock::now();
  cx.net.backward(cx.dscore.data(), -1, ReluBackward::guided);
  cx.backward_ms = ms_since(t0);
  return input_gradient_map(cx.net.input_grad(), arch.height, arch.width, arch.channels);
}

// Guided Grad-CAM, Selvaraju et al., arXiv 1610.02391 Sec. 3.1: guided backprop (.) Grad-CAM
// upsampled to the input.
Map guided_grad_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  Map guided = guided_backprop(cx);
  auto t0 = std::chrono::steady_clock::now();
  net.backward(cx.dscore.data(), cx.layer);
  cx.backward_ms += ms_since(t0);
  const Shape& s = net.output_shape(cx.layer);
  Map cam = grad_cam(net.output(cx.layer).data(), net.output_grad(cx.layer).data(), s.h, s.w, s.c);
  std::vector<float> up = upsample_bilinear(cam.values.data(), s.h, s.w, arch.height, arch.width);
  for (size_t i = 0; i < up.size(); ++i) guided.values[i] *= up[i];
  return guided;
}

// Input x Gradient, Shrikumar et al. 2016, arXiv 1605.01713 (Captum's InputXGradient): x * dF/dx.
Map input_x_gradient(MethodContext& cx) {
  const Architecture& arch = cx.net.arch();
  auto t0 = std::chrono::steady_clock::now();
  cx.net.backward(cx.dscore.data(), -1);
  cx.backward_ms = ms_since(t0);
  const Floats g = cx.net.input_grad();
  cx.attribution.resize(g.size());
  for (size_t i = 0; i < g.size(); ++i) cx.attribution[i] = cx.input[i] * g[i];
  return attribution_map(cx.attribution, arch.height, arch.width, arch.channels);
}

// Deconvolution, Zeiler & Fergus 2014, arXiv 1311.2901 Sec. 2.1 (Captum's Deconvolution): the
// gradient with every ReLU passing ReLU of the incoming gradient, its forward mask ignored.
Map deconvolution(MethodContext& cx) {
  const Architecture& arch = cx.net.arch();
  auto t0 = std::chrono::steady_clock::now();
  cx.net.backward(cx.dscore.data(), -1, ReluBackward::deconvnet);
  cx.backward_ms = ms_since(t0);
  cx.attribution = cx.net.input_grad();
  return attribution_map(cx.attribution, arch.height, arch.width, arch.channels);
}

}  // namespace gradcam
