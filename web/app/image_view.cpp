// The image view: the original and the heat map overlay fitted into their panels, zoomed and
// panned by gestures (pinch, double-tap, two-finger drag) that the page passes on, and the
// colormap's legend. Both panels show the same part of the image.
#include <cmath>

#include "app.h"
#include "imgui_internal.h"  // the windows under a point, for touch scrolling

namespace app {

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
// px: ImGui scrolls only with a wheel, and no mouse event follows a drag on a touch screen.
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
  if (vc.width != rw || vc.height != rh || !(vc.look == look()) || vc.version != g.gpu_version) {
    g.renderer.render(g.view_target, rw, rh, look());
    vc.width = rw, vc.height = rh, vc.look = look(), vc.version = g.gpu_version;
  }
}

std::string overlay_title() {
  if (camera_live() && g.have_result) {
    char rate[48];
    std::snprintf(rate, sizeof rate, "Live, %.1f maps/s: ", double(g.camera.maps_per_second));
    return rate + std::string(method_label(g.result.method)) + " for " + class_name(g.result.target);
  }
  return g.have_result ? std::string(method_label(g.result.method)) + " for " + class_name(g.result.target) +
                             (method_is_input_resolution(g.result.method) ? "" : " at " + layer_name(g.engine->model(), g.result.layer))
                       : std::string("no explanation");
}

void draw_legend(float width) {
  const float row = HeatmapRenderer::lut_row(g.choice.colormap);
  const float x0 = ImGui::GetCursorPosX();
  ImGui::Image((ImTextureID)(intptr_t)g.renderer.lut_texture(), ImVec2(width, 0.8f * em()), ImVec2(0, row), ImVec2(1, row));
  ImGui::SetCursorPosX(x0);
  ImGui::TextDisabled("mattered less");
  const char* more = "mattered more";
  ImGui::SameLine(x0 + width - ImGui::CalcTextSize(more).x);
  ImGui::TextUnformatted(more);
}

}  // namespace app
