// Ops that move floats without arithmetic (Transpose, Slice, Gather, Expand, Concat on any axis,
// a reshape of an image) all read one tensor through a strided view: dims, and per dim the step in
// floats through the storage. Fixed-size arrays: a forward pass does not allocate.
#pragma once
#include <cstdint>
#include <vector>

#include "gradcam/graph.h"

namespace gradcam::ops {

inline constexpr int kMaxRank = 6;  // the ranks a value may have (Swin's window partition is 6-D)

struct StridedView {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};
  int64_t offset = 0;  // floats before element [0, ..., 0]
  int64_t size() const;
};

// A value's logical (ONNX-order) dims and the strides of its storage: image [1,C,H,W] channels-last
// with strides [h*w*c, 1, w*c, c]; rows row-major. The one place they are computed: tensor_view
// (graph.h) and the walks of nd_walk.h read them from here. (A rows value's rank is at most
// kMaxRank: every op that makes one refuses more.)
StridedView storage_view(const Value& v);
// Row-major strides of `dims` (a destination written in order).
StridedView row_major(int rank, const int64_t* dims);

// A layout op's index mapping, planned once (NodePlan::state) and run by every pass: the input read
// through each segment's `from` view and written through its `to` view of the output (Gather: a
// segment per index; the others one).
struct StridedCopy {
  struct Segment {
    StridedView from, to;
  };
  std::vector<Segment> segments;
  // Every input element is read exactly once (Transpose, ToImage): the gradient is copied back.
  // Otherwise (Slice, Gather, Expand: some read twice or never) it is added onto zeros.
  bool covers_input = false;
  int64_t input_size = 0;
};
void forward_strided(const StridedCopy& c, const float* in, float* out);
void backward_strided(const StridedCopy& c, const float* gout, float* gin);

// Visits every index of `dims` in row-major order: dst[dst view] = src[src view] (or +=). The two
// views share the dims; each adds its own offset and strides.
void strided_copy(const StridedView& src, const float* from, const StridedView& dst, float* to);
void strided_add(const StridedView& src, const float* from, const StridedView& dst, float* to);

// An axis attribute against a rank: -rank..rank-1 to 0..rank-1; -1 when out of range.
int normalized_axis(int64_t axis, int rank);

}  // namespace gradcam::ops
