// The table of ops, served to the importer, the executor and `info` (its rows are in ops/ops.h,
// beside the descriptors' declarations). Constant and Split are read by the ONNX importer itself (a
// Constant is a constant; a Split becomes one Slice node per output), so they are not rows but are
// named in supported_ops_text(); so is a final Softmax, which the importer drops (its input is the
// logits), while one inside the graph is a row.
#include <algorithm>
#include <iterator>

#include "gradcam/graph.h"
#include "ops/ops.h"

namespace gradcam {

namespace ops {
// (Declared here rather than in ops.h for now: an edit there rebuilds every op's file.)
extern const OpDescriptor einsum_op;  // einsum.cpp
extern const OpDescriptor where_op;   // where.cpp
}  // namespace ops

const std::vector<const OpDescriptor*>& op_table() {
  static const std::vector<const OpDescriptor*> table = [] {
    std::vector<const OpDescriptor*> t(std::begin(ops::kOpTable), std::end(ops::kOpTable));
    t.push_back(&ops::einsum_op);
    t.push_back(&ops::where_op);
    return t;
  }();
  return table;
}

const OpDescriptor* find_op(const std::string& type) {
  for (const OpDescriptor* d : op_table())
    if (type == d->type) return d;
  return nullptr;
}

std::string supported_ops_text() {
  std::vector<std::string> names = {"Constant", "Split"};
  for (const OpDescriptor* d : op_table())
    if (d->import) names.push_back(d->type);  // the Keras-only ops are not ONNX's to offer
  std::sort(names.begin(), names.end());
  std::string text;
  for (const std::string& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

}  // namespace gradcam
