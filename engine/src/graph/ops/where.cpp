// Where with a constant condition: out = cond ? X : Y, the three broadcast as numpy does. torch
// writes it for masked_fill and torch.where on a mask known at export (an attention mask, a
// padding mask); a mask computed from the image is refused. X and Y are activations, or one of
// them a constant (masked_fill's fill value). Each element's gradient goes to the operand it was
// taken from, summed over the positions that operand was broadcast to; a constant takes none.
#include <algorithm>

#include "../op_support.h"
#include "nd_walk.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

// The condition's dims.
std::vector<int64_t>& condition_dims(Node& n) { return n.attrs.condition_dims; }
const std::vector<int64_t>& condition_dims(const Node& n) { return n.attrs.condition_dims; }

Status import_where(const OnnxImport& in, Node& n) {
  const onnx::Tensor* c = in.constant(0);
  if (!c)
    return make_error(where(in.node) + "the condition must be a constant (a mask computed from the input is not supported)");
  if (in.constant(1) && in.constant(2)) return make_error(where(in.node) + "X and Y are both constants (fold them before export)");
  std::vector<float> mask(size_t(c->element_count()));
  if (c->ints.size() == mask.size()) {
    for (size_t k = 0; k < mask.size(); ++k) mask[k] = c->ints[k] != 0 ? 1.f : 0.f;
  } else if (c->floats.size() == mask.size()) {
    for (size_t k = 0; k < mask.size(); ++k) mask[k] = c->floats[k] != 0.f ? 1.f : 0.f;
  } else {
    return make_error(where(in.node) + "the condition's values do not fit its shape " + dims_text(c->dims));
  }
  n.weights = {std::move(mask)};
  condition_dims(n) = c->dims;
  for (size_t slot : {size_t(1), size_t(2)}) {
    const onnx::Tensor* k = in.constant(slot);
    if (!k) continue;
    if (k->floats.empty()) return make_error(where(in.node) + "a constant X or Y must be a float tensor");
    n.weights.push_back(k->floats);
    n.attrs.constant_dims = k->dims;
    n.attrs.constant_rank = int(k->dims.size());
    n.attrs.constant_first = slot == 1;
  }
  return {};
}

bool constant_x(const Node& n) { return n.weights.size() == 2 && n.attrs.constant_first; }
bool constant_y(const Node& n) { return n.weights.size() == 2 && !n.attrs.constant_first; }

// The node input holding X and Y (-1: the constant).
int x_slot(const Node& n) { return constant_x(n) ? -1 : 0; }
int y_slot(const Node& n) { return constant_y(n) ? -1 : (constant_x(n) ? 0 : 1); }

int64_t count_of(const std::vector<int64_t>& dims) {
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  return count;
}

Status infer_where(const Graph& g, Node& n, Value& out) {
  const size_t activations = n.weights.size() == 2 ? 1 : 2;
  if (n.weights.empty() || n.weights.size() > 2 || n.inputs.size() != activations)
    return make_error(where(n) + "needs a constant condition and X and Y, at least one of them an activation");
  if (size_t(count_of(condition_dims(n))) != n.weights[0].size())
    return make_error(where(n) + "the condition's " + std::to_string(n.weights[0].size()) + " values do not fit its shape " +
                      dims_text(condition_dims(n)));
  if (n.weights.size() == 2 && size_t(count_of(n.attrs.constant_dims)) != n.weights[1].size())
    return make_error(where(n) + "the constant's " + std::to_string(n.weights[1].size()) + " values do not fit its shape " +
                      dims_text(n.attrs.constant_dims));
  auto dims_of = [&](int slot) { return slot < 0 ? n.attrs.constant_dims : tensor_view(input_value(g, n, slot)).dims; };
  const std::vector<int64_t> x = dims_of(x_slot(n)), y = dims_of(y_slot(n));
  std::vector<int64_t> dims = condition_dims(n);
  bool fits = true;
  for (const std::vector<int64_t>* d : {&x, &y}) {
    if (dims.empty() && d->empty()) continue;  // two scalars (broadcast_dims' empty result means a failure)
    dims = broadcast_dims(dims, *d);
    fits = fits && !dims.empty();
  }
  if (!fits || dims.size() > size_t(kMaxWalkRank))
    return make_error(where(n) + "cannot broadcast the condition " + dims_text(condition_dims(n)) + ", X " + dims_text(x) + " and Y " +
                      dims_text(y) + " (numpy broadcasting, rank up to " + std::to_string(kMaxWalkRank) + ")");
  // An image operand of the result's own [1,C,H,W] keeps the result an image (a conv can read it).
  for (size_t slot = 0; slot < n.inputs.size(); ++slot) {
    const Value& v = input_value(g, n, int(slot));
    if (v.layout == Layout::image && tensor_view(v).dims == dims) {
      out.shape = v.shape, out.rank = 4;
      return {};
    }
  }
  if (dims.empty()) return make_error(where(n) + "a scalar result is not supported");
  set_rows(out, std::move(dims));
  return {};
}

// The walk: the output (in its memory order), the condition, X, Y.
Walk<4> where_walk(const Graph& g, const Node& n) {
  const Value& out = g.value(n.output);
  auto strides = [&](int slot) {
    return slot < 0 ? broadcast_strides(Extents(n.attrs.constant_dims)) : value_strides(input_value(g, n, slot));
  };
  return make_walk<4>(logical_dims(out),
                      {value_strides(out), broadcast_strides(Extents(condition_dims(n))), strides(x_slot(n)), strides(y_slot(n))});
}

void forward_where(const Node& n, NodePlan&, const ForwardArgs& a) {
  const float* cond = n.weights[0].data();
  const float* x = x_slot(n) < 0 ? n.weights[1].data() : a.in[x_slot(n)];
  const float* y = y_slot(n) < 0 ? n.weights[1].data() : a.in[y_slot(n)];
  float* out = a.out;
  walk(where_walk(a.graph, n), [&](int64_t o, int64_t c, int64_t i, int64_t j) { out[o] = cond[c] != 0.f ? x[i] : y[j]; });
}

void backward_where(const Node& n, NodePlan&, const BackwardArgs& a) {
  const float* cond = n.weights[0].data();
  const float* g = a.gout;
  const int xs = x_slot(n), ys = y_slot(n);
  float* gx = xs < 0 ? nullptr : a.gin[xs];
  float* gy = ys < 0 ? nullptr : a.gin[ys];
  for (size_t slot = 0; slot < n.inputs.size(); ++slot)
    std::fill(a.gin[slot], a.gin[slot] + input_value(a.graph, n, int(slot)).shape.size(), 0.f);
  walk(where_walk(a.graph, n), [&](int64_t o, int64_t c, int64_t i, int64_t j) {
    if (cond[c] != 0.f) {
      if (gx) gx[i] += g[o];
    } else if (gy) {
      gy[j] += g[o];
    }
  });
}

}  // namespace

const OpDescriptor where_op = {"Where", import_where, infer_where, plan_nothing, forward_where, backward_where,
                               OpFlags::any_rank};

}  // namespace gradcam::ops
