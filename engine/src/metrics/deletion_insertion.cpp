// Perturbation curves in the map's order: deletion and insertion (Petsiuk et al., RISE, BMVC 2018)
// and the confidence change of keeping the map's top pixels (see metrics.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "gradcam/map.h"
#include "gradcam/metrics.h"
#include "methods/network_pool.h"
#include "parallel/thread_pool.h"

namespace gradcam {

namespace {

float target_probability(Network& net, const float* x, int target) {
  net.forward(x);
  return net.probabilities()[size_t(target)];
}

double trapezoid_area(const std::vector<float>& x, const std::vector<float>& y) {
  double area = 0;
  for (size_t i = 1; i < x.size(); ++i) area += 0.5 * double(x[i] - x[i - 1]) * double(y[i] + y[i - 1]);
  return area;
}

// Walks the pixels in the map's order in `steps` equal steps, applying `perturb` to each newly
// reached pixel of x, and records the target's probability before the first step and after each.
template <class Perturb>
Curve perturbation_curve(Network& net, const float* input, std::vector<float> x, const Map& map, int target,
                         int steps, Perturb perturb) {
  const Architecture& arch = net.arch();
  const std::vector<int> order = relevance_order(map, arch.height, arch.width);
  const int n = int(order.size());
  steps = std::clamp(steps, 1, std::max(1, n));
  Curve c;
  c.probability.resize(size_t(steps) + 1);
  // The perturbed inputs are made in step order, a block at a time, and go through the network over
  // the thread pool, each on a network of its own; each probability lands at its step, so the curve
  // and its area are the same for any thread count. The block size is a constant, to bound memory.
  constexpr int kStepsPerBlock = 8;
  const size_t size = x.size();
  std::vector<float> block(size_t(kStepsPerBlock) * size);
  NetworkPool networks(net);
  int done = 0;
  for (int s0 = 0; s0 <= steps; s0 += kStepsPerBlock) {
    const int count = std::min(kStepsPerBlock, steps + 1 - s0);
    for (int b = 0; b < count; ++b) {
      const int upto = int((int64_t(s0 + b) * n + steps / 2) / steps);
      for (; done < upto; ++done) perturb(x, order[size_t(done)]);
      c.fraction.push_back(float(done) / float(n));
      std::copy(x.begin(), x.end(), block.begin() + std::ptrdiff_t(size_t(b) * size));
    }
    parallel_for(count, 1, [&](int64_t begin, int64_t end) {
      NetworkPool::Lease pass(networks);
      for (int64_t b = begin; b < end; ++b)
        c.probability[size_t(s0 + b)] = target_probability(*pass, block.data() + size_t(b) * size, target);
    });
  }
  c.auc = trapezoid_area(c.fraction, c.probability);
  net.forward(input);
  return c;
}

}  // namespace

std::vector<int> relevance_order(const Map& map, int input_height, int input_width) {
  const std::vector<float> up = heatmap(map.values.data(), map.height, map.width, input_width, input_height);
  std::vector<int> order(up.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return up[size_t(a)] > up[size_t(b)]; });
  return order;
}

Curve deletion_curve(Network& net, const float* input, const Map& map, int target, int steps) {
  const Architecture& arch = net.arch();
  const int c = arch.channels;
  std::vector<float> x(input, input + size_t(arch.height) * arch.width * c);
  return perturbation_curve(net, input, std::move(x), map, target, steps, [c](std::vector<float>& v, int p) {
    for (int k = 0; k < c; ++k) v[size_t(p) * c + k] = 0.f;
  });
}

Curve insertion_curve(Network& net, const float* input, const Map& map, int target, int steps) {
  const Architecture& arch = net.arch();
  const int c = arch.channels;
  return perturbation_curve(net, input, blurred_input(input, arch.height, arch.width, c), map, target, steps,
                            [c, input](std::vector<float>& v, int p) {
                              for (int k = 0; k < c; ++k) v[size_t(p) * c + k] = input[size_t(p) * c + k];
                            });
}

std::vector<float> blurred_input(const float* input, int h, int w, int c) {
  // RISE blurs with a Gaussian (sigma 5 on 224-pixel images): here sigma = width / 8, so the blurred
  // image keeps only the coarse layout at any input size.
  const double sigma = std::max(1.0, double(w) / 8.0);
  const int radius = int(std::ceil(3 * sigma));
  std::vector<double> kernel(size_t(2 * radius + 1));
  double sum = 0;
  for (int i = -radius; i <= radius; ++i) sum += kernel[size_t(i + radius)] = std::exp(-0.5 * i * i / (sigma * sigma));
  for (double& k : kernel) k /= sum;
  auto pass = [&](const std::vector<float>& src, bool horizontal) {
    std::vector<float> out(src.size(), 0.f);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int k = 0; k < c; ++k) {
          double acc = 0;
          for (int i = -radius; i <= radius; ++i) {
            const int sx = horizontal ? std::clamp(x + i, 0, w - 1) : x;
            const int sy = horizontal ? y : std::clamp(y + i, 0, h - 1);
            acc += kernel[size_t(i + radius)] * src[(size_t(sy) * w + sx) * c + k];
          }
          out[(size_t(y) * w + x) * c + k] = float(acc);
        }
    return out;
  };
  std::vector<float> x(input, input + size_t(h) * w * c);
  return pass(pass(x, true), false);
}

double confidence_change(Network& net, const float* input, const Map& map, int target, float keep) {
  const Architecture& arch = net.arch();
  const int c = arch.channels;
  const std::vector<int> order = relevance_order(map, arch.height, arch.width);
  const size_t kept = size_t(std::lround(double(std::clamp(keep, 0.f, 1.f)) * double(order.size())));
  std::vector<float> x(size_t(arch.height) * arch.width * c, 0.f);
  for (size_t i = 0; i < kept; ++i)
    for (int k = 0; k < c; ++k) x[size_t(order[i]) * c + k] = input[size_t(order[i]) * c + k];
  const double before = target_probability(net, input, target);
  const double after = target_probability(net, x.data(), target);
  net.forward(input);
  return after - before;
}

}  // namespace gradcam
