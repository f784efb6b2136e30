// Keras layers as op descriptors: one handler per layer class, reading the layer's get_config()
// fields (Keras 2: tf_keras/src/layers; Keras 3: keras/src/layers) and its weights in the order its
// build() creates them. A layer with an activation is its op then the activation, the second node
// carrying the layer's name; a ReLU activation is fused into a Conv or Gemm, as the model file's.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "formats/keras_graph.h"
#include "graph/op_support.h"
#include "graph/ops/ops.h"

namespace gradcam::keras {

namespace {

Status import_nothing(const OnnxImport&, Node&) { return {}; }

// A softmax over channels stands in the graph until the importer knows whether it is the model's
// last op: then it is dropped (its input is the logits), elsewhere it becomes SoftmaxChannels.
const OpDescriptor softmax_marker = {"Softmax", import_nothing, ops::same_shape, ops::plan_nothing, ops::copy_forward,
                                     ops::copy_backward};

// A whole number that fits an int (so get<int>() is defined), as JSON or as Python's 3.0 writes it.
bool is_int(const json& v) {
  if (!v.is_number()) return false;
  const double d = v.get<double>();
  return d == std::floor(d) && std::fabs(d) <= double(1 << 30);
}

// A number of the config, clamped to what a float holds (a cast out of range is undefined).
double number_or(const json& cfg, const char* key, double fallback) {
  if (!cfg.contains(key) || !cfg[key].is_number()) return fallback;
  const double d = cfg[key].get<double>();
  return std::isnan(d) ? fallback : std::clamp(d, -3e38, 3e38);
}

// kernel_size, strides, pool_size, dilation_rate: an integer or two; 1..kMaxSide.
Result<std::pair<int, int>> pair_field(const LayerCall& c, const char* key, std::pair<int, int> fallback) {
  if (!c.cfg.contains(key) || c.cfg[key].is_null()) return fallback;
  const json& v = c.cfg[key];
  auto ok = [](const json& x) { return is_int(x) && x.get<double>() >= 1 && x.get<double>() <= ModelLimits::kMaxSide; };
  if (ok(v)) return std::make_pair(v.get<int>(), v.get<int>());
  if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) return std::make_pair(v[0].get<int>(), v[1].get<int>());
  return make_error(c.where() + key + " must be one or two integers from 1 to " + std::to_string(ModelLimits::kMaxSide) +
                    ", not " + v.dump());
}

Result<std::string> padding_of(const LayerCall& c) {
  const std::string p = c.cfg.value("padding", std::string("valid"));
  if (p == "valid") return std::string("VALID");
  if (p == "same") return std::string("SAME_UPPER");  // TensorFlow puts the odd pixel at the end
  return make_error(c.where() + "padding \"" + p + "\" is not supported (valid, same)");
}

Status channels_last(const LayerCall& c) {
  if (c.cfg.contains("data_format") && c.cfg["data_format"].is_string() && c.cfg["data_format"] != "channels_last")
    return c.fail("data_format must be channels_last");
  return {};
}

Result<int> positive_int(const LayerCall& c, const char* key, int limit) {
  if (!c.cfg.contains(key) || !is_int(c.cfg[key]) || c.cfg[key].get<double>() < 1 || c.cfg[key].get<double>() > limit)
    return make_error(c.where() + key + " must be an integer from 1 to " + std::to_string(limit));
  return c.cfg[key].get<int>();
}

Status needs_map(const LayerCall& c) {
  if (c.input().rank != 4) return c.fail("needs a 4-D input (height, width, channels), got a 2-D one");
  return {};
}

// The layer's own op followed by its activation: `op_part` names the first node when an
// activation follows (a ReLU is fused instead).
Result<int> with_activation(LayerCall& c, const OpDescriptor* op, OpAttributes a, std::vector<std::vector<float>> w,
                            const char* op_part) {
  const std::string act = activation_of(c.cfg);
  const bool own = act == "linear" || act == "relu";
  a.relu = act == "relu";
  auto v = c.node(op, c.inputs, own ? "" : op_part, a, std::move(w));
  if (!v || own) return v;
  return activation_node(c, *v, act);
}

// ---- convolutions ----

struct ConvWindow {
  OpAttributes a;
  int ic = 0;
};

Result<ConvWindow> conv_window(const LayerCall& c) {
  if (Status s = channels_last(c); !s) return make_error(s.error());
  if (Status s = needs_map(c); !s) return make_error(s.error());
  ConvWindow w;
  auto k = pair_field(c, "kernel_size", {0, 0});
  if (!k) return make_error(k.error());
  if (k->first < 1) return make_error(c.where() + "kernel_size is missing");
  auto s = pair_field(c, "strides", {1, 1});
  if (!s) return make_error(s.error());
  auto d = pair_field(c, "dilation_rate", {1, 1});
  if (!d) return make_error(d.error());
  if ((s->first > 1 || s->second > 1) && (d->first > 1 || d->second > 1))
    return make_error(c.where() + "strides and dilation_rate both above 1 (Keras refuses them too)");
  auto p = padding_of(c);
  if (!p) return make_error(p.error());
  w.a.kh = k->first, w.a.kw = k->second, w.a.sh = s->first, w.a.sw = s->second, w.a.dh = d->first, w.a.dw = d->second;
  w.a.auto_pad = *p;
  w.ic = c.input().shape.c;
  return w;
}

Result<std::vector<float>> bias_of(LayerCall& c, int channels) {
  if (!c.cfg.value("use_bias", true)) return std::vector<float>(size_t(channels), 0.f);
  return c.weight("bias", {channels});
}

Result<int> conv2d(LayerCall& c) {
  auto w = conv_window(c);
  if (!w) return make_error(w.error());
  auto filters = positive_int(c, "filters", ModelLimits::kMaxChannels);
  if (!filters) return make_error(filters.error());
  const int groups = c.cfg.contains("groups") && is_int(c.cfg["groups"]) ? c.cfg["groups"].get<int>() : 1;
  if (groups < 1 || w->ic % groups != 0 || *filters % groups != 0)
    return c.fail("groups (" + std::to_string(groups) + ") must divide the input's " + std::to_string(w->ic) + " channels and the " +
                  std::to_string(*filters) + " filters");
  auto kernel = c.weight("kernel", {w->a.kh, w->a.kw, w->ic / groups, *filters});
  if (!kernel) return make_error(kernel.error());
  auto bias = bias_of(c, *filters);
  if (!bias) return make_error(bias.error());
  w->a.groups = groups, w->a.out_channels = *filters;
  return with_activation(c, &ops::conv_op, w->a, {std::move(*kernel), std::move(*bias)}, "conv");
}

// Keras's depthwise kernel [kh, kw, in, multiplier] is, byte for byte, the grouped kernel
// [kh][kw][1][in * multiplier] with output channel c * multiplier + m, as TensorFlow orders them.
Result<int> depthwise_conv2d(LayerCall& c) {
  auto w = conv_window(c);
  if (!w) return make_error(w.error());
  const int mult = c.cfg.contains("depth_multiplier") && is_int(c.cfg["depth_multiplier"]) ? c.cfg["depth_multiplier"].get<int>() : 1;
  if (mult < 1 || int64_t(mult) * w->ic > ModelLimits::kMaxChannels) return c.fail("depth_multiplier must be a positive integer");
  auto kernel = c.weight("depthwise_kernel", {w->a.kh, w->a.kw, w->ic, mult});
  if (!kernel) return make_error(kernel.error());
  auto bias = bias_of(c, w->ic * mult);
  if (!bias) return make_error(bias.error());
  w->a.groups = w->ic, w->a.out_channels = w->ic * mult;
  return with_activation(c, &ops::conv_op, w->a, {std::move(*kernel), std::move(*bias)}, "depthwise");
}

// A depthwise convolution, then a 1x1 pointwise one that carries the bias and the layer's name.
Result<int> separable_conv2d(LayerCall& c) {
  auto w = conv_window(c);
  if (!w) return make_error(w.error());
  auto filters = positive_int(c, "filters", ModelLimits::kMaxChannels);
  if (!filters) return make_error(filters.error());
  const int mult = c.cfg.contains("depth_multiplier") && is_int(c.cfg["depth_multiplier"]) ? c.cfg["depth_multiplier"].get<int>() : 1;
  if (mult < 1 || int64_t(mult) * w->ic > ModelLimits::kMaxChannels) return c.fail("depth_multiplier must be a positive integer");
  auto depthwise = c.weight("depthwise_kernel", {w->a.kh, w->a.kw, w->ic, mult});
  if (!depthwise) return make_error(depthwise.error());
  auto pointwise = c.weight("pointwise_kernel", {1, 1, w->ic * mult, *filters});
  if (!pointwise) return make_error(pointwise.error());
  auto bias = bias_of(c, *filters);
  if (!bias) return make_error(bias.error());
  OpAttributes dw = w->a;
  dw.groups = w->ic, dw.out_channels = w->ic * mult;
  auto d = c.node(&ops::conv_op, c.inputs, "depthwise", dw,
                  {std::move(*depthwise), std::vector<float>(size_t(w->ic) * size_t(mult), 0.f)});
  if (!d) return d;
  OpAttributes pw;
  pw.out_channels = *filters, pw.auto_pad = "VALID";
  c.inputs = {*d};
  return with_activation(c, &ops::conv_op, pw, {std::move(*pointwise), std::move(*bias)}, "pointwise");
}

Result<int> dense(LayerCall& c) {
  if (c.input().rank != 2)
    return c.fail("Dense on a 4-D input is not supported (Flatten or GlobalAveragePooling2D before it)");
  auto units = positive_int(c, "units", ModelLimits::kMaxChannels);
  if (!units) return make_error(units.error());
  auto kernel = c.weight("kernel", {c.input().shape.c, *units});
  if (!kernel) return make_error(kernel.error());
  auto bias = bias_of(c, *units);
  if (!bias) return make_error(bias.error());
  OpAttributes a;
  a.out_channels = *units;
  return with_activation(c, &ops::gemm_op, a, {std::move(*kernel), std::move(*bias)}, "dense");
}

// ---- normalisation: every form is a per-channel scale and shift ----

Result<int> batch_normalization(LayerCall& c) {
  const json axis = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
  const int rank = c.input().rank;
  const bool last = axis == json(-1) || axis == json{-1} || (rank == 4 && (axis == json(3) || axis == json{3})) ||
                    (rank == 2 && (axis == json(1) || axis == json{1}));
  if (!last) return c.fail("axis must be the channel axis (-1), not " + axis.dump());
  const int ch = c.input().shape.c;
  const double eps = number_or(c.cfg, "epsilon", 1e-3);
  if (!(eps >= 0) || !std::isfinite(eps)) return c.fail("epsilon must be a non-negative number");
  std::vector<float> gamma(size_t(ch), 1.f), beta(size_t(ch), 0.f);
  if (c.cfg.value("scale", true)) {
    auto g = c.weight("gamma", {ch});
    if (!g) return make_error(g.error());
    gamma = std::move(*g);
  }
  if (c.cfg.value("center", true)) {
    auto b = c.weight("beta", {ch});
    if (!b) return make_error(b.error());
    beta = std::move(*b);
  }
  auto mean = c.weight("moving_mean", {ch});
  if (!mean) return make_error(mean.error());
  auto var = c.weight("moving_variance", {ch});
  if (!var) return make_error(var.error());
  Node folded;
  ops::fold_batch_norm(gamma, beta, *mean, *var, float(eps), folded);
  return c.node(&ops::batch_norm_op, c.inputs, "", {}, std::move(folded.weights));
}

// A float from a JSON number, clamped to the float range (a cast out of range is undefined).
float as_float(const json& v) { return float(std::clamp(v.get<double>(), -3e38, 3e38)); }

// A number or one per channel, as Rescaling and Normalization take them.
Result<std::vector<float>> per_channel(const LayerCall& c, const json& v, const char* key, int ch, float fallback) {
  if (v.is_null()) return std::vector<float>(size_t(ch), fallback);
  if (v.is_number()) return std::vector<float>(size_t(ch), as_float(v));
  if (v.is_array() && (v.size() == size_t(ch) || v.size() == 1)) {
    std::vector<float> out;
    for (const json& x : v) {
      if (!x.is_number()) break;
      out.push_back(as_float(x));
    }
    if (out.size() == v.size()) {
      if (out.size() == 1) out.assign(size_t(ch), out[0]);
      return out;
    }
  }
  return make_error(c.where() + key + " must be a number or one per channel (" + std::to_string(ch) + "), not " + v.dump());
}

Result<int> rescaling(LayerCall& c) {
  const int ch = c.input().shape.c;
  auto scale = per_channel(c, c.cfg.contains("scale") ? c.cfg["scale"] : json(), "scale", ch, 1.f);
  if (!scale) return make_error(scale.error());
  auto offset = per_channel(c, c.cfg.contains("offset") ? c.cfg["offset"] : json(), "offset", ch, 0.f);
  if (!offset) return make_error(offset.error());
  for (size_t k = 0; k < scale->size(); ++k)
    if (!std::isfinite((*scale)[k]) || !std::isfinite((*offset)[k])) return c.fail("scale and offset must be finite");
  return c.node(&ops::batch_norm_op, c.inputs, "", {}, {std::move(*scale), std::move(*offset)});
}

// (x - mean) / max(sqrt(variance), 1e-7): Keras's backend epsilon keeps a zero variance finite
// (keras/src/layers/preprocessing/normalization.py and tf-keras's, call()).
Result<int> normalization(LayerCall& c) {
  const json axis = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
  if (!(axis == json(-1) || axis == json{-1} || axis == json(3) || axis == json{3}))
    return c.fail("axis must be the channel axis (-1), not " + axis.dump());
  if (c.cfg.value("invert", false)) return c.fail("invert=True is not supported");
  const int ch = c.input().shape.c;
  std::vector<float> mean, var;
  const bool given = c.cfg.contains("mean") && !c.cfg["mean"].is_null();
  if (given) {
    auto m = per_channel(c, c.cfg["mean"], "mean", ch, 0.f);
    if (!m) return make_error(m.error());
    auto v = per_channel(c, c.cfg.contains("variance") ? c.cfg["variance"] : json(), "variance", ch, 1.f);
    if (!v) return make_error(v.error());
    mean = std::move(*m), var = std::move(*v);
  } else {
    auto m = c.weight("mean", {ch});
    if (!m) return make_error(m.error());
    auto v = c.weight("variance", {ch});
    if (!v) return make_error(v.error());
    auto count = c.weight("count", {});  // kept for old files; not used
    if (!count) return make_error(count.error());
    mean = std::move(*m), var = std::move(*v);
  }
  std::vector<float> scale(ch < 0 ? 0 : size_t(ch)), shift(scale.size());
  for (size_t k = 0; k < scale.size(); ++k) {
    if (!(var[k] >= 0) || !std::isfinite(mean[k]) || !std::isfinite(var[k])) return c.fail("variance must be finite and not negative");
    scale[k] = 1.f / std::max(std::sqrt(var[k]), 1e-7f);
    shift[k] = -mean[k] * scale[k];
  }
  return c.node(&ops::batch_norm_op, c.inputs, "", {}, {std::move(scale), std::move(shift)});
}

// ---- activations ----

Result<int> activation(LayerCall& c) { return activation_node(c, c.inputs[0], activation_of(c.cfg)); }

Result<int> softmax_layer(LayerCall& c) {
  const json axis = c.cfg.contains("axis") ? c.cfg["axis"] : json(-1);
  if (!(axis == json(-1) || axis == json{-1})) return c.fail("only a softmax over the last (channel) axis is supported");
  return activation_node(c, c.inputs[0], "softmax");
}


// ReLU(max_value, negative_slope, threshold): Relu, Clip or LeakyRelu when it is one of them.
Result<int> relu_layer(LayerCall& c) {
  const double slope = number_or(c.cfg, "negative_slope", 0.0), threshold = number_or(c.cfg, "threshold", 0.0);
  const bool capped = c.cfg.contains("max_value") && c.cfg["max_value"].is_number();
  const double cap = capped ? number_or(c.cfg, "max_value", 0.0) : 0.0;
  if (capped && !(cap >= 0)) return c.fail("max_value must not be negative");
  OpAttributes a;
  if (threshold == 0 && slope == 0 && !capped) return c.node(&ops::relu_op, c.inputs, "");
  if (threshold == 0 && slope == 0) {
    a.lo = 0.f, a.hi = float(cap);
    return c.node(&ops::clip_op, c.inputs, "", a);
  }
  if (threshold == 0 && !capped) {
    a.alpha = float(slope);
    return c.node(&ops::leaky_relu_op, c.inputs, "", a);
  }
  a.alpha = float(slope), a.lo = float(threshold), a.hi = capped ? float(cap) : std::numeric_limits<float>::infinity();
  return c.node(&ops::keras_relu_op, c.inputs, "", a);
}

Result<int> leaky_relu_layer(LayerCall& c) {
  OpAttributes a;
  a.alpha = float(number_or(c.cfg, "negative_slope", number_or(c.cfg, "alpha", 0.3)));
  return c.node(&ops::leaky_relu_op, c.inputs, "", a);
}

// PReLU's alpha has the input's shape with the shared axes set to 1 (tf-keras and Keras 3 build()),
// broadcast over them.
Result<int> prelu_layer(LayerCall& c) {
  const Value& in = c.input();
  std::vector<int64_t> shape = in.rank == 4 ? std::vector<int64_t>{in.shape.h, in.shape.w, in.shape.c}
                                            : std::vector<int64_t>{in.shape.c};
  if (c.cfg.contains("shared_axes") && c.cfg["shared_axes"].is_array())
    for (const json& ax : c.cfg["shared_axes"]) {
      if (!is_int(ax) || ax.get<int>() < 1 || size_t(ax.get<int>()) > shape.size())
        return c.fail("shared_axes must name axes 1.." + std::to_string(shape.size()));
      shape[size_t(ax.get<int>() - 1)] = 1;
    }
  auto alpha = c.weight("alpha", shape);
  if (!alpha) return make_error(alpha.error());
  OpAttributes a;
  a.slope_h = in.rank == 4 ? int(shape[0]) : 1;
  a.slope_w = in.rank == 4 ? int(shape[1]) : 1;
  a.slope_c = int(shape.back());
  return c.node(&ops::prelu_op, c.inputs, "", a, {std::move(*alpha)});
}

// ---- merging layers ----

// Keras's merge layers expand a 2-D [C] operand to [1,1,C]: it broadcasts over channels.
OpAttributes merge_attrs() {
  OpAttributes a;
  a.broadcast_channels_last = true;
  return a;
}

Result<int> merge_chain(LayerCall& c, const OpDescriptor* op, const char* part) {
  if (c.inputs.size() < 2) return c.fail("needs at least two inputs");
  int acc = c.inputs[0];
  for (size_t k = 1; k < c.inputs.size(); ++k) {
    auto v = c.node(op, {acc, c.inputs[k]}, k + 1 == c.inputs.size() ? "" : std::string(part) + "_" + std::to_string(k),
                    merge_attrs());
    if (!v) return v;
    acc = *v;
  }
  return acc;
}

// Max, Mean and Sub take all their inputs in one node.
Result<int> merge_all(LayerCall& c, const OpDescriptor* op) {
  if (c.inputs.size() < 2) return c.fail("needs at least two inputs");
  return c.node(op, c.inputs, "", merge_attrs());
}

Result<int> add(LayerCall& c) { return merge_chain(c, &ops::add_op, "add"); }
Result<int> multiply(LayerCall& c) { return merge_chain(c, &ops::mul_op, "mul"); }
Result<int> maximum(LayerCall& c) { return merge_all(c, &ops::max_op); }
Result<int> average(LayerCall& c) { return merge_all(c, &ops::mean_op); }

Result<int> subtract(LayerCall& c) {
  if (c.inputs.size() != 2) return c.fail("needs exactly two inputs");
  return merge_all(c, &ops::sub_op);
}

Result<int> concatenate(LayerCall& c) {
  const int rank = c.input().rank;
  const int axis = c.cfg.contains("axis") && is_int(c.cfg["axis"]) ? c.cfg["axis"].get<int>() : -1;
  if (axis != -1 && axis != rank - 1) return c.fail("only concatenation along channels (axis -1) is supported");
  if (c.inputs.size() < 2) return c.fail("needs at least two inputs");
  OpAttributes a;
  a.axis = 1;  // ONNX's channel axis, which the op speaks
  return c.node(&ops::concat_op, c.inputs, "", a);
}

// ---- pooling and shapes ----

Result<int> pooling(LayerCall& c, const OpDescriptor* op) {
  if (Status s = channels_last(c); !s) return make_error(s.error());
  if (Status s = needs_map(c); !s) return make_error(s.error());
  auto pool = pair_field(c, "pool_size", {2, 2});
  if (!pool) return make_error(pool.error());
  auto strides = pair_field(c, "strides", *pool);
  if (!strides) return make_error(strides.error());
  auto p = padding_of(c);
  if (!p) return make_error(p.error());
  OpAttributes a;
  a.kh = pool->first, a.kw = pool->second, a.sh = strides->first, a.sw = strides->second, a.auto_pad = *p;
  a.count_include_pad = false;  // Keras's 'same' average counts only the pixels inside the image
  return c.node(op, c.inputs, "", a);
}

Result<int> max_pooling2d(LayerCall& c) { return pooling(c, &ops::max_pool_op); }
Result<int> average_pooling2d(LayerCall& c) { return pooling(c, &ops::average_pool_op); }

Result<int> global_pooling(LayerCall& c, const OpDescriptor* op) {
  if (Status s = channels_last(c); !s) return make_error(s.error());
  if (Status s = needs_map(c); !s) return make_error(s.error());
  OpAttributes a;
  a.keep_dims = c.cfg.value("keepdims", false);
  return c.node(op, c.inputs, "", a);
}

Result<int> global_average_pooling2d(LayerCall& c) { return global_pooling(c, &ops::global_average_pool_op); }
Result<int> global_max_pooling2d(LayerCall& c) { return global_pooling(c, &ops::global_max_pool_op); }

Result<int> zero_padding2d(LayerCall& c) {
  if (Status s = channels_last(c); !s) return make_error(s.error());
  if (Status s = needs_map(c); !s) return make_error(s.error());
  const json p = c.cfg.contains("padding") ? c.cfg["padding"] : json(1);
  auto ok = [](const json& x) { return is_int(x) && x.get<double>() >= 0 && x.get<double>() <= ModelLimits::kMaxSide; };
  OpAttributes a;
  if (ok(p)) {
    a.pad_t = a.pad_b = a.pad_l = a.pad_r = p.get<int>();
  } else if (p.is_array() && p.size() == 2 && ok(p[0]) && ok(p[1])) {
    a.pad_t = a.pad_b = p[0].get<int>(), a.pad_l = a.pad_r = p[1].get<int>();
  } else if (p.is_array() && p.size() == 2 && p[0].is_array() && p[1].is_array() && p[0].size() == 2 && p[1].size() == 2 &&
             ok(p[0][0]) && ok(p[0][1]) && ok(p[1][0]) && ok(p[1][1])) {
    a.pad_t = p[0][0].get<int>(), a.pad_b = p[0][1].get<int>(), a.pad_l = p[1][0].get<int>(), a.pad_r = p[1][1].get<int>();
  } else {
    return c.fail("padding must be an integer, two, or ((top, bottom), (left, right)), not " + p.dump());
  }
  return c.node(&ops::pad_op, c.inputs, "", a);
}

// Flatten (and a Reshape to one axis) keeps Keras's channels-last order: a copy.
Result<int> flatten(LayerCall& c) {
  if (Status s = channels_last(c); !s) return make_error(s.error());
  return c.node(&ops::flatten_op, c.inputs, "");
}

Result<int> reshape(LayerCall& c) {
  const json t = c.cfg.contains("target_shape") ? c.cfg["target_shape"] : json();
  if (!t.is_array() || t.empty() || t.size() > 3) return c.fail("target_shape must have one to three axes");
  int64_t size = 1;
  std::vector<int> dims;
  int unknown = -1;
  for (size_t k = 0; k < t.size(); ++k) {
    if (!is_int(t[k]) || (t[k].get<double>() < 1 && t[k].get<double>() != -1) || t[k].get<double>() > ModelLimits::kMaxTensorElements)
      return c.fail("target_shape must hold positive integers (one may be -1), not " + t.dump());
    dims.push_back(t[k].get<int>());
    if (dims.back() == -1) {
      if (unknown >= 0) return c.fail("target_shape may hold one -1");
      unknown = int(k);
    } else {
      size *= dims.back();
    }
  }
  const int64_t in_size = c.input().shape.size();
  if (unknown >= 0 && size > 0 && in_size % size == 0) dims[size_t(unknown)] = int(in_size / size), size = in_size;
  if (size != in_size)
    return c.fail("target_shape " + t.dump() + " holds " + std::to_string(size) + " values, its input " + std::to_string(in_size));
  if (dims.size() == 1) return c.node(&ops::flatten_op, c.inputs, "");
  if (dims.size() == 2) return c.fail("a 2-axis target_shape is not supported (one axis, or height, width, channels)");
  OpAttributes a;
  a.reshape_h = dims[0], a.reshape_w = dims[1], a.reshape_c = dims[2];
  return c.node(&ops::keras_reshape_op, c.inputs, "", a);
}

Result<int> identity(LayerCall& c) { return c.node(&ops::dropout_op, c.inputs, ""); }

struct HandlerRow {
  const char* cls;
  LayerHandler handler;
};

// Every layer class the importer reads (InputLayer and nested models are the importer's own).
const HandlerRow kHandlers[] = {
    {"Activation", activation},
    {"Add", add},
    {"Average", average},
    {"AveragePooling2D", average_pooling2d},
    {"BatchNormalization", batch_normalization},
    {"Concatenate", concatenate},
    {"Conv2D", conv2d},
    {"Dense", dense},
    {"DepthwiseConv2D", depthwise_conv2d},
    {"Dropout", identity},
    {"Flatten", flatten},
    {"GaussianDropout", identity},
    {"GaussianNoise", identity},
    {"GlobalAveragePooling2D", global_average_pooling2d},
    {"GlobalMaxPooling2D", global_max_pooling2d},
    {"LeakyReLU", leaky_relu_layer},
    {"MaxPooling2D", max_pooling2d},
    {"Maximum", maximum},
    {"Multiply", multiply},
    {"Normalization", normalization},
    {"PReLU", prelu_layer},
    {"ReLU", relu_layer},
    {"Rescaling", rescaling},
    {"Reshape", reshape},
    {"SeparableConv2D", separable_conv2d},
    {"Softmax", softmax_layer},
    {"SpatialDropout2D", identity},
    {"Subtract", subtract},
    {"ZeroPadding2D", zero_padding2d},
};

}  // namespace

