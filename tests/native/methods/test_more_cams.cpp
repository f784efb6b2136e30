// KPCA-CAM, FEM, Finer-CAM and test-time augmentation smoothing: each on a case small enough to
// check by hand, and explain() end to end on a small network. The ONNX ResNet-18 comparison with
// pytorch-grad-cam's definitions is tests/js/methods_more_crosscheck.test.mjs.
#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "gradcam/engine.h"
#include "gradcam/methods.h"
#include "gradcam/request.h"
#include "methods/aug_smooth.h"
#include "../test_helpers.h"

using namespace gradcam;
using namespace gradcam::testing;

TEST_CASE("FEM weighs a channel by the share of its positions above mean + 2 std; a constant channel weighs 0") {
  // 1x6, two channels (HWC). Channel 0: five 0s and a 6: mean 1, std sqrt(5), threshold 5.47: one
  // of six above. Channel 1 is constant: nothing is above its mean.
  const float A[12] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 6, 1};
  Map m = fem_cam(A, nullptr, 1, 6, 2);
  const std::vector<float> expect = {0, 0, 0, 0, 0, 1};  // ReLU(6 / 6 at the peak)
  for (int i = 0; i < 6; ++i) CHECK(m.values[size_t(i)] == doctest::Approx(expect[size_t(i)]));
}

TEST_CASE("KPCA-CAM: sigmoid kernel tanh(<x,y>/c + 1), centred; projection v sqrt(lambda) with the largest |v| positive") {
  // One channel, 1x3: 0, 0, 3 centre to -1, -1, 2. The centred kernel's eigenvectors are orthogonal
  // to (1,1,1); (1,-1,0) has eigenvalue 0 (the first two positions are equal), so the top one is
  // (1,1,-2)/sqrt(6), flipped to (-1,-1,2)/sqrt(6) by svd_flip, with
  // lambda = u'Ku / 6 = (4 tanh(2) + 8 tanh(1) + 4 tanh(5)) / 6 for u = (1,1,-2).
  const float A[3] = {0, 0, 3};
  Map m = kpca_cam(A, nullptr, 1, 3, 1);
  const double lambda = (4 * std::tanh(2.0) + 8 * std::tanh(1.0) + 4 * std::tanh(5.0)) / 6;
  CHECK(m.values[0] == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(m.values[1] == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(m.values[2] == doctest::Approx(2 * std::sqrt(lambda / 6)).epsilon(1e-6));
  // Constant activations: the centred kernel is zero, no component, an all-zero map.
  const float flat[4] = {2, 2, 2, 2};
  Map z = kpca_cam(flat, nullptr, 2, 2, 1);
  CHECK(*std::max_element(z.values.begin(), z.values.end()) == 0.f);
}

TEST_CASE("Finer-CAM is Grad-CAM of the finer score's gradient: finite differences of that score agree") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), conv("c2", 6, 3, 3, 2, 2, Padding::same)}, 6);
  Model model = random_model(arch, 51);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 52);
  ExplainOptions o;
  o.layer = 1;
  o.method = Method::finercam;
  o.target = 2;
  auto e = explain(net, input.data(), o);
  REQUIRE(e.ok());
  // The score, from finer_cam.py and FinerWeightedTarget: the three classes nearest the target by
  // |y_j - y_t|, S = sum_j p_j (y_t - y_j) / (sum_j p_j + 1e-9). Its gradient by central
  // differences in double, then Grad-CAM of it.
  const std::vector<float> y = e->logits;
  std::vector<int> others;
  for (int j = 0; j < 6; ++j)
    if (j != 2) others.push_back(j);
  std::sort(others.begin(), others.end(), [&](int a, int b) { return std::abs(y[size_t(a)] - y[size_t(2)]) < std::abs(y[size_t(b)] - y[size_t(2)]); });
  others.resize(3);
  auto score = [&](std::vector<double> z) {
    double mx = *std::max_element(z.begin(), z.end()), sum = 0;
    for (double v : z) sum += std::exp(v - mx);
    double num = 0, den = 1e-9;
    for (int j : others) {
      const double p = std::exp(z[size_t(j)] - mx) / sum;
      num += p * (z[2] - z[size_t(j)]);
      den += p;
    }
    return num / den;
  };
  std::vector<float> d(6);
  for (int m = 0; m < 6; ++m) {
    std::vector<double> up(y.begin(), y.end()), down(y.begin(), y.end());
    up[size_t(m)] += 1e-4;
    down[size_t(m)] -= 1e-4;
    d[size_t(m)] = float((score(up) - score(down)) / 2e-4);
  }
  net.forward(input.data());
  net.backward(d.data(), 1);
  Map expect = grad_cam(net.output(1).data(), net.output_grad(1).data(), 4, 4, 6);
  const float peak = *std::max_element(expect.values.begin(), expect.values.end());
  REQUIRE(peak > 0);
  for (size_t i = 0; i < expect.values.size(); ++i) CHECK(e->cam.values[i] == doctest::Approx(expect.values[i]).scale(peak).epsilon(1e-3));
}

