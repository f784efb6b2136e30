// The Grad-CAM explorer: Dear ImGui on WebGL2 through Emscripten's GLFW, with the engine linked in.
//
// One state struct (App) and one frame function (frame), as in Dear ImGui's example_glfw_opengl3.
// The browser glue (file input, drop, paste, resize, the role="status" element, window.gradcamApp)
// is web/page.js: it hands bytes and strings to the app_* functions at the end of this file and
// hears back through Module.onStatus / onResult / onRequest.
//
// What runs when: a new image or crop mode prepares the model input once; a new layer, method,
// class or score re-runs explain() on that input; colormap, opacity, upsampling and view only
// redraw (shaders/heatmap.frag), the network is not touched.
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
#include "shaders.h"

using json = nlohmann::json;
using namespace gradcam;
using gradcam_web::HeatmapRenderer;
using gradcam_web::KeyTaps;
using gradcam_web::TabOrder;
using gradcam_web::Look;
using gradcam_web::RenderTarget;
using gradcam_web::Upsample;

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

namespace {

enum class View { side_by_side, overlay };
constexpr const char* kViewNames[] = {"side-by-side", "overlay"};
constexpr Colormap kColormaps[] = {Colormap::turbo, Colormap::jet, Colormap::viridis, Colormap::inferno};
constexpr CropMode kCropModes[] = {CropMode::center, CropMode::squash, CropMode::letterbox};

// What the person chose. The explanation on screen is a function of these and the image.
struct Choice {
  int layer = -1;  // index in arch.layers of a conv layer; -1 until a model is loaded
  Method method = Method::gradcam;
  int target = -1;  // class index; -1: the top class
  Score score = Score::logit;
  CropMode crop = CropMode::center;
  int samples = 25;  // SmoothGrad's noisy copies
  bool operator==(const Choice&) const = default;
};

struct Sample {
  std::string name;
  std::vector<uint8_t> bytes;
  GLuint texture = 0;
};

struct App {
  GLFWwindow* window = nullptr;
  float dpr = 1.0f;
  int wake_frames = 10;  // frames still to draw; input, results and resizes add to it
  int64_t frames_drawn = 0;

  // Model.
  std::unique_ptr<Engine> engine;
  std::string model_name;
  std::vector<int> conv_layers;  // indices in arch.layers

  // Image, and the model input prepared from it (reused while only layer/class/method change).
  Image image;
  std::string image_name;
  uint64_t image_serial = 0;
  std::vector<float> input;
  uint64_t input_serial = 0;
  CropMode input_crop = CropMode::center;

  Choice choice;
  Look look;
  View view = View::side_by_side;

  // The explanation on screen and what it was computed for.
  bool have_result = false;
  Explanation result;
  Choice result_choice;
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
  TabOrder tabs{[](const std::string& label) { js_on_focus(label.c_str()); }};
  KeyTaps taps;
  std::vector<uint8_t> font_ttf;
  bool fonts_dirty = true;
  bool show_shortcuts = false;
  float below_panels_h = 0;  // height of what the main area draws under the image panels
  std::vector<uint8_t> png;
  std::string state_json;
};

App g;

void wake(int frames = 8) { g.wake_frames = std::max(g.wake_frames, frames); }

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
  const LayerSpec& l = arch().layers[size_t(layer)];
  return l.name + "  (" + std::to_string(l.output.h) + "\xC3\x97" + std::to_string(l.output.w) + "\xC3\x97" +
         std::to_string(l.output.c) + ")";
}

// ---------------------------------------------------------------------------------------------
// State changes

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
  if (g.result_serial == g.image_serial && g.result_choice == g.choice) return g.have_result;
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
  ExplainOptions options;
  options.layer = g.choice.layer;
  options.method = g.choice.method;
  options.target = g.choice.target;
  options.score = g.choice.score;
  options.smoothgrad_samples = g.choice.samples;
  auto ex = g.engine->explain(g.input, options);
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

  // The status line names the top class and its probability after every explanation.
  const auto top = top_k(g.result.probabilities, 5);
  const int target = g.result.target;
  const bool input_map = method_is_input_resolution(g.result.method);
  std::string text = g.image_name + ": top class " + class_name(top[0].index) + " (" + percent(top[0].probability) + "). ";
  text += std::string(method_label(g.result.method)) + " for " + class_name(target);
  if (target != top[0].index) text += " (" + percent(g.result.probabilities[size_t(target)]) + ")";
  if (input_map)
    text += " at the input";
  else
    text += " at " + arch().layers[size_t(g.result.layer)].name;
  text += " (" + std::to_string(cam.width) + "\xC3\x97" + std::to_string(cam.height) + "), " + ms(g.total_ms) + ".";
  if (!g.engine->model().trained()) text += " Untrained model: random weights, so classes and maps mean nothing yet.";
  if (g.map_is_flat) text += " The map is zero everywhere for this class and layer.";

  // The engine's result JSON (the CLI's --json and the JS API print the same fields), with what
  // only the page knows: the image, whether the class was chosen, the flat-map flag, the status.
  JsonOptions jo;
  jo.preprocess_ms = g.prepare_ms;
  jo.cam_values = false;
  jo.crop = crop_mode_name(g.choice.crop);
  json j = json::parse(explanation_json(g.engine->model(), g.result, jo));
  j["image"] = {{"name", g.image_name}, {"width", g.image.width}, {"height", g.image.height}};
  j["auto_target"] = g.choice.target < 0;
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

