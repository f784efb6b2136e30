// A network that keeps only what a pass reads (NetworkMemory::by_pass: liveness, shared buffers,
// gradients only down to the explained layer) gives the same answers, bit for bit, as one that keeps
// every value and gradient, for every method at several layers, and holds less.
#include <doctest/doctest.h>

#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

namespace {

using namespace gradcam;

// Residual sums, a concat, a value read three times, dense and depthwise convolutions, a pooling,
// and a dense head: values whose lifetimes cross, so buffers are shared only where they may be.
Model residual_model() {
  testing::GraphBuilder b(14, 12, 3);
  auto conv = [&](int x, int oc, int k, int groups, uint64_t seed) { return b.conv(x, oc, k, 1, groups, true, seed); };
  const int stem = conv(0, 8, 3, 1, 90);                             // dense 3x3 (Winograd)
  const int depthwise = conv(conv(stem, 8, 1, 1, 92), 8, 3, 8, 94);  // 1x1 then depthwise 3x3
  const int sum = b.add("Add", {depthwise, stem});
  const int block = conv(sum, 8, 3, 1, 96);
  const int sum2 = b.add("Add", {block, sum});
  const int joined = b.add("Concat", {sum2, stem, depthwise});
  const int late = conv(joined, 6, 1, 1, 98);
  OpAttributes pool;
  pool.kh = pool.kw = 2, pool.sh = pool.sw = 2;
  const int pooled = b.add("MaxPool", {late}, pool);
  const int features = b.add("GlobalAveragePool", {pooled});
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  const int flat = b.add("Flatten", {features}, flatten);
  OpAttributes dense;
  dense.out_channels = 4;
  const int logits = b.add("Gemm", {flat}, dense, {testing::random_vector(6 * 4, 100, -0.5f, 0.5f), testing::random_vector(4, 101)});
  return b.model(logits);
}

void check_same(const Explanation& kept, const Explanation& planned) {
  CHECK(kept.cam.values == planned.cam.values);
  CHECK(kept.attribution == planned.attribution);
  CHECK(kept.probabilities == planned.probabilities);
  CHECK(kept.target == planned.target);
}

void check_every_method(const Model& model, const std::vector<float>& input) {
  Network all(model), by_pass(model, NetworkMemory::by_pass);
  const std::vector<int> layers = explainable_nodes(all.graph());
  REQUIRE(layers.size() >= 3);
  for (int layer : {layers.front(), layers[layers.size() / 2], layers.back()}) {
    for (const MethodDescriptor& m : method_table()) {
      CAPTURE(m.name);
      CAPTURE(layer);
      ExplainOptions o;
      o.layer = layer;
      o.method = m.id;
      o.smoothgrad_samples = 3, o.ig_steps = 3, o.gradient_shap_samples = 3;
      auto kept = explain(all, input.data(), o);
      auto planned = explain(by_pass, input.data(), o);
      REQUIRE(bool(kept) == bool(planned));
      if (kept) check_same(*kept, *planned);
      else CHECK(kept.error() == planned.error());  // a method this layer does not take
    }
  }
  ExplainOptions o;
  auto kept = explain_all_layers(all, input.data(), o);
  auto planned = explain_all_layers(by_pass, input.data(), o);
  REQUIRE(kept);
  REQUIRE(planned);
  REQUIRE(kept->size() == planned->size());
  for (size_t i = 0; i < kept->size(); ++i) check_same((*kept)[i], (*planned)[i]);
}

}  // namespace

TEST_CASE("planning a pass's memory changes no map, attribution or probability (every method, three layers)") {
  SUBCASE("a graph with residual sums and a concat") {
    check_every_method(residual_model(), testing::random_vector(14 * 12 * 3, 102));
  }
  SUBCASE("the seed network") {
    check_every_method(random_model(seed_architecture(), 103), testing::random_vector(32 * 32 * 3, 104));
  }
}

TEST_CASE("a Grad-CAM at a late layer holds fewer floats than keeping every value and gradient") {
  const Model model = residual_model();
  Network all(model), by_pass(model, NetworkMemory::by_pass);
  const std::vector<float> input = testing::random_vector(14 * 12 * 3, 105);
  ExplainOptions o;
  REQUIRE(explain(all, input.data(), o));
  REQUIRE(explain(by_pass, input.data(), o));
  size_t every = 0;  // every value and its gradient (each buffer is rounded up to 64 bytes)
  for (const Value& v : all.graph().values) every += 2 * size_t(v.shape.size());
  CHECK(all.planned_floats() >= every);
  CHECK(all.planned_floats() <= every + 2 * 16 * all.graph().values.size());
  CHECK(by_pass.planned_floats() < every / 2);
  CHECK(by_pass.planned_floats() == by_pass.floats_for({{all.graph().default_layer}, all.graph().default_layer}));
  // A forward alone keeps the input and the logits and shares everything else: never more.
  CHECK(by_pass.floats_for({}) <= by_pass.planned_floats());
  CHECK(by_pass.floats_for({}) < every / 2);
  // A network that keeps everything ignores the plan.
  CHECK(all.floats_for({}) == all.planned_floats());
}
