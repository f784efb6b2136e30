// Test-time augmentation smoothing, as pytorch-grad-cam's BaseCAM.forward_augmentation_smoothing:
// for each augmentation the map is computed on the augmented input, ReLU'd, min-max normalised
// and resized to the input (scale_cam_image), de-augmented (flipped back; a multiplication needs
// no undoing), and the six maps are averaged.
//
// The engine keeps maps at the layer's resolution and upsamples only to draw them, so the
// average is formed there. That gives pytorch-grad-cam's input-resolution result once upsampled,
// because bilinear upsampling U (half-pixel centres, clamped edges, as cv2.resize) is linear with
// weights summing to one, so it commutes with averaging and with any affine map x -> (x - a) / b;
// and its sampling grid is symmetric, so it commutes with a horizontal flip. What does not
// commute is where min and max are taken: U's samples fall between the layer's pixel centres, so
// max U(m) can be below max m. So each map is normalised by the min and max of its upsampled
// self: (m - min U(m)) / (1e-7 + max U(m) - min U(m)), exactly scale_cam_image's numbers. (Its
// second scale_cam_image, in aggregate_multi_layers, divides by 1 + 1e-7 for one layer: left out.)
#include "methods/aug_smooth.h"

#include <algorithm>

namespace gradcam {

const std::array<Augmentation, 6>& test_time_augmentations() {
  static const std::array<Augmentation, 6> all = {{
      {false, 0.9f}, {false, 1.f}, {false, 1.1f}, {true, 0.9f}, {true, 1.f}, {true, 1.1f}}};
  return all;
}

std::vector<float> augment_input(const float* input, int h, int w, int c, const Augmentation& a) {
  std::vector<float> out(size_t(h) * w * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int sx = a.flip ? w - 1 - x : x;
      for (int k = 0; k < c; ++k)
        out[(size_t(y) * w + x) * c + k] = input[(size_t(y) * w + sx) * c + k] * a.factor;
    }
  return out;
}

void add_deaugmented(const Map& cam, const Augmentation& a, int input_height, int input_width, float share, Map& sum) {
  const std::vector<float> up = upsample_bilinear(cam.values.data(), cam.height, cam.width, input_height, input_width);
  const auto [lo, hi] = std::minmax_element(up.begin(), up.end());
  const float low = up.empty() ? 0.f : *lo, scale = up.empty() ? 1.f : 1e-7f + (*hi - *lo);
  for (int y = 0; y < cam.height; ++y)
    for (int x = 0; x < cam.width; ++x) {
      const int sx = a.flip ? cam.width - 1 - x : x;
      sum.values[size_t(y) * cam.width + x] += share * (cam.values[size_t(y) * cam.width + sx] - low) / scale;
    }
}

}  // namespace gradcam
