// The explorer's state and the functions its files share: app.cpp changes the state (the model,
// images, options, explaining); style.cpp, control_panel.cpp, image_view.cpp, result_panel.cpp and
// layouts.cpp draw it; trust_panel.cpp is the "Can I trust this?" window; abi.cpp is what
// web/page.js calls; main.cpp starts GLFW and ImGui and runs the frame loop. One state struct, as
// in Dear ImGui's examples.
#pragma once
#include <GLES3/gl3.h>
#include <GLFW/glfw3.h>
#include <emscripten/emscripten.h>
#include <emscripten/html5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gradcam/engine.h"
#include "gradcam/request.h"
#include "heatmap_renderer.h"
#include "imgui.h"
#include "keyboard.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_opengl3.h"


namespace app {

using namespace gradcam;
using gradcam_web::HeatmapRenderer;
using gradcam_web::TabOrder;
using gradcam_web::Look;
using gradcam_web::RenderTarget;
using gradcam_web::Upsample;

enum class View { side_by_side, overlay };
inline constexpr const char* kViewNames[] = {"side-by-side", "overlay"};
// The engine's tables, in their order (the default first): the lists the panel shows.
inline constexpr auto kColormaps = all_values<Colormap>();
inline constexpr auto kCropModes = all_values<CropMode>();

// How an image becomes the model's input when the file does not say (ONNX): torchvision's
// normalisations, x = (pixel/255 - mean) / std. No mean and std: the pixels in [0,1].
struct Normalization {
  const char* name;
  std::vector<float> mean, std;
};
inline const Normalization kNormalizations[] = {
    {"ImageNet", {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}},
    {"[0,1]", {}, {}},
    {"[-1,1]", {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}},
};

// What the person chose is an ExplainRequest (gradcam/request.h), the type the CLI and the JS API
// parse their options into: layer (a graph node index; -1 until a model is loaded), method, target
// (-1: the top class), score, SmoothGrad's samples, crop, colormap and alpha. The explanation on
// screen is a function of the image and the parts that change the map; colormap and alpha only
// redraw it.
bool same_map(const ExplainRequest& a, const ExplainRequest& b);
bool same_request(const ExplainRequest& a, const ExplainRequest& b);

struct Sample {
  std::string name;
  std::vector<uint8_t> bytes;
  GLuint texture = 0;
};

void announce_focus(const std::string& label);  // for screen readers (the page's live region)

// The live camera (web/page.js runs it: getUserMedia, a <video>, each new frame's RGBA pixels handed
// to app_camera_frame). unavailable: the browser offers no camera API, so no button; off: the
// button "Live camera"; starting: waiting for the stream (and the person's permission); live: every
// frame is explained; paused: the last frame stays, explained in full like a photo.
enum class CameraState { unavailable, off, starting, live, paused };
inline constexpr const char* kCameraStateNames[] = {"unavailable", "off", "starting", "live", "paused"};
inline constexpr const char* kCameraFrameName = "camera frame";

struct CameraFeed {
  CameraState state = CameraState::unavailable;
  int64_t maps = 0;               // maps computed from camera frames since the page started
  double recent[32] = {};         // when the last maps were computed (ms), a ring: the readout's window
  int64_t recent_count = 0;
  float maps_per_second = 0;
};

struct App {
  GLFWwindow* window = nullptr;
  float dpr = 1.0f;
  int wake_frames = 10;  // frames still to draw; input, results and resizes add to it
  int64_t frames_drawn = 0;

  // Model: an engine loaded by engine/js/load.cpp, through its handle (the app disposes of it when
  // another model replaces it).
  Engine* engine = nullptr;
  int engine_handle = 0;
  std::string model_name;
  std::string labels_name;       // the labels file given for it; empty: the file's own class names
  std::vector<int> conv_layers;  // the explainable graph nodes (explainable_nodes)

  // Image, and the model input prepared from it (reused while only layer/class/method change).
  Image image;
  std::string image_name;
  uint64_t image_serial = 0;
  std::vector<float> input;
  uint64_t input_serial = 0;
  CropMode input_crop = CropMode::center;

  ExplainRequest choice;
  Upsample upsample = Upsample::bicubic;
  View view = View::side_by_side;

  // The explanation on screen and what it was computed for.
  bool have_result = false;
  Explanation result;
  ExplainRequest result_choice;
  uint64_t result_serial = 0;
  bool map_is_flat = false;
  double prepare_ms = 0, total_ms = 0;
  int explain_count = 0;
  std::string result_json;

  std::string status = "Loading the model...";
  bool status_error = false;
  std::string last_error;  // of the last app_* call that failed

  HeatmapRenderer renderer;
  bool renderer_ok = false;
  uint64_t gpu_version = 1;  // bumps when the image, map or crop on the GPU changes
  RenderTarget view_target;
  struct {
    int width = 0, height = 0;
    Look look;
    uint64_t version = 0;
  } view_cache;

  std::vector<Sample> samples;
  TabOrder tabs{[](const std::string& label) { announce_focus(label); }};
  std::vector<uint8_t> font_ttf;
  bool fonts_dirty = true;
  bool show_shortcuts = false;
  bool show_trust = false;  // the "Can I trust this?" window
  float below_panels_h = 0;  // height of what the main area draws under the image panels

