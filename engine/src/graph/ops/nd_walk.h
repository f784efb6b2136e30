// Walking a tensor of any rank (up to 6-D) together with the operands it reads: every index of the
// output's dims, each operand at its own strides (0 along an axis it is broadcast over). The axes
// are visited in the order of the first operand's strides, largest first, so that it is read in
// memory order whatever its layout (an image's channels-last floats, a rows value's row-major ones).
#pragma once
#include <algorithm>
#include <array>
#include <tuple>
#include <cstdint>
#include <vector>

#include "gradcam/graph.h"

namespace gradcam::ops {

inline constexpr int kMaxWalkRank = 6;

template <int N>
struct Walk {
  int rank = 0;
  std::array<int64_t, kMaxWalkRank> dims{};
  std::array<std::array<int64_t, kMaxWalkRank>, N> strides{};  // per operand, per axis
};

// Row-major strides of `dims` with 0 where an extent is 1 (so a broadcast axis reads one element).
inline std::vector<int64_t> broadcast_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 0);
  int64_t step = 1;
  for (size_t k = dims.size(); k-- > 0;) {
    s[k] = dims[k] == 1 ? 0 : step;
    step *= dims[k];
  }
  return s;
}

// The walk over `dims` (rank <= kMaxWalkRank) with each operand's strides, right-aligned to dims as
// numpy broadcasting aligns shapes (an operand of lower rank gets stride 0 on the leading axes).
// Extents of 1 are dropped: they change no offset.
template <int N>
Walk<N> make_walk(const std::vector<int64_t>& dims, const std::array<std::vector<int64_t>, N>& operand_strides) {
  std::array<int, kMaxWalkRank> order{};
  int rank = 0;
  for (int k = 0; k < int(dims.size()); ++k)
    if (dims[size_t(k)] != 1) order[size_t(rank++)] = k;
  auto stride = [&](int op, int axis) {
    const auto& s = operand_strides[size_t(op)];
    const int shift = int(dims.size()) - int(s.size());
    return axis - shift >= 0 ? s[size_t(axis - shift)] : int64_t(0);
  };
  // Largest stride of the first operand first: memory order for it.
  std::stable_sort(order.begin(), order.begin() + rank, [&](int x, int y) { return stride(0, x) > stride(0, y); });
  Walk<N> w;
  w.rank = rank;
  for (int k = 0; k < rank; ++k) {
    w.dims[size_t(k)] = dims[size_t(order[size_t(k)])];
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

// An activation's strides as `walk` reads them: tensor_view's, 0 along an extent of 1.
inline std::vector<int64_t> value_strides(const Value& v) {
  TensorView t = tensor_view(v);
  for (size_t k = 0; k < t.dims.size(); ++k)
    if (t.dims[k] == 1) t.strides[k] = 0;
  return t.strides;
}

}  // namespace gradcam::ops
