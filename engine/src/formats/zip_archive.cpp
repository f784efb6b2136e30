// One file out of a zip archive, as a .keras archive holds them: stored (Keras 3 writes
// zipfile.ZipFile(path, "w"), Python's default ZIP_STORED, keras/src/saving/saving_lib.py) or
// deflated (a person who unzips and re-zips it gets method 8 from every common tool). Found through
// the central directory (APPNOTE.TXT 4.3.12-4.3.16), with its Zip64 records for files over 4 GiB or
// entries written with force_zip64; every offset and size is checked against the archive before
// it is used, an entry may not inflate past the caller's limit, and its CRC-32 is checked.
// Deflate is zlib's (Debian's zlib1g-dev), in the native build; the wasm engine is handed the
// inflated bytes by JS (engine/js/keras.mjs), so it carries no inflater.
#include "gradcam/keras.h"

#if GRADCAM_HAVE_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <array>
#include <climits>

namespace gradcam {

namespace {

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// CRC-32 (ISO 3309, as zip uses it): zlib's natively, a table otherwise.
uint32_t crc32_of(const uint8_t* p, size_t n) {
#if GRADCAM_HAVE_ZLIB
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < n;) {  // zlib takes uInt lengths
    const uInt step = uInt(std::min<size_t>(n - done, UINT_MAX));
    crc = crc32(crc, p + done, step);
    done += step;
  }
  return uint32_t(crc);
#else
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
#endif
}

// A raw deflate stream (no zlib header, as zip stores it) into exactly `out.size()` bytes.
Status inflate_entry(const uint8_t* in, size_t n, std::vector<uint8_t>& out, const std::string& name) {
#if GRADCAM_HAVE_ZLIB
  z_stream s{};
  if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return make_error("cannot start inflating " + name);
  size_t in_done = 0, out_done = 0;
  int r = Z_OK;
  while (r == Z_OK) {
    const uInt in_step = uInt(std::min<size_t>(n - in_done, UINT_MAX));
    const uInt out_step = uInt(std::min<size_t>(out.size() - out_done, UINT_MAX));
    s.next_in = const_cast<Bytef*>(in + in_done), s.avail_in = in_step;
    s.next_out = out.data() + out_done, s.avail_out = out_step;
    r = inflate(&s, Z_NO_FLUSH);
    in_done += in_step - s.avail_in;
    out_done += out_step - s.avail_out;
    if (r == Z_OK && s.avail_in == in_step && s.avail_out == out_step) r = Z_BUF_ERROR;  // no progress
  }
  const std::string why = s.msg ? s.msg : "";
  inflateEnd(&s);
  if (r == Z_STREAM_END && out_done == out.size()) return Status::Ok();
  if (r == Z_STREAM_END) return make_error(name + " inflates to fewer bytes than the archive says (damaged archive)");
  if (out_done == out.size() && (r == Z_BUF_ERROR || r == Z_OK))
    return make_error(name + " inflates to more bytes than the archive says (damaged archive)");
  return make_error(name + ": damaged deflate data" + (why.empty() ? "" : " (" + why + ")"));
#else
  (void)in, (void)n, (void)out;
  return make_error(name + " is deflated; this build reads it through the JS API (which inflates it) or the native CLI");
#endif
}

}  // namespace

