// The explain options of explain and batch: the engine's request keys as --key value (the switches
// --eigen-smooth and --aug-smooth as flags), parsed by the engine's one request parser (the JS API and the page use the same one).
#include "cli.h"

namespace gradcam::cli {

ExplainSettings explain_settings(const Args& a, const Model& model) {
  std::vector<std::pair<std::string, std::string>> fields;
  for (const std::string& key : request_keys())
    if (a.has(key)) fields.emplace_back(key, request_key_is_switch(key) ? "true" : a.get(key));
  return unwrap_usage(parse_request(model, fields, "--"));
}

void add_request_options(CommandOptions& options) {
  for (const std::string& key : request_keys())
    (request_key_is_switch(key) ? options.flags : options.values).push_back(key);
}

}  // namespace gradcam::cli
