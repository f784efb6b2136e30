// Max, Mean and Sum of two or more activations, element-wise, with the broadcasting Add does: every
// operand has the output's shape, or is a per-channel [1,1,C] (a 2-D [C] too with
// broadcast_channels_last, as Keras's merge layers do), or a scalar. Keras's Maximum, Average and
// Add of three or more inputs; ONNX's Max, Mean and Sum with activation operands.
#include <algorithm>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

enum class Reduction { max, mean, sum };

Status import_variadic(const OnnxImport& in, Node&) {
  for (size_t slot = 0; slot < in.node.inputs.size(); ++slot)
    if (in.constant(slot)) return make_error(where(in.node) + "constant operands are not supported (only activations)");
  return {};
}

Status infer_variadic(const Graph& g, Node& n, Value& out) {
  if (n.inputs.empty()) return make_error(where(n) + "needs at least one input");
  // The output is the largest operand; the others broadcast to it.
  const Value* full = &input_value(g, n, 0);
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (input_value(g, n, int(i)).shape.size() > full->shape.size()) full = &input_value(g, n, int(i));
  int rank = full->rank;
  const bool keras = n.attrs.broadcast_channels_last;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value& v = input_value(g, n, int(i));
    if (v.shape == full->shape && (v.rank == full->rank || keras)) {
      rank = std::max(rank, v.rank);
      continue;
    }
    const bool per_channel = (v.rank == 4 || keras) && v.shape.h == 1 && v.shape.w == 1 && v.shape.c == full->shape.c;
    if (!per_channel && v.shape.size() != 1)
      return make_error(where(n) + "cannot broadcast '" + v.name + "' to '" + full->name +
                        "' (same shapes, a [1,C,1,1] operand or a scalar are supported)");
  }
  out.shape = full->shape;
  out.rank = rank;
  return {};
}

// Element k of an operand of `m` values broadcast over an output of `total` values and `c` channels.
inline size_t at(size_t k, size_t m, size_t total, size_t c) { return m == total ? k : (m == 1 ? 0 : k % c); }

template <Reduction r>
void forward_variadic(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t total = size_t(s.size()), c = size_t(s.c), count = n.inputs.size();
  for (size_t k = 0; k < total; ++k) {
    float v = a.in[0][at(k, size_t(a.graph.value(n.inputs[0]).shape.size()), total, c)];
    for (size_t i = 1; i < count; ++i) {
      const float u = a.in[i][at(k, size_t(a.graph.value(n.inputs[i]).shape.size()), total, c)];
      v = r == Reduction::max ? std::max(v, u) : v + u;
    }
    // Keras's Average sums in input order and divides by the count.
    a.out[k] = r == Reduction::mean ? v / float(count) : v;
  }
}

// Sum and Mean pass the gradient (divided by the count) to every operand; Max to the first operand
// holding the maximum (a tie is not split), as MaxPool does within a window. A broadcast operand's
// gradient is the sum over the positions it was broadcast to.
template <Reduction r>
void backward_variadic(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t total = size_t(s.size()), c = size_t(s.c), count = n.inputs.size();
  for (size_t i = 0; i < count; ++i)
    std::fill(a.gin[i], a.gin[i] + a.graph.value(n.inputs[i]).shape.size(), 0.f);
  const float scale = r == Reduction::mean ? 1.f / float(count) : 1.f;
  for (size_t k = 0; k < total; ++k) {
    if (r == Reduction::max) {
      for (size_t i = 0; i < count; ++i) {
        const size_t j = at(k, size_t(a.graph.value(n.inputs[i]).shape.size()), total, c);
        if (a.in[i][j] == a.out[k]) {
          a.gin[i][j] += a.gout[k];
          break;
        }
      }
    } else {
      for (size_t i = 0; i < count; ++i) a.gin[i][at(k, size_t(a.graph.value(n.inputs[i]).shape.size()), total, c)] += scale * a.gout[k];
    }
  }
}

}  // namespace

const OpDescriptor max_op = {"Max", import_variadic, infer_variadic, plan_nothing, forward_variadic<Reduction::max>,
                             backward_variadic<Reduction::max>};
const OpDescriptor mean_op = {"Mean", import_variadic, infer_variadic, plan_nothing, forward_variadic<Reduction::mean>,
                              backward_variadic<Reduction::mean>};
const OpDescriptor sum_op = {"Sum", import_variadic, infer_variadic, plan_nothing, forward_variadic<Reduction::sum>,
                             backward_variadic<Reduction::sum>};

}  // namespace gradcam::ops
