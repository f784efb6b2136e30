// The engine's limits on one value (check_output_limits): a 4-D value's sides and channels, any
// value's size. A [1,n] value keeps n where a 4-D one keeps its channels, and is limited by its
// size alone: a Flatten of 64x64x32 (131,072 values) is an ordinary classifier head.
#include <doctest/doctest.h>

#include <numeric>

#include "gradcam/model.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

using namespace gradcam;

namespace {

constexpr int kFlattened = 64 * 64 * 32;
static_assert(kFlattened > ModelLimits::kMaxChannels);

void check_runs(const Model& model, int flatten_node) {
  Network net(model);
  const Value& flat = net.graph().output_of(flatten_node);
  CHECK(flat.rank == 2);
  CHECK(flat.shape.size() == kFlattened);
  net.forward(testing::random_vector(64 * 64 * 3, 3).data());
  const std::vector<float>& p = net.probabilities();
  REQUIRE(p.size() == 3);
  CHECK(std::accumulate(p.begin(), p.end(), 0.f) == doctest::Approx(1.f));
}

}  // namespace

TEST_CASE("a model file whose Flatten gives more than 65,536 values loads and runs") {
  using testing::conv;
  const Model m = random_model(testing::small_arch(64, 64, {conv("conv", 32, 3, 3, 1, 1, Padding::same)}), 10);
  check_runs(m, 1);
}

TEST_CASE("an ONNX-shaped graph whose Flatten gives more than 65,536 values builds and runs") {
  testing::GraphBuilder b(64, 64, 3);
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  const int flat = b.add("Flatten", {b.conv(0, 32, 3, 1, 1, true, 20)}, flatten);
  OpAttributes head;
  head.out_channels = 3;
  const Model m = b.model(b.add("Gemm", {flat}, head,
                                {testing::random_vector(size_t(kFlattened) * 3, 22, -0.01f, 0.01f), testing::random_vector(3, 23)}));
  check_runs(m, 1);
}

TEST_CASE("a 4-D value is still limited to 65,536 channels") {
  testing::GraphBuilder b(1, 1, 1);
  const int wide = b.conv(0, ModelLimits::kMaxChannels + 1, 1, 1, 1, false, 30);
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  OpAttributes head;
  head.out_channels = 1;
  const int logits = b.add("Gemm", {b.add("Flatten", {wide}, flatten)}, head,
                           {testing::random_vector(size_t(ModelLimits::kMaxChannels) + 1, 32), testing::random_vector(1, 33)});
  CHECK_THROWS_WITH(b.model(logits), doctest::Contains("outside the engine's limits"));
}
