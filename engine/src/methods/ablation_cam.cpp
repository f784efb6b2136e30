// AblationCAM, Desai & Ramaswamy 2020 (WACV, "Ablation-CAM: Visual Explanations for Deep
// Convolutional Network via Gradient-free Localization"), as pytorch-grad-cam computes it
// (ablation_cam.py, ablation_layer.py): channel k of the layer is set to the ablation value, the
// network runs on from that layer, and w_k = (y - y_k) / y, y the target's score and y_k its score
// with channel k ablated; the map is ReLU(sum_k w_k A^k).
//
// One pass per channel from the layer on (Network::forward_after), not a batch: the executor runs one
// image at a time. Only the nodes after the layer run, so at ResNet-18's layer4 a pass costs a few
// per cent of a forward.
#include <algorithm>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

// pytorch-grad-cam's AblationLayer: 0 when the activations' minimum is 0 (a layer after a ReLU),
// else that minimum less 1e7, far below anything the layer produces. (Batched, it lowers the
// minimum again for each later copy in a batch; this is the value its first copy gets.)
float ablation_value(const std::vector<float>& A) {
  const float lo = *std::min_element(A.begin(), A.end());
  return lo == 0.f ? 0.f : lo - 1e7f;
}

}  // namespace

Map ablation_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Shape& s = net.output_shape(cx.layer);
  const int hw = s.h * s.w, c = s.c;
  const std::vector<float> activations = net.output(cx.layer);
  const float original = target_score(net, cx.target, cx.options.score);
  const float value = ablation_value(activations);
  std::vector<float> ablated = activations, weights(size_t(c), 0.f);
  // pytorch-grad-cam divides by the score as it is; a score of exactly 0 would make every weight
  // infinite, so there the drop itself is the weight (the map is normalised for display anyway).
  const float divisor = original != 0.f ? original : 1.f;
  for (int k = 0; k < c; ++k) {
    bool changed = false;
    for (int i = 0; i < hw; ++i) {
      float& a = ablated[size_t(i) * c + k];
      changed = changed || a != value;
      a = value;
    }
    // A channel already at the ablation value everywhere (a dead ReLU unit) leaves the score as it
    // is: its weight is 0 without a pass.
    if (changed) {
      net.forward_after(cx.layer, ablated.data());
      weights[size_t(k)] = (original - target_score(net, cx.target, cx.options.score)) / divisor;
    }
    for (int i = 0; i < hw; ++i) ablated[size_t(i) * c + k] = activations[size_t(i) * c + k];
  }
  net.forward_after(cx.layer, activations.data());  // leave the network holding this image's activations
  return weighted_channel_sum(activations.data(), weights.data(), s.h, s.w, c, cx.options.eigen_smooth);
}

}  // namespace gradcam
