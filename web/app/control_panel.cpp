// The control panel (the sidebar, or the end of the stacked layout): the title, the image and its
// samples, the model input of an ONNX model, the explanation's choices (the request in g.choice),
// the display, export, the link and the keyboard shortcuts.
#include <cstdio>

#include "app.h"

namespace app {

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
    if (g.engine->model().untrained()) {
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
  draw_camera_controls();
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
      ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(std::floor(pad), std::floor(pad)));
      if (ImGui::ImageButton("sample", (ImTextureID)(intptr_t)g.samples[size_t(i)].texture, ImVec2(side, side)))
        load_sample(i);
      ImGui::PopStyleVar();
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
  const bool method_open = ImGui::BeginCombo("##method", method_label(g.choice.options.method), combo_flags());
  g.tabs.stop(std::string("Method: ") + method_label(g.choice.options.method) + ", list (M)");
  if (method_open) {
    for (Method m : all_methods())
      if (list_entry(method_label(m), m == g.choice.options.method)) g.choice.options.method = m;
    ImGui::EndCombo();
  }
  const bool input_map = method_is_input_resolution(g.choice.options.method);
  label("Layer");
  ImGui::BeginDisabled(!g.engine || input_map);
  const std::string layer_preview =
      !g.engine ? "-" : input_map ? "input pixels (" + std::to_string(arch().width) + "\xC3\x97" + std::to_string(arch().height) + ")"
                                  : layer_label(g.choice.options.layer);
  const bool layer_open = ImGui::BeginCombo("##layer", preview_tail(layer_preview).c_str(), combo_flags());
  g.tabs.stop("Layer: " + layer_preview + ", list (L)");
  if (layer_open) {
    for (int l : g.conv_layers)
      if (list_entry(layer_label(l).c_str(), l == g.choice.options.layer)) g.choice.options.layer = l;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Class");
  ImGui::BeginDisabled(!g.engine);
  const std::string class_preview = !g.engine || g.choice.options.target < 0 ? "top class (auto)" : class_name(g.choice.options.target);
  const bool class_open = ImGui::BeginCombo("##class", class_preview.c_str(), combo_flags());
  g.tabs.stop("Class: " + class_preview + ", list (1 to 5, A)");
  if (class_open) {
    if (list_entry("top class (auto)", g.choice.options.target < 0)) g.choice.options.target = -1;
    for (int c = 0; g.engine && c < int(arch().classes.size()); ++c)
      if (list_entry(class_name(c).c_str(), c == g.choice.options.target)) g.choice.options.target = c;
    ImGui::EndCombo();
  }
  ImGui::EndDisabled();
  label("Score");
  for (size_t i = 0; i < kScoreNames.size(); ++i) {  // the engine's score table
    const Score s = Score(i);
    if (i > 0) ImGui::SameLine();
    if (option(kScoreNames[i], g.choice.options.score == s)) g.choice.options.score = s;
    g.tabs.stop(std::string("Score: ") + kScoreNames[i] + ", " + (g.choice.options.score == s ? "selected" : "not selected") + " (S)");
  }
  // pytorch-grad-cam's eigen_smooth: a layer map's first principal component instead of its sum.
  label("Eigen-smooth");
  ImGui::BeginDisabled(input_map);
  for (const bool on : {false, true}) {
    if (on) ImGui::SameLine();
    if (option(on ? "on##eigen-smooth" : "off##eigen-smooth", g.choice.options.eigen_smooth == on)) g.choice.options.eigen_smooth = on;
    g.tabs.stop(std::string("Eigen-smooth: ") + (on ? "on" : "off") + ", " + (g.choice.options.eigen_smooth == on ? "selected" : "not selected"));
  }
  ImGui::EndDisabled();
  // pytorch-grad-cam's aug_smooth: six test-time augmentations averaged (methods/aug_smooth.cpp).
  ImGui::Checkbox("Aug-smooth (flip x 0.9/1/1.1)", &g.choice.options.aug_smooth);
  g.tabs.stop(std::string("Aug-smooth: ") + (g.choice.options.aug_smooth ? "checked" : "not checked") + ", check box");
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
  ImGui::SliderFloat("##alpha", &g.choice.alpha, 0.0f, 1.0f, "%.2f");
  char alpha_label[64];
  std::snprintf(alpha_label, sizeof alpha_label, "Opacity: %.2f, slider (+ and -)", double(g.choice.alpha));
  g.tabs.stop(alpha_label);
  label("Colormap");
  const bool colormap_open = ImGui::BeginCombo("##colormap", colormap_name(g.choice.colormap), combo_flags());
  g.tabs.stop(std::string("Colormap: ") + colormap_name(g.choice.colormap) + ", list (C)");
  if (colormap_open) {
    for (Colormap c : kColormaps) {
      ImGui::PushID(int(c));
      const float bar_w = 4 * em();
      if (list_entry("##c", c == g.choice.colormap)) g.choice.colormap = c;
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
  if (option("bilinear", g.upsample == Upsample::bilinear)) g.upsample = Upsample::bilinear;
  g.tabs.stop(std::string("Upsample: bilinear, ") + (g.upsample == Upsample::bilinear ? "selected" : "not selected") + " (B)");
  ImGui::SameLine();
  if (option("bicubic", g.upsample == Upsample::bicubic)) g.upsample = Upsample::bicubic;
  g.tabs.stop(std::string("Upsample: bicubic, ") + (g.upsample == Upsample::bicubic ? "selected" : "not selected") + " (B)");
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

}  // namespace app
