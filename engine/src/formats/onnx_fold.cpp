// The constant folder's evaluator: one small function per ONNX op, in a table. Values are kept as
// the reader keeps them (float types in `floats`, integer and bool types in `ints`), so a folded
// result is read by the ops' importers exactly like an initializer. Integer arithmetic stays in
// int64 (shapes, indices, INT64_MAX as "to the end"); float arithmetic is done in double and
// stored as float.
#include "formats/onnx_fold.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "graph/op_support.h"

namespace gradcam::onnx {

namespace {

using Inputs = std::vector<const Tensor*>;
using ops::where;

constexpr int32_t kFloat = 1, kInt64 = 7, kBool = 9;

bool is_float_type(int32_t t) { return t == 1 || t == 10 || t == 11 || t == 16; }
bool is_int_type(int32_t t) { return t == 2 || t == 3 || t == 4 || t == 5 || t == 6 || t == 7 || t == 9 || t == 12 || t == 13; }
bool holds_floats(const Tensor& t) { return is_float_type(t.data_type); }
double as_double(const Tensor& t, int64_t i) { return holds_floats(t) ? double(t.floats[size_t(i)]) : double(t.ints[size_t(i)]); }
int64_t as_int(const Tensor& t, int64_t i) {
  if (!holds_floats(t)) return t.ints[size_t(i)];
  const double v = std::trunc(double(t.floats[size_t(i)]));  // ONNX Cast: toward zero
  return v >= 9.2e18 ? std::numeric_limits<int64_t>::max() : v <= -9.2e18 ? std::numeric_limits<int64_t>::min() : int64_t(v);
}

int64_t count_of(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// A new tensor of `type` and `dims`, bounded in rank and size.
Result<Tensor> make(const Node& n, int32_t type, const std::vector<int64_t>& dims) {
  if (int(dims.size()) > kMaxFoldedRank)
    return make_error(where(n) + "a folded result of rank " + std::to_string(dims.size()) + " is more than " + std::to_string(kMaxFoldedRank));
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) return make_error(where(n) + "a negative dimension in the result");
    if (d > 0 && count > kMaxFoldedElements / d)
      return make_error(where(n) + "the folded result would have more than " + std::to_string(kMaxFoldedElements) + " elements");
    count *= d;
  }
  if (count > kMaxFoldedElements)
    return make_error(where(n) + "the folded result would have more than " + std::to_string(kMaxFoldedElements) + " elements");
  Tensor t;
  t.data_type = type;
  t.dims = dims;
  if (is_float_type(type)) t.floats.assign(size_t(count), 0.f);
  else t.ints.assign(size_t(count), 0);
  return t;
}

// The value an integer type holds after conversion (Cast wraps as C++'s static_cast does).
int64_t wrap(int32_t type, int64_t v) {
  switch (type) {
    case 2: return int64_t(uint8_t(v));
    case 3: return int64_t(int8_t(v));
    case 4: return int64_t(uint16_t(v));
    case 5: return int64_t(int16_t(v));
    case 6: return int64_t(int32_t(v));
    case 12: return int64_t(uint32_t(v));
    case 9: return v != 0;
    default: return v;
  }
}

void store(Tensor& t, int64_t i, double v) {
  if (holds_floats(t)) t.floats[size_t(i)] = float(v);
  else if (t.data_type == kBool) t.ints[size_t(i)] = v != 0;
  else t.ints[size_t(i)] = wrap(t.data_type, std::isfinite(v) ? int64_t(std::trunc(v)) : 0);
}
void store_int(Tensor& t, int64_t i, int64_t v) {
  if (holds_floats(t)) t.floats[size_t(i)] = float(v);
  else t.ints[size_t(i)] = wrap(t.data_type, v);
}
void copy_element(const Tensor& from, int64_t i, Tensor& to, int64_t j) {
  if (holds_floats(to)) to.floats[size_t(j)] = float(as_double(from, i));
  else to.ints[size_t(j)] = as_int(from, i);
}

// An axis attribute or input in [-rank, rank) made non-negative.
Result<int64_t> axis_in(const Node& n, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return make_error(where(n) + "axis " + std::to_string(axis) + " is outside a rank-" + std::to_string(rank) + " tensor");
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> int_values(const Tensor& t) {
  std::vector<int64_t> v(size_t(t.element_count()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = as_int(t, int64_t(i));
  return v;
}

// Numpy broadcasting: the output's dims and, per input, its stride along each output axis (0
// where the input is broadcast).
struct Broadcast {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;
};

Result<Broadcast> broadcast(const Node& n, const std::vector<std::vector<int64_t>>& shapes) {
  Broadcast b;
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  b.dims.assign(rank, 1);
  for (const auto& s : shapes)
    for (size_t k = 0; k < s.size(); ++k) {
      int64_t& d = b.dims[rank - s.size() + k];
      if (s[k] == d || s[k] == 1) continue;
      if (d != 1) return make_error(where(n) + "shapes " + shape_text(shapes.front()) + " and " + shape_text(s) + " do not broadcast");
      d = s[k];
    }
  for (const auto& s : shapes) {
    std::vector<int64_t> stride(rank, 0);
    int64_t step = 1;
    for (size_t k = s.size(); k-- > 0;) {
      if (s[k] != 1) stride[rank - s.size() + k] = step;
      step *= s[k];
    }
    b.strides.push_back(std::move(stride));
  }
  return b;
}

// Calls f(output index, offsets into each input) over the broadcast output.
template <class F>
void for_each_broadcast(const Broadcast& b, F f) {
  const size_t rank = b.dims.size(), k = b.strides.size();
  const int64_t count = count_of(b.dims);
  std::vector<int64_t> index(rank, 0), offset(k, 0);
  for (int64_t i = 0; i < count; ++i) {
    f(i, offset);
    for (size_t a = rank; a-- > 0;) {
      ++index[a];
      for (size_t j = 0; j < k; ++j) offset[j] += b.strides[j][a];
      if (index[a] < b.dims[a]) break;
      for (size_t j = 0; j < k; ++j) offset[j] -= b.strides[j][a] * b.dims[a];
      index[a] = 0;
    }
  }
}

Status need_inputs(const Node& n, const Inputs& in, size_t at_least) {
  for (size_t i = 0; i < at_least; ++i)
    if (i >= in.size() || !in[i]) return make_error(where(n) + "input " + std::to_string(i) + " is missing");
  return {};
}

// Elementwise over broadcast inputs. In float mode (any input holds floats) `ff` gets doubles; else
// `fi` gets int64s and may flag an error (integer division by zero). The output type is `out_type`.
template <class FF, class FI>
Result<Tensor> elementwise(const Node& n, const Inputs& in, int32_t out_type, FF ff, FI fi) {
  std::vector<std::vector<int64_t>> shapes;
  bool floats = false;
  for (const Tensor* t : in) {
    if (!t) return make_error(where(n) + "an input is missing");
    shapes.push_back(t->dims);
    floats = floats || holds_floats(*t);
  }
  auto b = broadcast(n, shapes);
  if (!b) return make_error(b.error());
  auto out = make(n, out_type, b->dims);
  if (!out) return out;
  std::string bad;
  std::vector<double> xd(in.size());
  std::vector<int64_t> xi(in.size());
  for_each_broadcast(*b, [&](int64_t i, const std::vector<int64_t>& off) {
    if (floats) {
      for (size_t j = 0; j < in.size(); ++j) xd[j] = as_double(*in[j], off[j]);
      store(*out, i, ff(xd));
    } else {
      for (size_t j = 0; j < in.size(); ++j) xi[j] = in[j]->ints[size_t(off[j])];
      store_int(*out, i, fi(xi, bad));
    }
  });
  if (!bad.empty()) return make_error(where(n) + bad);
  return out;
}

int32_t type_of_first(const Inputs& in) { return in.empty() || !in[0] ? kFloat : in[0]->data_type; }

// --- shape ops ----------------------------------------------------------------------------------

// Shape (opset 15: start and end, clamped like Python slices).
Result<Tensor> fold_shape(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const auto& d = in[0]->dims;
  const int64_t r = int64_t(d.size());
  auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t(0), r); };
  const int64_t start = clamp(ops::attr_int(n, "start", 0)), end = clamp(ops::attr_int(n, "end", r));
  auto out = make(n, kInt64, {std::max<int64_t>(end - start, 0)});
  if (!out) return out;
  for (int64_t i = start; i < end; ++i) out->ints[size_t(i - start)] = d[size_t(i)];
  return out;
}

Result<Tensor> fold_size(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  auto out = make(n, kInt64, {});
  if (out) out->ints[0] = count_of(in[0]->dims);
  return out;
}

Result<Tensor> fold_identity(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  return *in[0];
}

// Gather: out = data[:axis] + indices.shape + data[axis+1:]; negative indices count from the end.
Result<Tensor> fold_gather(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 2); !s) return make_error(s.error());
  const Tensor& data = *in[0];
  const Tensor& idx = *in[1];
  const int64_t rank = int64_t(data.dims.size());
  if (rank == 0) return make_error(where(n) + "data must have rank 1 or more");
  auto axis = axis_in(n, ops::attr_int(n, "axis", 0), rank);
  if (!axis) return make_error(axis.error());
  std::vector<int64_t> dims(data.dims.begin(), data.dims.begin() + *axis);
  dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
  dims.insert(dims.end(), data.dims.begin() + *axis + 1, data.dims.end());
  auto out = make(n, data.data_type, dims);
  if (!out) return out;
  const int64_t outer = count_of({data.dims.begin(), data.dims.begin() + *axis});
  const int64_t inner = count_of({data.dims.begin() + *axis + 1, data.dims.end()});
  const int64_t extent = data.dims[size_t(*axis)], k = idx.element_count();
  for (int64_t j = 0; j < k; ++j) {
    int64_t i = as_int(idx, j);
    if (i < -extent || i >= extent)
      return make_error(where(n) + "index " + std::to_string(i) + " is outside an axis of " + std::to_string(extent));
    if (i < 0) i += extent;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t e = 0; e < inner; ++e) copy_element(data, (o * extent + i) * inner + e, *out, (o * k + j) * inner + e);
  }
  return out;
}

