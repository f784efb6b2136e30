// SoftmaxChannels: the softmax over the channels of each position (the last axis of a channels-last
// value), wherever it sits in the graph, as Keras's Activation('softmax') and Softmax(axis=-1) layers
// compute it mid-graph. It is not registered as "Softmax": the ONNX importer reads that one itself
// (a final Softmax marks its input as the logits) and must keep doing so.
#include <algorithm>
#include <cmath>

#include "../op_support.h"
#include "ops.h"

namespace gradcam::ops {
namespace {

void forward_softmax(const Node& n, NodePlan&, const ForwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t c = size_t(s.c), positions = size_t(s.h) * size_t(s.w);
  for (size_t i = 0; i < positions; ++i) {
    const float* x = a.in[0] + i * c;
    float* y = a.out + i * c;
    const float largest = *std::max_element(x, x + c);  // exp of at most 0: no overflow
    float sum = 0.f;
    for (size_t k = 0; k < c; ++k) sum += (y[k] = std::exp(x[k] - largest));
    const float inv = 1.f / sum;
    for (size_t k = 0; k < c; ++k) y[k] *= inv;
  }
}

// dx_k = y_k (g_k - sum_j g_j y_j), per position.
void backward_softmax(const Node& n, NodePlan&, const BackwardArgs& a) {
  const Shape& s = a.graph.value(n.output).shape;
  const size_t c = size_t(s.c), positions = size_t(s.h) * size_t(s.w);
  for (size_t i = 0; i < positions; ++i) {
    const float* y = a.out + i * c;
    const float* g = a.gout + i * c;
    float dot = 0.f;
    for (size_t k = 0; k < c; ++k) dot += g[k] * y[k];
    for (size_t k = 0; k < c; ++k) a.gin[0][i * c + k] = y[k] * (g[k] - dot);
  }
}

}  // namespace

const OpDescriptor softmax_op = {"SoftmaxChannels", nullptr, same_shape, plan_nothing, forward_softmax, backward_softmax};

}  // namespace gradcam::ops
