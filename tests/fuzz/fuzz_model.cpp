// libFuzzer target: the safetensors + architecture reader. Any bytes must give a model or an error,
// never a crash, a hang or an allocation sized by an unchecked number.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "gradcam/model.h"
#include "gradcam/network.h"

namespace {
// Multiply-accumulates of one forward pass. A valid file may ask for a network that takes minutes
// under ASan (a 4096x4096 input is within the limits); that is heavy work, not a bug, so the target
// only runs networks below a fixed budget and the fuzz run's result cannot depend on the machine's load.
// Per output value: a conv's or dense's kernel values per output channel, a pooling window's size.
double forward_macs(const gradcam::Graph& g) {
  double macs = 0;
  for (const gradcam::Node& n : g.nodes) {
    const gradcam::Shape& out = g.value(n.output).shape;
    const double per_output = !n.weights.empty() ? double(n.weights[0].size()) / out.c
                                                 : std::max(1.0, double(n.attrs.kh) * n.attrs.kw);
    macs += double(out.size()) * per_output;
  }
  return macs;
}
constexpr double kMaxForwardMacs = 5e7;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = gradcam::load_model(data, size, "fuzz");
  if (m.ok() && forward_macs(*gradcam::model_graph(*m)) <= kMaxForwardMacs) {
    // A model that loads must also plan and run.
    gradcam::Network net(*m);
    std::vector<float> input(size_t(m->arch.height) * m->arch.width * m->arch.channels, 0.5f);
    net.forward(input.data());
  }
  return 0;
}
