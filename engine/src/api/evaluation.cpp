// Evaluating a map: the metric table (name -> run and write), its options and its JSON. Adding a
// metric is its function in engine/src/metrics/ and a row here; the JS API, the CLI's help and
// `info` read the names from this table.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "gradcam/contract.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

struct MetricRow {
  const char* name;
  json (*run)(Network& net, const float* input, const Map& map, int target, int steps);
};

json curve(const Curve& c) { return json::parse(curve_json(c)); }

const std::vector<MetricRow>& metric_table() {
  static const std::vector<MetricRow> table = {
      {"deletion", [](Network& n, const float* x, const Map& m, int t, int steps) { return curve(deletion_curve(n, x, m, t, steps)); }},
      {"insertion", [](Network& n, const float* x, const Map& m, int t, int steps) { return curve(insertion_curve(n, x, m, t, steps)); }},
      {"road",
       [](Network& n, const float* x, const Map& m, int t, int) {
         const RoadResult r = road(n, x, m, t);
         return json{{"fraction", r.fractions}, {"morf", r.morf}, {"lerf", r.lerf}, {"morf_mean", r.morf_mean},
                     {"lerf_mean", r.lerf_mean}};
       }},
      {"confidence_change", [](Network& n, const float* x, const Map& m, int t, int) { return json(confidence_change(n, x, m, t)); }},
  };
  return table;
}

std::string metrics_text() {
  std::string out;
  for (const std::string& m : metric_names()) out += (out.empty() ? "" : ", ") + m;
  return out;
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
  const json o = json::parse(options_json.empty() ? "{}" : options_json, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return make_error("options must be an object");
  EvaluateOptions out;
  for (auto it = o.begin(); it != o.end(); ++it) {
    const json& v = it.value();
    if (v.is_null()) continue;
    if (it.key() == "metrics") {
      if (!v.is_array() || v.empty()) return make_error("metrics must be a list of " + metrics_text());
      std::vector<std::string> chosen;
      for (const json& m : v) {
        const auto& all = metric_names();
        if (!m.is_string() || std::find(all.begin(), all.end(), m.get<std::string>()) == all.end())
          return make_error("unknown metric " + m.dump() + " (valid: " + metrics_text() + ")");
        chosen.push_back(m.get<std::string>());
      }
      out.metrics = std::move(chosen);
    } else if (it.key() == "steps") {
      auto steps = read_integer("steps", v.is_string() ? v.get<std::string>() : v.dump(), 1, 4096);
      if (!steps) return make_error(steps.error());
      out.steps = int(*steps);
    } else if (it.key() == "crop") {
      auto c = parse_crop_mode(v.is_string() ? v.get<std::string>() : v.dump());
      if (!c) return make_error("crop: " + c.error());
      out.crop = *c;
    } else {
      return make_error("unknown option " + it.key() + " (valid: metrics, steps, crop)");
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

}  // namespace gradcam
