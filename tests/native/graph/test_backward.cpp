// Every layer's backward pass against central finite differences of the network's score.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

// An independent forward pass in double precision, straight from the definitions (no padding
// buffers, no folding, no SIMD), so finite differences are not drowned in float rounding.
// Runs layers first.. on x (the input of layer `first`) and returns the logits. The layers' shapes
// are the network's (one node per layer).
std::vector<double> forward_double(const Model& m, const Network& net, int first, std::vector<double> x) {
  const Architecture& a = m.arch;
  for (size_t li = size_t(first); li < a.layers.size(); ++li) {
    const LayerSpec& l = a.layers[li];
    const Shape in = li == 0 ? Shape{a.height, a.width, a.channels} : net.output_shape(int(li) - 1);
    const Shape out = net.output_shape(int(li));
    std::vector<double> y(size_t(out.size()), 0.0);
    auto pad_before = [](int in_size, int out_size, int k, int s, Padding p) {
      return p == Padding::same ? std::max((out_size - 1) * s + k - in_size, 0) / 2 : 0;
    };
    switch (l.type) {
      case LayerType::conv2d: {
        const auto& K = m.param(l.name, "kernel");
        const auto& B = m.param(l.name, "bias");
        int pt = pad_before(in.h, out.h, l.kernel_h, l.stride_h, l.padding);
        int pl = pad_before(in.w, out.w, l.kernel_w, l.stride_w, l.padding);
        for (int oy = 0; oy < out.h; ++oy)
          for (int ox = 0; ox < out.w; ++ox)
            for (int o = 0; o < out.c; ++o) {
              double acc = B[size_t(o)];
              for (int ky = 0; ky < l.kernel_h; ++ky)
                for (int kx = 0; kx < l.kernel_w; ++kx) {
                  int iy = oy * l.stride_h + ky - pt, ix = ox * l.stride_w + kx - pl;
                  if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
                  for (int c = 0; c < in.c; ++c)
                    acc += x[(size_t(iy) * in.w + ix) * in.c + c] * K[((size_t(ky) * l.kernel_w + kx) * in.c + c) * out.c + o];
                }
              y[(size_t(oy) * out.w + ox) * out.c + o] = l.activation == Activation::relu ? std::max(acc, 0.0) : acc;
            }
        break;
      }
      case LayerType::max_pool2d: {
        int pt = pad_before(in.h, out.h, l.pool_h, l.stride_h, l.padding);
        int pl = pad_before(in.w, out.w, l.pool_w, l.stride_w, l.padding);
        for (int oy = 0; oy < out.h; ++oy)
          for (int ox = 0; ox < out.w; ++ox)
            for (int c = 0; c < out.c; ++c) {
              double best = -1e300;
              for (int ky = 0; ky < l.pool_h; ++ky)
                for (int kx = 0; kx < l.pool_w; ++kx) {
                  int iy = oy * l.stride_h + ky - pt, ix = ox * l.stride_w + kx - pl;
                  if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
                  best = std::max(best, x[(size_t(iy) * in.w + ix) * in.c + c]);
                }
              y[(size_t(oy) * out.w + ox) * out.c + c] = best;
            }
        break;
      }
      case LayerType::batch_norm: {
        const auto &g = m.param(l.name, "gamma"), &b = m.param(l.name, "beta"), &mu = m.param(l.name, "moving_mean"),
                   &var = m.param(l.name, "moving_variance");
        for (size_t i = 0; i < y.size(); ++i) {
          size_t c = i % size_t(in.c);
          y[i] = g[c] * (x[i] - mu[c]) / std::sqrt(double(var[c]) + l.epsilon) + b[c];
        }
        break;
      }
      case LayerType::dense: {
        const auto& W = m.param(l.name, "kernel");
        const auto& B = m.param(l.name, "bias");
        for (int o = 0; o < out.c; ++o) {
          double acc = B[size_t(o)];
          for (size_t i = 0; i < x.size(); ++i) acc += x[i] * W[i * size_t(out.c) + size_t(o)];
          y[size_t(o)] = l.activation == Activation::relu ? std::max(acc, 0.0) : acc;
        }
        break;
      }
      case LayerType::dropout:
      case LayerType::flatten:
        y = x;
        break;
    }
    x = std::move(y);
  }
  return x;
}

double score_of(const std::vector<double>& logits, int target, Score score) {
  if (score == Score::logit) return logits[size_t(target)];
  double m = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (double z : logits) sum += std::exp(z - m);
  return std::exp(logits[size_t(target)] - m) / sum;
}