// Slice: starts/ends/axes/steps as inputs (opset 10+) or attributes (before), clamped as the spec says.
Result<Tensor> fold_slice(const Node& n, const Inputs& in, int64_t opset) {
  if (Status s = need_inputs(n, in, opset >= 10 ? 3 : 1); !s) return make_error(s.error());
  const Tensor& data = *in[0];
  const int64_t rank = int64_t(data.dims.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset >= 10) {
    starts = int_values(*in[1]), ends = int_values(*in[2]);
    if (in.size() > 3 && in[3]) axes = int_values(*in[3]);
    if (in.size() > 4 && in[4]) steps = int_values(*in[4]);
  } else {
    starts = ops::attr_ints(n, "starts"), ends = ops::attr_ints(n, "ends"), axes = ops::attr_ints(n, "axes");
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return make_error(where(n) + "starts, ends, axes and steps must have the same length");
  std::vector<int64_t> first(size_t(rank), 0), step(size_t(rank), 1), dims = data.dims;
  std::vector<char> seen(size_t(rank), 0);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto a = axis_in(n, axes[i], rank);
    if (!a) return make_error(a.error());
    if (seen[size_t(*a)]++) return make_error(where(n) + "axis " + std::to_string(axes[i]) + " is repeated");
    // Steps beyond any dimension act alike; bounding them keeps the arithmetic below in range.
    const int64_t d = data.dims[size_t(*a)], s = std::clamp<int64_t>(steps[i], -(int64_t(1) << 40), int64_t(1) << 40);
    if (s == 0) return make_error(where(n) + "a step is 0");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b = b < -d ? 0 : b + d;  // written so that INT64_MIN does not overflow
    if (e < 0) e = e < -d ? -1 : e + d;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d), e = std::clamp<int64_t>(e, 0, d);
      dims[size_t(*a)] = e > b ? (e - b + s - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, 0, std::max<int64_t>(d - 1, 0)), e = std::clamp<int64_t>(e, -1, d - 1);
      dims[size_t(*a)] = d > 0 && b > e ? (b - e + (-s) - 1) / (-s) : 0;
    }
    first[size_t(*a)] = b, step[size_t(*a)] = s;
  }
  auto out = make(n, data.data_type, dims);
  if (!out) return out;
  std::vector<int64_t> stride(size_t(rank), 1);
  for (int64_t a = rank - 1; a > 0; --a) stride[size_t(a - 1)] = stride[size_t(a)] * data.dims[size_t(a)];
  const int64_t count = out->element_count();
  std::vector<int64_t> index(size_t(rank), 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t from = 0;
    for (int64_t a = 0; a < rank; ++a) from += (first[size_t(a)] + index[size_t(a)] * step[size_t(a)]) * stride[size_t(a)];
    copy_element(data, from, *out, i);
    for (int64_t a = rank; a-- > 0;) {
      if (++index[size_t(a)] < dims[size_t(a)]) break;
      index[size_t(a)] = 0;
    }
  }
  return out;
}

