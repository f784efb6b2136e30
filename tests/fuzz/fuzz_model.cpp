// libFuzzer target: the safetensors + architecture reader. Any bytes must give a model or an error,
// never a crash, a hang or an allocation sized by an unchecked number.
#include <cstddef>
#include <cstdint>

#include "gradcam/model.h"
#include "gradcam/network.h"

namespace {
// Multiply-accumulates of one forward pass. A valid file may ask for a network that takes minutes
// under ASan (a 4096x4096 input is within the limits); that is heavy work, not a bug, so the target
// only runs networks below a fixed budget and the fuzz run's result cannot depend on the machine's load.
double forward_macs(const gradcam::Architecture& arch) {
  double macs = 0;
  for (const gradcam::LayerSpec& l : arch.layers) {
    if (l.type == gradcam::LayerType::conv2d)
      macs += double(l.output.size()) * l.kernel_h * l.kernel_w * l.input.c;
    else if (l.type == gradcam::LayerType::dense)
      macs += double(l.output.size()) * double(l.input.size());
    else
      macs += double(l.input.size()) * (l.pool_h > 0 ? l.pool_h * l.pool_w : 1);
  }
  return macs;
}
constexpr double kMaxForwardMacs = 5e7;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = gradcam::load_model(data, size, "fuzz");
  if (m.ok() && forward_macs(m->arch) <= kMaxForwardMacs) {
    // A model that loads must also plan and run.
    gradcam::Network net(*m);
    std::vector<float> input(size_t(m->arch.height) * m->arch.width * m->arch.channels, 0.5f);
    net.forward(input.data());
  }
  return 0;
}
