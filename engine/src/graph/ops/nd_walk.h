// Walking a tensor of any rank (up to 6-D) together with the operands it reads: every index of the
// output's dims, each operand at its own strides (0 along an axis it is broadcast over). The axes
// are visited in the order of the first operand's strides, largest first, so that it is read in
// memory order whatever its layout (an image's channels-last floats, a rows value's row-major ones).
// Everything here lives on the stack, so a forward or backward pass that builds a walk allocates
// nothing; the ops refuse ranks above kMaxWalkRank when they infer their shapes.
#pragma once
#include <algorithm>
#include <array>
#include <utility>
#include <tuple>
#include <cstdint>
#include <vector>

#include "gradcam/graph.h"
#include "strided.h"

namespace gradcam::ops {

inline constexpr int kMaxWalkRank = kMaxRank;

// Up to kMaxWalkRank extents or strides, on the stack: a pass builds its walks without allocating.
struct Extents {
  int rank = 0;
  std::array<int64_t, kMaxWalkRank> v{};
  Extents() = default;
  explicit Extents(const std::vector<int64_t>& d) : rank(int(d.size())) { std::copy(d.begin(), d.end(), v.begin()); }
  int64_t operator[](int k) const { return v[size_t(k)]; }
  int64_t& operator[](int k) { return v[size_t(k)]; }
};

template <int N>
struct Walk {
  int rank = 0;
  std::array<int64_t, kMaxWalkRank> dims{};
  std::array<std::array<int64_t, kMaxWalkRank>, N> strides{};  // per operand, per axis
};

// Row-major strides of `dims` with 0 where an extent is 1 (so a broadcast axis reads one element).
inline Extents broadcast_strides(const Extents& dims) {
  Extents s;
  s.rank = dims.rank;
  int64_t step = 1;
  for (int k = dims.rank; k-- > 0;) {
    s[k] = dims[k] == 1 ? 0 : step;
    step *= dims[k];
  }
  return s;
}

// A value's logical (ONNX-order) dims, as storage_view (strided.h) gives them.
inline Extents logical_dims(const Value& v) {
  const StridedView s = storage_view(v);
  Extents d;
  d.rank = s.rank;
  for (int k = 0; k < s.rank; ++k) d[k] = s.dims[k];
  return d;
}

// An activation's strides as `walk` reads them: storage_view's, 0 along an extent of 1.
inline Extents value_strides(const Value& v) {
  const StridedView s = storage_view(v);
  Extents e;
  e.rank = s.rank;
  for (int k = 0; k < s.rank; ++k) e[k] = s.dims[k] == 1 ? 0 : s.strides[k];
  return e;
}

// The walk over `dims` (rank <= kMaxWalkRank) with each operand's strides, right-aligned to dims as
// numpy broadcasting aligns shapes (an operand of lower rank gets stride 0 on the leading axes).
// Extents of 1 are dropped: they change no offset.
template <int N>
Walk<N> make_walk(const Extents& dims, const std::array<Extents, N>& operand_strides) {
  std::array<int, kMaxWalkRank> order{};
  int rank = 0;
  for (int k = 0; k < dims.rank; ++k)
    if (dims[k] != 1) order[size_t(rank++)] = k;
  auto stride = [&](int op, int axis) {
    const Extents& s = operand_strides[size_t(op)];
    const int shift = dims.rank - s.rank;
    return axis - shift >= 0 ? s[axis - shift] : int64_t(0);
  };
  // Largest stride of the first operand first: memory order for it. (An insertion sort of at most
  // six axes, stable: std::stable_sort may allocate its buffer.)
  for (int k = 1; k < rank; ++k)
    for (int j = k; j > 0 && stride(0, order[size_t(j - 1)]) < stride(0, order[size_t(j)]); --j) std::swap(order[size_t(j - 1)], order[size_t(j)]);
  Walk<N> w;
  w.rank = rank;
  for (int k = 0; k < rank; ++k) {
    w.dims[size_t(k)] = dims[order[size_t(k)]];
    for (int op = 0; op < N; ++op) w.strides[size_t(op)][size_t(k)] = stride(op, order[size_t(k)]);
  }
  return w;
}

// Calls f(offset of operand 0, ..., offset of operand N-1) for every index, the last axis innermost.
template <int N, class F>
void walk(const Walk<N>& w, F f) {
  std::array<int64_t, kMaxWalkRank> index{};
  std::array<int64_t, N> offset{};
  if (w.rank == 0) {
    std::apply(f, offset);
    return;
  }
  const int last = w.rank - 1;
  const int64_t inner = w.dims[size_t(last)];
  for (;;) {
    std::array<int64_t, N> o = offset;
    for (int64_t i = 0; i < inner; ++i) {
      std::apply(f, o);
      for (int op = 0; op < N; ++op) o[size_t(op)] += w.strides[size_t(op)][size_t(last)];
    }
    int k = last - 1;
    for (; k >= 0; --k) {
      for (int op = 0; op < N; ++op) offset[size_t(op)] += w.strides[size_t(op)][size_t(k)];
      if (++index[size_t(k)] < w.dims[size_t(k)]) break;
      for (int op = 0; op < N; ++op) offset[size_t(op)] -= w.strides[size_t(op)][size_t(k)] * w.dims[size_t(k)];
      index[size_t(k)] = 0;
    }
    if (k < 0) return;
  }
}

// numpy's broadcast of two shapes (right-aligned; each pair of extents equal or one of them 1), or
// empty when they do not broadcast.
inline std::vector<int64_t> broadcast_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t k = 0; k < r; ++k) {
    const int64_t x = k + a.size() >= r ? a[k + a.size() - r] : 1, y = k + b.size() >= r ? b[k + b.size() - r] : 1;
    if (x != y && x != 1 && y != 1) return {};
    out[k] = x == 1 ? y : x;
  }
  return out;
}

}  // namespace gradcam::ops
