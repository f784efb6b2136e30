// CAM methods: each map against its paper's formula on small hand-built activations, relations
// between methods that the papers state, and explain() end to end on a small network.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "gradcam/methods.h"
#include "gradcam/colormap.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

namespace {
// 2x2 spatial, 2 channels, HWC: A[pixel][channel].
const float A[8] = {1, 0, 2, 1, 0, 3, 4, 2};
const float G[8] = {0.5f, -1, 0.5f, 1, -0.25f, 0.5f, 0.25f, -0.5f};
}  // namespace

TEST_CASE("Grad-CAM is ReLU of the activations weighted by spatially averaged gradients (Eq. 1-2)") {
  // alpha_0 = (0.5 + 0.5 - 0.25 + 0.25) / 4 = 0.25; alpha_1 = (-1 + 1 + 0.5 - 0.5) / 4 = 0.
  Map m = grad_cam(A, G, 2, 2, 2);
  REQUIRE(m.values.size() == 4);
  CHECK(m.values[0] == doctest::Approx(0.25));
  CHECK(m.values[1] == doctest::Approx(0.5));
  CHECK(m.values[2] == doctest::Approx(0.0));
  CHECK(m.values[3] == doctest::Approx(1.0));
}

TEST_CASE("Grad-CAM starts the weighted sum at zero, not at one as the tutorial did") {
  const float a[4] = {1, 2, 3, 4};
  const float g[4] = {-1, -1, -1, -1};  // every location argues against the class
  Map m = grad_cam(a, g, 2, 2, 1);
  for (float v : m.values) CHECK(v == 0.f);  // the tutorial's np.ones start would leave 1 - A > 0 at A < 1
}

TEST_CASE("HiResCAM is the element-wise product summed over channels (Eq. 4)") {
  Map m = hires_cam(A, G, 2, 2, 2);
  CHECK(m.values[0] == doctest::Approx(0.5));    // 1*0.5 + 0*-1
  CHECK(m.values[1] == doctest::Approx(2.0));    // 2*0.5 + 1*1
  CHECK(m.values[2] == doctest::Approx(1.5));    // 0*-0.25 + 3*0.5
  CHECK(m.values[3] == doctest::Approx(0.0));    // 4*0.25 + 2*-0.5 = 0
}

TEST_CASE("HiResCAM equals Grad-CAM when each channel's gradient is spatially constant") {
  auto a = random_vector(5 * 4 * 3, 1);
  std::vector<float> g(a.size());
  const float per_channel[3] = {0.7f, -0.2f, 0.1f};
  for (size_t i = 0; i < g.size(); ++i) g[i] = per_channel[i % 3];
  Map x = grad_cam(a.data(), g.data(), 5, 4, 3), y = hires_cam(a.data(), g.data(), 5, 4, 3);
  for (size_t i = 0; i < x.values.size(); ++i) CHECK(x.values[i] == doctest::Approx(y.values[i]));
}

TEST_CASE("LayerCAM keeps only positive gradients, and equals HiResCAM when all are positive") {
  Map m = layer_cam(A, G, 2, 2, 2);
  CHECK(m.values[0] == doctest::Approx(0.5));   // 1*0.5
  CHECK(m.values[1] == doctest::Approx(2.0));
  CHECK(m.values[2] == doctest::Approx(1.5));   // 3*0.5
  CHECK(m.values[3] == doctest::Approx(1.0));   // 4*0.25, the negative one dropped
  auto a = random_vector(16 * 4, 2), g = random_vector(16 * 4, 3, 0.01f, 1.f);
  Map l = layer_cam(a.data(), g.data(), 4, 4, 4), h = hires_cam(a.data(), g.data(), 4, 4, 4);
  for (size_t i = 0; i < l.values.size(); ++i) CHECK(l.values[i] == doctest::Approx(h.values[i]));
}

