// Concat along channels (axis 1 of NCHW, or of a 2-D [1, n]). Channels-last storage interleaves the
// inputs at every pixel.
#include <cstring>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

Status import_concat(const OnnxImport& in, Node& n) {
  for (size_t s = 0; s < in.node.inputs.size(); ++s)
    if (in.constant(s)) return make_error(where(in.node) + "constant inputs are not supported");
  const int64_t axis = attr_int(in.node, "axis", 1);
  if (axis != 1 && axis != -3 && axis != -1) return make_error(where(in.node) + "only concatenation along channels (axis 1) is supported");
  n.attrs.axis = int(axis);  // checked against the rank in infer
  return {};
}

Status infer_concat(const Graph& g, Node& n, Value& out) {
  const Value& first = input_value(g, n);
  const int rank = first.rank;
  if ((rank == 4 && n.attrs.axis == -1) || (rank == 2 && n.attrs.axis == -3))
    return make_error(where(n) + "only concatenation along channels (axis 1) is supported");
  int c = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const Value& v = input_value(g, n, int(k));
    if (v.rank != rank || v.shape.h != first.shape.h || v.shape.w != first.shape.w)
      return make_error(where(n) + "inputs '" + first.name + "' and '" + v.name + "' differ in height or width");
    c += v.shape.c;
  }
  out.shape = {first.shape.h, first.shape.w, c};
  out.rank = rank;
  return {};
}

void forward_concat(const Node& n, NodePlan&, const ForwardArgs& a) {
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

const OpDescriptor concat_op = {"Concat", import_concat, infer_concat, plan_nothing, forward_concat, backward_concat};

}  // namespace gradcam::ops
