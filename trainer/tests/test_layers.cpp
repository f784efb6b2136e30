// Every layer's backward pass against central finite differences of L = sum(forward(x) * R) with
// a fixed random R, so dL/d(output) = R. Tolerances: float32 layers, step 1e-2 on O(1) inputs,
// relative error of the whole gradient tensor below 1e-2.
#include <doctest/doctest.h>

#include <functional>

#include "cpu/layers.h"
#include "test_helpers.h"

using namespace trainer;
using trainer::test::dot;
using trainer::test::random_vector;
using trainer::test::relative_error;

namespace {

constexpr float kStep = 1e-2f;
constexpr double kTolerance = 1e-2;

// Numerical dL/dv for L = f() where f reads v.
std::vector<float> numerical_gradient(std::vector<float>& v, const std::function<double()>& f) {
  std::vector<float> g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const float keep = v[i];
    v[i] = keep + kStep;
    const double up = f();
    v[i] = keep - kStep;
    const double down = f();
    v[i] = keep;
    g[i] = float((up - down) / (2.0 * kStep));
  }
  return g;
}

Geometry geometry(int ih, int iw, int ic, int oc, int k, int s, bool same) {
  Geometry g{};
  g.ih = ih, g.iw = iw, g.ic = ic, g.oc = oc, g.kh = g.kw = k, g.sh = g.sw = s;
  if (same) {
    g.oh = (ih + s - 1) / s, g.ow = (iw + s - 1) / s;
    g.pad_t = std::max((g.oh - 1) * s + k - ih, 0) / 2;
    g.pad_l = std::max((g.ow - 1) * s + k - iw, 0) / 2;
  } else {
    g.oh = (ih - k) / s + 1, g.ow = (iw - k) / s + 1;
  }
  return g;
}

void check_conv(const Geometry& g, int B, bool relu) {
  auto x = random_vector(size_t(B * g.ih * g.iw * g.ic), 1);
  auto w = random_vector(size_t(g.kh * g.kw * g.ic * g.oc), 2, -0.5f, 0.5f);
  auto bias = random_vector(size_t(g.oc), 3, -0.1f, 0.1f);
  const size_t n_out = size_t(B * g.oh * g.ow * g.oc);
  auto R = random_vector(n_out, 4);
  std::vector<float> out(n_out), cols(size_t(cpu::conv2d_scratch_floats(g, B)));
  auto loss = [&] {
    cpu::conv2d_forward(out.data(), cols.data(), x.data(), w.data(), bias.data(), B, g, relu);
    return dot(out, R);
  };
  loss();
  std::vector<float> dout = R, dx(x.size()), dw(w.size(), 0.f), db(bias.size(), 0.f);
  if (relu) cpu::relu_backward(dout.data(), out.data(), int64_t(n_out));
  cpu::conv2d_backward(dx.data(), dw.data(), db.data(), cols.data(), dout.data(), x.data(), w.data(), B, g);
  CHECK(relative_error(dx, numerical_gradient(x, loss)) < kTolerance);
  CHECK(relative_error(dw, numerical_gradient(w, loss)) < kTolerance);
  CHECK(relative_error(db, numerical_gradient(bias, loss)) < kTolerance);
}

}  // namespace

TEST_CASE("conv2d backward matches finite differences (valid, same, stride 2)") {
  SUBCASE("valid 3x3") { check_conv(geometry(6, 5, 3, 4, 3, 1, false), 2, false); }
  SUBCASE("same 3x3") { check_conv(geometry(5, 5, 2, 3, 3, 1, true), 2, false); }
  SUBCASE("same 3x3 stride 2") { check_conv(geometry(7, 6, 2, 3, 3, 2, true), 2, false); }
}

TEST_CASE("dense backward matches finite differences") {
  for (bool relu : {false}) {
    const int B = 3, I = 7, O = 5;
    auto x = random_vector(B * I, 11), w = random_vector(I * O, 12), b = random_vector(O, 13);
    auto R = random_vector(B * O, 14);
    std::vector<float> out(B * O);
    auto loss = [&] {
      cpu::dense_forward(out.data(), x.data(), w.data(), b.data(), B, I, O, relu);
      return dot(out, R);
    };
    loss();
    std::vector<float> dout = R, dx(x.size()), dw(w.size(), 0.f), db(b.size(), 0.f);
    if (relu) cpu::relu_backward(dout.data(), out.data(), B * O);
    cpu::dense_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), B, I, O);
    CHECK(relative_error(dx, numerical_gradient(x, loss)) < kTolerance);
    CHECK(relative_error(dw, numerical_gradient(w, loss)) < kTolerance);
    CHECK(relative_error(db, numerical_gradient(b, loss)) < kTolerance);
  }
}

TEST_CASE("max pool backward matches finite differences (valid 2x2 with a dropped edge, same 3x3 stride 2)") {
  for (auto g : {geometry(5, 5, 3, 3, 2, 2, false), geometry(5, 6, 2, 2, 3, 2, true)}) {
    const int B = 2;
    // Distinct values so no window has a tie within the finite-difference step.
    std::vector<float> x(size_t(B * g.ih * g.iw * g.ic));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float((i * 7919) % x.size()) * 0.1f;
    auto R = random_vector(size_t(B * g.oh * g.ow * g.oc), 21);
    std::vector<float> out(R.size());
    std::vector<int32_t> arg(R.size());
    auto loss = [&] {
      cpu::max_pool_forward(out.data(), arg.data(), x.data(), B, g);
      return dot(out, R);
    };
    loss();
    std::vector<float> dx(x.size());
    cpu::max_pool_backward(dx.data(), R.data(), arg.data(), B, g);
    CHECK(relative_error(dx, numerical_gradient(x, loss)) < kTolerance);
  }
}

