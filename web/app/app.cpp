// The explorer's state changes: the model, images, options and the explanation on screen (see
// app.h). Everything the person sees follows from App g; this file is the only one that runs the
// engine.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "app.h"
#include "gradcam/request.h"

namespace app {

using json = nlohmann::json;

// Page callbacks (web/page.js sets them on the module object).
EM_JS(void, js_on_status, (const char* text, int is_error), {
  if (Module["onStatus"]) Module["onStatus"](UTF8ToString(text), !!is_error);
});
EM_JS(void, js_on_result, (const char* result_json), {
  if (Module["onResult"]) Module["onResult"](UTF8ToString(result_json));
});
// The control that has keyboard focus, described for screen readers (the page announces it).
EM_JS(void, js_on_focus, (const char* label), {
  if (Module["onFocus"]) Module["onFocus"](UTF8ToString(label));
});
// "open-file" (show the file picker), "export" (download the overlay as PNG) or "image-chosen" (a
// sample was chosen in the app: the page's own pending loads are superseded).
EM_JS(void, js_request, (const char* what), {
  if (Module["onRequest"]) Module["onRequest"](UTF8ToString(what));
});

void announce_focus(const std::string& label) { js_on_focus(label.c_str()); }
void page_request(const char* what) { js_request(what); }

App g;

void wake(int frames) { g.wake_frames = std::max(g.wake_frames, frames); }

void set_status(const std::string& text, bool is_error) {
  g.status = text;
  g.status_error = is_error;
  js_on_status(text.c_str(), is_error ? 1 : 0);
  wake();
}

int fail(const std::string& message) {
  g.last_error = message;
  set_status(message, true);
  return 0;
}

std::string percent(float p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, p >= 0.0995f ? "%.1f%%" : "%.2f%%", double(p) * 100.0);
  return buf;
}

std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f ms" : "%.0f ms", v);
  return buf;
}

const Architecture& arch() { return g.engine->arch(); }
const std::string& class_name(int index) { return arch().classes[size_t(index)]; }

std::string layer_label(int layer) {
  const Value& v = g.engine->graph().output_of(layer);
  const Shape& s = v.map.is_map() ? v.map.grid : v.shape;  // a token grid's h x w x c (ViT: after the class token)
  return layer_name(g.engine->model(), layer) + "  (" + std::to_string(s.h) + "\xC3\x97" + std::to_string(s.w) + "\xC3\x97" +
         std::to_string(s.c) + ")";
}

// ---------------------------------------------------------------------------------------------
// State changes

bool same_map(const ExplainRequest& a, const ExplainRequest& b) {
  const ExplainOptions &x = a.options, &y = b.options;
  return x.layer == y.layer && x.method == y.method && x.target == y.target && x.score == y.score &&
         x.smoothgrad_samples == y.smoothgrad_samples && x.smoothgrad_sigma == y.smoothgrad_sigma && x.seed == y.seed &&
         x.gradient_shap_samples == y.gradient_shap_samples && x.ig_steps == y.ig_steps && x.baseline == y.baseline &&
         x.occlusion_window == y.occlusion_window && x.occlusion_stride == y.occlusion_stride &&
         x.eigen_smooth == y.eigen_smooth && x.aug_smooth == y.aug_smooth && a.crop == b.crop;
}

bool same_request(const ExplainRequest& a, const ExplainRequest& b) {
  return same_map(a, b) && a.colormap == b.colormap && a.alpha == b.alpha;
}

Look look() { return Look{g.choice.colormap, g.choice.alpha, g.upsample}; }

void set_crop_geometry() {
  if (g.image.width <= 0 || !g.engine) return;
  const CropGeometry geo = crop_geometry(g.image.width, g.image.height, arch().width, arch().height, g.choice.crop);
  g.renderer.set_crop(geo, g.image.width, g.image.height, arch().width, arch().height);
  ++g.gpu_version;
}

