// A Keras model config (the "model_config" attribute of a Keras 2 whole-model .h5, or config.json
// of a .keras archive) as the engine's architecture. The config is translated to the
// architecture JSON (architecture.cpp) and parsed there, so every limit and rule of the model file
// applies to it unchanged. Field names follow Keras's layer get_config() (keras/layers/convolutional,
// pooling, core, normalization) in Keras 2 and 3; the layouts are those of
// keras/saving/legacy/hdf5_format.py (Keras 2) and keras/src/saving/saving_lib.py (Keras 3).
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "gradcam/keras.h"

namespace gradcam {

using json = nlohmann::json;

namespace {

// A pair such as kernel_size [3,3] (or 3): two integers 1..kMaxSide.
bool pair_field(const json& cfg, const char* key, json& out) {
  if (!cfg.contains(key) || cfg[key].is_null()) return false;
  const json& v = cfg[key];
  auto ok = [](const json& x) {
    return x.is_number_integer() && x.get<int64_t>() >= 1 && x.get<int64_t>() <= ModelLimits::kMaxSide;
  };
  if (ok(v)) {
    out = {v, v};
    return true;
  }
  if (v.is_array() && v.size() == 2 && ok(v[0]) && ok(v[1])) {
    out = v;
    return true;
  }
  return false;
}

// Keras 3 may serialise an activation as {"class_name": "function", "config": "relu"}.
std::string activation_of(const json& cfg) {
  if (!cfg.contains("activation") || cfg["activation"].is_null()) return "linear";
  const json& a = cfg["activation"];
  if (a.is_string()) return a.get<std::string>();
  if (a.is_object() && a.contains("config") && a["config"].is_string()) return a["config"].get<std::string>();
  return a.dump();
}

// The names of the layers whose outputs feed a layer, from its inbound_nodes: Keras 2 writes
// [[["conv2d", 0, 0, {}]]], Keras 3 {"args": [{"config": {"keras_history": ["conv2d", 0, 0]}}]}.
void inbound_names(const json& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    if (v.contains("keras_history") && v["keras_history"].is_array() && !v["keras_history"].empty() &&
        v["keras_history"][0].is_string()) {
      out.push_back(v["keras_history"][0].get<std::string>());
      return;
    }
    for (const auto& [k, x] : v.items()) inbound_names(x, out);
  } else if (v.is_array()) {
    if (v.size() >= 3 && v[0].is_string() && v[1].is_number_integer()) {
      out.push_back(v[0].get<std::string>());
      return;
    }
    for (const json& x : v) inbound_names(x, out);
  }
}

// [batch, h, w, c] from an InputLayer or a first layer's batch_input_shape / build_config.
bool input_shape_of(const json& entry, const json& cfg, json& shape) {
  for (const char* key : {"batch_input_shape", "batch_shape"})
    if (cfg.contains(key) && cfg[key].is_array()) {
      shape = cfg[key];
      return true;
    }
  if (entry.contains("build_config") && entry["build_config"].is_object() &&
      entry["build_config"].contains("input_shape") && entry["build_config"]["input_shape"].is_array()) {
    shape = entry["build_config"]["input_shape"];
    return true;
  }
  return false;
}

}  // namespace

