// The Grad-CAM explorer: Dear ImGui on WebGL2 through Emscripten's GLFW, with the engine linked in.
//
// As in Dear ImGui's example_glfw_opengl3: set-up, one frame function, and the input callbacks.
// The state is one struct (app.h), changed by app.cpp, drawn by the panels' files; the browser
// glue (file input, drop, paste, resize, the role="status" element, window.gradcamApp) is
// web/page.js, which calls abi.cpp and hears back through Module.onStatus / onResult / onRequest.
//
// What runs when: a new image or crop mode prepares the model input once; a new layer, method,
// class or score re-runs explain() on that input; colormap, opacity, upsampling and view only
// redraw (shaders/heatmap.frag), the network is not touched.
#include "app.h"
#include "shaders.h"
#include "imgui_internal.h"  // FindWindowByName: the trust window's extent

namespace app {

// Keyboard shortcuts act on the key event itself (GLFW's callback) rather than on ImGui's key state
// in a frame: each press acts once, and a held + or - repeats at the keyboard's own rate (ImGui
// would repeat at its own).
void handle_shortcut(int key, int action, int mods) {
  if (action != GLFW_PRESS && !(action == GLFW_REPEAT && (key == GLFW_KEY_EQUAL || key == GLFW_KEY_MINUS ||
                                                         key == GLFW_KEY_KP_ADD || key == GLFW_KEY_KP_SUBTRACT)))
    return;
  if (mods & (GLFW_MOD_CONTROL | GLFW_MOD_ALT | GLFW_MOD_SUPER)) return;  // leave Ctrl+V (paste) alone
  if (ImGui::GetCurrentContext() && ImGui::GetIO().WantTextInput) return;
  const int dir = (mods & GLFW_MOD_SHIFT) ? -1 : 1;
  switch (key) {
    case GLFW_KEY_O: page_request("open-file"); break;
    case GLFW_KEY_E: page_request("export"); break;
    case GLFW_KEY_T: g.show_trust = !g.show_trust; break;
    case GLFW_KEY_N:
      if (!g.samples.empty()) {
        const int n = int(g.samples.size());
        load_sample(wrap(current_sample() + dir, n));
      }
      break;
    case GLFW_KEY_M: step_method(dir); break;
    case GLFW_KEY_L: step_layer(dir); break;
    case GLFW_KEY_S: g.choice.options.score = g.choice.options.score == Score::logit ? Score::probability : Score::logit; break;
    case GLFW_KEY_R:
      g.choice.crop = step_in(g.choice.crop, 1);
      set_crop_geometry();
      break;
    case GLFW_KEY_C: g.choice.colormap = step_in(g.choice.colormap, dir); break;
    case GLFW_KEY_B: g.upsample = g.upsample == Upsample::bicubic ? Upsample::bilinear : Upsample::bicubic; break;
    case GLFW_KEY_V: g.view = g.view == View::overlay ? View::side_by_side : View::overlay; break;
    case GLFW_KEY_EQUAL:
    case GLFW_KEY_KP_ADD: g.choice.alpha = std::min(1.0f, g.choice.alpha + 0.05f); break;
    case GLFW_KEY_MINUS:
    case GLFW_KEY_KP_SUBTRACT: g.choice.alpha = std::max(0.0f, g.choice.alpha - 0.05f); break;
    case GLFW_KEY_A:
    case GLFW_KEY_0: g.choice.options.target = -1; break;
    case GLFW_KEY_H:
    case GLFW_KEY_SLASH: g.show_shortcuts = !g.show_shortcuts; break;
    default:
      if (key >= GLFW_KEY_1 && key <= GLFW_KEY_5 && g.have_result) {
        const auto top = top_k(g.result.probabilities, 5);
        if (size_t(key - GLFW_KEY_1) < top.size()) g.choice.options.target = top[size_t(key - GLFW_KEY_1)].index;
      }
      return;
  }
  ensure_explanation();
}

// The page keeps the view in its address (web/page.js writes the fragment) and sizes the canvas to
// the stacked layout's height.
EM_JS(void, js_on_view, (), {
  if (Module["onView"]) Module["onView"]();
});
EM_JS(void, js_on_layout, (double css_height), {
  if (Module["onLayout"]) Module["onLayout"](css_height);
});

// Tells the page when an option or the sample changed, however it changed (a control, a key, a
// script): every change wakes the frame loop, so this runs after each one.
void report_view() {
  std::string key = std::to_string(g.choice.options.layer) + "|" + std::to_string(int(g.choice.options.method)) + "|" +
                    std::to_string(g.choice.options.target) + "|" + std::to_string(int(g.choice.options.score)) + "|" +
                    std::to_string(int(g.choice.crop)) + "|" + std::to_string(int(g.choice.colormap)) + "|" +
                    std::to_string(g.choice.alpha) + "|" + std::to_string(int(g.upsample)) + "|" +
                    std::to_string(int(g.view)) + "|" + g.image_name;
  if (key == g.view_reported) return;
  g.view_reported = std::move(key);
  js_on_view();
}

void report_layout(float height) {
  if (std::abs(height - g.content_h) < 1.0f) return;
  g.content_h = height;
  js_on_layout(std::ceil(height / g.dpr));
}

void frame() {
  if (g.wake_frames <= 0) return;  // nothing changed: the canvas keeps the last frame
  --g.wake_frames;
  if (g.fonts_dirty) rebuild_fonts();

  ImGui_ImplOpenGL3_NewFrame();
  ImGui_ImplGlfw_NewFrame();
  ImGui::NewFrame();
  g.tabs.begin_frame();
  const ExplainRequest choice_before = g.choice;
  const Look look_before = look();
  const View view_before = g.view;

  const ImGuiIO& io = ImGui::GetIO();
  for (int i = 0; i < 2; ++i) g.panel_min[i] = g.panel_max[i] = ImVec2(0, 0);  // drawn again below, or not shown
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(io.DisplaySize);
  const ImGuiWindowFlags root_flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                      ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
  float column_h = 0;  // the stacked layout's height
  if (g.narrow) {
    // The page scrolls the stacked layout (natively, by finger), so the window itself never does.
    ImGui::Begin("##root", nullptr, root_flags | ImGuiWindowFlags_NoScrollWithMouse);
    ensure_explanation();
    draw_stacked();
    column_h = ImGui::GetCursorPosY() + ImGui::GetStyle().WindowPadding.y;
    ImGui::End();
  } else {
    ImGui::Begin("##root", nullptr, root_flags);
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
  }
  draw_trust_window();  // its own window, over either layout
  if (g.narrow) {
    // The canvas is as tall as the column, or as the trust window where that reaches further down.
    const ImGuiWindow* trust = g.show_trust ? ImGui::FindWindowByName(kTrustWindowTitle) : nullptr;
    report_layout(trust && trust->WasActive ? std::max(column_h, trust->Pos.y + trust->Size.y) : column_h);
  } else {
    report_layout(0);
  }
  g.tabs.end_frame();
  report_view();
  ImGui::Render();

  if (!same_request(g.choice, choice_before) || !(look() == look_before) || g.view != view_before) wake();
  int fw = 0, fh = 0;
  glfwGetFramebufferSize(g.window, &fw, &fh);
  glViewport(0, 0, fw, fh);
  glClearColor(0.075f, 0.082f, 0.098f, 1.0f);
  glClear(GL_COLOR_BUFFER_BIT);
  ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
  ++g.frames_drawn;
}

}  // namespace app

