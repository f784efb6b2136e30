// The model-randomisation sanity check (Adebayo et al., NeurIPS 2018, Sec. 3, cascading
// randomisation from the top): see metrics.h.
#include "gradcam/metrics.h"

namespace gradcam {

Result<SanityCheck> sanity_check(const Model& model, const float* input, const ExplainOptions& options, uint64_t seed) {
  SanityCheck out;
  ExplainOptions fixed = options;
  {
    Network net(model);
    auto e = explain(net, input, options);
    if (!e) return make_error(e.error());
    out.original = e->cam;
    fixed.target = e->target;  // the same class at every step, not whatever the random net prefers
    fixed.layer = e->layer;
  }
  // Fresh weights from the same initialisation the trainer starts from.
  const Model fresh = random_model(model.arch, seed);
  Model randomised = model;
  for (int i = int(model.arch.layers.size()) - 1; i >= 0; --i) {
    const LayerSpec& l = model.arch.layers[size_t(i)];
    bool has_weights = false;
    for (const auto& [name, values] : fresh.params)
      if (name.compare(0, l.name.size() + 1, l.name + ".") == 0) {
        randomised.params[name] = values;
        has_weights = true;
      }
    if (!has_weights) continue;
    Network net(randomised);
    auto e = explain(net, input, fixed);
    if (!e) return make_error(e.error());
    SanityStep step;
    step.layer = l.name;
    step.spearman = spearman_correlation(out.original.values, e->cam.values);
    step.ssim = map_ssim(out.original.values, e->cam.values);
    step.map = std::move(e->cam);
    out.steps.push_back(std::move(step));
  }
  return out;
}

}  // namespace gradcam
