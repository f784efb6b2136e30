// Decoding, limits, crop geometry and area resampling (engine/src/image/).
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "gradcam/image.h"

// The tests make JPEG and BMP files in memory with stb_image_write, compiled here privately.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

using namespace gradcam;

namespace {

using Rgb = std::array<int, 3>;

Image make_image(int w, int h, const std::function<Rgb(int, int)>& fn) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgba.resize(size_t(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const Rgb c = fn(x, y);
      uint8_t* p = &img.rgba[(size_t(y) * w + x) * 4];
      p[0] = uint8_t(c[0]);
      p[1] = uint8_t(c[1]);
      p[2] = uint8_t(c[2]);
      p[3] = 255;
    }
  return img;
}

std::array<int, 4> px(const Image& img, int x, int y) {
  const uint8_t* p = &img.rgba[(size_t(y) * img.width + x) * 4];
  return {p[0], p[1], p[2], p[3]};
}

bool near(const std::array<int, 4>& p, Rgb c, int tol) {
  return std::abs(p[0] - c[0]) <= tol && std::abs(p[1] - c[1]) <= tol &&
         std::abs(p[2] - c[2]) <= tol && p[3] == 255;
}

std::vector<uint8_t> rgb_of(const Image& img) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i < img.rgba.size(); i += 4)
    v.insert(v.end(), img.rgba.begin() + long(i), img.rgba.begin() + long(i) + 3);
  return v;
}

void sink(void* ctx, void* data, int n) {
  auto* v = static_cast<std::vector<uint8_t>*>(ctx);
  v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + n);
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 95) {
  std::vector<uint8_t> out;
  const std::vector<uint8_t> rgb = rgb_of(img);
  stbi_write_jpg_to_func(sink, &out, img.width, img.height, 3, rgb.data(), quality);
  return out;
}

std::vector<uint8_t> encode_bmp(const Image& img) {
  std::vector<uint8_t> out;
  const std::vector<uint8_t> rgb = rgb_of(img);
  stbi_write_bmp_to_func(sink, &out, img.width, img.height, 3, rgb.data());
  return out;
}

std::vector<uint8_t> read_fixture(const std::string& name) {
  const std::string path = std::string(GRADCAM_SOURCE_DIR) + "/tests/fixtures/images/" + name;
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "missing fixture " << path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

Result<Image> decode(const std::vector<uint8_t>& b) { return decode_image(b.data(), b.size()); }

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A deterministic pseudo-random byte stream (no <random> distribution differences across libcs).
struct Lcg {
  uint32_t s;
  uint32_t next() {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
  }
};

Image noise_image(int w, int h, uint32_t seed) {
  Lcg r{seed};
  return make_image(w, h, [&](int, int) {
    return Rgb{int(r.next() & 255), int(r.next() & 255), int(r.next() & 255)};
  });
}

uint32_t crc32(const uint8_t* d, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= d[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

// PNG signature + IHDR only (8-bit RGB), as a header claiming any size would start.
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  std::vector<uint8_t> v = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put32(v, 13);
  const size_t type_at = v.size();
  v.insert(v.end(), {'I', 'H', 'D', 'R'});
  put32(v, w);
  put32(v, h);
  v.insert(v.end(), {8, 2, 0, 0, 0});
  put32(v, crc32(&v[type_at], 17));
  return v;
}

// Inserts an APP1 Exif segment with one Orientation entry right after a JPEG's SOI marker.
std::vector<uint8_t> with_exif_orientation(const std::vector<uint8_t>& jpeg, int orientation) {
  const std::vector<uint8_t> app1 = {
      0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,           // marker, length 34, "Exif\0\0"
      'M', 'M', 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,              // big-endian TIFF, IFD0 at 8
      0x00, 0x01,                                                 // one entry
      0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,             // Orientation, SHORT, count 1
      0x00, uint8_t(orientation), 0x00, 0x00,                     // value
      0x00, 0x00, 0x00, 0x00};                                    // no next IFD
  std::vector<uint8_t> out;
  out.reserve(jpeg.size() + app1.size());
  for (size_t i = 0; i < jpeg.size(); ++i) {
    out.push_back(jpeg[i]);
    if (i == 1) out.insert(out.end(), app1.begin(), app1.end());
  }
  return out;
}

// First JPEG frame marker (SOF0 baseline, SOF2 progressive, ...).
int jpeg_sof(const std::vector<uint8_t>& b) {
  size_t i = 2;
  while (i + 4 <= b.size() && b[i] == 0xFF) {
    const int m = b[i + 1];
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return m;
    i += 2 + ((size_t(b[i + 2]) << 8) | b[i + 3]);
  }
  return -1;
}

const Rgb kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255}, kWhite{255, 255, 255};

}  // namespace

