#include "recipe.h"

namespace trainer {

gradcam::Result<Recipe> recipe_by_name(const std::string& name) {
  Recipe r;
  r.name = name;
  if (name == "seed") {
    r.epochs = 150;
    r.batch = 512;
    r.optimizer.kind = OptimizerKind::rmsprop;
    r.optimizer.rho = 0.9f;
    r.optimizer.epsilon = 1e-7f;
    r.lr = 1e-3f;
  } else if (name == "best") {
    r.epochs = 30;
    r.batch = 128;
    r.optimizer.kind = OptimizerKind::adamw;
    r.optimizer.epsilon = 1e-7f;
    r.optimizer.weight_decay = 0.05f;
    r.lr = 2e-3f;
    r.schedule = ScheduleKind::warmup_cosine;
    r.warmup_epochs = 2;
    r.label_smoothing = 0.1f;
    r.augment.enabled = true;
  } else {
    return gradcam::make_error("unknown recipe \"" + name + "\" (seed, best)");
  }
  return r;
}

nlohmann::json recipe_to_json(const Recipe& r) {
  nlohmann::json j;
  j["name"] = r.name;
  j["epochs"] = r.epochs;
  j["batch"] = r.batch;
  j["optimizer"] = r.optimizer.kind == OptimizerKind::rmsprop ? "rmsprop" : "adamw";
  if (r.optimizer.kind == OptimizerKind::rmsprop) {
    j["rho"] = r.optimizer.rho;
  } else {
    j["beta1"] = r.optimizer.beta1;
    j["beta2"] = r.optimizer.beta2;
    j["weight_decay"] = r.optimizer.weight_decay;
  }
  j["epsilon"] = r.optimizer.epsilon;
  j["lr"] = r.lr;
  j["schedule"] = r.schedule == ScheduleKind::constant ? "constant" : "warmup_cosine";
  j["warmup_epochs"] = r.warmup_epochs;
  j["label_smoothing"] = r.label_smoothing;
  j["augment"] = r.augment.enabled ? nlohmann::json{{"random_crop_pad", r.augment.pad}, {"flip", r.augment.flip}}
                                   : nlohmann::json(false);
  return j;
}

}  // namespace trainer
