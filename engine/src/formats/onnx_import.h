// An ONNX model (as PyTorch exports it) turned into the engine's Model: its graph of supported ops,
// its input size and layout, and class names.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

#include "gradcam/graph.h"
#include "gradcam/model.h"
#include "formats/onnx.h"

namespace gradcam {

struct OnnxOptions {
  int size = 0;  // the input's height and width when the file leaves them dynamic (--size N)
};

// Reads and plans an ONNX model. Errors are one line naming the file and, for an unsupported or
// malformed node, the node, its op type and the supported ops.
Result<Model> load_onnx_model(const uint8_t* bytes, size_t size, const std::string& source, const OnnxOptions& options = {});
// The same from an open file of `size` bytes, read as it is decoded (onnx::read_model_file): the
// file's bytes are never held whole, and each initializer is freed once its last node is imported.
Result<Model> load_onnx_model_file(std::FILE* file, size_t size, const std::string& source, const OnnxOptions& options = {});
// A read ModelProto to the engine's Model; `file`'s initializers are consumed as their nodes import.
Result<Model> import_onnx_model(onnx::Model file, const std::string& source, const OnnxOptions& options = {});

// What ONNX lets a person explain, on a graph whose shapes are inferred: every node with a 4-D
// output, by default the last one before the global pooling or flatten that leads to the
// classifier (what Grad-CAM's paper explains), and the words its messages use for them.
void mark_explainable_4d_outputs(Graph& graph);

}  // namespace gradcam