template <class T, size_t N>
int index_of(const T (&items)[N], T value) {
  for (size_t i = 0; i < N; ++i)
    if (items[i] == value) return int(i);
  return 0;
}

int layer_position() {
  auto it = std::find(g.conv_layers.begin(), g.conv_layers.end(), g.choice.layer);
  return it == g.conv_layers.end() ? 0 : int(it - g.conv_layers.begin());
}

void step_layer(int delta) {
  if (g.conv_layers.empty()) return;
  const int n = int(g.conv_layers.size());
  g.choice.layer = g.conv_layers[size_t(((layer_position() + delta) % n + n) % n)];
}

void step_method(int delta) {
  const auto& all = all_methods();
  const int n = int(all.size());
  int i = int(std::find(all.begin(), all.end(), g.choice.method) - all.begin());
  g.choice.method = all[size_t(((i + delta) % n + n) % n)];
}

// A sample chosen in the app (click or N): the page drops any image still downloading or reading.
void load_sample(int i) {
  if (i < 0 || i >= int(g.samples.size())) return;
  js_request("image-chosen");
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
    ExplainRequest r;
    r.options.layer = g.choice.layer;
    r.options.method = g.choice.method;
    r.options.target = g.choice.target;
    r.options.score = g.choice.score;
    r.options.smoothgrad_samples = g.choice.samples;
    r.crop = g.choice.crop;
    r.colormap = g.look.colormap;
    r.alpha = g.look.alpha;
    if (Status st = set_request_field(r, arch(), key, value); !st) return fail(st.error());
    g.choice.layer = r.options.layer;
    g.choice.method = r.options.method;
    g.choice.target = r.options.target;
    g.choice.score = r.options.score;
    g.choice.samples = r.options.smoothgrad_samples;
    if (g.choice.crop != r.crop) {
      g.choice.crop = r.crop;
      set_crop_geometry();
    }
    g.look.colormap = r.colormap;
    g.look.alpha = r.alpha;
  } else if (key == "upsample") {
    if (value != "bilinear" && value != "bicubic") return fail("upsample must be bilinear or bicubic, not \"" + value + "\"");
    g.look.upsample = value == "bicubic" ? Upsample::bicubic : Upsample::bilinear;
  } else if (key == "view") {
    if (value != kViewNames[0] && value != kViewNames[1]) return fail("view must be side-by-side or overlay, not \"" + value + "\"");
    g.view = value == kViewNames[0] ? View::side_by_side : View::overlay;
  } else {
    std::string all;
    for (const std::string& k : keys) all += k + ", ";
    return fail("unknown option " + key + " (valid: " + all + "upsample, view)");
  }
  wake();
  return 1;
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
  std::vector<uint8_t> rgba = g.renderer.read_pixels(w, h, g.look);
  g.png = encode_png(rgba.data(), w, h, 4);
  if (g.png.empty()) return fail("could not encode the PNG");
  return int(g.png.size());
}

// ---------------------------------------------------------------------------------------------
// Look: fonts and style at the device pixel ratio

void apply_style(float scale) {
  ImGuiStyle style;
  ImGui::StyleColorsDark(&style);
  style.WindowRounding = 0.0f;
  style.ChildRounding = 6.0f;
  style.FrameRounding = 4.0f;
  style.GrabRounding = 4.0f;
  style.PopupRounding = 4.0f;
  style.WindowPadding = ImVec2(12, 12);
  style.FramePadding = ImVec2(8, 5);
  style.ItemSpacing = ImVec2(8, 7);
  style.WindowBorderSize = 0.0f;
  ImVec4* c = style.Colors;
  const ImVec4 accent(0.30f, 0.62f, 0.98f, 1.00f);
  c[ImGuiCol_WindowBg] = ImVec4(0.075f, 0.082f, 0.098f, 1.0f);
  c[ImGuiCol_ChildBg] = ImVec4(0.105f, 0.114f, 0.137f, 1.0f);
  c[ImGuiCol_PopupBg] = ImVec4(0.12f, 0.13f, 0.16f, 0.98f);
  c[ImGuiCol_Border] = ImVec4(0.22f, 0.24f, 0.29f, 1.0f);
  c[ImGuiCol_FrameBg] = ImVec4(0.16f, 0.17f, 0.21f, 1.0f);
  c[ImGuiCol_FrameBgHovered] = ImVec4(0.21f, 0.23f, 0.29f, 1.0f);
  c[ImGuiCol_FrameBgActive] = ImVec4(0.24f, 0.27f, 0.34f, 1.0f);
  c[ImGuiCol_Button] = ImVec4(0.19f, 0.21f, 0.27f, 1.0f);
  c[ImGuiCol_ButtonHovered] = ImVec4(0.25f, 0.38f, 0.58f, 1.0f);
  c[ImGuiCol_ButtonActive] = accent;
  c[ImGuiCol_Header] = ImVec4(0.20f, 0.33f, 0.52f, 0.85f);
  c[ImGuiCol_HeaderHovered] = ImVec4(0.25f, 0.40f, 0.62f, 0.85f);
  c[ImGuiCol_HeaderActive] = accent;
  c[ImGuiCol_CheckMark] = accent;
  c[ImGuiCol_SliderGrab] = accent;
  c[ImGuiCol_SliderGrabActive] = ImVec4(0.45f, 0.72f, 1.0f, 1.0f);
  c[ImGuiCol_PlotHistogram] = accent;
  c[ImGuiCol_Text] = ImVec4(0.90f, 0.92f, 0.95f, 1.0f);
  c[ImGuiCol_TextDisabled] = ImVec4(0.58f, 0.62f, 0.69f, 1.0f);
  c[ImGuiCol_Separator] = ImVec4(0.24f, 0.26f, 0.31f, 1.0f);
  style.ScaleAllSizes(scale);
  ImGui::GetStyle() = style;
}

