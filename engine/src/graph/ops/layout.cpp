// Ops that rearrange a tensor of any rank without arithmetic: Transpose, Slice, Gather (constant
// indices), Expand, and ToImage, the engine's own copy of a rows [1,C,H,W] value into the image
// layout that the convolution and pooling kernels read (the ONNX importer inserts it where such an
// op reads a value that a Reshape or Transpose made). Each reads its input through a strided view
// (strided.h), so image and rows inputs alike; each writes a rows output, except ToImage.
//
// Planning works the views out once (a StridedCopy in NodePlan::state); every pass runs the same
// forward_strided / backward_strided on them. The input gradient of a view is the output gradient
// written back through the same view: copied where every input element is read once (Transpose,
// ToImage), added onto zeros where some are read twice or never (Slice, Gather, Expand).
#include <algorithm>
#include <cstring>
#include <memory>

#include "../op_support.h"
#include "ops.h"
#include "strided.h"

namespace gradcam::ops {
namespace {

// A constant input's integers, or an error naming what it is for.
Status constant_ints(const OnnxImport& in, size_t slot, const char* what, std::vector<int64_t>& out) {
  const onnx::Tensor* t = in.constant(slot);
  if (!t) return make_error(where(in.node) + what + " must be a constant (an initializer, or computed from the input's static shape)");
  out = t->ints;
  return {};
}

bool has_input(const OnnxImport& in, size_t slot) { return in.node.inputs.size() > slot && !in.node.inputs[slot].empty(); }

Status rank_error(const Node& n, int rank) {
  return make_error(where(n) + "its output would have rank " + std::to_string(rank) + "; the engine holds ranks 1.." +
                    std::to_string(kMaxRank));
}

std::vector<int64_t> dims_of(const StridedView& v) { return std::vector<int64_t>(v.dims, v.dims + v.rank); }

// Every layout op's passes: the plan's index mapping, both ways.
const StridedCopy& planned_copy(const NodePlan& p) { return *static_cast<const StridedCopy*>(p.state.get()); }

void forward_planned(const Node&, NodePlan& p, const ForwardArgs& a) { forward_strided(planned_copy(p), a.in[0], a.out); }

void backward_planned(const Node&, NodePlan& p, const BackwardArgs& a) { backward_strided(planned_copy(p), a.gout, a.gin[0]); }

// The plan of an op that reads its input through one view (`view` of the input's storage view,
// checked by infer) and writes it row-major; `covers`: every input element is read once.
template <Status (*view)(const Node&, const StridedView&, StridedView&), bool covers>
void plan_view(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  const Value& x = input_value(g, n);
  StridedView v;
  (void)view(n, storage_view(x), v);
  auto c = std::make_shared<StridedCopy>();
  c->segments.push_back({v, row_major(v.rank, v.dims)});
  c->covers_input = covers;
  c->input_size = int64_t(x.shape.size());
  p.state = std::move(c);
}

// ---- ToImage ----

Status infer_to_image(const Graph& g, Node& n, Value& out) {
  const Value& x = input_value(g, n);
  const std::vector<int64_t> d = tensor_view(x).dims;
  if (d.size() != 4 || d[0] != 1) return make_error(where(n) + "reads " + dims_text(d) + "; it makes an image of a [1,C,H,W] value");
  if (d[1] > ModelLimits::kMaxChannels || d[2] > ModelLimits::kMaxSide || d[3] > ModelLimits::kMaxSide)
    return make_error(where(n) + "the image " + dims_text(d) + " is outside the engine's limits on sides and channels");
  out.shape = {int(d[2]), int(d[3]), int(d[1])};
  out.rank = 4;
  return {};
}

void plan_to_image(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  const Value& x = input_value(g, n);
  auto c = std::make_shared<StridedCopy>();
  c->segments.push_back({storage_view(x), storage_view(g.value(n.output))});
  c->covers_input = true;
  c->input_size = int64_t(x.shape.size());
  p.state = std::move(c);
}

// ---- Transpose ----

Status import_transpose(const OnnxImport& in, Node& n) {
  n.attrs.perm = attr_ints(in.node, "perm");
  return {};
}

// The input read in the output's order: dim k of the output is dim perm[k] of the input.
Status transpose_view(const Node& n, const StridedView& in, StridedView& v) {
  const std::vector<int64_t>& perm = n.attrs.perm;  // empty: ONNX's default, the dims reversed
  if (!perm.empty() && int(perm.size()) != in.rank)
    return make_error(where(n) + "perm has " + std::to_string(perm.size()) + " entries for an input of rank " + std::to_string(in.rank));
  bool seen[kMaxRank] = {};
  v = in;
  for (int k = 0; k < in.rank; ++k) {
    const int p = perm.empty() ? in.rank - 1 - k : normalized_axis(perm[size_t(k)], in.rank);
    if (p < 0 || seen[p]) return make_error(where(n) + "perm " + dims_text(perm) + " is not a permutation of the input's dims");
    seen[p] = true;
    v.dims[k] = in.dims[p];
    v.strides[k] = in.strides[p];
  }
  return {};
}

Status infer_transpose(const Graph& g, Node& n, Value& out) {
  StridedView v;
  if (Status s = transpose_view(n, storage_view(input_value(g, n)), v); !s) return s;
  set_rows(out, dims_of(v));
  return {};
}


// ---- Slice ----

Status import_slice(const OnnxImport& in, Node& n) {
  OpAttributes& a = n.attrs;
  if (has_input(in, 1)) {  // opset 10 on: starts, ends, axes, steps are inputs
    if (Status s = constant_ints(in, 1, "starts", a.slice_starts); !s) return s;
    if (Status s = constant_ints(in, 2, "ends", a.slice_ends); !s) return s;
    if (has_input(in, 3))
      if (Status s = constant_ints(in, 3, "axes", a.slice_axes); !s) return s;
    if (has_input(in, 4))
      if (Status s = constant_ints(in, 4, "steps", a.slice_steps); !s) return s;
  } else {
    a.slice_starts = attr_ints(in.node, "starts");
    a.slice_ends = attr_ints(in.node, "ends");
    a.slice_axes = attr_ints(in.node, "axes");
  }
  if (a.slice_starts.size() != a.slice_ends.size() || a.slice_starts.empty())
    return make_error(where(in.node) + "starts and ends must be as many, at least one");
  if (a.slice_axes.empty())
    for (size_t k = 0; k < a.slice_starts.size(); ++k) a.slice_axes.push_back(int64_t(k));
  if (a.slice_steps.empty()) a.slice_steps.assign(a.slice_starts.size(), 1);
  if (a.slice_axes.size() != a.slice_starts.size() || a.slice_steps.size() != a.slice_starts.size())
    return make_error(where(in.node) + "starts, ends, axes and steps must be as many");
  return {};
}

// ONNX's clamping: a negative start or end counts from the end; both are clamped into the dim
// (for a negative step, to [-1, dim-1], so that the slice can run down to element 0).
Status slice_view(const Node& n, const StridedView& in, StridedView& v) {
  const OpAttributes& a = n.attrs;
  v = in;
  bool seen[kMaxRank] = {};
  for (size_t k = 0; k < a.slice_axes.size(); ++k) {
    const int axis = normalized_axis(a.slice_axes[k], in.rank);
    if (axis < 0 || seen[axis]) return make_error(where(n) + "axes " + dims_text(a.slice_axes) + " do not fit an input of rank " + std::to_string(in.rank));
    seen[axis] = true;
    const int64_t dim = in.dims[axis], step = a.slice_steps[k];
    if (step == 0) return make_error(where(n) + "a step of 0");
    int64_t start = a.slice_starts[k], end = a.slice_ends[k];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim), end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1), end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - step - 1) / -step : 0;
    }
    if (count < 1)
      return make_error(where(n) + "the slice of axis " + std::to_string(axis) + " (extent " + std::to_string(dim) + ") is empty");
    v.offset += start * in.strides[axis];
    v.dims[axis] = count;
    v.strides[axis] = in.strides[axis] * step;
  }
  return {};
}