Result<Tensor> fold_concat(const Node& n, const Inputs& in, int64_t) {
  if (in.empty()) return make_error(where(n) + "no inputs");
  if (Status s = need_inputs(n, in, in.size()); !s) return make_error(s.error());
  const int64_t rank = int64_t(in[0]->dims.size());
  if (rank == 0) return make_error(where(n) + "scalars cannot be concatenated");
  auto axis = axis_in(n, ops::attr_int(n, "axis", 0), rank);
  if (!axis) return make_error(axis.error());
  std::vector<int64_t> dims = in[0]->dims;
  dims[size_t(*axis)] = 0;
  for (const Tensor* t : in) {
    bool same = int64_t(t->dims.size()) == rank;
    for (int64_t a = 0; same && a < rank; ++a) same = a == *axis || t->dims[size_t(a)] == in[0]->dims[size_t(a)];
    if (!same) return make_error(where(n) + "shapes " + shape_text(in[0]->dims) + " and " + shape_text(t->dims) + " differ off the axis");
    dims[size_t(*axis)] += t->dims[size_t(*axis)];
  }
  auto out = make(n, in[0]->data_type, dims);
  if (!out) return out;
  const int64_t outer = count_of({dims.begin(), dims.begin() + *axis});
  int64_t at = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor* t : in) {
      const int64_t block = count_of({t->dims.begin() + *axis, t->dims.end()});
      for (int64_t e = 0; e < block; ++e) copy_element(*t, o * block + e, *out, at++);
    }
  return out;
}

