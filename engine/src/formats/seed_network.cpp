// The seed network of the Keras Grad-CAM tutorial (CIFAR-10, Keras's automatic layer names) and
// deterministic random weights for any architecture (demos, tests, `gradcam init-model`).
#include <cmath>
#include <map>
#include <random>

#include "gradcam/model.h"

namespace gradcam {

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> c = {"airplane", "automobile", "bird", "cat", "deer",
                                             "dog", "frog", "horse", "ship", "truck"};
  return c;
}

Architecture seed_architecture() {
  Architecture a;
  a.classes = cifar10_classes();
  auto conv = [&](const std::string& name, int filters, Padding p) {
    LayerSpec l;
    l.type = LayerType::conv2d;
    l.name = name;
    l.filters = filters;
    l.kernel_h = l.kernel_w = 3;
    l.padding = p;
    l.activation = Activation::relu;
    a.layers.push_back(l);
  };
  auto pool = [&](const std::string& name) {
    LayerSpec l;
    l.type = LayerType::max_pool2d;
    l.name = name;
    l.pool_h = l.pool_w = l.stride_h = l.stride_w = 2;
    a.layers.push_back(l);
  };
  auto simple = [&](LayerType t, const std::string& name, float rate = 0) {
    LayerSpec l;
    l.type = t;
    l.name = name;
    l.rate = rate;
    a.layers.push_back(l);
  };
  auto dense = [&](const std::string& name, int units, Activation act) {
    LayerSpec l;
    l.type = LayerType::dense;
    l.name = name;
    l.filters = units;
    l.activation = act;
    a.layers.push_back(l);
  };
  conv("conv2d", 32, Padding::valid);
  conv("conv2d_1", 128, Padding::same);
  pool("max_pooling2d");
  simple(LayerType::dropout, "dropout", 0.25f);
  conv("conv2d_2", 64, Padding::same);
  pool("max_pooling2d_1");
  simple(LayerType::dropout, "dropout_1", 0.25f);
  conv("conv2d_3", 64, Padding::same);
  conv("conv2d_4", 32, Padding::same);
  simple(LayerType::dropout, "dropout_2", 0.25f);
  conv("conv2d_5", 32, Padding::same);
  conv("conv2d_6", 16, Padding::same);
  pool("max_pooling2d_2");
  simple(LayerType::batch_norm, "batch_normalization");
  conv("conv2d_7", 32, Padding::same);
  conv("conv2d_8", 16, Padding::same);
  pool("max_pooling2d_3");
  simple(LayerType::batch_norm, "batch_normalization_1");
  simple(LayerType::flatten, "flatten");
  dense("dense", 128, Activation::relu);
  dense("dense_1", 64, Activation::relu);
  simple(LayerType::dropout, "dropout_3", 0.5f);
  dense("dense_2", 10, Activation::softmax);
  return a;  // valid by construction; tests check it
}

Model random_model(const Architecture& arch, uint64_t seed) {
  Model m;
  m.arch = arch;
  m.metadata["trained"] = "false";
  m.metadata["description"] = "deterministic random weights (seed " + std::to_string(seed) + "), untrained";
  std::mt19937_64 rng(seed);
  auto uniform = [&](float lo, float hi) {
    return lo + (hi - lo) * float(double(rng() >> 11) * (1.0 / 9007199254740992.0));
  };
  // The tensors' shapes are the ones the layers ask for (a kernel is [kh, kw, in, out] or [in, out]).
  std::map<std::string, std::vector<int64_t>> shape_of;
  for (const ParamSpec& p : parameter_specs(arch)) shape_of[p.name] = p.shape;
  for (const LayerSpec& l : arch.layers) {
    if (l.type == LayerType::conv2d || l.type == LayerType::dense) {
      auto kernel = shape_of.find(l.name + ".kernel");
      if (kernel == shape_of.end()) continue;  // past a layer check_architecture refuses
      int64_t fan_in = 1;
      for (size_t d = 0; d + 1 < kernel->second.size(); ++d) fan_in *= kernel->second[d];
      float limit = std::sqrt(6.f / float(fan_in));  // He-uniform keeps ReLU activations from vanishing
      std::vector<float> k(static_cast<size_t>(fan_in * l.filters));
      for (float& v : k) v = uniform(-limit, limit);
      std::vector<float> b(static_cast<size_t>(l.filters));
      for (float& v : b) v = uniform(0.f, 0.1f);
      m.params[l.name + ".kernel"] = std::move(k);
      m.params[l.name + ".bias"] = std::move(b);
    } else if (l.type == LayerType::batch_norm) {
      auto gamma = shape_of.find(l.name + ".gamma");
      if (gamma == shape_of.end()) continue;
      size_t c = size_t(gamma->second[0]);
      std::vector<float> g(c), be(c), mu(c), var(c);
      for (size_t i = 0; i < c; ++i) {
        g[i] = uniform(0.8f, 1.2f);
        be[i] = uniform(-0.1f, 0.1f);
        mu[i] = uniform(0.f, 0.2f);
        var[i] = uniform(0.5f, 1.5f);
      }
      m.params[l.name + ".gamma"] = g;
      m.params[l.name + ".beta"] = be;
      m.params[l.name + ".moving_mean"] = mu;
      m.params[l.name + ".moving_variance"] = var;
    }
  }
  return m;
}

}  // namespace gradcam
