// The architecture a person gives a Keras weights file (--arch, the JS API's `arch`): this
// project's architecture JSON, or a Keras config as Keras writes it beside the weights (Keras 3's
// config.json out of a .keras archive, Keras 2's model.to_json()). A Keras config always names its
// model's class at the top ({"class_name": "Sequential" | "Functional" | "Model", "config": ...},
// keras/src/saving/serialization_lib.py serialize_keras_object); the project's JSON never does.
#include <nlohmann/json.hpp>

#include "gradcam/keras.h"

namespace gradcam {

Result<KerasArch> parse_keras_arch(const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("not a JSON object (an architecture JSON or a Keras config)");
  KerasArch out;
  if (j.contains("class_name")) {
    if (!j["class_name"].is_string() || !j.contains("config"))
      return make_error("a Keras config needs \"class_name\" (text) and \"config\", as model.to_json() writes them");
    out.model_config = text;
    return out;
  }
  auto arch = parse_architecture(text);
  if (!arch) return make_error(arch.error());
  out.arch = std::move(arch.value());
  return out;
}

}  // namespace gradcam
