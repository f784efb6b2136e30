#include "plan.h"

#include <cmath>

namespace trainer {

using gradcam::Activation;
using gradcam::make_error;
using gradcam::Padding;

namespace {

using gradcam::Shape;

// Keras's output size of a window over one spatial dimension: "valid" keeps the windows inside the
// input, "same" gives ceil(in / stride) (tf.keras conv_utils.conv_output_length).
int window_output(int in, int k, int s, Padding p) {
  return p == Padding::same ? (in + s - 1) / s : in >= k ? (in - k) / s + 1 : 0;
}

// Every layer's input and output shape, in order, by Keras's rules for the layer types the trainer
// runs. The engine has checked the same architecture through its own graph (check_architecture);
// these are the shapes the trainer's kernels are written for.
gradcam::Status plan_shapes(const Architecture& arch, std::vector<PlannedLayer>& layers) {
  Shape s{arch.height, arch.width, arch.channels};
  for (size_t i = 0; i < layers.size(); ++i) {
    PlannedLayer& pl = layers[i];
    const LayerSpec& l = pl.spec;
    pl.input = s;
    switch (l.type) {
      case LayerType::conv2d:
        s = {window_output(s.h, l.kernel_h, l.stride_h, l.padding), window_output(s.w, l.kernel_w, l.stride_w, l.padding),
             l.filters};
        break;
      case LayerType::max_pool2d:
        s = {window_output(s.h, l.pool_h, l.stride_h, l.padding), window_output(s.w, l.pool_w, l.stride_w, l.padding), s.c};
        break;
      case LayerType::flatten: s = {1, 1, int(s.size())}; break;
      case LayerType::dense: s = {1, 1, l.filters}; break;
      case LayerType::dropout:
      case LayerType::batch_norm: break;
    }
    if (s.h < 1 || s.w < 1 || s.c < 1)
      return make_error("layer " + std::to_string(i) + " (" + l.name + "): the output would be empty");
    pl.output = s;
    pl.in_size = pl.input.size();
    pl.out_size = pl.output.size();
  }
  return {};
}

Geometry make_geometry(const PlannedLayer& pl, int kh, int kw) {
  const LayerSpec& l = pl.spec;
  Geometry g{};
  g.ih = pl.input.h, g.iw = pl.input.w, g.ic = pl.input.c;
  g.oh = pl.output.h, g.ow = pl.output.w, g.oc = pl.output.c;
  g.kh = kh, g.kw = kw, g.sh = l.stride_h, g.sw = l.stride_w;
  if (l.padding == Padding::same) {  // Keras: the odd pixel of padding goes after
    g.pad_t = std::max((g.oh - 1) * g.sh + kh - g.ih, 0) / 2;
    g.pad_l = std::max((g.ow - 1) * g.sw + kw - g.iw, 0) / 2;
  }
  return g;
}

}  // namespace

gradcam::Result<Plan> make_plan(const Architecture& arch) {
  if (gradcam::Status s = gradcam::check_architecture(arch); !s) return make_error(s.error());
  Plan p;
  p.arch = arch;
  for (const LayerSpec& l : arch.layers) {
    PlannedLayer pl;
    pl.spec = l;
    p.layers.push_back(pl);
  }
  if (gradcam::Status s = plan_shapes(arch, p.layers); !s) return make_error(s.error());
  p.input_size = int64_t(arch.height) * arch.width * arch.channels;
  std::vector<gradcam::ParamSpec> specs = gradcam::parameter_specs(arch);
  for (const auto& s : specs) {
    TensorSlot t;
    t.name = s.name;
    t.shape = s.shape;
    t.size = 1;
    for (int64_t d : s.shape) t.size *= d;
    t.offset = p.num_params;
    p.num_params += t.size;
    const std::string param = s.name.substr(s.name.rfind('.') + 1);
    t.trainable = param != "moving_mean" && param != "moving_variance";
    t.decay = param == "kernel";
    p.slots.push_back(t);
  }
  auto slot = [&](const std::string& name) {
    for (size_t i = 0; i < p.slots.size(); ++i)
      if (p.slots[i].name == name) return int(i);
    return -1;
  };
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    const LayerSpec& l = arch.layers[i];
    PlannedLayer& pl = p.layers[i];
    const std::string where = "layer " + std::to_string(i) + " (" + l.name + ")";
    switch (l.type) {
      case LayerType::conv2d:
      case LayerType::dense:
        if (l.type == LayerType::conv2d) pl.geo = make_geometry(pl, l.kernel_h, l.kernel_w);
        pl.kernel = slot(l.name + ".kernel");
        pl.bias = slot(l.name + ".bias");
        pl.relu = l.activation == Activation::relu;
        if (l.activation == Activation::softmax) {
          if (l.type != LayerType::dense || i + 1 != arch.layers.size())
            return make_error(where + ": softmax is supported only on the last (dense) layer");
          pl.logits = true;
        }
        break;
      case LayerType::max_pool2d:
        pl.geo = make_geometry(pl, l.pool_h, l.pool_w);
        break;
      case LayerType::batch_norm:
        pl.gamma = slot(l.name + ".gamma");
        pl.beta = slot(l.name + ".beta");
        pl.moving_mean = slot(l.name + ".moving_mean");
        pl.moving_variance = slot(l.name + ".moving_variance");
        break;
      case LayerType::dropout:
        if (!(l.rate >= 0.f && l.rate < 1.f)) return make_error(where + ": dropout rate must be in [0, 1)");
        break;
      case LayerType::flatten:
        break;
    }
  }
  if (!p.layers.back().logits)
    return make_error("the last layer must be a dense layer with softmax activation (the trainer fuses it with "
                      "the cross-entropy loss)");
  p.num_classes = p.layers.back().output.c;
  if (!arch.classes.empty() && int(arch.classes.size()) != p.num_classes)
    return make_error("architecture lists " + std::to_string(arch.classes.size()) + " classes but the last layer has " +
                      std::to_string(p.num_classes) + " units");
  return p;
}

