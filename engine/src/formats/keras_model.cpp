// From what a Keras reader found (a KerasFile: the native HDF5 reader, the JS API's manifest) to
// a model: every reader ends here, so each format maps layers and weights the same way.
#include "gradcam/keras.h"

namespace gradcam {

Result<Architecture> keras_architecture(const KerasFile&, const Architecture* override_arch) {
  if (override_arch) return *override_arch;
  return seed_architecture();
}

// A Keras config the person gave replaces the file's model_config; an architecture JSON the person
// gave (or, for a weights-only file, the seed network) takes the tensors matched onto its layers.
Result<Model> load_keras_file(KerasFile file, const std::string& source, const KerasArch* given) {
  if (given && !given->model_config.empty()) file.model_config = given->model_config;
  const Architecture* override_arch = given && given->arch ? &*given->arch : nullptr;
  if (!override_arch && !file.model_config.empty()) return import_keras_model(file, source, given ? given->size : 0);
  auto arch = keras_architecture(file, override_arch);
  if (!arch) return make_error(source + ": " + arch.error());
  return model_from_keras(*arch, file, source);
}

}  // namespace gradcam
