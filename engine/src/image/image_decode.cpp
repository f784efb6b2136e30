// Image decoding: stb_image for PNG, JPEG, BMP and GIF, with the checks and workarounds that make
// any bytes give an image or a clear error (limits before allocation, truncated JPEGs, stb 2.27's
// Huffman overflow, empty PNG chunks), alpha composited over white, EXIF orientation applied.
#include "gradcam/image.h"
#include "byte_order.h"
#include "image_orientation.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

// stb allocates through these: each decode sets a cap on any one allocation from the file's size
// and header dimensions, so a small file cannot make stb allocate gigabytes (a PNG whose compressed
// data inflates far beyond its image, say). A refused allocation is an ordinary stb failure.
namespace gradcam {
namespace {
thread_local size_t stbi_allocation_cap = SIZE_MAX;
void* stbi_capped_malloc(size_t n) { return n > stbi_allocation_cap ? nullptr : std::malloc(n); }
void* stbi_capped_realloc(void* p, size_t n) {
  return n > stbi_allocation_cap ? nullptr : std::realloc(p, n);
}
}  // namespace
}  // namespace gradcam
#define STBI_MALLOC(size) ::gradcam::stbi_capped_malloc(size)
#define STBI_REALLOC(p, size) ::gradcam::stbi_capped_realloc(p, size)
#define STBI_FREE(p) std::free(p)

// stb is compiled into this translation unit only, with internal linkage, and only the decoders the
// engine supports: PNG, JPEG, BMP, GIF. STBI_MAX_DIMENSIONS makes stb itself refuse a larger header.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_PSD
#define STBI_NO_TGA
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_PNM
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wconversion"
#endif
#include <stb_image.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif


