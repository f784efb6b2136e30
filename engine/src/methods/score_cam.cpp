// Score-CAM, Wang et al. 2020, arXiv 1910.01279 Alg. 1, computed as pytorch-grad-cam's ScoreCAM
// does: each channel of the layer is upsampled to the input (bilinear, corners aligned as PyTorch's
// UpsamplingBilinear2d), then scaled to [0,1] at that size ((M - min) / (max - min + 1e-8)), and
// masks the input; the target's score (its logit by default, as ClassifierOutputTarget) on the
// masked input weighs the channel, and the weights are a softmax over channels. One forward pass
// per channel.
#include <algorithm>
#include <cmath>

#include "gradcam/map.h"
#include "gradcam/methods.h"

namespace gradcam {

Map score_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const Shape& s = net.output_shape(cx.layer);
  const int h = s.h, w = s.w, c = s.c, ih = arch.height, iw = arch.width, ic = arch.channels;
  const std::vector<float> activations = net.output(cx.layer);
  std::vector<float> plane(size_t(h) * w), masked(size_t(ih) * iw * ic), scores(static_cast<size_t>(c));
  // A constant channel (a ReLU unit dead on this image) scales to an all-zero mask, so every such
  // channel masks the input to zeros: that score is computed once, not once per channel.
  bool have_zero_score = false;
  float zero_score = 0.f;
  for (int k = 0; k < c; ++k) {
    for (int i = 0; i < h * w; ++i) plane[size_t(i)] = activations[size_t(i) * c + k];
    const auto [plo, phi] = std::minmax_element(plane.begin(), plane.end());
    const bool constant = !(*phi > *plo);
    if (constant && have_zero_score) {
      scores[size_t(k)] = zero_score;
      continue;
    }
    std::vector<float> mask = upsample_bilinear_aligned(plane.data(), h, w, ih, iw);
    const auto [lo, hi] = std::minmax_element(mask.begin(), mask.end());
    const float low = *lo, range = constant ? 0.f : *hi - *lo;
    for (float& v : mask) v = constant ? 0.f : (v - low) / (range + 1e-8f);
    for (int i = 0; i < ih * iw; ++i)
      for (int ch = 0; ch < ic; ++ch) masked[size_t(i) * ic + ch] = cx.input[size_t(i) * ic + ch] * mask[size_t(i)];
    net.forward(masked.data());
    scores[size_t(k)] = target_score(net, cx.target, cx.options.score);
    if (constant) have_zero_score = true, zero_score = scores[size_t(k)];
  }
  float m = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (float& v : scores) sum += v = std::exp(v - m);
  for (float& v : scores) v = float(v / sum);
  net.forward(cx.input);  // leave the network holding this image's activations
  return weighted_channel_sum(activations.data(), scores.data(), h, w, c, cx.options.eigen_smooth);
}

}  // namespace gradcam
