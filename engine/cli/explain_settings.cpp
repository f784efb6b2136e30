// The explain options that explain and batch share, parsed once with the engine's own parsers.
#include <cstdlib>

#include "cli.h"

namespace gradcam::cli {

const std::vector<std::string> kExplainValueOptions = {"layer", "method", "target", "score",
                                                       "crop",  "colormap", "alpha", "samples"};

ExplainSettings explain_settings(const Args& a, const Architecture& arch) {
  ExplainSettings s;
  s.options.layer = unwrap_usage(find_conv_layer(arch, a.get("layer", "auto")));
  s.options.method = unwrap_usage(parse_method(a.get("method", "gradcam")));
  s.options.target = unwrap_usage(parse_target(arch, a.get("target", "auto")));
  s.options.score = unwrap_usage(parse_score(a.get("score", "logit")));
  s.crop = unwrap_usage(parse_crop_mode(a.get("crop", "center")));
  // turbo, as the page and the widget: perceptually ordered, unlike jet's bright cyan and yellow bands.
  s.colormap = unwrap_usage(parse_colormap(a.get("colormap", "turbo")));
  if (a.has("alpha")) {
    char* end = nullptr;
    std::string t = a.get("alpha");
    s.alpha = std::strtof(t.c_str(), &end);
    if (end == t.c_str() || *end || !(s.alpha >= 0 && s.alpha <= 1))
      throw UsageError{"--alpha must be a number from 0 to 1 (got \"" + t + "\")"};
  }
  s.options.smoothgrad_samples = int(a.integer("samples", s.options.smoothgrad_samples, 1, 1000));
  return s;
}

}  // namespace gradcam::cli