// Runs the network if the image or a choice that changes the map differs from what is on screen.
// False when that run failed (the status says why).
bool ensure_explanation() {
  if (!g.engine || g.image.width <= 0) return true;
  if (g.result_serial == g.image_serial && same_map(g.result_choice, g.choice)) return g.have_result;
  const double t0 = emscripten_get_now();
  if (g.input_serial != g.image_serial || g.input_crop != g.choice.crop) {
    g.input = g.engine->prepare(g.image, g.choice.crop);
    g.input_serial = g.image_serial;
    g.input_crop = g.choice.crop;
    g.prepare_ms = emscripten_get_now() - t0;
    set_crop_geometry();
  } else {
    g.prepare_ms = 0;
  }
  auto ex = g.engine->explain(g.input, g.choice.options);
  g.result_serial = g.image_serial;
  g.result_choice = g.choice;
  if (!ex) {
    g.have_result = false;
    g.renderer.clear_cam();
    ++g.gpu_version;
    fail(g.image_name + ": " + ex.error());
    return false;
  }
  g.result = std::move(ex.value());
  const Map& cam = g.result.cam;
  std::vector<float> normalised = normalize_map(cam.values.data(), int(cam.values.size()));
  g.map_is_flat = std::all_of(normalised.begin(), normalised.end(), [](float v) { return v == 0.0f; });
  g.renderer.set_cam(normalised, cam.height, cam.width);
  ++g.gpu_version;
  g.have_result = true;
  g.total_ms = emscripten_get_now() - t0;
  ++g.explain_count;
  // A live camera frame: the panels draw it, the readout counts it (camera.cpp). The status line,
  // the result JSON and the page's result event wait for the pause (30 announcements a second
  // would drown a screen reader, and the JSON would cost as much as the map).
  if (camera_live()) return true;

  // The status line names the top class and its probability after every explanation: the engine's
  // one-line summary, with this page's image and time.
  std::string text = g.image_name + ": top class " + explanation_summary(g.engine->model(), g.result) + ", " + ms(g.total_ms) + ".";
  if (g.engine->model().untrained()) text += " Untrained model: random weights, so classes and maps mean nothing yet.";
  if (g.map_is_flat) text += " The map is zero everywhere for this class and layer.";

  // The engine's result JSON (the CLI's --json and the JS API print the same fields), with what
  // only the page knows: the image, whether the class was chosen, the flat-map flag, the status.
  JsonOptions jo;
  jo.preprocess_ms = g.prepare_ms;
  jo.cam_values = false;
  jo.crop = crop_mode_name(g.choice.crop);
  json j = json::parse(explanation_json(g.engine->model(), g.result, jo));
  j["image"] = {{"name", g.image_name}, {"width", g.image.width}, {"height", g.image.height}};
  j["auto_target"] = g.choice.options.target < 0;
  j["cam"]["flat"] = g.map_is_flat;
  j["timings_ms"]["total"] = g.total_ms;
  j["explain_count"] = g.explain_count;
  j["status"] = text;
  g.result_json = j.dump();
  set_status(text, false);
  js_on_result(g.result_json.c_str());
  return true;
}

void set_image(Image image, const std::string& name) {
  g.image = std::move(image);
  g.image_name = name;
  ++g.image_serial;
  g.zoom = 1.0f;  // a new image is shown whole
  g.zoom_centre = ImVec2(0.5f, 0.5f);
  g.have_result = false;
  g.renderer.set_image(g.image);
  g.renderer.clear_cam();
  set_crop_geometry();
  ++g.gpu_version;
  if (!g.engine) set_status(name + " is loaded; waiting for the model.", false);
  ensure_explanation();
}

int load_image_bytes(const uint8_t* bytes, size_t size, const std::string& name) {
  auto img = decode_image(bytes, size);
  if (!img) return fail(name + ": " + img.error());
  set_image(std::move(img.value()), name);
  return g.have_result || !g.engine ? 1 : 0;
}


int layer_position() {
  auto it = std::find(g.conv_layers.begin(), g.conv_layers.end(), g.choice.options.layer);
  return it == g.conv_layers.end() ? 0 : int(it - g.conv_layers.begin());
}

void step_layer(int delta) {
  if (g.conv_layers.empty()) return;
  const int n = int(g.conv_layers.size());
  g.choice.options.layer = g.conv_layers[size_t(wrap(layer_position() + delta, n))];
}

void step_method(int delta) {
  const auto& all = all_methods();
  const int n = int(all.size());
  int i = int(std::find(all.begin(), all.end(), g.choice.options.method) - all.begin());
  g.choice.options.method = all[size_t(wrap(i + delta, n))];
}

