// Faithfulness metrics and the sanity check against their papers' definitions, on a network built
// so that the right answer is known: its class-0 logit is the sum of one 2x2 patch of pixels.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "gradcam/metrics.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

constexpr int kSide = 8;
constexpr int kPatchY = 2, kPatchX = 5;  // the patch covers rows 2-3, columns 5-6

bool in_patch(int y, int x) { return y >= kPatchY && y < kPatchY + 2 && x >= kPatchX && x < kPatchX + 2; }

// One 8x8 linear conv (valid: a single output) whose kernel is 1 on the patch and 0 elsewhere, then
// a dense layer giving class 0 that sum and class 1 nothing: p(class 0) depends on the patch only.
Model patch_model() {
  LayerSpec c = conv("look", 1, kSide, kSide, 1, 1, Padding::valid);
  c.activation = Activation::linear;
  Architecture arch = small_arch(kSide, kSide, {c}, 2);
  Model m = random_model(arch, 1);
  std::vector<float>& k = m.params["look.kernel"];  // Keras layout [kh][kw][in][out]
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x)
      for (int ch = 0; ch < 3; ++ch) k[size_t((y * kSide + x) * 3 + ch)] = in_patch(y, x) ? 1.f : 0.f;
  m.params["look.bias"] = {0.f};
  m.params["head.kernel"] = {1.f, 0.f};
  m.params["head.bias"] = {0.f, 0.f};
  return m;
}

// Black with a white patch: p(class 0) = softmax(12, 0) ~ 1, and 0.5 once the patch is gone.
std::vector<float> patch_image() {
  std::vector<float> x(size_t(kSide) * kSide * 3, 0.f);
  for (int y = 0; y < kSide; ++y)
    for (int xx = 0; xx < kSide; ++xx)
      if (in_patch(y, xx))
        for (int ch = 0; ch < 3; ++ch) x[size_t((y * kSide + xx) * 3 + ch)] = 1.f;
  return x;
}

Map patch_map() {
  Map m{kSide, kSide, std::vector<float>(size_t(kSide) * kSide, 0.f)};
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) m.values[size_t(y * kSide + x)] = in_patch(y, x) ? 1.f : 0.f;
  return m;
}

Map random_map(uint64_t seed) {
  return Map{kSide, kSide, random_vector(size_t(kSide) * kSide, seed)};
}

}  // namespace

TEST_CASE("deletion: removing the patch first drops the probability at once; a random order does not") {
  Model model = patch_model();
  Network net(model);
  const auto input = patch_image();
  Curve right = deletion_curve(net, input.data(), patch_map(), 0, 16);
  REQUIRE(right.fraction.size() == 17);
  CHECK(right.fraction.front() == 0.f);
  CHECK(right.fraction.back() == 1.f);
  CHECK(right.probability.front() > 0.99f);                     // the untouched image
  CHECK(right.probability[1] == doctest::Approx(0.5f));        // 4 of 64 pixels: the patch is gone
  CHECK(right.probability.back() == doctest::Approx(0.5f));
  Curve random = deletion_curve(net, input.data(), random_map(3), 0, 16);
  CHECK(right.auc < random.auc);
  CHECK(right.auc == doctest::Approx(0.5 + 0.5 * (right.probability[0] - 0.5) / 16).epsilon(1e-4));
  // The network is left holding the original input.
  CHECK(net.probabilities()[0] == doctest::Approx(right.probability.front()));
}

TEST_CASE("insertion: revealing the patch first beats a random order; it starts from the blurred image") {
  Model model = patch_model();
  Network net(model);
  const auto input = patch_image();
  Curve right = insertion_curve(net, input.data(), patch_map(), 0, 16);
  Curve random = insertion_curve(net, input.data(), random_map(3), 0, 16);
  CHECK(right.auc > random.auc);
  CHECK(right.probability.front() == doctest::Approx(random.probability.front()));  // the same blurred start
  CHECK(right.probability.front() < right.probability.back());
  CHECK(right.probability.back() > 0.99f);  // everything revealed: the image itself
  // The blur keeps the mean of a constant image and spreads a point.
  std::vector<float> flat(size_t(kSide) * kSide * 3, 0.25f);
  for (float v : blurred_input(flat.data(), kSide, kSide, 3)) CHECK(v == doctest::Approx(0.25f));
}

