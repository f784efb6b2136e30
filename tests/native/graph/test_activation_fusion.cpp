// A Relu or Clip fused into the convolution before it (graph/activation_fusion.h) changes no value
// a pass reads: maps at the fused convolution and at the activation, probabilities and gradients
// down to the input, under every ReLU rule, are those of a network that fuses nothing (one that
// keeps every value), bit for bit; and a pass fuses exactly where nothing reads the convolution's
// own output.
#include <doctest/doctest.h>

#include <limits>

#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

namespace {

using namespace gradcam;

struct FusionGraph {
  Model model;
  int stem = -1, stem_clip = -1, depthwise = -1, depthwise_relu = -1, pointwise = -1, pointwise_clip = -1,
      shared = -1, shared_relu = -1;  // node indices
};

// MobileNetV2's pattern (Conv then ReLU6, depthwise then ReLU6, a 1x1 projection), with a Relu
// after the depthwise instead, and a convolution whose output a Relu and an Add both read (not
// fusable). Each kind of kernel takes the clamp: Winograd (the 3x3 stem), depthwise, the direct
// 1x1, a strided direct one. The bounds are within the values, so both are reached.
FusionGraph fusion_graph() {
  testing::GraphBuilder b(11, 10, 3);
  FusionGraph f;
  auto conv = [&](int x, int oc, int k, int stride, int groups, uint64_t seed) {
    OpAttributes a;
    a.kh = a.kw = k, a.sh = a.sw = stride, a.pad_t = a.pad_l = a.pad_b = a.pad_r = k / 2;
    a.groups = groups, a.out_channels = oc;
    const size_t taps = size_t(k) * k * size_t(b.value(x).shape.c / groups);
    return b.add("Conv", {x}, a, {testing::random_vector(taps * size_t(oc), seed, -0.4f, 0.4f),
                                  testing::random_vector(size_t(oc), seed + 1, -0.2f, 0.2f)});
  };
  auto clip = [&](int x, float lo, float hi) {
    OpAttributes a;
    a.lo = lo, a.hi = hi;
    return b.add("Clip", {x}, a);
  };
  auto node = [&](int value) { return b.value(value).producer; };
  const int stem = conv(0, 8, 3, 1, 1, 300);
  const int stem_clip = clip(stem, 0.f, 0.6f);
  const int depthwise = conv(stem_clip, 8, 3, 2, 8, 302);
  const int depthwise_relu = b.add("Relu", {depthwise});
  const int pointwise = conv(depthwise_relu, 12, 1, 1, 1, 304);
  const int pointwise_clip = clip(pointwise, -0.1f, 0.15f);
  const int shared = conv(pointwise_clip, 12, 3, 2, 1, 306);
  const int shared_relu = b.add("Relu", {shared});
  const int sum = b.add("Add", {shared_relu, shared});
  const int features = b.add("GlobalAveragePool", {sum});
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  const int flat = b.add("Flatten", {features}, flatten);
  OpAttributes dense;
  dense.out_channels = 5;
  const int logits =
      b.add("Gemm", {flat}, dense, {testing::random_vector(12 * 5, 308, -0.5f, 0.5f), testing::random_vector(5, 309)});
  f.stem = node(stem), f.stem_clip = node(stem_clip), f.depthwise = node(depthwise);
  f.depthwise_relu = node(depthwise_relu), f.pointwise = node(pointwise), f.pointwise_clip = node(pointwise_clip);
  f.shared = node(shared), f.shared_relu = node(shared_relu);
  f.model = b.model(logits);
  return f;
}

// The activation clamps some of the convolution's outputs at each of its bounds (and passes
// others), so the fused epilogue's bounds are exercised: a test that never reached them would pass
// with any clamp.
void check_reaches_bounds(const Network& all, int conv, float lo, float hi) {
  CAPTURE(conv);
  int below = 0, inside = 0, above = 0;
  for (float v : all.output(conv)) below += v < lo, inside += v > lo && v < hi, above += v > hi;
  CHECK(below > 0);
  CHECK(inside > 0);
  if (hi < std::numeric_limits<float>::infinity()) CHECK(above > 0);
}

}  // namespace

TEST_CASE("a Relu or Clip fused into its convolution gives the maps and gradients of an unfused network") {
  const FusionGraph f = fusion_graph();
  const std::vector<float> input = testing::random_vector(11 * 10 * 3, 310, -1.f, 1.f);
  Network all(f.model), by_pass(f.model, NetworkMemory::by_pass);
  all.forward(input.data());
  check_reaches_bounds(all, f.stem, 0.f, 0.6f);
  check_reaches_bounds(all, f.depthwise, 0.f, std::numeric_limits<float>::infinity());
  check_reaches_bounds(all, f.pointwise, -0.1f, 0.15f);

  SUBCASE("Grad-CAM at every convolution and activation, each planned alone") {
    for (int layer : {f.stem, f.stem_clip, f.depthwise, f.depthwise_relu, f.pointwise, f.pointwise_clip, f.shared,
                      f.shared_relu}) {
      CAPTURE(layer);
      ExplainOptions o;
      o.layer = layer;
      auto kept = explain(all, input.data(), o);
      auto fused = explain(by_pass, input.data(), o);
      REQUIRE(kept);
      REQUIRE(fused);
      CHECK(kept->cam.values == fused->cam.values);
      CHECK(kept->probabilities == fused->probabilities);
      // A convolution that is the explained layer keeps its output; every other pair is fused.
      CHECK(by_pass.fused_activation(f.stem) == (layer == f.stem ? -1 : f.stem_clip));
      CHECK(by_pass.fused_activation(f.depthwise) == (layer == f.depthwise ? -1 : f.depthwise_relu));
      CHECK(by_pass.fused_activation(f.pointwise) == (layer == f.pointwise ? -1 : f.pointwise_clip));
      CHECK(by_pass.fused_activation(f.shared) == -1);  // the Add reads its output too
    }
  }

  SUBCASE("gradients down to the input through every fused pair, under each ReLU rule") {
    std::vector<float> dscore = testing::random_vector(5, 311, -1.f, 1.f);
    REQUIRE(by_pass.plan_pass({{}, -1}));
    for (ReluBackward rule : {ReluBackward::standard, ReluBackward::guided, ReluBackward::deconvnet}) {
      CAPTURE(int(rule));
      all.forward(input.data());
      all.backward(dscore.data(), -1, rule);
      by_pass.forward(input.data());
      by_pass.backward(dscore.data(), -1, rule);
      CHECK(by_pass.fused_activation(f.stem) == f.stem_clip);
      CHECK(by_pass.fused_activation(f.depthwise) == f.depthwise_relu);
      CHECK(by_pass.fused_activation(f.pointwise) == f.pointwise_clip);
      CHECK(by_pass.logits() == all.logits());
      CHECK(std::vector<float>(by_pass.input_grad()) == std::vector<float>(all.input_grad()));
    }
  }

  SUBCASE("a forward alone (predict) fuses every pair and holds less") {
    REQUIRE(by_pass.plan_pass({}));
    by_pass.forward(input.data());
    CHECK(by_pass.logits() == all.logits());
    CHECK(by_pass.probabilities() == all.probabilities());
    for (int conv : {f.stem, f.depthwise, f.pointwise}) CHECK(by_pass.fused_activation(conv) == conv + 1);
    // A network that keeps every value fuses nothing.
    for (int i = 0; i < all.layer_count(); ++i) CHECK(all.fused_activation(i) == -1);
  }
}
