// The C ABI that web/page.js calls. Nothing throws: failures return 0 and app_error() says why (the
// status line says it too). Models are loaded through engine/js/load.cpp's functions, which this
// program links as the JS API's core does (one loading path): see app_use_model.
#include <nlohmann/json.hpp>

#include "app.h"
#include "load.h"

using namespace app;
using json = nlohmann::json;


extern "C" {

EMSCRIPTEN_KEEPALIVE const char* app_error() { return g.last_error.c_str(); }

// The app's model is an engine that engine/js/load.cpp loaded (the page calls gc_load or
// gc_load_keras through engine/js/load.mjs, as the JS API does): the app takes its handle, chooses
// the default layer and explains the image again. On failure the handle is disposed of and the
// previous model stays.
EMSCRIPTEN_KEEPALIVE int app_use_model(int handle, const char* name) {
  try {
    Engine* engine = gradcam_js::loaded_engine(handle);
    if (!engine) return fail(std::string(name) + ": " + gc_error());
    std::vector<int> layers = explainable_nodes(engine->graph());
    if (layers.empty()) {
      gc_dispose(handle);
      return fail(std::string(name) + ": the model has no layer to explain");
    }
    if (g.engine_handle) gc_dispose(g.engine_handle);
    g.engine_handle = handle;
    g.engine = engine;
    g.model_name = name;
    g.labels_name.clear();
    if (auto slash = g.model_name.find_last_of('/'); slash != std::string::npos) g.model_name.erase(0, slash + 1);
    g.conv_layers = std::move(layers);
    g.choice.options.layer = g.engine->graph().default_layer;
    g.choice.options.target = -1;
    g.have_result = false;
    g.result_serial = 0;
    g.input_serial = 0;
    set_status(g.image.width > 0 ? "Model loaded." : "Model loaded. Open, drop or paste an image, or pick a sample.", false);
    if (g.image.width > 0) {
      set_crop_geometry();
      ensure_explanation();
    }
    return 1;
  } catch (const std::exception& ex) {
    return fail(std::string(name) + ": cannot use the model (" + ex.what() + ")");
  }
}

// The handle of the app's model (0 before one is loaded), for gc_set_model_options and gc_info.
EMSCRIPTEN_KEEPALIVE int app_engine() { return g.engine_handle; }

// The page changed the model's mean/std and/or labels through gc_set_model_options on app_engine():
// prepare and explain again. labels_name names the labels file when labels were given ("" when
// they were not).
EMSCRIPTEN_KEEPALIVE int app_model_options_changed(const char* labels_name) {
  try {
    return model_options_changed(labels_name);
  } catch (const std::exception& ex) {
    return fail(std::string("cannot explain with the model's new options (") + ex.what() + ")");
  }
}

// Decodes and explains an image file (PNG, JPEG, BMP, GIF). On failure the previous image stays.
EMSCRIPTEN_KEEPALIVE int app_load_image(const uint8_t* bytes, size_t size, const char* name) {
  try {
    return load_image_bytes(bytes, size, name);
  } catch (const std::exception& ex) {
    return fail(std::string(name) + ": cannot read the image (" + ex.what() + ")");
  }
}

// A gallery image: kept as bytes, shown as a thumbnail, loaded when clicked (or by app_load_sample).
EMSCRIPTEN_KEEPALIVE int app_add_sample(const uint8_t* bytes, size_t size, const char* name) {
  auto img = decode_image(bytes, size);
  if (!img) return fail(std::string(name) + ": " + img.error());
  Sample s{name, std::vector<uint8_t>(bytes, bytes + size), 0};
  glGenTextures(1, &s.texture);
  glBindTexture(GL_TEXTURE_2D, s.texture);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, img->width <= 64 ? GL_NEAREST : GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, img->width, img->height, 0, GL_RGBA, GL_UNSIGNED_BYTE, img->rgba.data());
  g.samples.push_back(std::move(s));
  wake();
  return 1;
}

EMSCRIPTEN_KEEPALIVE int app_load_sample(const char* name) {
  for (size_t i = 0; i < g.samples.size(); ++i)
    if (g.samples[i].name == name) return load_image_bytes(g.samples[i].bytes.data(), g.samples[i].bytes.size(), name);
  return fail(std::string("no sample named ") + name);
}

EMSCRIPTEN_KEEPALIVE int app_set(const char* key, const char* value) { return set_option(key, value); }

// Brings the explanation up to date with the options now (else the next frame does it).
EMSCRIPTEN_KEEPALIVE int app_apply() { return ensure_explanation() ? 1 : 0; }

// Tab (+1) or Shift+Tab (-1) on the focused canvas: 1 if focus moves to another drawn control,
// 0 if it was on the first or last one and the page should move focus out of the canvas.
EMSCRIPTEN_KEEPALIVE int app_tab(int dir) {
  wake();
  return g.tabs.tab(dir) ? 1 : 0;
}