void rebuild_fonts() {
  ImGuiIO& io = ImGui::GetIO();
  io.Fonts->Clear();
  // Latin-1 plus a few typographic marks; the fallback font (ProggyClean) has Latin-1 only, so the
  // UI's strings stay within Latin-1.
  static const ImWchar ranges[] = {0x0020, 0x00FF, 0x2013, 0x2014, 0x2026, 0x2026, 0x2190, 0x2194, 0};
  if (!g.font_ttf.empty()) {
    ImFontConfig cfg;
    cfg.FontDataOwnedByAtlas = false;  // the bytes live in g.font_ttf across rebuilds
    cfg.OversampleH = 2;
    io.Fonts->AddFontFromMemoryTTF(g.font_ttf.data(), int(g.font_ttf.size()), std::round(14.0f * g.dpr), &cfg, ranges);
  } else {
    ImFontConfig cfg;
    cfg.SizePixels = 13.0f * std::max(1.0f, std::round(g.dpr));
    io.Fonts->AddFontDefault(&cfg);
  }
  // Only the font texture: in 1.86, DestroyDeviceObjects() leaves the recorded buffer sizes behind
  // and the next frame overflows the new, empty buffers. Before the first frame, NewFrame makes it.
  if (g.frames_drawn > 0) {
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }
  apply_style(g.dpr);
  g.fonts_dirty = false;
}

// ---------------------------------------------------------------------------------------------
// The frame

float em() { return ImGui::GetFontSize(); }

void section(const char* title) {
  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextUnformatted(title);
  ImGui::PopStyleColor();
  ImGui::Separator();
}

// Keyboard shortcuts act on the key event itself (GLFW's callback): ImGui 1.86 polls key state
// once a frame and misses a press and release that both land between two frames.
void handle_shortcut(int key, int action, int mods) {
  if (action != GLFW_PRESS && !(action == GLFW_REPEAT && (key == GLFW_KEY_EQUAL || key == GLFW_KEY_MINUS ||
                                                         key == GLFW_KEY_KP_ADD || key == GLFW_KEY_KP_SUBTRACT)))
    return;
  if (mods & (GLFW_MOD_CONTROL | GLFW_MOD_ALT | GLFW_MOD_SUPER)) return;  // leave Ctrl+V (paste) alone
  if (ImGui::GetCurrentContext() && ImGui::GetIO().WantTextInput) return;
  const int dir = (mods & GLFW_MOD_SHIFT) ? -1 : 1;
  switch (key) {
    case GLFW_KEY_O: js_request("open-file"); break;
    case GLFW_KEY_E: js_request("export"); break;
    case GLFW_KEY_N:
      if (!g.samples.empty()) {
        const int n = int(g.samples.size());
        load_sample(((current_sample() + dir) % n + n) % n);
      }
      break;
    case GLFW_KEY_M: step_method(dir); break;
    case GLFW_KEY_L: step_layer(dir); break;
    case GLFW_KEY_S: g.choice.score = g.choice.score == Score::logit ? Score::probability : Score::logit; break;
    case GLFW_KEY_R:
      g.choice.crop = kCropModes[(index_of(kCropModes, g.choice.crop) + 1) % 3];
      set_crop_geometry();
      break;
    case GLFW_KEY_C: g.look.colormap = kColormaps[(index_of(kColormaps, g.look.colormap) + 4 + dir) % 4]; break;
    case GLFW_KEY_B: g.look.upsample = g.look.upsample == Upsample::bicubic ? Upsample::bilinear : Upsample::bicubic; break;
    case GLFW_KEY_V: g.view = g.view == View::overlay ? View::side_by_side : View::overlay; break;
    case GLFW_KEY_EQUAL:
    case GLFW_KEY_KP_ADD: g.look.alpha = std::min(1.0f, g.look.alpha + 0.05f); break;
    case GLFW_KEY_MINUS:
    case GLFW_KEY_KP_SUBTRACT: g.look.alpha = std::max(0.0f, g.look.alpha - 0.05f); break;
    case GLFW_KEY_A:
    case GLFW_KEY_0: g.choice.target = -1; break;
    case GLFW_KEY_H:
    case GLFW_KEY_SLASH: g.show_shortcuts = !g.show_shortcuts; break;
    default:
      if (key >= GLFW_KEY_1 && key <= GLFW_KEY_5 && g.have_result) {
        const auto top = top_k(g.result.probabilities, 5);
        if (size_t(key - GLFW_KEY_1) < top.size()) g.choice.target = top[size_t(key - GLFW_KEY_1)].index;
      }
      return;
  }
  ensure_explanation();
}

