// ONNX ModelProto -> gradcam::onnx::Model through nanopb: pb_decode and the tables its generator
// writes from onnx.proto at build time (cmake/onnx_schema.cmake). Every string, byte string and
// repeated field is a nanopb callback here, so each length or count read from the file is checked
// against Limits before anything is allocated for it; fields the engine does not use are left out
// of the tables (onnx.options) and pb_decode skips them in the file without storing them.
#include <pb_decode.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <memory>
#include <limits>
#include <map>
#include <set>
#include <new>

#include "formats/memory_left.h"
#include "formats/onnx.h"
#include "half_float.h"
#include "onnx.pb.h"

namespace gradcam::onnx {

int64_t Tensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

const Attribute* Node::attribute(const std::string& wanted) const {
  for (const Attribute& a : attributes)
    if (a.name == wanted) return &a;
  return nullptr;
}

int64_t Model::default_opset() const {
  for (const auto& [domain, version] : opsets)
    if (domain.empty() || domain == "ai.onnx") return version;
  return 0;
}

namespace {

// Where in the model a callback is, for error messages: "node 'conv1' attribute 'value'". Names
// are read lazily because a message's name field may come after the field that fails.
struct Place {
  const char* kind;
  size_t index;
  const std::string* name;
  const Place* parent;
};


std::string describe(const Place* p) {
  if (!p) return "";
  std::string s = p->parent ? describe(p->parent) + " " : "";
  s += p->kind;
  // Appended piece by piece: g++ 12 warns (falsely, -Wrestrict) on "literal" + std::string&&.
  if (p->name && !p->name->empty()) {
    s += " '";
    s += printable(*p->name);
    s += '\'';
  } else {
    s += ' ';
    s += std::to_string(p->index);
  }
  return s;
}

// State shared by every callback of one read. A callback that fails records the first error here
// and returns false, which stops pb_decode at once.
struct Reader {
  explicit Reader(std::string file) : source(std::move(file)) {}
  std::string source;
  std::string error;
  bool failed = false;         // also when the message itself could not be allocated
  int64_t total_elements = 0;  // of every tensor read so far (Limits::kMaxTotalElements)

  // "m.onnx: node 'conv1': name is 5000 bytes, ..."
  bool fail(const Place* at, const std::string& what) {
    std::string where = describe(at);
    return record(where.empty() ? what : where + ": " + what);
  }
  // "m.onnx: initializer 'fc.weight' has 513000000 elements, ...": `predicate` continues the place.
  bool fail_that(const Place* at, const std::string& predicate) { return record(describe(at) + " " + predicate); }

