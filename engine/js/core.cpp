// The C ABI that engine/js/gradcam.mjs calls beside the loading functions it shares with the page's
// app (load.h: gc_load, gc_load_keras, gc_set_model_options, gc_info, gc_dispose, gc_error).
// Everything crosses as bytes, numbers and JSON; large float arrays stay in wasm memory and are
// read through pointers. No function throws: a failure returns 0 / null and gc_error() says why,
// so the engine stays usable.
#include <emscripten/emscripten.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "gradcam/contract.h"
#include "gradcam/engine.h"
#include "gradcam/metrics.h"
#include "gradcam/request.h"
#include "load.h"

using namespace gradcam;

namespace {

// The last result's big arrays, valid until the next call that produces one.
Image g_image;
Explanation g_explanation;
std::vector<float> g_input, g_floats;
std::string g_json;

using gradcam_js::fail;
Engine* engine(int handle) { return gradcam_js::loaded_engine(handle); }

// The options object the JS side sends, as the engine's request: every value as text, the one
// parser (request.h) for every key. `predict_only` is this ABI's own flag, not a request key.
// Returns an error message or null.
const char* parse_call(const char* options_json, const Model& model, ExplainRequest& request, bool& predict_only) {
  static std::string message;
  auto fields = option_fields(options_json);
  if (!fields) return (message = fields.error()).c_str();
  predict_only = false;
  std::vector<std::pair<std::string, std::string>> keys;
  for (auto& [key, value] : *fields) {
    if (key == "predict_only") predict_only = value == "true";
    else keys.emplace_back(std::move(key), std::move(value));
  }
  auto r = parse_request(model, keys);
  if (!r) return (message = r.error()).c_str();
  request = std::move(r.value());
  return nullptr;
}

// The parts of gc_explain and gc_explain_all before explaining: parses the options and leaves the
// image's input tensor in g_input. Returns an error message or null.
const char* prepare_call(Engine* e, const char* options_json, const uint8_t* rgba, size_t size, int width, int height,
                         ExplainRequest& request, bool& predict_only) {
  static std::string message;
  if (const char* err = parse_call(options_json, e->model(), request, predict_only)) return err;
  auto img = image_from_rgba(rgba, size, width, height);
  if (!img) return (message = img.error()).c_str();
  g_input = e->prepare(*img, request.crop);
  return nullptr;
}

// The shape of every call on an image with explain options: find the engine, parse the options,
// prepare the input (g_input), then run `body(engine, request, predict_only, preprocess_ms)`,
// which returns the JSON text; an exception becomes "<what> failed: ...".
template <class Body>
const char* image_call(int handle, const uint8_t* rgba, size_t size, int width, int height, const char* options_json,
                       const char* what, Body body) {
  try {
    Engine* e = engine(handle);
    if (!e) return nullptr;
    ExplainRequest request;
    bool predict_only = false;
    auto t0 = std::chrono::steady_clock::now();
    if (const char* err = prepare_call(e, options_json, rgba, size, width, height, request, predict_only)) return fail(err);
    const double preprocess_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return body(*e, request, predict_only, preprocess_ms);
  } catch (const std::exception& ex) {
    return fail(std::string(what) + " failed: " + ex.what());
  }
}

}  // namespace

