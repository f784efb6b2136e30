// Captum's attributions at the input: the facts their papers state (completeness of Integrated
// Gradients, Input x Gradient as the input times the gradient, GradientSHAP's expectation on a
// linear model) and Occlusion's windows and averaging on cases small enough to check by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "gradcam/methods.h"
#include "methods/attribution.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

float target_score(Network& net, const std::vector<float>& x, int target) {
  net.forward(x.data());
  return net.logits()[size_t(target)];
}

double sum(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += x;
  return s;
}

}  // namespace

TEST_CASE("Gauss-Legendre on [0, 1] has numpy's nodes and integrates polynomials of degree 2n-1 exactly") {
  const Quadrature two = gauss_legendre(2), three = gauss_legendre(3);
  CHECK(two.alphas[0] == doctest::Approx(0.5 - 0.5 / std::sqrt(3.0)).epsilon(1e-12));
  CHECK(two.alphas[1] == doctest::Approx(0.5 + 0.5 / std::sqrt(3.0)).epsilon(1e-12));
  CHECK(two.weights[0] == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(three.alphas[1] == doctest::Approx(0.5).epsilon(1e-12));
  CHECK(three.weights[0] == doctest::Approx(5.0 / 18).epsilon(1e-12));
  CHECK(three.weights[1] == doctest::Approx(8.0 / 18).epsilon(1e-12));
  CHECK(gauss_legendre(1).alphas[0] == doctest::Approx(0.5));
  for (int n : {1, 7, 50, 1000}) {
    CAPTURE(n);
    const Quadrature q = gauss_legendre(n);
    for (size_t i = 1; i < q.alphas.size(); ++i) REQUIRE(q.alphas[i] > q.alphas[i - 1]);  // ascending, as leggauss
    for (int k = 0; k <= std::min(2 * n - 1, 60); ++k) {
      double integral = 0;
      for (size_t i = 0; i < q.alphas.size(); ++i) integral += q.weights[i] * std::pow(q.alphas[i], k);
      CHECK(integral == doctest::Approx(1.0 / (k + 1)).epsilon(1e-10));
    }
  }
}

TEST_CASE("Integrated Gradients is complete: its attributions sum to score(x) - score(baseline)") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), pool("p", 2, 2, 2, 2)}, 3);
  Model model = random_model(arch, 51);
  Network net(model);
  const auto input = random_vector(8 * 8 * 3, 52);
  ExplainOptions o;
  o.method = Method::integrated_gradients;
  o.target = 1;
  for (Baseline b : {Baseline::black, Baseline::blur, Baseline::noise, Baseline::zero}) {
    CAPTURE(baseline_name(b));
    o.baseline = b;
    const std::vector<float> base = baseline_input(arch, input.data(), b, o.seed);
    const double expected = double(target_score(net, input, 1)) - target_score(net, base, 1);
    REQUIRE(std::abs(expected) > 1e-3);
    // The integrand is piecewise constant along the path (ReLUs), so the quadrature's error shrinks
    // with the steps; at 1000 it is well under 1%.
    o.ig_steps = 1000;
    auto e = explain(net, input.data(), o);
    REQUIRE(e.ok());
    REQUIRE(e->attribution.size() == input.size());
    CHECK(sum(e->attribution) == doctest::Approx(expected).epsilon(5e-3));
    CHECK(e->logits == net.logits());  // the network is left holding the explained image
    // The map is |sum over colour channels| per pixel.
    for (size_t p = 0; p < 64; ++p)
      CHECK(e->cam.values[p] == doctest::Approx(std::abs(e->attribution[3 * p] + e->attribution[3 * p + 1] + e->attribution[3 * p + 2])));
  }
  // On a network that is linear in its input the integrand is constant: one step is exact.
  Architecture linear = small_arch(6, 6, {conv("c1", 2, 3, 3, 1, 1, Padding::same, Activation::linear)}, 3);
  Model lm = random_model(linear, 53);
  Network ln(lm);
  const auto x = random_vector(6 * 6 * 3, 54);
  o.ig_steps = 1;
  o.baseline = Baseline::zero;
  auto e = explain(ln, x.data(), o);
  REQUIRE(e.ok());
  CHECK(sum(e->attribution) == doctest::Approx(double(target_score(ln, x, 1)) - target_score(ln, std::vector<float>(x.size(), 0.f), 1)).epsilon(1e-4));
}

