// The contract between the engine and its front ends, beside request.h (explain requests): every
// other option set (loading a model, evaluating a map) parsed once, through one checked reader of
// numbers, with messages that name the key as the front end spells it (`prefix`: "--" for the
// CLI) and the valid range. Front ends add their own context in front ("loadEngine: ",
// `mean="..." ` for a widget attribute) and never re-check a value themselves.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "gradcam/engine.h"
#include "gradcam/metrics.h"
#include "gradcam/request.h"

namespace gradcam {

// ---- Numbers: the one reader. ----
// A whole decimal number in [lo, hi]: "samples must be a whole number from 1 to 1000 (got "2.5")".
Result<long long> read_integer(const std::string& key, const std::string& text, long long lo, long long hi);
// A finite number in [lo, hi]: "alpha must be a number from 0 to 1 (got "2")".
Result<double> read_real(const std::string& key, const std::string& text, double lo, double hi);
// Finite numbers separated by commas ("0.485,0.456,0.406").
Result<std::vector<float>> read_real_list(const std::string& key, const std::string& text);

// An options object from JSON as key/value text: strings as they are, numbers as JSON writes them
// (so 4e80 reaches read_integer as "4e+80" and is refused by range, never converted), booleans as
// "true"/"false", and for `list_keys` a list of names as the CLI writes it ("deletion,road"); null
// means absent and is left out. Other values are errors naming the key.
using OptionFields = std::vector<std::pair<std::string, std::string>>;
Result<OptionFields> option_fields(const std::string& json_object, const std::vector<std::string>& list_keys = {});

// ---- Loading: LoadOptions (engine.h). ----
// The keys, in the order help texts list them: mean, std, labels, size, threads.
const std::vector<std::string>& load_option_keys();
// One key from text, as the CLI's flags and the widget's attributes give it: mean and std as
// numbers separated by commas, size and threads whole numbers, labels the text of a labels file.
Status set_load_option(LoadOptions& options, const std::string& key, const std::string& value,
                       const std::string& prefix = "");
// What holds between the keys: mean and std together, three each (R,G,B: every format's input is
// RGB), std positive.
Status check_load_options(const LoadOptions& options, const std::string& prefix = "");
// parse_load_options (engine.h) reads the JSON form: {"mean": [r,g,b] or "r,g,b", "std": the same,
// "labels": [names] or a labels file's text, "size": N, "threads": N}, through the same readers and checks.

// ---- Evaluating a map: the faithfulness metrics of metrics.h, by name. ----
// Every metric's name, in the order results list them (the metric table in engine/src/api/
// evaluation.cpp: adding a metric is its function in metrics/ and a row there).
const std::vector<std::string>& metric_names();
struct EvaluateOptions {
  std::vector<std::string> metrics = metric_names();  // which ones (default all), table order
  int steps = 32;                                     // deletion / insertion curve points
  CropMode crop = CropMode::center;                   // how the image became the input
};
// {"metrics": [names] or "a,b", "steps": N, "crop": mode}; unknown keys and metrics are errors.
Result<EvaluateOptions> parse_evaluate_options(const std::string& options_json);
// Runs the chosen metrics on the map for `target` and writes {deletion: {fraction, probability,
// auc}, insertion: {...}, road: {fraction, morf, lerf, morf_mean, lerf_mean}, confidence_change}
// (only those chosen). The network is left holding `input`'s activations.
std::string evaluation_json(Network& net, const float* input, const Map& map, int target, const EvaluateOptions& options);
// The one number per metric (two for ROAD) that a table of methods compares, e.g. the CLI's
// `evaluate`: its column name ("deletion_auc"), its short label and which way is better.
struct MetricSummary {
  const char* name;
  const char* label;
  bool lower_is_better;
};
// Every metric's summaries, in the metric table's order.
const std::vector<MetricSummary>& metric_summaries();
// Runs every metric on the map for `target` and returns the summaries' values, in that order.
std::vector<double> metric_summary_values(Network& net, const float* input, const Map& map, int target, int steps);

// ---- Results that are not an explanation (result_json.cpp). ----
// {"fraction", "probability", "auc"}.
std::string curve_json(const Curve& curve);
// {"original": map, "steps": [{"layer", "spearman", "ssim", "map"}]}, a map being {"height",
// "width", "values"}; without maps only the steps' numbers.
std::string sanity_check_json(const SanityCheck& check, bool maps = true);

// A parsed explain request: {"layer": node name, "method", "target": class index (-1: the top
// class), "score", "crop", "colormap", "alpha", "samples", "eigen_smooth"}.
std::string request_json(const Model& model, const ExplainRequest& request);

// Where an image of width x height lands in an input of input_width x input_height: {"src": the
// part of the image used, "dst": the part of the input it fills}, each [x0, y0, x1, y1] in [0, 1].
std::string crop_geometry_json(const CropGeometry& geometry, int width, int height, int input_width, int input_height);

// The names every front end lists, as `info` exports them: {"methods", "scores", "crops",
// "colormaps", "metrics", "ops"}.
std::string name_tables_json();

}  // namespace gradcam