TEST_CASE("XGrad-CAM weights are activation-normalised gradient sums (Eq. 9)") {
  // w_0 = (1*0.5 + 2*0.5 + 0 + 4*0.25) / 7 = 2.5/7; w_1 = (0 + 1 + 1.5 - 1) / 6 = 0.25
  Map m = xgrad_cam(A, G, 2, 2, 2);
  const double w0 = 2.5 / 7, w1 = 0.25;
  CHECK(m.values[0] == doctest::Approx(w0 * 1 + w1 * 0).epsilon(1e-5));
  CHECK(m.values[1] == doctest::Approx(w0 * 2 + w1 * 1).epsilon(1e-5));
  CHECK(m.values[3] == doctest::Approx(w0 * 4 + w1 * 2).epsilon(1e-5));
}

TEST_CASE("Grad-CAM++ (paper) weights follow Eq. 19") {
  const float a[2] = {1, 3};   // 1x2 spatial, 1 channel; sum A = 4
  const float g[2] = {0.5f, -1};
  // a_ij = g^2 / (2 g^2 + 4 g^3): at g=0.5: 0.25 / (0.5 + 0.5) = 0.25; w = 0.25 * 0.5 (g=-1 has ReLU 0)
  Map m = grad_cam_plusplus_paper(a, g, 1, 2, 1);
  CHECK(m.values[0] == doctest::Approx(0.125));
  CHECK(m.values[1] == doctest::Approx(0.375));
}

TEST_CASE("Grad-CAM++ by default adds pytorch-grad-cam's eps = 1e-6 to Eq. 19's denominator") {
  // With g = 1e-3 and sum A = 4: g^2 = 1e-6 is the size of eps, so a = 1e-6 / (2e-6 + 4e-9 + 1e-6)
  // instead of the paper's 1e-6 / (2e-6 + 4e-9): a third smaller.
  const float a[2] = {1, 3};
  const float g[2] = {1e-3f, 0};
  const double g1 = double(1e-3f), g2 = g1 * g1, g3 = g2 * g1;
  const double ours = g2 / (2 * g2 + 4 * g3 + 1e-6) * g1, paper = g2 / (2 * g2 + 4 * g3) * g1;
  CHECK(grad_cam_plusplus(a, g, 1, 2, 1).values[1] == doctest::Approx(3 * ours).epsilon(1e-5));
  CHECK(grad_cam_plusplus_paper(a, g, 1, 2, 1).values[1] == doctest::Approx(3 * paper).epsilon(1e-5));
}

TEST_CASE("Grad-CAM element-wise is ReLU(sum_k ReLU(G^k A^k)): negative products do not cancel positive ones") {
  // Pixel 0: G*A = (0.5, -0) -> 0.5; pixel 1: (1, 1) -> 2; pixel 2: (0, 1.5) -> 1.5; pixel 3: (1, -1) -> 1.
  Map m = grad_cam_elementwise(A, G, 2, 2, 2);
  CHECK(m.values == std::vector<float>{0.5f, 2.f, 1.5f, 1.f});
  // HiResCAM sums before its ReLU: pixel 3 cancels to 0 there.
  CHECK(hires_cam(A, G, 2, 2, 2).values[3] == doctest::Approx(0.0));
}

TEST_CASE("RandomCAM weighs the real activations by seeded weights in [-1, 1]") {
  const std::vector<float> w = random_channel_weights(2, 2, 2);
  REQUIRE(w.size() == 2);
  CHECK(w == random_channel_weights(2, 2, 2));
  CHECK(w != random_channel_weights(2, 2, 3));  // another layer shape, other weights
  for (float v : random_channel_weights(7, 7, 512)) CHECK((v >= -1.f && v <= 1.f));
  Map m = random_cam(A, G, 2, 2, 2);
  for (int i = 0; i < 4; ++i) CHECK(m.values[size_t(i)] == doctest::Approx(std::max(0.f, w[0] * A[2 * i] + w[1] * A[2 * i + 1])));
}

