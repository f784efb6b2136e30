// libFuzzer target: Keras files. HDF5 bytes go through the native reader as every native entry point
// uses it: libhdf5 in a child process (keras_hdf5_child.cpp; libhdf5 1.10.8 itself crashes on some
// corrupt files, regressions/keras/hdf5-vlen-global-heap-overlap.h5, and there that is an error),
// then the mapping onto a small fixed architecture and onto the file's own model_config. Where the
// child lived, the same read runs again in this process, where libFuzzer sees its coverage and the
// sanitizers its memory, and must give the same answer (the frame between the processes loses
// nothing). Zip bytes go through the .keras archive reader; any other bytes are read as the two
// JSON texts the engine takes from outside, a Keras model_config and the JS API's manifest.
// Any input must give a model or an error, never a crash or an allocation sized by an unchecked
// number. Work is bounded by the input: every tensor read must match a shape of the architecture.
// Seed corpus: tests/fuzz/make_keras_corpus.py.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/keras_hdf5_child.h"
#include "gradcam/keras.h"

namespace {
const gradcam::KerasArch& tiny() {
  static const gradcam::KerasArch a = *gradcam::parse_keras_arch(R"({"format":"gradcam-cnn","version":1,
    "input":{"height":8,"width":8,"channels":3},"classes":["0","1","2","3","4","5","6","7","8","9"],
    "layers":[{"type":"conv2d","name":"conv2d","filters":2,"kernel":[3,3],"activation":"relu"},
              {"type":"max_pool2d","name":"max_pooling2d"},{"type":"batch_norm","name":"batch_normalization"},
              {"type":"flatten","name":"flatten"},{"type":"dense","name":"dense","units":10,"activation":"softmax"}]})");
  return a;
}

bool same_read(const gradcam::Result<gradcam::KerasFile>& a, const gradcam::Result<gradcam::KerasFile>& b) {
  if (a.ok() != b.ok()) return false;
  if (!a.ok()) return a.error() == b.error();
  if (a->model_config != b->model_config || a->keras_version != b->keras_version || a->tensors.size() != b->tensors.size())
    return false;
  for (size_t i = 0; i < a->tensors.size(); ++i) {
    const gradcam::KerasTensor &x = a->tensors[i], &y = b->tensors[i];
    if (x.layer != y.layer || x.weight != y.weight || x.shape != y.shape || x.values.size() != y.values.size() ||
        (!x.values.empty() && std::memcmp(x.values.data(), y.values.data(), x.values.size() * sizeof(float)) != 0))
      return false;
  }
  return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (gradcam::is_hdf5(data, size)) {
    // One second of CPU time, far above any read of a 64 KiB input, ends the library's endless loops
    // (regressions/keras/hdf5-vlen-global-heap-endless-loop.h5) well before libFuzzer's -timeout.
    auto isolated = gradcam::read_keras_hdf5_isolated(data, size, "fuzz.h5", 1);
    if (isolated || isolated.error().find(gradcam::kHdf5LibraryFailed) == std::string::npos)
      if (!same_read(isolated, gradcam::read_keras_hdf5(data, size, "fuzz.h5"))) __builtin_trap();
    if (isolated) {
      (void)gradcam::load_keras_file(*isolated, "fuzz.h5", &tiny());
      (void)gradcam::load_keras_file(*isolated, "fuzz.h5", nullptr);
    }
    return 0;
  }
  if (gradcam::is_zip(data, size)) {
    (void)gradcam::load_keras_archive(data, size, "fuzz.keras", &tiny());
    return 0;
  }
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)gradcam::import_keras_model(gradcam::KerasFile{text, "", {}}, "fuzz");
  std::vector<float> values(64, 0.5f);
  (void)gradcam::load_keras_manifest(text, values.data(), values.size(), "", "fuzz");
  return 0;
}
