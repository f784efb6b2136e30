// Pieces the attribution methods at the input share (Captum's IntegratedGradients, GradientShap,
// InputXGradient, Deconvolution, Occlusion): the baselines they start from, the gradient at a point,
// the quadrature Integrated Gradients uses, and how a signed HWC attribution becomes a heat map.
#pragma once
#include <cstdint>
#include <vector>

#include "gradcam/methods.h"

namespace gradcam {

// The baseline image in the model's input space (HWC, the input's size). `noise` draws uniform
// pixels from mt19937_64 seeded by `seed` (fixed by the standard, so native and wasm agree).
std::vector<float> baseline_input(const Architecture& arch, const float* input, Baseline kind, uint64_t seed);

// d score / d input at x (forward and backward; the network is left holding x's activations).
void input_gradient_at(Network& net, const float* x, int target, Score score, ReluBackward rule, std::vector<float>& out);

// Gauss-Legendre quadrature on [0, 1] with n points: nodes (ascending) and weights summing to 1, as
// numpy's leggauss rescaled by Captum's gauss_legendre_builders.
struct Quadrature {
  std::vector<double> alphas, weights;
};
Quadrature gauss_legendre(int n);

// The displayed map of a signed attribution: |sum over colour channels| per pixel, as Captum's
// visualize_image_attr shows it by default (sign "absolute_value" of the channel sum).
Map attribution_map(const std::vector<float>& attribution, int h, int w, int c);

// The occlusion window and stride once their defaults (0) are resolved for this input.
int occlusion_window(const ExplainOptions& options, int height, int width);
int occlusion_stride(const ExplainOptions& options, int height, int width);

}  // namespace gradcam