void init_params(const Plan& plan, uint64_t seed, float* params) {
  for (size_t s = 0; s < plan.slots.size(); ++s) {
    const TensorSlot& t = plan.slots[s];
    float* w = params + t.offset;
    const std::string param = t.name.substr(t.name.rfind('.') + 1);
    if (param == "kernel") {
      // Glorot & Bengio (2010): U(-a, a), a = sqrt(6 / (fan_in + fan_out)); for a conv kernel
      // [kh,kw,in,out] Keras takes fan_in = kh*kw*in and fan_out = kh*kw*out.
      double receptive = 1;
      for (size_t d = 0; d + 2 < t.shape.size(); ++d) receptive *= double(t.shape[d]);
      const double fan_in = receptive * double(t.shape[t.shape.size() - 2]);
      const double fan_out = receptive * double(t.shape.back());
      const float a = float(std::sqrt(6.0 / (fan_in + fan_out)));
      for (int64_t k = 0; k < t.size; ++k) w[k] = (2.f * hash_uniform(seed, s, uint64_t(k)) - 1.f) * a;
    } else {
      const float v = (param == "gamma" || param == "moving_variance") ? 1.f : 0.f;
      for (int64_t k = 0; k < t.size; ++k) w[k] = v;
    }
  }
}

gradcam::Model to_model(const Plan& plan, const float* params) {
  gradcam::Model m;
  m.arch = plan.arch;
  for (const TensorSlot& t : plan.slots)
    m.params[t.name] = std::vector<float>(params + t.offset, params + t.offset + t.size);
  return m;
}

gradcam::Status from_model(const Plan& plan, const gradcam::Model& model, float* params) {
  for (const TensorSlot& t : plan.slots) {
    auto it = model.params.find(t.name);
    if (it == model.params.end()) return make_error("model has no tensor " + t.name);
    if (int64_t(it->second.size()) != t.size)
      return make_error("tensor " + t.name + " has " + std::to_string(it->second.size()) + " values, expected " +
                        std::to_string(t.size));
    std::copy(it->second.begin(), it->second.end(), params + t.offset);
  }
  return {};
}

}  // namespace trainer
