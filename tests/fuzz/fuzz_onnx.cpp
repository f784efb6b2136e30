// libFuzzer target: the ONNX reader (nanopb and our callbacks). Any bytes must give a model or a
// one-line error naming the file, never a crash, a hang or an allocation sized by an unchecked number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gradcam/onnx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradcam::onnx;
  (void)looks_like_onnx(data, size);
  auto m = read_model(data, size, "fuzz.onnx");
  if (!m.ok()) {
    // The error contract: "fuzz.onnx: ..." on one line.
    if (m.error().rfind("fuzz.onnx: ", 0) != 0 || m.error().find('\n') != std::string::npos) std::abort();
    return 0;
  }
  // A model that reads keeps the promises the graph engine relies on.
  for (const Tensor& t : m->initializers) {
    const size_t n = size_t(t.element_count());
    if (t.dims.size() > size_t(Limits::kMaxDims) || t.element_count() > Limits::kMaxTensorElements) std::abort();
    if (t.floats.size() != n && t.ints.size() != n) std::abort();
  }
  for (const Node& node : m->nodes)
    if (node.attributes.size() > size_t(Limits::kMaxAttributes)) std::abort();
  for (const ValueInfo& v : m->inputs)
    if (v.dims.size() != v.dim_params.size()) std::abort();
  return 0;
}