 private:
  bool record(const std::string& what) {
    if (!failed) error = source + ": " + what;
    failed = true;
    return false;
  }
};

// Callbacks are called from nanopb's C code, which no exception may cross: each callback's whole
// body runs in here, error messages included.
template <class F>
bool guarded(Reader& r, F&& body) noexcept {
  try {
    return body();
  } catch (...) {  // std::bad_alloc; a message could not be built either
    r.failed = true;
    return false;
  }
}

// Room for `extra` more values, growing geometrically: unpacked repeated fields arrive one value
// per call, and reserving exactly each time would copy the list once per value.
template <class T>
void make_room(std::vector<T>& v, size_t extra) {
  size_t want = v.size() + extra;
  if (want > v.capacity()) v.reserve(std::max(want, v.capacity() * 2));
}

template <class T>
T& sink_from(void** arg) {
  return *static_cast<T*>(*arg);
}

// ---- strings -------------------------------------------------------------------------------

struct StringSink {
  Reader* r;
  const Place* at;
  const char* what;
  std::string* out;
  size_t max_bytes = Limits::kMaxStringBytes;
  bool* seen = nullptr;  // set when the field is present, even empty
};

bool read_string(pb_istream_t* s, const pb_field_t*, void** arg) {
  StringSink& k = sink_from<StringSink>(arg);
  return guarded(*k.r, [&] {
    if (s->bytes_left > k.max_bytes)
      return k.r->fail(k.at, std::string(k.what) + " is " + std::to_string(s->bytes_left) +
                                 " bytes, more than the limit of " + std::to_string(k.max_bytes));
    if (k.seen) *k.seen = true;
    k.out->resize(s->bytes_left);
    return pb_read(s, reinterpret_cast<pb_byte_t*>(k.out->data()), k.out->size());
  });
}

void bind(pb_callback_t& cb, StringSink& k) {
  cb.funcs.decode = &read_string;
  cb.arg = &k;
}

struct StringListSink {
  Reader* r;
  const Place* at;
  const char* what;
  std::vector<std::string>* out;
  int64_t max_count;
};

bool append_string(pb_istream_t* s, const pb_field_t*, void** arg) {
  StringListSink& k = sink_from<StringListSink>(arg);
  return guarded(*k.r, [&] {
    if (int64_t(k.out->size()) >= k.max_count)
      return k.r->fail(k.at, std::string(k.what) + " has more than the limit of " + std::to_string(k.max_count) +
                                 " entries");
    k.out->emplace_back();
    StringSink one{k.r, k.at, k.what, &k.out->back()};
    void* one_arg = &one;
    return read_string(s, nullptr, &one_arg);
  });
}

void bind(pb_callback_t& cb, StringListSink& k) {
  cb.funcs.decode = &append_string;
  cb.arg = &k;
}

// ---- numbers -------------------------------------------------------------------------------

// A repeated number field, packed (one call with every value) or not (one call per value).
template <class T>
struct ListSink {
  Reader* r;
  const Place* at;
  const char* what;
  std::vector<T>* out;
  int64_t max_count;
};

// Fixed-size wire values (float, double): the count is known before reading, so the list is
// checked and sized once.
template <class Wire, class T, bool (*decode_one)(pb_istream_t*, void*)>
bool read_fixed(pb_istream_t* s, const pb_field_t*, void** arg) {
  ListSink<T>& k = sink_from<ListSink<T>>(arg);
  return guarded(*k.r, [&] {
    size_t n = s->bytes_left / sizeof(Wire);
    if (int64_t(k.out->size()) + int64_t(n) > k.max_count)
      return k.r->fail(k.at, std::string(k.what) + " has more than the limit of " +
                                 std::to_string(k.max_count) + " values");
    make_room(*k.out, n);
    while (s->bytes_left) {
      Wire w;
      if (!decode_one(s, &w)) return false;
      k.out->push_back(T(w));
    }
    return true;
  });
}

enum class VarintKind { int64, int32, uint64 };

// Varints take 1 to 10 bytes each, so the limit is checked value by value.
template <VarintKind kind>
bool read_varints(pb_istream_t* s, const pb_field_t*, void** arg) {
  ListSink<int64_t>& k = sink_from<ListSink<int64_t>>(arg);
  return guarded(*k.r, [&] {
    while (s->bytes_left) {
      if (int64_t(k.out->size()) >= k.max_count)
        return k.r->fail(k.at, std::string(k.what) + " has more than the limit of " +
                                   std::to_string(k.max_count) + " values");
      uint64_t v;
      if (!pb_decode_varint(s, &v)) return false;
      int64_t value;
      if constexpr (kind == VarintKind::int32) {
        value = int32_t(uint32_t(v));  // protobuf sign-extends negative int32 to 64 bits
      } else if constexpr (kind == VarintKind::uint64) {
        if (v > uint64_t(std::numeric_limits<int64_t>::max()))
          return k.r->fail(k.at, std::string(k.what) + " holds " + std::to_string(v) +
                                     ", beyond the int64 range this reader keeps");
        value = int64_t(v);
      } else {
        value = int64_t(v);
      }
      make_room(*k.out, 1);
      k.out->push_back(value);
    }
    return true;
  });
}

void bind(pb_callback_t& cb, ListSink<float>& k) {
  cb.funcs.decode = &read_fixed<float, float, &pb_decode_fixed32>;
  cb.arg = &k;
}

// ---- tensors -------------------------------------------------------------------------------

// A tensor's fields as the file gives them; finish_tensor checks them against each other once the
// whole message is read (the shape and data type may come after the data).
struct TensorSinks {
  Tensor* out;
  std::vector<float> float_data, double_data;  // double_data narrowed to float as it is read
  std::vector<int64_t> int32_data, int64_data, uint64_data;
  // raw_data's bytes, uninitialised until read: they are written once, from the file, not zeroed first.
  std::unique_ptr<unsigned char[]> raw;
  size_t raw_size = 0;
  bool has_raw = false;
  // FLOAT raw_data on a little-endian machine, read straight into out->floats: the bytes are the
  // values, and a second buffer as large as the tensor (VGG's 392 MiB classifier) would be the
  // load's peak. Writers put data_type (field 2) before raw_data (field 9), so it is known by then.
  bool raw_in_floats = false;
  const onnx_TensorProto* pb = nullptr;  // the fields decoded so far
  // Initializers to read transposed (Tensor::transposed), and the dims they were read with.
  const std::set<std::string>* transpose = nullptr;
  std::vector<int64_t> transposed_dims;
  bool has_external = false;
  StringSink name;
  ListSink<int64_t> dims;
  ListSink<float> float_list, double_list;
  ListSink<int64_t> int32_list, int64_list, uint64_list;

