// The result: the top five classes (each a button that explains it), the facts of this
// explanation and the status line.
#include "app.h"

namespace app {

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
    if (ImGui::Selectable("##cls", explained, 0, ImVec2(width, row_h))) g.choice.options.target = c;
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
  if (g.choice.options.target >= 0) {
    if (g.touch ? ImGui::Button("back to the top class") : ImGui::SmallButton("back to the top class (A)")) g.choice.options.target = -1;
    g.tabs.stop("Back to the top class, button (A)");
  } else {
    ImGui::TextDisabled("explaining the top class");
  }
}

// What this explanation is: its time, the map's size and layer, the score.
void draw_facts() {
  const std::string layer = layer_name(g.engine->model(), g.result.layer);
  const Value& out = g.engine->graph().output_of(g.result.layer);
  const int channels = out.map.is_map() ? out.map.grid.c : out.shape.c;  // a token grid's channels
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

}  // namespace app