TEST_CASE("decode: 8-bit RGB PNG round-trips exactly and comes back opaque RGBA") {
  const Image src = noise_image(5, 3, 7);
  const std::vector<uint8_t> rgb = rgb_of(src);
  const auto png = encode_png(rgb.data(), 5, 3, 3);
  REQUIRE(png.size() > 8);
  auto r = decode(png);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->width == 5);
  CHECK(r->height == 3);
  CHECK(r->rgba == src.rgba);
}

TEST_CASE("decode: RGBA PNG is composited over white and made opaque") {
  const uint8_t pixels[] = {10, 20, 30, 0,     // fully transparent -> white
                            10, 20, 30, 255,   // opaque -> unchanged
                            0, 0, 0, 128,      // half-transparent black -> 127 grey
                            200, 100, 0, 51};  // 20%: 0.2*c + 0.8*255
  const auto png = encode_png(pixels, 4, 1, 4);
  auto r = decode(png);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(px(*r, 0, 0) == std::array<int, 4>{255, 255, 255, 255});
  CHECK(px(*r, 1, 0) == std::array<int, 4>{10, 20, 30, 255});
  CHECK(px(*r, 2, 0) == std::array<int, 4>{127, 127, 127, 255});
  CHECK(px(*r, 3, 0) == std::array<int, 4>{244, 224, 204, 255});
}

TEST_CASE("decode: grey and grey+alpha PNGs become RGB") {
  const uint8_t grey[] = {0, 77, 255};
  auto g = decode(encode_png(grey, 3, 1, 1));
  REQUIRE_MESSAGE(g.ok(), g.error());
  CHECK(px(*g, 0, 0) == std::array<int, 4>{0, 0, 0, 255});
  CHECK(px(*g, 1, 0) == std::array<int, 4>{77, 77, 77, 255});
  CHECK(px(*g, 2, 0) == std::array<int, 4>{255, 255, 255, 255});
  const uint8_t grey_alpha[] = {0, 0, 90, 255};
  auto ga = decode(encode_png(grey_alpha, 2, 1, 2));
  REQUIRE_MESSAGE(ga.ok(), ga.error());
  CHECK(px(*ga, 0, 0) == std::array<int, 4>{255, 255, 255, 255});
  CHECK(px(*ga, 1, 0) == std::array<int, 4>{90, 90, 90, 255});
}

TEST_CASE("decode: 4-bit palette PNG with tRNS transparency") {
  auto r = decode(read_fixture("palette.png"));
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(r->width == 8);
  REQUIRE(r->height == 4);
  for (int y = 0; y < 4; ++y) {
    CHECK(px(*r, 0, y) == std::array<int, 4>{255, 0, 0, 255});
    CHECK(px(*r, 3, y) == std::array<int, 4>{0, 255, 0, 255});
    CHECK(px(*r, 4, y) == std::array<int, 4>{0, 0, 255, 255});
    CHECK(px(*r, 6, y) == std::array<int, 4>{255, 255, 255, 255});  // index with alpha 0
    CHECK(px(*r, 7, y) == std::array<int, 4>{127, 127, 127, 255});  // black at alpha 128
  }
}

TEST_CASE("decode: 16-bit PNGs are rounded (not truncated) to 8 bits") {
  auto r = decode(read_fixture("rgb16.png"));
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(r->width == 4);
  REQUIRE(r->height == 1);
  CHECK(px(*r, 0, 0) == std::array<int, 4>{255, 0, 0, 255});
  CHECK(px(*r, 1, 0) == std::array<int, 4>{0, 255, 0, 255});
  CHECK(px(*r, 2, 0) == std::array<int, 4>{0, 0, 255, 255});
  // 1000 -> 3.89 -> 4 (v >> 8 would give 3); 32896 = 128*257 -> 128; 65280 -> 254.004 -> 254
  // (v >> 8 would give 255).
  CHECK(px(*r, 3, 0) == std::array<int, 4>{4, 128, 254, 255});

  auto a = decode(read_fixture("rgba16.png"));
  REQUIRE_MESSAGE(a.ok(), a.error());
  REQUIRE(a->width == 3);
  CHECK(px(*a, 0, 0) == std::array<int, 4>{0, 0, 255, 255});
  CHECK(px(*a, 1, 0) == std::array<int, 4>{255, 255, 255, 255});  // transparent -> white
  CHECK(px(*a, 2, 0) == std::array<int, 4>{127, 127, 127, 255});  // black at alpha 32896/65535
}

TEST_CASE("decode: baseline JPEG") {
  const Image src = make_image(32, 16, [](int x, int) { return x < 16 ? kRed : kBlue; });
  const auto jpg = encode_jpeg(src);
  REQUIRE(jpeg_sof(jpg) == 0xC0);
  auto r = decode(jpg);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->width == 32);
  CHECK(r->height == 16);
  CHECK(near(px(*r, 4, 8), kRed, 12));
  CHECK(near(px(*r, 27, 8), kBlue, 12));
}