// Axes from the attribute (before opset 13) or the second input (13+).
std::vector<int64_t> axes_of(const Node& n, const Inputs& in, int64_t opset) {
  if (opset >= 13) return in.size() > 1 && in[1] ? int_values(*in[1]) : std::vector<int64_t>{};
  return ops::attr_ints(n, "axes");
}

Result<Tensor> fold_unsqueeze(const Node& n, const Inputs& in, int64_t opset) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const std::vector<int64_t> axes = axes_of(n, in, opset);
  if (axes.empty()) return make_error(where(n) + "axes are missing");
  const int64_t rank = int64_t(in[0]->dims.size() + axes.size());
  std::vector<char> inserted(size_t(rank), 0);
  for (int64_t a : axes) {
    auto k = axis_in(n, a, rank);
    if (!k) return make_error(k.error());
    if (inserted[size_t(*k)]++) return make_error(where(n) + "axis " + std::to_string(a) + " is repeated");
  }
  Tensor out = *in[0];
  out.dims.clear();
  size_t from = 0;
  for (int64_t a = 0; a < rank; ++a) out.dims.push_back(inserted[size_t(a)] ? 1 : in[0]->dims[from++]);
  if (int(out.dims.size()) > kMaxFoldedRank) return make_error(where(n) + "the result's rank is more than " + std::to_string(kMaxFoldedRank));
  return out;
}

Result<Tensor> fold_squeeze(const Node& n, const Inputs& in, int64_t opset) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const std::vector<int64_t> axes = axes_of(n, in, opset);
  const int64_t rank = int64_t(in[0]->dims.size());
  std::vector<char> removed(size_t(rank), 0);
  for (int64_t a : axes) {
    auto k = axis_in(n, a, rank);
    if (!k) return make_error(k.error());
    if (in[0]->dims[size_t(*k)] != 1) return make_error(where(n) + "axis " + std::to_string(a) + " does not have size 1");
    removed[size_t(*k)] = 1;
  }
  Tensor out = *in[0];
  out.dims.clear();
  for (int64_t a = 0; a < rank; ++a) {
    const bool drop = axes.empty() ? in[0]->dims[size_t(a)] == 1 : removed[size_t(a)];
    if (!drop) out.dims.push_back(in[0]->dims[size_t(a)]);
  }
  return out;
}

