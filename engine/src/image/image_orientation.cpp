// EXIF orientation (see image_orientation.h).
#include "image_orientation.h"

#include "byte_order.h"

#include <cstring>

namespace gradcam {

// EXIF orientation (tag 0x0112) from a JPEG's APP1 segment; 1 (as stored) when absent or unreadable.
int jpeg_exif_orientation(const uint8_t* b, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {
    if (b[i] != 0xFF) return 1;
    while (i < n && b[i] == 0xFF) ++i;
    if (i >= n) return 1;
    const uint8_t m = b[i++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
    if (m == 0xD9 || m == 0xDA) return 1;  // EXIF comes before the scan
    if (i + 2 > n) return 1;
    const size_t len = be16(b + i);
    if (len < 2 || i + len > n) return 1;
    const uint8_t* seg = b + i + 2;
    const size_t slen = len - 2;
    if (m == 0xE1 && slen >= 14 && std::memcmp(seg, "Exif\0\0", 6) == 0) {
      const uint8_t* t = seg + 6;  // TIFF header
      const size_t tn = slen - 6;
      bool le;
      if (std::memcmp(t, "II*\0", 4) == 0) le = true;
      else if (std::memcmp(t, "MM\0*", 4) == 0) le = false;
      else return 1;
      auto r16 = [&](size_t o) { return le ? le16(t + o) : be16(t + o); };
      auto r32 = [&](size_t o) { return le ? le32(t + o) : be32(t + o); };
      const size_t ifd = r32(4);
      if (ifd > tn || tn - ifd < 2) return 1;
      const size_t count = r16(ifd);
      for (size_t e = 0; e < count; ++e) {
        const size_t off = ifd + 2 + e * 12;
        if (off > tn || tn - off < 12) return 1;
        if (r16(off) == 0x0112 && r16(off + 2) == 3 /* SHORT */) {
          const uint32_t v = r16(off + 8);
          return (v >= 1 && v <= 8) ? int(v) : 1;
        }
      }
      return 1;
    }
    i += len;
  }
  return 1;
}

// Turns stored pixels upright as the EXIF orientation says (what browsers do by default).
Image apply_orientation(Image img, int orientation) {
  if (orientation <= 1 || orientation > 8) return img;
  const int W = img.width, H = img.height;
  const bool swap = orientation >= 5;
  Image out;
  out.width = swap ? H : W;
  out.height = swap ? W : H;
  out.rgba.resize(img.rgba.size());
  for (int oy = 0; oy < out.height; ++oy) {
    for (int ox = 0; ox < out.width; ++ox) {
      int sx = ox, sy = oy;
      switch (orientation) {
        case 2: sx = W - 1 - ox; sy = oy; break;           // mirrored horizontally
        case 3: sx = W - 1 - ox; sy = H - 1 - oy; break;   // rotated 180
        case 4: sx = ox; sy = H - 1 - oy; break;           // mirrored vertically
        case 5: sx = oy; sy = ox; break;                   // transposed
        case 6: sx = oy; sy = H - 1 - ox; break;           // needs 90 degrees clockwise
        case 7: sx = W - 1 - oy; sy = H - 1 - ox; break;   // transversed
        case 8: sx = W - 1 - oy; sy = ox; break;           // needs 90 degrees anticlockwise
      }
      std::memcpy(&out.rgba[(size_t(oy) * out.width + ox) * 4],
                  &img.rgba[(size_t(sy) * W + sx) * 4], 4);
    }
  }
  return out;
}

}  // namespace gradcam
