// Built when CMake found no CUDA compiler: the CUDA backend reports itself unavailable.
#include "backend.h"

namespace trainer {

bool cuda_compiled() { return false; }
bool cuda_device_present() { return false; }

gradcam::Result<std::unique_ptr<Backend>> make_cuda_backend(const Plan&, int, bool) {
  return gradcam::make_error("this trainer was built without CUDA (CMake found no nvcc); use --backend cpu");
}

}  // namespace trainer
