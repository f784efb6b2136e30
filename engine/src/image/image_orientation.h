// EXIF orientation: read from a JPEG's APP1 segment and applied to decoded pixels, as browsers do
// by default. Used by decode_image (image_decode.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "gradcam/image.h"

namespace gradcam {

// Orientation tag 0x0112 of a JPEG's EXIF data: 1 (as stored) when absent or unreadable.
int jpeg_exif_orientation(const uint8_t* bytes, size_t size);
// The stored pixels turned upright as the orientation (1..8) says.
Image apply_orientation(Image image, int orientation);

}  // namespace gradcam
