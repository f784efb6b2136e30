// Occlusion, Zeiler & Fergus 2014, arXiv 1311.2901 Sec. 4.2, as Captum's Occlusion: a square window
// (all colour channels) slides over the input; each position replaces the window by the baseline,
// and every pixel's attribution is the mean, over the windows covering it, of the score's drop
// (original score - occluded score). Captum's positions: ceil((side - window) / stride) + 1 per axis,
// at multiples of the stride, the last one cut at the border.
#include <algorithm>
#include <chrono>

#include "methods/attribution.h"

namespace gradcam {

namespace {

int window_positions(int side, int window, int stride) { return (side - window + stride - 1) / stride + 1; }

}  // namespace

Map occlusion(MethodContext& cx) {
  Network& net = cx.net;
  const Architecture& arch = net.arch();
  const ExplainOptions& opt = cx.options;
  const int h = arch.height, w = arch.width, c = arch.channels;
  const int window = occlusion_window(opt, h, w), stride = occlusion_stride(opt, h, w);
  const size_t n = size_t(h) * w * c;
  const std::vector<float> b = baseline_input(arch, cx.input, opt.baseline.value_or(Baseline::zero), opt.seed);
  const float original = target_score(net, cx.target, opt.score);  // the network has run on the input
  std::vector<float> x(cx.input, cx.input + n);
  std::vector<double> drop(size_t(h) * w, 0.0);
  std::vector<int> covered(size_t(h) * w, 0);
  const int rows = window_positions(h, window, stride), cols = window_positions(w, window, stride);
  for (int r = 0; r < rows; ++r)
    for (int q = 0; q < cols; ++q) {
      const int y0 = r * stride, x0 = q * stride, y1 = std::min(h, y0 + window), x1 = std::min(w, x0 + window);
      for (int y = y0; y < y1; ++y)
        std::copy(b.begin() + (ptrdiff_t(y) * w + x0) * c, b.begin() + (ptrdiff_t(y) * w + x1) * c, x.begin() + (ptrdiff_t(y) * w + x0) * c);
      net.forward(x.data());
      const double d = double(original) - double(target_score(net, cx.target, opt.score));
      for (int y = y0; y < y1; ++y) {
        std::copy(cx.input + (ptrdiff_t(y) * w + x0) * c, cx.input + (ptrdiff_t(y) * w + x1) * c, x.begin() + (ptrdiff_t(y) * w + x0) * c);
        for (int xx = x0; xx < x1; ++xx) {
          drop[size_t(y) * w + size_t(xx)] += d;
          ++covered[size_t(y) * w + size_t(xx)];
        }
      }
    }
  net.forward(cx.input);
  cx.attribution.resize(n);
  for (size_t p = 0; p < drop.size(); ++p)
    for (int k = 0; k < c; ++k) cx.attribution[p * size_t(c) + size_t(k)] = float(drop[p] / covered[p]);
  return attribution_map(cx.attribution, h, w, c);
}

}  // namespace gradcam