TEST_CASE("test-time augmentations: flip x multiply by 0.9, 1, 1.1; an input flipped and scaled, a map flipped back") {
  CHECK(test_time_augmentations().size() == 6);
  const float x[6] = {1, 2, 3, 4, 5, 6};  // 1x3, two channels
  CHECK(augment_input(x, 1, 3, 2, {true, 2.f}) == std::vector<float>{10, 12, 6, 8, 2, 4});
  CHECK(augment_input(x, 1, 3, 2, {false, 1.f}) == std::vector<float>(x, x + 6));
  // A map normalised by the min and max of its upsampled self: 0, 1, 0 upsampled from 3 to 6
  // half-pixel-centred samples is 0, 1/4, 3/4, 3/4, 1/4, 0, so its peak becomes 4/3 (and 1 once
  // upsampled, as pytorch-grad-cam has it), then flipped back and weighted by the share.
  Map sum{1, 3, {0, 0, 0}};
  add_deaugmented(Map{1, 3, {0, 1, 2}}, {true, 1.f}, 1, 3, 0.5f, sum);  // at the input's size: 0, .5, 1 -> flipped
  CHECK(sum.values[0] == doctest::Approx(0.5));
  CHECK(sum.values[1] == doctest::Approx(0.25));
  CHECK(sum.values[2] == doctest::Approx(0.0));
  Map peak{1, 3, {0, 0, 0}};
  add_deaugmented(Map{1, 3, {0, 1, 0}}, {false, 1.f}, 1, 6, 1.f, peak);
  CHECK(peak.values[1] == doctest::Approx(4.0 / 3));
}

TEST_CASE("aug-smooth: the average of the six augmentations' normalised maps, the image's own target and logits") {
  Architecture arch = small_arch(8, 8, {conv("c1", 4, 3, 3, 1, 1, Padding::same), conv("c2", 6, 3, 3, 2, 2, Padding::same)}, 3);
  Model model = random_model(arch, 61);
  Network net(model);
  auto input = random_vector(8 * 8 * 3, 62);
  ExplainOptions o;
  o.layer = 1;
  auto plain = explain(net, input.data(), o);
  o.aug_smooth = true;
  auto smooth = explain(net, input.data(), o);
  REQUIRE((plain.ok() && smooth.ok()));
  CHECK(smooth->target == plain->target);
  CHECK(smooth->logits == plain->logits);
  CHECK(net.logits() == plain->logits);  // the network is left holding the image
  ExplainOptions once;
  once.layer = 1;
  once.target = plain->target;
  Map expect{4, 4, std::vector<float>(16, 0.f)};
  for (const Augmentation& a : test_time_augmentations()) {
    auto x = augment_input(input.data(), 8, 8, 3, a);
    auto one = explain(net, x.data(), once);
    REQUIRE(one.ok());
    add_deaugmented(one->cam, a, 8, 8, 1.f / 6, expect);
  }
  for (size_t i = 0; i < 16; ++i) CHECK(smooth->cam.values[i] == doctest::Approx(expect.values[i]));
  // Every layer at once smooths the same way.
  auto all = explain_all_layers(net, input.data(), o);
  REQUIRE(all.ok());
  for (size_t i = 0; i < 16; ++i) CHECK((*all)[1].cam.values[i] == doctest::Approx(expect.values[i]));
}

TEST_CASE("the request key aug-smooth takes true or false, and says so otherwise") {
  Engine engine(random_model(small_arch(6, 6, {conv("c", 2, 3, 3, 1, 1, Padding::same)}, 2), 3));
  const Model& model = engine.model();
  auto on = parse_request(model, {{"aug-smooth", "true"}});
  REQUIRE(on.ok());
  CHECK(on->options.aug_smooth);
  CHECK(!parse_request(model, {})->options.aug_smooth);
  auto bad = parse_request(model, {{"aug-smooth", "yes"}});
  REQUIRE(!bad.ok());
  CHECK(bad.error() == "aug-smooth must be true or false (got \"yes\")");
}

TEST_CASE("KPCA-CAM above 128 positions (Lanczos) gives the dense eigen-decomposition's map") {
  const int h = 15, w = 15, c = 8, n = h * w;
  auto A = random_vector(size_t(n) * c, 71);
  Map m = kpca_cam(A.data(), nullptr, h, w, c);
  // The definition again, with Eigen's dense solver.
  Eigen::MatrixXd X(n, c);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < c; ++k) X(i, k) = A[size_t(i) * c + k];
  X.rowwise() -= X.colwise().mean();
  Eigen::MatrixXd K = (((X * X.transpose()) / double(c)).array() + 1.0).tanh().matrix();
  Eigen::MatrixXd J = Eigen::MatrixXd::Identity(n, n) - Eigen::MatrixXd::Constant(n, n, 1.0 / n);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(J * K * J);
  Eigen::VectorXd v = eig.eigenvectors().col(n - 1) * std::sqrt(eig.eigenvalues()(n - 1));
  Eigen::Index largest = 0;
  v.cwiseAbs().maxCoeff(&largest);
  if (v(largest) < 0) v = -v;
  const double peak = v.maxCoeff();
  REQUIRE(peak > 0);
  for (int i = 0; i < n; ++i) CHECK(m.values[size_t(i)] == doctest::Approx(std::max(v(i), 0.0)).scale(peak).epsilon(1e-6));
}
