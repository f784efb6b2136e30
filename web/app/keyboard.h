// Keyboard access to the drawn controls. The page (web/page.js) owns Tab, Shift+Tab and Escape:
// it asks tab() whether the next control is inside the app or whether focus leaves the canvas for
// the page's next real element, so the page's own tab order runs through the app and out again.
//
// ImGui 1.86's own Tab only visits text-like fields, so the app keeps its own tab order: each
// frame, stop() after every control records it in drawing order, with a label for screen readers
// (the page announces the focused control's label in a live region). A Tab moves ImGui's
// navigation focus to the next stop in the following frame; arrows, Space and Escape are ImGui's
// own keyboard navigation from there.
//
// Taps: ImGui 1.86 reads the keys once per frame, so a press and release that both land between
// two frames (a quick tap, or a test's key press) would be lost; KeyTaps holds such a key down for
// one frame. It also lets Enter use a control as Space does.
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

class KeyTaps {
 public:
  void on_key(int key, bool down);  // from the GLFW key callback
  void before_new_frame();          // right before ImGui::NewFrame()
  void after_new_frame();           // right after it

 private:
  std::vector<int> tapped_;  // keys pressed since the last frame
  bool held_[512] = {};
  bool enter_as_space_ = false;
};

}  // namespace gradcam_web
