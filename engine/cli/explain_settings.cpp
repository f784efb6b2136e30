// The explain options of explain and batch: the engine's request keys as --key value (a switch
// such as --eigen-smooth as a flag), parsed by
// the engine's one request parser (the JS API and the page use the same one).
#include "cli.h"

namespace gradcam::cli {

namespace {

// The request's one switch, spelled as a flag here: --aug-smooth means augSmooth true.
const std::pair<const char*, const char*> kAugSmooth = {"aug-smooth", "augSmooth"};

}  // namespace

void add_explain_options(CommandOptions& options) {
  for (const std::string& key : request_keys())
    if (key != kAugSmooth.second) options.values.push_back(key);
  options.flags.push_back(kAugSmooth.first);
}

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
