// The network from a layer on (Network::forward_after) and the methods built on it: AblationCAM,
// ShapleyCAM and FullGrad, checked against the same quantities computed another way (a full
// forward, finite differences of the score in the model's own parameters).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

Architecture two_convs(Activation head = Activation::linear) {
  return small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), conv("c2", 5, 3, 3, 2, 2, Padding::same)}, 3, head);
}

}  // namespace

TEST_CASE("forward from a layer with its own activations reproduces the forward; with others, the chain's forward from there") {
  Model model = random_model(two_convs(), 41);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 42);
  net.forward(input.data());
  const std::vector<float> logits = net.logits(), A = net.output(0);
  net.forward_after(0, A.data());
  CHECK(net.logits() == logits);

  std::vector<float> changed = A;
  for (size_t i = 0; i < changed.size(); i += 3) changed[i] = 0.f;
  net.forward_after(0, changed.data());
  const std::vector<float> after = net.logits();
  CHECK(after != logits);
  net.forward(input.data());
  net.forward_from(1, changed.data());  // node 1 reads node 0's output: the same computation
  CHECK(net.logits() == after);
}

TEST_CASE("AblationCAM: w_k is the relative drop of the target's logit with channel k at 0 (after a ReLU)") {
  Model model = random_model(two_convs(), 43);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 44);
  ExplainOptions o;
  o.layer = 1;
  o.method = Method::ablationcam;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  CHECK(net.logits() == e->logits);  // the network is left holding this image's activations

  net.forward(input.data());
  const std::vector<float> A = net.output(1);
  REQUIRE(*std::min_element(A.begin(), A.end()) == 0.f);  // a ReLU layer: ablated to 0
  const float y = net.logits()[size_t(e->target)];
  const int c = 5;
  std::vector<float> w(c);
  for (int k = 0; k < c; ++k) {
    std::vector<float> ablated = A;
    for (size_t i = size_t(k); i < ablated.size(); i += c) ablated[i] = 0.f;
    net.forward(input.data());
    net.forward_from(2, ablated.data());
    w[size_t(k)] = (y - net.logits()[size_t(e->target)]) / y;
  }
  Map expect = weighted_channel_sum(A.data(), w.data(), 4, 4, c);
  REQUIRE(e->cam.values.size() == expect.values.size());
  for (size_t i = 0; i < expect.values.size(); ++i) CHECK(e->cam.values[i] == doctest::Approx(expect.values[i]).epsilon(1e-5));
}

TEST_CASE("ShapleyCAM: with the logit and a linear head the Hessian term vanishes, leaving Grad-CAM") {
  Model model = random_model(two_convs(), 45);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 46);
  ExplainOptions o;
  o.layer = 1;  // after c2 only flatten and a linear dense: the logit is linear in A
  o.method = Method::shapleycam;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  CHECK(net.logits() == e->logits);
  net.forward(input.data());
  std::vector<float> d(3, 0.f);
  d[size_t(e->target)] = 1.f;
  net.backward(d.data(), 1);
  Map g = grad_cam(net.output(1).data(), net.output_grad(1).data(), 4, 4, 5);
  const float top = *std::max_element(g.values.begin(), g.values.end());
  for (size_t i = 0; i < g.values.size(); ++i) CHECK(std::abs(e->cam.values[i] - g.values[i]) <= 1e-4f * top);

  // With the probability the score is curved in A; that term is checked against autograd in
  // tests/js/methods_ablation_crosscheck.test.mjs. Here: a finite map.
  o.score = Score::probability;
  auto p = explain(net, input.data(), o);
  REQUIRE(p.ok());
  CHECK(std::all_of(p->cam.values.begin(), p->cam.values.end(), [](float v) { return std::isfinite(v) && v >= 0.f; }));
}

TEST_CASE("FullGrad's bias gradients are the score's finite differences in each conv's bias") {
  Architecture arch = two_convs();
  Model model = random_model(arch, 47);
  auto input = random_vector(8 * 8 * 3, 48);
  Network net(model);
  net.forward(input.data());
  const int target = 2;
  std::vector<float> d(3, 0.f);
  d[target] = 1.f;
  net.backward(d.data(), -1);
  for (int layer : {0, 1}) {
    const std::string name = arch.layers[size_t(layer)].name;
    const int c = net.output_shape(layer).c;
    // d score / d b_k: the output's gradient summed over positions where the fused ReLU passes.
    std::vector<double> analytic(size_t(c), 0.0);
    for (size_t i = 0; i < net.output(layer).size(); ++i)
      if (net.output(layer)[i] > 0.f) analytic[i % size_t(c)] += net.output_grad(layer)[i];
    for (int k = 0; k < c; ++k) {
      CAPTURE(name);
      CAPTURE(k);
      const float h = 1e-3f;  // 1e-2 moves c2's ReLUs across their kinks (measured: 25 % off at c1)
      double score[2];
      for (int s = 0; s < 2; ++s) {
        Model moved = model;
        moved.params[name + ".bias"][size_t(k)] += s == 0 ? h : -h;
        Network other(moved);
        other.forward(input.data());
        score[s] = other.logits()[target];
      }
      CHECK((score[0] - score[1]) / (2 * h) == doctest::Approx(analytic[size_t(k)]).epsilon(5e-3));
    }
  }
  // The map: input resolution, non-negative, and the explained layer plays no part.
  ExplainOptions o;
  o.method = Method::fullgrad;
  o.target = target;
  o.layer = 0;
  auto a = explain(net, input.data(), o);
  o.layer = 1;
  auto b = explain(net, input.data(), o);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->cam.height == 8);
  CHECK(a->cam.width == 8);
  CHECK(a->cam.values == b->cam.values);
  CHECK(std::all_of(a->cam.values.begin(), a->cam.values.end(), [](float v) { return std::isfinite(v) && v >= 0.f; }));
}
