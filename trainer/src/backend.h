// What a backend does with the plan: one training step's forward and backward pass, the optimiser
// update, and inference. The CPU backend (cpu/cpu_backend.cpp) is the reference; the CUDA backend
// (cuda/cuda_backend.cu) runs the same layer list on the GPU.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "optimizer.h"
#include "plan.h"

namespace trainer {

// Everything a checkpoint needs besides the counters: the flat parameters (moving statistics
// included) and the optimiser's moments, all in the plan's layout.
struct TrainState {
  std::vector<float> params, m, v;
};

struct BatchStats {
  float loss = 0;   // mean over the batch
  int correct = 0;  // argmax == label
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // The accelerator and its arithmetic ("NVIDIA H100 80GB HBM3, TF32"); empty on the CPU.
  virtual std::string device() const { return ""; }
  virtual void set_state(const TrainState& s) = 0;
  virtual void get_state(TrainState& s) = 0;
  // Training mode (dropout on with masks from dropout_seed, batch statistics, moving statistics
  // updated). x: B images NHWC, already scaled. Keeps the parameter gradients for optimizer_step.
  virtual BatchStats forward_backward(const float* x, const int* labels, int B, uint64_t dropout_seed,
                                      float label_smoothing) = 0;
  virtual void gradients(std::vector<float>& out) = 0;  // flat, plan layout (zero for moving stats)
  // t: 1-based step count (Adam's bias correction).
  virtual void optimizer_step(const OptimizerConfig& opt, float lr, int64_t t) = 0;
  // Inference mode; probs (B x classes) may be null.
  virtual BatchStats evaluate(const float* x, const int* labels, int B, float* probs) = 0;
};

std::unique_ptr<Backend> make_cpu_backend(const Plan& plan, int max_batch);
// Fails with a message when the build has no CUDA or no GPU is present.
gradcam::Result<std::unique_ptr<Backend>> make_cuda_backend(const Plan& plan, int max_batch, bool tf32);
bool cuda_compiled();
bool cuda_device_present();  // false without CUDA in the build or without a GPU

}  // namespace trainer
