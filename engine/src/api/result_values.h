// The JSON values that result_json.cpp writes, for the api/ code that puts them inside a larger
// document (the metric table's evaluation): built once as values, not written out and read back.
#pragma once
#include <nlohmann/json.hpp>

#include "gradcam/metrics.h"

namespace gradcam {

// {"fraction", "probability", "auc"}: what curve_json writes.
nlohmann::json curve_value(const Curve& curve);
// {"fraction", "morf", "lerf", "morf_mean", "lerf_mean"}.
nlohmann::json road_value(const RoadResult& road);

}  // namespace gradcam
