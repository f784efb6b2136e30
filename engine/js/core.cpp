// The C ABI that engine/js/gradcam.mjs calls. Everything crosses as bytes, numbers and JSON;
// large float arrays stay in wasm memory and are read through pointers. No function throws: a
// failure returns 0 / null and gc_error() says why, so the engine stays usable.
#include <emscripten/emscripten.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "gradcam/engine.h"

using namespace gradcam;
using json = nlohmann::json;

namespace {

std::string g_error;
std::map<int, std::unique_ptr<Engine>> g_engines;
int g_next_engine = 1;

// The last result's big arrays, valid until the next call that produces one.
Image g_image;
Explanation g_explanation;
std::vector<float> g_input, g_floats;
std::string g_json;

const char* fail(const std::string& message) {
  g_error = message;
  return nullptr;
}

Engine* engine(int handle) {
  auto it = g_engines.find(handle);
  if (it == g_engines.end()) {
    g_error = "this engine was disposed";
    return nullptr;
  }
  return it->second.get();
}

template <class T>
T get_or(const json& j, const char* key, T fallback) {
  return j.contains(key) && !j[key].is_null() ? j[key].get<T>() : fallback;
}

// Fills options from the JSON the JS side sends; returns an error message or null.
const char* parse_options(const json& o, const Architecture& arch, ExplainOptions& opt) {
  static std::string message;
  auto bad = [&](const std::string& m) {
    message = m;
    return message.c_str();
  };
  auto layer = find_conv_layer(arch, get_or<std::string>(o, "layer", "auto"));
  if (!layer) return bad(layer.error());
  opt.layer = *layer;
  auto method = parse_method(get_or<std::string>(o, "method", "gradcam"));
  if (!method) return bad(method.error());
  opt.method = *method;
  std::string target = o.contains("target") && o["target"].is_number_integer() ? std::to_string(o["target"].get<long>())
                                                                                : get_or<std::string>(o, "target", "auto");
  if (!target.empty() && target[0] == '-') return bad("target " + target + " is out of range");
  auto t = parse_target(arch, target);
  if (!t) return bad(t.error());
  opt.target = *t;
  auto score = parse_score(get_or<std::string>(o, "score", "logit"));
  if (!score) return bad(score.error());
  opt.score = *score;
  opt.smoothgrad_samples = get_or<int>(o, "samples", opt.smoothgrad_samples);
  return nullptr;
}

// The parts of gc_explain and gc_explain_all before explaining: parses the options JSON into o
// and leaves the image's input tensor in g_input. Returns an error message or null.
const char* prepare_call(Engine* e, const char* options_json, const uint8_t* rgba, size_t size, int width, int height,
                         json& o) {
  static std::string message;
  o = json::parse(options_json, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return "options must be an object";
  auto crop = parse_crop_mode(get_or<std::string>(o, "crop", "center"));
  if (!crop) return (message = crop.error()).c_str();
  auto img = image_from_rgba(rgba, size, width, height);
  if (!img) return (message = img.error()).c_str();
  g_input = e->prepare(*img, *crop);
  return nullptr;
}

}  // namespace

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* gc_error() { return g_error.c_str(); }

EMSCRIPTEN_KEEPALIVE int gc_load(const uint8_t* bytes, size_t size, const char* source) {
  try {
    auto e = Engine::load(bytes, size, source);
    if (!e) {
      g_error = e.error();
      return 0;
    }
    g_engines[g_next_engine] = std::move(e.value());
    return g_next_engine++;
  } catch (const std::exception& ex) {
    g_error = std::string(source) + ": cannot load model (" + ex.what() + ")";
    return 0;
  }
}

EMSCRIPTEN_KEEPALIVE void gc_dispose(int handle) { g_engines.erase(handle); }

EMSCRIPTEN_KEEPALIVE const char* gc_info(int handle) {
  Engine* e = engine(handle);
  if (!e) return nullptr;
  g_json = e->info_json();
  return g_json.c_str();
}

// Decodes an image file; its RGBA pixels are then at gc_image_pixels().
EMSCRIPTEN_KEEPALIVE int gc_decode(const uint8_t* bytes, size_t size) {
  try {
    auto img = decode_image(bytes, size);
    if (!img) {
      g_error = img.error();
      return 0;
    }
    g_image = std::move(img.value());
    return 1;
  } catch (const std::exception& ex) {
    g_error = std::string("cannot decode image (") + ex.what() + ")";
    return 0;
  }
}
EMSCRIPTEN_KEEPALIVE int gc_image_width() { return g_image.width; }
EMSCRIPTEN_KEEPALIVE int gc_image_height() { return g_image.height; }
EMSCRIPTEN_KEEPALIVE const uint8_t* gc_image_pixels() { return g_image.rgba.data(); }

// Classifies and explains RGBA pixels. options: {"layer","method","target","score","crop",
// "samples","predict_only"}. Returns the result JSON without the big arrays; the raw map is at
// gc_cam() and the input tensor at gc_input().
EMSCRIPTEN_KEEPALIVE const char* gc_explain(int handle, const uint8_t* rgba, size_t size, int width, int height,
                                            const char* options_json) {
  try {
    Engine* e = engine(handle);
    if (!e) return nullptr;
    json o;
    auto t0 = std::chrono::steady_clock::now();
    if (const char* err = prepare_call(e, options_json, rgba, size, width, height, o)) return fail(err);
    const Architecture& arch = e->arch();
    double preprocess_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    if (get_or<bool>(o, "predict_only", false)) {
      const std::vector<float>& p = e->predict(g_input);
      json top = json::array();
      for (const ClassScore& s : top_k(p, 5))
        top.push_back({{"index", s.index}, {"name", arch.classes[size_t(s.index)]}, {"probability", s.probability}});
      json j = {{"probabilities", p}, {"logits", e->network().logits()}, {"top", top}, {"trained", e->model().trained()},
                {"timings_ms", {{"preprocess", preprocess_ms}}}};
      g_json = j.dump();
      return g_json.c_str();
    }
    ExplainOptions opt;
    if (const char* err = parse_options(o, arch, opt)) return fail(err);
    auto ex = e->explain(g_input, opt);
    if (!ex) return fail(ex.error());
    g_explanation = std::move(ex.value());
    JsonOptions jo;
    jo.preprocess_ms = preprocess_ms;
    jo.cam_values = false;  // read through gc_cam()
    g_json = explanation_json(e->model(), g_explanation, jo);
    return g_json.c_str();
  } catch (const std::exception& ex) {
    return fail(std::string("explain failed: ") + ex.what());
  }
}
EMSCRIPTEN_KEEPALIVE const float* gc_cam() { return g_explanation.cam.values.data(); }

// Every conv layer's map from one forward and one backward pass: JSON with each layer's name,
// size and offset into gc_floats(), where the maps lie one after another.
EMSCRIPTEN_KEEPALIVE const char* gc_explain_all(int handle, const uint8_t* rgba, size_t size, int width, int height,
                                                const char* options_json) {
  try {
    Engine* e = engine(handle);
    if (!e) return nullptr;
    json o;
    if (const char* err = prepare_call(e, options_json, rgba, size, width, height, o)) return fail(err);
    const Architecture& arch = e->arch();
    ExplainOptions opt;
    if (const char* err = parse_options(o, arch, opt)) return fail(err);
    auto all = explain_all_layers(e->network(), g_input.data(), opt);
    if (!all) return fail(all.error());
    g_floats.clear();
    json layers = json::array();
    for (const Explanation& x : *all) {
      const LayerSpec& l = arch.layers[size_t(x.layer)];
      layers.push_back({{"name", l.name}, {"index", x.layer}, {"height", x.cam.height}, {"width", x.cam.width},
                        {"channels", x.layer_shape.c}, {"offset", g_floats.size()}});
      g_floats.insert(g_floats.end(), x.cam.values.begin(), x.cam.values.end());
    }
    const Explanation& first = all->front();
    json top = json::array();
    for (const ClassScore& s : top_k(first.probabilities, 5))
      top.push_back({{"index", s.index}, {"name", arch.classes[size_t(s.index)]}, {"probability", s.probability}});
    double cam_ms = 0;
    for (const Explanation& x : *all) cam_ms += x.cam_ms;
    json j = {{"probabilities", first.probabilities}, {"logits", first.logits}, {"top", top},
              {"target", {{"index", first.target}, {"name", arch.classes[size_t(first.target)]}}},
              {"method", method_name(first.method)}, {"score", score_name(first.score)}, {"layers", layers},
              {"trained", e->model().trained()},
              {"timings_ms", {{"forward", first.forward_ms}, {"backward", first.backward_ms}, {"cam", cam_ms}}}};
    g_json = j.dump();
    return g_json.c_str();
  } catch (const std::exception& ex) {
    return fail(std::string("explain failed: ") + ex.what());
  }
}
EMSCRIPTEN_KEEPALIVE const float* gc_floats() { return g_floats.data(); }
EMSCRIPTEN_KEEPALIVE const float* gc_input() { return g_input.data(); }
EMSCRIPTEN_KEEPALIVE int gc_input_size() { return int(g_input.size()); }

// Normalised heat map of a raw map, resampled to width x height (at gc_floats()).
EMSCRIPTEN_KEEPALIVE const float* gc_heatmap(const float* raw, int raw_height, int raw_width, int width, int height) {
  if (raw_height <= 0 || raw_width <= 0 || width <= 0 || height <= 0 || int64_t(width) * height > ImageLimits::kMaxPixels)
    return fail("heat map size must be positive and at most 40 megapixels"), nullptr;
  g_floats = gradcam::heatmap(raw, raw_height, raw_width, width, height);
  return g_floats.data();
}

// Overlay of a raw map on RGBA pixels through the crop geometry (at gc_image_pixels()).
EMSCRIPTEN_KEEPALIVE int gc_overlay(const uint8_t* rgba, size_t size, int width, int height, const float* raw,
                                    int raw_height, int raw_width, int input_height, int input_width,
                                    const char* crop_name, const char* colormap_name, float alpha) {
  try {
    auto img = image_from_rgba(rgba, size, width, height);
    if (!img) return fail(img.error()), 0;
    auto crop = parse_crop_mode(crop_name);
    if (!crop) return fail(crop.error()), 0;
    auto map = parse_colormap(colormap_name);
    if (!map) return fail(map.error()), 0;
    g_image = overlay_on_source(*img, raw, raw_height, raw_width, input_height, input_width, *crop, *map, alpha);
    return 1;
  } catch (const std::exception& ex) {
    return fail(std::string("overlay failed: ") + ex.what()), 0;
  }
}

// RGB of a colormap at t, packed 0xRRGGBB (for legends).
EMSCRIPTEN_KEEPALIVE int gc_colormap_rgb(const char* name, float t) {
  auto map = parse_colormap(name);
  if (!map) return fail(map.error()), -1;
  auto c = colormap_rgb(*map, t);
  return c[0] << 16 | c[1] << 8 | c[2];
}

}  // extern "C"
