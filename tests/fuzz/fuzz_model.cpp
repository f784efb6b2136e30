// libFuzzer target: the safetensors + architecture reader. Any bytes must give a model or an error,
// never a crash, a hang or an allocation sized by an unchecked number.
#include <cstddef>
#include <cstdint>

#include "gradcam/model.h"
#include "gradcam/network.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = gradcam::load_model(data, size, "fuzz");
  if (m.ok()) {
    // A model that loads must also plan and run.
    gradcam::Network net(*m);
    std::vector<float> input(size_t(m->arch.height) * m->arch.width * m->arch.channels, 0.5f);
    net.forward(input.data());
  }
  return 0;
}