void draw_shortcuts() {
  static const char* rows[][2] = {
      {"O", "open an image file"},          {"N / Shift+N", "next / previous sample"},
      {"M / Shift+M", "next / previous method"}, {"L / Shift+L", "next / previous layer"},
      {"1 - 5", "explain the k-th class"},  {"A or 0", "explain the top class"},
      {"S", "score: logit / probability"},  {"R", "crop mode"},
      {"C / Shift+C", "colormap"},          {"B", "bilinear / bicubic"},
      {"V", "side by side / overlay"},      {"+ / -", "heat map opacity"},
      {"E", "export PNG"},                  {"H", "show / hide this list"},
      {"Ctrl+V", "paste an image"},         {"Tab / Shift+Tab", "next / previous control"},
      {"Space or Enter", "use the control"}, {"Esc", "close a list, or leave"},
  };
  if (ImGui::BeginTable("shortcuts", 2, ImGuiTableFlags_SizingFixedFit)) {
    for (auto& r : rows) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextColored(ImVec4(0.55f, 0.78f, 1.0f, 1.0f), "%s", r[0]);
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(r[1]);
    }
    ImGui::EndTable();
  }
}

void draw_sidebar() {
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(0.55f, 0.78f, 1.0f, 1.0f));
  ImGui::TextUnformatted("Grad-CAM explorer");
  ImGui::PopStyleColor();
  if (g.engine) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
    ImGui::TextWrapped("%s \xC2\xB7 %d classes \xC2\xB7 %d\xC3\x97%d input", g.model_name.c_str(), int(arch().classes.size()),
                       arch().width, arch().height);
    ImGui::PopStyleColor();
    if (!g.engine->model().trained()) {
      ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.66f, 0.26f, 1.0f));
      ImGui::TextWrapped("UNTRAINED model: random weights. The classes and heat maps mean nothing yet.");
      ImGui::PopStyleColor();
    }
  } else {
    ImGui::TextDisabled("model not loaded");
  }

  section("Image");
  if (ImGui::Button("Open image...  (O)", ImVec2(-1, 0))) js_request("open-file");
  g.tabs.stop("Open image, button (O)");
  ImGui::TextDisabled("or drop or paste one anywhere");
  if (!g.samples.empty()) {
    ImGui::TextDisabled("CIFAR-10 test images (N):");
    const float avail = ImGui::GetContentRegionAvail().x;
    const int per_row = 5;
    const float pad = 2.0f * g.dpr;
    const float spacing = ImGui::GetStyle().ItemSpacing.x * 0.5f;
    const float side = std::floor((avail - spacing * (per_row - 1)) / per_row - 2 * pad);
    ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(spacing, spacing));
    const int current = current_sample();
    for (int i = 0; i < int(g.samples.size()); ++i) {
      if (i % per_row) ImGui::SameLine();
      const bool selected = i == current;
      if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.30f, 0.62f, 0.98f, 1.0f));
      ImGui::PushID(i);
      if (ImGui::ImageButton((ImTextureID)(intptr_t)g.samples[size_t(i)].texture, ImVec2(side, side), ImVec2(0, 0),
                             ImVec2(1, 1), int(pad)))
        load_sample(i);
      g.tabs.stop("Sample image " + g.samples[size_t(i)].name + (selected ? ", shown" : "") + ", button (N)");
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", g.samples[size_t(i)].name.c_str());
      ImGui::PopID();
      if (selected) ImGui::PopStyleColor();
    }
    ImGui::PopStyleVar();
  }

  section("Explanation");
  const float label_w = 5.9f * em();
  auto label = [&](const char* text) {
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(text);
    ImGui::SameLine(label_w);
    ImGui::SetNextItemWidth(-1);
  };
  label("Method");
  const bool method_open = ImGui::BeginCombo("##method", method_label(g.choice.method));
  g.tabs.stop(std::string("Method: ") + method_label(g.choice.method) + ", list (M)");
  if (method_open) {
    for (Method m : all_methods())
      if (ImGui::Selectable(method_label(m), m == g.choice.method)) g.choice.method = m;
    ImGui::EndCombo();
  }
  const bool input_map = method_is_input_resolution(g.choice.method);
  label("Layer");
  ImGui::BeginDisabled(!g.engine || input_map);
  const std::string layer_preview =
      !g.engine ? "-" : input_map ? "input pixels (" + std::to_string(arch().width) + "\xC3\x97" + std::to_string(arch().height) + ")"
                                  : layer_label(g.choice.layer);
  const bool layer_open = ImGui::BeginCombo("##layer", layer_preview.c_str());
  g.tabs.stop("Layer: " + layer_preview + ", list (L)");
  if (layer_open) {
    for (int l : g.conv_layers)
      if (ImGui::Selectable(layer_label(l).c_str(), l == g.choice.layer)) g.choice.layer = l;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Class");
  ImGui::BeginDisabled(!g.engine);
  const std::string class_preview = !g.engine || g.choice.target < 0 ? "top class (auto)" : class_name(g.choice.target);
  const bool class_open = ImGui::BeginCombo("##class", class_preview.c_str());
  g.tabs.stop("Class: " + class_preview + ", list (1 to 5, A)");
  if (class_open) {
    if (ImGui::Selectable("top class (auto)", g.choice.target < 0)) g.choice.target = -1;
    for (int c = 0; g.engine && c < int(arch().classes.size()); ++c)
      if (ImGui::Selectable(class_name(c).c_str(), c == g.choice.target)) g.choice.target = c;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Score");
  if (ImGui::RadioButton("logit", g.choice.score == Score::logit)) g.choice.score = Score::logit;
  g.tabs.stop(std::string("Score: logit, ") + (g.choice.score == Score::logit ? "selected" : "not selected") + " (S)");
  ImGui::SameLine();
  if (ImGui::RadioButton("probability", g.choice.score == Score::probability)) g.choice.score = Score::probability;
  g.tabs.stop(std::string("Score: probability, ") + (g.choice.score == Score::probability ? "selected" : "not selected") + " (S)");
  label("Crop");
  const bool crop_open = ImGui::BeginCombo("##crop", crop_mode_name(g.choice.crop));
  g.tabs.stop(std::string("Crop: ") + crop_mode_name(g.choice.crop) + ", list (R)");
  if (crop_open) {
    for (CropMode c : kCropModes)
      if (ImGui::Selectable(crop_mode_name(c), c == g.choice.crop)) {
        g.choice.crop = c;
        set_crop_geometry();
      }
    ImGui::EndCombo();
  }

  section("Display");
  label("View");
  static const char* view_labels[] = {"original | overlay", "overlay only"};
  const bool view_open = ImGui::BeginCombo("##view", view_labels[int(g.view)]);
  g.tabs.stop(std::string("View: ") + view_labels[int(g.view)] + ", list (V)");
  if (view_open) {
    for (int v = 0; v < 2; ++v)
      if (ImGui::Selectable(view_labels[v], int(g.view) == v)) g.view = View(v);
    ImGui::EndCombo();
  }
  label("Opacity");
  ImGui::SliderFloat("##alpha", &g.look.alpha, 0.0f, 1.0f, "%.2f");
  char alpha_label[64];
  std::snprintf(alpha_label, sizeof alpha_label, "Opacity: %.2f, slider (+ and -)", double(g.look.alpha));
  g.tabs.stop(alpha_label);
  label("Colormap");
  const bool colormap_open = ImGui::BeginCombo("##colormap", colormap_name(g.look.colormap));
  g.tabs.stop(std::string("Colormap: ") + colormap_name(g.look.colormap) + ", list (C)");
  if (colormap_open) {
    for (Colormap c : kColormaps) {
      ImGui::PushID(int(c));
      const float bar_w = 4 * em();
      if (ImGui::Selectable("##c", c == g.look.colormap, 0, ImVec2(0, 0))) g.look.colormap = c;
      ImGui::SameLine(0, 0);
      ImGui::SetCursorPosX(ImGui::GetStyle().WindowPadding.x);
      const float row = HeatmapRenderer::lut_row(c);
      ImGui::Image((ImTextureID)(intptr_t)g.renderer.lut_texture(), ImVec2(bar_w, ImGui::GetTextLineHeight()),
                   ImVec2(0, row), ImVec2(1, row));
      ImGui::SameLine();
      ImGui::TextUnformatted(colormap_name(c));
      ImGui::PopID();
    }
    ImGui::EndCombo();
  }
  label("Upsample");
  if (ImGui::RadioButton("bilinear", g.look.upsample == Upsample::bilinear)) g.look.upsample = Upsample::bilinear;
  g.tabs.stop(std::string("Upsample: bilinear, ") + (g.look.upsample == Upsample::bilinear ? "selected" : "not selected") + " (B)");
  ImGui::SameLine();
  if (ImGui::RadioButton("bicubic", g.look.upsample == Upsample::bicubic)) g.look.upsample = Upsample::bicubic;
  g.tabs.stop(std::string("Upsample: bicubic, ") + (g.look.upsample == Upsample::bicubic ? "selected" : "not selected") + " (B)");
  ImGui::Spacing();
  ImGui::BeginDisabled(!g.renderer.has_image());
  if (ImGui::Button("Export overlay as PNG  (E)", ImVec2(-1, 0))) js_request("export");
  g.tabs.stop("Export the overlay as PNG, button (E)");
  ImGui::EndDisabled();

  ImGui::Spacing();
  ImGui::SetNextItemOpen(g.show_shortcuts);
  g.show_shortcuts = ImGui::CollapsingHeader("Keyboard shortcuts  (H)");
  g.tabs.stop(std::string("Keyboard shortcuts, ") + (g.show_shortcuts ? "shown" : "hidden") + " (H)");
  if (g.show_shortcuts) draw_shortcuts();
}

// The image (or overlay) fitted into a box of max_w x max_h, centred horizontally.
ImVec2 fit(float max_w, float max_h) {
  const float iw = float(std::max(1, g.image.width)), ih = float(std::max(1, g.image.height));
  const float k = std::max(0.0f, std::min(max_w / iw, max_h / ih));
  return ImVec2(std::max(1.0f, std::floor(iw * k)), std::max(1.0f, std::floor(ih * k)));
}

void draw_legend(float width) {
  const float row = HeatmapRenderer::lut_row(g.look.colormap);
  const float x0 = ImGui::GetCursorPosX();
  ImGui::Image((ImTextureID)(intptr_t)g.renderer.lut_texture(), ImVec2(width, 0.8f * em()), ImVec2(0, row), ImVec2(1, row));
  ImGui::SetCursorPosX(x0);
  ImGui::TextDisabled("mattered less");
  const char* more = "mattered more";
  ImGui::SameLine(x0 + width - ImGui::CalcTextSize(more).x);
  ImGui::TextUnformatted(more);
}

void draw_predictions(float width) {
  const auto top = top_k(g.result.probabilities, 5);
  ImGui::TextDisabled("Top 5 classes (click one to explain it)");
  const float row_h = ImGui::GetTextLineHeight() + 0.45f * em();
  const float name_w = 7.0f * em(), pct_w = 4.5f * em();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (int k = 0; k < int(top.size()); ++k) {
    const int c = top[size_t(k)].index;
    const float p = top[size_t(k)].probability;
    const bool explained = c == g.result.target;
    ImGui::PushID(k);
    if (ImGui::Selectable("##cls", explained, 0, ImVec2(width, row_h))) g.choice.target = c;
    g.tabs.stop("Class " + std::to_string(k + 1) + ": " + class_name(c) + ", " + percent(p) +
                (explained ? ", explained" : ", explain it") + " (" + std::to_string(k + 1) + ")");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Explain %s  (key %d)", class_name(c).c_str(), k + 1);
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    const float ty = a.y + (row_h - ImGui::GetTextLineHeight()) * 0.5f;
    const std::string name = std::to_string(k + 1) + "  " + class_name(c);
    dl->AddText(ImVec2(a.x + 0.4f * em(), ty), ImGui::GetColorU32(ImGuiCol_Text), name.c_str());
    const float bx0 = a.x + name_w, bx1 = b.x - pct_w;
    const float by0 = a.y + row_h * 0.3f, by1 = b.y - row_h * 0.3f;
    dl->AddRectFilled(ImVec2(bx0, by0), ImVec2(bx1, by1), IM_COL32(255, 255, 255, 22), 3.0f * g.dpr);
    dl->AddRectFilled(ImVec2(bx0, by0), ImVec2(bx0 + (bx1 - bx0) * std::clamp(p, 0.0f, 1.0f), by1),
                      explained ? IM_COL32(255, 176, 66, 255) : IM_COL32(77, 158, 250, 255), 3.0f * g.dpr);
    const std::string pct = percent(p);
    dl->AddText(ImVec2(b.x - ImGui::CalcTextSize(pct.c_str()).x - 0.4f * em(), ty), ImGui::GetColorU32(ImGuiCol_Text), pct.c_str());
    ImGui::PopID();
  }
  if (g.choice.target >= 0) {
    if (ImGui::SmallButton("back to the top class (A)")) g.choice.target = -1;
    g.tabs.stop("Back to the top class, button (A)");
  } else {
    ImGui::TextDisabled("explaining the top class");
  }
}

void draw_status_line() {
  ImGui::PushStyleColor(ImGuiCol_Text, g.status_error ? ImVec4(1.0f, 0.45f, 0.42f, 1.0f) : ImVec4(0.78f, 0.82f, 0.88f, 1.0f));
  ImGui::TextWrapped("%s", g.status.c_str());
  ImGui::PopStyleColor();
}

void draw_main() {
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float start_y = ImGui::GetCursorPosY();
  if (!g.renderer_ok) {
    draw_status_line();
    return;
  }
  if (!g.renderer.has_image()) {
    ImGui::TextDisabled("Drop an image here, paste one, open a file (O) or pick a sample on the left.");
    draw_status_line();
    return;
  }
  // Heading: what is shown.
  ImGui::Text("%s", g.image_name.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("%d\xC3\x97%d px, %s crop", g.image.width, g.image.height, crop_mode_name(g.choice.crop));

  // The block under the panels (legend, classes, timings, status) was measured last frame; the
  // panels get the rest of the height.
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const float used_above = ImGui::GetCursorPosY() - start_y + line;  // heading and panel titles
  const float bottom = g.below_panels_h > 0 ? g.below_panels_h : 14 * line;
  const float panel_h = std::max(4 * em(), avail.y - used_above - bottom);
  const float gap = em();
  const bool two = g.view == View::side_by_side;
  const float panel_w = two ? (avail.x - gap) * 0.5f : avail.x;
  const ImVec2 size = fit(panel_w, panel_h);

  // Overlay: rendered by shaders/heatmap.frag into a texture at exactly the displayed size.
  const int w = int(size.x), h = int(size.y);
  auto& vc = g.view_cache;
  if (vc.width != w || vc.height != h || !(vc.look == g.look) || vc.version != g.gpu_version) {
    g.renderer.render(g.view_target, w, h, g.look);
    vc.width = w, vc.height = h, vc.look = g.look, vc.version = g.gpu_version;
  }
  const std::string overlay_title =
      g.have_result ? std::string(method_label(g.result.method)) + " for " + class_name(g.result.target) +
                          (method_is_input_resolution(g.result.method) ? "" : " at " + arch().layers[size_t(g.result.layer)].name)
                    : std::string("no explanation");
  const float top_y = ImGui::GetCursorPosY();
  float x = ImGui::GetCursorPosX();
  if (two) {
    ImGui::TextDisabled("Original");
    ImGui::SetCursorPos(ImVec2(x + (panel_w - size.x) * 0.5f, top_y + line));
    ImGui::Image((ImTextureID)(intptr_t)g.renderer.image_texture(), size);
    x += panel_w + gap;
    ImGui::SetCursorPos(ImVec2(x, top_y));
  }
  ImGui::TextDisabled("%s", overlay_title.c_str());
  const float img_x = x + (panel_w - size.x) * 0.5f;
  ImGui::SetCursorPos(ImVec2(img_x, top_y + line));
  ImGui::Image((ImTextureID)(intptr_t)g.view_target.texture, size);
  const float below_y = ImGui::GetCursorPosY();
  ImGui::SetCursorPosX(img_x);
  draw_legend(size.x);
  ImGui::SetCursorPosX(0);

  if (g.have_result) {
    const float pred_w = std::min(avail.x, 26.0f * em());
    ImGui::BeginGroup();
    draw_predictions(pred_w);
    ImGui::EndGroup();
    if (avail.x > pred_w + 16 * em()) {
      ImGui::SameLine(0, 2 * em());
      ImGui::BeginGroup();
      const LayerSpec& layer = arch().layers[size_t(g.result.layer)];
      ImGui::TextDisabled("This explanation");
      ImGui::Text("took %s", ms(g.total_ms).c_str());
      ImGui::TextDisabled("input %.1f \xC2\xB7 forward %.1f \xC2\xB7 backward %.1f \xC2\xB7 map %.1f ms", g.prepare_ms,
                          g.result.forward_ms, g.result.backward_ms, g.result.cam_ms);
      if (method_is_input_resolution(g.result.method))
        ImGui::Text("map: %d\xC3\x97%d at the input", g.result.cam.width, g.result.cam.height);
      else
        ImGui::Text("map: %d\xC3\x97%d at %s (%d channels)", g.result.cam.width, g.result.cam.height, layer.name.c_str(), layer.output.c);
      ImGui::Text("score: %s of %s", score_name(g.result.score), class_name(g.result.target).c_str());
      if (g.map_is_flat) {
        ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.66f, 0.26f, 1.0f));
        ImGui::TextWrapped("The map is zero everywhere: nothing at this layer raised this class's score.");
        ImGui::PopStyleColor();
      }
      ImGui::EndGroup();
    } else {
      ImGui::TextDisabled("took %s", ms(g.total_ms).c_str());
    }
  }
  ImGui::Spacing();
  draw_status_line();
  const float measured = ImGui::GetCursorPosY() - below_y;
  if (std::abs(measured - g.below_panels_h) > 0.5f) {
    g.below_panels_h = measured;
    wake();
  }
}