// The canvas got focus (+1 by Tab, -1 by Shift+Tab, 2 by pointer) or lost it (0).
EMSCRIPTEN_KEEPALIVE void app_canvas_focus(int how) {
  wake();
  if (how == 0)
    g.tabs.leave();
  else
    g.tabs.enter(how == 2 ? 0 : how);
}

// 1 if Escape belongs to the app (it closes a list or ends an edit), 0 if it should leave the canvas.
EMSCRIPTEN_KEEPALIVE int app_wants_escape() { return g.tabs.wants_escape() ? 1 : 0; }

// An error found by the page (a file too large to read, a download that failed).
EMSCRIPTEN_KEEPALIVE void app_report_error(const char* message) { fail(message); }

// The page resizes the canvas (Module.setCanvasSize, which GLFW follows); this says the ratio of
// canvas pixels to CSS pixels, which scales the UI.
EMSCRIPTEN_KEEPALIVE void app_set_pixel_ratio(float dpr) {
  if (dpr > 0 && std::abs(dpr - g.dpr) > 1e-3f) {
    g.dpr = dpr;
    g.fonts_dirty = true;
  }
  wake();
}

EMSCRIPTEN_KEEPALIVE void app_set_font(const uint8_t* ttf, size_t size) {
  g.font_ttf.assign(ttf, ttf + size);
  g.fonts_dirty = true;
  wake();
}

// The page's layout (web/page.js decides by the window's CSS width and the pointer): 1 = stacked
// in one column, and 1 = touch-sized targets.
EMSCRIPTEN_KEEPALIVE void app_set_layout(int narrow, int touch) {
  if (g.touch != (touch != 0)) g.fonts_dirty = true;  // the style's sizes change (apply_style)
  g.narrow = narrow != 0;
  g.touch = touch != 0;
  wake();
}

