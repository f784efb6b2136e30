// What a front end asks the engine for, parsed in one place. The CLI's options, the JS API's
// options object, the page's URL fragment and the widget's attributes all arrive as key/value
// text and go through parse_request, so a key means the same everywhere and a mistyped key or a
// malformed value gets the same message everywhere.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "gradcam/methods.h"
#include "gradcam/colormap.h"
#include "gradcam/graph.h"
#include "gradcam/image.h"

namespace gradcam {

struct ExplainRequest {
  ExplainOptions options;               // layer, method, target, score, samples, steps, baseline, window, stride, eigen_smooth, aug_smooth
  CropMode crop = CropMode::center;     // how the image becomes the model's input
  Colormap colormap = Colormap::turbo;  // rendering: perceptually ordered, unlike jet
  float alpha = 0.45f;                  // rendering: the map's opacity over the image
};

// The keys a request takes, in the order help texts list them:
// layer, method, target, score, crop, colormap, alpha, samples, steps, baseline, window, stride,
// eigen-smooth, aug-smooth.
const std::vector<std::string>& request_keys();
// Keys whose value is "true" or "false": a front end with switches (the CLI's --eigen-smooth)
// gives "true" when the switch is present.
bool request_key_is_switch(const std::string& key);

// Sets one key from its text (model.graph must be planned: an Engine's model is). Errors name the key as the front end spells it (`key_prefix` "--"
// for the CLI) and list what is valid.
Status set_request_field(ExplainRequest& request, const Model& model, const std::string& key,
                         const std::string& value, const std::string& key_prefix = "");

// A whole request; keys not given keep their defaults, an unknown key is an error listing the keys.
Result<ExplainRequest> parse_request(const Model& model,
                                     const std::vector<std::pair<std::string, std::string>>& fields,
                                     const std::string& key_prefix = "");

}  // namespace gradcam
