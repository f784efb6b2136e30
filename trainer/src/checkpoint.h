// Checkpoints for --resume: the training state (parameters, optimiser moments) and the counters
// and history as JSON, in one file written atomically (temporary file, then rename).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "backend.h"

namespace trainer {

// Layout: "GCTRAIN1", u64 little-endian JSON length, JSON, then params, m, v as float32.
gradcam::Status save_checkpoint(const std::string& path, const nlohmann::json& info, const TrainState& state);
gradcam::Status load_checkpoint(const std::string& path, int64_t num_params, nlohmann::json& info,
                                TrainState& state);

}  // namespace trainer