Result<int> LayerCall::node(const OpDescriptor* op, std::vector<int> in, const std::string& part, OpAttributes attrs,
                            std::vector<std::vector<float>> weights) {
  Node n;
  n.name = part.empty() ? name : name + "/" + part;
  n.op = op;
  n.op_type = op->type;
  n.inputs = std::move(in);
  n.attrs = std::move(attrs);
  n.weights = std::move(weights);
  n.explainable = part.empty();  // a layer's own output; mark_explainable_layers decides by its shape
  auto v = b.add(std::move(n));
  if (!v) return make_error(where() + v.error());
  return v;
}

std::string activation_of(const json& cfg) {
  if (!cfg.contains("activation") || cfg["activation"].is_null()) return "linear";
  const json& a = cfg["activation"];
  if (a.is_string()) return a.get<std::string>();
  if (a.is_object() && a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
  return a.dump();
}

Result<int> activation_node(LayerCall& c, int in, const std::string& act, const std::string& part) {
  OpAttributes a;
  if (act == "linear") return c.node(&ops::identity_op, {in}, part);
  if (act == "relu") return c.node(&ops::relu_op, {in}, part);
  if (act == "relu6") {
    a.lo = 0.f, a.hi = 6.f;
    return c.node(&ops::clip_op, {in}, part, a);
  }
  if (act == "sigmoid") return c.node(&ops::sigmoid_op, {in}, part);
  if (act == "hard_sigmoid") {
    // Keras 2 (tf-keras backend.hard_sigmoid): clip(0.2 x + 0.5, 0, 1); Keras 3
    // (keras/src/activations hard_sigmoid): relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1).
    a.alpha = c.keras3 ? 1.f / 6.f : 0.2f, a.beta = 0.5f;
    return c.node(&ops::hard_sigmoid_op, {in}, part, a);
  }
  if (act == "hard_swish" || act == "hard_silu") return c.node(&ops::hard_swish_op, {in}, part);
  if (act == "leaky_relu") {
    a.alpha = 0.2f;  // Keras 3's default negative_slope
    return c.node(&ops::leaky_relu_op, {in}, part, a);
  }
  if (act == "softmax") return c.node(&softmax_marker, {in}, part);
  if (act == "swish" || act == "silu") return c.node(&ops::swish_op, {in}, part);
  if (act == "tanh") return c.node(&ops::tanh_op, {in}, part);
  if (act == "elu") {
    a.alpha = 1.f;
    return c.node(&ops::elu_op, {in}, part, a);
  }
  if (act == "gelu") {
    a.approximate_tanh = false;  // keras.activations.gelu's default, Keras 2 and 3
    return c.node(&ops::gelu_op, {in}, part, a);
  }
  return c.fail("activation '" + act +
                "' is not supported (linear, relu, relu6, sigmoid, hard_sigmoid, hard_swish, hard_silu, leaky_relu, swish, "
                "silu, gelu, tanh, elu, softmax)");
}

bool is_softmax_marker(const OpDescriptor* op) { return op == &softmax_marker; }

LayerHandler find_layer_handler(const std::string& cls) {
  for (const HandlerRow& r : kHandlers)
    if (cls == r.cls) return r.handler;
  return nullptr;
}

std::string supported_layers_text() {
  std::string text = "InputLayer, Functional, Sequential";
  for (const HandlerRow& r : kHandlers) text += std::string(", ") + r.cls;
  return text;
}

std::string snake_case(const std::string& name) {
  // re.sub(r"\W+", ""), then "(.)([A-Z][a-z]+)" -> "\1_\2", then "([a-z])([A-Z])" -> "\1_\2", lower.
  std::string s;
  for (char ch : name)
    if (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') s += ch;
  auto upper = [](char ch) { return ch >= 'A' && ch <= 'Z'; };
  auto lower = [](char ch) { return ch >= 'a' && ch <= 'z'; };
  std::string t;
  for (size_t i = 0; i < s.size(); ++i) {
    // An upper-case letter that starts a capitalised word ([A-Z][a-z]+) after any character.
    if (i > 0 && upper(s[i]) && i + 1 < s.size() && lower(s[i + 1])) t += '_';
    t += s[i];
  }
  std::string u;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i > 0 && upper(t[i]) && lower(t[i - 1])) u += '_';
    u += char(std::tolower(static_cast<unsigned char>(t[i])));
  }
  return u;
}

}  // namespace gradcam::keras