extern "C" {


// Explain options parsed by the one request parser without running anything (the widget checks its
// attributes with it): the request as JSON (request_json), or null and gc_error() naming the key.
EMSCRIPTEN_KEEPALIVE const char* gc_parse_request(int handle, const char* options_json) {
  try {
    Engine* e = engine(handle);
    if (!e) return nullptr;
    auto fields = option_fields(options_json ? options_json : "");
    if (!fields) return fail(fields.error());
    auto r = parse_request(e->model(), *fields);
    if (!r) return fail(r.error());
    g_json = request_json(e->model(), *r);
    return g_json.c_str();
  } catch (const std::exception& ex) {
    return fail(std::string("parse request failed: ") + ex.what());
  }
}

// Decodes an image file; its RGBA pixels are then at gc_image_pixels().
EMSCRIPTEN_KEEPALIVE int gc_decode(const uint8_t* bytes, size_t size) {
  try {
    auto img = decode_image(bytes, size);
    if (!img) return fail(img.error()), 0;
    g_image = std::move(img.value());
    return 1;
  } catch (const std::exception& ex) {
    return fail(std::string("cannot decode image (") + ex.what() + ")"), 0;
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
  return image_call(handle, rgba, size, width, height, options_json, "explain",
                    [](Engine& e, const ExplainRequest& request, bool predict_only, double preprocess_ms) -> const char* {
                      if (predict_only) {
                        auto p = e.predict(g_input);
                        if (!p) return fail(p.error());
                        g_json = prediction_json(e.model(), *p, e.network().logits(), preprocess_ms);
                        return g_json.c_str();
                      }
                      auto ex = e.explain(g_input, request.options);
                      if (!ex) return fail(ex.error());
                      g_explanation = std::move(ex.value());
                      JsonOptions jo;
                      jo.preprocess_ms = preprocess_ms;
                      jo.cam_values = false;  // read through gc_cam()
                      g_json = explanation_json(e.model(), g_explanation, jo);
                      return g_json.c_str();
                    });
}
EMSCRIPTEN_KEEPALIVE const float* gc_cam() { return g_explanation.cam.values.data(); }

// Every conv layer's map from one forward and one backward pass: JSON with each layer's name,
// size and offset into gc_floats(), where the maps lie one after another.
EMSCRIPTEN_KEEPALIVE const char* gc_explain_all(int handle, const uint8_t* rgba, size_t size, int width, int height,
                                                const char* options_json) {
  return image_call(handle, rgba, size, width, height, options_json, "explain",
                    [](Engine& e, const ExplainRequest& request, bool, double) -> const char* {
                      auto all = explain_all_layers(e.network(), g_input.data(), request.options);
                      if (!all) return fail(all.error());
                      // The maps lie one after another in g_floats; the JSON gives each one's offset.
                      g_floats.clear();
                      std::vector<size_t> offsets;
                      for (const Explanation& x : *all) {
                        offsets.push_back(g_floats.size());
                        g_floats.insert(g_floats.end(), x.cam.values.begin(), x.cam.values.end());
                      }
                      g_json = all_layers_json(e.model(), *all, offsets);
                      return g_json.c_str();
                    });
}
// Faithfulness of a map (metrics.h) for a class: options {"crop", "steps", "metrics":[...]}
// (parse_evaluate_options; the metrics are contract.h's metric_names(), default all).
EMSCRIPTEN_KEEPALIVE const char* gc_evaluate(int handle, const uint8_t* rgba, size_t size, int width, int height,
                                             const float* cam, int cam_height, int cam_width, int target,
                                             const char* options_json) {
  try {
    Engine* e = engine(handle);
    if (!e) return nullptr;
    const Architecture& arch = e->arch();
    auto options = parse_evaluate_options(options_json ? options_json : "");
    if (!options) return fail(options.error());
    if (target < 0 || target >= int(arch.classes.size())) return fail("target class " + std::to_string(target) + " is out of range");
    if (cam_height <= 0 || cam_width <= 0 || int64_t(cam_height) * cam_width > int64_t(arch.height) * arch.width * 64)
      return fail("the map's size is not valid");
    auto img = image_from_rgba(rgba, size, width, height);
    if (!img) return fail(img.error());
    g_input = e->prepare(*img, options->crop);
    const Map map{cam_height, cam_width, std::vector<float>(cam, cam + size_t(cam_height) * cam_width)};
    g_json = evaluation_json(e->network(), g_input.data(), map, target, *options);
    return g_json.c_str();
  } catch (const std::exception& ex) {
    return fail(std::string("evaluate failed: ") + ex.what());
  }
}

// The cascading randomisation sanity check for an explanation's request keys: the original map
// and, per step, the layer randomised, Spearman, SSIM and the map (values inline: they are small).
EMSCRIPTEN_KEEPALIVE const char* gc_sanity_check(int handle, const uint8_t* rgba, size_t size, int width, int height,
                                                 const char* options_json) {
  return image_call(handle, rgba, size, width, height, options_json, "sanity check",
                    [](Engine& e, const ExplainRequest& request, bool, double) -> const char* {
                      auto check = sanity_check(e.model(), g_input.data(), request.options);
                      if (!check) return fail(check.error());
                      g_json = sanity_check_json(*check);
                      return g_json.c_str();
                    });
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

// Where an image of width x height lands in the model's input for a crop mode: the part of the
// image used and the part of the input it fills, each [x0, y0, x1, y1] normalised to [0, 1]
// (crop_geometry: front ends draw maps back on images with it instead of re-deriving it).
EMSCRIPTEN_KEEPALIVE const char* gc_crop_geometry(int handle, int width, int height, const char* crop_name) {
  Engine* e = engine(handle);
  if (!e) return nullptr;
  auto crop = parse_crop_mode(crop_name);
  if (!crop) return fail(crop.error());
  if (width <= 0 || height <= 0) return fail("image size must be positive");
  const Architecture& a = e->arch();
  g_json = crop_geometry_json(crop_geometry(width, height, a.width, a.height, *crop), width, height, a.width, a.height);
  return g_json.c_str();
}

// RGB of a colormap at t, packed 0xRRGGBB (for legends).
EMSCRIPTEN_KEEPALIVE int gc_colormap_rgb(const char* name, float t) {
  auto map = parse_colormap(name);
  if (!map) return fail(map.error()), -1;
  auto c = colormap_rgb(*map, t);
  return c[0] << 16 | c[1] << 8 | c[2];
}

}  // extern "C"
