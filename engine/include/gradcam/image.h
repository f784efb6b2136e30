// Image decoding and reduction to the model's input tensor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/name_table.h"
#include "gradcam/status.h"

namespace gradcam {

// 8-bit RGBA, row-major, no padding: the same shape as a browser's ImageData.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgba;  // width * height * 4
};

// Limits checked from the file's header before any pixel buffer is allocated.
struct ImageLimits {
  static constexpr int kMaxSide = 16384;                // pixels, either dimension
  static constexpr int64_t kMaxPixels = 40'000'000;     // 40 megapixels
  static constexpr size_t kMaxFileBytes = 256u << 20;   // 256 MiB
};

// PNG (8/16-bit, grey, palette, alpha), JPEG (baseline, progressive, CMYK), BMP, GIF (first frame).
// Alpha is composited over white, as a browser shows a transparent image on a white page; a JPEG's
// EXIF orientation is applied, as browsers do. Errors name the problem ("not an image: unknown
// format", "image is 65535x65535 pixels; the limit is 16384 pixels a side and 40 megapixels",
// "corrupt JPEG: ...").
Result<Image> decode_image(const uint8_t* bytes, size_t size);

// Copies caller-owned RGBA pixels (ImageData) after checking the sizes agree; alpha is composited
// over white, as decode_image does, so canvas pixels and a decoded file give the same input.
Result<Image> image_from_rgba(const uint8_t* rgba, size_t size, int width, int height);

// How an image of any aspect becomes the model's square-ish input.
enum class CropMode {
  center,     // largest centred region with the input's aspect, then resized (default)
  squash,     // the whole image resized, aspect not kept
  letterbox,  // the whole image fitted inside, aspect kept, borders filled with black
  count,
};
Result<CropMode> parse_crop_mode(const std::string& name);
const char* crop_mode_name(CropMode mode);
// Every crop mode's name, in the enum's order.
inline constexpr NameTable<CropMode> kCropModeNames = {"center", "squash", "letterbox"};
static_assert(every_row_named(kCropModeNames), "a CropMode value without a name");

// The rectangle of the source image (in source pixels, fractional) that maps onto the model input,
// and where it lands in the input (for letterbox the content covers a sub-rectangle).
struct CropGeometry {
  double src_x0, src_y0, src_x1, src_y1;  // region of the source image that is used
  int dst_x0, dst_y0, dst_x1, dst_y1;     // region of the input it fills (exclusive ends)
};
CropGeometry crop_geometry(int src_width, int src_height, int dst_width, int dst_height, CropMode mode);

// Antialiased area (box) resampling: every output pixel is the coverage-weighted mean of the source
// pixels under it, so downscaling a 4000x3000 photo to 32x32 does not alias. Works on RGB of the
// RGBA source (alpha already composited by decode). Output: height*width*3 floats, HWC, value*scale.
std::vector<float> image_to_input(const Image& image, int height, int width, CropMode mode,
                                  float scale);

// Area resampling of float planes with any channel count (used for display and tests):
// src is sh*sw*c HWC, region [x0,x1)x[y0,y1) in source pixels, output dh*dw*c.
std::vector<float> area_resize(const float* src, int sh, int sw, int c, double x0, double y0,
                               double x1, double y1, int dh, int dw);

// PNG encoding of RGBA8 or RGB8 pixels (stb_image_write).
std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels);

}  // namespace gradcam
