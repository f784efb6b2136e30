// libFuzzer target: the whole explain path, image bytes in, result out. The first byte picks the
// method, the second the layer and the third the target, so every method is reached.
#include <cstddef>
#include <cstdint>

#include "gradcam/engine.h"

namespace {
// The seed network with a quarter of its channels. Score-CAM runs one forward pass per channel of
// the explained layer (128 at conv2d_1 of the full network: about a minute under ASan on a loaded
// machine), so the full network would make the run's outcome depend on load. Every layer type,
// padding and kernel path is still reached; only the widths shrink. AblationCAM's one pass per
// channel runs only the layers after the explained one, so it stays under Score-CAM's cost (at most
// 32 channels here); ShapleyCAM adds two such passes, FullGrad one backward.
gradcam::Model narrow_seed_model() {
  gradcam::Architecture arch = gradcam::seed_architecture();
  for (size_t i = 0; i + 1 < arch.layers.size(); ++i) {
    gradcam::LayerSpec& l = arch.layers[i];
    if (l.type == gradcam::LayerType::conv2d || l.type == gradcam::LayerType::dense) l.filters = l.filters / 4;
  }
  if (!gradcam::check_architecture(arch)) __builtin_trap();
  return gradcam::random_model(arch, 1);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static gradcam::Engine engine(narrow_seed_model());
  if (size < 3) return 0;
  auto img = gradcam::decode_image(data + 3, size - 3);
  if (!img.ok()) return 0;
  const auto& methods = gradcam::all_methods();
  gradcam::ExplainOptions o;
  o.method = methods[data[0] % methods.size()];
  std::vector<int> conv;
  for (int i = 0; i < int(engine.arch().layers.size()); ++i)
    if (engine.arch().layers[size_t(i)].type == gradcam::LayerType::conv2d) conv.push_back(i);
  o.layer = conv[data[1] % conv.size()];
  o.target = data[2] % 11 == 10 ? -1 : data[2] % 10;
  o.smoothgrad_samples = 2;
  // The methods that run the network per step, sample or window, bounded so a run stays fast:
  // 2 quadrature points, 2 GradientSHAP draws, 4 occlusion windows on the 32x32 input.
  o.ig_steps = 2;
  o.gradient_shap_samples = 2;
  o.occlusion_window = o.occlusion_stride = 16;
  auto input = engine.prepare(*img, gradcam::CropMode(data[2] % int(gradcam::CropMode::count)));
  auto e = engine.explain(input, o);
  if (e.ok()) {
    auto ov = gradcam::overlay_on_source(*img, e->cam.values.data(), e->cam.height, e->cam.width, 32, 32,
                                         gradcam::CropMode(data[2] % int(gradcam::CropMode::count)), gradcam::Colormap(data[1] % int(gradcam::Colormap::count)), 0.5f);
    (void)ov;
  }
  return 0;
}
