// CAM methods. Each map is computed from one conv layer's activations A and the gradients G of
// the target score with respect to them (both h x w x c, HWC), and returned after ReLU, before
// any normalisation.
#include "gradcam/cam.h"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "gradcam/map.h"

namespace gradcam {

namespace {

struct MethodInfo {
  Method method;
  const char* name;
};
const MethodInfo kMethods[] = {
    {Method::gradcam, "gradcam"},         {Method::gradcam_plusplus, "gradcam++"},
    {Method::xgradcam, "xgradcam"},       {Method::hirescam, "hirescam"},
    {Method::layercam, "layercam"},       {Method::scorecam, "scorecam"},
    {Method::eigencam, "eigencam"},       {Method::saliency, "saliency"},
    {Method::smoothgrad, "smoothgrad"},   {Method::guided_backprop, "guided-backprop"},
    {Method::guided_gradcam, "guided-gradcam"},
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Map empty_map(int h, int w) { return Map{h, w, std::vector<float>(size_t(h) * w, 0.f)}; }

// Spatial sum of each channel of X, or of X * Y.
std::vector<double> channel_sums(const float* X, const float* Y, int hw, int c) {
  std::vector<double> s(static_cast<size_t>(c), 0.0);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) s[size_t(k)] += double(X[size_t(i) * c + k]) * (Y ? Y[size_t(i) * c + k] : 1.f);
  return s;
}

// Per input pixel, the largest absolute gradient over colour channels (Simonyan et al., Sec. 3.1).
Map input_gradient_map(const std::vector<float>& g, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float best = 0.f;
    for (int k = 0; k < c; ++k) best = std::max(best, std::abs(g[size_t(i) * c + k]));
    m.values[size_t(i)] = best;
  }
  return m;
}

int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

}  // namespace

Result<Method> parse_method(const std::string& name) {
  std::string n = name;
  std::replace(n.begin(), n.end(), '_', '-');
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (n == "gradcampp" || n == "gradcam-plusplus" || n == "grad-cam++") n = "gradcam++";
  if (n == "grad-cam") n = "gradcam";
  for (const MethodInfo& m : kMethods)
    if (n == m.name) return m.method;
  std::string all;
  for (const MethodInfo& m : kMethods) all += std::string(all.empty() ? "" : ", ") + m.name;
  return make_error("unknown method \"" + name + "\" (known: " + all + ")");
}

const char* method_name(Method m) {
  for (const MethodInfo& i : kMethods)
    if (i.method == m) return i.name;
  return "?";
}

const std::vector<Method>& all_methods() {
  static const std::vector<Method> v = [] {
    std::vector<Method> out;
    for (const MethodInfo& m : kMethods) out.push_back(m.method);
    return out;
  }();
  return v;
}

bool method_is_input_resolution(Method m) {
  return m == Method::saliency || m == Method::smoothgrad || m == Method::guided_backprop ||
         m == Method::guided_gradcam;
}

Result<Score> parse_score(const std::string& name) {
  if (name == "logit") return Score::logit;
  if (name == "probability" || name == "softmax") return Score::probability;
  return make_error("unknown score \"" + name + "\" (known: logit, probability)");
}

const char* score_name(Score s) { return s == Score::logit ? "logit" : "probability"; }

Map weighted_channel_sum(const float* A, const float* weights, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += weights[k] * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// Grad-CAM, arXiv 1610.02391 Eq. 1-2: alpha_k = mean_ij dY/dA^k_ij; L = ReLU(sum_k alpha_k A^k).
Map grad_cam(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> s = channel_sums(G, nullptr, h * w, c);
  std::vector<float> alpha(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) alpha[size_t(k)] = float(s[size_t(k)] / (h * w));
  return weighted_channel_sum(A, alpha.data(), h, w, c);
}

// Grad-CAM++, arXiv 1710.11063 Eq. 19 with the exponential score (so higher derivatives are powers
// of the first): a_ij = g^2 / (2 g^2 + sum_ab A_ab g^3), w_k = sum_ij a_ij ReLU(g_ij).
Map grad_cam_plusplus(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c), 0.f);
  for (int i = 0; i < h * w; ++i)
    for (int k = 0; k < c; ++k) {
      double g = G[size_t(i) * c + k];
      double g2 = g * g, g3 = g2 * g;
      double denom = 2 * g2 + sumA[size_t(k)] * g3;
      double a = denom != 0 ? g2 / denom : 0.0;
      wk[size_t(k)] += float(a * std::max(g, 0.0));
    }
  return weighted_channel_sum(A, wk.data(), h, w, c);
}

