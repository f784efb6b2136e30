// Class activation maps and gradient attributions. Each method is a small function named after its
// paper and a row of the method table; explain() runs the network once and hands activations and
// gradients to the chosen method.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradcam/image.h"
#include "gradcam/map.h"
#include "gradcam/name_table.h"
#include "gradcam/network.h"

namespace gradcam {

enum class Method {
  gradcam,          // Selvaraju et al. 2017, arXiv 1610.02391
  gradcam_plusplus, // Chattopadhyay et al. 2018, arXiv 1710.11063
  xgradcam,         // Fu et al. 2020, arXiv 2008.02312
  hirescam,         // Draelos & Carin 2020, arXiv 2011.08891
  layercam,         // Jiang et al. 2021, IEEE TIP 30
  scorecam,         // Wang et al. 2020, arXiv 1910.01279
  eigencam,         // Muhammad & Yeasin 2020, arXiv 2008.00299
  saliency,         // Simonyan et al. 2014, arXiv 1312.6034
  smoothgrad,       // Smilkov et al. 2017, arXiv 1706.03825
  guided_backprop,  // Springenberg et al. 2015, arXiv 1412.6806
  guided_gradcam,   // Selvaraju et al. 2017, Sec. 3.1
  random,           // pytorch-grad-cam's RandomCAM: random channel weights on the real activations
  gradcam_plusplus_paper,  // Grad-CAM++ exactly as the paper's Eq. 19 (no eps)
  gradcam_elementwise,     // pytorch-grad-cam's GradCAMElementWise
  eigengradcam,            // pytorch-grad-cam's EigenGradCAM
  segeigencam,             // Chung & Ying 2025, Appl. Sci. 15(13) 7562
  random_noise,            // a baseline: uniform noise at the layer's resolution (the floor of every metric)
  ablationcam,      // Desai & Ramaswamy 2020, WACV
  shapleycam,       // Cai et al. 2025, arXiv 2501.06261
  fullgrad,         // Srinivas & Fleuret 2019, arXiv 1905.00780
  kpcacam,          // Karmani et al. 2024, arXiv 2410.00267
  fem,              // Fuad et al. 2020, IPTA, hal-02963298
  finercam,         // Zhang et al. 2025, arXiv 2501.11309
  integrated_gradients,  // Sundararajan et al. 2017, arXiv 1703.01365 (Captum's IntegratedGradients)
  input_x_gradient,      // Shrikumar et al. 2016, arXiv 1605.01713 (Captum's InputXGradient)
  gradient_shap,         // Lundberg & Lee 2017, arXiv 1705.07874 (Captum's GradientShap)
  deconvolution,         // Zeiler & Fergus 2014, arXiv 1311.2901 (Captum's Deconvolution)
  occlusion,             // Zeiler & Fergus 2014, arXiv 1311.2901, Sec. 4.2 (Captum's Occlusion)
  count,            // not a method: the size of the method table, which has a row for each above
};
Result<Method> parse_method(const std::string& name);
const char* method_name(Method m);
const std::vector<Method>& all_methods();
// Methods whose map lives at the input's resolution rather than a conv layer's.
bool method_is_input_resolution(Method m);

// What is differentiated: the pre-softmax class score (the paper) or the softmax probability (what
// the Keras tutorial did).
enum class Score { logit, probability, count };
Result<Score> parse_score(const std::string& name);
const char* score_name(Score s);
inline constexpr NameTable<Score> kScoreNames = {"logit", "probability"};
static_assert(every_row_named(kScoreNames), "a Score value without a name");

// Pure per-method pieces (what pytorch-grad-cam calls get_cam_weights / get_cam_image), on one
// layer's activations A and gradients G, both hw x c (HWC). They return the raw map after ReLU.
// eigen_smooth (pytorch-grad-cam's option): the map is the first-principal-component projection of
// the per-channel weighted activations instead of their sum over channels; the methods that are
// already a projection (Eigen-CAM and its kin) and the noise baseline ignore it.
Map grad_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map grad_cam_plusplus(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map grad_cam_plusplus_paper(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map xgrad_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map hires_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map grad_cam_elementwise(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map layer_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
// pytorch-grad-cam's RandomCAM with channel weights random_channel_weights(h, w, c): uniform in
// [-1, 1], drawn by splitmix64 seeded with the layer's shape, so every run and build agrees.
Map random_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
std::vector<float> random_channel_weights(int h, int w, int c);
// A seeded random map at the layer's resolution: the floor a faithful method must beat. Seeded by
// the layer's shape, so it is the same in every run and build, and knows nothing of the image.
Map random_noise_map(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
// Eigen-CAM uses no gradient; G is ignored (the signature is the table's).
Map eigen_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map eigen_grad_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
Map seg_eigen_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
// KPCA-CAM: Eigen-CAM with kernel PCA (pytorch-grad-cam's defaults: sigmoid kernel
// tanh(<x,y>/c + 1), one component, sklearn's scaling and sign). The h w x h w kernel matrix
// costs O((h w)^2 c); its top eigenvector, Lanczos iterations of O((h w)^2) each. Already a
// projection: eigen_smooth is ignored.
Map kpca_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
// FEM: channels weighted by the share of their positions above mean + 2 std; no gradient.
Map fem_cam(const float* A, const float* G, int h, int w, int c, bool eigen_smooth = false);
// ReLU(sum_k w_k A^k) for given channel weights (shared by the weighted methods and ScoreCAM), or
// with eigen_smooth the ReLU of the first-component projection of w_k A^k.
Map weighted_channel_sum(const float* A, const float* weights, int h, int w, int c, bool eigen_smooth = false);
// ReLU of the sum over channels of X (hw x c), or with eigen_smooth of its projection.
Map combine_channels(const float* X, int h, int w, int c, bool eigen_smooth);
// X (hw x c) centred per channel and projected on its first principal component (pytorch-grad-cam's
// get_2d_projection). Its sign, which SVD leaves free, is the one that correlates positively with
// the centred channel sum.
std::vector<double> first_component_projection(const float* X, int h, int w, int c);

// The reference input an attribution is measured from (Integrated Gradients, GradientSHAP,
// Occlusion): black pixels, the image blurred (metrics.h's blurred_input), uniform noise pixels
// (seeded), or zero in the model's input space (Captum's default baseline; black only when the
// model's input scale maps a black pixel to 0).
enum class Baseline { black, blur, noise, zero, count };
inline constexpr NameTable<Baseline> kBaselineNames = {"black", "blur", "noise", "zero"};
static_assert(every_row_named(kBaselineNames), "a Baseline value without a name");
Result<Baseline> parse_baseline(const std::string& name);
const char* baseline_name(Baseline b);

struct ExplainOptions {
  int layer = -1;  // node index of an explainable layer (find_layer); -1: the default layer
  Method method = Method::gradcam;
  int target = -1;  // class index; -1: the top class
  Score score = Score::logit;
  int smoothgrad_samples = 25;
  float smoothgrad_sigma = 0.15f;  // noise std as a fraction of the input's range
  uint64_t seed = 1;               // SmoothGrad's noise, GradientSHAP's draws, the noise baseline
  bool eigen_smooth = false;       // layer maps: first principal component instead of the channel sum
  // pytorch-grad-cam's aug_smooth: the map averaged over test-time augmentations (methods/aug_smooth.cpp).
  bool aug_smooth = false;
  // Captum's defaults: IntegratedGradients n_steps = 50 (Gauss-Legendre), GradientShap n_samples = 5.
  int ig_steps = 50;
  int gradient_shap_samples = 5;
  // Not given: Integrated Gradients from black, GradientSHAP from black, blur and noise drawn at
  // random, Occlusion with zero (Captum's default). Given: that one baseline for each.
  std::optional<Baseline> baseline;
  // Occlusion's square window and stride in input pixels; 0: an eighth of the input's shorter side,
  // and half the window (Captum has no default; this keeps 15 x 15 windows at any input size).
  int occlusion_window = 0;
  int occlusion_stride = 0;
};

struct Explanation {
  std::vector<float> logits, probabilities;
  int target = 0;
  int layer = 0;           // index of the explained layer
  Shape layer_shape;       // its output shape
  Method method = Method::gradcam;
  Score score = Score::logit;
  Map cam;                 // raw map after ReLU, before normalisation
  // The signed per-pixel, per-channel attribution (HWC, input size) of the Captum-style methods
  // (integrated-gradients, input-x-gradient, gradient-shap, deconvolution, occlusion); empty for the others.
  std::vector<float> attribution;
  double forward_ms = 0, backward_ms = 0, cam_ms = 0;
};

// ---- The methods as a table: one descriptor per method (engine/src/methods/methods.cpp). ----
// Adding a method: a row in that table and one function; the CLI's usage, the page, the widget and
// `info` read ids, labels, papers and resolutions from here.

enum class MapResolution { layer, input };

// What a method that drives the network itself may use. The network has just run forward on
// `input`; a method that runs other passes must leave it holding this input's activations.
struct MethodContext {
  Network& net;
  const float* input;               // HWC, scaled
  int layer;                        // the explained conv layer
  int target;                       // class index
  const std::vector<float>& dscore; // d score / d logits for the target
  const ExplainOptions& options;
  double backward_ms = 0;           // time in backward passes, reported by the method
  std::vector<float> attribution;   // set by the methods with a signed per-channel attribution
};

struct MethodDescriptor {
  Method id;
  const char* name;   // as typed: --method, the JS API, the URL
  const char* label;  // as shown to people
  const char* paper;  // the paper and equation it implements
  MapResolution resolution;
  // Either a map from one layer's activations A and gradients G (hw x c each, HWC): such a method
  // can explain every layer from one backward pass (explain_all_layers) ...
  Map (*layer_map)(const float* A, const float* G, int h, int w, int c, bool eigen_smooth);
  bool needs_gradient;  // ... and unless false, G is computed first;
  // ... or a method that runs the network itself.
  Map (*run)(MethodContext& context);
};
// One row per Method value, in its order: a value without a row does not compile (kMethodTable).
using MethodTable = std::array<MethodDescriptor, size_t(Method::count)>;
const MethodTable& method_table();
// Every method's name, in the enum's order.
const NameTable<Method>& method_names();
const MethodDescriptor& method_descriptor(Method m);
const char* method_label(Method m);

// Methods that run the network themselves (engine/src/methods/score_cam.cpp, gradient_maps.cpp).
Map score_cam(MethodContext& context);
Map saliency_map(MethodContext& context);
Map smooth_grad(MethodContext& context);
Map guided_backprop(MethodContext& context);
Map guided_grad_cam(MethodContext& context);
// (ablation_cam.cpp, shapley_cam.cpp, full_grad.cpp)
Map ablation_cam(MethodContext& context);
Map shapley_cam(MethodContext& context);
Map full_grad(MethodContext& context);
Map finer_cam(MethodContext& context);
// Captum's attributions at the input (engine/src/methods/captum_attributions.cpp, occlusion.cpp).
Map integrated_gradients(MethodContext& context);
Map input_x_gradient(MethodContext& context);
Map gradient_shap(MethodContext& context);
Map deconvolution(MethodContext& context);
Map occlusion(MethodContext& context);

// The method table: every method's id, name, label, paper, resolution and function, one row per
// Method value. It is the only place a method is described; parse_method, the CLI's usage, `info`
// (and through it the page and the widget) and explain() all read it (method_table()). Adding a
// method is its function and, here, its id in the enum and its row.
inline constexpr MethodTable kMethodTable = {{
      {Method::gradcam, "gradcam", "Grad-CAM", "Selvaraju et al. 2017, arXiv 1610.02391, Eq. 1-2", MapResolution::layer,
       grad_cam, true, nullptr},
      {Method::gradcam_plusplus, "gradcam++", "Grad-CAM++", "Chattopadhyay et al. 2018, arXiv 1710.11063, Eq. 19",
       MapResolution::layer, grad_cam_plusplus, true, nullptr},
      {Method::xgradcam, "xgradcam", "XGrad-CAM", "Fu et al. 2020, arXiv 2008.02312, Eq. 9", MapResolution::layer, xgrad_cam,
       true, nullptr},
      {Method::hirescam, "hirescam", "HiResCAM", "Draelos & Carin 2020, arXiv 2011.08891, Eq. 4", MapResolution::layer,
       hires_cam, true, nullptr},
      {Method::layercam, "layercam", "LayerCAM", "Jiang et al. 2021, IEEE TIP 30, Eq. 5-6", MapResolution::layer, layer_cam,
       true, nullptr},
      {Method::scorecam, "scorecam", "Score-CAM", "Wang et al. 2020, arXiv 1910.01279, Alg. 1", MapResolution::layer, nullptr,
       false, score_cam},
      {Method::eigencam, "eigencam", "Eigen-CAM", "Muhammad & Yeasin 2020, arXiv 2008.00299, Eq. 5", MapResolution::layer,
       eigen_cam, false, nullptr},
      {Method::saliency, "saliency", "Saliency (gradient)", "Simonyan et al. 2014, arXiv 1312.6034, Sec. 3.1",
       MapResolution::input, nullptr, false, saliency_map},
      {Method::smoothgrad, "smoothgrad", "SmoothGrad", "Smilkov et al. 2017, arXiv 1706.03825, Eq. 1", MapResolution::input,
       nullptr, false, smooth_grad},
      {Method::guided_backprop, "guided-backprop", "Guided backprop", "Springenberg et al. 2015, arXiv 1412.6806",
       MapResolution::input, nullptr, false, guided_backprop},
      {Method::guided_gradcam, "guided-gradcam", "Guided Grad-CAM", "Selvaraju et al. 2017, arXiv 1610.02391, Sec. 3.1",
       MapResolution::input, nullptr, false, guided_grad_cam},
      {Method::random, "random", "RandomCAM", "pytorch-grad-cam's RandomCAM (2021): random channel weights, a baseline as in Adebayo et al. 2018",
       MapResolution::layer, random_cam, false, nullptr},
      {Method::gradcam_plusplus_paper, "gradcam++-paper", "Grad-CAM++ (paper)",
       "Chattopadhyay et al. 2018, arXiv 1710.11063, Eq. 19 without eps", MapResolution::layer, grad_cam_plusplus_paper, true,
       nullptr},
      {Method::gradcam_elementwise, "gradcam-elementwise", "Grad-CAM element-wise",
       "pytorch-grad-cam's GradCAMElementWise (Gildenblat 2022), HiResCAM with a ReLU per element", MapResolution::layer,
       grad_cam_elementwise, true, nullptr},
      {Method::eigengradcam, "eigengradcam", "EigenGrad-CAM",
       "pytorch-grad-cam's EigenGradCAM (Gildenblat 2021), Eigen-CAM (arXiv 2008.00299) on G (.) A", MapResolution::layer,
       eigen_grad_cam, true, nullptr},
      {Method::segeigencam, "segeigencam", "Seg-Eigen-CAM", "Chung & Ying 2025, Appl. Sci. 15(13) 7562, Eq. 10 and 13",
       MapResolution::layer, seg_eigen_cam, true, nullptr},
      {Method::random_noise, "random-noise", "Random noise (baseline)",
       "a baseline, as in Adebayo et al. 2018 and Rong et al. 2022 (seeded by the layer shape)", MapResolution::layer,
       random_noise_map, false, nullptr},
      {Method::ablationcam, "ablationcam", "Ablation-CAM", "Desai & Ramaswamy 2020, WACV (pytorch-grad-cam's AblationCAM)",
       MapResolution::layer, nullptr, false, ablation_cam},
      {Method::shapleycam, "shapleycam", "ShapleyCAM", "Cai et al. 2025, arXiv 2501.06261 (Hessian term by finite difference)",
       MapResolution::layer, nullptr, false, shapley_cam},
      {Method::fullgrad, "fullgrad", "FullGrad", "Srinivas & Fleuret 2019, arXiv 1905.00780 (pytorch-grad-cam's FullGrad)",
       MapResolution::input, nullptr, false, full_grad},
      {Method::kpcacam, "kpcacam", "KPCA-CAM", "Karmani et al. 2024, arXiv 2410.00267 (pytorch-grad-cam KPCA_CAM defaults)",
       MapResolution::layer, kpca_cam, false, nullptr},
      {Method::fem, "fem", "FEM", "Fuad et al. 2020, IPTA, hal-02963298 (k = 2)", MapResolution::layer, fem_cam, false,
       nullptr},
      {Method::finercam, "finercam", "Finer-CAM", "Zhang et al. 2025, arXiv 2501.11309 (3 nearest classes, alpha 1)",
       MapResolution::layer, nullptr, false, finer_cam},
      {Method::integrated_gradients, "integrated-gradients", "Integrated Gradients",
       "Sundararajan et al. 2017, arXiv 1703.01365, Eq. 1 (Captum IntegratedGradients)", MapResolution::input, nullptr,
       false, integrated_gradients},
      {Method::input_x_gradient, "input-x-gradient", "Input x Gradient",
       "Shrikumar et al. 2016, arXiv 1605.01713 (Captum InputXGradient)", MapResolution::input, nullptr, false,
       input_x_gradient},
      {Method::gradient_shap, "gradient-shap", "GradientSHAP", "Lundberg & Lee 2017, arXiv 1705.07874 (Captum GradientShap)",
       MapResolution::input, nullptr, false, gradient_shap},
      {Method::deconvolution, "deconvolution", "Deconvolution",
       "Zeiler & Fergus 2014, arXiv 1311.2901, Sec. 2.1 (Captum Deconvolution)", MapResolution::input, nullptr, false,
       deconvolution},
      {Method::occlusion, "occlusion", "Occlusion", "Zeiler & Fergus 2014, arXiv 1311.2901, Sec. 4.2 (Captum Occlusion)",
       MapResolution::input, nullptr, false, occlusion},
}};

// Row i describes Method(i): a Method value without a row (the array leaves it zero) or rows out of
// order fail here, at compile time, instead of falling back to Grad-CAM. (That each row names a way
// to compute it is a test: clang cannot compare a function's address with null in a constant.)
inline constexpr bool every_method_has_its_row() {
  for (size_t i = 0; i < kMethodTable.size(); ++i) {
    const MethodDescriptor& d = kMethodTable[i];
    if (size_t(d.id) != i || !d.name || !d.label || !d.paper) return false;
  }
  return true;
}
static_assert(every_method_has_its_row(), "the method table needs one row per Method value, in the enum's order");

// Class index from "auto", an index or a class name.
Result<int> parse_target(const Architecture& arch, const std::string& text);

// Runs the network on `input` (HWC, scaled) and explains. Validates options.
Result<Explanation> explain(Network& net, const float* input, const ExplainOptions& options);

// Every conv layer's map from one forward and one backward pass (the backward runs down to the
// first conv layer and keeps every gradient on the way). For the methods that need only one
// layer's activations and gradients: every method with a layer_map in the table.
// options.layer is ignored; the result is in layer order.
Result<std::vector<Explanation>> explain_all_layers(Network& net, const float* input, const ExplainOptions& options);

// The target's score after the network's last forward pass: its logit or its probability. The
// methods that compare scores of perturbed inputs (Score-, Ablation-CAM, occlusion) read it here.
float target_score(const Network& net, int target, Score score);
// The same for image `image` of the network's last batched forward (Network::forward_batch).
float target_score(const Network& net, int image, int target, Score score);

// d(score)/d(logits) for a target class.
void score_gradient(const std::vector<float>& logits, const std::vector<float>& probs, int target,
                    Score score, float* out);

}  // namespace gradcam
