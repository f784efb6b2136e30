// Engine::predict (the JS API's predict(), the CLI's accuracy) reports a pass the platform cannot
// hold as an error, as explain does, instead of running a forward into buffers it never planned.
#include <doctest/doctest.h>

#include <string>

#include "gradcam/engine.h"
#include "../test_helpers.h"

using namespace gradcam;

namespace {

// A model whose forward alone holds more than ModelLimits::kMaxPassBytes at once: branches, each a
// tiny input padded to the largest tensor, all still live when one Sum reads them. Nothing that size
// is allocated: the plan is refused first.
Model model_over_the_pass_limit() {
  const int side = ModelLimits::kMaxSide;
  const int channels = int(ModelLimits::kMaxTensorElements / (int64_t(side) * side));
  testing::GraphBuilder b(2, 2, channels);
  const size_t branch_bytes = size_t(ModelLimits::kMaxTensorElements) * sizeof(float);
  const size_t branches = ModelLimits::kMaxPassBytes / branch_bytes + 1;
  OpAttributes pad;
  pad.pad_b = pad.pad_r = side - 2;
  std::vector<int> padded;
  for (size_t k = 0; k < branches; ++k) padded.push_back(b.add("Pad", {0}, pad));
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  OpAttributes head;
  head.out_channels = 2;
  const int features = b.add("Flatten", {b.add("GlobalAveragePool", {b.add("Sum", padded)})}, flatten);
  return b.model(b.add("Gemm", {features}, head,
                       {testing::random_vector(size_t(channels) * 2, 1), testing::random_vector(2, 2)}));
}

}  // namespace

TEST_CASE("predict returns the error of a pass too big for this platform, every time, and runs nothing") {
  Engine engine(model_over_the_pass_limit());
  const std::vector<float> input(size_t(engine.arch().height * engine.arch().width * engine.arch().channels), 0.5f);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto p = engine.predict(input);
    REQUIRE_FALSE(p);
    CHECK(p.error().find("this pass would hold") == 0);
    CHECK(p.error().find("MiB this platform allows") != std::string::npos);
    CHECK_FALSE(engine.network().planned());
  }
}

TEST_CASE("predict returns the probabilities of the forward it runs") {
  testing::GraphBuilder b(4, 4, 3);
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  OpAttributes head;
  head.out_channels = 3;
  const int features = b.add("Flatten", {b.add("GlobalAveragePool", {b.conv(0, 4, 3, 1, 1, true, 5)})}, flatten);
  Engine engine(b.model(b.add("Gemm", {features}, head, {testing::random_vector(12, 7), testing::random_vector(3, 8)})));
  auto p = engine.predict(testing::random_vector(4 * 4 * 3, 9));
  REQUIRE(p);
  CHECK(*p == engine.network().probabilities());
  float total = 0.f;
  for (float x : *p) total += x;
  CHECK(total == doctest::Approx(1.f));
}
