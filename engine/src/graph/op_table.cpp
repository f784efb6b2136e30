// The table of ops: the one place that lists what the engine can run. Softmax and Constant are read
// by the ONNX importer itself (a final Softmax marks its input as the logits; a Constant is a
// constant), so they are not rows here but are named in supported_ops_text().
#include <algorithm>

#include "gradcam/graph.h"
#include "ops/ops.h"

namespace gradcam {

const std::vector<const OpDescriptor*>& op_table() {
  using namespace ops;
  static const std::vector<const OpDescriptor*> table = {
      &add_op,       &average_pool_op, &batch_norm_op, &clip_op,      &concat_op,      &conv_op,
      &dropout_op,   &flatten_op,      &gemm_op,       &global_average_pool_op,        &hard_sigmoid_op,
      &hard_swish_op, &identity_op,    &leaky_relu_op, &matmul_op,    &max_pool_op,    &mul_op,
      &pad_op,       &reduce_mean_op,  &relu_op,       &reshape_op,   &sigmoid_op,
  };
  return table;
}

const OpDescriptor* find_op(const std::string& type) {
  for (const OpDescriptor* d : op_table())
    if (type == d->type) return d;
  return nullptr;
}

std::string supported_ops_text() {
  std::vector<std::string> names = {"Constant", "Softmax (last)"};
  for (const OpDescriptor* d : op_table()) names.push_back(d->type);
  std::sort(names.begin(), names.end());
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

}  // namespace gradcam
