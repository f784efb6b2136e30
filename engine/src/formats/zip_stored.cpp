// One file out of a zip archive whose entries are stored (not compressed), as Keras 3 writes a
// .keras archive (keras/src/saving/saving_lib.py: zipfile.ZipFile(path, "w"), Python's default
// ZIP_STORED; config.json, metadata.json and model.weights.h5). Found through the central directory
// (APPNOTE.TXT 4.3.12-4.3.16), with its Zip64 records for files over 4 GiB or entries written with
// force_zip64; every offset and size is checked against the archive before it is used.
#include "gradcam/keras.h"

namespace gradcam {

namespace {

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace

Result<ZipSlice> find_stored_zip_entry(const uint8_t* bytes, size_t size, const std::string& name) {
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
    const uint64_t flags = le(bytes + p + 8, 2), method = le(bytes + p + 10, 2);
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
      if (flags & 1) return make_error(name + " is encrypted");
      if (method != 0 || csize != usize)
        return make_error(name + " is compressed (method " + std::to_string(method) +
                          "); only stored entries are read, as Keras writes them");
      if (local > size || size - local < 30 || le(bytes + local, 4) != 0x04034b50)
        return make_error(name + ": local header outside the archive (truncated?)");
      const uint64_t data = local + 30 + le(bytes + local + 26, 2) + le(bytes + local + 28, 2);
      if (data > size || csize > size - data) return make_error(name + " lies outside the archive (truncated?)");
      return ZipSlice{size_t(data), size_t(csize)};
    }
    p += 46 + n + extra + comment;
  }
  return make_error("the archive has no " + name);
}

}  // namespace gradcam