TEST_CASE("decode: progressive JPEG") {
  const auto jpg = read_fixture("progressive.jpg");
  REQUIRE(jpeg_sof(jpg) == 0xC2);  // the fixture really is progressive
  auto r = decode(jpg);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->width == 32);
  CHECK(r->height == 16);
  CHECK(near(px(*r, 4, 8), kRed, 12));
  CHECK(near(px(*r, 27, 8), kBlue, 12));
}

TEST_CASE("decode: Adobe CMYK/YCCK JPEG decodes to the right colours") {
  const auto jpg = read_fixture("cmyk.jpg");
  REQUIRE(jpg.size() > 16);
  CHECK(std::memcmp(&jpg[6], "Adobe", 5) == 0);  // the fixture carries the Adobe APP14 marker
  auto r = decode(jpg);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->width == 32);
  CHECK(r->height == 16);
  CHECK(near(px(*r, 4, 8), kRed, 16));
  CHECK(near(px(*r, 27, 8), kBlue, 16));
}

TEST_CASE("decode: BMP") {
  const Image src = noise_image(7, 5, 3);  // odd width: rows are padded in the file
  auto r = decode(encode_bmp(src));
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->width == 7);
  CHECK(r->height == 5);
  CHECK(r->rgba == src.rgba);
}

TEST_CASE("decode: GIF gives its first frame, transparency over white") {
  auto r = decode(read_fixture("anim.gif"));
  REQUIRE_MESSAGE(r.ok(), r.error());
  REQUIRE(r->width == 16);
  REQUIRE(r->height == 8);
  CHECK(px(*r, 2, 4) == std::array<int, 4>{255, 0, 0, 255});
  CHECK(px(*r, 12, 4) == std::array<int, 4>{255, 255, 255, 255});  // not frame 2's blue
}

TEST_CASE("decode: JPEG EXIF orientation is applied, as browsers do") {
  // 16 wide, 32 tall: top half red, bottom half blue.
  const Image src = make_image(16, 32, [](int, int y) { return y < 16 ? kRed : kBlue; });
  const auto jpg = encode_jpeg(src);
  SUBCASE("1: as stored") {
    auto r = decode(with_exif_orientation(jpg, 1));
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(r->width == 16);
    CHECK(r->height == 32);
    CHECK(near(px(*r, 8, 4), kRed, 12));
  }
  SUBCASE("6: rotate 90 clockwise; the bottom goes to the left") {
    auto r = decode(with_exif_orientation(jpg, 6));
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(r->width == 32);
    CHECK(r->height == 16);
    CHECK(near(px(*r, 4, 8), kBlue, 12));
    CHECK(near(px(*r, 27, 8), kRed, 12));
  }
  SUBCASE("8: rotate 90 anticlockwise; the top goes to the left") {
    auto r = decode(with_exif_orientation(jpg, 8));
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(r->width == 32);
    CHECK(r->height == 16);
    CHECK(near(px(*r, 4, 8), kRed, 12));
    CHECK(near(px(*r, 27, 8), kBlue, 12));
  }
  SUBCASE("3: rotate 180") {
    auto r = decode(with_exif_orientation(jpg, 3));
    REQUIRE_MESSAGE(r.ok(), r.error());
    CHECK(r->width == 16);
    CHECK(r->height == 32);
    CHECK(near(px(*r, 8, 4), kBlue, 12));
    CHECK(near(px(*r, 8, 27), kRed, 12));
  }
}

TEST_CASE("decode: truncated files are reported as corrupt or truncated") {
  const Image src = noise_image(64, 64, 11);
  const std::vector<uint8_t> rgb = rgb_of(src);
  SUBCASE("PNG") {
    auto png = encode_png(rgb.data(), 64, 64, 3);
    png.resize(png.size() / 2);
    auto r = decode(png);
    REQUIRE_FALSE(r.ok());
    CHECK((contains(r.error(), "corrupt") || contains(r.error(), "truncated")));
    CHECK(contains(r.error(), "PNG"));
  }
  SUBCASE("JPEG") {
    auto jpg = encode_jpeg(src);
    jpg.resize(jpg.size() / 2);
    auto r = decode(jpg);
    REQUIRE_FALSE(r.ok());
    CHECK((contains(r.error(), "corrupt") || contains(r.error(), "truncated")));
    CHECK(contains(r.error(), "JPEG"));
  }
  SUBCASE("header only") {
    auto png = encode_png(rgb.data(), 64, 64, 3);
    png.resize(20);
    auto r = decode(png);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error(), "corrupt or truncated PNG"));
  }
}