  TensorSinks(Reader& r, const Place* at, Tensor* t)
      : out(t),
        name{&r, at, "name", &t->name},
        dims{&r, at, "dims", &t->dims, Limits::kMaxDims},
        float_list{&r, at, "float_data", &float_data, Limits::kMaxTensorElements},
        double_list{&r, at, "double_data", &double_data, Limits::kMaxTensorElements},
        int32_list{&r, at, "int32_data", &int32_data, Limits::kMaxTensorElements},
        int64_list{&r, at, "int64_data", &int64_data, Limits::kMaxTensorElements},
        uint64_list{&r, at, "uint64_data", &uint64_data, Limits::kMaxTensorElements} {}
  TensorSinks(const TensorSinks&) = delete;  // the list sinks point into this object
  TensorSinks& operator=(const TensorSinks&) = delete;
};

// A transposed read buffers this many floats of a row at most (4 MiB); longer rows are read as they are.
constexpr int64_t kMaxTransposedRow = int64_t(1) << 20;

// A [rows][cols] FLOAT matrix from the stream into `out` as [cols][rows], a band of rows at a time:
// each band's column lands in one contiguous run of `out`.
bool read_transposed(pb_istream_t* s, size_t rows, size_t cols, float* out) {
  const size_t band = std::max<size_t>(1, std::min<size_t>(64, size_t(kMaxTransposedRow) / cols));
  std::vector<float> buffer(band * cols);
  for (size_t r0 = 0; r0 < rows; r0 += band) {
    const size_t n = std::min(band, rows - r0);
    if (!pb_read(s, reinterpret_cast<pb_byte_t*>(buffer.data()), n * cols * sizeof(float))) return false;
    for (size_t c = 0; c < cols; ++c)
      for (size_t r = 0; r < n; ++r) out[c * rows + r0 + r] = buffer[r * cols + c];
  }
  return true;
}

bool read_raw_data(pb_istream_t* s, const pb_field_t*, void** arg) {
  TensorSinks& k = sink_from<TensorSinks>(arg);
  Reader& r = *k.name.r;
  return guarded(r, [&] {
    // The largest element is 8 bytes. The exact size is checked against the shape afterwards.
    if (s->bytes_left > uint64_t(Limits::kMaxTensorElements) * 8)
      return r.fail(k.name.at, "raw_data is " + std::to_string(s->bytes_left) +
                                   " bytes, more than the limit of " +
                                   std::to_string(Limits::kMaxTensorElements) + " elements");
    k.has_raw = true;
    k.out->floats.clear();
    k.raw_in_floats = false;
    if (std::endian::native == std::endian::little && k.pb && k.pb->has_data_type && k.pb->data_type == 1 &&
        s->bytes_left % sizeof(float) == 0 && s->bytes_left <= uint64_t(Limits::kMaxTensorElements) * sizeof(float)) {
      k.raw_in_floats = true;
      k.raw.reset();
      k.raw_size = s->bytes_left;
      k.out->floats.resize(k.raw_size / sizeof(float));
      k.out->transposed = false;
      const std::vector<int64_t>& d = k.out->dims;
      if (k.transpose && k.transpose->count(k.out->name) && d.size() == 2 && d[0] > 0 && d[1] > 0 &&
          d[1] <= kMaxTransposedRow && uint64_t(d[0]) * uint64_t(d[1]) == k.out->floats.size()) {
        k.out->transposed = true;
        k.transposed_dims = d;
        return read_transposed(s, size_t(d[0]), size_t(d[1]), k.out->floats.data());
      }
      return pb_read(s, reinterpret_cast<pb_byte_t*>(k.out->floats.data()), k.raw_size);
    }
    k.raw.reset(new unsigned char[s->bytes_left]);
    k.raw_size = s->bytes_left;
    return pb_read(s, k.raw.get(), k.raw_size);
  });
}

// Only its presence matters: the data would be in another file, which this reader does not open.
bool note_external_data(pb_istream_t* s, const pb_field_t*, void** arg) {
  sink_from<TensorSinks>(arg).has_external = true;
  return pb_read(s, nullptr, s->bytes_left);
}

void bind(onnx_TensorProto& pb, TensorSinks& k) {
  bind(pb.name, k.name);
  pb.dims.funcs.decode = &read_varints<VarintKind::int64>;
  pb.dims.arg = &k.dims;
  bind(pb.float_data, k.float_list);
  pb.double_data.funcs.decode = &read_fixed<double, float, &pb_decode_fixed64>;
  pb.double_data.arg = &k.double_list;
  pb.int32_data.funcs.decode = &read_varints<VarintKind::int32>;
  pb.int32_data.arg = &k.int32_list;
  pb.int64_data.funcs.decode = &read_varints<VarintKind::int64>;
  pb.int64_data.arg = &k.int64_list;
  pb.uint64_data.funcs.decode = &read_varints<VarintKind::uint64>;
  pb.uint64_data.arg = &k.uint64_list;
  pb.raw_data.funcs.decode = &read_raw_data;
  pb.raw_data.arg = &k;
  pb.external_data.funcs.decode = &note_external_data;
  pb.external_data.arg = &k;
}

// How ONNX stores each data type this reader converts: the bytes per element in raw_data, the
// typed field used without raw_data, and whether the values become floats or ints.
struct TypeLayout {
  const char* name;
  size_t bytes;
  const char* typed_field;
  bool to_float;
};

const TypeLayout* layout_of(int32_t data_type) {
  static const TypeLayout kFloat{"FLOAT", 4, "float_data", true};
  static const TypeLayout kUint8{"UINT8", 1, "int32_data", false};
  static const TypeLayout kInt8{"INT8", 1, "int32_data", false};
  static const TypeLayout kUint16{"UINT16", 2, "int32_data", false};
  static const TypeLayout kInt16{"INT16", 2, "int32_data", false};
  static const TypeLayout kInt32{"INT32", 4, "int32_data", false};
  static const TypeLayout kInt64{"INT64", 8, "int64_data", false};
  static const TypeLayout kBool{"BOOL", 1, "int32_data", false};
  static const TypeLayout kFloat16{"FLOAT16", 2, "int32_data", true};
  static const TypeLayout kDouble{"DOUBLE", 8, "double_data", true};
  static const TypeLayout kUint32{"UINT32", 4, "uint64_data", false};
  static const TypeLayout kUint64{"UINT64", 8, "uint64_data", false};
  static const TypeLayout kBfloat16{"BFLOAT16", 2, "int32_data", true};
  switch (data_type) {
    case 1: return &kFloat;
    case 2: return &kUint8;
    case 3: return &kInt8;
    case 4: return &kUint16;
    case 5: return &kInt16;
    case 6: return &kInt32;
    case 7: return &kInt64;
    case 9: return &kBool;
    case 10: return &kFloat16;
    case 11: return &kDouble;
    case 12: return &kUint32;
    case 13: return &kUint64;
    case 16: return &kBfloat16;
    default: return nullptr;
  }
}

const char* unsupported_type_name(int32_t data_type) {
  switch (data_type) {
    case 0: return "UNDEFINED";
    case 8: return "STRING";
    case 14: return "COMPLEX64";
    case 15: return "COMPLEX128";
    default: return "unknown";
  }
}

uint64_t little_endian(const unsigned char* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// One stored element, as the bits raw_data or int32_data hold, to float.
float to_float(int32_t data_type, uint64_t bits) {
  switch (data_type) {
    case 1: return float_from_bits(uint32_t(bits));
    case 10: return half_to_float(uint16_t(bits));
    case 16: return float_from_bits(uint32_t(bits & 0xffff) << 16);  // bfloat16: float's top half
    default: {                                                       // 11, DOUBLE
      double d;
      std::memcpy(&d, &bits, 8);
      return float(d);
    }
  }
}

// A raw_data element's bits (little-endian, `bytes` wide) to int64, sign-extended for signed types.
int64_t to_int(int32_t data_type, uint64_t bits, size_t bytes) {
  bool is_signed = data_type == 3 || data_type == 5 || data_type == 6 || data_type == 7;
  if (is_signed && bytes < 8) {
    uint64_t sign = uint64_t(1) << (8 * bytes - 1);
    return int64_t(bits ^ sign) - int64_t(sign);
  }
  return int64_t(bits);
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

// The checks that need the whole message: external data, the shape and the limits on it, the data
// type, the data's size against the shape. Then the values are converted into out->floats or ints.
bool finish_tensor(Reader& r, const Place* at, const onnx_TensorProto& pb, TensorSinks& k) {
  Tensor& t = *k.out;
  if (k.has_external || (pb.has_data_location && pb.data_location == 1))
    return r.fail(at, "external data is not supported: save the model with all tensors inside the file");
  t.data_type = pb.data_type;

  int64_t count = 1;
  for (int64_t d : t.dims)
    if (d < 0) return r.fail(at, "dims " + dims_text(t.dims) + " has a negative dimension");
  bool empty = false;
  for (int64_t d : t.dims) empty = empty || d == 0;
  if (empty) {
    count = 0;
  } else {
    for (int64_t d : t.dims) {
      if (__builtin_mul_overflow(count, d, &count))
        return r.fail(at, "dims " + dims_text(t.dims) + " have more elements than int64 can count");
    }
  }
  if (count > Limits::kMaxTensorElements)
    return r.fail_that(at, "has " + std::to_string(count) + " elements, more than the limit of " +
                          std::to_string(Limits::kMaxTensorElements));
  if (r.total_elements + count > Limits::kMaxTotalElements)
    return r.fail_that(at, "brings the model to " + std::to_string(r.total_elements + count) +
                          " tensor elements, more than the limit of " +
                          std::to_string(Limits::kMaxTotalElements) + " for all tensors together");
  r.total_elements += count;

  const TypeLayout* layout = layout_of(t.data_type);
  if (!layout)
    return r.fail(at, "data type " + std::to_string(t.data_type) + " (" + unsupported_type_name(t.data_type) +
                          ") is not supported");

  struct Typed {
    const char* field;
    size_t count;
  };
  const Typed typed[] = {{"float_data", k.float_data.size()},   {"double_data", k.double_data.size()},
                         {"int32_data", k.int32_data.size()},   {"int64_data", k.int64_data.size()},
                         {"uint64_data", k.uint64_data.size()}};
  for (const Typed& f : typed) {
    if (f.count == 0) continue;
    if (k.has_raw)
      return r.fail_that(at, std::string("has both raw_data and ") + f.field + ": ONNX keeps a tensor's values in one");
    if (std::strcmp(f.field, layout->typed_field) != 0)
      return r.fail_that(at, std::string("holds ") + layout->name + " values in " + f.field + ", where ONNX keeps them in " +
                            layout->typed_field);
  }

  const size_t n = size_t(count);
  if (k.has_raw) {
    if (k.raw_size != n * layout->bytes)
      return r.fail(at, "raw_data is " + std::to_string(k.raw_size) + " bytes, expected " +
                            std::to_string(n * layout->bytes) + " for dims " + dims_text(t.dims) + " of " +
                            layout->name);
    if (k.raw_in_floats) {
      // A data_type given again after the data (protobuf keeps the last) must still be FLOAT.
      if (t.data_type != 1) return r.fail_that(at, "changes its data type after its raw_data: the file is corrupt");
      if (t.transposed && t.dims != k.transposed_dims) return r.fail_that(at, "changes its dims after its raw_data: the file is corrupt");
      return true;
    }
    const unsigned char* p = k.raw.get();
    if (t.data_type == 1 && std::endian::native == std::endian::little) {
      // FLOAT as this machine stores it: the bytes are the values (the element loop took a
      // third of loading VGG-11).
      t.floats.resize(n);
      if (n > 0) std::memcpy(t.floats.data(), p, n * sizeof(float));
    } else if (layout->to_float) {
      t.floats.resize(n);
      for (size_t i = 0; i < n; ++i)
        t.floats[i] = to_float(t.data_type, little_endian(p + i * layout->bytes, layout->bytes));
    } else {
      t.ints.resize(n);
      for (size_t i = 0; i < n; ++i) {
        uint64_t bits = little_endian(p + i * layout->bytes, layout->bytes);
        if (t.data_type == 13 && bits > uint64_t(std::numeric_limits<int64_t>::max()))
          return r.fail_that(at, "holds the UINT64 value " + std::to_string(bits) + ", beyond the int64 range this reader keeps");
        t.ints[i] = to_int(t.data_type, bits, layout->bytes);
      }
    }
    k.raw.reset();
    return true;
  }

  const std::string field = layout->typed_field;
  size_t given = field == "float_data"    ? k.float_data.size()
                 : field == "double_data" ? k.double_data.size()
                 : field == "int64_data"  ? k.int64_data.size()
                 : field == "uint64_data" ? k.uint64_data.size()
                                          : k.int32_data.size();
  if (given != n)
    return r.fail(at, field + " has " + std::to_string(given) + " values, expected " + std::to_string(n) +
                          " for dims " + dims_text(t.dims) + " of " + layout->name);
  if (field == "float_data") {
    t.floats = std::move(k.float_data);
  } else if (field == "double_data") {
    t.floats = std::move(k.double_data);
  } else if (field == "int64_data") {
    t.ints = std::move(k.int64_data);
  } else if (field == "uint64_data") {
    t.ints = std::move(k.uint64_data);
  } else if (layout->to_float) {  // FLOAT16, BFLOAT16: the 16 bits in int32_data
    t.floats.resize(n);
    for (size_t i = 0; i < n; ++i) t.floats[i] = to_float(t.data_type, uint64_t(k.int32_data[i]) & 0xffff);
  } else {
    t.ints = std::move(k.int32_data);
  }
  return true;
}

// Decodes one TensorProto message (an initializer, or a node attribute's tensor is bound by its
// attribute) into `t`.
bool decode_tensor(Reader& r, const Place* at, pb_istream_t* s, Tensor& t, const std::set<std::string>* transpose = nullptr) {
  TensorSinks k(r, at, &t);
  onnx_TensorProto pb{};
  bind(pb, k);
  k.pb = &pb;
  k.transpose = transpose;
  if (!pb_decode(s, onnx_TensorProto_fields, &pb)) return false;
  return finish_tensor(r, at, pb, k);
}

// ---- nodes ---------------------------------------------------------------------------------

struct NodeSinks {
  Reader* r;
  Node* node;
  const Place* at;
};

bool read_attribute(pb_istream_t* s, const pb_field_t*, void** arg) {
  NodeSinks& n = sink_from<NodeSinks>(arg);
  Reader& r = *n.r;
  return guarded(r, [&] {
    if (int(n.node->attributes.size()) >= Limits::kMaxAttributes)
      return r.fail(n.at, "more than the limit of " + std::to_string(Limits::kMaxAttributes) + " attributes");
    Attribute a;
    Place at{"attribute", n.node->attributes.size(), &a.name, n.at};
    Place tensor_at{"tensor", 0, &a.t.name, &at};
    StringSink name{&r, &at, "name", &a.name};
    bool has_s = false;  // an empty string is still a value
    StringSink text{&r, &at, "s", &a.s, Limits::kMaxStringBytes, &has_s};
    ListSink<float> floats{&r, &at, "floats", &a.floats, Limits::kMaxListElements};
    ListSink<int64_t> ints{&r, &at, "ints", &a.ints, Limits::kMaxListElements};
    StringListSink strings{&r, &at, "strings", &a.strings, Limits::kMaxListElements};
    TensorSinks tensor(r, &tensor_at, &a.t);

    onnx_AttributeProto pb{};
    bind(pb.name, name);
    bind(pb.s, text);
    bind(pb.floats, floats);
    pb.ints.funcs.decode = &read_varints<VarintKind::int64>;
    pb.ints.arg = &ints;
    bind(pb.strings, strings);
    bind(pb.t, tensor);
    if (!pb_decode(s, onnx_AttributeProto_fields, &pb)) return false;
    if (pb.has_t && !finish_tensor(r, &tensor_at, pb.t, tensor)) return false;
    if (pb.has_f) a.f = pb.f;
    if (pb.has_i) a.i = pb.i;

    using K = Attribute::Kind;
    switch (pb.has_type ? pb.type : 0) {
      case onnx_AttributeProto_AttributeType_FLOAT: a.kind = K::f; break;
      case onnx_AttributeProto_AttributeType_INT: a.kind = K::i; break;
      case onnx_AttributeProto_AttributeType_STRING: a.kind = K::s; break;
      case onnx_AttributeProto_AttributeType_TENSOR: a.kind = K::t; break;
      case onnx_AttributeProto_AttributeType_FLOATS: a.kind = K::floats; break;
      case onnx_AttributeProto_AttributeType_INTS: a.kind = K::ints; break;
      case onnx_AttributeProto_AttributeType_STRINGS: a.kind = K::strings; break;
      case onnx_AttributeProto_AttributeType_UNDEFINED:
        // Files from before IR version 0.0.2 have no type: the field that is present says it.
        a.kind = pb.has_f              ? K::f
                 : pb.has_i            ? K::i
                 : has_s               ? K::s
                 : pb.has_t            ? K::t
                 : !a.floats.empty()   ? K::floats
                 : !a.ints.empty()     ? K::ints
                 : !a.strings.empty()  ? K::strings
                                       : K::undefined;
        break;
      default: a.kind = K::other; break;
    }
    n.node->attributes.push_back(std::move(a));
    return true;
  });
}

struct GraphSinks {
  Reader* r;
  Model* model;
  // Initializers read transposed (Tensor::transposed), from the nodes read before them (writers put
  // a graph's nodes, field 1, before its initializers, field 5; a node read after an initializer
  // sees that initializer as it is in the file).
  std::set<std::string> transpose;
  size_t transpose_nodes = 0;  // the nodes `transpose` was found from
};

// The initializers whose only reader is a Gemm's B with transB=1 and no transA.
std::set<std::string> gemm_weights_to_transpose(const std::vector<Node>& nodes) {
  std::map<std::string, int> reads;
  for (const Node& n : nodes)
    for (const std::string& x : n.inputs) ++reads[x];
  std::set<std::string> out;
  for (const Node& n : nodes) {
    if (n.op_type != "Gemm" || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() < 2 || reads[n.inputs[1]] != 1) continue;
    const Attribute* trans_a = n.attribute("transA");
    const Attribute* trans_b = n.attribute("transB");
    if ((trans_a && trans_a->i != 0) || !trans_b || trans_b->kind != Attribute::Kind::i || trans_b->i != 1) continue;
    out.insert(n.inputs[1]);
  }
  return out;
}

bool read_node(pb_istream_t* s, const pb_field_t*, void** arg) {
  GraphSinks& g = sink_from<GraphSinks>(arg);
  Reader& r = *g.r;
  return guarded(r, [&] {
    if (int(g.model->nodes.size()) >= Limits::kMaxNodes)
      return r.fail(nullptr, "the graph has more than the limit of " + std::to_string(Limits::kMaxNodes) + " nodes");
    Node node;
    Place at{"node", g.model->nodes.size(), &node.name, nullptr};
    StringListSink inputs{&r, &at, "inputs", &node.inputs, Limits::kMaxNodeInputs};
    StringListSink outputs{&r, &at, "outputs", &node.outputs, Limits::kMaxNodeInputs};
    StringSink name{&r, &at, "name", &node.name};
    StringSink op_type{&r, &at, "op_type", &node.op_type};
    StringSink domain{&r, &at, "domain", &node.domain};
    NodeSinks attributes{&r, &node, &at};

    onnx_NodeProto pb{};
    bind(pb.input, inputs);
    bind(pb.output, outputs);
    bind(pb.name, name);
    bind(pb.op_type, op_type);
    bind(pb.domain, domain);
    pb.attribute.funcs.decode = &read_attribute;
    pb.attribute.arg = &attributes;
    if (!pb_decode(s, onnx_NodeProto_fields, &pb)) return false;
    g.model->nodes.push_back(std::move(node));
    return true;
  });
}

bool read_initializer(pb_istream_t* s, const pb_field_t*, void** arg) {
  GraphSinks& g = sink_from<GraphSinks>(arg);
  Reader& r = *g.r;
  return guarded(r, [&] {
    if (int(g.model->initializers.size()) >= Limits::kMaxInitializers)
      return r.fail(nullptr, "the graph has more than the limit of " + std::to_string(Limits::kMaxInitializers) +
                                 " initializers");
    if (g.transpose_nodes != g.model->nodes.size()) {
      g.transpose = gemm_weights_to_transpose(g.model->nodes);
      g.transpose_nodes = g.model->nodes.size();
    }
    Tensor t;
    Place at{"initializer", g.model->initializers.size(), &t.name, nullptr};
    if (!decode_tensor(r, &at, s, t, &g.transpose)) return false;
    g.model->initializers.push_back(std::move(t));
    return true;
  });
}

bool refuse_sparse_initializer(pb_istream_t*, const pb_field_t*, void** arg) {
  Reader& r = *sink_from<GraphSinks>(arg).r;
  return guarded(r, [&] {
    return r.fail(nullptr, "the graph has a sparse initializer, which is not supported: save it as a dense initializer");
  });
}

// ---- value infos (graph inputs, outputs, value_info) ----------------------------------------

struct ValueInfoListSink {
  Reader* r;
  std::vector<ValueInfo>* out;
  const char* kind;
};

struct ShapeSinks {
  Reader* r;
  const Place* at;
  ValueInfo* info;
};

bool read_dimension(pb_istream_t* s, const pb_field_t*, void** arg) {
  ShapeSinks& k = sink_from<ShapeSinks>(arg);
  return guarded(*k.r, [&] {
    if (int(k.info->dims.size()) >= Limits::kMaxDims)
      return k.r->fail(k.at, "shape has more than the limit of " + std::to_string(Limits::kMaxDims) + " dimensions");
    std::string param;
    StringSink param_sink{k.r, k.at, "dim_param", &param};
    onnx_TensorShapeProto_Dimension pb{};
    bind(pb.dim_param, param_sink);
    if (!pb_decode(s, onnx_TensorShapeProto_Dimension_fields, &pb)) return false;
    bool known = pb.has_dim_value && pb.dim_value >= 0;
    k.info->dims.push_back(known ? pb.dim_value : -1);
    k.info->dim_params.push_back(known ? std::string() : std::move(param));
    return true;
  });
}

bool read_value_info(pb_istream_t* s, const pb_field_t*, void** arg) {
  ValueInfoListSink& l = sink_from<ValueInfoListSink>(arg);
  Reader& r = *l.r;
  return guarded(r, [&] {
    if (int64_t(l.out->size()) >= Limits::kMaxValueInfos)
      return r.fail(nullptr, std::string("the graph has more than the limit of ") +
                                 std::to_string(Limits::kMaxValueInfos) + " " + l.kind + "s");
    ValueInfo v;
    Place at{l.kind, l.out->size(), &v.name, nullptr};
    StringSink name{&r, &at, "name", &v.name};
    ShapeSinks shape{&r, &at, &v};
    onnx_ValueInfoProto pb{};
    bind(pb.name, name);
    pb.type.tensor_type.shape.dim.funcs.decode = &read_dimension;
    pb.type.tensor_type.shape.dim.arg = &shape;
    if (!pb_decode(s, onnx_ValueInfoProto_fields, &pb)) return false;
    if (pb.has_type && pb.type.has_tensor_type) {
      v.elem_type = pb.type.tensor_type.elem_type;
      v.has_shape = pb.type.tensor_type.has_shape;
    }
    l.out->push_back(std::move(v));
    return true;
  });
}

// ---- the model -----------------------------------------------------------------------------

struct ModelSinks {
  Reader* r;
  Model* model;
};

bool read_opset(pb_istream_t* s, const pb_field_t*, void** arg) {
  ModelSinks& k = sink_from<ModelSinks>(arg);
  Reader& r = *k.r;
  return guarded(r, [&] {
    if (int(k.model->opsets.size()) >= Limits::kMaxEntries)
      return r.fail(nullptr, "more than the limit of " + std::to_string(Limits::kMaxEntries) + " opset imports");
    std::string domain;
    StringSink domain_sink{&r, nullptr, "opset_import domain", &domain};
    onnx_OperatorSetIdProto pb{};
    bind(pb.domain, domain_sink);
    if (!pb_decode(s, onnx_OperatorSetIdProto_fields, &pb)) return false;
    k.model->opsets.emplace_back(std::move(domain), pb.version);
    return true;
  });
}

bool read_metadata(pb_istream_t* s, const pb_field_t*, void** arg) {
  ModelSinks& k = sink_from<ModelSinks>(arg);
  Reader& r = *k.r;
  return guarded(r, [&] {
    if (int(k.model->metadata.size()) >= Limits::kMaxEntries)
      return r.fail(nullptr, "more than the limit of " + std::to_string(Limits::kMaxEntries) + " metadata_props");
    std::string key, value;
    StringSink key_sink{&r, nullptr, "metadata_props key", &key};
    StringSink value_sink{&r, nullptr, "metadata_props value", &value, Limits::kMaxMetadataBytes};
    onnx_StringStringEntryProto pb{};
    bind(pb.key, key_sink);
    bind(pb.value, value_sink);
    if (!pb_decode(s, onnx_StringStringEntryProto_fields, &pb)) return false;
    k.model->metadata[std::move(key)] = std::move(value);
    return true;
  });
}

}  // namespace

// A name from the file as an error message shows it: control bytes escaped, so the message stays
// on one line whatever the file holds.
std::string printable(const std::string& name) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      s += "\\x";
      s += kHex[c >> 4];
      s += kHex[c & 15];
    } else {
      s += char(c);
    }
  }
  return s;
}

