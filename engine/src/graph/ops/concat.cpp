// Concat. Along channels of images (axis 1 of NCHW) or of [1, n] vectors, the older fast form:
// channels-last storage interleaves the inputs at every pixel. On any other axis or rank, or with
// constant operands (ViT's class token, a constant once Expand is folded), the general form: each
// operand, read through its strided view, is copied into its slab of the output. That output is an
// image where [1,C,H,W] operands (images, or rows such as ShuffleNet's shuffled halves) are joined
// on channels, as ONNX's NCHW means them; rows otherwise.
#include <cstring>

#include "../op_support.h"
#include "ops.h"
#include "strided.h"

namespace gradcam::ops {
namespace {

Status import_concat(const OnnxImport& in, Node& n) {
  int activations = 0;
  for (size_t s = 0; s < in.node.inputs.size(); ++s) {
    if (in.node.inputs[s].empty()) continue;
    if (const onnx::Tensor* t = in.constant(s)) {
      if (t->floats.size() != size_t(t->element_count()) || t->floats.empty())
        return make_error(where(in.node) + "a constant operand must be a non-empty float tensor");
      n.attrs.concat_parts.push_back(-1 - int64_t(n.weights.size()));
      n.weights.push_back(t->floats);
    } else {
      n.attrs.concat_parts.push_back(activations++);
    }
  }
  n.attrs.axis = int(attr_int(in.node, "axis", 1));
  return {};
}

// The older form: activations only, all images joined on channels or all vectors on their n.
bool channel_concat(const Graph& g, const Node& n) {
  if (!n.weights.empty()) return false;
  const Value& first = input_value(g, n);
  const bool image = first.layout == Layout::image;
  if (!image && !first.is_vector()) return false;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const Value& v = input_value(g, n, int(k));
    if ((v.layout == Layout::image) != image || (!image && !v.is_vector())) return false;
  }
  const int axis = n.attrs.axis;
  return image ? axis == 1 || axis == -3 : axis == 1 || axis == -1;
}

// Operand `part` of the general form: its view (an activation's storage, or a constant's row-major
// floats, whose extent on the axis is what its size leaves) and where its floats are.
struct Part {
  StridedView view;
  const float* data = nullptr;
  int input = -1;  // the node input, or -1 for a constant
};

Part concat_part(const Graph& g, const Node& n, size_t part, int axis, const StridedView& like, const float* const* in) {
  Part p;
  const int64_t code = n.attrs.concat_parts.empty() ? int64_t(part) : n.attrs.concat_parts[part];
  if (code >= 0) {
    p.input = int(code);
    p.view = storage_view(input_value(g, n, p.input));
    p.data = in ? in[code] : nullptr;
    return p;
  }
  const std::vector<float>& w = n.weights[size_t(-1 - code)];
  int64_t dims[kMaxRank], others = 1;
  for (int k = 0; k < like.rank; ++k) {
    dims[k] = like.dims[k];
    if (k != axis) others *= like.dims[k];
  }
  dims[axis] = int64_t(w.size()) / others;
  p.view = row_major(like.rank, dims);
  p.data = w.data();
  return p;
}

size_t part_count(const Node& n) { return n.attrs.concat_parts.empty() ? n.inputs.size() : n.attrs.concat_parts.size(); }

Status infer_general(const Graph& g, Node& n, Value& out) {
  const StridedView first = storage_view(input_value(g, n));
  const int axis = normalized_axis(n.attrs.axis, first.rank);
  if (axis < 0) return make_error(where(n) + "axis " + std::to_string(n.attrs.axis) + " does not fit inputs of rank " + std::to_string(first.rank));
  std::vector<int64_t> dims(first.dims, first.dims + first.rank);
  dims[size_t(axis)] = 0;
  for (size_t k = 0; k < part_count(n); ++k) {
    const Part p = concat_part(g, n, k, axis, first, nullptr);
    const std::string what = p.input >= 0 ? "input '" + input_value(g, n, p.input).name + "'" : "a constant operand";
    bool fits = p.view.rank == first.rank && p.view.dims[axis] >= 1;
    for (int d = 0; d < first.rank && fits; ++d) fits = d == axis || p.view.dims[d] == first.dims[d];
    if (p.input < 0) fits = fits && p.view.size() == int64_t(n.weights[size_t(-1 - n.attrs.concat_parts[k])].size());
    if (!fits)
      return make_error(where(n) + what + " does not fit beside '" + input_value(g, n).name + "' " +
                        dims_text(std::vector<int64_t>(first.dims, first.dims + first.rank)) + " on axis " + std::to_string(axis));
    dims[size_t(axis)] += p.view.dims[axis];
  }
  const bool image = first.rank == 4 && axis == 1 && dims[0] == 1;
  if (image && dims[1] <= ModelLimits::kMaxChannels && dims[2] <= ModelLimits::kMaxSide && dims[3] <= ModelLimits::kMaxSide) {
    out.shape = {int(dims[2]), int(dims[3]), int(dims[1])};
    out.rank = 4;
    return {};
  }
  set_rows(out, dims);
  return {};
}

Status infer_concat(const Graph& g, Node& n, Value& out) {
  if (!channel_concat(g, n)) return infer_general(g, n, out);
  const Value& first = input_value(g, n);
  int c = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const Value& v = input_value(g, n, int(k));
    if (v.shape.h != first.shape.h || v.shape.w != first.shape.w)
      return make_error(where(n) + "inputs '" + first.name + "' and '" + v.name + "' differ in height or width");
    c += v.shape.c;
  }
  out.shape = {first.shape.h, first.shape.w, c};
  out.rank = first.rank;
  return {};
}

