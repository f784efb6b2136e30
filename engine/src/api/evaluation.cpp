// Evaluating a map: the metric table (name -> run, write, summarise), its options and its JSON.
// Adding a metric is its function in engine/src/metrics/ and a row here; the JS API, the CLI's
// `evaluate` (its columns) and `info` read this table.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/result_values.h"
#include "gradcam/contract.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

// A metric: its name, how it runs and writes its JSON, and its summaries: each the JSON field that
// holds it (nullptr: the metric's value is the number itself).
struct SummaryField {
  MetricSummary summary;
  const char* field;
};
struct MetricRow {
  const char* name;
  json (*run)(Network& net, const float* input, const Map& map, int target, int steps);
  std::vector<SummaryField> summaries;
};

const std::vector<MetricRow>& metric_table() {
  static const std::vector<MetricRow> table = {
      {"deletion", [](Network& n, const float* x, const Map& m, int t, int steps) { return curve_value(deletion_curve(n, x, m, t, steps)); },
       {{{"deletion_auc", "deletion", true}, "auc"}}},
      {"insertion", [](Network& n, const float* x, const Map& m, int t, int steps) { return curve_value(insertion_curve(n, x, m, t, steps)); },
       {{{"insertion_auc", "insertion", false}, "auc"}}},
      {"road",
       [](Network& n, const float* x, const Map& m, int t, int) { return road_value(road(n, x, m, t)); },
       {{{"road_morf", "ROAD MoRF", true}, "morf_mean"}, {{"road_lerf", "ROAD LeRF", false}, "lerf_mean"}}},
      {"confidence_change", [](Network& n, const float* x, const Map& m, int t, int) { return json(confidence_change(n, x, m, t)); },
       {{{"confidence_change", "conf. chg", false}, nullptr}}},
  };
  return table;
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const MetricRow& r : metric_table()) out.push_back(r.name);
    return out;
  }();
  return names;
}

Result<EvaluateOptions> parse_evaluate_options(const std::string& options_json) {
  auto fields = option_fields(options_json, {"metrics"});
  if (!fields) return make_error(fields.error());
  EvaluateOptions out;
  const std::vector<std::string>& all = metric_names();
  for (const auto& [key, value] : *fields) {
    if (key == "metrics") {
      std::vector<std::string> chosen;
      for (size_t pos = 0; pos <= value.size();) {
        size_t end = value.find(',', pos);
        if (end == std::string::npos) end = value.size();
        const std::string name = value.substr(pos, end - pos);
        if (std::find(all.begin(), all.end(), name) == all.end())
          return make_error("unknown metric \"" + name + "\" (valid: " + names_text(all) + ")");
        chosen.push_back(name);
        pos = end + 1;
      }
      out.metrics = std::move(chosen);
    } else if (key == "steps") {
      auto steps = read_integer("steps", value, 1, 4096);
      if (!steps) return make_error(steps.error());
      out.steps = int(*steps);
    } else if (key == "crop") {
      auto c = parse_crop_mode(value);
      if (!c) return make_error("crop: " + c.error());
      out.crop = *c;
    } else {
      return make_error("unknown option " + key + " (valid: metrics, steps, crop)");
    }
  }
  return out;
}

std::string evaluation_json(Network& net, const float* input, const Map& map, int target, const EvaluateOptions& options) {
  json j = json::object();
  for (const MetricRow& row : metric_table())
    if (std::find(options.metrics.begin(), options.metrics.end(), row.name) != options.metrics.end())
      j[row.name] = row.run(net, input, map, target, options.steps);
  return j.dump();
}

const std::vector<MetricSummary>& metric_summaries() {
  static const std::vector<MetricSummary> out = [] {
    std::vector<MetricSummary> v;
    for (const MetricRow& row : metric_table())
      for (const SummaryField& f : row.summaries) v.push_back(f.summary);
    return v;
  }();
  return out;
}

std::vector<double> metric_summary_values(Network& net, const float* input, const Map& map, int target, int steps) {
  std::vector<double> values;
  for (const MetricRow& row : metric_table()) {
    const json j = row.run(net, input, map, target, steps);
    for (const SummaryField& f : row.summaries) values.push_back(f.field ? j.at(f.field).get<double>() : j.get<double>());
  }
  return values;
}

}  // namespace gradcam
