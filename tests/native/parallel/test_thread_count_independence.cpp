// Results do not depend on the thread count: every kernel that splits its work over the pool, and
// then every method and metric on two networks, give the same bits with 1, 2 and 3 threads. The
// sizes are above the pool's smallest chunk (kMinChunkWork), so the work really is split: a test on
// tiny layers would run everything on one thread and prove nothing.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gradcam/graph.h"
#include "gradcam/metrics.h"
#include "gradcam/methods.h"
#include "gradcam/network.h"
#include "kernels/kernels.h"
#include "parallel/thread_pool.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {

constexpr int kThreadCounts[] = {1, 2, 3};

// Everything a run computed, as named arrays of floats, compared bit for bit.
struct Outcome {
  std::vector<std::string> names;
  std::vector<std::vector<float>> values;
  void add(const std::string& name, std::vector<float> v) {
    names.push_back(name);
    values.push_back(std::move(v));
  }
  void add(const std::string& name, double v) { add(name, std::vector<float>{float(v), float(v - double(float(v)))}); }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// run() with each thread count; every outcome must equal the one-thread outcome bit for bit.
void check_independent_of_threads(const std::function<Outcome()>& run) {
  set_thread_count(1);
  const Outcome one = run();
  REQUIRE(!one.names.empty());
  for (int threads : kThreadCounts) {
    if (threads == 1) continue;
    set_thread_count(threads);
    const Outcome many = run();
    set_thread_count(1);
    REQUIRE(many.names == one.names);
    for (size_t k = 0; k < one.names.size(); ++k) {
      INFO(one.names[k] << " with " << threads << " threads");
      CHECK(same_bits(many.values[k], one.values[k]));
    }
  }
}

}  // namespace

TEST_CASE("every threaded kernel gives the same bits with 1, 2 and 3 threads") {
  using namespace gradcam::kernels;
  // A dense 3x3 stride-2 convolution (direct kernel), its backward, and a 7x7 stride-2 stem on RGB
  // whose input gradient has too few channels to split any way but by rows.
  check_independent_of_threads([] {
    Outcome o;
    for (const ConvGeometry& g : {conv_geometry(30, 30, 32, 15, 15, 48, 3, 3, 2, 2, true),
                                  conv_geometry(40, 40, 3, 20, 20, 24, 7, 7, 2, 2, true),
                                  // 1x1 on a long row, and few pixels with many channels (split by channel blocks)
                                  conv_geometry(1, 700, 40, 1, 700, 72, 1, 1, 1, 1, false),
                                  conv_geometry(7, 7, 128, 4, 4, 200, 3, 3, 2, 2, true)}) {
      const std::string name = std::to_string(g.kh) + "x" + std::to_string(g.kw) + " conv to " + std::to_string(g.oc);
      auto in = random_vector(size_t(g.ih) * g.iw * g.ic, 1, -1.f, 1.f);
      auto kernel = random_vector(size_t(g.kh) * g.kw * g.ic * g.oc, 2, -0.2f, 0.2f);
      auto bias = random_vector(size_t(g.oc), 3);
      std::vector<float> padded(size_t(g.ph) * g.pw * g.ic), packed(kernel.size()), kernel_t(kernel.size());
      std::vector<float> out(size_t(g.oh) * g.ow * g.oc), gin(padded.size());
      pad_input(g, in.data(), padded.data());
      pack_conv_kernel(g, kernel.data(), packed.data());
      transpose_kernel(g, kernel.data(), kernel_t.data());
      conv2d_forward(g, padded.data(), packed.data(), bias.data(), Clamp::relu(), out.data());
      conv2d_backward_input(g, out.data(), kernel_t.data(), gin.data());
      o.add(name + " forward", out);
      o.add(name + " backward", gin);
    }
    // Winograd F(2x2, 3x3): transforms by rows of tiles, the GEMMs by position.
    {
      const int oh = 18, ow = 14, ic = 40, oc = 56;
      auto in = random_vector(size_t(oh + 2) * (ow + 2) * ic, 4, -1.f, 1.f);
      auto kernel = random_vector(size_t(9) * ic * oc, 5, -0.2f, 0.2f);
      auto bias = random_vector(size_t(oc), 6);
      std::vector<float> U(size_t(kWinogradPositions) * ic * oc), out(size_t(oh) * ow * oc);
      std::vector<float> scratch(winograd_scratch_floats(oh, ow, ic, oc));
      winograd_transform_kernel(kernel.data(), ic, oc, U.data());
      winograd_conv3x3(in.data(), oh, ow, ic, oc, U.data(), bias.data(), Clamp::relu(), out.data(), scratch.data());
      o.add("winograd", out);
    }
    // Depthwise (forward and gathered backward), grouped, and the pools.
    {
      ConvGeometry g = conv_geometry_explicit(40, 36, 72, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 72, false);
      auto in = random_vector(size_t(g.ih) * g.iw * g.ic, 7, -1.f, 1.f);
      auto kernel = random_vector(size_t(9) * g.ic, 8, -0.5f, 0.5f);
      auto bias = random_vector(size_t(g.ic), 9);
      std::vector<float> padded(size_t(g.ph) * g.pw * g.ic), out(size_t(g.oh) * g.ow * g.oc), gin(padded.size());
      pad_input(g, in.data(), padded.data());
      depthwise_conv_forward(g, padded.data(), kernel.data(), bias.data(), out.data());
      depthwise_conv_backward_input(g, out.data(), kernel.data(), gin.data());
      o.add("depthwise forward", out);
      o.add("depthwise backward", gin);

      ConvGeometry gg = conv_geometry_explicit(24, 24, 32, 64, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 4, false);
      auto gk = random_vector(size_t(9) * 8 * 64, 10, -0.3f, 0.3f);
      std::vector<float> gpadded(size_t(gg.ph) * gg.pw * gg.ic), gout(size_t(gg.oh) * gg.ow * gg.oc);
      auto gin_raw = random_vector(size_t(gg.ih) * gg.iw * gg.ic, 11, -1.f, 1.f);
      pad_input(gg, gin_raw.data(), gpadded.data());
      grouped_conv_forward(gg, gpadded.data(), gk.data(), bias.data(), gout.data());
      o.add("grouped forward", gout);

      ConvGeometry pg = conv_geometry_explicit(40, 36, 72, 72, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true);
      std::vector<float> avg(size_t(pg.oh) * pg.ow * pg.ic), mx(avg.size());
      avg_pool_forward(pg, true, in.data(), avg.data());
      max_pool_forward(pg, in.data(), mx.data());
      o.add("average pool", avg);
      o.add("max pool", mx);
    }
    // Dense: outputs split in whole vectors, the scalar tail included (1001 outputs).
    {
      const int in = 700, out = 1001;
      auto x = random_vector(size_t(in), 12, -1.f, 1.f);
      auto W = random_vector(size_t(in) * out, 13, -0.1f, 0.1f);
      auto b = random_vector(size_t(out), 14);
      std::vector<float> y(static_cast<size_t>(out)), gx(static_cast<size_t>(in));
      dense_forward(in, out, x.data(), W.data(), b.data(), true, y.data());
      dense_backward_input(in, out, y.data(), W.data(), gx.data());
      o.add("dense forward", y);
      o.add("dense backward", gx);
    }
    return o;
  });
}