Status infer_slice(const Graph& g, Node& n, Value& out) {
  StridedView v;
  if (Status s = slice_view(n, storage_view(input_value(g, n)), v); !s) return s;
  set_rows(out, dims_of(v));
  return {};
}


// ---- Gather (constant indices) ----

Status import_gather(const OnnxImport& in, Node& n) {
  const onnx::Tensor* t = in.constant(1);
  if (!t) return make_error(where(in.node) + "the indices must be a constant (ViT's class token x[:, 0] is one)");
  if (t->dims.size() > 1) return make_error(where(in.node) + "only a scalar or 1-D indices tensor is supported");
  if (t->ints.empty()) return make_error(where(in.node) + "no indices");
  n.attrs.gather_indices = t->ints;
  n.attrs.gather_scalar = t->dims.empty();
  n.attrs.axis = int(attr_int(in.node, "axis", 0));
  return {};
}

// The input with `axis` narrowed to one element (index i); the scalar form drops that dim.
Status gather_axis(const Node& n, const StridedView& in, int& axis) {
  axis = normalized_axis(n.attrs.axis, in.rank);
  if (axis < 0) return make_error(where(n) + "axis " + std::to_string(n.attrs.axis) + " does not fit an input of rank " + std::to_string(in.rank));
  for (int64_t i : n.attrs.gather_indices)
    if (i < -in.dims[axis] || i >= in.dims[axis])
      return make_error(where(n) + "index " + std::to_string(i) + " is outside axis " + std::to_string(axis) + " of extent " + std::to_string(in.dims[axis]));
  return {};
}