// Reshape of a constant: 0 copies the input's dimension (unless allowzero, opset 14), -1 is inferred.
Result<Tensor> fold_reshape(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 2); !s) return make_error(s.error());
  std::vector<int64_t> dims = int_values(*in[1]);
  const bool allow_zero = ops::attr_int(n, "allowzero", 0) != 0;
  int unknown = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 0 && !allow_zero) {
      if (i >= in[0]->dims.size()) return make_error(where(n) + "a 0 in the shape has no input dimension to copy");
      dims[i] = in[0]->dims[i];
    }
    if (dims[i] == -1) {
      if (unknown >= 0) return make_error(where(n) + "two -1 dimensions");
      unknown = int(i);
    } else if (dims[i] < 0) {
      return make_error(where(n) + "dimension " + std::to_string(dims[i]) + " in the shape");
    } else {
      known *= dims[i];
    }
  }
  const int64_t count = in[0]->element_count();
  if (unknown >= 0) {
    if (known == 0 || count % known) return make_error(where(n) + "cannot reshape " + shape_text(in[0]->dims) + " to " + shape_text(dims));
    dims[size_t(unknown)] = count / known;
  } else if (known != count) {
    return make_error(where(n) + "cannot reshape " + shape_text(in[0]->dims) + " to " + shape_text(dims));
  }
  if (int(dims.size()) > kMaxFoldedRank) return make_error(where(n) + "the result's rank is more than " + std::to_string(kMaxFoldedRank));
  Tensor out = *in[0];
  out.dims = dims;
  return out;
}

Result<Tensor> fold_flatten(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const int64_t rank = int64_t(in[0]->dims.size());
  int64_t axis = ops::attr_int(n, "axis", 1);
  if (axis < -rank || axis > rank) return make_error(where(n) + "axis " + std::to_string(axis) + " is outside the rank");
  if (axis < 0) axis += rank;
  Tensor out = *in[0];
  out.dims = {count_of({in[0]->dims.begin(), in[0]->dims.begin() + axis}), count_of({in[0]->dims.begin() + axis, in[0]->dims.end()})};
  return out;
}

Result<Tensor> fold_transpose(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const Tensor& x = *in[0];
  const int64_t rank = int64_t(x.dims.size());
  std::vector<int64_t> perm = ops::attr_ints(n, "perm");
  if (perm.empty())
    for (int64_t a = rank; a-- > 0;) perm.push_back(a);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t a = 0; a < rank; ++a)
    if (int64_t(sorted.size()) != rank || sorted[size_t(a)] != a) return make_error(where(n) + "perm is not a permutation of the axes");
  std::vector<int64_t> dims(static_cast<size_t>(rank)), stride(static_cast<size_t>(rank), 1), out_stride(static_cast<size_t>(rank));
  for (int64_t a = rank - 1; a > 0; --a) stride[size_t(a - 1)] = stride[size_t(a)] * x.dims[size_t(a)];
  for (int64_t a = 0; a < rank; ++a) dims[size_t(a)] = x.dims[size_t(perm[size_t(a)])], out_stride[size_t(a)] = stride[size_t(perm[size_t(a)])];
  Broadcast b{dims, {out_stride}};  // walks the output, reading the input through permuted strides
  auto out = make(n, x.data_type, dims);
  if (!out) return out;
  for_each_broadcast(b, [&](int64_t i, const std::vector<int64_t>& off) { copy_element(x, off[0], *out, i); });
  return out;
}

// Expand: the input broadcast with `shape` (either may be the larger in an axis, numpy's rule).
Result<Tensor> fold_expand(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 2); !s) return make_error(s.error());
  auto b = broadcast(n, {in[0]->dims, int_values(*in[1])});
  if (!b) return make_error(b.error());
  auto out = make(n, in[0]->data_type, b->dims);
  if (!out) return out;
  b->strides.pop_back();
  for_each_broadcast(*b, [&](int64_t i, const std::vector<int64_t>& off) { copy_element(*in[0], off[0], *out, i); });
  return out;
}

Result<Tensor> fold_constant_of_shape(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const Attribute* value = n.attribute("value");
  Tensor fill;
  fill.data_type = kFloat, fill.floats = {0.f};
  if (value) {
    if (value->kind != Attribute::Kind::t || value->t.element_count() != 1 || (value->t.floats.size() + value->t.ints.size()) != 1)
      return make_error(where(n) + "value must be a tensor of one number");
    fill = value->t;
  }
  auto out = make(n, fill.data_type, int_values(*in[0]));
  if (!out) return out;
  for (int64_t i = 0, k = out->element_count(); i < k; ++i) copy_element(fill, 0, *out, i);
  return out;
}

