// An ONNX model (as PyTorch exports it) turned into the engine's Model: its graph of supported ops,
// its input size and layout, and class names.
#pragma once
#include <cstdint>
#include <string>

#include "gradcam/model.h"

namespace gradcam {

struct OnnxOptions {
  int size = 0;  // the input's height and width when the file leaves them dynamic (--size N)
};

// Reads and plans an ONNX model. Errors are one line naming the file and, for an unsupported or
// malformed node, the node, its op type and the supported ops.
Result<Model> load_onnx_model(const uint8_t* bytes, size_t size, const std::string& source, const OnnxOptions& options = {});

}  // namespace gradcam
