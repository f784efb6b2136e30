// Optimisers and learning-rate schedules. The update rules are written once here for the CPU and
// mirrored by trainer/src/cuda/optimizer.cuh.
#pragma once
#include <cstdint>
#include <string>

namespace trainer {

enum class OptimizerKind { rmsprop, adamw };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::rmsprop;
  float rho = 0.9f, epsilon = 1e-7f;     // RMSprop (Keras defaults)
  float beta1 = 0.9f, beta2 = 0.999f;    // Adam
  float weight_decay = 0.f;              // AdamW, decoupled, kernels only
};

// RMSprop as TF's ApplyRMSProp (what Keras's RMSprop runs): v = rho*v + (1-rho)*g^2,
// w -= lr * g / sqrt(v + eps).
void rmsprop_update(float* w, const float* g, float* v, int64_t n, float lr, float rho, float eps);
// AdamW (Loshchilov & Hutter, ICLR 2019, Algorithm 2) with bias correction at step t (1-based);
// decay is multiplied by lr as in PyTorch's AdamW.
void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float decay, int64_t t);

enum class ScheduleKind { constant, warmup_cosine };
struct Schedule {
  ScheduleKind kind = ScheduleKind::constant;
  float peak_lr = 1e-3f;
  int64_t warmup_steps = 0, total_steps = 1;
  float final_fraction = 0.f;  // cosine ends at peak*final_fraction
  float lr(int64_t step) const;  // step counts from 0
};

}  // namespace trainer