// A sample chosen in the app (click or N): the page drops any image still downloading or reading.
void load_sample(int i) {
  if (i < 0 || i >= int(g.samples.size())) return;
  page_request("image-chosen");
  load_image_bytes(g.samples[size_t(i)].bytes.data(), g.samples[size_t(i)].bytes.size(), g.samples[size_t(i)].name);
}

int current_sample() {
  for (size_t i = 0; i < g.samples.size(); ++i)
    if (g.samples[i].name == g.image_name) return int(i);
  return -1;
}

// Sets one option by name (the same names as the widget's attributes and gradcamApp.set()); the
// explanation follows at app_apply() or the next frame, so several options cost one run.
int set_option(const std::string& key, const std::string& value) {
  // The explain and colour keys go through the engine's one request parser (as the CLI's options
  // and the JS API's do); the page's own keys (upsample, view) follow.
  const auto& keys = request_keys();
  if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
    if (!g.engine) return fail("the model is not loaded yet");
    ExplainRequest r = g.choice;
    if (Status st = set_request_field(r, g.engine->model(), key, value); !st) return fail(st.error());
    const bool new_crop = r.crop != g.choice.crop;
    g.choice = r;
    if (new_crop) set_crop_geometry();
  } else if (key == "upsample") {
    if (value != "bilinear" && value != "bicubic") return fail("upsample must be bilinear or bicubic, not \"" + value + "\"");
    g.upsample = value == "bicubic" ? Upsample::bicubic : Upsample::bilinear;
  } else if (key == "view") {
    if (value != kViewNames[0] && value != kViewNames[1]) return fail("view must be side-by-side or overlay, not \"" + value + "\"");
    g.view = value == kViewNames[0] ? View::side_by_side : View::overlay;
  } else {
    return fail("unknown option " + key + " (valid: " + names_text(keys) + ", upsample, view)");
  }
  wake();
  return 1;
}

int set_model_options(const std::string& options_json, const std::string& labels_name) {
  if (!g.engine) return fail("the model is not loaded yet");
  if (Status s = g.engine->set_model_options(options_json); !s) return fail(s.error());
  const json j = json::parse(options_json, nullptr, false);
  const bool labels = j.is_object() && j.contains("labels") && !j["labels"].is_null();
  return model_options_changed(labels ? (labels_name.empty() ? "labels" : labels_name) : "");
}

int model_options_changed(const std::string& labels_name) {
  if (!g.engine) return fail("the model is not loaded yet");
  if (!labels_name.empty()) g.labels_name = labels_name;
  // The input (normalisation) and the result's class names change: prepare and explain again.
  g.input_serial = 0;
  g.result_serial = 0;
  g.have_result = false;
  if (g.image.width > 0) ensure_explanation();
  wake();
  return 1;
}

int use_normalization(const Normalization& n) {
  return set_model_options(json{{"mean", n.mean}, {"std", n.std}}.dump(), "");
}

const Normalization* current_normalization() {
  if (!g.engine) return nullptr;
  for (const Normalization& n : kNormalizations)
    if (n.mean == arch().mean && n.std == arch().std) return &n;
  return nullptr;
}

// The overlay at the image's own size (small images are scaled up by a whole factor so the PNG is
// at least 256 pixels across; large ones are capped at 4096 on the long side).
int export_png() {
  if (!g.renderer.has_image()) return fail("there is no image to export yet");
  int w = g.image.width, h = g.image.height;
  const int longest = std::max(w, h);
  if (longest < 256) {
    const int k = (256 + longest - 1) / longest;
    w *= k, h *= k;
  } else if (longest > 4096) {
    const double k = 4096.0 / longest;
    w = std::max(1, int(std::lround(w * k))), h = std::max(1, int(std::lround(h * k)));
  }
  w = std::min(w, g.renderer.max_texture_size());
  h = std::min(h, g.renderer.max_texture_size());
  std::vector<uint8_t> rgba = g.renderer.read_pixels(w, h, look());
  g.png = encode_png(rgba.data(), w, h, 4);
  if (g.png.empty()) return fail("could not encode the PNG");
  return int(g.png.size());
}

}  // namespace app