Result<Tensor> fold_range(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 3); !s) return make_error(s.error());
  for (const Tensor* t : {in[0], in[1], in[2]})
    if (t->element_count() != 1) return make_error(where(n) + "start, limit and delta must be scalars");
  const Tensor& start = *in[0];
  if (holds_floats(start)) {
    const double s = as_double(*in[0], 0), l = as_double(*in[1], 0), d = as_double(*in[2], 0);
    if (d == 0) return make_error(where(n) + "delta is 0");
    const double steps = std::ceil((l - s) / d);
    if (!(steps < double(kMaxFoldedElements + 1))) return make_error(where(n) + "the range has more than " + std::to_string(kMaxFoldedElements) + " elements");
    auto out = make(n, start.data_type, {std::max<int64_t>(int64_t(steps), 0)});
    if (out)
      for (int64_t i = 0; i < out->element_count(); ++i) out->floats[size_t(i)] = float(s + double(i) * d);
    return out;
  }
  const int64_t s = as_int(*in[0], 0), l = as_int(*in[1], 0), d = as_int(*in[2], 0);
  if (d == 0) return make_error(where(n) + "delta is 0");
  const double span = (double(l) - double(s)) / double(d);
  if (span > double(kMaxFoldedElements)) return make_error(where(n) + "the range has more than " + std::to_string(kMaxFoldedElements) + " elements");
  const int64_t count = span <= 0 ? 0 : d > 0 ? (l - s + d - 1) / d : (s - l + (-d) - 1) / (-d);
  auto out = make(n, start.data_type, {count});
  if (out)
    for (int64_t i = 0; i < count; ++i) store_int(*out, i, s + i * d);
  return out;
}

// ScatterND: updates written (or added, multiplied, max'd, min'd: `reduction`) into a copy of data
// at the index tuples in the last axis of `indices`.
Result<Tensor> fold_scatter_nd(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 3); !s) return make_error(s.error());
  const Tensor& data = *in[0];
  const Tensor& idx = *in[1];
  const Tensor& upd = *in[2];
  const std::string reduction = ops::attr_string(n, "reduction", "none");
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" && reduction != "min")
    return make_error(where(n) + "unknown reduction \"" + reduction + "\"");
  if (idx.dims.empty()) return make_error(where(n) + "indices must have rank 1 or more");
  const int64_t k = idx.dims.back(), rank = int64_t(data.dims.size());
  if (k < 1 || k > rank) return make_error(where(n) + "the index tuples' length must be 1.." + std::to_string(rank));
  const int64_t tuples = count_of({idx.dims.begin(), idx.dims.end() - 1});
  const int64_t block = count_of({data.dims.begin() + k, data.dims.end()});
  if (upd.element_count() != tuples * block) return make_error(where(n) + "updates do not match indices and data");
  Tensor out = data;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t base = 0;
    for (int64_t a = 0; a < k; ++a) {
      const int64_t d = data.dims[size_t(a)];
      int64_t i = as_int(idx, t * k + a);
      if (i < -d || i >= d) return make_error(where(n) + "index " + std::to_string(i) + " is outside an axis of " + std::to_string(d));
      base = base * d + (i < 0 ? i + d : i);
    }
    for (int64_t e = 0; e < block; ++e) {
      const int64_t at = base * block + e;
      const double u = as_double(upd, t * block + e), o = as_double(out, at);
      const double v = reduction == "add" ? o + u : reduction == "mul" ? o * u : reduction == "max" ? std::max(o, u) : reduction == "min" ? std::min(o, u) : u;
      if (holds_floats(out)) out.floats[size_t(at)] = float(v);
      else if (reduction == "none") out.ints[size_t(at)] = as_int(upd, t * block + e);
      else store(out, at, v);
    }
  }
  return out;
}

