// The explorer's look: fonts and ImGui's style at the device pixel ratio, and the few widgets that
// grow to finger size on touch screens (44 CSS px targets), which every panel draws with.
#include <cmath>

#include "app.h"

namespace app {

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
  // Only the font texture: in ImGui 1.86 to 1.90, DestroyDeviceObjects() leaves the recorded buffer
  // sizes behind and the next frame overflows the new, empty buffers. Before the first frame,
  // NewFrame makes it.
  if (g.frames_drawn > 0) {
    ImGui_ImplOpenGL3_DestroyFontsTexture();
    ImGui_ImplOpenGL3_CreateFontsTexture();
  }
  apply_style(g.dpr);
  g.fonts_dirty = false;
}

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

}  // namespace app
