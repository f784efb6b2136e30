// The explorer's panels: the sidebar of choices, the image and its heat map, the top five, the
// legend and the status line, drawn from App g every frame (immediate mode), with the fonts and
// style at the device pixel ratio.
#include <cmath>
#include <cstdio>

#include "app.h"
#include "imgui_internal.h"  // the windows under a point, for touch scrolling

namespace app {

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
  if (g.touch) {
    // A finger needs targets at least 44 CSS px high (WCAG 2.5.5): the padding makes up what the
    // font (14 px, or ImGui's 13 px one) does not; buttons, lists and sliders are frame-high.
    const float font_css = g.font_ttf.empty() ? 13.0f : 14.0f;
    style.FramePadding = ImVec2(10, std::ceil((44.0f - font_css) * 0.5f));
    style.ItemSpacing = ImVec2(8, 8);
    style.GrabMinSize = 28;
    style.ScrollbarSize = 18;
  }
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

// The least height of a touch target in device px (44 CSS px); 0 with a mouse (ImGui's own sizes).
float touch_h() { return g.touch ? 44.0f * g.dpr : 0.0f; }

// A combo list shows every entry with touch (it cannot be scrolled by a finger); 8 with a mouse.
ImGuiComboFlags combo_flags() { return g.touch ? ImGuiComboFlags_HeightLargest : 0; }

// An entry of a combo list, finger-high with touch.
bool list_entry(const char* label, bool selected) { return ImGui::Selectable(label, selected, 0, ImVec2(0, touch_h())); }

// One of two choices: a radio button with a mouse; with touch, a frame-high button (a radio
// button's circle is as high as the frame, 44 px, which reads as a blob). The same ID either way.
bool option(const char* label, bool selected) {
  if (!g.touch) return ImGui::RadioButton(label, selected);
  if (selected) ImGui::PushStyleColor(ImGuiCol_Button, ImGui::GetStyleColorVec4(ImGuiCol_Header));
  const bool pressed = ImGui::Button(label);
  if (selected) ImGui::PopStyleColor();
  return pressed;
}

// Tooltips follow the hovering mouse; after a tap the "mouse" stays where the finger was and the
// tooltip would stay up, so touch screens get none.
bool hovered() { return !g.touch && ImGui::IsItemHovered(); }

void section(const char* title) {
  ImGui::Spacing();
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextUnformatted(title);
  ImGui::PopStyleColor();
  ImGui::Separator();
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
      {"T", "can I trust this? (metrics)"},
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

void draw_title() {
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
}

// The end of text that fits a combo's preview of the next item's width: ONNX node names
// (/features/features.14/conv/conv.1/conv.1.2/Clip) differ at their end, so the start goes.
std::string preview_tail(const std::string& text) {
  const float room = ImGui::CalcItemWidth() - ImGui::GetFrameHeight() - 2 * ImGui::GetStyle().FramePadding.x;
  if (ImGui::CalcTextSize(text.c_str()).x <= room) return text;
  const std::string ellipsis = "\xE2\x80\xA6";
  for (size_t cut = 1; cut < text.size(); ++cut) {
    if ((uint8_t(text[cut]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
    const std::string tail = ellipsis + text.substr(cut);
    if (ImGui::CalcTextSize(tail.c_str()).x <= room) return tail;
  }
  return ellipsis;
}

// An ONNX file says neither how its input was normalised nor what its classes are called: the
// person says, with torchvision's presets and a labels file (one class name per line).
void draw_model_input(float label_w) {
  section("Model input (ONNX)");
  // The presets get a row of their own: beside a label they do not fit the narrowest sidebar.
  ImGui::TextUnformatted("Normalise the pixels as in training:");
  const Normalization* now = current_normalization();
  for (const Normalization& n : kNormalizations) {
    if (&n != &kNormalizations[0]) ImGui::SameLine();
    if (option(n.name, &n == now) && &n != now) use_normalization(n);
    g.tabs.stop(std::string("Normalisation: ") + n.name + ", " + (&n == now ? "selected" : "not selected"));
  }
  if (!now) {
    const auto& a = arch();
    ImGui::TextDisabled("custom: mean %.3g,%.3g,%.3g std %.3g,%.3g,%.3g", double(a.mean[0]), double(a.mean[1]),
                        double(a.mean[2]), double(a.std[0]), double(a.std[1]), double(a.std[2]));
  }
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted("Classes");
  ImGui::SameLine(label_w);
  // A long file name is cut by the button's width; the tab stop's label says it whole.
  const std::string names = g.labels_name.empty() ? std::to_string(arch().classes.size()) + " numbered: open labels..."
                                                  : g.labels_name + " (" + std::to_string(arch().classes.size()) + ")";
  if (ImGui::Button(names.c_str(), ImVec2(-1, 0))) page_request("open-labels");
  g.tabs.stop("Class names: " + (g.labels_name.empty() ? std::string("numbered") : g.labels_name) +
              ", open a labels file (one name per line), button");
  if (hovered()) ImGui::SetTooltip("A text file with one class name per line (or drop a .txt file)");
}

// Everything the person chooses: image, explanation, display, export, link, shortcuts.
void draw_controls() {
  section("Image");
  if (ImGui::Button("Open image...  (O)", ImVec2(-1, 0))) page_request("open-file");
  g.tabs.stop("Open image, button (O)");
  if (g.touch) {
    // A phone's file picker offers the camera among other sources; this goes straight to it.
    if (ImGui::Button("Take a photo...", ImVec2(-1, 0))) page_request("open-camera");
    g.tabs.stop("Take a photo, button");
  }
  ImGui::TextDisabled(g.touch ? "or pick a test image:" : "or drop or paste one anywhere");
  if (!g.samples.empty()) {
    if (!g.touch) ImGui::TextDisabled("CIFAR-10 test images (N):");
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
      if (hovered()) ImGui::SetTooltip("%s", g.samples[size_t(i)].name.c_str());
      ImGui::PopID();
      if (selected) ImGui::PopStyleColor();
    }
    ImGui::PopStyleVar();
  }

  const float label_w = 5.9f * em();
  if (g.engine && g.engine->asks_for_input_options()) draw_model_input(label_w);

  section("Explanation");
  auto label = [&](const char* text) {
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted(text);
    ImGui::SameLine(label_w);
    ImGui::SetNextItemWidth(-1);
  };
  label("Method");
  const bool method_open = ImGui::BeginCombo("##method", method_label(g.choice.method), combo_flags());
  g.tabs.stop(std::string("Method: ") + method_label(g.choice.method) + ", list (M)");
  if (method_open) {
    for (Method m : all_methods())
      if (list_entry(method_label(m), m == g.choice.method)) g.choice.method = m;
    ImGui::EndCombo();
  }
  const bool input_map = method_is_input_resolution(g.choice.method);
  label("Layer");
  ImGui::BeginDisabled(!g.engine || input_map);
  const std::string layer_preview =
      !g.engine ? "-" : input_map ? "input pixels (" + std::to_string(arch().width) + "\xC3\x97" + std::to_string(arch().height) + ")"
                                  : layer_label(g.choice.layer);
  const bool layer_open = ImGui::BeginCombo("##layer", preview_tail(layer_preview).c_str(), combo_flags());
  g.tabs.stop("Layer: " + layer_preview + ", list (L)");
  if (layer_open) {
    for (int l : g.conv_layers)
      if (list_entry(layer_label(l).c_str(), l == g.choice.layer)) g.choice.layer = l;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Class");
  ImGui::BeginDisabled(!g.engine);
  const std::string class_preview = !g.engine || g.choice.target < 0 ? "top class (auto)" : class_name(g.choice.target);
  const bool class_open = ImGui::BeginCombo("##class", class_preview.c_str(), combo_flags());
  g.tabs.stop("Class: " + class_preview + ", list (1 to 5, A)");
  if (class_open) {
    if (list_entry("top class (auto)", g.choice.target < 0)) g.choice.target = -1;
    for (int c = 0; g.engine && c < int(arch().classes.size()); ++c)
      if (list_entry(class_name(c).c_str(), c == g.choice.target)) g.choice.target = c;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Score");
  for (size_t i = 0; i < kScoreNames.size(); ++i) {  // the engine's score table
    const Score s = Score(i);
    if (i > 0) ImGui::SameLine();
    if (option(kScoreNames[i], g.choice.score == s)) g.choice.score = s;
    g.tabs.stop(std::string("Score: ") + kScoreNames[i] + ", " + (g.choice.score == s ? "selected" : "not selected") + " (S)");
  }
  label("Crop");
  const bool crop_open = ImGui::BeginCombo("##crop", crop_mode_name(g.choice.crop), combo_flags());
  g.tabs.stop(std::string("Crop: ") + crop_mode_name(g.choice.crop) + ", list (R)");
  if (crop_open) {
    for (CropMode c : kCropModes)
      if (list_entry(crop_mode_name(c), c == g.choice.crop)) {
        g.choice.crop = c;
        set_crop_geometry();
      }
    ImGui::EndCombo();
  }

  section("Display");
  label("View");
  static const char* view_labels[] = {"original | overlay", "overlay only"};
  const bool view_open = ImGui::BeginCombo("##view", view_labels[int(g.view)], combo_flags());
  g.tabs.stop(std::string("View: ") + view_labels[int(g.view)] + ", list (V)");
  if (view_open) {
    for (int v = 0; v < 2; ++v)
      if (list_entry(view_labels[v], int(g.view) == v)) g.view = View(v);
    ImGui::EndCombo();
  }
  label("Opacity");
  ImGui::SliderFloat("##alpha", &g.look.alpha, 0.0f, 1.0f, "%.2f");
  char alpha_label[64];
  std::snprintf(alpha_label, sizeof alpha_label, "Opacity: %.2f, slider (+ and -)", double(g.look.alpha));
  g.tabs.stop(alpha_label);
  label("Colormap");
  const bool colormap_open = ImGui::BeginCombo("##colormap", colormap_name(g.look.colormap), combo_flags());
  g.tabs.stop(std::string("Colormap: ") + colormap_name(g.look.colormap) + ", list (C)");
  if (colormap_open) {
    for (Colormap c : kColormaps) {
      ImGui::PushID(int(c));
      const float bar_w = 4 * em();
      if (list_entry("##c", c == g.look.colormap)) g.look.colormap = c;
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
  if (option("bilinear", g.look.upsample == Upsample::bilinear)) g.look.upsample = Upsample::bilinear;
  g.tabs.stop(std::string("Upsample: bilinear, ") + (g.look.upsample == Upsample::bilinear ? "selected" : "not selected") + " (B)");
  ImGui::SameLine();
  if (option("bicubic", g.look.upsample == Upsample::bicubic)) g.look.upsample = Upsample::bicubic;
  g.tabs.stop(std::string("Upsample: bicubic, ") + (g.look.upsample == Upsample::bicubic ? "selected" : "not selected") + " (B)");
  ImGui::Spacing();
  ImGui::BeginDisabled(!g.renderer.has_image());
  if (ImGui::Button("Export overlay as PNG  (E)", ImVec2(-1, 0))) page_request("export");
  g.tabs.stop("Export the overlay as PNG, button (E)");
  if (ImGui::Button(g.show_trust ? "Hide \"Can I trust this?\"  (T)" : "Can I trust this?  (T)", ImVec2(-1, 0)))
    g.show_trust = !g.show_trust;
  g.tabs.stop(std::string("Can I trust this? Faithfulness, occlusion and sanity check, ") + (g.show_trust ? "shown" : "hidden") +
              ", button (T)");
  ImGui::EndDisabled();

  // The view is in the page's address (its fragment); the page copies it.
  section("Share");
  if (ImGui::Button("Copy link to this view", ImVec2(-1, 0))) page_request("copy-link");
  g.tabs.stop("Copy link to this view, button");
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetStyleColorVec4(ImGuiCol_TextDisabled));
  ImGui::TextWrapped("Opened, dropped or pasted images are not in the link: they never leave this machine.");
  ImGui::PopStyleColor();

  ImGui::Spacing();
  ImGui::SetNextItemOpen(g.show_shortcuts);
  g.show_shortcuts = ImGui::CollapsingHeader("Keyboard shortcuts  (H)");
  g.tabs.stop(std::string("Keyboard shortcuts, ") + (g.show_shortcuts ? "shown" : "hidden") + " (H)");
  if (g.show_shortcuts) draw_shortcuts();
}

void draw_sidebar() {
  draw_title();
  draw_controls();
}

// The image (or overlay) fitted into a box of max_w x max_h, centred horizontally.
ImVec2 fit(float max_w, float max_h) {
  const float iw = float(std::max(1, g.image.width)), ih = float(std::max(1, g.image.height));
  const float k = std::max(0.0f, std::min(max_w / iw, max_h / ih));
  return ImVec2(std::max(1.0f, std::floor(iw * k)), std::max(1.0f, std::floor(ih * k)));
}

// ---------------------------------------------------------------------------------------------
// Zoom: both panels show the same part of the image, zoom_centre +- 0.5 / zoom in each direction.

constexpr float kMaxZoom = 8.0f;

void clamp_zoom() {
  g.zoom = std::clamp(g.zoom, 1.0f, kMaxZoom);
  const float half = 0.5f / g.zoom;
  g.zoom_centre.x = std::clamp(g.zoom_centre.x, half, 1.0f - half);
  g.zoom_centre.y = std::clamp(g.zoom_centre.y, half, 1.0f - half);
}

int panel_at(float x, float y) {
  for (int i = 0; i < 2; ++i)
    if (x >= g.panel_min[i].x && x < g.panel_max[i].x && y >= g.panel_min[i].y && y < g.panel_max[i].y) return i;
  return -1;
}

bool on_panel(float x, float y) { return panel_at(x, y) >= 0; }

// Scales the zoom by `factor` about the point (x, y), which stays over the same image pixel.
bool zoom_at(float x, float y, float factor) {
  const int i = panel_at(x, y);
  if (i < 0 || !(factor > 0)) return false;
  const ImVec2 a = g.panel_min[i], b = g.panel_max[i];
  const float fx = (x - a.x) / (b.x - a.x) - 0.5f, fy = (y - a.y) / (b.y - a.y) - 0.5f;
  const float ux = g.zoom_centre.x + fx / g.zoom, uy = g.zoom_centre.y + fy / g.zoom;
  g.zoom = std::clamp(g.zoom * factor, 1.0f, kMaxZoom);
  g.zoom_centre = ImVec2(ux - fx / g.zoom, uy - fy / g.zoom);
  clamp_zoom();
  wake();
  return true;
}

// Double-tap or double-click: 3x about the point, or back to the whole image.
bool zoom_toggle(float x, float y) {
  if (panel_at(x, y) < 0) return false;
  if (g.zoom > 1.0f) {
    g.zoom = 1.0f;
    g.zoom_centre = ImVec2(0.5f, 0.5f);
    wake();
    return true;
  }
  return zoom_at(x, y, 3.0f);
}

// Two fingers moving together drag the zoomed image (device px).
void pan_by(float dx, float dy) {
  const int i = g.panel_max[1].x > g.panel_min[1].x ? 1 : 0;
  const float w = g.panel_max[i].x - g.panel_min[i].x, h = g.panel_max[i].y - g.panel_min[i].y;
  if (w <= 0 || h <= 0) return;
  g.zoom_centre.x -= dx / w / g.zoom;
  g.zoom_centre.y -= dy / h / g.zoom;
  clamp_zoom();
  wake();
}

// A finger dragged over a window that scrolls (the sidebar, an open list) scrolls it by dy device
// px: ImGui 1.86 scrolls only with a wheel, and no mouse event follows a drag on a touch screen.
bool touch_scroll(float x, float y, float dy) {
  ImGuiContext& c = *GImGui;
  for (int i = c.Windows.Size - 1; i >= 0; --i) {  // front to back
    ImGuiWindow* w = c.Windows[i];
    if (!w->WasActive || w->Hidden || !ImRect(w->Pos.x, w->Pos.y, w->Pos.x + w->Size.x, w->Pos.y + w->Size.y).Contains(ImVec2(x, y))) continue;
    for (ImGuiWindow* s = w; s; s = s->ParentWindow) {
      if (s->ScrollMax.y > 0) {
        ImGui::SetScrollY(s, std::clamp(s->Scroll.y - dy, 0.0f, s->ScrollMax.y));
        wake();
        return true;
      }
    }
    return false;
  }
  return false;
}

// One image panel at the cursor, showing the zoomed part; its rectangle is kept for gestures.
void panel_image(int which, GLuint texture, ImVec2 size) {
  const float half = 0.5f / g.zoom;
  const ImVec2 c = g.zoom_centre;
  ImGui::Image((ImTextureID)(intptr_t)texture, size, ImVec2(c.x - half, c.y - half), ImVec2(c.x + half, c.y + half));
  g.panel_min[which] = ImGui::GetItemRectMin();
  g.panel_max[which] = ImGui::GetItemRectMax();
}

// Renders the overlay (shaders/heatmap.frag) for a panel of w x h device px: at the zoom too, so a
// zoomed map stays sharp, up to 2048 px (beyond that the texture is magnified).
void render_overlay(int w, int h) {
  const float k = std::max(1.0f, std::min(g.zoom, 2048.0f / float(std::max(w, h))));
  const int rw = int(float(w) * k), rh = int(float(h) * k);
  auto& vc = g.view_cache;
  if (vc.width != rw || vc.height != rh || !(vc.look == g.look) || vc.version != g.gpu_version) {
    g.renderer.render(g.view_target, rw, rh, g.look);
    vc.width = rw, vc.height = rh, vc.look = g.look, vc.version = g.gpu_version;
  }
}

std::string overlay_title() {
  return g.have_result ? std::string(method_label(g.result.method)) + " for " + class_name(g.result.target) +
                             (method_is_input_resolution(g.result.method) ? "" : " at " + layer_name(g.engine->model(), g.result.layer))
                       : std::string("no explanation");
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
  ImGui::TextDisabled(g.touch ? "Top 5 classes (tap one to explain it)" : "Top 5 classes (click one to explain it)");
  const float row_h = std::max(ImGui::GetTextLineHeight() + 0.45f * em(), touch_h());
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
    if (hovered()) ImGui::SetTooltip("Explain %s  (key %d)", class_name(c).c_str(), k + 1);
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
    if (g.touch ? ImGui::Button("back to the top class") : ImGui::SmallButton("back to the top class (A)")) g.choice.target = -1;
    g.tabs.stop("Back to the top class, button (A)");
  } else {
    ImGui::TextDisabled("explaining the top class");
  }
}

// What this explanation is: its time, the map's size and layer, the score.
void draw_facts() {
  const std::string layer = layer_name(g.engine->model(), g.result.layer);
  const int channels = g.engine->graph().output_of(g.result.layer).shape.c;
  ImGui::TextDisabled("This explanation");
  ImGui::Text("took %s", ms(g.total_ms).c_str());
  ImGui::TextDisabled("input %.1f \xC2\xB7 forward %.1f \xC2\xB7 backward %.1f \xC2\xB7 map %.1f ms", g.prepare_ms,
                      g.result.forward_ms, g.result.backward_ms, g.result.cam_ms);
  if (method_is_input_resolution(g.result.method))
    ImGui::Text("map: %d\xC3\x97%d at the input", g.result.cam.width, g.result.cam.height);
  else
    ImGui::Text("map: %d\xC3\x97%d at %s (%d channels)", g.result.cam.width, g.result.cam.height, layer.c_str(), channels);
  ImGui::Text("score: %s of %s", score_name(g.result.score), class_name(g.result.target).c_str());
  if (g.map_is_flat) {
    ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.66f, 0.26f, 1.0f));
    ImGui::TextWrapped("The map is zero everywhere: nothing at this layer raised this class's score.");
    ImGui::PopStyleColor();
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
  render_overlay(int(size.x), int(size.y));
  const float top_y = ImGui::GetCursorPosY();
  float x = ImGui::GetCursorPosX();
  if (two) {
    ImGui::TextDisabled("Original");
    ImGui::SetCursorPos(ImVec2(x + (panel_w - size.x) * 0.5f, top_y + line));
    panel_image(0, g.renderer.image_texture(), size);
    x += panel_w + gap;
    ImGui::SetCursorPos(ImVec2(x, top_y));
  }
  ImGui::TextDisabled("%s", overlay_title().c_str());
  const float img_x = x + (panel_w - size.x) * 0.5f;
  ImGui::SetCursorPos(ImVec2(img_x, top_y + line));
  panel_image(1, g.view_target.texture, size);
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
      draw_facts();
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

// One column for narrow screens, in the order a phone is read: what the image is and its map (full
// width, the original under it in the side-by-side view), the status, the top five and the facts,
// then every control. The page scrolls it (the canvas is as tall as what is drawn here).
void draw_stacked() {
  const float width = ImGui::GetContentRegionAvail().x;
  draw_title();
  if (!g.renderer_ok || !g.renderer.has_image()) {
    if (g.renderer_ok) ImGui::TextDisabled("Open an image or pick a test image below.");
    draw_status_line();
    draw_controls();
    return;
  }
  ImGui::Spacing();
  ImGui::TextWrapped("%s", g.image_name.c_str());
  ImGui::SameLine();
  ImGui::TextDisabled("%d\xC3\x97%d px, %s crop", g.image.width, g.image.height, crop_mode_name(g.choice.crop));
  // Square at most: the image fills the width, and a tall photo does not push the rest off screen.
  const ImVec2 size = fit(width, width);
  const float x = ImGui::GetCursorPosX() + (width - size.x) * 0.5f;
  render_overlay(int(size.x), int(size.y));
  ImGui::TextDisabled("%s", overlay_title().c_str());
  ImGui::SetCursorPosX(x);
  panel_image(1, g.view_target.texture, size);
  ImGui::SetCursorPosX(x);
  draw_legend(size.x);
  if (g.view == View::side_by_side) {
    ImGui::TextDisabled("Original");
    ImGui::SetCursorPosX(x);
    panel_image(0, g.renderer.image_texture(), size);
  }
  if (g.zoom > 1.0f) ImGui::TextDisabled("zoomed %.1f\xC3\x97: double-tap for the whole image", double(g.zoom));
  ImGui::Spacing();
  draw_status_line();
  if (g.have_result) {
    ImGui::Spacing();
    draw_predictions(width);
    ImGui::Spacing();
    draw_facts();
  }
  draw_controls();
}

}  // namespace app