// Compares d(score)/d(x) from the engine's backward pass with central finite differences of the
// double-precision forward, where x is the input of layer `first` (0: the network input) and the
// score is class 1's logit or probability. Checks up to ~150 coordinates spread over x.
void check_gradient(const Architecture& arch, int first, Score score, uint64_t seed, int samples = 150) {
  Model model = random_model(arch, seed);
  Network net(model);
  auto input = random_vector(size_t(arch.height) * arch.width * arch.channels, seed + 100, 0.f, 1.f);
  net.forward(input.data());
  std::vector<float> x = first == 0 ? input : net.output(first - 1);
  const int target = 1;
  std::vector<float> d(size_t(net.num_classes()));
  score_gradient(net.logits(), net.probabilities(), target, score, d.data());
  net.backward(d.data(), first - 1);
  const std::vector<float>& analytic = first == 0 ? net.input_grad() : net.output_grad(first - 1);
  REQUIRE(analytic.size() == x.size());

  double max_grad = 0;
  for (float g : analytic) max_grad = std::max(max_grad, double(std::abs(g)));
  REQUIRE(max_grad > 0);  // a zero gradient would make the comparison vacuous
  std::vector<double> xd(x.begin(), x.end());
  const double eps = 1e-5;
  int checked = 0, mismatched = 0, nonzero = 0;
  const size_t stride = std::max<size_t>(1, x.size() / size_t(samples));
  for (size_t i = seed % stride; i < x.size(); i += stride) {
    // A ReLU output of exactly zero sits on a kink (and ties a max-pool window of zeros), where
    // the function has no derivative: only points inside the smooth region are compared.
    if (x[i] == 0.f) continue;
    std::vector<double> p = xd, m = xd;
    p[i] += eps;
    m[i] -= eps;
    double fd = (score_of(forward_double(model, net, first, p), target, score) -
                 score_of(forward_double(model, net, first, m), target, score)) / (2 * eps);
    // A ReLU or max-pool kink within eps of x makes the difference meaningless at that one
    // coordinate; a handful are allowed, a wrong gradient fails nearly everywhere.
    if (std::abs(fd - analytic[i]) > 1e-3 * max_grad + 1e-3 * std::abs(fd)) mismatched++;
    nonzero += analytic[i] != 0;
    checked++;
  }
  CAPTURE(std::string(layer_type_name(arch.layers[size_t(first)].type)));
  CAPTURE(checked);
  CHECK(nonzero >= checked / 8);  // max pooling routes a quarter of the inputs
  CHECK(mismatched <= checked / 50);
}

}  // namespace

TEST_CASE("conv2d backward matches finite differences (valid, same, strides, odd kernels)") {
  check_gradient(small_arch(9, 9, {conv("c", 6, 3, 3, 1, 1, Padding::valid)}), 0, Score::logit, 1);
  check_gradient(small_arch(8, 7, {conv("c", 5, 3, 3, 1, 1, Padding::same)}), 0, Score::logit, 2);
  check_gradient(small_arch(9, 8, {conv("c", 4, 5, 3, 2, 2, Padding::same)}), 0, Score::probability, 3);
  check_gradient(small_arch(10, 9, {conv("c", 20, 2, 4, 2, 3, Padding::valid, Activation::linear)}), 0,
                 Score::logit, 4);
}

TEST_CASE("max_pool2d backward matches finite differences") {
  check_gradient(small_arch(8, 8, {pool("p", 2, 2, 2, 2)}), 0, Score::logit, 5);
  check_gradient(small_arch(7, 9, {pool("p", 3, 3, 2, 2, Padding::same)}), 0, Score::logit, 6);
}

TEST_CASE("batch_norm, dropout and flatten backward match finite differences") {
  check_gradient(small_arch(5, 5, {simple(LayerType::batch_norm, "bn")}), 0, Score::logit, 7);
  check_gradient(small_arch(5, 5, {simple(LayerType::dropout, "drop")}), 0, Score::probability, 8);
}

TEST_CASE("dense backward (relu, linear, softmax head) matches finite differences") {
  Architecture a = small_arch(4, 4, {}, 4, Activation::softmax);
  a.layers.insert(a.layers.begin() + 1, dense("hidden", 12, Activation::relu));
  REQUIRE(check_architecture(a).ok());
  check_gradient(a, 0, Score::logit, 9);
  check_gradient(a, 0, Score::probability, 10);
}

TEST_CASE("the seed network's gradients at every conv layer match finite differences") {
  Architecture a = seed_architecture();
  for (int i = 0; i < int(a.layers.size()); ++i)
    if (a.layers[size_t(i)].type == LayerType::conv2d) {
      CAPTURE(a.layers[size_t(i)].name);
      // The gradient at layer i's output is the one every CAM method uses.
      check_gradient(a, i + 1, Score::logit, 11, 40);
    }
  check_gradient(a, 5, Score::probability, 12, 40);   // conv2d_2
  check_gradient(a, 16, Score::probability, 12, 40);  // conv2d_8
  check_gradient(a, 0, Score::logit, 13, 40);          // down to the input (saliency)  // down to the input (saliency)
}
