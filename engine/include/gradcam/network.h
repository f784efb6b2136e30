// A sequential CNN planned once (shapes, buffers) and then run many times without allocating.
// Forward keeps every layer's output; backward propagates a gradient from the logits down to any
// layer's output (or the input), keeping every intermediate gradient, so the CAMs of all layers
// come from one forward and one backward pass.
#pragma once
#include <cstdint>
#include <vector>

#include "gradcam/kernels.h"
#include "gradcam/model.h"

namespace gradcam {

// How ReLU passes gradients back. Guided Backprop (Springenberg et al., arXiv 1412.6806, Eq. 6)
// also zeroes negative incoming gradients.
enum class ReluBackward { standard, guided };

class Network {
 public:
  explicit Network(const Model& model);  // model must outlive the network

  const Architecture& arch() const { return model_.arch; }
  int layer_count() const { return int(model_.arch.layers.size()); }
  int num_classes() const { return int(logits_.size()); }

  // input: height*width*channels floats, HWC, already scaled. Fills outputs, logits, probabilities.
  void forward(const float* input);
  // Runs layers first..end with x as the input of layer `first` (the earlier outputs keep their
  // values). Used by finite-difference checks of intermediate gradients.
  void forward_from(int first, const float* x);

  // Seeds d(score)/d(logits) and propagates back to the output of layer `stop` (-1: the input).
  // After it, output_grad(i) is valid for every i >= stop and input_grad() when stop == -1.
  void backward(const float* dscore_dlogits, int stop, ReluBackward relu = ReluBackward::standard);

  const std::vector<float>& output(int layer) const { return outputs_[layer]; }
  const std::vector<float>& output_grad(int layer) const { return grads_[layer]; }
  const std::vector<float>& input() const { return input_; }
  const std::vector<float>& input_grad() const { return input_grad_; }
  const std::vector<float>& logits() const { return logits_; }
  const std::vector<float>& probabilities() const { return probs_; }

 private:
  void layer_forward(int i, const float* in, float* out);
  // gout is d(score)/d(output of layer i); writes d(score)/d(input of layer i) to gin.
  void layer_backward(int i, const float* gout, float* gin, ReluBackward relu);

  const Model& model_;
  struct Planned {
    const float* kernel = nullptr;
    const float* bias = nullptr;
    std::vector<float> kernel_t;            // direct convs: kernel as [kh][kw][oc][ic], for backward
    std::vector<float> bn_scale, bn_shift;  // batch norm folded: y = x * scale + shift
    kernels::ConvGeometry geometry{};       // conv and max pool
    // 3x3 stride-1 convolutions run as Winograd F(2x2,3x3): the transformed kernel for forward,
    // and of the flipped, transposed kernel for the input gradient.
    bool winograd = false;
    std::vector<float> winograd_forward, winograd_backward;
  };
  std::vector<Planned> planned_;
  std::vector<std::vector<float>> outputs_, grads_;
  std::vector<float> input_, input_grad_, logits_, probs_;
  std::vector<float> scratch_padded_, scratch_grad_, scratch_winograd_;  // sized for the largest layer
};

}  // namespace gradcam
