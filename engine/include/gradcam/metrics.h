// Can this map be trusted? Faithfulness metrics that perturb the input in the map's order and
// watch the target's probability, and the model-randomisation sanity check. Each is a small
// function citing its paper; all take a map at any resolution (a layer's or the input's) and
// compare at the input's, and leave the network holding the original input's activations.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/methods.h"
#include "gradcam/model.h"
#include "gradcam/network.h"

namespace gradcam {

// The map at the input's resolution (bilinear, normalised) and the input pixels in its order,
// most relevant first; ties keep pixel order, so a constant map removes pixels in raster order.
std::vector<int> relevance_order(const Map& map, int input_height, int input_width);

// A probability curve over the fraction of pixels perturbed, and its area (trapezoid rule over
// fractions 0..1, so in [0,1]).
struct Curve {
  std::vector<float> fraction, probability;
  double auc = 0;
};

// Deletion (Petsiuk et al., RISE, BMVC 2018, Sec. 4.1): pixels set to black (0 in the model's
// scale) in the map's order; the target's probability after each of `steps` steps. Lower area:
// the map found what the prediction needs.
Curve deletion_curve(Network& net, const float* input, const Map& map, int target, int steps = 32);
// Insertion (same paper): from a blurred copy of the image, the original pixels revealed in the
// map's order. Higher area is better.
Curve insertion_curve(Network& net, const float* input, const Map& map, int target, int steps = 32);
// The blurred copy insertion starts from: a Gaussian of sigma = width / 8 pixels, edges clamped.
std::vector<float> blurred_input(const float* input, int height, int width, int channels);

// ROAD, Remove And Debias (Rong et al., ICML 2022, Sec. 4): the given fraction of pixels removed,
// most relevant first (MoRF) or least relevant first (LeRF), and filled by noisy linear imputation
// so the removal's shape does not leak the map; the target's probability at each fraction.
struct RoadResult {
  std::vector<float> fractions, morf, lerf;
  double morf_mean = 0, lerf_mean = 0;  // MoRF: lower is better; LeRF: higher is better
};
RoadResult road(Network& net, const float* input, const Map& map, int target, uint64_t seed = 1);
// Noisy linear imputation (ROAD, Eq. 3): every removed pixel becomes the weighted mean of its
// eight neighbours (1/6 along the axes, 1/12 diagonally, renormalised at the borders), solved
// jointly for all removed pixels, plus Gaussian noise of sigma `noise` x the input's range.
std::vector<float> noisy_linear_imputation(const float* input, int height, int width, int channels,
                                           const std::vector<uint8_t>& removed, float noise, uint64_t seed);

// Keep only the top `keep` fraction of the map's pixels (the rest black): the change in the
// target's probability (pytorch-grad-cam's confidence change; near 0 or above: the kept part
// carries the prediction).
double confidence_change(Network& net, const float* input, const Map& map, int target, float keep = 0.2f);

// Spearman's rank correlation (ties get their mean rank) and SSIM (Wang et al., IEEE TIP 2004,
// Eq. 13, one window over the whole map, maps normalised to [0,1]) of two maps of one size.
double spearman_correlation(const std::vector<float>& a, const std::vector<float>& b);
double map_ssim(const std::vector<float>& a, const std::vector<float>& b);

// The sanity check's cascading randomisation (Adebayo et al., "Sanity Checks for Saliency Maps",
// NeurIPS 2018, Sec. 3): the layers with weights are re-initialised one by one from the top, and
// after each step the same explanation (method, layer, target) is computed again and compared
// with the original. A method whose map survives randomisation is not explaining the model.
struct SanityStep {
  std::string layer;  // the layer randomised at this step (and every one above it)
  double spearman = 0, ssim = 0;
  Map map;            // the map with the weights randomised down to this layer
};
struct SanityCheck {
  Map original;
  std::vector<SanityStep> steps;
};
Result<SanityCheck> sanity_check(const Model& model, const float* input, const ExplainOptions& options,
                                 uint64_t seed = 7);

}  // namespace gradcam