Result<Tensor> fold_cast(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 1); !s) return make_error(s.error());
  const int32_t to = int32_t(ops::attr_int(n, "to", 0));
  if (!is_float_type(to) && !is_int_type(to)) return make_error(where(n) + "casting to data type " + std::to_string(to) + " is not supported");
  auto out = make(n, to, in[0]->dims);
  if (!out) return out;
  for (int64_t i = 0, k = out->element_count(); i < k; ++i) {
    if (holds_floats(*in[0])) store(*out, i, as_double(*in[0], i));
    else store_int(*out, i, in[0]->ints[size_t(i)]);
  }
  return out;
}

// --- elementwise ---------------------------------------------------------------------------------

using D = std::vector<double>;
using I = std::vector<int64_t>;

Result<Tensor> fold_add(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return x[0] + x[1]; }, [](const I& x, std::string&) { return x[0] + x[1]; });
}
Result<Tensor> fold_sub(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return x[0] - x[1]; }, [](const I& x, std::string&) { return x[0] - x[1]; });
}
Result<Tensor> fold_mul(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return x[0] * x[1]; }, [](const I& x, std::string&) { return x[0] * x[1]; });
}
// Integer Div truncates toward zero, as onnxruntime does.
Result<Tensor> fold_div(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return x[0] / x[1]; }, [](const I& x, std::string& bad) {
    if (x[1] == 0) return bad = "integer division by zero", int64_t(0);
    return x[0] / x[1];
  });
}
// Mod: fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod).
Result<Tensor> fold_mod(const Node& n, const Inputs& in, int64_t) {
  const bool c_style = ops::attr_int(n, "fmod", 0) != 0;
  return elementwise(
      n, in, type_of_first(in),
      [c_style](const D& x) {
        const double r = std::fmod(x[0], x[1]);
        return !c_style && r != 0 && ((r < 0) != (x[1] < 0)) ? r + x[1] : r;
      },
      [c_style](const I& x, std::string& bad) {
        if (x[1] == 0) return bad = "integer modulo by zero", int64_t(0);
        const int64_t r = x[0] % x[1];
        return !c_style && r != 0 && ((r < 0) != (x[1] < 0)) ? r + x[1] : r;
      });
}
Result<Tensor> fold_pow(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return std::pow(x[0], x[1]); }, [](const I& x, std::string&) {
    return int64_t(std::pow(double(x[0]), double(x[1])));
  });
}
Result<Tensor> fold_min(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return *std::min_element(x.begin(), x.end()); },
                     [](const I& x, std::string&) { return *std::min_element(x.begin(), x.end()); });
}
Result<Tensor> fold_max(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return *std::max_element(x.begin(), x.end()); },
                     [](const I& x, std::string&) { return *std::max_element(x.begin(), x.end()); });
}
Result<Tensor> fold_equal(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] == x[1]); }, [](const I& x, std::string&) { return int64_t(x[0] == x[1]); });
}
Result<Tensor> fold_less(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] < x[1]); }, [](const I& x, std::string&) { return int64_t(x[0] < x[1]); });
}
Result<Tensor> fold_greater(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] > x[1]); }, [](const I& x, std::string&) { return int64_t(x[0] > x[1]); });
}
Result<Tensor> fold_less_or_equal(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] <= x[1]); }, [](const I& x, std::string&) { return int64_t(x[0] <= x[1]); });
}
Result<Tensor> fold_greater_or_equal(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] >= x[1]); }, [](const I& x, std::string&) { return int64_t(x[0] >= x[1]); });
}
Result<Tensor> fold_and(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] != 0 && x[1] != 0); }, [](const I& x, std::string&) { return int64_t(x[0] && x[1]); });
}
Result<Tensor> fold_or(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] != 0 || x[1] != 0); }, [](const I& x, std::string&) { return int64_t(x[0] || x[1]); });
}
Result<Tensor> fold_xor(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double((x[0] != 0) != (x[1] != 0)); }, [](const I& x, std::string&) { return int64_t((x[0] != 0) != (x[1] != 0)); });
}
Result<Tensor> fold_not(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, kBool, [](const D& x) { return double(x[0] == 0); }, [](const I& x, std::string&) { return int64_t(x[0] == 0); });
}
Result<Tensor> fold_neg(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return -x[0]; }, [](const I& x, std::string&) { return -x[0]; });
}
Result<Tensor> fold_abs(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return std::fabs(x[0]); }, [](const I& x, std::string&) { return x[0] < 0 ? -x[0] : x[0]; });
}
Result<Tensor> fold_floor(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return std::floor(x[0]); }, [](const I& x, std::string&) { return x[0]; });
}
Result<Tensor> fold_ceil(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return std::ceil(x[0]); }, [](const I& x, std::string&) { return x[0]; });
}
Result<Tensor> fold_sqrt(const Node& n, const Inputs& in, int64_t) {
  return elementwise(n, in, type_of_first(in), [](const D& x) { return std::sqrt(x[0]); }, [](const I& x, std::string&) {
    return int64_t(std::sqrt(double(x[0])));
  });
}
// Where(condition, X, Y): X where the condition holds, else Y; the result has X's type.
Result<Tensor> fold_where(const Node& n, const Inputs& in, int64_t) {
  if (Status s = need_inputs(n, in, 3); !s) return make_error(s.error());
  auto b = broadcast(n, {in[0]->dims, in[1]->dims, in[2]->dims});
  if (!b) return make_error(b.error());
  auto out = make(n, in[1]->data_type, b->dims);
  if (!out) return out;
  for_each_broadcast(*b, [&](int64_t i, const std::vector<int64_t>& off) {
    const bool c = as_double(*in[0], off[0]) != 0;
    copy_element(c ? *in[1] : *in[2], c ? off[1] : off[2], *out, i);
  });
  return out;
}

