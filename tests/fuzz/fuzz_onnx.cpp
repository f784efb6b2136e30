// libFuzzer target: the ONNX reader (nanopb and our callbacks) and the importer behind it (ops,
// constants, shape inference), then a planned network run forward and backward once when its work
// is small. Any bytes must give a model or a one-line error naming the file, never a crash, a hang
// or an allocation sized by an unchecked number.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "gradcam/network.h"
#include "formats/onnx.h"
#include "formats/onnx_import.h"

namespace {

void check_error(const std::string& e) {
  // The error contract: "fuzz.onnx: ..." on one line.
  if (e.rfind("fuzz.onnx: ", 0) != 0 || e.find('\n') != std::string::npos) std::abort();
}

// Multiply-adds of one forward pass, roughly: each node's output times the window it reads.
// Inputs above the budget are imported and planned but not run, so no input nears libFuzzer's
// timeout; the engine's own limits (ModelLimits) allow far more.
bool small_enough_to_run(const gradcam::Graph& g) {
  constexpr int64_t kMaxWork = int64_t(1) << 22, kMaxActivations = int64_t(1) << 18;
  if (g.nodes.size() > 64) return false;
  int64_t work = 0, activations = 0;
  for (const gradcam::Value& v : g.values) activations += v.shape.size();
  for (const gradcam::Node& n : g.nodes) {
    const gradcam::Shape& in = g.value(n.inputs[0]).shape;
    const int64_t out = g.value(n.output).shape.size();
    const bool dense = n.op_type == "Gemm" || n.op_type == "MatMul";
    work += dense ? out * in.size() : out * int64_t(n.attrs.kh) * n.attrs.kw * (n.op_type == "Conv" ? in.c / n.attrs.groups : 1);
  }
  return work <= kMaxWork && activations <= kMaxActivations;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gradcam::onnx;
  (void)looks_like_onnx(data, size);
  auto m = read_model(data, size, "fuzz.onnx");
  if (!m.ok()) {
    check_error(m.error());
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

  // The importer, at a small --size when the input's height and width are dynamic.
  bool dynamic = false;
  for (const ValueInfo& v : m->inputs)
    for (size_t d = 2; d < v.dims.size(); ++d) dynamic = dynamic || v.dims[d] < 1;
  auto model = gradcam::load_onnx_model(data, size, "fuzz.onnx", gradcam::OnnxOptions{dynamic ? 8 : 0});
  if (!model.ok()) {
    check_error(model.error());
    return 0;
  }
  const gradcam::Graph& g = *model->graph;
  if (!small_enough_to_run(g)) return 0;
  gradcam::Network net(*model);
  std::vector<float> input(size_t(g.values[0].shape.size()));
  for (size_t i = 0; i < input.size(); ++i) input[i] = float(i % 7) * 0.25f - 0.5f;
  net.forward(input.data());
  std::vector<float> seed(size_t(net.num_classes()), 0.f);
  seed[0] = 1.f;
  const int layer = g.default_layer;
  net.backward(seed.data(), -1);
  net.backward(seed.data(), layer, gradcam::ReluBackward::guided);
  return 0;
}