TEST_CASE("decode: empty input") {
  auto a = decode_image(nullptr, 0);
  REQUIRE_FALSE(a.ok());
  CHECK(contains(a.error(), "empty"));
  const uint8_t one = 0;
  auto b = decode_image(&one, 0);
  REQUIRE_FALSE(b.ok());
  CHECK(contains(b.error(), "empty"));
}

TEST_CASE("decode: random bytes are not an image") {
  Lcg r{1234};
  std::vector<uint8_t> bytes(1000);
  for (auto& b : bytes) b = uint8_t(r.next());
  bytes[0] = 0x00;
  auto d = decode(bytes);
  REQUIRE_FALSE(d.ok());
  CHECK(contains(d.error(), "not an image"));
}

TEST_CASE("decode: SVG is named as unsupported") {
  for (const std::string& text :
       {std::string("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
        std::string("  \n<svg width=\"10\" height=\"10\"></svg>")}) {
    std::vector<uint8_t> b(text.begin(), text.end());
    auto d = decode(b);
    REQUIRE_FALSE(d.ok());
    CHECK(contains(d.error(), "not an image"));
    CHECK(contains(d.error(), "SVG"));
  }
}

TEST_CASE("decode: WebP is named as unsupported") {
  const std::string text = std::string("RIFF\x10\0\0\0WEBPVP8 ", 16);
  std::vector<uint8_t> b(text.begin(), text.end());
  auto d = decode(b);
  REQUIRE_FALSE(d.ok());
  CHECK(contains(d.error(), "WebP"));
}

TEST_CASE("decode: a header claiming a huge image is refused from the header alone") {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = decode(png_header(65535, 65535));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error(), "65535x65535"));  // the header's own numbers: no decode was attempted
  CHECK(contains(r.error(), "16384"));
  CHECK(contains(r.error(), "40 megapixels"));
  CHECK(secs < 1.0);

  // Within the side limit but over the pixel count.
  auto p = decode(png_header(16000, 16000));
  REQUIRE_FALSE(p.ok());
  CHECK(contains(p.error(), "16000x16000"));
  CHECK(contains(p.error(), "40 megapixels"));

  // A JPEG whose frame header claims 20000x100.
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x00, 0x64, 0x4E, 0x20, 0x03,
                            0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01};
  auto jr = decode(j);
  REQUIRE_FALSE(jr.ok());
  CHECK(contains(jr.error(), "20000x100"));
}

TEST_CASE("decode: a JPEG Huffman table with more than 256 codes is refused (stb 2.27 overflows)") {
  std::vector<uint8_t> j = {0xFF, 0xD8, 0xFF, 0xC4, 0x01, 0x23, 0x00};  // DHT, length 2+17+272
  for (int i = 0; i < 16; ++i) j.push_back(17);                          // 16 * 17 = 272 codes
  j.resize(j.size() + 272, 0);
  j.insert(j.end(), {0xFF, 0xD9});
  auto r = decode(j);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error(), "Huffman"));
  // The same table hidden after a scan's entropy-coded data (as between progressive scans).
  const Image src = noise_image(16, 16, 4);
  auto good = encode_jpeg(src);
  REQUIRE(good.size() > 4);
  good.resize(good.size() - 2);  // drop EOI
  good.insert(good.end(), j.begin() + 2, j.end());
  auto r2 = decode(good);
  REQUIRE_FALSE(r2.ok());
  CHECK(contains(r2.error(), "Huffman"));
}

TEST_CASE("decode: a PNG with an empty IDAT chunk before its data decodes normally") {
  const Image src = noise_image(6, 4, 8);
  const std::vector<uint8_t> rgb = rgb_of(src);
  auto png = encode_png(rgb.data(), 6, 4, 3);
  const size_t idat = 8 + 25;  // signature, then IHDR (4+4+13+4); stb writes IDAT next
  REQUIRE(std::memcmp(&png[idat + 4], "IDAT", 4) == 0);
  std::vector<uint8_t> empty = {0, 0, 0, 0, 'I', 'D', 'A', 'T'};
  put32(empty, crc32(&empty[4], 4));
  png.insert(png.begin() + long(idat), empty.begin(), empty.end());
  auto r = decode(png);
  REQUIRE_MESSAGE(r.ok(), r.error());
  CHECK(r->rgba == src.rgba);
}