namespace gradcam {

static_assert(STBI_MAX_DIMENSIONS == ImageLimits::kMaxSide, "stb's limit must match ImageLimits");

namespace {

enum class Format { png, jpeg, gif, bmp };

const char* format_name(Format f) {
  switch (f) {
    case Format::png: return "PNG";
    case Format::jpeg: return "JPEG";
    case Format::gif: return "GIF";
    case Format::bmp: return "BMP";
  }
  return "image";
}

bool starts_with(const uint8_t* b, size_t n, const char* magic, size_t m) {
  return n >= m && std::memcmp(b, magic, m) == 0;
}

// Looks for an ASCII needle, case-insensitively, in the first `limit` bytes.
bool contains_ci(const uint8_t* b, size_t n, const char* needle, size_t limit) {
  const size_t m = std::strlen(needle);
  n = std::min(n, limit);
  for (size_t i = 0; i + m <= n; ++i) {
    size_t k = 0;
    while (k < m && std::tolower(b[i + k]) == needle[k]) ++k;
    if (k == m) return true;
  }
  return false;
}

// Recognises the formats stb decodes by their magic bytes; otherwise an error that says what the
// file looks like, when that is known.
Result<Format> detect_format(const uint8_t* b, size_t n) {
  if (starts_with(b, n, "\x89PNG\r\n\x1a\n", 8)) return Format::png;
  if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Format::jpeg;
  if (starts_with(b, n, "GIF87a", 6) || starts_with(b, n, "GIF89a", 6)) return Format::gif;
  if (starts_with(b, n, "BM", 2)) return Format::bmp;

  const char* supported = "supported formats are PNG, JPEG, BMP and GIF";
  if (n >= 12 && starts_with(b, n, "RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0)
    return make_error(std::string("unsupported image format: WebP; ") + supported);
  if (n >= 12 && std::memcmp(b + 4, "ftyp", 4) == 0)
    return make_error(std::string("unsupported image format: HEIF/AVIF; ") + supported);
  if (starts_with(b, n, "II*\0", 4) || starts_with(b, n, "MM\0*", 4))
    return make_error(std::string("unsupported image format: TIFF; ") + supported);
  size_t i = 0;
  if (starts_with(b, n, "\xEF\xBB\xBF", 3)) i = 3;  // UTF-8 byte-order mark
  while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) ++i;
  if ((i < n && b[i] == '<') || contains_ci(b, n, "<svg", 4096))
    return make_error(std::string("not an image: the file is text/markup (SVG is not supported, "
                                  "vector images must be rasterised first); ") + supported);
  return make_error(std::string("not an image: unknown format; ") + supported);
}


// Dimensions straight from the header, used only to word the error when stb refuses a header whose
// dimensions exceed STBI_MAX_DIMENSIONS (stb then says just "too large").
bool peek_dimensions(Format f, const uint8_t* b, size_t n, int64_t* w, int64_t* h) {
  switch (f) {
    case Format::png:
      if (n < 24 || std::memcmp(b + 12, "IHDR", 4) != 0) return false;
      *w = be32(b + 16);
      *h = be32(b + 20);
      return true;
    case Format::gif:
      if (n < 10) return false;
      *w = le16(b + 6);
      *h = le16(b + 8);
      return true;
    case Format::bmp: {
      if (n < 26) return false;
      const uint32_t hsz = le32(b + 14);
      if (hsz == 12) {
        *w = le16(b + 18);
        *h = le16(b + 20);
      } else {
        *w = int32_t(le32(b + 18));
        *h = int32_t(le32(b + 22));
        if (*h < 0) *h = -*h;
      }
      return true;
    }
    case Format::jpeg: {
      size_t i = 2;
      while (i + 1 < n) {
        if (b[i] != 0xFF) return false;
        while (i < n && b[i] == 0xFF) ++i;  // fill bytes
        if (i >= n) return false;
        const uint8_t m = b[i++];
        if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
        if (m == 0xD9 || m == 0xDA) return false;                            // EOI / SOS: no frame
        if (i + 2 > n) return false;
        const uint32_t len = be16(b + i);
        const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (sof) {
          if (i + 7 > n) return false;
          *h = be16(b + i + 3);
          *w = be16(b + i + 5);
          return true;
        }
        if (len < 2) return false;
        i += len;
      }
      return false;
    }
  }
  return false;
}

// stb_image 2.28+ decodes a JPEG cut short as if the rest were grey, which would explain a picture
// the user never gave. Entropy-coded data cannot hold FF D9 (a 0xFF there is followed by 0x00 or a
// restart marker), so a complete file has it after its first scan.
bool jpeg_has_end_marker(const uint8_t* b, size_t n) {
  size_t sos = 0;
  for (size_t i = 2; i + 1 < n; ++i)
    if (b[i] == 0xFF && b[i + 1] == 0xDA) {
      sos = i;
      break;
    }
  if (!sos) return false;
  for (size_t i = n - 1; i > sos + 1; --i)
    if (b[i - 1] == 0xFF && b[i] == 0xD9) return true;
  return false;
}

// stb_image 2.27 (Debian 12's copy) writes past its Huffman arrays when a JPEG DHT table declares
// more than 256 codes (fixed upstream in 2.28). This walks the marker stream the way stb does
// (skipping stray bytes and entropy-coded data, which stb also skips) and checks every table stb
// could reach. False: a table with more than 256 codes.
bool jpeg_huffman_tables_ok(const uint8_t* b, size_t n) {
  size_t pos = 2;
  auto get8 = [&]() -> uint32_t { return pos < n ? b[pos++] : 0u; };  // stb reads 0 past the end
  while (pos < n) {
    uint32_t x = get8();
    if (x != 0xFF) continue;  // stb scans over padding between segments
    while (x == 0xFF && pos < n) x = get8();
    const uint32_t m = x;
    if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue;
    if (m == 0xD9) return true;  // EOI: stb stops here
    const size_t seg = pos;
    const uint32_t len = (get8() << 8) | get8();
    if (m == 0xC4) {
      int64_t L = int64_t(len) - 2;
      while (L > 0) {
        const uint32_t q = get8();
        if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb rejects the segment
        uint32_t count = 0;
        for (int i = 0; i < 16; ++i) count += get8();
        if (count > 256) return false;
        L -= 17 + int64_t(count);
        pos = std::min(n, pos + count);
      }
    }
    if (len < 2) return true;  // stb fails on or skips to the end from here
    pos = seg + len;
    if (m == 0xDA) {
      // Entropy-coded data: a marker is 0xFF, any fill 0xFFs, then a byte other than 0 (stuffing)
      // or a restart marker.
      while (pos < n) {
        if (b[pos] != 0xFF) {
          ++pos;
          continue;
        }
        size_t q = pos + 1;
        while (q < n && b[q] == 0xFF) ++q;
        if (q >= n) return true;
        if (b[q] == 0x00 || (b[q] >= 0xD0 && b[q] <= 0xD7)) {
          pos = q + 1;
          continue;
        }
        pos = q - 1;  // the last 0xFF before the marker byte
        break;
      }
    }
  }
  return true;
}

// stb_image passes a null buffer to memcpy for a zero-length IDAT chunk that comes first (harmless,
// but undefined behaviour that a sanitiser build stops on). Such chunks carry nothing, so a copy
// without them decodes identically. Empty when the file has none.
std::vector<uint8_t> png_without_empty_idat(const uint8_t* b, size_t n) {
  std::vector<size_t> drop;
  size_t pos = 8;
  while (pos + 12 <= n) {
    const uint32_t len = be32(b + pos);
    if (len > n - pos - 12) break;
    if (len == 0 && std::memcmp(b + pos + 4, "IDAT", 4) == 0) drop.push_back(pos);
    pos += 12 + size_t(len);
  }
  std::vector<uint8_t> out;
  if (drop.empty()) return out;
  out.reserve(n);
  size_t from = 0;
  for (size_t at : drop) {
    out.insert(out.end(), b + from, b + at);
    from = at + 12;
  }
  out.insert(out.end(), b + from, b + n);
  return out;
}

std::string limit_message(int64_t w, int64_t h) {
  return "image is " + std::to_string(w) + "x" + std::to_string(h) + " pixels; the limit is " +
         std::to_string(ImageLimits::kMaxSide) + " pixels a side and " +
         std::to_string(ImageLimits::kMaxPixels / 1'000'000) + " megapixels";
}

bool within_limits(int64_t w, int64_t h) {
  return w > 0 && h > 0 && w <= ImageLimits::kMaxSide && h <= ImageLimits::kMaxSide &&
         w * h <= ImageLimits::kMaxPixels;
}

std::string failure_reason() {
  const char* r = stbi_failure_reason();
  return r ? r : "unknown error";
}

// Reasons stb gives for valid files it does not implement, with what they mean.
const char* unsupported_variant(const std::string& reason) {
  if (reason == "BMP RLE") return "run-length-encoded BMP";
  if (reason == "BMP JPEG/PNG") return "BMP with embedded JPEG/PNG compression";
  if (reason == "unknown BMP") return "this BMP header version";
  if (reason == "only 8-bit") return "12-bit JPEG (8-bit only)";
  if (reason == "no header height") return "JPEG with the height given after the scan (DNL)";
  if (reason == "bad bits_per_channel" || reason == "1/2/4/8/16-bit only")
    return "this PNG bit depth";
  return nullptr;
}

// stb's info and JPEG paths try every format in turn, leaving a reason that blames the type.
// PNG's "unknown chunk" reason starts with the chunk's four type bytes, which in a damaged or
// truncated file are often zero (cutting the string short) or unprintable.
std::string describe(const std::string& reason) {
  if (reason == "unknown image type") return "unreadable header";
  if (reason == "outofmem")
    return "out of memory (or compressed data that inflates far beyond the image's size)";
  bool printable = reason.size() >= 5;
  for (char ch : reason) printable = printable && ch >= 0x20 && ch < 0x7f;
  if (!printable) return "damaged data (unknown or cut-off chunk)";
  return reason;
}

std::string decode_failure(const std::string& format, const std::string& reason) {
  if (const char* what = unsupported_variant(reason))
    return "unsupported " + format + " variant: " + what + " is not supported; re-save the image " +
           "as an ordinary PNG or JPEG";
  return "corrupt or truncated " + format + ": " + describe(reason);
}

// Over white: out = c*a + 255*(1-a), rounded; a fully transparent pixel becomes white.
inline uint8_t over_white8(uint32_t c, uint32_t a) {
  return uint8_t((c * a + 255u * (255u - a) + 127u) / 255u);
}

// The 16-bit version, composited at full precision, then rounded to 8 bits (v*255/65535).
inline uint8_t over_white16(uint64_t c, uint64_t a) {
  const uint64_t v16 = (c * a + 65535u * (65535u - a) + 32767u) / 65535u;  // 0..65535
  return uint8_t((v16 * 255u + 32767u) / 65535u);
}

inline uint8_t over_white(stbi_uc c, stbi_uc a) { return a == 255 ? c : over_white8(c, a); }
inline uint8_t over_white(stbi_us c, stbi_us a) { return over_white16(c, a); }

// Takes stb's RGBA pixels (8 or 16 bits a channel) and frees them: checks the decoded size against
// the limits and composites alpha over white into opaque 8-bit RGBA.
template <class T>
Result<Image> from_stb_pixels(T* p, int w, int h) {
  struct Free {
    T* p;
    ~Free() { stbi_image_free(p); }
  } free_pixels{p};
  if (!within_limits(w, h)) return make_error(limit_message(w, h));
  Image img;
  img.width = w;
  img.height = h;
  const size_t n = size_t(w) * size_t(h);
  img.rgba.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const T* s = p + i * 4;
    uint8_t* d = &img.rgba[i * 4];
    for (int k = 0; k < 3; ++k) d[k] = over_white(s[k], s[3]);
    d[3] = 255;
  }
  return img;
}

}  // namespace

Result<Image> decode_image(const uint8_t* bytes, size_t size) {
  if (bytes == nullptr || size == 0) return make_error("empty file: there are no bytes to decode");
  if (size > ImageLimits::kMaxFileBytes)
    return make_error("file is " + std::to_string(size) + " bytes; the limit is " +
                      std::to_string(ImageLimits::kMaxFileBytes) + " bytes (" +
                      std::to_string(ImageLimits::kMaxFileBytes >> 20) + " MiB)");
  auto fmt = detect_format(bytes, size);
  if (!fmt) return make_error(fmt.error());
  const Format f = *fmt;
  const std::string name = format_name(f);
  // Inputs on which stb itself misbehaves are refused or repaired before it sees them.
  if (f == Format::jpeg && !jpeg_huffman_tables_ok(bytes, size))
    return make_error("corrupt JPEG: a Huffman table declares more than 256 codes");
  std::vector<uint8_t> repaired;
  if (f == Format::png) {
    repaired = png_without_empty_idat(bytes, size);
    if (!repaired.empty()) {
      bytes = repaired.data();
      size = repaired.size();
    }
  }
  const int len = int(size);  // <= 256 MiB, fits
  // Reading headers needs little; stb's compressed-data buffer can reach twice the file's size.
  struct CapScope {
    size_t saved = stbi_allocation_cap;
    ~CapScope() { stbi_allocation_cap = saved; }
  } cap_scope;
  constexpr size_t kSlack = size_t(4) << 20;
  stbi_allocation_cap = 2 * size + kSlack;

  // Dimensions from the header, before any pixel buffer exists. Our own reading names the size of
  // an oversized image (stb's info then fails with a generic reason, having tried every format).
  int64_t pw = 0, ph = 0;
  const bool peeked = peek_dimensions(f, bytes, size, &pw, &ph);
  if (peeked && pw > 0 && ph > 0 && !within_limits(pw, ph)) return make_error(limit_message(pw, ph));
  int w = 0, h = 0, comp = 0;
  const bool info_ok = stbi_info_from_memory(bytes, len, &w, &h, &comp) != 0;
  if (info_ok) {
    if (!within_limits(w, h)) {
      if (w <= 0 || h <= 0)
        return make_error("corrupt " + name + ": the header says " + std::to_string(w) + "x" +
                          std::to_string(h) + " pixels");
      return make_error(limit_message(w, h));
    }
  } else {
    const std::string reason = failure_reason();
    if (reason == "too large")
      return make_error("image is larger than the limit of " +
                        std::to_string(ImageLimits::kMaxSide) + " pixels a side and " +
                        std::to_string(ImageLimits::kMaxPixels / 1'000'000) + " megapixels");
    // Without dimensions within the limits nothing is decoded. With them, the decoder below runs
    // and names the problem (its allocation is bounded by the limits and stb's own side limit).
    if (!peeked || !within_limits(pw, ph))
      return make_error(decode_failure(name, reason));
  }

  if (f == Format::jpeg && !jpeg_has_end_marker(bytes, size))
    return make_error("truncated JPEG: the file ends before its end-of-image marker");

  // The largest buffer a valid file needs: 16-bit RGBA pixels plus a filter byte per row (PNG),
  // with room for one doubling; the decoded dimensions are within the limits by now.
  {
    const int64_t cw = info_ok ? w : pw, ch = info_ok ? h : ph;  // within the limits here
    const size_t pixels_bytes = size_t(cw) * size_t(ch) * 8 + size_t(ch) * 8;
    stbi_allocation_cap = std::max(2 * size, 2 * pixels_bytes) + kSlack;
  }

  int dw = 0, dh = 0, dc = 0;
  Result<Image> decoded = make_error("");
  if (f == Format::png && stbi_is_16_bit_from_memory(bytes, len)) {
    stbi_us* p = stbi_load_16_from_memory(bytes, len, &dw, &dh, &dc, 4);
    if (p == nullptr) return make_error(decode_failure(name, failure_reason()));
    decoded = from_stb_pixels(p, dw, dh);
  } else {
    stbi_uc* p = stbi_load_from_memory(bytes, len, &dw, &dh, &dc, 4);
    if (p == nullptr) return make_error(decode_failure(name, failure_reason()));
    decoded = from_stb_pixels(p, dw, dh);
  }
  if (!decoded) return decoded;
  Image img = std::move(decoded.value());
  if (f == Format::jpeg) img = apply_orientation(std::move(img), jpeg_exif_orientation(bytes, size));
  return img;
}

Result<Image> image_from_rgba(const uint8_t* rgba, size_t size, int width, int height) {
  if (width <= 0 || height <= 0)
    return make_error("image size must be positive, got " + std::to_string(width) + "x" +
                      std::to_string(height));
  if (!within_limits(width, height)) return make_error(limit_message(width, height));
  const uint64_t need = uint64_t(width) * uint64_t(height) * 4u;
  if (rgba == nullptr || uint64_t(size) != need)
    return make_error("RGBA buffer has " + std::to_string(rgba ? size : 0) + " bytes but a " +
                      std::to_string(width) + "x" + std::to_string(height) + " image needs " +
                      std::to_string(need) + " (width * height * 4)");
  Image img;
  img.width = width;
  img.height = height;
  img.rgba.assign(rgba, rgba + need);
  // Same convention as decode_image: what a browser shows on a white page, fully opaque.
  for (size_t i = 0; i < need; i += 4) {
    for (int k = 0; k < 3; ++k) img.rgba[i + k] = over_white(img.rgba[i + k], img.rgba[i + 3]);
    img.rgba[i + 3] = 255;
  }
  return img;
}

}  // namespace gradcam
