// Maps as numbers: normalisation and bilinear resampling. Below both the CAM methods and the
// colormaps: a method may resample a map, and rendering draws one, but neither needs the other.
#pragma once
#include <vector>

namespace gradcam {

// A 2-D map, row-major.
struct Map {
  int height = 0, width = 0;
  std::vector<float> values;
};

// (v - min) / (max - min); all zeros when the map is constant (nothing to show).
std::vector<float> normalize_map(const float* values, int count);

// Bilinear resampling with pixel centres aligned (half-pixel convention, as OpenCV's and TF's
// resize with align_corners=false); edges clamp. src is sh*sw, output dh*dw.
std::vector<float> upsample_bilinear(const float* src, int sh, int sw, int dh, int dw);

// Bilinear resampling with the corner pixels aligned (PyTorch's align_corners=True, as its
// UpsamplingBilinear2d): s = d * (sn - 1) / (dn - 1). src is sh*sw, output dh*dw.
std::vector<float> upsample_bilinear_aligned(const float* src, int sh, int sw, int dh, int dw);

// Normalised heat map of a raw map, upsampled to width x height.
std::vector<float> heatmap(const float* raw, int raw_height, int raw_width, int width, int height);

// The two source samples and the weight of the second for a source coordinate s (in source pixels,
// half-pixel convention: s = (d + 0.5) * sn / dn - 0.5), clamped to [0, sn - 1].
struct BilinearTap {
  int i0, i1;
  float f;
};
BilinearTap bilinear_tap(double s, int sn);

}  // namespace gradcam