// A zlib stream of `zeros` zero bytes with fixed Huffman codes: one literal, then matches of 258
// at distance 1 (13 bits each), so 64 MiB of output costs about 400 KiB.
std::vector<uint8_t> zlib_zeros(size_t zeros) {
  std::vector<uint8_t> out = {0x78, 0x01};
  uint32_t acc = 0;
  int nbits = 0;
  auto bits = [&](uint32_t v, int n) {  // n bits of v, least significant first
    for (int i = 0; i < n; ++i) {
      acc |= ((v >> i) & 1u) << nbits;
      if (++nbits == 8) {
        out.push_back(uint8_t(acc));
        acc = 0;
        nbits = 0;
      }
    }
  };
  auto code = [&](uint32_t c, int n) {  // a Huffman code, most significant bit first
    for (int i = n - 1; i >= 0; --i) bits((c >> i) & 1u, 1);
  };
  bits(1, 1);  // final block
  bits(1, 2);  // fixed Huffman
  code(0x30, 8);  // literal 0
  size_t left = zeros - 1;
  while (left >= 258) {
    code(0xC5, 8);  // length 258 (symbol 285)
    code(0, 5);     // distance 1
    left -= 258;
  }
  while (left-- > 0) code(0x30, 8);
  code(0, 7);  // end of block
  if (nbits) out.push_back(uint8_t(acc));
  const uint32_t a = 1, b = uint32_t(zeros % 65521);  // Adler-32 of zeros
  put32(out, (b << 16) | a);
  return out;
}

TEST_CASE("decode: a PNG whose data inflates far beyond its size is refused without the memory") {
  auto png = png_header(1, 1);  // 1x1 RGB needs 4 bytes of image data
  const std::vector<uint8_t> z = zlib_zeros(size_t(64) << 20);
  put32(png, uint32_t(z.size()));
  const size_t type_at = png.size();
  png.insert(png.end(), {'I', 'D', 'A', 'T'});
  png.insert(png.end(), z.begin(), z.end());
  put32(png, crc32(&png[type_at], png.size() - type_at));
  png.insert(png.end(), {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82});
  auto r = decode(png);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error(), "PNG"));
  CHECK(contains(r.error(), "memory"));

  // The same construction with exactly the 4 bytes needed is an ordinary black pixel.
  auto ok = png_header(1, 1);
  const std::vector<uint8_t> z4 = zlib_zeros(4);
  put32(ok, uint32_t(z4.size()));
  const size_t at = ok.size();
  ok.insert(ok.end(), {'I', 'D', 'A', 'T'});
  ok.insert(ok.end(), z4.begin(), z4.end());
  put32(ok, crc32(&ok[at], ok.size() - at));
  ok.insert(ok.end(), {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82});
  auto d = decode(ok);
  REQUIRE_MESSAGE(d.ok(), d.error());
  CHECK(px(*d, 0, 0) == std::array<int, 4>{0, 0, 0, 255});
}

TEST_CASE("decode: valid variants stb lacks are called unsupported, not corrupt") {
  // A BMP header with BI_RLE8 compression.
  std::vector<uint8_t> bmp = {'B', 'M', 0, 0, 0, 0, 0, 0, 0, 0, 54, 4, 0, 0,  // file header
                              40, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1, 0, 8, 0,  // 4x4, 8 bpp
                              1, 0, 0, 0};                                       // BI_RLE8
  bmp.resize(54 + 1024 + 32, 0);
  auto r = decode(bmp);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error(), "unsupported BMP"));
  CHECK(contains(r.error(), "run-length"));
}

TEST_CASE("decode: files over the byte limit are refused before reading") {
  // Only the size is looked at; the 16 bytes behind the pointer are never read past.
  const uint8_t sig[16] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto r = decode_image(sig, ImageLimits::kMaxFileBytes + 1);
  REQUIRE_FALSE(r.ok());
  CHECK(contains(r.error(), std::to_string(ImageLimits::kMaxFileBytes)));
}

TEST_CASE("decode: never crashes on damaged files") {
  const Image src = noise_image(24, 17, 5);
  const std::vector<uint8_t> rgb = rgb_of(src);
  std::vector<std::vector<uint8_t>> seeds = {encode_png(rgb.data(), 24, 17, 3), encode_jpeg(src),
                                             encode_bmp(src), read_fixture("anim.gif"),
                                             read_fixture("progressive.jpg"),
                                             read_fixture("palette.png"), read_fixture("rgb16.png")};
  Lcg r{99};
  int decoded = 0, refused = 0;
  for (const auto& seed : seeds) {
    for (int trial = 0; trial < 150; ++trial) {
      std::vector<uint8_t> b = seed;
      const int flips = 1 + int(r.next() % 8);
      for (int k = 0; k < flips; ++k) b[r.next() % b.size()] = uint8_t(r.next());
      if (trial % 3 == 0) b.resize(1 + r.next() % b.size());
      auto d = decode(b);
      if (d.ok()) {
        ++decoded;
        CHECK(d->width > 0);
        CHECK(d->height > 0);
        CHECK(d->rgba.size() == size_t(d->width) * size_t(d->height) * 4);
      } else {
        ++refused;
        CHECK_FALSE(d.error().empty());
      }
    }
  }
  CHECK(decoded + refused == int(seeds.size()) * 150);
}

