// Crop geometry: how an image of any aspect maps onto the model's input (center crop, squash,
// letterbox), shared by the input's resampling and by every overlay drawn back on the image.
#include <algorithm>
#include <cctype>
#include <cstdint>

#include "gradcam/image.h"

namespace gradcam {

Result<CropMode> parse_crop_mode(const std::string& name) {
  const int i = find_name(kCropModeNames, name);
  if (i < 0) return make_error("unknown crop mode '" + name + "'; valid: " + names_text(kCropModeNames));
  return CropMode(i);
}

const char* crop_mode_name(CropMode mode) {
  return kCropModeNames[size_t(mode) < kCropModeNames.size() ? size_t(mode) : 0];
}

CropGeometry crop_geometry(int src_width, int src_height, int dst_width, int dst_height,
                           CropMode mode) {
  CropGeometry g{0.0, 0.0, double(std::max(src_width, 0)), double(std::max(src_height, 0)),
                 0, 0, std::max(dst_width, 0), std::max(dst_height, 0)};
  if (src_width <= 0 || src_height <= 0 || dst_width <= 0 || dst_height <= 0) return g;
  const int64_t sw = src_width, sh = src_height, dw = dst_width, dh = dst_height;
  switch (mode) {
    case CropMode::squash:
    case CropMode::count:  // not a mode
      break;
    case CropMode::center:
      if (sw * dh > sh * dw) {  // source wider than the input: cut the sides
        const double w = double(sh) * double(dw) / double(dh);
        g.src_x0 = (double(sw) - w) / 2.0;
        g.src_x1 = g.src_x0 + w;
      } else if (sw * dh < sh * dw) {  // taller: cut top and bottom
        const double h = double(sw) * double(dh) / double(dw);
        g.src_y0 = (double(sh) - h) / 2.0;
        g.src_y1 = g.src_y0 + h;
      }
      break;
    case CropMode::letterbox: {
      int64_t w = dw, h = dh;
      if (sw * dh > sh * dw) {
        h = (2 * sh * dw + sw) / (2 * sw);  // round(sh * dw / sw)
      } else if (sw * dh < sh * dw) {
        w = (2 * sw * dh + sh) / (2 * sh);
      }
      w = std::clamp<int64_t>(w, 1, dw);
      h = std::clamp<int64_t>(h, 1, dh);
      g.dst_x0 = int((dw - w) / 2);
      g.dst_y0 = int((dh - h) / 2);
      g.dst_x1 = g.dst_x0 + int(w);
      g.dst_y1 = g.dst_y0 + int(h);
      break;
    }
  }
  return g;
}

}  // namespace gradcam
