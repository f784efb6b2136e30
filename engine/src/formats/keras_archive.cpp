// A Keras 3 .keras archive (keras/src/saving/saving_lib.py): a zip holding config.json (the model's
// config, as a whole-model .h5's model_config) and model.weights.h5 (the .weights.h5 layout),
// stored as Keras writes them or deflated as a re-zipped archive has them (zip_archive.cpp).
#include "gradcam/keras.h"

namespace gradcam {

Result<Model> load_keras_archive(const uint8_t* bytes, size_t size, const std::string& source,
                                 const KerasArch* given) {
  if (size > ModelLimits::kMaxFileBytes) return make_error(source + ": " + "file is larger than the " + std::to_string(ModelLimits::kMaxFileBytes >> 20) + " MiB model limit");
  auto config = read_zip_entry(bytes, size, "config.json", ModelLimits::kMaxFileBytes);
  if (!config) return make_error(source + ": " + config.error());
  auto weights = read_zip_entry(bytes, size, "model.weights.h5", ModelLimits::kMaxFileBytes);
  if (!weights) return make_error(source + ": " + weights.error());
  const std::string text(reinterpret_cast<const char*>(config->data(bytes)), config->size);
  return load_keras_hdf5(weights->data(bytes), weights->size, source, given, &text);
}

}  // namespace gradcam
