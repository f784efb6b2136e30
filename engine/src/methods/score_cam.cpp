// Score-CAM, Wang et al. 2020, arXiv 1910.01279 Alg. 1, computed as pytorch-grad-cam's ScoreCAM
// does: each channel of the layer is upsampled to the input (bilinear, corners aligned as PyTorch's
// UpsamplingBilinear2d), then scaled to [0,1] at that size ((M - min) / (max - min + 1e-8)), and
// masks the input; the target's score (its logit by default, as ClassifierOutputTarget) on the
// masked input weighs the channel, and the weights are a softmax over channels. One forward pass
// per channel, the masked inputs in batches (methods/forward_batches.h) spread over the engine's
// threads.
#include <algorithm>
#include <cmath>

#include "gradcam/map.h"
#include "gradcam/methods.h"
#include "methods/forward_batches.h"
#include "methods/network_pool.h"
#include "parallel/thread_pool.h"

namespace gradcam {

Map score_cam(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const Shape& s = net.output_shape(cx.layer);
  const int h = s.h, w = s.w, c = s.c, ih = arch.height, iw = arch.width, ic = arch.channels;
  const std::vector<float> activations = net.output(cx.layer);
  // A constant channel (a ReLU unit dead on this image) scales to an all-zero mask, so every such
  // channel masks the input to zeros: that score is computed once, for the first of them.
  std::vector<char> constant(static_cast<size_t>(c));
  std::vector<int> runs;  // the channels whose masked input goes through the network
  int first_constant = -1;
  for (int k = 0; k < c; ++k) {
    float lo = activations[size_t(k)], hi = lo;
    for (int i = 1; i < h * w; ++i) lo = std::min(lo, activations[size_t(i) * c + k]), hi = std::max(hi, activations[size_t(i) * c + k]);
    constant[size_t(k)] = !(hi > lo);
    if (!constant[size_t(k)]) runs.push_back(k);
    else if (first_constant < 0) runs.push_back(first_constant = k);
  }
  // The masked passes are independent: they go through the network in batches (one read of each
  // weight per batch), and the batches run over the thread pool, each on a network of its own (the
  // kernels inside them then run on that one thread). The batches depend on the channels and the
  // model only, and a batched forward computes each image as a single forward does, so the scores,
  // and the softmax over them in channel order, are the same for any thread count.
  std::vector<float> scores(static_cast<size_t>(c));
  const size_t image = size_t(ih) * iw * ic;
  const std::vector<int64_t> bounds =
      forward_batches(int64_t(runs.size()), largest_batch(net.batch_floats_per_image(), net.batch_weight_floats()));
  NetworkPool networks(net);
  parallel_for(int64_t(bounds.size()) - 1, 1, [&](int64_t begin, int64_t end) {
    NetworkPool::Lease pass(networks);
    std::vector<float> plane(size_t(h) * w), masked;
    for (int64_t batch = begin; batch < end; ++batch) {
      const int64_t first = bounds[size_t(batch)], count = bounds[size_t(batch) + 1] - first;
      masked.resize(image * size_t(count));
      for (int64_t j = 0; j < count; ++j) {
        const int k = runs[size_t(first + j)];
        for (int i = 0; i < h * w; ++i) plane[size_t(i)] = activations[size_t(i) * c + k];
        std::vector<float> mask = upsample_bilinear_aligned(plane.data(), h, w, ih, iw);
        const auto [lo, hi] = std::minmax_element(mask.begin(), mask.end());
        const bool flat = constant[size_t(k)];
        const float low = *lo, range = flat ? 0.f : *hi - *lo;
        for (float& v : mask) v = flat ? 0.f : (v - low) / (range + 1e-8f);
        float* out = masked.data() + size_t(j) * image;
        for (int i = 0; i < ih * iw; ++i)
          for (int ch = 0; ch < ic; ++ch) out[size_t(i) * ic + ch] = cx.input[size_t(i) * ic + ch] * mask[size_t(i)];
      }
      pass->forward_batch(masked.data(), int(count));
      for (int64_t j = 0; j < count; ++j)
        scores[size_t(runs[size_t(first + j)])] = target_score(*pass, int(j), cx.target, cx.options.score);
    }
  });
  for (int k = 0; k < c; ++k)
    if (constant[size_t(k)]) scores[size_t(k)] = scores[size_t(first_constant)];
  float m = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (float& v : scores) sum += v = std::exp(v - m);
  for (float& v : scores) v = float(v / sum);
  // The batched passes have memory of their own: the network still holds this image's activations.
  return weighted_channel_sum(activations.data(), scores.data(), h, w, c, cx.options.eigen_smooth);
}

}  // namespace gradcam
