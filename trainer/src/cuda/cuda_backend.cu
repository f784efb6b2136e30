// The CUDA backend: the plan's layer list with the kernels of this folder and cuBLAS SGEMM, the
// same steps in the same order as cpu/cpu_backend.cpp. Buffers are allocated once for max_batch.
#include <cmath>
#include <string>
#include <vector>

#include "../backend.h"
#include "batch_norm.cuh"
#include "common.cuh"
#include "conv2d.cuh"
#include "dense.cuh"
#include "dropout.cuh"
#include "max_pool.cuh"
#include "optimizer.cuh"
#include "softmax_cross_entropy.cuh"

namespace trainer {

namespace {

constexpr float kBatchNormMomentum = 0.99f;  // Keras default

template <class T>
T* device_alloc(int64_t n) {
  T* p = nullptr;
  cudaCheck(cudaMalloc(&p, sizeof(T) * size_t(std::max<int64_t>(n, 1))));
  cudaCheck(cudaMemset(p, 0, sizeof(T) * size_t(std::max<int64_t>(n, 1))));
  return p;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const Plan& plan, int max_batch, bool tf32) : plan_(plan), max_batch_(max_batch) {
    cudaDeviceProp prop{};
    int dev = 0;
    cudaCheck(cudaGetDevice(&dev));
    cudaCheck(cudaGetDeviceProperties(&prop, dev));
    device_ = std::string(prop.name) + (tf32 ? ", TF32" : ", FP32");
    cublasCheck(cublasCreate(&cublas_));
    // TF32 tensor cores for SGEMM: ~10 mantissa bits in the products, FP32 accumulation.
    cublasCheck(cublasSetMathMode(cublas_, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const int64_t P = plan.num_params;
    params_ = device_alloc<float>(P);
    m_ = device_alloc<float>(P);
    v_ = device_alloc<float>(P);
    grads_ = device_alloc<float>(P);
    const size_t n = plan.layers.size();
    acts_.assign(n, nullptr);
    dacts_.assign(n, nullptr);
    argmax_.assign(n, nullptr);
    bn_mean_.assign(n, nullptr);
    bn_invstd_.assign(n, nullptr);
    int64_t cols = 0;
    for (size_t i = 0; i < n; ++i) {
      const PlannedLayer& l = plan.layers[i];
      acts_[i] = device_alloc<float>(l.out_size * max_batch);
      dacts_[i] = device_alloc<float>(l.out_size * max_batch);
      if (l.spec.type == LayerType::max_pool2d) argmax_[i] = device_alloc<int32_t>(l.out_size * max_batch);
      if (l.spec.type == LayerType::batch_norm) {
        bn_mean_[i] = device_alloc<float>(l.input.c);
        bn_invstd_[i] = device_alloc<float>(l.input.c);
      }
      if (l.spec.type == LayerType::conv2d)
        cols = std::max(cols, int64_t(max_batch) * l.geo.oh * l.geo.ow * l.geo.kh * l.geo.kw * l.geo.ic);
    }
    cols_ = device_alloc<float>(cols);
    x_ = device_alloc<float>(plan.input_size * max_batch);
    labels_ = device_alloc<int>(max_batch);
    probs_ = device_alloc<float>(int64_t(plan.num_classes) * max_batch);
    losses_ = device_alloc<float>(max_batch);
    correct_ = device_alloc<int>(max_batch);
  }

  ~CudaBackend() override {
    for (void* p : std::vector<void*>{params_, m_, v_, grads_, cols_, x_, labels_, probs_, losses_, correct_}) cudaFree(p);
    for (auto* v : {&acts_, &dacts_, &bn_mean_, &bn_invstd_})
      for (float* p : *v) cudaFree(p);
    for (int32_t* p : argmax_) cudaFree(p);
    cublasDestroy(cublas_);
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override { return device_; }

  void set_state(const TrainState& s) override {
    const size_t bytes = sizeof(float) * size_t(plan_.num_params);
    cudaCheck(cudaMemcpy(params_, s.params.data(), bytes, cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(m_, s.m.data(), bytes, cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(v_, s.v.data(), bytes, cudaMemcpyHostToDevice));
  }
  void get_state(TrainState& s) override {
    const size_t n = size_t(plan_.num_params);
    s.params.resize(n), s.m.resize(n), s.v.resize(n);
    cudaCheck(cudaMemcpy(s.params.data(), params_, sizeof(float) * n, cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(s.m.data(), m_, sizeof(float) * n, cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(s.v.data(), v_, sizeof(float) * n, cudaMemcpyDeviceToHost));
  }
  void gradients(std::vector<float>& out) override {
    out.resize(size_t(plan_.num_params));
    cudaCheck(cudaMemcpy(out.data(), grads_, sizeof(float) * out.size(), cudaMemcpyDeviceToHost));
  }

  BatchStats forward_backward(const float* x, const int* labels, int B, uint64_t seed, float smoothing) override {
    upload(x, labels, B);
    forward(B, true, seed);
    const size_t last = plan_.layers.size() - 1;
    cuda::softmax_cross_entropy(probs_, dacts_[last], losses_, correct_, acts_[last], labels_, B, plan_.num_classes,
                                smoothing);
    cudaCheck(cudaMemset(grads_, 0, sizeof(float) * size_t(plan_.num_params)));
    for (size_t i = plan_.layers.size(); i-- > 0;) layer_backward(i, B, seed);
    return stats(B, nullptr);
  }

  void optimizer_step(const OptimizerConfig& opt, float lr, int64_t t) override {
    for (const TensorSlot& s : plan_.slots) {
      if (!s.trainable) continue;
      float *w = params_ + s.offset, *g = grads_ + s.offset, *m = m_ + s.offset, *v = v_ + s.offset;
      if (opt.kind == OptimizerKind::rmsprop)
        cuda::rmsprop_update(w, g, v, s.size, lr, opt.rho, opt.epsilon);
      else
        cuda::adamw_update(w, g, m, v, s.size, lr, opt.beta1, opt.beta2, opt.epsilon, s.decay ? opt.weight_decay : 0.f,
                           t);
    }
  }

  BatchStats evaluate(const float* x, const int* labels, int B, float* probs) override {
    upload(x, labels, B);
    forward(B, false, 0);
    cuda::softmax_cross_entropy(probs_, nullptr, losses_, correct_, acts_.back(), labels_, B, plan_.num_classes, 0.f);
    return stats(B, probs);
  }

 private:
  float* param(int slot) { return params_ + plan_.slots[size_t(slot)].offset; }
  float* grad(int slot) { return grads_ + plan_.slots[size_t(slot)].offset; }

  void upload(const float* x, const int* labels, int B) {
    cudaCheck(cudaMemcpy(x_, x, sizeof(float) * size_t(plan_.input_size * B), cudaMemcpyHostToDevice));
    cudaCheck(cudaMemcpy(labels_, labels, sizeof(int) * size_t(B), cudaMemcpyHostToDevice));
  }

  BatchStats stats(int B, float* probs) {
    std::vector<float> losses(static_cast<size_t>(B));
    std::vector<int> correct(static_cast<size_t>(B));
    cudaCheck(cudaMemcpy(losses.data(), losses_, sizeof(float) * size_t(B), cudaMemcpyDeviceToHost));
    cudaCheck(cudaMemcpy(correct.data(), correct_, sizeof(int) * size_t(B), cudaMemcpyDeviceToHost));
    if (probs)
      cudaCheck(cudaMemcpy(probs, probs_, sizeof(float) * size_t(B) * size_t(plan_.num_classes), cudaMemcpyDeviceToHost));
    BatchStats s;
    double sum = 0;
    for (int b = 0; b < B; ++b) sum += losses[size_t(b)], s.correct += correct[size_t(b)];
    s.loss = float(sum / B);
    return s;
  }

  void forward(int B, bool training, uint64_t seed) {
    for (size_t i = 0; i < plan_.layers.size(); ++i) {
      const PlannedLayer& l = plan_.layers[i];
      const float* in = i == 0 ? x_ : acts_[i - 1];
      float* out = acts_[i];
      const int64_t n_in = l.in_size * B;
      switch (l.spec.type) {
        case LayerType::conv2d:
          cuda::conv2d_forward(cublas_, out, cols_, in, param(l.kernel), param(l.bias), B, l.geo, l.relu);
          break;
        case LayerType::dense:
          cuda::dense_forward(cublas_, out, in, param(l.kernel), param(l.bias), B, int(l.in_size), int(l.out_size),
                              l.relu);
          break;
        case LayerType::max_pool2d:
          cuda::max_pool_forward(out, argmax_[i], in, B, l.geo);
          break;
        case LayerType::batch_norm:
          if (training)
            cuda::batch_norm_forward_train(out, bn_mean_[i], bn_invstd_[i], in, param(l.gamma), param(l.beta),
                                           param(l.moving_mean), param(l.moving_variance), n_in / l.input.c,
                                           l.input.c, l.spec.epsilon, kBatchNormMomentum);
          else
            cuda::batch_norm_forward_infer(out, in, param(l.gamma), param(l.beta), param(l.moving_mean),
                                           param(l.moving_variance), n_in / l.input.c, l.input.c,
                                           l.spec.epsilon);
          break;
        case LayerType::dropout:
          if (training && l.spec.rate > 0.f)
            cuda::dropout_apply(out, in, n_in, l.spec.rate, seed, i);
          else
            cudaCheck(cudaMemcpy(out, in, sizeof(float) * size_t(n_in), cudaMemcpyDeviceToDevice));
          break;
        case LayerType::flatten:
          cudaCheck(cudaMemcpy(out, in, sizeof(float) * size_t(n_in), cudaMemcpyDeviceToDevice));
          break;
      }
    }
  }

  void layer_backward(size_t i, int B, uint64_t seed) {
    const PlannedLayer& l = plan_.layers[i];
    const float* in = i == 0 ? x_ : acts_[i - 1];
    float* din = i == 0 ? nullptr : dacts_[i - 1];
    float* dout = dacts_[i];
    const int64_t n_in = l.in_size * B;
    switch (l.spec.type) {
      case LayerType::conv2d:
      case LayerType::dense:
        if (l.relu) {
          cuda::relu_backward_kernel<<<cuda::grid_for(l.out_size * B), cuda::kThreads>>>(dout, acts_[i], l.out_size * B);
          cudaCheckLaunch();
        }
        if (l.spec.type == LayerType::conv2d)
          cuda::conv2d_backward(cublas_, din, grad(l.kernel), grad(l.bias), cols_, dout, in, param(l.kernel), B, l.geo);
        else
          cuda::dense_backward(cublas_, din, grad(l.kernel), grad(l.bias), dout, in, param(l.kernel), B, int(l.in_size),
                               int(l.out_size));
        break;
      case LayerType::max_pool2d:
        if (din) cuda::max_pool_backward(din, dout, argmax_[i], B, l.geo);
        break;
      case LayerType::batch_norm:
        cuda::batch_norm_backward(din, grad(l.gamma), grad(l.beta), dout, in, bn_mean_[i], bn_invstd_[i],
                                  param(l.gamma), n_in / l.input.c, l.input.c);
        break;
      case LayerType::dropout:
        if (!din) break;
        if (l.spec.rate > 0.f)
          cuda::dropout_apply(din, dout, n_in, l.spec.rate, seed, i);
        else
          cudaCheck(cudaMemcpy(din, dout, sizeof(float) * size_t(n_in), cudaMemcpyDeviceToDevice));
        break;
      case LayerType::flatten:
        if (din) cudaCheck(cudaMemcpy(din, dout, sizeof(float) * size_t(n_in), cudaMemcpyDeviceToDevice));
        break;
    }
  }

  const Plan plan_;
  int max_batch_;
  std::string device_;
  cublasHandle_t cublas_ = nullptr;
  float *params_, *m_, *v_, *grads_, *cols_, *x_, *probs_, *losses_;
  int *labels_, *correct_;
  std::vector<float*> acts_, dacts_, bn_mean_, bn_invstd_;
  std::vector<int32_t*> argmax_;
};

}  // namespace

bool cuda_compiled() { return true; }

bool cuda_device_present() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

gradcam::Result<std::unique_ptr<Backend>> make_cuda_backend(const Plan& plan, int max_batch, bool tf32) {
  if (!cuda_device_present()) return gradcam::make_error("no CUDA device found (cudaGetDeviceCount); use --backend cpu");
  try {
    return std::unique_ptr<Backend>(std::make_unique<CudaBackend>(plan, max_batch, tf32));
  } catch (const std::exception& e) {
    return gradcam::make_error(e.what());
  }
}

}  // namespace trainer