TEST_CASE("eigen_smooth: a rank-one weighted activation projects onto its spatial pattern") {
  // Weighted activations w_k A^k = u_ij v_k: the sum over channels is u * sum(v); the projection is
  // (u - mean u) * |v|, the same pattern centred (and so, after ReLU, its above-mean part).
  const int h = 3, w = 3, c = 2;
  const float u[9] = {0, 1, 0, 1, 5, 1, 0, 1, 0}, v[2] = {3, 4};
  std::vector<float> a(size_t(h) * w * c), ones(static_cast<size_t>(h) * w * c, 1.f);
  for (int i = 0; i < h * w; ++i)
    for (int k = 0; k < c; ++k) a[size_t(i) * c + size_t(k)] = u[i] * v[k];
  Map summed = hires_cam(a.data(), ones.data(), h, w, c, false), smoothed = hires_cam(a.data(), ones.data(), h, w, c, true);
  for (int i = 0; i < 9; ++i) {
    CHECK(summed.values[size_t(i)] == doctest::Approx(u[i] * 7));
    CHECK(smoothed.values[size_t(i)] == doctest::Approx(std::max(0.f, (u[i] - 1.f) * 5.f)).epsilon(1e-4));
  }
  // Grad-CAM's smoothed map is the projection of alpha_k A^k (here alpha = mean G = 1 per channel).
  CHECK(grad_cam(a.data(), ones.data(), h, w, c, true).values == smoothed.values);
}

TEST_CASE("EigenGrad-CAM projects G (.) A; Seg-Eigen-CAM projects |G| (.) A with the larger magnitude positive") {
  const int h = 3, w = 3, c = 2;
  const float u[9] = {0, 1, 0, 1, 5, 1, 0, 1, 0};
  std::vector<float> a(size_t(h) * w * c), g(size_t(h) * w * c);
  for (int i = 0; i < h * w; ++i) {
    a[size_t(i) * c] = u[i], a[size_t(i) * c + 1] = 2 * u[i];
    g[size_t(i) * c] = -1, g[size_t(i) * c + 1] = -0.5f;  // G (.) A = -u (1, 1): the pattern, negated
  }
  // The projection of -u (1,1) is -(u - 1) sqrt 2 up to sign; ours correlates with the centred sum,
  // which is -(u - 1) * 2 itself: so ReLU keeps the dim ring, not the bright centre.
  Map eg = eigen_grad_cam(a.data(), g.data(), h, w, c);
  CHECK(eg.values[4] == doctest::Approx(0.0));
  CHECK(eg.values[0] == doctest::Approx(std::sqrt(2.0)).epsilon(1e-4));
  // |G| (.) A = u (1, 1): centred, the centre (+4) outweighs the ring (-1), so the centre is positive.
  Map seg = seg_eigen_cam(a.data(), g.data(), h, w, c);
  CHECK(seg.values[4] == doctest::Approx(4 * std::sqrt(2.0)).epsilon(1e-4));
  CHECK(seg.values[0] == doctest::Approx(0.0));
}

TEST_CASE("Eigen-CAM recovers the dominant spatial pattern of rank-one activations") {
  // A_ij,k = u_ij * v_k: the first principal component projects onto u - mean(u).
  const int h = 3, w = 3, c = 4;
  const float u[9] = {0, 1, 0, 1, 5, 1, 0, 1, 0}, v[4] = {1, 0.5f, 2, 0.25f};
  std::vector<float> a(size_t(h) * w * c);
  for (int i = 0; i < h * w; ++i)
    for (int k = 0; k < c; ++k) a[size_t(i) * c + size_t(k)] = u[i] * v[k];
  Map m = eigen_cam(a.data(), nullptr, h, w, c);
  const float mean = 9.f / 9.f;
  const float norm_v = std::sqrt(1 + 0.25f + 4 + 0.0625f);
  for (int i = 0; i < 9; ++i) CHECK(m.values[size_t(i)] == doctest::Approx(std::max(0.f, (u[i] - mean) * norm_v)).epsilon(1e-4));
  CHECK(m.values[4] > 0.f);  // the sign is chosen so the bright centre is the hot spot
}

