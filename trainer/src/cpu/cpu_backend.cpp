// The CPU backend: the plan's layer list run with the reference layers of layers.h. All buffers
// are sized once for max_batch in the constructor; a step allocates nothing.
#include <algorithm>
#include <cstring>

#include "../backend.h"
#include "layers.h"

namespace trainer {

namespace {

constexpr float kBatchNormMomentum = 0.99f;  // Keras default

class CpuBackend final : public Backend {
 public:
  CpuBackend(const Plan& plan, int max_batch) : plan_(plan), max_batch_(max_batch) {
    const size_t n = plan.layers.size();
    state_.params.assign(size_t(plan.num_params), 0.f);
    state_.m.assign(size_t(plan.num_params), 0.f);
    state_.v.assign(size_t(plan.num_params), 0.f);
    grads_.assign(size_t(plan.num_params), 0.f);
    acts_.resize(n);
    dacts_.resize(n);
    argmax_.resize(n);
    bn_mean_.resize(n);
    bn_invstd_.resize(n);
    int64_t scratch = 0;
    for (size_t i = 0; i < n; ++i) {
      const PlannedLayer& l = plan.layers[i];
      acts_[i].assign(size_t(l.out_size * max_batch), 0.f);
      dacts_[i].assign(size_t(l.out_size * max_batch), 0.f);
      if (l.spec.type == LayerType::max_pool2d) argmax_[i].assign(size_t(l.out_size * max_batch), 0);
      if (l.spec.type == LayerType::batch_norm) {
        bn_mean_[i].assign(size_t(l.input.c), 0.f);
        bn_invstd_[i].assign(size_t(l.input.c), 0.f);
      }
      if (l.spec.type == LayerType::conv2d) scratch = std::max(scratch, cpu::conv2d_scratch_floats(l.geo, max_batch));
    }
    cols_.assign(size_t(scratch), 0.f);
    probs_.assign(size_t(plan.num_classes) * size_t(max_batch), 0.f);
  }

  std::string name() const override { return "cpu"; }
  void set_state(const TrainState& s) override { state_ = s; }
  void get_state(TrainState& s) override { s = state_; }
  void gradients(std::vector<float>& out) override { out = grads_; }

  BatchStats forward_backward(const float* x, const int* labels, int B, uint64_t dropout_seed,
                              float label_smoothing) override {
    forward(x, B, true, dropout_seed);
    const size_t last = plan_.layers.size() - 1;
    BatchStats s;
    s.loss = cpu::softmax_cross_entropy(probs_.data(), dacts_[last].data(), &s.correct, acts_[last].data(), labels, B,
                                        plan_.num_classes, label_smoothing);
    std::fill(grads_.begin(), grads_.end(), 0.f);
    for (size_t i = plan_.layers.size(); i-- > 0;) layer_backward(i, x, B, dropout_seed);
    return s;
  }

  void optimizer_step(const OptimizerConfig& opt, float lr, int64_t t) override {
    for (const TensorSlot& slot : plan_.slots) {
      if (!slot.trainable) continue;
      float* w = state_.params.data() + slot.offset;
      const float* g = grads_.data() + slot.offset;
      float* m = state_.m.data() + slot.offset;
      float* v = state_.v.data() + slot.offset;
      if (opt.kind == OptimizerKind::rmsprop)
        rmsprop_update(w, g, v, slot.size, lr, opt.rho, opt.epsilon);
      else
        adamw_update(w, g, m, v, slot.size, lr, opt.beta1, opt.beta2, opt.epsilon,
                     slot.decay ? opt.weight_decay : 0.f, t);
    }
  }

  BatchStats evaluate(const float* x, const int* labels, int B, float* probs) override {
    forward(x, B, false, 0);
    BatchStats s;
    s.loss = cpu::softmax_cross_entropy(probs_.data(), nullptr, &s.correct, acts_.back().data(), labels, B,
                                        plan_.num_classes, 0.f);
    if (probs) std::copy(probs_.begin(), probs_.begin() + int64_t(B) * plan_.num_classes, probs);
    return s;
  }

 private:
  float* param(int slot) { return state_.params.data() + plan_.slots[size_t(slot)].offset; }
  float* grad(int slot) { return grads_.data() + plan_.slots[size_t(slot)].offset; }