Result<Architecture> architecture_from_keras_config(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("model_config is not valid JSON");
  try {
    const std::string model_class = j.value("class_name", std::string());
    if (model_class != "Sequential" && model_class != "Functional" && model_class != "Model")
      return make_error("model_config: the model class \"" + model_class +
                        "\" is not supported (a Sequential or a Functional model whose layers form a chain)");
    const bool functional = model_class != "Sequential";
    const json& config = j.at("config");
    // Keras 2.0-2.2 wrote a Sequential's config as the list of layers itself.
    const json& layers = config.is_array() ? config : config.at("layers");
    if (!layers.is_array() || layers.empty()) return make_error("model_config has no layers");
    if (layers.size() > size_t(ModelLimits::kMaxLayers) * 2)
      return make_error("model_config has " + std::to_string(layers.size()) + " layers; the limit is " +
                        std::to_string(ModelLimits::kMaxLayers));

    json input_shape;
    if (config.is_object() && config.contains("build_input_shape") && config["build_input_shape"].is_array())
      input_shape = config["build_input_shape"];
    double scale = 1.0 / 255.0;  // the tutorial divides pixels by 255 before the model
    json out_layers = json::array();
    std::string previous;  // the last layer's name (a Functional graph must be a chain)
    for (size_t i = 0; i < layers.size(); ++i) {
      const json& entry = layers[i];
      const std::string cls = entry.at("class_name").get<std::string>();
      const json& cfg = entry.at("config");
      std::string name = cfg.is_object() && cfg.contains("name") && cfg["name"].is_string()
                             ? cfg["name"].get<std::string>()
                             : entry.value("name", std::string());
      const std::string where = "model_config layer " + std::to_string(i) + " (" + name + ", " + cls + ")";
      auto fail = [&](const std::string& why) { return make_error(where + ": " + why); };
      if (functional && cls != "InputLayer") {
        std::vector<std::string> from;
        if (entry.contains("inbound_nodes")) inbound_names(entry["inbound_nodes"], from);
        if (from.size() != 1 || from[0] != previous)
          return fail("takes its input from " + (from.empty() ? std::string("nothing") : json(from).dump()) +
                      ", not from the layer before it; the engine runs networks whose layers form a chain");
      }
      previous = name;
      if (cfg.contains("data_format") && cfg["data_format"].is_string() &&
          cfg["data_format"].get<std::string>() != "channels_last")
        return fail("data_format must be channels_last");
      if (input_shape.is_null()) input_shape_of(entry, cfg, input_shape);

      if (cls == "InputLayer") continue;
      json l = {{"name", name}};
      if (cls == "Rescaling") {
        if (!out_layers.empty()) return fail("a Rescaling layer is supported only before every other layer");
        const json& s = cfg.contains("scale") ? cfg["scale"] : json();
        const double offset = cfg.contains("offset") && cfg["offset"].is_number() ? cfg["offset"].get<double>() : 0.0;
        if (!s.is_number() || !(s.get<double>() > 0) || !std::isfinite(s.get<double>()) || offset != 0.0)
          return fail("only a positive scale with offset 0 is supported");
        scale = s.get<double>();
        continue;
      }
      if (cls == "Conv2D") {
        json kernel, strides = {1, 1}, dilation;
        if (!pair_field(cfg, "kernel_size", kernel)) return fail("kernel_size must be one or two positive integers");
        if (cfg.contains("strides") && !pair_field(cfg, "strides", strides)) return fail("strides must be positive integers");
        if (pair_field(cfg, "dilation_rate", dilation) && dilation != json{1, 1}) return fail("dilation_rate must be 1");
        if (cfg.value("groups", 1) != 1) return fail("groups must be 1");
        if (!cfg.value("use_bias", true)) return fail("use_bias=False is not supported (the engine's conv has a bias)");
        if (!cfg.contains("filters") || !cfg["filters"].is_number_integer()) return fail("filters must be an integer");
        l.update({{"type", "conv2d"}, {"filters", cfg["filters"]}, {"kernel", kernel}, {"strides", strides},
                  {"padding", cfg.value("padding", std::string("valid"))}, {"activation", activation_of(cfg)}});
      } else if (cls == "MaxPooling2D") {
        json pool = {2, 2}, strides;
        if (cfg.contains("pool_size") && !pair_field(cfg, "pool_size", pool)) return fail("pool_size must be positive integers");
        if (!cfg.contains("strides") || cfg["strides"].is_null()) strides = pool;
        else if (!pair_field(cfg, "strides", strides)) return fail("strides must be positive integers");
        l.update({{"type", "max_pool2d"}, {"pool", pool}, {"strides", strides},
                  {"padding", cfg.value("padding", std::string("valid"))}});
      } else if (cls == "Dropout") {
        if (!cfg.contains("rate") || !cfg["rate"].is_number()) return fail("rate must be a number");
        l.update({{"type", "dropout"}, {"rate", cfg["rate"]}});
      } else if (cls == "BatchNormalization") {
        const json axis = cfg.contains("axis") ? cfg["axis"] : json(-1);
        const bool last_axis = axis == json(-1) || axis == json(3) || axis == json{-1} || axis == json{3};
        if (!last_axis) return fail("axis must be the channel axis (-1)");
        if (!cfg.value("center", true) || !cfg.value("scale", true))
          return fail("center=False or scale=False is not supported (the engine reads gamma and beta)");
        l.update({{"type", "batch_norm"}, {"epsilon", cfg.contains("epsilon") ? cfg["epsilon"] : json(1e-3)}});
      } else if (cls == "Flatten") {
        l.update({{"type", "flatten"}});
      } else if (cls == "Dense") {
        if (!cfg.value("use_bias", true)) return fail("use_bias=False is not supported (the engine's dense has a bias)");
        if (!cfg.contains("units") || !cfg["units"].is_number_integer()) return fail("units must be an integer");
        l.update({{"type", "dense"}, {"units", cfg["units"]}, {"activation", activation_of(cfg)}});
      } else if (cls == "Activation") {
        // Merged into the conv or dense layer before it, which then keeps its own name.
        const std::string act = activation_of(cfg);
        if (act == "linear") continue;
        if (out_layers.empty() || (out_layers.back()["type"] != "conv2d" && out_layers.back()["type"] != "dense") ||
            out_layers.back()["activation"] != "linear")
          return fail("an Activation layer is supported only right after a Conv2D or Dense without an activation");
        out_layers.back()["activation"] = act;
        continue;
      } else {
        return fail("layer class " + cls +
                    " is not supported (InputLayer, Rescaling, Conv2D, MaxPooling2D, Dropout, BatchNormalization, "
                    "Flatten, Dense, Activation)");
      }
      out_layers.push_back(l);
    }
    if (out_layers.empty()) return make_error("model_config has no layer the engine runs");
    // [batch, h, w, c]
    if (!input_shape.is_array() || input_shape.size() != 4 || !input_shape[1].is_number_integer() ||
        !input_shape[2].is_number_integer() || !input_shape[3].is_number_integer())
      return make_error("model_config gives no input shape [batch, height, width, channels] (an InputLayer or "
                        "batch_input_shape on the first layer)");
    const json& last = out_layers.back();
    if (last["type"] != "dense") return make_error("model_config: the last layer must be Dense (the class scores)");
    const int64_t units = last["units"].get<int64_t>();
    if (units < 1 || units > ModelLimits::kMaxClasses) return make_error("model_config: the last Dense layer's units are out of range");
    json classes = json::array();
    if (units == 10) classes = cifar10_classes();
    else
      for (int64_t c = 0; c < units; ++c) classes.push_back("class_" + std::to_string(c));
    json arch = {{"format", "gradcam-cnn"},
                 {"version", 1},
                 {"input", {{"height", input_shape[1]}, {"width", input_shape[2]}, {"channels", input_shape[3]},
                            {"scale", scale}, {"layout", "HWC"}}},
                 {"classes", classes},
                 {"layers", out_layers}};
    auto parsed = parse_architecture(arch.dump());
    if (!parsed) return make_error("model_config: " + parsed.error());
    return parsed;
  } catch (const json::exception& e) {
    return make_error(std::string("model_config: unexpected structure (") + e.what() + ")");
  }
}

Result<Architecture> keras_architecture(const KerasFile& file, const Architecture* override_arch) {
  if (override_arch) return *override_arch;
  if (!file.model_config.empty()) return architecture_from_keras_config(file.model_config);
  return seed_architecture();
}

}  // namespace gradcam