// XGrad-CAM, arXiv 2008.02312 Eq. 9: w_k = sum_ij (A_ij / sum_ab A_ab) dY/dA_ij.
Map xgrad_cam(const float* A, const float* G, int h, int w, int c) {
  std::vector<double> sumA = channel_sums(A, nullptr, h * w, c);
  std::vector<double> sumAG = channel_sums(A, G, h * w, c);
  std::vector<float> wk(static_cast<size_t>(c));
  for (int k = 0; k < c; ++k) wk[size_t(k)] = float(sumAG[size_t(k)] / (sumA[size_t(k)] + 1e-7));
  return weighted_channel_sum(A, wk.data(), h, w, c);
}

// HiResCAM, arXiv 2011.08891 Eq. 4: L = ReLU(sum_k G^k (.) A^k), element-wise, no averaging.
Map hires_cam(const float* A, const float* G, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += G[size_t(i) * c + k] * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// LayerCAM, Jiang et al. 2021 Eq. 5-6: L = ReLU(sum_k ReLU(G^k) (.) A^k).
Map layer_cam(const float* A, const float* G, int h, int w, int c) {
  Map m = empty_map(h, w);
  for (int i = 0; i < h * w; ++i) {
    float s = 0.f;
    for (int k = 0; k < c; ++k) s += std::max(G[size_t(i) * c + k], 0.f) * A[size_t(i) * c + k];
    m.values[size_t(i)] = std::max(s, 0.f);
  }
  return m;
}

// Eigen-CAM, arXiv 2008.00299 Eq. 5: the activations (hw x c, centred per channel) projected on
// their first principal component. The component's sign is arbitrary; we choose the one that
// correlates positively with the summed activations, so the map is deterministic.
Map eigen_cam(const float* A, int h, int w, int c) {
  const int hw = h * w;
  Eigen::MatrixXd X(hw, c);
  for (int i = 0; i < hw; ++i)
    for (int k = 0; k < c; ++k) X(i, k) = A[size_t(i) * c + k];
  Eigen::RowVectorXd mean = X.colwise().mean();
  X.rowwise() -= mean;
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(X.transpose() * X);
  Eigen::VectorXd v = eig.eigenvectors().col(c - 1);  // eigenvalues ascend
  Eigen::VectorXd proj = X * v;
  Eigen::VectorXd total = X.rowwise().sum();
  if (proj.dot(total) < 0) proj = -proj;
  Map m = empty_map(h, w);
  for (int i = 0; i < hw; ++i) m.values[size_t(i)] = float(std::max(proj(i), 0.0));
  return m;
}

void score_gradient(const std::vector<float>& logits, const std::vector<float>& probs, int target, Score score,
                    float* out) {
  const size_t n = logits.size();
  for (size_t j = 0; j < n; ++j) {
    if (score == Score::logit)
      out[j] = j == size_t(target) ? 1.f : 0.f;
    else  // dp_t/dz_j = p_t (delta_tj - p_j)
      out[j] = probs[size_t(target)] * ((j == size_t(target) ? 1.f : 0.f) - probs[j]);
  }
}

Result<int> find_conv_layer(const Architecture& arch, const std::string& name) {
  std::string names;
  int last = -1;
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    if (arch.layers[i].type != LayerType::conv2d) continue;
    if (arch.layers[i].name == name) return int(i);
    last = int(i);
    names += (names.empty() ? "" : ", ") + arch.layers[i].name;
  }
  if (last < 0) return make_error("the model has no conv2d layer to explain");
  if (name.empty() || name == "auto") return last;
  return make_error("no conv layer named \"" + name + "\" (conv layers: " + names + ")");
}

Result<int> parse_target(const Architecture& arch, const std::string& text) {
  if (text.empty() || text == "auto") return -1;
  const int n = int(arch.classes.size());
  for (int i = 0; i < n; ++i)
    if (arch.classes[size_t(i)] == text) return i;
  bool digits = !text.empty() && text.size() < 9 && std::all_of(text.begin(), text.end(), ::isdigit);
  if (digits) {
    int v = std::stoi(text);
    if (v < n) return v;
    return make_error("target " + text + " is out of range: the model has " + std::to_string(n) + " classes (0.." +
                      std::to_string(n - 1) + ")");
  }
  std::string all;
  for (const std::string& c : arch.classes) all += (all.empty() ? "" : ", ") + c;
  return make_error("unknown target \"" + text + "\": use auto, a class index or one of " + all);
}