// The general form, both ways: each operand's floats and its slab of the output (or the gradient).
template <bool forward>
void general(const Graph& g, const Node& n, const float* const* in, float* out, const float* gout, float* const* gin) {
  const StridedView first = storage_view(input_value(g, n));
  const int axis = normalized_axis(n.attrs.axis, first.rank);
  const StridedView whole = storage_view(g.value(n.output));
  int64_t start = 0;
  for (size_t k = 0; k < part_count(n); ++k) {
    const Part p = concat_part(g, n, k, axis, first, in);
    StridedView slab = whole;
    for (int d = 0; d < whole.rank; ++d) slab.dims[d] = p.view.dims[d];
    slab.offset = start * whole.strides[axis];
    start += p.view.dims[axis];
    if (forward) strided_copy(p.view, p.data, slab, out);
    else if (p.input >= 0) strided_copy(slab, gout, p.view, gin[p.input]);
  }
}

void forward_concat(const Node& n, NodePlan&, const ForwardArgs& a) {
  if (!channel_concat(a.graph, n)) return general<true>(a.graph, n, a.in, a.out, nullptr, nullptr);
  const Shape& s = a.graph.value(n.output).shape;
  const size_t hw = size_t(s.h) * s.w;
  size_t offset = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const size_t c = size_t(a.graph.value(n.inputs[k]).shape.c);
    for (size_t i = 0; i < hw; ++i) std::memcpy(a.out + i * size_t(s.c) + offset, a.in[k] + i * c, sizeof(float) * c);
    offset += c;
  }
}

void backward_concat(const Node& n, NodePlan&, const BackwardArgs& a) {
  if (!channel_concat(a.graph, n)) return general<false>(a.graph, n, a.in, nullptr, a.gout, a.gin);
  const Shape& s = a.graph.value(n.output).shape;
  const size_t hw = size_t(s.h) * s.w;
  size_t offset = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const size_t c = size_t(a.graph.value(n.inputs[k]).shape.c);
    for (size_t i = 0; i < hw; ++i) std::memcpy(a.gin[k] + i * c, a.gout + i * size_t(s.c) + offset, sizeof(float) * c);
    offset += c;
  }
}

}  // namespace

const OpDescriptor concat_op = {"Concat", import_concat, infer_concat, plan_nothing, forward_concat, backward_concat, OpFlags::any_rank};

}  // namespace gradcam::ops