TEST_CASE("explain() on a network: Grad-CAM from the network's own activations and gradients") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), conv("c2", 6, 3, 3, 2, 2, Padding::same)}, 3);
  Model model = random_model(arch, 21);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 22);
  ExplainOptions o;
  o.layer = 1;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  int top = int(std::max_element(e->probabilities.begin(), e->probabilities.end()) - e->probabilities.begin());
  CHECK(e->target == top);
  CHECK(e->layer_shape == Shape{4, 4, 6});
  Map expect = grad_cam(net.output(1).data(), net.output_grad(1).data(), 4, 4, 6);
  CHECK(e->cam.values == expect.values);

  // The probability score's gradient is the logit's, mixed through the softmax Jacobian.
  o.score = Score::probability;
  o.target = 0;
  auto p = explain(net, input.data(), o);
  REQUIRE(p.ok());
  CHECK(p->target == 0);

  o.layer = 2;  // flatten, not a conv layer
  CHECK(!explain(net, input.data(), o).ok());
  o.layer = 1;
  o.target = 3;
  CHECK(explain(net, input.data(), o).error().find("out of range") != std::string::npos);
}

TEST_CASE("Score-CAM weights are a softmax over channels: one channel gives ReLU(A)") {
  Architecture arch = small_arch(6, 6, {conv("only", 1, 3, 3, 1, 1, Padding::same)}, 2);
  Model model = random_model(arch, 31);
  Network net(model);
  auto input = random_vector(6 * 6 * 3, 32);
  ExplainOptions o;
  o.layer = 0;
  o.method = Method::scorecam;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  net.forward(input.data());
  for (size_t i = 0; i < e->cam.values.size(); ++i) CHECK(e->cam.values[i] == doctest::Approx(net.output(0)[i]));
  // The network is left holding the explained image's activations.
  CHECK(net.logits() == e->logits);
}

TEST_CASE("gradient saliency, guided backprop and guided Grad-CAM live at input resolution") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), pool("p", 2, 2, 2, 2)}, 3);
  Model model = random_model(arch, 41);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 42);
  ExplainOptions o;
  o.layer = 0;
  o.method = Method::saliency;
  auto s = explain(net, input.data(), o);
  REQUIRE(s.ok());
  CHECK(s->cam.height == 8);
  CHECK(s->cam.width == 8);
  for (int i = 0; i < 64; ++i) {
    float best = 0;
    for (int c = 0; c < 3; ++c) best = std::max(best, std::abs(net.input_grad()[size_t(i) * 3 + size_t(c)]));
    CHECK(s->cam.values[size_t(i)] == best);
  }
  o.method = Method::guided_backprop;
  auto gb = explain(net, input.data(), o);
  o.method = Method::gradcam;
  auto gc = explain(net, input.data(), o);
  o.method = Method::guided_gradcam;
  auto ggc = explain(net, input.data(), o);
  REQUIRE((gb.ok() && gc.ok() && ggc.ok()));
  std::vector<float> up = upsample_bilinear(gc->cam.values.data(), 8, 8, 8, 8);
  for (size_t i = 0; i < 64; ++i) CHECK(ggc->cam.values[i] == doctest::Approx(gb->cam.values[i] * up[i]));
  o.method = Method::smoothgrad;
  o.smoothgrad_samples = 3;
  auto a = explain(net, input.data(), o), b = explain(net, input.data(), o);
  REQUIRE((a.ok() && b.ok()));
  CHECK(a->cam.values == b->cam.values);  // seeded noise: the same map twice
}

