// Small builders shared by the native tests.
#pragma once
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gradcam/model.h"

namespace gradcam::testing {

inline LayerSpec conv(const std::string& name, int filters, int kh, int kw, int sh, int sw, Padding p,
                      Activation act = Activation::relu) {
  LayerSpec l;
  l.type = LayerType::conv2d;
  l.name = name;
  l.filters = filters;
  l.kernel_h = kh;
  l.kernel_w = kw;
  l.stride_h = sh;
  l.stride_w = sw;
  l.padding = p;
  l.activation = act;
  return l;
}
inline LayerSpec pool(const std::string& name, int ph, int pw, int sh, int sw, Padding p = Padding::valid) {
  LayerSpec l;
  l.type = LayerType::max_pool2d;
  l.name = name;
  l.pool_h = ph;
  l.pool_w = pw;
  l.stride_h = sh;
  l.stride_w = sw;
  l.padding = p;
  return l;
}
inline LayerSpec simple(LayerType t, const std::string& name) {
  LayerSpec l;
  l.type = t;
  l.name = name;
  return l;
}
inline LayerSpec dense(const std::string& name, int units, Activation act) {
  LayerSpec l;
  l.type = LayerType::dense;
  l.name = name;
  l.filters = units;
  l.activation = act;
  return l;
}

// An architecture with the given body, then flatten and a dense head of n classes.
inline Architecture small_arch(int h, int w, std::vector<LayerSpec> body, int classes = 3,
                               Activation head = Activation::linear) {
  Architecture a;
  a.height = h;
  a.width = w;
  a.channels = 3;
  for (int i = 0; i < classes; ++i) a.classes.push_back("class" + std::to_string(i));
  a.layers = std::move(body);
  a.layers.push_back(simple(LayerType::flatten, "flatten"));
  a.layers.push_back(dense("head", classes, head));
  Status s = plan_shapes(a);
  if (!s) throw std::runtime_error(s.error());
  return a;
}

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = 0.f, float hi = 1.f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// The largest single operator new since the reset (test_no_alloc.cpp replaces operator new).
void reset_largest_allocation();
std::size_t largest_allocation();

}  // namespace gradcam::testing