TEST_CASE("the black baseline is a black image in the model's input space; noise is seeded") {
  Architecture arch = small_arch(4, 4, {}, 2);
  arch.mean = {0.5f, 0.25f, 0.f};
  arch.std = {0.5f, 0.25f, 2.f};
  const auto input = random_vector(4 * 4 * 3, 55);
  const auto black = baseline_input(arch, input.data(), Baseline::black, 1);
  for (size_t i = 0; i < black.size(); i += 3) {
    CHECK(black[i] == -1.f);
    CHECK(black[i + 1] == -1.f);
    CHECK(black[i + 2] == 0.f);
  }
  CHECK(baseline_input(arch, input.data(), Baseline::noise, 7) == baseline_input(arch, input.data(), Baseline::noise, 7));
  CHECK(baseline_input(arch, input.data(), Baseline::noise, 7) != baseline_input(arch, input.data(), Baseline::noise, 8));
  const auto noise = baseline_input(arch, input.data(), Baseline::noise, 7);
  for (size_t i = 0; i < noise.size(); ++i) {  // pixels 0..255, normalised: from black to white
    const size_t k = i % 3;
    CHECK(noise[i] >= black[k]);
    CHECK(noise[i] <= (1.f - arch.mean[k]) / arch.std[k]);
  }
}

TEST_CASE("Input x Gradient is the input times saliency's signed gradient") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), pool("p", 2, 2, 2, 2)}, 3);
  Model model = random_model(arch, 61);
  Network net(model);
  const auto input = random_vector(8 * 8 * 3, 62);
  ExplainOptions o;
  o.method = Method::saliency;
  REQUIRE(explain(net, input.data(), o).ok());
  const std::vector<float> gradient = net.input_grad();
  o.method = Method::input_x_gradient;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  REQUIRE(e->attribution.size() == input.size());
  double largest = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    CHECK(e->attribution[i] == input[i] * gradient[i]);
    largest = std::max(largest, double(std::abs(gradient[i])));
  }
  CHECK(largest > 0);
}

TEST_CASE("Deconvolution's attribution is the gradient through ReLUs that pass ReLU of the incoming gradient") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), pool("p", 2, 2, 2, 2)}, 3);
  Model model = random_model(arch, 63);
  Network net(model);
  const auto input = random_vector(8 * 8 * 3, 64);
  ExplainOptions o;
  o.method = Method::deconvolution;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  net.forward(input.data());
  std::vector<float> d(3, 0.f);
  d[size_t(e->target)] = 1.f;
  net.backward(d.data(), -1, ReluBackward::deconvnet);
  CHECK(e->attribution == net.input_grad());
  net.backward(d.data(), -1, ReluBackward::guided);
  CHECK(e->attribution != net.input_grad());  // the forward mask matters to guided backprop, not here
}

TEST_CASE("GradientSHAP on a linear model is the gradient times (x - baseline), whatever the draws") {
  Architecture linear = small_arch(6, 6, {conv("c1", 2, 3, 3, 1, 1, Padding::same, Activation::linear)}, 3);
  Model model = random_model(linear, 71);
  Network net(model);
  const auto x = random_vector(6 * 6 * 3, 72);
  ExplainOptions o;
  o.method = Method::integrated_gradients;
  o.baseline = Baseline::noise;
  auto ig = explain(net, x.data(), o);
  o.method = Method::gradient_shap;
  o.gradient_shap_samples = 7;
  auto shap = explain(net, x.data(), o), again = explain(net, x.data(), o);
  REQUIRE((ig.ok() && shap.ok() && again.ok()));
  CHECK(shap->attribution == again->attribution);  // seeded
  for (size_t i = 0; i < x.size(); ++i) CHECK(shap->attribution[i] == doctest::Approx(ig->attribution[i]).epsilon(1e-4).scale(1e-6));
  o.baseline.reset();  // black, blur and noise drawn at random: seeded too
  auto mixed = explain(net, x.data(), o), mixed_again = explain(net, x.data(), o);
  REQUIRE((mixed.ok() && mixed_again.ok()));
  CHECK(mixed->attribution == mixed_again->attribution);
}