TEST_CASE("noisy linear imputation reproduces a linear image and fills from the neighbours") {
  // Interior pixels of a ramp: the symmetric 8-neighbour mean of a linear function is its value.
  const int h = 9, w = 9;
  std::vector<float> ramp(size_t(h) * w * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) ramp[size_t((y * w + x) * 3 + c)] = 0.1f * float(x) + 0.05f * float(y) + 0.2f * float(c);
  std::vector<uint8_t> removed(size_t(h) * w, 0);
  for (int y = 3; y < 6; ++y)
    for (int x = 2; x < 6; ++x) removed[size_t(y * w + x)] = 1;
  std::vector<float> filled = noisy_linear_imputation(ramp.data(), h, w, 3, removed, 0.f, 1);
  for (size_t i = 0; i < ramp.size(); ++i) CHECK(filled[i] == doctest::Approx(ramp[i]).epsilon(1e-5));
  // With noise, only the removed pixels change, by about the noise's size.
  std::vector<float> noisy = noisy_linear_imputation(ramp.data(), h, w, 3, removed, 0.01f, 1);
  double worst = 0;
  for (size_t p = 0; p < removed.size(); ++p)
    for (int c = 0; c < 3; ++c) {
      const double d = std::abs(noisy[p * 3 + size_t(c)] - ramp[p * 3 + size_t(c)]);
      if (!removed[p]) CHECK(d == 0.0);
      worst = std::max(worst, d);
    }
  CHECK(worst > 0);
  CHECK(worst < 0.1);  // sigma = 0.01 of the range 1.4
}

TEST_CASE("ROAD: most relevant first hurts more, least relevant first hurts less, with the right map") {
  Model model = patch_model();
  Network net(model);
  const auto input = patch_image();
  RoadResult right = road(net, input.data(), patch_map(), 0);
  RoadResult random = road(net, input.data(), random_map(5), 0);
  REQUIRE(right.fractions.size() == 9);
  CHECK(right.fractions.front() == doctest::Approx(0.1f));
  // Removing the patch and imputing it from the black around it loses the evidence.
  for (float p : right.morf) CHECK(p < 0.6f);
  for (float p : right.lerf) CHECK(p > 0.99f);  // the patch is never removed before 94% of the pixels
  CHECK(right.morf_mean < random.morf_mean);
  CHECK(right.lerf_mean > random.lerf_mean);
}

TEST_CASE("ROAD on a global pool's 1x1 map of a 64x64 ResNet-shaped graph imputes every step and gives probabilities") {
  // Once a SIGSEGV in Eigen's SparseLU (gemm_pack_lhs) when the tests and the engine were compiled
  // for different CPUs: the imputation's sparse solve over thousands of removed pixels.
  const Model model = resnet_shaped_model();
  Network net(model);
  const auto input = random_vector(size_t(64) * 64 * 3, 40, -2.f, 2.f);
  int pool = -1;
  for (int node : explainable_nodes(net.graph()))
    if (net.output_shape(node).h == 1 && net.output_shape(node).w == 1) pool = node;
  REQUIRE(pool >= 0);
  ExplainOptions options;
  options.layer = pool;
  auto e = explain(net, input.data(), options);
  REQUIRE(e);
  REQUIRE(e->cam.values.size() == 1);
  const RoadResult r = road(net, input.data(), e->cam, e->target);
  // A constant map: MoRF removes the top rows first, LeRF the bottom ones; 10% to 90% of 4,096
  // pixels imputed at each step.
  REQUIRE(r.fractions.size() == 9);
  REQUIRE(r.morf.size() == 9);
  REQUIRE(r.lerf.size() == 9);
  for (size_t k = 0; k < r.fractions.size(); ++k) {
    CHECK(r.morf[k] >= 0.f);
    CHECK(r.morf[k] <= 1.f);
    CHECK(r.lerf[k] >= 0.f);
    CHECK(r.lerf[k] <= 1.f);
  }
}