TEST_CASE("image_from_rgba checks sizes and composites alpha over white") {
  const uint8_t pixels[8] = {1, 2, 3, 255, 9, 9, 9, 0};
  auto ok = image_from_rgba(pixels, 8, 2, 1);
  REQUIRE_MESSAGE(ok.ok(), ok.error());
  CHECK(ok->width == 2);
  CHECK(ok->height == 1);
  CHECK(px(*ok, 0, 0) == std::array<int, 4>{1, 2, 3, 255});
  CHECK(px(*ok, 1, 0) == std::array<int, 4>{255, 255, 255, 255});

  auto bad = image_from_rgba(pixels, 8, 2, 2);
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "8"));
  CHECK(contains(bad.error(), "16"));
  auto zero = image_from_rgba(pixels, 8, 0, 1);
  CHECK_FALSE(zero.ok());
  auto huge = image_from_rgba(pixels, 8, 100000, 100000);  // would overflow 32-bit size maths
  REQUIRE_FALSE(huge.ok());
  CHECK(contains(huge.error(), "100000x100000"));
}

TEST_CASE("crop mode names") {
  for (CropMode m : {CropMode::center, CropMode::squash, CropMode::letterbox}) {
    auto p = parse_crop_mode(crop_mode_name(m));
    REQUIRE(p.ok());
    CHECK(*p == m);
  }
  CHECK(std::string(crop_mode_name(CropMode::letterbox)) == "letterbox");
  auto bad = parse_crop_mode("fill");
  REQUIRE_FALSE(bad.ok());
  CHECK(contains(bad.error(), "fill"));
  CHECK(contains(bad.error(), "center, squash, letterbox"));
}

TEST_CASE("crop_geometry") {
  SUBCASE("center, wide source: the sides are cut") {
    const CropGeometry g = crop_geometry(64, 32, 32, 32, CropMode::center);
    CHECK(g.src_x0 == 16.0);
    CHECK(g.src_x1 == 48.0);
    CHECK(g.src_y0 == 0.0);
    CHECK(g.src_y1 == 32.0);
    CHECK(g.dst_x0 == 0);
    CHECK(g.dst_y0 == 0);
    CHECK(g.dst_x1 == 32);
    CHECK(g.dst_y1 == 32);
  }
  SUBCASE("center, tall source: top and bottom are cut, fractional allowed") {
    const CropGeometry g = crop_geometry(30, 101, 32, 32, CropMode::center);
    CHECK(g.src_x0 == 0.0);
    CHECK(g.src_x1 == 30.0);
    CHECK(g.src_y0 == 35.5);
    CHECK(g.src_y1 == 65.5);
  }
  SUBCASE("center keeps a non-square input's aspect") {
    const CropGeometry g = crop_geometry(100, 100, 40, 20, CropMode::center);
    CHECK(g.src_x0 == 0.0);
    CHECK(g.src_x1 == 100.0);
    CHECK(g.src_y0 == 25.0);
    CHECK(g.src_y1 == 75.0);
  }
  SUBCASE("squash uses everything") {
    const CropGeometry g = crop_geometry(64, 32, 32, 32, CropMode::squash);
    CHECK(g.src_x0 == 0.0);
    CHECK(g.src_x1 == 64.0);
    CHECK(g.src_y1 == 32.0);
    CHECK(g.dst_x1 == 32);
    CHECK(g.dst_y1 == 32);
  }
  SUBCASE("letterbox centres the content in whole pixels") {
    const CropGeometry g = crop_geometry(64, 32, 32, 32, CropMode::letterbox);
    CHECK(g.src_x0 == 0.0);
    CHECK(g.src_x1 == 64.0);
    CHECK(g.src_y0 == 0.0);
    CHECK(g.src_y1 == 32.0);
    CHECK(g.dst_x0 == 0);
    CHECK(g.dst_x1 == 32);
    CHECK(g.dst_y0 == 8);
    CHECK(g.dst_y1 == 24);
    const CropGeometry t = crop_geometry(33, 100, 32, 32, CropMode::letterbox);  // 10.56 -> 11 wide
    CHECK(t.dst_x0 == 10);
    CHECK(t.dst_x1 == 21);
    CHECK(t.dst_y0 == 0);
    CHECK(t.dst_y1 == 32);
    const CropGeometry thin = crop_geometry(1, 1000, 32, 32, CropMode::letterbox);  // at least 1 px
    CHECK(thin.dst_x1 - thin.dst_x0 == 1);
    CHECK(thin.dst_x0 == 15);
  }
}