TEST_CASE("Occlusion: each pixel gets the mean score drop of the windows covering it, windows cut at the border") {
  // A linear model: occluding a set of pixels with zero drops the score by the sum of what each
  // pixel alone contributes, so the expected attribution follows from single-pixel drops.
  Architecture linear = small_arch(5, 5, {conv("c1", 2, 1, 1, 1, 1, Padding::same, Activation::linear)}, 2);
  Model model = random_model(linear, 81);
  Network net(model);
  const auto x = random_vector(5 * 5 * 3, 82);
  const float original = target_score(net, x, 0);
  std::vector<double> alone(25);
  for (int p = 0; p < 25; ++p) {
    std::vector<float> y = x;
    for (int k = 0; k < 3; ++k) y[size_t(p) * 3 + size_t(k)] = 0.f;
    alone[size_t(p)] = double(original) - target_score(net, y, 0);
  }
  auto window_drop = [&](int y0, int x0, int size) {
    double d = 0;
    for (int y = y0; y < std::min(5, y0 + size); ++y)
      for (int xx = x0; xx < std::min(5, x0 + size); ++xx) d += alone[size_t(y) * 5 + size_t(xx)];
    return d;
  };
  ExplainOptions o;
  o.method = Method::occlusion;
  o.target = 0;
  // Window 3, stride 2 on 5 pixels: ceil((5 - 3) / 2) + 1 = 2 positions per axis, at 0 and 2.
  // Row/column 2 is covered by both positions, the others by one.
  o.occlusion_window = 3;
  o.occlusion_stride = 2;
  auto e = explain(net, x.data(), o);
  REQUIRE(e.ok());
  auto starts = [](int i) { return i < 2 ? std::vector<int>{0} : i == 2 ? std::vector<int>{0, 2} : std::vector<int>{2}; };
  for (int y = 0; y < 5; ++y)
    for (int xx = 0; xx < 5; ++xx) {
      double total = 0;
      int count = 0;
      for (int y0 : starts(y))
        for (int x0 : starts(xx)) total += window_drop(y0, x0, 3), ++count;
      CAPTURE(y);
      CAPTURE(xx);
      for (int k = 0; k < 3; ++k)
        CHECK(e->attribution[(size_t(y) * 5 + size_t(xx)) * 3 + size_t(k)] == doctest::Approx(total / count).epsilon(1e-4).scale(1e-5));
    }
  // Window 2, stride 2: 3 positions (0, 2, 4), the last one cut to one pixel at the border.
  o.occlusion_window = 2;
  e = explain(net, x.data(), o);
  REQUIRE(e.ok());
  CHECK(e->attribution[(4 * 5 + 4) * 3] == doctest::Approx(alone[24]).epsilon(1e-4));
  CHECK(e->attribution[0] == doctest::Approx(window_drop(0, 0, 2)).epsilon(1e-4));
  CHECK(e->logits == net.logits());
  // Captum's conditions, as errors a person can act on.
  o.occlusion_window = 6;
  CHECK(explain(net, x.data(), o).error() == "the occlusion window must be 1..5 pixels (the input is 5x5), got 6");
  o.occlusion_window = 2;
  o.occlusion_stride = 3;
  CHECK(explain(net, x.data(), o).error() == "the occlusion stride must be 1 to the window (2 pixels) so that every pixel is occluded, got 3");
}
