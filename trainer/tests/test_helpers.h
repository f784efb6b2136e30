#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "hash_random.h"

namespace trainer::test {

// A fresh folder under the system's temporary directory, removed with everything in it at scope exit.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / ("trainer_test_" + name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * hash_uniform(seed, 77, i);
  return v;
}

inline double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

// ||a - b|| / max(||b||, tiny): the whole tensor's relative error.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    n += double(b[i]) * b[i];
  }
  return std::sqrt(d) / std::max(std::sqrt(n), 1e-12);
}

}  // namespace trainer::test

#include <stdexcept>
#include <string>

#include "gradcam/model.h"
#include "plan.h"

namespace trainer::test {

// A small network with every layer type (conv valid and same, stride 2, pooling, batch norm,
// dropout, flatten, dense with ReLU and the softmax output) for whole-network checks.
inline std::string small_architecture_json(int side = 8, int classes = 4) {
  std::string cls;
  for (int i = 0; i < classes; ++i) cls += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
  return R"({"format":"gradcam-cnn","version":1,
    "input":{"height":)" + std::to_string(side) + R"(,"width":)" + std::to_string(side) +
         R"(,"channels":3,"scale":0.00392156862745098,"layout":"HWC"},
    "classes":[)" + cls + R"(],
    "layers":[
      {"type":"conv2d","name":"conv2d","filters":6,"kernel":[3,3],"strides":[1,1],"padding":"valid","activation":"relu"},
      {"type":"conv2d","name":"conv2d_1","filters":8,"kernel":[3,3],"strides":[1,1],"padding":"same","activation":"relu"},
      {"type":"max_pool2d","name":"max_pooling2d","pool":[2,2],"strides":[2,2],"padding":"valid"},
      {"type":"dropout","name":"dropout","rate":0.25},
      {"type":"batch_norm","name":"batch_normalization","epsilon":0.001},
      {"type":"conv2d","name":"conv2d_2","filters":5,"kernel":[3,3],"strides":[2,2],"padding":"same","activation":"relu"},
      {"type":"flatten","name":"flatten"},
      {"type":"dense","name":"dense","units":12,"activation":"relu"},
      {"type":"dropout","name":"dropout_1","rate":0.5},
      {"type":"dense","name":"dense_1","units":)" + std::to_string(classes) + R"(,"activation":"softmax"}
    ]})";
}

inline Plan small_plan(int side = 8, int classes = 4) {
  auto arch = gradcam::parse_architecture(small_architecture_json(side, classes));
  if (!arch) throw std::runtime_error(arch.error());
  auto plan = make_plan(*arch);
  if (!plan) throw std::runtime_error(plan.error());
  return *plan;
}

}  // namespace trainer::test
