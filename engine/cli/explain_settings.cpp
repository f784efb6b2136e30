// The explain options of explain and batch: the engine's request keys as --key value, parsed by
// the engine's one request parser (the JS API and the page use the same one).
#include "cli.h"

namespace gradcam::cli {

ExplainSettings explain_settings(const Args& a, const Model& model) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const std::string& key : request_keys())
    if (a.has(key)) fields.emplace_back(key, a.get(key));
  return unwrap_usage(parse_request(model, fields, "--"));
}

}  // namespace gradcam::cli
