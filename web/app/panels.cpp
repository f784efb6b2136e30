// The explorer's panels: the sidebar of choices, the image and its heat map, the top five, the
// legend and the status line, drawn from App g every frame (immediate mode), with the fonts and
// style at the device pixel ratio.
#include <cmath>
#include <cstdio>

#include "app.h"

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
  if (ImGui::Button("Open image...  (O)", ImVec2(-1, 0))) page_request("open-file");
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
  if (ImGui::Button("Export overlay as PNG  (E)", ImVec2(-1, 0))) page_request("export");
  g.tabs.stop("Export the overlay as PNG, button (E)");
  if (ImGui::Button(g.show_trust ? "Hide \"Can I trust this?\"  (T)" : "Can I trust this?  (T)", ImVec2(-1, 0)))
    g.show_trust = !g.show_trust;
  g.tabs.stop(std::string("Can I trust this? Faithfulness, occlusion and sanity check, ") + (g.show_trust ? "shown" : "hidden") +
              ", button (T)");
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

}  // namespace app
