// The method table: every CAM method's id, label, paper, resolution and function. It is the only
// place a method is described; parse_method, the CLI's usage, `info` (and through it the page and
// the widget) and explain() all read it.
#include <algorithm>
#include <cctype>

#include "gradcam/methods.h"

namespace gradcam {

namespace {

using R = MapResolution;
constexpr MethodTable kMethods = {{
      {Method::gradcam, "gradcam", "Grad-CAM", "Selvaraju et al. 2017, arXiv 1610.02391, Eq. 1-2", R::layer,
       grad_cam, true, nullptr},
      {Method::gradcam_plusplus, "gradcam++", "Grad-CAM++", "Chattopadhyay et al. 2018, arXiv 1710.11063, Eq. 19",
       R::layer, grad_cam_plusplus, true, nullptr},
      {Method::xgradcam, "xgradcam", "XGrad-CAM", "Fu et al. 2020, arXiv 2008.02312, Eq. 9", R::layer, xgrad_cam,
       true, nullptr},
      {Method::hirescam, "hirescam", "HiResCAM", "Draelos & Carin 2020, arXiv 2011.08891, Eq. 4", R::layer,
       hires_cam, true, nullptr},
      {Method::layercam, "layercam", "LayerCAM", "Jiang et al. 2021, IEEE TIP 30, Eq. 5-6", R::layer, layer_cam,
       true, nullptr},
      {Method::scorecam, "scorecam", "Score-CAM", "Wang et al. 2020, arXiv 1910.01279, Alg. 1", R::layer, nullptr,
       false, score_cam},
      {Method::eigencam, "eigencam", "Eigen-CAM", "Muhammad & Yeasin 2020, arXiv 2008.00299, Eq. 5", R::layer,
       eigen_cam, false, nullptr},
      {Method::saliency, "saliency", "Saliency (gradient)", "Simonyan et al. 2014, arXiv 1312.6034, Sec. 3.1",
       R::input, nullptr, false, saliency_map},
      {Method::smoothgrad, "smoothgrad", "SmoothGrad", "Smilkov et al. 2017, arXiv 1706.03825, Eq. 1", R::input,
       nullptr, false, smooth_grad},
      {Method::guided_backprop, "guided-backprop", "Guided backprop", "Springenberg et al. 2015, arXiv 1412.6806",
       R::input, nullptr, false, guided_backprop},
      {Method::guided_gradcam, "guided-gradcam", "Guided Grad-CAM", "Selvaraju et al. 2017, arXiv 1610.02391, Sec. 3.1",
       R::input, nullptr, false, guided_grad_cam},
      {Method::random, "random", "Random (baseline)", "a baseline, as in Adebayo et al. 2018 and Rong et al. 2022 (seeded by the layer shape)",
       R::layer, random_cam, false, nullptr},
}};

// Row i describes Method(i): a Method value without a row (the array leaves it zero) or rows out of
// order fail here, at compile time, instead of falling back to Grad-CAM. (That each row names a way
// to compute it is a test: clang cannot compare a function's address with null in a constant.)
constexpr bool every_method_has_its_row() {
  for (size_t i = 0; i < kMethods.size(); ++i) {
    const MethodDescriptor& d = kMethods[i];
    if (size_t(d.id) != i || !d.name || !d.label || !d.paper) return false;
  }
  return true;
}
static_assert(every_method_has_its_row(), "the method table needs one row per Method value, in the enum's order");

}  // namespace

const MethodTable& method_table() { return kMethods; }

const NameTable<Method>& method_names() {
  static constexpr NameTable<Method> names = names_of<Method>(kMethods);
  return names;
}

const MethodDescriptor& method_descriptor(Method m) { return kMethods[size_t(m) < kMethods.size() ? size_t(m) : 0]; }

Result<Method> parse_method(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (n == "gradcampp" || n == "gradcam-plusplus" || n == "grad-cam++") n = "gradcam++";
  if (n == "grad-cam") n = "gradcam";
  for (const MethodDescriptor& d : method_table())
    if (n == d.name) return d.id;
  return make_error("unknown method \"" + name + "\" (known: " + names_text(method_names()) + ")");
}

const char* method_name(Method m) { return method_descriptor(m).name; }
const char* method_label(Method m) { return method_descriptor(m).label; }

const std::vector<Method>& all_methods() {
  static const std::vector<Method> v = [] {
    std::vector<Method> out;
    for (const MethodDescriptor& d : method_table()) out.push_back(d.id);
    return out;
  }();
  return v;
}

bool method_is_input_resolution(Method m) { return method_descriptor(m).resolution == MapResolution::input; }

}  // namespace gradcam