TEST_CASE("image_to_input: extreme shapes give finite values of the right size") {
  const Image one = make_image(1, 1, [](int, int) { return Rgb{10, 20, 30}; });
  const Image tall = noise_image(32, 2000, 1);
  const Image big = noise_image(4000, 3000, 2);
  for (CropMode m : {CropMode::center, CropMode::squash, CropMode::letterbox}) {
    for (const Image* img : {&one, &tall, &big}) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<float> v = image_to_input(*img, 32, 32, m, 1.0f / 255.0f);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      REQUIRE(v.size() == 32u * 32u * 3u);
      bool finite = true, in_range = true;
      for (float f : v) {
        finite = finite && std::isfinite(f);
        in_range = in_range && f >= 0.0f && f <= 1.0f;
      }
      CHECK(finite);
      CHECK(in_range);
      CHECK(secs < 5.0);  // separable: tens of milliseconds for 4000x3000 natively
    }
    // A 1x1 source fills the whole input (every crop mode) with its one colour.
    const std::vector<float> v = image_to_input(one, 32, 32, m, 2.0f);
    for (size_t i = 0; i < v.size(); i += 3) {
      REQUIRE(v[i] == 20.0f);
      REQUIRE(v[i + 1] == 40.0f);
      REQUIRE(v[i + 2] == 60.0f);
    }
  }
}

TEST_CASE("image_to_input: a constant colour comes out exactly, letterbox borders are 0") {
  const Rgb c{200, 100, 7};
  const Image img = make_image(50, 20, [&](int, int) { return c; });
  const float scale = 1.0f / 255.0f;
  for (CropMode m : {CropMode::center, CropMode::squash}) {
    const std::vector<float> v = image_to_input(img, 32, 32, m, scale);
    for (size_t i = 0; i < v.size(); i += 3) {
      REQUIRE(v[i] == float(c[0]) * scale);
      REQUIRE(v[i + 1] == float(c[1]) * scale);
      REQUIRE(v[i + 2] == float(c[2]) * scale);
    }
  }
  const CropGeometry g = crop_geometry(50, 20, 32, 32, CropMode::letterbox);
  REQUIRE(g.dst_y0 == 9);  // 20*32/50 = 12.8 -> 13 rows, from (32-13)/2 = 9
  REQUIRE(g.dst_y1 == 22);
  const std::vector<float> v = image_to_input(img, 32, 32, CropMode::letterbox, scale);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int k = 0; k < 3; ++k) {
        const float want = (y >= 9 && y < 22) ? float(c[k]) * scale : 0.0f;
        REQUIRE(v[(size_t(y) * 32 + x) * 3 + k] == want);
      }
}

TEST_CASE("image_to_input: halving equals the 2x2 mean exactly") {
  const Image img = noise_image(64, 64, 17);
  const std::vector<float> v = image_to_input(img, 32, 32, CropMode::squash, 1.0f);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      for (int k = 0; k < 3; ++k) {
        const int sum = px(img, 2 * x, 2 * y)[k] + px(img, 2 * x + 1, 2 * y)[k] +
                        px(img, 2 * x, 2 * y + 1)[k] + px(img, 2 * x + 1, 2 * y + 1)[k];
        REQUIRE(v[(size_t(y) * 32 + x) * 3 + k] == float(sum) / 4.0f);
      }
}

TEST_CASE("image_to_input: a 0/255 checkerboard of 2x2 blocks halves to a 0/255 checkerboard") {
  const Image img = make_image(64, 64, [](int x, int y) {
    const int v = ((x / 2 + y / 2) % 2) ? 255 : 0;
    return Rgb{v, v, v};
  });
  const std::vector<float> half = image_to_input(img, 32, 32, CropMode::squash, 1.0f);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) REQUIRE(half[(size_t(y) * 32 + x) * 3] == (((x + y) % 2) ? 255.0f : 0.0f));
  // To 16x16 every output covers two blocks of each colour: uniform grey 127.5, no aliasing.
  const std::vector<float> quarter = image_to_input(img, 16, 16, CropMode::squash, 1.0f);
  for (float f : quarter) REQUIRE(f == 127.5f);
}

TEST_CASE("area_resize: 3x downscale is the 3x3 mean") {
  Lcg r{5};
  std::vector<float> src(96 * 96);
  for (auto& f : src) f = float(r.next() % 256);
  const std::vector<float> v = area_resize(src.data(), 96, 96, 1, 0, 0, 96, 96, 32, 32);
  REQUIRE(v.size() == 32u * 32u);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      double s = 0;
      for (int dy = 0; dy < 3; ++dy)
        for (int dx = 0; dx < 3; ++dx) s += src[size_t(3 * y + dy) * 96 + 3 * x + dx];
      REQUIRE(v[size_t(y) * 32 + x] == doctest::Approx(s / 9.0).epsilon(1e-6));
    }
}

