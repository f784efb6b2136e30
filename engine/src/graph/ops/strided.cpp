// The strided walk under the layout ops (strided.h).
#include "strided.h"

#include <algorithm>

namespace gradcam::ops {

int64_t StridedView::size() const {
  int64_t n = 1;
  for (int k = 0; k < rank; ++k) n *= dims[k];
  return n;
}

StridedView storage_view(const Value& v) {
  StridedView s;
  if (v.layout == Layout::image) {
    const int64_t h = v.shape.h, w = v.shape.w, c = v.shape.c;
    s.rank = 4;
    const int64_t dims[] = {1, c, h, w}, strides[] = {h * w * c, 1, w * c, c};
    for (int k = 0; k < 4; ++k) s.dims[k] = dims[k], s.strides[k] = strides[k];
    return s;
  }
  return row_major(int(v.dims.size()), v.dims.data());
}

StridedView row_major(int rank, const int64_t* dims) {
  StridedView s;
  s.rank = rank;
  int64_t step = 1;
  for (int k = rank; k-- > 0;) {
    s.dims[k] = dims[k];
    s.strides[k] = step;
    step *= dims[k];
  }
  return s;
}

namespace {
template <bool accumulate>
void walk(const StridedView& src, const float* from, const StridedView& dst, float* to) {
  const int rank = src.rank;
  if (rank == 0 || src.size() == 0) return;
  // The innermost dim is a plain loop; the others advance like an odometer.
  const int64_t n = src.dims[rank - 1], ss = src.strides[rank - 1], ds = dst.strides[rank - 1];
  int64_t index[kMaxRank] = {};
  const float* s = from + src.offset;
  float* d = to + dst.offset;
  for (;;) {
    if (accumulate)
      for (int64_t i = 0; i < n; ++i) d[i * ds] += s[i * ss];
    else if (ss == 1 && ds == 1)
      for (int64_t i = 0; i < n; ++i) d[i] = s[i];
    else
      for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
    int k = rank - 2;
    for (; k >= 0; --k) {
      s += src.strides[k], d += dst.strides[k];
      if (++index[k] < src.dims[k]) break;
      s -= src.strides[k] * src.dims[k], d -= dst.strides[k] * src.dims[k];
      index[k] = 0;
    }
    if (k < 0) return;
  }
}
}  // namespace

void strided_copy(const StridedView& src, const float* from, const StridedView& dst, float* to) { walk<false>(src, from, dst, to); }
void strided_add(const StridedView& src, const float* from, const StridedView& dst, float* to) { walk<true>(src, from, dst, to); }

void forward_strided(const StridedCopy& c, const float* in, float* out) {
  for (const StridedCopy::Segment& s : c.segments) strided_copy(s.from, in, s.to, out);
}

void backward_strided(const StridedCopy& c, const float* gout, float* gin) {
  if (c.covers_input) {
    for (const StridedCopy::Segment& s : c.segments) strided_copy(s.to, gout, s.from, gin);
    return;
  }
  std::fill(gin, gin + c.input_size, 0.f);
  for (const StridedCopy::Segment& s : c.segments) strided_add(s.to, gout, s.from, gin);  // an element read twice gets both gradients
}

int normalized_axis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return -1;
  return int(axis < 0 ? axis + rank : axis);
}

}  // namespace gradcam::ops
