// libFuzzer target: Keras files. HDF5 bytes go through the native reader (libhdf5, then the mapping
// onto a small fixed architecture and onto the file's own model_config), zip bytes through the
// .keras archive reader; any other bytes are read as
// the two JSON texts the engine takes from outside, a Keras model_config and the JS API's manifest.
// Any input must give a model or an error, never a crash or an allocation sized by an unchecked
// number. Work is bounded by the input: every tensor read must match a shape of the architecture.
// Seed corpus: tests/fuzz/make_keras_corpus.py.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (gradcam::is_hdf5(data, size)) {
    (void)gradcam::load_keras_hdf5(data, size, "fuzz.h5", &tiny());
    (void)gradcam::load_keras_hdf5(data, size, "fuzz.h5");
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