// The output's dims, and for index j the input's and the output's views of that slab.
struct GatherSlabs {
  StridedView in_slab, out_slab;  // the offsets of element j: in_step * index, out_step * j
  int64_t in_step = 0, out_step = 0, extent = 0;
  int64_t out_dims[kMaxRank] = {};  // fixed size: the forward pass does not allocate
  int out_rank = 0;
};

GatherSlabs gather_slabs(const Node& n, const StridedView& in, int axis) {
  GatherSlabs s;
  s.in_slab = in;
  s.in_slab.dims[axis] = 1;
  s.in_step = in.strides[axis];
  s.extent = in.dims[axis];
  int64_t out_dims[kMaxRank];
  for (int k = 0; k < in.rank; ++k) out_dims[k] = k == axis ? int64_t(n.attrs.gather_indices.size()) : in.dims[k];
  s.out_slab = row_major(in.rank, out_dims);
  s.out_step = s.out_slab.strides[axis];
  s.out_slab.dims[axis] = 1;
  for (int k = 0; k < in.rank; ++k)
    if (k != axis || !n.attrs.gather_scalar) s.out_dims[s.out_rank++] = out_dims[k];
  return s;
}

Status infer_gather(const Graph& g, Node& n, Value& out) {
  const StridedView in = storage_view(input_value(g, n));
  int axis;
  if (Status s = gather_axis(n, in, axis); !s) return s;
  GatherSlabs s = gather_slabs(n, in, axis);
  if (s.out_rank == 0) return make_error(where(n) + "a scalar index into a 1-D input gives a scalar, which the engine does not hold");
  set_rows(out, std::vector<int64_t>(s.out_dims, s.out_dims + s.out_rank));
  return {};
}

// One segment per index: the input's slab at that index into the output's slab j.
void plan_gather(const Graph& g, const Node& n, NodePlan& p, ScratchSizes&) {
  const Value& x = input_value(g, n);
  const StridedView in = storage_view(x);
  const int axis = normalized_axis(n.attrs.axis, in.rank);  // checked by infer
  const GatherSlabs s = gather_slabs(n, in, axis);
  auto c = std::make_shared<StridedCopy>();
  for (size_t j = 0; j < n.attrs.gather_indices.size(); ++j) {
    const int64_t i = n.attrs.gather_indices[j];
    StridedCopy::Segment segment{s.in_slab, s.out_slab};
    segment.from.offset = in.offset + s.in_step * (i < 0 ? i + s.extent : i);
    segment.to.offset = s.out_step * int64_t(j);
    c->segments.push_back(segment);
  }
  c->input_size = int64_t(x.shape.size());
  p.state = std::move(c);
}

// ---- Expand ----

Status import_expand(const OnnxImport& in, Node& n) { return constant_ints(in, 1, "the target shape", n.attrs.target_dims); }

// Numpy broadcasting of the input against the target; a broadcast dim reads with stride 0.
Status expand_view(const Node& n, const StridedView& in, StridedView& v) {
  const std::vector<int64_t>& t = n.attrs.target_dims;
  const int rank = std::max(in.rank, int(t.size()));
  if (rank > kMaxRank) return rank_error(n, rank);
  v = {};
  v.rank = rank;
  v.offset = in.offset;
  for (int k = 0; k < rank; ++k) {
    const int ki = k - (rank - in.rank), kt = k - (rank - int(t.size()));
    const int64_t di = ki >= 0 ? in.dims[ki] : 1, dt = kt >= 0 ? t[size_t(kt)] : 1;
    if (di != dt && di != 1 && dt != 1)
      return make_error(where(n) + "cannot expand " + dims_text(dims_of(in)) + " to " + dims_text(t));
    v.dims[k] = std::max(di, dt);
    v.strides[k] = ki >= 0 && di == v.dims[k] ? in.strides[ki] : 0;
  }
  return {};
}

Status infer_expand(const Graph& g, Node& n, Value& out) {
  StridedView v;
  if (Status s = expand_view(n, storage_view(input_value(g, n)), v); !s) return s;
  set_rows(out, dims_of(v));
  return {};
}


}  // namespace

const OpDescriptor to_image_op = {"ToImage", nullptr, infer_to_image, plan_to_image, forward_planned, backward_planned, OpFlags::any_rank};
const OpDescriptor transpose_op = {"Transpose", import_transpose, infer_transpose, plan_view<transpose_view, true>, forward_planned,
                                   backward_planned, OpFlags::any_rank};
const OpDescriptor slice_op = {"Slice", import_slice, infer_slice, plan_view<slice_view, false>, forward_planned, backward_planned,
                               OpFlags::any_rank};
const OpDescriptor gather_op = {"Gather", import_gather, infer_gather, plan_gather, forward_planned, backward_planned, OpFlags::any_rank};
// Stride 0 along a broadcast dim: every copy's gradient adds up.
const OpDescriptor expand_op = {"Expand", import_expand, infer_expand, plan_view<expand_view, false>, forward_planned, backward_planned,
                                OpFlags::any_rank};

}  // namespace gradcam::ops