Result<ZipEntry> read_zip_entry(const uint8_t* bytes, size_t size, const std::string& name, size_t max_size) {
  if (size < 22) return make_error("not a zip archive (too short)");
  // The end-of-central-directory record: the last 22 bytes, before a comment of up to 64 KiB.
  size_t eocd = SIZE_MAX;
  for (size_t back = 22; back <= size && back <= 22 + 65535; ++back)
    if (le(bytes + size - back, 4) == 0x06054b50) {
      eocd = size - back;
      break;
    }
  if (eocd == SIZE_MAX) return make_error("not a zip archive (no end of central directory)");
  uint64_t entries = le(bytes + eocd + 10, 2), cd_size = le(bytes + eocd + 12, 4), cd_offset = le(bytes + eocd + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    // Zip64: the locator just before the record points at the Zip64 end-of-central-directory.
    if (eocd < 20 || le(bytes + eocd - 20, 4) != 0x07064b50) return make_error("zip64 archive without its locator");
    const uint64_t z = le(bytes + eocd - 20 + 8, 8);
    if (z > size || size - z < 56 || le(bytes + z, 4) != 0x06064b50) return make_error("zip64 record outside the archive");
    entries = le(bytes + z + 32, 8);
    cd_size = le(bytes + z + 40, 8);
    cd_offset = le(bytes + z + 48, 8);
  }
  if (cd_offset > size || cd_size > size - cd_offset) return make_error("central directory outside the archive (truncated?)");
  size_t p = size_t(cd_offset);
  const size_t end = size_t(cd_offset + cd_size);
  for (uint64_t i = 0; i < entries; ++i) {
    if (end - p < 46 || le(bytes + p, 4) != 0x02014b50) return make_error("damaged central directory");
    const uint64_t flags = le(bytes + p + 8, 2), method = le(bytes + p + 10, 2), crc = le(bytes + p + 16, 4);
    uint64_t csize = le(bytes + p + 20, 4), usize = le(bytes + p + 24, 4), local = le(bytes + p + 42, 4);
    const size_t n = size_t(le(bytes + p + 28, 2)), extra = size_t(le(bytes + p + 30, 2)), comment = size_t(le(bytes + p + 32, 2));
    if (end - p - 46 < n + extra + comment) return make_error("damaged central directory");
    const std::string entry(reinterpret_cast<const char*>(bytes + p + 46), n);
    if (entry == name) {
      // Zip64 extra field (id 1): the 8-byte values of those fields that read 0xffffffff, in order.
      for (size_t e = p + 46 + n; e + 4 <= p + 46 + n + extra;) {
        const uint64_t id = le(bytes + e, 2), len = le(bytes + e + 2, 2);
        if (e + 4 + len > p + 46 + n + extra) return make_error("damaged zip64 extra field");
        if (id == 1) {
          size_t q = e + 4;
          for (uint64_t* v : {&usize, &csize, &local})
            if (*v == 0xffffffff) {
              if (q + 8 > e + 4 + len) return make_error("damaged zip64 extra field");
              *v = le(bytes + q, 8);
              q += 8;
            }
        }
        e += 4 + size_t(len);
      }
      if (flags & 1) return make_error(name + " is encrypted (a password-protected zip); zip it again without a password");
      if (method != 0 && method != 8)
        return make_error(name + " is compressed with zip method " + std::to_string(method) +
                          "; stored and deflated entries are read: zip it again with deflate (zip's default) or none");
      if (usize > max_size)
        return make_error(name + " holds " + std::to_string(usize) + " bytes, over the " +
                          std::to_string(max_size >> 20) + " MiB model limit");
      if (local > size || size - local < 30 || le(bytes + local, 4) != 0x04034b50)
        return make_error(name + ": local header outside the archive (truncated?)");
      const uint64_t data = local + 30 + le(bytes + local + 26, 2) + le(bytes + local + 28, 2);
      if (data > size || csize > size - data) return make_error(name + " lies outside the archive (truncated?)");
      ZipEntry out;
      if (method == 0) {
        if (csize != usize) return make_error(name + " is stored with two different sizes (damaged archive)");
        out.offset = size_t(data), out.size = size_t(usize);
      } else {
        out.inflated.resize(size_t(usize));
        if (Status s = inflate_entry(bytes + data, size_t(csize), out.inflated, name); !s) return make_error(s.error());
        out.size = size_t(usize);
      }
      if (crc32_of(out.data(bytes), out.size) != crc) return make_error(name + " fails its CRC-32 check (damaged archive)");
      return out;
    }
    p += 46 + n + extra + comment;
  }
  return make_error("the archive has no " + name);
}

}  // namespace gradcam