void frame() {
  if (g.wake_frames <= 0) return;  // nothing changed: the canvas keeps the last frame
  --g.wake_frames;
  if (g.fonts_dirty) rebuild_fonts();

  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  g.taps.before_new_frame();
  ImGui::NewFrame();
  g.taps.after_new_frame();
  g.tabs.begin_frame();
  const Choice choice_before = g.choice;
  const Look look_before = g.look;
  const View view_before = g.view;

  const ImGuiIO& io = ImGui::GetIO();
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  ImGui::Begin("##root", nullptr,
               ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                   ImGuiWindowFlags_NoBringToFrontOnFocus);
  const float sidebar_w = std::clamp(io.DisplaySize.x * 0.28f, 18.5f * em(), 23.0f * em());
  ImGui::BeginChild("sidebar", ImVec2(sidebar_w, 0), true);
  draw_sidebar();
  ImGui::EndChild();
  ImGui::SameLine(0, em());
  ImGui::BeginChild("main", ImVec2(0, 0), false);
  ensure_explanation();  // the sidebar's choices take effect in this frame
  draw_main();
  ImGui::EndChild();
  ImGui::End();
  g.tabs.end_frame();
  ImGui::Render();

  if (!(g.choice == choice_before) || !(g.look == look_before) || g.view != view_before) wake();
  int fw = 0, fh = 0;
  glfwGetFramebufferSize(g.window, &fw, &fh);
  glViewport(0, 0, fw, fh);
  glClearColor(0.075f, 0.082f, 0.098f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  ++g.frames_drawn;
}

void on_input() { wake(); }
void cursor_pos_cb(GLFWwindow*, double, double) { on_input(); }
void mouse_button_cb(GLFWwindow*, int, int, int) { on_input(); }
void scroll_cb(GLFWwindow*, double, double) { on_input(); }
void key_cb(GLFWwindow*, int key, int, int action, int mods) {
  on_input();
  if (action == GLFW_PRESS || action == GLFW_RELEASE) g.taps.on_key(key, action == GLFW_PRESS);
  handle_shortcut(key, action, mods);
}
void char_cb(GLFWwindow*, unsigned int) { on_input(); }
void cursor_enter_cb(GLFWwindow*, int) { on_input(); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// The C ABI for web/page.js. Nothing throws: failures return 0 and app_error() says why (the
// status line says it too).

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* app_error() { return g.last_error.c_str(); }

EMSCRIPTEN_KEEPALIVE int app_load_model(const uint8_t* bytes, size_t size, const char* name) {
  try {
    auto e = Engine::load(bytes, size, name);
    if (!e) return fail(e.error());
    g.engine = std::move(e.value());
  } catch (const std::exception& ex) {
    return fail(std::string(name) + ": cannot load the model (" + ex.what() + ")");
  }
  g.model_name = name;
  if (auto slash = g.model_name.find_last_of('/'); slash != std::string::npos) g.model_name.erase(0, slash + 1);
  g.conv_layers.clear();
  for (size_t i = 0; i < arch().layers.size(); ++i)
    if (arch().layers[i].type == LayerType::conv2d) g.conv_layers.push_back(int(i));
  if (g.conv_layers.empty()) return fail(std::string(name) + ": the model has no conv layer to explain");
  g.choice.layer = g.conv_layers.back();
  g.choice.target = -1;
  g.have_result = false;
  g.result_serial = 0;
  g.input_serial = 0;
  set_status(g.image.width > 0 ? "Model loaded." : "Model loaded. Open, drop or paste an image, or pick a sample.", false);
  if (g.image.width > 0) {
    set_crop_geometry();
    ensure_explanation();
  }
  return 1;
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

// Renders the overlay as PNG; returns its size (bytes at app_png()) or 0.
EMSCRIPTEN_KEEPALIVE int app_export_png() { return export_png(); }
EMSCRIPTEN_KEEPALIVE const uint8_t* app_png() { return g.png.data(); }

// The options, the image and the last result, as JSON (window.gradcamApp reads it).
EMSCRIPTEN_KEEPALIVE const char* app_state() {
  json options = {
      {"layer", g.engine ? json(arch().layers[size_t(g.choice.layer)].name) : json(nullptr)},
      {"method", method_name(g.choice.method)},
      {"target", g.choice.target < 0 || !g.engine ? json("auto") : json(g.choice.target)},
      {"score", score_name(g.choice.score)},
      {"crop", crop_mode_name(g.choice.crop)},
      {"colormap", colormap_name(g.look.colormap)},
      {"alpha", g.look.alpha},
      {"upsample", g.look.upsample == Upsample::bicubic ? "bicubic" : "bilinear"},
      {"view", kViewNames[int(g.view)]},
  };
  json samples = json::array();
  for (const Sample& s : g.samples) samples.push_back(s.name);
  json j = {
      {"model", g.engine ? json::parse(g.engine->info_json()) : json(nullptr)},
      {"options", options},
      {"image", g.image.width > 0 ? json{{"name", g.image_name}, {"width", g.image.width}, {"height", g.image.height}} : json(nullptr)},
      {"result", g.have_result ? json::parse(g.result_json) : json(nullptr)},
      {"status", g.status},
      {"error", g.status_error},
      {"explain_count", g.explain_count},
      {"samples", samples},
      {"dpr", g.dpr},
      {"frames", g.frames_drawn},
  };
  g.state_json = j.dump();
  return g.state_json.c_str();
}

// The overlay as the view shows it right now, read back (RGBA, top row first) at width x height:
// for tests that check the heat map reached the GPU.
EMSCRIPTEN_KEEPALIVE const uint8_t* app_overlay_pixels(int width, int height) {
  g.png = g.renderer.read_pixels(width, height, g.look);
  return g.png.data();
}

}  // extern "C"

int main() {
  if (!glfwInit()) {
    set_status("This browser cannot start the app (GLFW failed to initialise).", true);
    return 1;
  }
  int width = 0, height = 0;
  emscripten_get_canvas_element_size("#canvas", &width, &height);
  g.dpr = float(emscripten_get_device_pixel_ratio());
  glfwWindowHint(GLFW_CLIENT_API, GLFW_OPENGL_ES_API);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  g.window = glfwCreateWindow(std::max(width, 1), std::max(height, 1), "Grad-CAM explorer", nullptr, nullptr);
  if (!g.window) {
    set_status("This browser has no WebGL2, which the app needs to draw.", true);
    return 1;
  }
  glfwMakeContextCurrent(g.window);
  const char* version = reinterpret_cast<const char*>(glGetString(GL_VERSION));
  if (!version || std::string(version).find("OpenGL ES 3") == std::string::npos) {
    set_status("This browser has no WebGL2, which the app needs to draw.", true);
    return 1;
  }
  // Input wakes the frame loop; ImGui's backend chains these callbacks.
  glfwSetCursorPosCallback(g.window, cursor_pos_cb);
  glfwSetMouseButtonCallback(g.window, mouse_button_cb);
  glfwSetScrollCallback(g.window, scroll_cb);
  glfwSetKeyCallback(g.window, key_cb);
  glfwSetCharCallback(g.window, char_cb);
  glfwSetCursorEnterCallback(g.window, cursor_enter_cb);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui_ImplGlfw_InitForOpenGL(g.window, true);
  ImGui_ImplOpenGL3_Init("#version 300 es");

  std::string error;
  g.renderer_ok = g.renderer.init(kFullscreenVertSource, kHeatmapFragSource, &error);
  if (!g.renderer_ok) set_status("Cannot draw heat maps: " + error, true);
  emscripten_set_main_loop(frame, 0, false);
  return 0;
}
