#include "keyboard.h"

#include <algorithm>

#include "imgui_internal.h"

namespace gradcam_web {

void TabOrder::begin_frame() {
  building_.clear();
  placing_.clear();
  // A Tab closes an open combo list first: the focus moves on from the combo itself.
  if (request_ && !GImGui->OpenPopupStack.empty()) ImGui::ClosePopupToLevel(0, false);
}

void TabOrder::end_frame() {
  stops_.swap(building_);
  placed_.swap(placing_);
}

void TabOrder::stop(const std::string& label) {
  ImGuiContext& g = *GImGui;
  const ImGuiID id = ImGui::GetItemID();
  if (!id || (ImGui::GetItemFlags() & ImGuiItemFlags_Disabled)) return;  // not focusable now
  ImGuiWindow* window = ImGui::GetCurrentWindow();
  building_.push_back({id, window});
  placing_.push_back({label, ImGui::GetItemRectMin(), ImGui::GetItemRectMax()});
  if (id == request_) {
    request_ = 0;
    ImGui::SetFocusID(id, window);
    g.NavDisableHighlight = false;  // draw the focus frame around it
    g.NavDisableMouseHover = true;
    ImGui::ScrollToRect(window, ImRect(ImGui::GetItemRectMin(), ImGui::GetItemRectMax()), ImGuiScrollFlags_KeepVisibleEdgeY);
  }
  if (g.NavId == id) {
    current_ = id;
    if (canvas_focused_ && label != announced_) {
      announced_ = label;
      announce_(label);
    }
  }
}

bool TabOrder::tab(int dir) {
  if (stops_.empty()) return false;
  const ImGuiID from = request_ ? request_ : current_;
  const auto it = std::find_if(stops_.begin(), stops_.end(), [&](const Stop& s) { return s.id == from; });
  const long n = long(stops_.size());
  const long i = it == stops_.end() ? (dir > 0 ? -1 : n) : long(it - stops_.begin());
  const long next = i + (dir > 0 ? 1 : -1);
  if (next < 0 || next >= n) return false;
  request_ = stops_[size_t(next)].id;
  return true;
}

void TabOrder::enter(int dir) {
  canvas_focused_ = true;
  announced_.clear();  // say where focus is, even if it is where it was
  if (dir != 0 && !stops_.empty()) request_ = dir > 0 ? stops_.front().id : stops_.back().id;
}

void TabOrder::leave() {
  canvas_focused_ = false;
  request_ = 0;
  GImGui->NavDisableHighlight = true;  // no focus frame in a canvas that has no focus
}

bool TabOrder::wants_escape() const {
  const ImGuiContext& g = *GImGui;
  return !g.OpenPopupStack.empty() || g.ActiveId != 0;
}

}  // namespace gradcam_web