bool looks_like_onnx(const uint8_t* bytes, size_t size) {
  // The first few protobuf fields must be ModelProto fields with their wire types (protobuf writers
  // put ir_version, field 1, first). Safetensors' 8-byte length has zero high bytes, which read as
  // field 0 (invalid); HDF5's \x89, zip's 'P' and JPEG's \xff do not start a valid ModelProto tag.
  size_t pos = 0;
  auto varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= size) return false;
      uint8_t b = bytes[pos++];
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  int fields = 0;
  while (pos < size && fields < 4) {
    uint64_t tag, value;
    if (!varint(tag)) return fields > 0 && pos >= size;  // a prefix cut inside a tag
    const uint64_t number = tag >> 3, wire = tag & 7;
    const bool is_varint = number == 1 || number == 5;  // ir_version, model_version
    const bool is_bytes = (number >= 2 && number <= 4) || (number >= 6 && number <= 8) || number == 14 ||
                          number == 20 || number == 25;
    if (!((is_varint && wire == 0) || (is_bytes && wire == 2))) return false;
    if (!varint(value)) return fields > 0 && pos >= size;
    if (number == 1 && (value == 0 || value > 100)) return false;  // IR versions are 1 to 10 today
    if (is_bytes) {
      if (value > size - pos) return true;  // a field running past a prefix of the file
      pos += size_t(value);
    }
    ++fields;
  }
  return fields > 0;
}

