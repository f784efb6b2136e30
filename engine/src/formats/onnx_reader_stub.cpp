#include "gradcam/onnx.h"
namespace gradcam::onnx {
int64_t Tensor::element_count() const { int64_t n = 1; for (auto d : dims) n *= d; return n; }
const Attribute* Node::attribute(const std::string& name) const { for (auto& a : attributes) if (a.name == name) return &a; return nullptr; }
int64_t Model::default_opset() const { for (auto& o : opsets) if (o.first.empty() || o.first == "ai.onnx") return o.second; return 0; }
bool looks_like_onnx(const uint8_t*, size_t) { return false; }
Result<Model> read_model(const uint8_t*, size_t, const std::string& source) { return make_error(source + ": ONNX reader not built"); }
}