namespace {

// Every method at `layers` (the input-resolution ones once), the metrics on Grad-CAM's map, and the
// sanity check, on one network.
Outcome explain_everything(const Model& model, const std::vector<int>& layers, const std::vector<float>& input) {
  Outcome o;
  Network net(model);
  for (Method m : all_methods()) {
    const bool at_input = method_is_input_resolution(m);
    for (int layer : layers) {
      ExplainOptions opt;
      opt.method = m;
      opt.layer = layer;
      opt.smoothgrad_samples = 6;  // fewer samples, the same code
      opt.ig_steps = 6;
      const std::string name = std::string(method_name(m)) + " at node " + std::to_string(layer);
      auto e = explain(net, input.data(), opt);
      REQUIRE_MESSAGE(e, name << ": " << e.error());
      o.add(name + " map", e->cam.values);
      o.add(name + " attribution", e->attribution);
      o.add(name + " logits", e->logits);
      o.add(name + " probabilities", e->probabilities);
      if (at_input) break;
    }
  }
  ExplainOptions grad_cam_options;
  grad_cam_options.layer = layers.back();
  auto e = explain(net, input.data(), grad_cam_options);
  REQUIRE(e);
  const Curve deletion = deletion_curve(net, input.data(), e->cam, e->target, 8);
  const Curve insertion = insertion_curve(net, input.data(), e->cam, e->target, 8);
  const RoadResult road_result = road(net, input.data(), e->cam, e->target);
  o.add("deletion", deletion.probability);
  o.add("deletion auc", deletion.auc);
  o.add("insertion", insertion.probability);
  o.add("insertion auc", insertion.auc);
  o.add("road morf", road_result.morf);
  o.add("road lerf", road_result.lerf);
  o.add("confidence change", confidence_change(net, input.data(), e->cam, e->target));
  auto sanity = sanity_check(model, input.data(), grad_cam_options);
  REQUIRE(sanity);
  for (const SanityStep& step : sanity->steps) {
    o.add("sanity " + step.layer + " map", step.map.values);
    o.add("sanity " + step.layer + " spearman", step.spearman);
    o.add("sanity " + step.layer + " ssim", step.ssim);
  }
  return o;
}

// The first, middle and last explainable layers that are maps (more than one position: a global
// pool's 1x1 output is explainable but says nothing about where).
std::vector<int> first_middle_last(const Model& model) {
  const auto graph = model_graph(model);
  std::vector<int> maps;
  for (int node : explainable_nodes(*graph)) {
    const Shape& s = graph->value(graph->nodes[size_t(node)].output).shape;
    if (s.h * s.w > 1) maps.push_back(node);
  }
  REQUIRE(maps.size() >= 3);
  return {maps.front(), maps[maps.size() / 2], maps.back()};
}

}  // namespace

TEST_CASE("the seed model: every method, metric and sanity-check map is the same with 1, 2 and 3 threads") {
  const Model model = random_model(seed_architecture(), 21);
  const std::vector<int> layers = first_middle_last(model);
  const auto input = random_vector(size_t(32) * 32 * 3, 22);
  check_independent_of_threads([&] { return explain_everything(model, layers, input); });
}

TEST_CASE("a ResNet-shaped ONNX graph (residuals, depthwise, pooling): every method and metric is the same with 1, 2 and 3 threads") {
  const Model model = resnet_shaped_model();
  const std::vector<int> layers = first_middle_last(model);
  const auto input = random_vector(size_t(64) * 64 * 3, 23, -2.f, 2.f);
  check_independent_of_threads([&] { return explain_everything(model, layers, input); });
}
