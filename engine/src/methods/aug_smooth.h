// pytorch-grad-cam's aug_smooth (base_cam.py forward_augmentation_smoothing): the map of each
// test-time augmentation of the input, de-augmented and min-max normalised, averaged. Used by
// explain() and explain_all_layers() when ExplainOptions::aug_smooth is set.
#pragma once
#include <array>
#include <vector>

#include "gradcam/map.h"

namespace gradcam {

// One augmentation: an optional horizontal flip, then a multiplication of the (normalised) input
// tensor, as ttach's HorizontalFlip and Multiply do.
struct Augmentation {
  bool flip;
  float factor;
};
// BaseCAM's default: tta.Compose([HorizontalFlip(), Multiply(factors=[0.9, 1, 1.1])]), six in all.
const std::array<Augmentation, 6>& test_time_augmentations();

// The augmented copy of an h x w x c (HWC) input.
std::vector<float> augment_input(const float* input, int h, int w, int c, const Augmentation& a);

// Adds share * the de-augmented, normalised `cam` to `sum` (same size as cam). `input_height` x
// `input_width` is the model's input, where pytorch-grad-cam normalises the map.
void add_deaugmented(const Map& cam, const Augmentation& a, int input_height, int input_width, float share, Map& sum);

}  // namespace gradcam