  // Screens (the page decides, web/page.js): below 700 CSS px of width the panels stack in one
  // column that the page scrolls (the canvas grows to content_h); touch-sized targets when stacked
  // or when the pointer is a finger.
  bool narrow = false;
  bool touch = false;
  float content_h = 0;  // device px drawn in the stacked layout; 0 in the side-by-side one
  // Zoom into the image and map (pinch, double-tap or double-click): the scale and the visible
  // centre in image coordinates (0..1). Both panels show the same part.
  float zoom = 1.0f;
  ImVec2 zoom_centre{0.5f, 0.5f};
  ImVec2 panel_min[2], panel_max[2];  // where the two image panels were drawn (device px), for gestures
  std::string view_reported;  // the options and sample the page last heard of (for the link)
  float page_scroll_y = 0;    // stacked layout: how far the page is scrolled (device px), where a window opens
  std::vector<uint8_t> png;
  std::string state_json;
  CameraFeed camera;
};

extern App g;

// State (app.cpp).
void wake(int frames = 8);
void set_status(const std::string& text, bool is_error);
int fail(const std::string& message);
std::string percent(float p);
std::string ms(double v);
const Architecture& arch();
const std::string& class_name(int index);
std::string layer_label(int layer);
// How the heat map is drawn now: the request's colormap and alpha, and the upsampling.
Look look();
void set_crop_geometry();
bool ensure_explanation();
void set_image(Image image, const std::string& name);
int load_image_bytes(const uint8_t* bytes, size_t size, const std::string& name);
int layer_position();
void step_layer(int delta);
void step_method(int delta);
void load_sample(int i);
int current_sample();
int set_option(const std::string& key, const std::string& value);
// Mean/std and/or labels of the loaded model (Engine::set_model_options JSON); the image is explained
// again. labels_name names the labels file, if the JSON gives labels.
int set_model_options(const std::string& options_json, const std::string& labels_name);
// After the model's options changed (here or through gc_set_model_options): prepare and explain
// again; a non-empty labels_name names the labels file that was given.
int model_options_changed(const std::string& labels_name);
int use_normalization(const Normalization& n);
// The preset the model's mean/std match, or null (none matches: set through the API).
const Normalization* current_normalization();
int export_png();

// The live camera (camera.cpp): its state as the page reports it, a frame's RGBA pixels (explained
// at once, quietly: no status line or result event per frame), and its controls in the sidebar.
int set_camera_state(CameraState state);
int camera_frame(const uint8_t* rgba, int width, int height);
bool camera_live();
void draw_camera_controls();
// Asks the page for "open-file", "export" or "image-chosen" (see app.cpp).
void page_request(const char* what);

// i wrapped into [0, n): keys step through a list of any length, both ways.
inline int wrap(int i, int n) { return (i % n + n) % n; }

// The value `delta` steps from `value` in its enum's table (name_table.h), wrapping: the table's
// own length decides, so a crop mode or colormap added to it is reached by its key too.
template <class E>
E step_in(E value, int delta) {
  return E(wrap(int(value) + delta, int(E::count)));
}

// Style (style.cpp): fonts and ImGui's style at the device pixel ratio, and the widgets that grow
// to finger size with touch.
void apply_style(float scale);
void rebuild_fonts();
float em();
float touch_h();  // the least height of a touch target (device px); 0 with a mouse
ImGuiComboFlags combo_flags();
bool list_entry(const char* label, bool selected);  // an entry of a combo list
bool option(const char* label, bool selected);      // one of a few choices: radio button or button
bool hovered();                                     // for tooltips: never with touch
void section(const char* title);

// The control panel (control_panel.cpp): the title and every choice.
void draw_title();
void draw_controls();
void draw_sidebar();
void draw_shortcuts();

// The image view (image_view.cpp): the image and overlay panels, the legend, and the gestures, at
// canvas device px (false if the point is not on an image panel).
ImVec2 fit(float max_w, float max_h);
void panel_image(int which, GLuint texture, ImVec2 size);
void render_overlay(int w, int h);
std::string overlay_title();
void draw_legend(float width);
bool zoom_at(float x, float y, float factor);
bool zoom_toggle(float x, float y);
void pan_by(float dx, float dy);
bool on_panel(float x, float y);
bool touch_scroll(float x, float y, float dy);

// The result (result_panel.cpp): the top five, this explanation's facts, the status line.
void draw_predictions(float width);
void draw_facts();
void draw_status_line();

// The layouts (layouts.cpp): beside the sidebar, or one column on narrow screens (image and map,
// top five, then the controls).
void draw_main();
void draw_stacked();

// "Can I trust this?" (trust_panel.cpp): metrics, occlusion and the sanity check of the explanation
// on screen.
inline constexpr const char* kTrustWindowTitle = "Can I trust this?  (T)";
void draw_trust_window();
void run_sanity_check();
void set_occlusion_patch(int x, int y);  // top-left corner, in the model's input pixels
std::string trust_state_json();

// Keyboard shortcuts (main.cpp).
void handle_shortcut(int key, int action, int mods);
void frame();

}  // namespace app