// Gestures on the image panels, at canvas device px: pinch (factor), two-finger drag, double-tap.
// 0 if the point is not on an image panel (the page then leaves the gesture to the browser).
EMSCRIPTEN_KEEPALIVE int app_on_panel(float x, float y) { return on_panel(x, y) ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int app_zoom(float x, float y, float factor) { return zoom_at(x, y, factor) ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE int app_zoom_toggle(float x, float y) { return zoom_toggle(x, y) ? 1 : 0; }
EMSCRIPTEN_KEEPALIVE void app_pan(float dx, float dy) { pan_by(dx, dy); }
// One finger dragged by dy over the side-by-side layout: 1 if a drawn window under it scrolled.
EMSCRIPTEN_KEEPALIVE int app_touch_scroll(float x, float y, float dy) { return touch_scroll(x, y, dy) ? 1 : 0; }

// How far the stacked page is scrolled (device px): a window opens there. No redraw needed.
EMSCRIPTEN_KEEPALIVE void app_set_page_scroll(float y) { g.page_scroll_y = std::max(0.0f, y); }

// A message from the page that is not an error (a copied link).
EMSCRIPTEN_KEEPALIVE void app_show_status(const char* text) { set_status(text, false); }

// Renders the overlay as PNG; returns its size (bytes at app_png()) or 0.
EMSCRIPTEN_KEEPALIVE int app_export_png() { return export_png(); }
EMSCRIPTEN_KEEPALIVE const uint8_t* app_png() { return g.png.data(); }

// The options, the image and the last result, as JSON (window.gradcamApp reads it).
EMSCRIPTEN_KEEPALIVE const char* app_state() {
  json options = {
      {"layer", g.engine ? json(layer_name(g.engine->model(), g.choice.options.layer)) : json(nullptr)},
      {"method", method_name(g.choice.options.method)},
      {"target", g.choice.options.target < 0 || !g.engine ? json("auto") : json(g.choice.options.target)},
      {"score", score_name(g.choice.options.score)},
      {"eigen_smooth", g.choice.options.eigen_smooth},
      {"aug_smooth", g.choice.options.aug_smooth},
      {"crop", crop_mode_name(g.choice.crop)},
      {"colormap", colormap_name(g.choice.colormap)},
      {"alpha", g.choice.alpha},
      {"upsample", g.upsample == Upsample::bicubic ? "bicubic" : "bilinear"},
      {"view", kViewNames[int(g.view)]},
  };
  json samples = json::array();
  for (const Sample& s : g.samples) samples.push_back(s.name);
  // In CSS px, as a test measures the page: where the map (and the original) were drawn, and the
  // height of a button or list (a touch target).
  auto css_rect = [](int i) {
    return json{{"x", g.panel_min[i].x / g.dpr}, {"y", g.panel_min[i].y / g.dpr},
                {"width", (g.panel_max[i].x - g.panel_min[i].x) / g.dpr}, {"height", (g.panel_max[i].y - g.panel_min[i].y) / g.dpr}};
  };
  json controls = json::array();
  for (const auto& c : g.tabs.placed())
    controls.push_back({{"label", c.label}, {"x", c.min.x / g.dpr}, {"y", c.min.y / g.dpr},
                        {"width", (c.max.x - c.min.x) / g.dpr}, {"height", (c.max.y - c.min.y) / g.dpr}});
  json layout = {{"narrow", g.narrow},
                 {"touch", g.touch},
                 {"zoom", g.zoom},
                 {"map", css_rect(1)},
                 {"original", css_rect(0)},
                 {"controls", controls},
                 {"frame_height", ImGui::GetCurrentContext() ? (ImGui::GetFontSize() + 2 * ImGui::GetStyle().FramePadding.y) / g.dpr : 0.0f}};
  json j = {
      {"model", g.engine ? json::parse(g.engine->info_json()) : json(nullptr)},
      {"model_name", g.engine ? json(g.model_name) : json(nullptr)},
      {"labels", g.labels_name.empty() ? json(nullptr) : json(g.labels_name)},
      {"normalization", !g.engine ? json(nullptr) : current_normalization() ? json(current_normalization()->name) : json("custom")},
      {"options", options},
      {"image", g.image.width > 0 ? json{{"name", g.image_name}, {"width", g.image.width}, {"height", g.image.height}} : json(nullptr)},
      {"result", g.have_result ? json::parse(g.result_json) : json(nullptr)},
      {"status", g.status},
      {"error", g.status_error},
      {"explain_count", g.explain_count},
      {"samples", samples},
      {"dpr", g.dpr},
      {"layout", layout},
      {"frames", g.frames_drawn},
      {"idle", g.wake_frames <= 0},
      {"map", g.have_result ? json{{"width", g.result.cam.width}, {"height", g.result.cam.height}} : json(nullptr)},
      {"camera", {{"state", kCameraStateNames[int(g.camera.state)]}, {"maps", g.camera.maps}, {"maps_per_second", g.camera.maps_per_second}}},  // every change is drawn; the canvas shows the state
  };
  g.state_json = j.dump();
  return g.state_json.c_str();
}

// The overlay as the view shows it right now, read back (RGBA, top row first) at width x height:
// for tests that check the heat map reached the GPU.
EMSCRIPTEN_KEEPALIVE const uint8_t* app_overlay_pixels(int width, int height) {
  g.png = g.renderer.read_pixels(width, height, look());
  return g.png.data();
}

// The raw map on screen (before normalisation; its size is the result's cam width x height), or
// null before the first explanation: for tests that compare it with the JS API's.
EMSCRIPTEN_KEEPALIVE const float* app_map() { return g.have_result ? g.result.cam.values.data() : nullptr; }

// The live camera (camera.cpp), run by the page: its state (the names in kCameraStateNames, by
// index: 0 unavailable, 1 off, 2 starting, 3 live, 4 paused) and each new frame's RGBA pixels, top
// row first, which are explained at once. 0 and app_error() on failure.
EMSCRIPTEN_KEEPALIVE int app_camera_state(int state) {
  if (state < 0 || state > int(CameraState::paused)) return fail("camera state " + std::to_string(state) + " is not valid");
  return set_camera_state(CameraState(state));
}
EMSCRIPTEN_KEEPALIVE int app_camera_frame(const uint8_t* rgba, int width, int height) {
  try {
    return camera_frame(rgba, width, height);
  } catch (const std::exception& ex) {
    return fail(std::string("cannot explain the camera frame (") + ex.what() + ")");
  }
}

// "Can I trust this?" (trust_panel.cpp): open (1) or close (0) the window; put the occluding patch
// at input pixel (x, y), top-left; run the sanity check; and read what the window shows as JSON
// {open, deletion: {auc, probability}, insertion, curves_ms, occlusion: {x, y, size, top, drop,
// map_share, ms}, sanity: {steps: [{layer, spearman, ssim}], ms}} (parts present once computed).
EMSCRIPTEN_KEEPALIVE void app_trust(int open) {
  g.show_trust = open != 0;
  wake();
}
EMSCRIPTEN_KEEPALIVE int app_occlude(int x, int y) {
  if (!g.have_result) return fail("explain an image first");
  set_occlusion_patch(x, y);
  return 1;
}
EMSCRIPTEN_KEEPALIVE int app_sanity_check() {
  if (!g.have_result) return fail("explain an image first");
  run_sanity_check();
  return 1;
}
EMSCRIPTEN_KEEPALIVE const char* app_trust_state() {
  g.state_json = trust_state_json();
  return g.state_json.c_str();
}

}  // extern "C"