  void forward(const float* x, int B, bool training, uint64_t seed) {
    for (size_t i = 0; i < plan_.layers.size(); ++i) {
      const PlannedLayer& l = plan_.layers[i];
      const float* in = i == 0 ? x : acts_[i - 1].data();
      float* out = acts_[i].data();
      const int64_t n_in = l.in_size * B;
      switch (l.spec.type) {
        case LayerType::conv2d:
          cpu::conv2d_forward(out, cols_.data(), in, param(l.kernel), param(l.bias), B, l.geo, l.relu);
          break;
        case LayerType::dense:
          cpu::dense_forward(out, in, param(l.kernel), param(l.bias), B, int(l.in_size), int(l.out_size), l.relu);
          break;
        case LayerType::max_pool2d:
          cpu::max_pool_forward(out, argmax_[i].data(), in, B, l.geo);
          break;
        case LayerType::batch_norm:
          if (training)
            cpu::batch_norm_forward_train(out, bn_mean_[i].data(), bn_invstd_[i].data(), in, param(l.gamma),
                                          param(l.beta), param(l.moving_mean), param(l.moving_variance),
                                          n_in / l.input.c, l.input.c, l.spec.epsilon, kBatchNormMomentum);
          else
            cpu::batch_norm_forward_infer(out, in, param(l.gamma), param(l.beta), param(l.moving_mean),
                                          param(l.moving_variance), n_in / l.input.c, l.input.c,
                                          l.spec.epsilon);
          break;
        case LayerType::dropout:
          if (training && l.spec.rate > 0.f)
            cpu::dropout_forward(out, in, n_in, l.spec.rate, seed, i);
          else
            std::memcpy(out, in, sizeof(float) * size_t(n_in));
          break;
        case LayerType::flatten:
          std::memcpy(out, in, sizeof(float) * size_t(n_in));  // HWC row-major is Keras's flatten order
          break;
      }
    }
  }

  void layer_backward(size_t i, const float* x, int B, uint64_t seed) {
    const PlannedLayer& l = plan_.layers[i];
    const float* in = i == 0 ? x : acts_[i - 1].data();
    float* din = i == 0 ? nullptr : dacts_[i - 1].data();
    float* dout = dacts_[i].data();
    const int64_t n_in = l.in_size * B;
    switch (l.spec.type) {
      case LayerType::conv2d:
        if (l.relu) cpu::relu_backward(dout, acts_[i].data(), l.out_size * B);
        cpu::conv2d_backward(din, grad(l.kernel), grad(l.bias), cols_.data(), dout, in, param(l.kernel), B, l.geo);
        break;
      case LayerType::dense:
        if (l.relu) cpu::relu_backward(dout, acts_[i].data(), l.out_size * B);
        cpu::dense_backward(din, grad(l.kernel), grad(l.bias), dout, in, param(l.kernel), B, int(l.in_size),
                            int(l.out_size));
        break;
      case LayerType::max_pool2d:
        if (din) cpu::max_pool_backward(din, dout, argmax_[i].data(), B, l.geo);
        break;
      case LayerType::batch_norm:
        cpu::batch_norm_backward(din, grad(l.gamma), grad(l.beta), dout, in, bn_mean_[i].data(),
                                 bn_invstd_[i].data(), param(l.gamma), n_in / l.input.c, l.input.c);
        break;
      case LayerType::dropout:
        if (!din) break;
        if (l.spec.rate > 0.f)
          cpu::dropout_backward(din, dout, n_in, l.spec.rate, seed, i);
        else
          std::memcpy(din, dout, sizeof(float) * size_t(n_in));
        break;
      case LayerType::flatten:
        if (din) std::memcpy(din, dout, sizeof(float) * size_t(n_in));
        break;
    }
  }

  const Plan plan_;  // a copy: the backend outlives nothing it was given
  int max_batch_;
  TrainState state_;
  std::vector<float> grads_, cols_, probs_;
  std::vector<std::vector<float>> acts_, dacts_, bn_mean_, bn_invstd_;
  std::vector<std::vector<int32_t>> argmax_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const Plan& plan, int max_batch) {
  return std::make_unique<CpuBackend>(plan, max_batch);
}

}  // namespace trainer
