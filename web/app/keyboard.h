// Keyboard access to the drawn controls. The page (web/page.js) owns Tab, Shift+Tab and Escape:
// it asks tab() whether the next control is inside the app or whether focus leaves the canvas for
// the page's next real element, so the page's own tab order runs through the app and out again.
//
// Dear ImGui (1.90) moves its focus with Tab through every control, presses the focused one with
// Enter or Space, and queues quick key presses between frames. The app still keeps its own tab
// order, because ImGui's cannot do three things the page needs: say when Tab leaves the canvas
// (ImGui's Tab wraps around and never gives focus back to the page), give each control a label
// for screen readers (the page announces the focused control's label in a live region), and tell
// the page and the tests where each control is drawn. Each frame, stop() after every control records
// it in drawing order with its label; a Tab moves ImGui's navigation focus to the next stop in the
// following frame; arrows, Space, Enter and Escape are ImGui's own keyboard navigation from there.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "imgui.h"

struct ImGuiWindow;

namespace gradcam_web {

class TabOrder {
 public:
  // announce(label) is called when the focused control or its label (its value) changes.
  explicit TabOrder(std::function<void(const std::string&)> announce) : announce_(std::move(announce)) {}

  void begin_frame();  // after ImGui::NewFrame()
  void end_frame();    // before ImGui::Render()
  // Call right after a control: records it, and focuses it if a Tab asked for it.
  void stop(const std::string& label);

  // Tab (dir +1) or Shift+Tab (-1) while the canvas has focus: true if focus moves to another
  // control (next frame), false if it is at the first or last one and should leave the canvas.
  bool tab(int dir);
  // The canvas got focus: +1 by Tab (focus the first control), -1 by Shift+Tab (the last one),
  // 0 by pointer (leave ImGui's focus where it is). leave(): the canvas lost focus.
  void enter(int dir);
  void leave();
  // Whether ImGui needs Escape itself (to close a popup or end an edit); else it leaves the canvas.
  bool wants_escape() const;

  // The controls drawn in the last frame, in tab order: label and rectangle (device px), so tests
  // can tap or click a control where a person would.
  struct Placed {
    std::string label;
    ImVec2 min, max;
  };
  const std::vector<Placed>& placed() const { return placed_; }

 private:
  struct Stop {
    ImGuiID id;
    ImGuiWindow* window;
  };
  std::function<void(const std::string&)> announce_;
  std::vector<Stop> stops_, building_;
  std::vector<Placed> placed_, placing_;
  ImGuiID request_ = 0;  // the stop to focus when it is next drawn
  ImGuiID current_ = 0;  // the last stop that had focus (ImGui's NavId may be in a popup)
  std::string announced_;
  bool canvas_focused_ = false;
};

}  // namespace gradcam_web
