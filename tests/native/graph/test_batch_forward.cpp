// A batched forward (Network::forward_batch) gives every image the logits a single forward gives
// it, bit for bit: the convolutions and dense layers run the batch at once with every output's
// arithmetic unchanged, and the other ops run image by image. Score-CAM, which sends its masked
// inputs in batches, gives the map that one forward per channel gives.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "gradcam/map.h"
#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "gradcam/threads.h"
#include "methods/forward_batches.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

// Batches of several sizes (one, odd, the largest Score-CAM uses) against single forwards.
void check_batches_match_single_forwards(const Model& model, float lo, float hi) {
  Network single(model), batched(model, NetworkMemory::by_pass);
  const size_t image = size_t(model_graph(model)->values[0].shape.size());
  for (int batch : {1, 5, 16, 3}) {
    CAPTURE(batch);
    const auto inputs = random_vector(image * size_t(batch), 60 + uint64_t(batch), lo, hi);
    batched.forward_batch(inputs.data(), batch);
    for (int b = 0; b < batch; ++b) {
      CAPTURE(b);
      single.forward(inputs.data() + size_t(b) * image);
      CHECK(batched.batch_logits(b) == single.logits());
      CHECK(batched.batch_probabilities(b) == single.probabilities());
    }
  }
}

// Score-CAM as it ran before batches: one single forward per channel's masked input.
std::vector<float> score_cam_one_by_one(const Model& model, const std::vector<float>& input, int layer, int target, Score score) {
  Network net(model);
  const Architecture& arch = net.arch();
  net.forward(input.data());
  const std::vector<float> a = net.output(layer);
  const Shape s = net.output_shape(layer);
  std::vector<float> weights(size_t(s.c)), plane(size_t(s.h) * s.w), masked(input.size());
  for (int k = 0; k < s.c; ++k) {
    for (int i = 0; i < s.h * s.w; ++i) plane[size_t(i)] = a[size_t(i) * s.c + k];
    std::vector<float> mask = upsample_bilinear_aligned(plane.data(), s.h, s.w, arch.height, arch.width);
    const auto [lo, hi] = std::minmax_element(mask.begin(), mask.end());
    const bool flat = !(*std::max_element(plane.begin(), plane.end()) > *std::min_element(plane.begin(), plane.end()));
    const float low = *lo, range = flat ? 0.f : *hi - *lo;
    for (float& v : mask) v = flat ? 0.f : (v - low) / (range + 1e-8f);
    for (size_t i = 0; i < mask.size(); ++i)
      for (int ch = 0; ch < arch.channels; ++ch) masked[i * arch.channels + ch] = input[i * arch.channels + ch] * mask[i];
    net.forward(masked.data());
    weights[size_t(k)] = target_score(net, target, score);
  }
  const float m = *std::max_element(weights.begin(), weights.end());
  double sum = 0;
  for (float& v : weights) sum += v = std::exp(v - m);
  for (float& v : weights) v = float(v / sum);
  return weighted_channel_sum(a.data(), weights.data(), s.h, s.w, s.c).values;
}

void check_score_cam_matches_one_by_one(const Model& model, const std::vector<float>& input, int layer) {
  Network net(model, NetworkMemory::by_pass);
  for (Score score : {Score::logit, Score::probability}) {
    ExplainOptions o;
    o.method = Method::scorecam;
    o.layer = layer;
    o.score = score;
    auto e = explain(net, input.data(), o);
    REQUIRE_MESSAGE(e, e.error());
    CHECK(e->cam.values == score_cam_one_by_one(model, input, layer, e->target, score));
  }
}

// A conv layer of 40 channels at 8x8, then a classifier whose 2.6 MB of weights leave the cache:
// Score-CAM runs it in batches (of 5: 40 inputs over eight batches).
Model wide_classifier_model() {
  GraphBuilder b(16, 16, 3);
  OpAttributes conv;
  conv.kh = conv.kw = 3, conv.sh = conv.sw = 2, conv.pad_t = conv.pad_l = conv.pad_b = conv.pad_r = 1;
  conv.out_channels = 40, conv.relu = true;
  const int features = b.add("Conv", {0}, conv, {random_vector(size_t(9) * 3 * 40, 80, -0.5f, 0.5f), random_vector(40, 81, -0.1f, 0.1f)});
  OpAttributes flatten;
  flatten.channels_first_flatten = true;
  OpAttributes hidden, head;
  hidden.out_channels = 256, hidden.relu = true;
  head.out_channels = 10;
  const int flat = b.add("Flatten", {features}, flatten);
  const int h = b.add("Gemm", {flat}, hidden, {random_vector(size_t(2560) * 256, 82, -0.05f, 0.05f), random_vector(256, 83, -0.1f, 0.1f)});
  return b.model(b.add("Gemm", {h}, head, {random_vector(size_t(256) * 10, 84, -0.2f, 0.2f), random_vector(10, 85)}));
}

}  // namespace

