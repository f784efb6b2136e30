// The two layouts a frame draws in: the main area beside the sidebar (image panels, then the
// result) and, on narrow screens, one column the page scrolls.
#include <cmath>

#include "app.h"

namespace app {

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