Result<Explanation> explain(Network& net, const float* input, const ExplainOptions& opt) {
  const Architecture& arch = net.arch();
  int layer = opt.layer;
  if (layer < 0) {
    auto l = find_conv_layer(arch, "");
    if (!l) return make_error(l.error());
    layer = *l;
  }
  if (layer >= net.layer_count() || arch.layers[size_t(layer)].type != LayerType::conv2d)
    return make_error("layer " + std::to_string(layer) + " is not a conv2d layer");
  if (opt.target >= net.num_classes()) return make_error("target class " + std::to_string(opt.target) + " is out of range");
  if (opt.smoothgrad_samples < 1 || opt.smoothgrad_samples > 1000)
    return make_error("SmoothGrad samples must be 1..1000");

  Explanation e;
  e.layer = layer;
  e.layer_shape = arch.layers[size_t(layer)].output;
  e.method = opt.method;
  e.score = opt.score;

  auto t0 = std::chrono::steady_clock::now();
  net.forward(input);
  e.forward_ms = ms_since(t0);
  e.logits = net.logits();
  e.probabilities = net.probabilities();
  e.target = opt.target < 0 ? argmax(e.probabilities) : opt.target;

  std::vector<float> dscore(e.logits.size());
  score_gradient(e.logits, e.probabilities, e.target, opt.score, dscore.data());
  const int h = e.layer_shape.h, w = e.layer_shape.w, c = e.layer_shape.c;
  const float* A = net.output(layer).data();
  const float* G = net.output_grad(layer).data();
  const int ih = arch.height, iw = arch.width, ic = arch.channels;

  auto t1 = std::chrono::steady_clock::now();
  switch (opt.method) {
    case Method::gradcam:
    case Method::gradcam_plusplus:
    case Method::xgradcam:
    case Method::hirescam:
    case Method::layercam: {
      net.backward(dscore.data(), layer);
      e.backward_ms = ms_since(t1);
      t1 = std::chrono::steady_clock::now();
      Map (*fn)(const float*, const float*, int, int, int) =
          opt.method == Method::gradcam            ? grad_cam
          : opt.method == Method::gradcam_plusplus ? grad_cam_plusplus
          : opt.method == Method::xgradcam         ? xgrad_cam
          : opt.method == Method::hirescam         ? hires_cam
                                                   : layer_cam;
      e.cam = fn(A, G, h, w, c);
      break;
    }
    case Method::eigencam:
      e.cam = eigen_cam(A, h, w, c);
      break;
    case Method::scorecam: {
      // Score-CAM, arXiv 1910.01279 Alg. 1: each channel, upsampled to the input and scaled to
      // [0,1], masks the input; the target's score on the masked input weighs the channel, and the
      // weights are a softmax over channels.
      std::vector<float> activations(A, A + size_t(h) * w * c);
      std::vector<float> plane(size_t(h) * w), masked(size_t(ih) * iw * ic), scores(static_cast<size_t>(c));
      for (int k = 0; k < c; ++k) {
        for (int i = 0; i < h * w; ++i) plane[size_t(i)] = activations[size_t(i) * c + k];
        std::vector<float> mask = heatmap(plane.data(), h, w, iw, ih);
        for (int i = 0; i < ih * iw; ++i)
          for (int ch = 0; ch < ic; ++ch) masked[size_t(i) * ic + ch] = input[size_t(i) * ic + ch] * mask[size_t(i)];
        net.forward(masked.data());
        scores[size_t(k)] = opt.score == Score::logit ? net.logits()[size_t(e.target)] : net.probabilities()[size_t(e.target)];
      }
      float m = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (float& s : scores) sum += s = std::exp(s - m);
      for (float& s : scores) s = float(s / sum);
      e.cam = weighted_channel_sum(activations.data(), scores.data(), h, w, c);
      net.forward(input);  // leave the network holding this image's activations
      break;
    }
    case Method::saliency:
      net.backward(dscore.data(), -1);
      e.backward_ms = ms_since(t1);
      t1 = std::chrono::steady_clock::now();
      e.cam = input_gradient_map(net.input_grad(), ih, iw, ic);
      break;
    case Method::smoothgrad: {
      // SmoothGrad, arXiv 1706.03825 Eq. 1: the gradient averaged over noisy copies of the input.
      const size_t n = size_t(ih) * iw * ic;
      auto [lo, hi] = std::minmax_element(input, input + n);
      float range = *hi - *lo > 0 ? *hi - *lo : 1.f;
      // Box-Muller on mt19937_64's output (fixed by the standard), not std::normal_distribution
      // (which differs between standard libraries), so native and wasm draw the same noise.
      std::mt19937_64 rng(opt.seed);
      const float sigma = opt.smoothgrad_sigma * range;
      auto noise = [&rng, sigma] {
        double u1 = (double(rng() >> 11) + 1.0) * (1.0 / 9007199254740993.0);  // (0, 1]
        double u2 = double(rng() >> 11) * (1.0 / 9007199254740992.0);
        return float(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
      };
      std::vector<float> noisy(n), mean(n, 0.f), d(dscore.size());
      for (int s = 0; s < opt.smoothgrad_samples; ++s) {
        for (size_t i = 0; i < n; ++i) noisy[i] = input[i] + noise();
        net.forward(noisy.data());
        score_gradient(net.logits(), net.probabilities(), e.target, opt.score, d.data());
        net.backward(d.data(), -1);
        for (size_t i = 0; i < n; ++i) mean[i] += net.input_grad()[i] / float(opt.smoothgrad_samples);
      }
      e.cam = input_gradient_map(mean, ih, iw, ic);
      net.forward(input);
      break;
    }
    case Method::guided_backprop:
    case Method::guided_gradcam: {
      net.backward(dscore.data(), -1, ReluBackward::guided);
      Map guided = input_gradient_map(net.input_grad(), ih, iw, ic);
      if (opt.method == Method::guided_backprop) {
        e.cam = std::move(guided);
      } else {
        // Guided Grad-CAM (arXiv 1610.02391 Sec. 3.1): guided backprop (.) Grad-CAM upsampled.
        net.backward(dscore.data(), layer);
        Map cam = grad_cam(A, G, h, w, c);
        std::vector<float> up = upsample_bilinear(cam.values.data(), h, w, ih, iw);
        for (size_t i = 0; i < up.size(); ++i) guided.values[i] *= up[i];
        e.cam = std::move(guided);
      }
      e.backward_ms = ms_since(t1);
      t1 = std::chrono::steady_clock::now();
      break;
    }
  }
  e.cam_ms = ms_since(t1);
  return e;
}

Result<std::vector<Explanation>> explain_all_layers(Network& net, const float* input, const ExplainOptions& opt) {
  Map (*fn)(const float*, const float*, int, int, int) = nullptr;
  switch (opt.method) {
    case Method::gradcam: fn = grad_cam; break;
    case Method::gradcam_plusplus: fn = grad_cam_plusplus; break;
    case Method::xgradcam: fn = xgrad_cam; break;
    case Method::hirescam: fn = hires_cam; break;
    case Method::layercam: fn = layer_cam; break;
    case Method::eigencam: break;
    default:
      return make_error(std::string("all layers at once works for gradcam, gradcam++, xgradcam, hirescam, layercam and "
                                    "eigencam, not ") + method_name(opt.method));
  }
  const Architecture& arch = net.arch();
  if (opt.target >= net.num_classes()) return make_error("target class " + std::to_string(opt.target) + " is out of range");
  std::vector<int> conv;
  for (int i = 0; i < net.layer_count(); ++i)
    if (arch.layers[size_t(i)].type == LayerType::conv2d) conv.push_back(i);
  if (conv.empty()) return make_error("the model has no conv2d layer to explain");

  auto t0 = std::chrono::steady_clock::now();
  net.forward(input);
  const double forward_ms = ms_since(t0);
  const int target = opt.target < 0 ? argmax(net.probabilities()) : opt.target;
  auto t1 = std::chrono::steady_clock::now();
  double backward_ms = 0;
  if (fn) {
    std::vector<float> dscore(size_t(net.num_classes()));
    score_gradient(net.logits(), net.probabilities(), target, opt.score, dscore.data());
    net.backward(dscore.data(), conv.front());
    backward_ms = ms_since(t1);
  }
  std::vector<Explanation> out;
  for (int layer : conv) {
    auto t2 = std::chrono::steady_clock::now();
    Explanation e;
    e.logits = net.logits();
    e.probabilities = net.probabilities();
    e.target = target;
    e.layer = layer;
    e.layer_shape = arch.layers[size_t(layer)].output;
    e.method = opt.method;
    e.score = opt.score;
    const Shape& s = e.layer_shape;
    e.cam = fn ? fn(net.output(layer).data(), net.output_grad(layer).data(), s.h, s.w, s.c)
               : eigen_cam(net.output(layer).data(), s.h, s.w, s.c);
    e.forward_ms = forward_ms;
    e.backward_ms = backward_ms;
    e.cam_ms = ms_since(t2);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace gradcam