TEST_CASE("a batched forward gives each image the logits of its own forward: the seed model") {
  check_batches_match_single_forwards(random_model(seed_architecture(), 21), 0.f, 1.f);
}

TEST_CASE("a batched forward gives each image the logits of its own forward: a ResNet-shaped ONNX graph") {
  check_batches_match_single_forwards(resnet_shaped_model(), -2.f, 2.f);
}

TEST_CASE("a batched forward leaves the single pass's values as they were") {
  const Model model = resnet_shaped_model();
  Network net(model);
  const auto input = random_vector(size_t(64) * 64 * 3, 70, -2.f, 2.f);
  net.forward(input.data());
  const std::vector<float> logits = net.logits(), first = net.output(0);
  const auto others = random_vector(input.size() * 4, 71, -2.f, 2.f);
  net.forward_batch(others.data(), 4);
  CHECK(net.logits() == logits);
  CHECK(net.output(0) == first);
}

TEST_CASE("batched Score-CAM gives the map of one forward per channel") {
  const Model seed = random_model(seed_architecture(), 21);
  const auto seed_graph = model_graph(seed);
  const std::vector<int> seed_layers = explainable_nodes(*seed_graph);
  check_score_cam_matches_one_by_one(seed, random_vector(size_t(32) * 32 * 3, 22), seed_layers.back());
  const Model resnet = resnet_shaped_model();
  const std::vector<int> resnet_layers = explainable_nodes(*model_graph(resnet));
  // The last map-sized layer (the global pool's 1x1 output says nothing about where).
  int layer = -1;
  for (int node : resnet_layers)
    if (model_graph(resnet)->output_of(node).shape.h > 1) layer = node;
  check_score_cam_matches_one_by_one(resnet, random_vector(size_t(64) * 64 * 3, 23, -2.f, 2.f), layer);
}

TEST_CASE("batched Score-CAM, batches of 5 over the threads: the map of one forward per channel, the same bits with 1 and 3 threads") {
  const Model model = wide_classifier_model();
  Network net(model);
  REQUIRE(largest_batch(net.batch_floats_per_image(), net.batch_weight_floats()) > 1);
  const auto input = random_vector(size_t(16) * 16 * 3, 86, -1.f, 1.f);
  check_score_cam_matches_one_by_one(model, input, 0);
  ExplainOptions o;
  o.method = Method::scorecam;
  o.layer = 0;
  set_thread_count(3);
  auto three = explain(net, input.data(), o);
  set_thread_count(1);
  auto one = explain(net, input.data(), o);
  REQUIRE(three);
  REQUIRE(one);
  CHECK(three->cam.values == one->cam.values);
}

TEST_CASE("Score-CAM's batches: as large as memory allows where the weights leave the cache, sizes within one") {
  // ResNet-18-sized: 11 M floats of weights read once per batch, 14 MiB an image: 4 fit 64 MiB.
  CHECK(largest_batch(size_t(14) << 18, size_t(11) << 20) == 4);
  // A small image with large weights: at most 16.
  CHECK(largest_batch(20000, size_t(11) << 20) == 16);
  // The seed model's weights stay in cache: one image a pass, as without batches.
  CHECK(largest_batch(854144, 200000) == 1);
  // An image larger than the budget still runs, alone.
  CHECK(largest_batch(size_t(1) << 30, size_t(11) << 20) == 1);
  // 128 inputs in batches of 16: eight of them.
  auto bounds = forward_batches(128, 16);
  REQUIRE(bounds.size() == 9);
  for (size_t b = 0; b + 1 < bounds.size(); ++b) CHECK(bounds[b + 1] - bounds[b] == 16);
  // 512 inputs in batches of 4.
  bounds = forward_batches(512, 4);
  CHECK(bounds.size() == 129);
  CHECK(bounds.back() == 512);
  // Few inputs: one each.
  CHECK(forward_batches(3, 16) == std::vector<int64_t>{0, 1, 2, 3});
  // 20 inputs, 16 at most: eight batches of 2 or 3, never one of 16 and one of 4.
  bounds = forward_batches(20, 16);
  REQUIRE(bounds.size() == 9);
  for (size_t b = 0; b + 1 < bounds.size(); ++b) CHECK((bounds[b + 1] - bounds[b] == 2 || bounds[b + 1] - bounds[b] == 3));
}
