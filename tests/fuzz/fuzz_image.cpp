// libFuzzer target: the image decoder and the reduction to the model's input.
#include <cstddef>
#include <cstdint>

#include "gradcam/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto img = gradcam::decode_image(data, size);
  if (img.ok()) {
    for (auto mode : {gradcam::CropMode::center, gradcam::CropMode::squash, gradcam::CropMode::letterbox})
      (void)gradcam::image_to_input(*img, 32, 32, mode, 1.f / 255.f);
  }
  return 0;
}