namespace {

Status check_file_size(size_t size, const std::string& source) {
  if (size == 0) return make_error(source + ": the file is empty");
  if (size > Limits::kMaxFileBytes)
    return make_error(source + ": the file is " + std::to_string(size) + " bytes, more than the limit of " +
                      std::to_string(Limits::kMaxFileBytes));
  // The weights are most of the file, and are what loading keeps.
  return check_fits_in_memory(size, source);
}

// The ModelProto from a stream of `size` bytes (a buffer, or a file read as it is decoded).
Result<Model> decode_model(pb_istream_t& stream, const std::string& source) {
  Reader r(source);
  Model m;
  ModelSinks model_sinks{&r, &m};
  GraphSinks graph_sinks{&r, &m, {}, 0};
  StringSink producer_name{&r, nullptr, "producer_name", &m.producer_name};
  StringSink producer_version{&r, nullptr, "producer_version", &m.producer_version};
  StringSink graph_name{&r, nullptr, "graph name", &m.graph_name};
  ValueInfoListSink inputs{&r, &m.inputs, "graph input"};
  ValueInfoListSink outputs{&r, &m.outputs, "graph output"};
  ValueInfoListSink value_infos{&r, &m.value_infos, "value_info"};

  onnx_ModelProto pb{};
  bind(pb.producer_name, producer_name);
  bind(pb.producer_version, producer_version);
  pb.opset_import.funcs.decode = &read_opset;
  pb.opset_import.arg = &model_sinks;
  pb.metadata_props.funcs.decode = &read_metadata;
  pb.metadata_props.arg = &model_sinks;
  onnx_GraphProto& graph = pb.graph;
  bind(graph.name, graph_name);
  graph.node.funcs.decode = &read_node;
  graph.node.arg = &graph_sinks;
  graph.initializer.funcs.decode = &read_initializer;
  graph.initializer.arg = &graph_sinks;
  graph.sparse_initializer.funcs.decode = &refuse_sparse_initializer;
  graph.sparse_initializer.arg = &graph_sinks;
  graph.input.funcs.decode = &read_value_info;
  graph.input.arg = &inputs;
  graph.output.funcs.decode = &read_value_info;
  graph.output.arg = &outputs;
  graph.value_info.funcs.decode = &read_value_info;
  graph.value_info.arg = &value_infos;

  const bool decoded = pb_decode(&stream, onnx_ModelProto_fields, &pb);
  if (r.failed) return make_error(r.error.empty() ? source + ": out of memory" : r.error);
  if (!decoded)
    return make_error(source + ": not a readable ONNX model, the file is truncated or corrupt (protobuf: " +
                      PB_GET_ERROR(&stream) + ")");
  if (!pb.has_graph) return make_error(source + ": no graph in the file: not an ONNX model");
  m.ir_version = pb.ir_version;
  // A file that lists nodes after its initializers may add readers of one read transposed: that
  // one is put back as the file has it (a rare copy; writers list the nodes first).
  if (graph_sinks.transpose_nodes != m.nodes.size()) {
    const std::set<std::string> transpose = gemm_weights_to_transpose(m.nodes);
    for (Tensor& t : m.initializers)
      if (t.transposed && !transpose.count(t.name)) {
        const size_t rows = size_t(t.dims[0]), cols = size_t(t.dims[1]);
        std::vector<float> as_file(t.floats.size());
        for (size_t r = 0; r < rows; ++r)
          for (size_t c = 0; c < cols; ++c) as_file[r * cols + c] = t.floats[c * rows + r];
        t.floats = std::move(as_file);
        t.transposed = false;
      }
  }
  return m;
}

// A file read through a buffer as nanopb asks for its bytes: small fields come out of the buffer,
// a tensor's raw_data goes from the file straight into its floats.
struct FileStream {
  std::FILE* file;
  std::unique_ptr<pb_byte_t[]> buffer{new pb_byte_t[kBufferBytes]};
  size_t at = 0, end = 0;
  static constexpr size_t kBufferBytes = 64 << 10;
};

bool read_file_bytes(pb_istream_t* s, pb_byte_t* out, size_t count) {
  FileStream& f = *static_cast<FileStream*>(s->state);
  const size_t buffered = std::min(count, f.end - f.at);
  std::memcpy(out, f.buffer.get() + f.at, buffered);
  f.at += buffered;
  out += buffered;
  count -= buffered;
  if (count == 0) return true;
  if (count >= FileStream::kBufferBytes) return std::fread(out, 1, count, f.file) == count;
  f.at = 0;
  f.end = std::fread(f.buffer.get(), 1, FileStream::kBufferBytes, f.file);
  if (f.end < count) return false;
  std::memcpy(out, f.buffer.get(), count);
  f.at = count;
  return true;
}

}  // namespace

Result<Model> read_model(const uint8_t* bytes, size_t size, const std::string& source) {
  if (Status s = check_file_size(size, source); !s) return make_error(s.error());
  pb_istream_t stream = pb_istream_from_buffer(bytes, size);
  return decode_model(stream, source);
}

Result<Model> read_model_file(std::FILE* file, size_t size, const std::string& source) {
  if (Status s = check_file_size(size, source); !s) return make_error(s.error());
  FileStream f{file};
  pb_istream_t stream{&read_file_bytes, &f, size, nullptr};
  auto m = decode_model(stream, source);
  if (!m && std::ferror(file)) return make_error(source + ": cannot read model file");
  return m;
}

}  // namespace gradcam::onnx