namespace {

using namespace app;

void on_input() { wake(); }
void cursor_pos_cb(GLFWwindow*, double, double) { on_input(); }
void mouse_button_cb(GLFWwindow*, int, int, int) { on_input(); }
// ImGui 1.90's GLFW backend listens for the wheel on the whole document and cancels each event: the
// browser treats that listener as passive and logs an error for every wheel over the page, and
// ImGui would take a wheel anywhere on the page as one over the app. The app takes the wheel over
// the canvas only, at the backend's scale (100 px or 3 lines a step).
EM_BOOL wheel_cb(int, const EmscriptenWheelEvent* e, void*) {
  const double step = e->deltaMode == DOM_DELTA_PIXEL ? 1.0 / 100 : e->deltaMode == DOM_DELTA_LINE ? 1.0 / 3 : 80.0;
  ImGui::GetIO().AddMouseWheelEvent(float(-e->deltaX * step), float(-e->deltaY * step));
  on_input();
  return EM_TRUE;
}
void key_cb(GLFWwindow*, int key, int, int action, int mods) {
  on_input();
  handle_shortcut(key, action, mods);
}
void char_cb(GLFWwindow*, unsigned int) { on_input(); }
void cursor_enter_cb(GLFWwindow*, int) { on_input(); }

}  // namespace

using namespace app;

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
  glfwSetKeyCallback(g.window, key_cb);
  glfwSetCharCallback(g.window, char_cb);
  glfwSetCursorEnterCallback(g.window, cursor_enter_cb);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui_ImplGlfw_InitForOpenGL(g.window, true);
  emscripten_set_wheel_callback(EMSCRIPTEN_EVENT_TARGET_DOCUMENT, nullptr, false, nullptr);
  emscripten_set_wheel_callback("#canvas", nullptr, false, wheel_cb);
  ImGui_ImplOpenGL3_Init("#version 300 es");

  std::string error;
  g.renderer_ok = g.renderer.init(kFullscreenVertSource, kHeatmapFragSource, &error);
  if (!g.renderer_ok) set_status("Cannot draw heat maps: " + error, true);
  emscripten_set_main_loop(frame, 0, false);
  return 0;
}