TEST_CASE("method, score and target names parse, and unknown ones list the valid choices") {
  CHECK(*parse_method("gradcam++") == Method::gradcam_plusplus);
  CHECK(*parse_method("Guided_Backprop") == Method::guided_backprop);
  for (Method m : all_methods()) CHECK(*parse_method(method_name(m)) == m);
  CHECK(parse_method("cam").error().find("known: gradcam, gradcam++, xgradcam") != std::string::npos);
  CHECK(*parse_score("probability") == Score::probability);
  Architecture arch = seed_architecture();
  CHECK(*parse_target(arch, "auto") == -1);
  CHECK(*parse_target(arch, "cat") == 3);
  CHECK(*parse_target(arch, "9") == 9);
  CHECK(!parse_target(arch, "10").ok());
  CHECK(!parse_target(arch, "-1").ok());
  // Non-ASCII names: bytes >= 0x80 are never digits (a plain char into ::isdigit was undefined).
  CHECK(parse_target(arch, "\xc3\xa9t\xc3\xa9").error().find("unknown target \"\xc3\xa9t\xc3\xa9\"") == 0);
  CHECK(parse_target(arch, "\xd9\xa3").error().find("unknown target") == 0);  // ARABIC-INDIC DIGIT THREE
  CHECK(parse_target(arch, "-\xff").error().find("unknown target") == 0);
  Architecture accented = arch;
  accented.classes[5] = "\xc3\xa9l\xc3\xa9phant";
  CHECK(*parse_target(accented, "\xc3\xa9l\xc3\xa9phant") == 5);
  const auto graph = graph_from_model(random_model(arch, 1));
  REQUIRE(graph.ok());
  CHECK(*find_layer(*graph, "auto") == 15);  // conv2d_8
  CHECK(*find_layer(*graph, "conv2d_2") == 4);
  CHECK(find_layer(*graph, "dense").error().find("no conv layer named \"dense\" (conv layers: conv2d, conv2d_1") == 0);
}

TEST_CASE("all conv layers from one backward pass equal one explanation per layer") {
  Architecture arch = seed_architecture();
  Model model = random_model(arch, 51);
  Network net(model);
  auto input = random_vector(32 * 32 * 3, 52);
  for (Method m : {Method::gradcam, Method::layercam, Method::eigencam}) {
    ExplainOptions o;
    o.method = m;
    o.target = 4;
    o.score = Score::probability;
    auto all = explain_all_layers(net, input.data(), o);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 9);
    for (const Explanation& e : *all) {
      o.layer = e.layer;
      auto one = explain(net, input.data(), o);
      REQUIRE(one.ok());
      CHECK(e.cam.values == one->cam.values);
      CHECK(e.target == 4);
    }
  }
  ExplainOptions o;
  o.method = Method::scorecam;
  CHECK(explain_all_layers(net, input.data(), o).error().find("not scorecam") != std::string::npos);
}

TEST_CASE("the method table describes every method once, with one way to compute it") {
  std::set<std::string> names, labels;
  for (const MethodDescriptor& d : method_table()) {
    CAPTURE(d.name);
    CHECK(names.insert(d.name).second);
    CHECK(labels.insert(d.label).second);
    CHECK(std::string(d.paper).find("20") != std::string::npos);  // a paper with its year
    CHECK((d.layer_map != nullptr) != (d.run != nullptr));
    CHECK(&method_descriptor(d.id) == &d);
    CHECK(method_is_input_resolution(d.id) == (d.resolution == MapResolution::input));
    // Layer maps are what explain_all_layers can serve; the rest say which methods it serves.
    Model model = random_model(small_arch(6, 6, {conv("c", 2, 3, 3, 1, 1, Padding::same)}, 2), 3);
    Network net(model);
    auto input = random_vector(6 * 6 * 3, 4);
    ExplainOptions o;
    o.method = d.id;
    auto all = explain_all_layers(net, input.data(), o);
    CHECK(all.ok() == (d.layer_map != nullptr));
    if (!all.ok()) CHECK(all.error().find("works for gradcam, gradcam++") != std::string::npos);
  }
  CHECK(names.size() == all_methods().size());
}
