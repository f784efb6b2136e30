// The training plan: the architecture's layer list with every layer's shapes, where its tensors
// live in one flat parameter buffer, and how big each activation is per image. Both backends (CPU
// and CUDA) run this same list, so there is one model definition: the architecture JSON the engine
// reads, with the tensors in parameter_specs() order and Keras layouts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/model.h"
#include "hash_random.h"

namespace trainer {

using gradcam::Architecture;
using gradcam::LayerSpec;
using gradcam::LayerType;

// One tensor of the flat parameter buffer.
struct TensorSlot {
  std::string name;             // "conv2d_3.kernel"
  std::vector<int64_t> shape;   // Keras shape
  int64_t offset = 0, size = 0;
  bool trainable = true;        // batch norm's moving statistics are not
  bool decay = false;           // weight decay applies to kernels only
};

// Spatial geometry of a convolution or a pooling window (Keras "valid"/"same" padding).
struct Geometry {
  int ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, pad_t, pad_l;
};

struct PlannedLayer {
  LayerSpec spec;
  gradcam::Shape input, output;       // per image, by Keras's shape rules (plan.cpp)
  int64_t in_size = 0, out_size = 0;  // floats per image
  Geometry geo{};                     // conv2d and max_pool2d
  // Slot indices (-1 when the layer has no such tensor).
  int kernel = -1, bias = -1, gamma = -1, beta = -1, moving_mean = -1, moving_variance = -1;
  bool relu = false;                  // conv2d / dense with activation relu
  bool logits = false;                // the final dense with softmax: its output is the logits
};

struct Plan {
  Architecture arch;
  std::vector<PlannedLayer> layers;
  std::vector<TensorSlot> slots;
  int64_t num_params = 0;  // floats in the flat buffer (moving statistics included)
  int64_t input_size = 0;  // floats per image
  int num_classes = 0;
};

// Checks that the architecture is one the engine reads (gradcam::check_architecture) and is
// trainable (a softmax dense layer last), plans every layer's shapes with the trainer's own Keras
// shape rules, and lays out the parameter buffer. Errors name the layer.
gradcam::Result<Plan> make_plan(const Architecture& arch);

// Keras initialisation: Glorot-uniform kernels, zero biases, gamma 1, beta 0, moving mean 0,
// moving variance 1. Deterministic in `seed` (counter-based hash, the same on every platform).
void init_params(const Plan& plan, uint64_t seed, float* params);

// To and from the engine's model file (the same tensors, no conversion).
gradcam::Model to_model(const Plan& plan, const float* params);
gradcam::Status from_model(const Plan& plan, const gradcam::Model& model, float* params);

}  // namespace trainer