using FoldFn = Result<Tensor> (*)(const Node&, const Inputs&, int64_t);
struct FoldRow {
  const char* op_type;
  FoldFn fold;
};
constexpr FoldRow kFoldTable[] = {
    {"Shape", fold_shape},           {"Size", fold_size},
    {"Identity", fold_identity},     {"Gather", fold_gather},
    {"Slice", fold_slice},           {"Concat", fold_concat},
    {"Unsqueeze", fold_unsqueeze},   {"Squeeze", fold_squeeze},
    {"Reshape", fold_reshape},       {"Flatten", fold_flatten},
    {"Transpose", fold_transpose},   {"Expand", fold_expand},
    {"ConstantOfShape", fold_constant_of_shape},
    {"Range", fold_range},           {"ScatterND", fold_scatter_nd},
    {"Cast", fold_cast},             {"Add", fold_add},
    {"Sub", fold_sub},               {"Mul", fold_mul},
    {"Div", fold_div},               {"Mod", fold_mod},
    {"Pow", fold_pow},               {"Min", fold_min},
    {"Max", fold_max},               {"Equal", fold_equal},
    {"Less", fold_less},             {"Greater", fold_greater},
    {"LessOrEqual", fold_less_or_equal},
    {"GreaterOrEqual", fold_greater_or_equal},
    {"And", fold_and},               {"Or", fold_or},
    {"Xor", fold_xor},               {"Not", fold_not},
    {"Neg", fold_neg},               {"Abs", fold_abs},
    {"Floor", fold_floor},           {"Ceil", fold_ceil},
    {"Sqrt", fold_sqrt},             {"Where", fold_where},
};

FoldFn find_fold(const std::string& op_type) {
  for (const FoldRow& r : kFoldTable)
    if (op_type == r.op_type) return r.fold;
  return nullptr;
}

}  // namespace

bool foldable(const std::string& op_type) { return find_fold(op_type) != nullptr; }

Tensor shape_only(const std::vector<int64_t>& dims) {
  Tensor t;
  t.data_type = kFloat;
  t.dims = dims;
  return t;
}

Result<Tensor> fold_node(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset) {
  const FoldFn fold = find_fold(node.op_type);
  if (!fold) return make_error(where(node) + "op type " + printable(node.op_type) + " cannot be folded");
  if (node.outputs.size() != 1) return make_error(where(node) + "only one output can be folded");
  // Every input but Shape's must hold its data (the reader guarantees it for initializers).
  for (const Tensor* t : inputs) {
    if (!t || node.op_type == "Shape" || node.op_type == "Size") continue;
    if (!is_float_type(t->data_type) && !is_int_type(t->data_type))
      return make_error(where(node) + "data type " + std::to_string(t->data_type) + " cannot be folded");
    if (int64_t(t->floats.size() + t->ints.size()) != t->element_count())
      return make_error(where(node) + "an input does not hold its " + std::to_string(t->element_count()) + " values");
  }
  auto out = fold(node, inputs, opset);
  if (!out) return out;
  out->name = node.outputs[0];
  return out;
}

}  // namespace gradcam::onnx
