// PNG encoding of overlays (stb_image_write, compiled into this translation unit only).
#include <cstdint>
#include <limits>
#include <vector>

#include "gradcam/image.h"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace gradcam {

std::vector<uint8_t> encode_png(const uint8_t* pixels, int width, int height, int channels) {
  std::vector<uint8_t> out;
  if (pixels == nullptr || width <= 0 || height <= 0 || channels < 1 || channels > 4) return out;
  if (int64_t(width) * channels > std::numeric_limits<int>::max()) return out;
  auto sink = [](void* ctx, void* data, int n) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    const auto* d = static_cast<const uint8_t*>(data);
    v->insert(v->end(), d, d + n);
  };
  if (!stbi_write_png_to_func(sink, &out, width, height, channels, pixels, width * channels))
    out.clear();
  return out;
}

}  // namespace gradcam