TEST_CASE("batch norm backward (training mode) matches finite differences") {
  const int64_t N = 12;
  const int C = 3;
  auto x = random_vector(size_t(N * C), 31, -2.f, 2.f);
  auto gamma = random_vector(C, 32, 0.5f, 1.5f), beta = random_vector(C, 33);
  auto R = random_vector(size_t(N * C), 34);
  std::vector<float> out(x.size()), mean(C), invstd(C), mm(C, 0.f), mv(C, 1.f);
  auto loss = [&] {
    cpu::batch_norm_forward_train(out.data(), mean.data(), invstd.data(), x.data(), gamma.data(), beta.data(),
                                  mm.data(), mv.data(), N, C, 1e-3f, 0.99f);
    return dot(out, R);
  };
  loss();
  std::vector<float> dx(x.size()), dg(C, 0.f), dbeta(C, 0.f);
  cpu::batch_norm_backward(dx.data(), dg.data(), dbeta.data(), R.data(), x.data(), mean.data(), invstd.data(),
                           gamma.data(), N, C);
  CHECK(relative_error(dx, numerical_gradient(x, loss)) < kTolerance);
  CHECK(relative_error(dg, numerical_gradient(gamma, loss)) < kTolerance);
  CHECK(relative_error(dbeta, numerical_gradient(beta, loss)) < kTolerance);
}

TEST_CASE("batch norm moves its statistics with momentum 0.99 and the biased batch variance") {
  std::vector<float> x = {1, 2, 3, 6}, out(4), mean(1), invstd(1), gamma = {1}, beta = {0}, mm = {0}, mv = {1};
  cpu::batch_norm_forward_train(out.data(), mean.data(), invstd.data(), x.data(), gamma.data(), beta.data(), mm.data(),
                                mv.data(), 4, 1, 1e-3f, 0.99f);
  // mean 3, biased variance (4+1+0+9)/4 = 3.5
  CHECK(mm[0] == doctest::Approx(0.01 * 3.0));
  CHECK(mv[0] == doctest::Approx(0.99 + 0.01 * 3.5));
  CHECK(out[3] == doctest::Approx(3.0 / std::sqrt(3.5 + 1e-3)).epsilon(1e-5));
}

TEST_CASE("dropout backward matches finite differences and scales kept units by 1/(1-rate)") {
  const int64_t n = 400;
  auto x = random_vector(size_t(n), 41), R = random_vector(size_t(n), 42);
  std::vector<float> out(static_cast<size_t>(n));
  auto loss = [&] {
    cpu::dropout_forward(out.data(), x.data(), n, 0.25f, 99, 3);
    return dot(out, R);
  };
  loss();
  std::vector<float> dx(static_cast<size_t>(n));
  cpu::dropout_backward(dx.data(), R.data(), n, 0.25f, 99, 3);
  CHECK(relative_error(dx, numerical_gradient(x, loss)) < kTolerance);
  loss();
  int dropped = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (out[size_t(i)] == 0.f) ++dropped;
    else CHECK(out[size_t(i)] == doctest::Approx(x[size_t(i)] / 0.75f));
  }
  CHECK(dropped > 70);  // ~100 expected
  CHECK(dropped < 130);
}

TEST_CASE("softmax cross-entropy gradient matches finite differences, with label smoothing") {
  for (float smoothing : {0.f, 0.1f}) {
    const int B = 3, K = 5;
    auto z = random_vector(B * K, 51, -3.f, 3.f);
    std::vector<int> labels = {0, 3, 4};
    std::vector<float> probs(B * K), dz(B * K);
    auto loss = [&] {
      return double(cpu::softmax_cross_entropy(probs.data(), nullptr, nullptr, z.data(), labels.data(), B, K,
                                               smoothing));
    };
    int correct = 0;
    cpu::softmax_cross_entropy(probs.data(), dz.data(), &correct, z.data(), labels.data(), B, K, smoothing);
    CHECK(relative_error(dz, numerical_gradient(z, loss)) < kTolerance);
    double s = 0;
    for (int k = 0; k < K; ++k) s += probs[size_t(k)];
    CHECK(s == doctest::Approx(1.0));
  }
}

// ReLU is fused into conv2d and dense (Keras's activation="relu"): its backward uses the
// post-activation output. Inputs are kept 0.1 away from the kink so the finite difference is exact.
TEST_CASE("ReLU backward (as fused in conv2d and dense) matches finite differences") {
  const int B = 2, I = 6, O = 8;
  auto x = random_vector(B * I, 61), w = random_vector(I * O, 62), b = random_vector(O, 63);
  auto R = random_vector(B * O, 64);
  std::vector<float> pre(B * O), out(B * O);
  // Push every pre-activation at least 0.1 away from zero by adjusting the bias per output.
  cpu::dense_forward(pre.data(), x.data(), w.data(), b.data(), B, I, O, false);
  for (int o = 0; o < O; ++o) {
    bool near = false;
    for (int k = 0; k < B; ++k) near |= std::fabs(pre[size_t(k * O + o)]) < 0.1f;
    if (near) b[size_t(o)] += 0.25f;
  }
  auto loss = [&] {
    cpu::dense_forward(out.data(), x.data(), w.data(), b.data(), B, I, O, true);
    return dot(out, R);
  };
  loss();
  std::vector<float> dout = R, dx(x.size()), dw(w.size(), 0.f), db(b.size(), 0.f);
  cpu::relu_backward(dout.data(), out.data(), B * O);
  cpu::dense_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), B, I, O);
  CHECK(relative_error(db, numerical_gradient(b, loss)) < kTolerance);
  int zeros = 0;
  for (float v : out) zeros += v == 0.f;
  CHECK(zeros > 0);  // the check covers both sides of the kink
}