TEST_CASE("area_resize: fractional coverage and upscaling") {
  const float a = 3, b = 12, c = 30;
  const float row3[3] = {a, b, c};
  SUBCASE("3 -> 2: each output covers 1.5 source pixels") {
    const auto v = area_resize(row3, 1, 3, 1, 0, 0, 3, 1, 1, 2);
    REQUIRE(v.size() == 2u);
    CHECK(v[0] == doctest::Approx((2 * a + b) / 3));
    CHECK(v[1] == doctest::Approx((b + 2 * c) / 3));
  }
  SUBCASE("2 -> 4: each source pixel is repeated") {
    const auto v = area_resize(row3, 1, 2, 1, 0, 0, 2, 1, 1, 4);
    CHECK(v == std::vector<float>{a, a, b, b});
  }
  SUBCASE("2 -> 3: the middle output straddles both") {
    const auto v = area_resize(row3, 1, 2, 1, 0, 0, 2, 1, 1, 3);
    CHECK(v[0] == a);
    CHECK(v[1] == doctest::Approx((a + b) / 2));
    CHECK(v[2] == b);
  }
  SUBCASE("1x1 -> 5x7 is constant") {
    const float one[1] = {42.5f};
    const auto v = area_resize(one, 1, 1, 1, 0, 0, 1, 1, 5, 7);
    REQUIRE(v.size() == 35u);
    for (float f : v) CHECK(f == 42.5f);
  }
  SUBCASE("a sub-rectangle at the same scale copies its pixels") {
    std::vector<float> src(4 * 4 * 2);
    for (size_t i = 0; i < src.size(); ++i) src[i] = float(i);
    const auto v = area_resize(src.data(), 4, 4, 2, 1, 1, 3, 3, 2, 2);
    REQUIRE(v.size() == 8u);
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x)
        for (int k = 0; k < 2; ++k)
          CHECK(v[(size_t(y) * 2 + x) * 2 + k] == src[(size_t(y + 1) * 4 + x + 1) * 2 + k]);
  }
  SUBCASE("many channels") {
    std::vector<float> src(3 * 3 * 10);
    for (size_t i = 0; i < src.size(); ++i) src[i] = float(i % 10);
    const auto v = area_resize(src.data(), 3, 3, 10, 0, 0, 3, 3, 2, 2);
    REQUIRE(v.size() == 40u);
    for (size_t i = 0; i < v.size(); ++i) CHECK(v[i] == doctest::Approx(float(i % 10)));
  }
}

TEST_CASE("image_to_input: center crop keeps the middle, letterbox pads") {
  // Left quarter red, middle half green, right quarter blue.
  const Image img = make_image(64, 32, [](int x, int) { return x < 16 ? kRed : x < 48 ? kGreen : kBlue; });
  const std::vector<float> v = image_to_input(img, 32, 32, CropMode::center, 1.0f);
  for (size_t i = 0; i < v.size(); i += 3) {
    REQUIRE(v[i] == 0.0f);
    REQUIRE(v[i + 1] == 255.0f);
    REQUIRE(v[i + 2] == 0.0f);
  }
  // Top half white, bottom half red: letterboxed content occupies rows 8..23.
  const Image tb = make_image(64, 32, [](int, int y) { return y < 16 ? kWhite : kRed; });
  const std::vector<float> l = image_to_input(tb, 32, 32, CropMode::letterbox, 1.0f);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const float* p = &l[(size_t(y) * 32 + x) * 3];
      if (y < 8 || y >= 24) {
        REQUIRE(p[0] == 0.0f);
        REQUIRE(p[1] == 0.0f);
        REQUIRE(p[2] == 0.0f);
      } else if (y < 16) {
        REQUIRE(p[0] == 255.0f);
        REQUIRE(p[1] == 255.0f);
        REQUIRE(p[2] == 255.0f);
      } else {
        REQUIRE(p[0] == 255.0f);
        REQUIRE(p[1] == 0.0f);
        REQUIRE(p[2] == 0.0f);
      }
    }
}

TEST_CASE("image_to_input: output is HWC in RGB order") {
  const Image img = make_image(2, 1, [](int x, int) { return x == 0 ? Rgb{1, 2, 3} : Rgb{4, 5, 6}; });
  const std::vector<float> v = image_to_input(img, 1, 2, CropMode::squash, 1.0f);
  CHECK(v == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("encode_png round-trips RGBA and refuses bad arguments") {
  const uint8_t pixels[8] = {1, 2, 3, 255, 4, 5, 6, 255};
  const auto png = encode_png(pixels, 1, 2, 4);
  REQUIRE(png.size() > 8);
  CHECK(png[1] == 'P');
  auto r = decode(png);
  REQUIRE(r.ok());
  CHECK(r->width == 1);
  CHECK(r->height == 2);
  CHECK(std::vector<uint8_t>(r->rgba.begin(), r->rgba.end()) ==
        std::vector<uint8_t>(pixels, pixels + 8));
  CHECK(encode_png(nullptr, 1, 1, 4).empty());
  CHECK(encode_png(pixels, 0, 1, 4).empty());
  CHECK(encode_png(pixels, 1, 1, 5).empty());
}
