// Constant folding of ONNX nodes at import: a node whose inputs are all known when the model loads
// (initializers, Constant nodes, earlier folded results, or the static shape of an activation) is
// evaluated once here, and its result is a constant like an initializer. PyTorch writes
// `x.view(x.size(0), -1)`, class-token expansion and mask arithmetic as chains of Shape, Gather,
// Unsqueeze, Concat, Expand, Where... on such values; folded, the executed graph holds only the
// real work. Semantics are ONNX's (opsets 7..21), numpy broadcasting included.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "formats/onnx.h"
#include "gradcam/status.h"

namespace gradcam::onnx {

// A folded tensor holds at most this many elements: shape arithmetic and masks are small, and a
// file cannot make the importer build a huge tensor from a few bytes (ConstantOfShape, Expand).
constexpr int64_t kMaxFoldedElements = int64_t(1) << 24;
constexpr int kMaxFoldedRank = 8;

// True for the op types fold_node evaluates.
bool foldable(const std::string& op_type);

// Evaluates `node` on its inputs (one per input slot, nullptr for an omitted optional input). For
// Shape, only the input's dims are read (an activation is passed as a Tensor with dims and no
// data). The result has the ONNX data type the op defines: float types hold `floats`, integer and
// bool types hold `ints`. Errors name the node and what is wrong.
Result<Tensor> fold_node(const Node& node, const std::vector<const Tensor*>& inputs, int64_t opset);

// An activation's static shape as ONNX writes it: [1, C, H, W] for a 4-D value, [1, n] for 2-D.
Tensor shape_only(const std::vector<int64_t>& dims);

}  // namespace gradcam::onnx
