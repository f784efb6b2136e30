// Training recipes, selected by --recipe and adjustable by flags.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "dataset.h"
#include "optimizer.h"

namespace trainer {

struct Recipe {
  std::string name;
  int epochs = 0, batch = 0;
  OptimizerConfig optimizer;
  float lr = 1e-3f;
  ScheduleKind schedule = ScheduleKind::constant;
  float warmup_epochs = 0;
  float label_smoothing = 0;
  Augment augment;
};

// "seed": the Keras tutorial exactly: RMSprop(lr 1e-3, rho 0.9, eps 1e-7), batch 512, 150 epochs,
// categorical cross-entropy, no augmentation.
// "best": AdamW with linear warm-up and cosine decay, label smoothing 0.1, random crop + flip.
gradcam::Result<Recipe> recipe_by_name(const std::string& name);
nlohmann::json recipe_to_json(const Recipe& r);

}  // namespace trainer