TEST_CASE("confidence change: keeping the map's top pixels keeps the prediction only for the right map") {
  Model model = patch_model();
  Network net(model);
  const auto input = patch_image();
  CHECK(confidence_change(net, input.data(), patch_map(), 0, 0.1f) == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(confidence_change(net, input.data(), random_map(9), 0, 0.1f) < -0.3);
}

TEST_CASE("the random-noise baseline is a method: a fixed map at the layer's resolution, blind to the image") {
  Model model = random_model(seed_architecture(), 2);
  Network net(model);
  auto a = random_vector(32 * 32 * 3, 1), b = random_vector(32 * 32 * 3, 2);
  ExplainOptions o;
  o.method = *parse_method("random-noise");
  auto ra = explain(net, a.data(), o), ra2 = explain(net, a.data(), o), rb = explain(net, b.data(), o);
  REQUIRE(ra.ok());
  CHECK(ra->cam.height == ra->layer_shape.h);
  CHECK(ra->cam.values == ra2->cam.values);
  CHECK(ra->cam.values == rb->cam.values);  // knows nothing of the image
  o.layer = *find_layer(net.graph(), "conv2d_2");
  auto other = explain(net, a.data(), o);
  CHECK(other->cam.height == 15);
  CHECK(std::set<float>(other->cam.values.begin(), other->cam.values.end()).size() == other->cam.values.size());
}

TEST_CASE("Spearman's rank correlation and SSIM") {
  CHECK(spearman_correlation({1, 2, 3, 4}, {10, 20, 30, 400}) == doctest::Approx(1.0));
  CHECK(spearman_correlation({1, 2, 3, 4}, {4, 3, 2, 1}) == doctest::Approx(-1.0));
  CHECK(spearman_correlation({1, 1, 2}, {1, 2, 3}) == doctest::Approx(std::sqrt(3.0) / 2));  // ranks 1.5, 1.5, 3
  CHECK(map_ssim({0, 1, 2, 3}, {0, 2, 4, 6}) == doctest::Approx(1.0));  // compared after normalisation
  CHECK(map_ssim({0, 1, 2, 3}, {3, 2, 1, 0}) < 0);
}

TEST_CASE("sanity check: cascading randomisation changes Grad-CAM's map; the same weights change nothing") {
  const auto input = random_vector(32 * 32 * 3, 4);
  ExplainOptions o;
  o.method = Method::gradcam;
  o.layer = *find_layer(*graph_from_model(random_model(seed_architecture(), 1)), "conv2d_6");
  // Re-initialising with the model's own initialisation gives the model back: every step agrees.
  Model same = random_model(seed_architecture(), 7);
  auto unchanged = sanity_check(same, input.data(), o, 7);
  REQUIRE(unchanged.ok());
  for (const SanityStep& s : unchanged->steps) {
    CHECK(s.spearman == doctest::Approx(1.0));
    CHECK(s.ssim == doctest::Approx(1.0));
  }
  // Every layer with weights, from the top: the dense layers, the batch norms and the conv layers.
  CHECK(unchanged->steps.front().layer == "dense_2");
  CHECK(unchanged->steps.back().layer == "conv2d");
  // Other weights: the map must follow them.
  auto changed = sanity_check(random_model(seed_architecture(), 3), input.data(), o, 11);
  REQUIRE(changed.ok());
  CHECK(changed->steps.back().spearman < 0.9);
  CHECK(changed->steps.back().map.values != changed->original.values);
}
