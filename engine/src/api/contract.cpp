// The one reader of numbers and of load options (contract.h). Explain requests are request.cpp's;
// evaluate options evaluation.cpp's.
#include "gradcam/contract.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

namespace gradcam {

using json = nlohmann::json;

namespace {

// What a float holds: a per-channel mean or std beyond it would become infinite.
constexpr double kFloatMax = std::numeric_limits<float>::max();

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Result<long long> read_integer(const std::string& key, const std::string& text, long long lo, long long hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str() || *end || errno == ERANGE || v < lo || v > hi)
    return make_error(key + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                      " (got \"" + text + "\")");
  return v;
}

Result<double> read_real(const std::string& key, const std::string& text, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end || !std::isfinite(v) || !(v >= lo && v <= hi))
    return make_error(key + " must be a number from " + number_text(lo) + " to " + number_text(hi) + " (got \"" + text + "\")");
  return v;
}

Result<std::vector<float>> read_real_list(const std::string& key, const std::string& text) {
  std::vector<float> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    auto v = read_real(key, text.substr(pos, end - pos), -kFloatMax, kFloatMax);
    if (!v) return make_error(key + " takes numbers separated by commas, e.g. 0.485,0.456,0.406 (got \"" + text + "\")");
    out.push_back(float(*v));
    pos = end + 1;
  }
  return out;
}

Result<OptionFields> option_fields(const std::string& json_object, const std::vector<std::string>& list_keys) {
  const json o = json::parse(json_object.empty() ? "{}" : json_object, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return make_error("options must be an object");
  OptionFields fields;
  for (auto it = o.begin(); it != o.end(); ++it) {
    const json& v = it.value();
    if (v.is_null()) continue;  // undefined in JS: the default
    if (v.is_string()) fields.emplace_back(it.key(), v.get<std::string>());
    else if (v.is_boolean()) fields.emplace_back(it.key(), v.get<bool>() ? "true" : "false");
    else if (v.is_number()) fields.emplace_back(it.key(), v.dump());
    else if (std::find(list_keys.begin(), list_keys.end(), it.key()) == list_keys.end())
      return make_error(it.key() + " must be a string or a number, not " + v.dump());
    else if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); }))
      fields.emplace_back(it.key(), names_text(v.get<std::vector<std::string>>(), ","));
    else return make_error(it.key() + " must be a list of names, not " + v.dump());
  }
  return fields;
}

// ---- Loading ----

const std::vector<std::string>& load_option_keys() {
  static const std::vector<std::string> keys = {"mean", "std", "labels", "size", "threads"};
  return keys;
}

namespace {

// 0 means "not given" (the file's own size); a person gives 1..4096.
constexpr long long kMaxInputSide = 4096;

}  // namespace

Status set_load_option(LoadOptions& o, const std::string& key, const std::string& value, const std::string& prefix) {
  const std::string named = prefix + key;
  if (key == "mean" || key == "std") {
    auto v = read_real_list(named, value);
    if (!v) return make_error(v.error());
    (key == "mean" ? o.mean : o.std) = std::move(*v);
    return {};
  }
  if (key == "size") {
    auto v = read_integer(named, value, 1, kMaxInputSide);
    if (!v) return make_error(v.error());
    o.size = int(*v);
    return {};
  }
  if (key == "threads") {
    auto v = read_integer(named, value, 1, kMaxThreads);
    if (!v) return make_error(v.error());
    o.threads = int(*v);
    return {};
  }
  if (key == "labels") {
    auto labels = parse_labels(value, named);
    if (!labels) return make_error(labels.error());
    o.labels = std::move(*labels);
    return {};
  }
  return make_error("unknown option " + named + " (valid: " + names_text(load_option_keys(), ", ", prefix) + ")");
}

Status check_load_options(const LoadOptions& o, const std::string& prefix) {
  const std::string mean = prefix + "mean", std = prefix + "std";
  if (o.mean.empty() != o.std.empty())
    return make_error(mean + " and " + std + " go together (torchvision: x = (pixel/255 - mean) / std)");
  if (!o.mean.empty() && (o.mean.size() != 3 || o.std.size() != 3))
    return make_error(mean + " and " + std + " need 3 values each (R,G,B: every model's input is RGB), got " +
                      std::to_string(o.mean.size()) + " and " + std::to_string(o.std.size()));
  for (float s : o.std)
    if (!(s > 0)) return make_error(std + " must be positive");
  return {};
}

Result<LoadOptions> parse_load_options(const std::string& options_json) {
  LoadOptions o;
  const json j = json::parse(options_json.empty() ? "{}" : options_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("model options must be an object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    if (v.is_null()) continue;
    if ((k == "mean" || k == "std") && v.is_string()) {  // the CLI's and the widget's text: "r,g,b"
      if (Status s = set_load_option(o, k, v.get<std::string>()); !s) return make_error(s.error());
    } else if (k == "mean" || k == "std") {
      std::vector<float>& out = k == "mean" ? o.mean : o.std;
      const bool numbers = v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number(); });
      if (!numbers)
        return make_error(k + " must be an array of numbers, one per channel (e.g. [0.485, 0.456, 0.406]) or their text " +
                          "(\"0.485,0.456,0.406\"), not " + v.dump());
      for (const json& x : v) {
        auto value = read_real(k, x.dump(), -kFloatMax, kFloatMax);  // as JSON wrote it: 1e39 is out of range
        if (!value) return make_error(value.error());
        out.push_back(float(*value));
      }
    } else if (k == "labels" && v.is_string()) {
      if (Status s = set_load_option(o, k, v.get<std::string>()); !s) return make_error(s.error());
    } else if (k == "labels") {
      bool names = v.is_array();
      if (names)
        for (const json& x : v) names = names && x.is_string();
      if (!names) return make_error("labels must be an array of strings or the text of a labels file");
      o.labels = v.get<std::vector<std::string>>();
    } else if (k == "size" || k == "threads") {
      // A JSON number as JSON writes it: 4e80 is out of range, not converted.
      if (Status s = set_load_option(o, k, v.is_string() ? v.get<std::string>() : v.dump()); !s) return make_error(s.error());
    } else {
      return make_error("unknown model option \"" + k + "\" (valid: " + names_text(load_option_keys()) + ")");
    }
  }
  if (Status s = check_load_options(o); !s) return make_error(s.error());
  return o;
}

}  // namespace gradcam
