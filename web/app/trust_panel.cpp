// "Can I trust this?": a window beside the explorer that measures the explanation on screen.
//  - Deletion and insertion curves (RISE) for the current image, method, layer and class, with
//    their areas, recomputed when any of them changes.
//  - The sanity check (Adebayo et al. 2018): the layers' weights re-initialised from the top, the
//    map of each step side by side with its Spearman correlation to the original.
//  - Live occlusion: a grey patch dragged over the model's input; the class probabilities and the
//    map of the occluded input follow it, with the drop in the class's probability beside the share
//    of the map under the patch (what the map predicted the patch was worth).
// The numbers come from the engine's metrics.h; this file only decides when to run them and draws.
#include <emscripten/emscripten.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app.h"
#include "gradcam/contract.h"
#include "gradcam/metrics.h"

namespace app {

namespace {

// What the window shows, and for which explanation (its image serial and choice).
struct Trust {
  uint64_t serial = 0;
  ExplainRequest choice;
  bool have_curves = false;
  Curve deletion, insertion;
  double curves_ms = 0;

  bool have_sanity = false;
  uint64_t sanity_serial = 0;
  ExplainRequest sanity_choice;
  SanityCheck sanity;
  double sanity_ms = 0;

  int patch_x = 12, patch_y = 12;  // the occluding patch's top-left corner, in input pixels
  bool have_occlusion = false;
  uint64_t occlusion_serial = 0;
  ExplainRequest occlusion_choice;
  int occluded_x = -1, occluded_y = -1;
  Explanation occluded;
  std::vector<float> occluded_input;
  double drop = 0, map_share = 0, occlusion_ms = 0;
  std::string error;
};
Trust t;

int patch_side() { return std::max(1, arch().width / 4); }

bool current(uint64_t serial, const ExplainRequest& choice) {
  return serial == g.result_serial && same_map(choice, g.result_choice);
}

void update_curves() {
  if (!g.have_result || (t.have_curves && current(t.serial, t.choice))) return;
  const double t0 = emscripten_get_now();
  Network& net = g.engine->network();
  t.deletion = deletion_curve(net, g.input.data(), g.result.cam, g.result.target);
  t.insertion = insertion_curve(net, g.input.data(), g.result.cam, g.result.target);
  t.curves_ms = emscripten_get_now() - t0;
  t.serial = g.result_serial;
  t.choice = g.result_choice;
  t.have_curves = true;
  wake();
}

void update_occlusion() {
  if (!g.have_result) return;
  const int side = patch_side(), ih = arch().height, iw = arch().width, c = arch().channels;
  t.patch_x = std::clamp(t.patch_x, 0, iw - side);
  t.patch_y = std::clamp(t.patch_y, 0, ih - side);
  if (t.have_occlusion && current(t.occlusion_serial, t.occlusion_choice) && t.occluded_x == t.patch_x &&
      t.occluded_y == t.patch_y)
    return;
  const double t0 = emscripten_get_now();
  // Mid grey as the model takes it (scaled, normalised), the usual occluder (Zeiler & Fergus 2014).
  t.occluded_input = g.input;
  for (int y = t.patch_y; y < t.patch_y + side; ++y)
    for (int x = t.patch_x; x < t.patch_x + side; ++x)
      for (int k = 0; k < c; ++k) t.occluded_input[(size_t(y) * iw + x) * c + k] = pixel_to_input(arch(), k, 127.5f);
  ExplainOptions o = g.result_choice.options;
  o.target = g.result.target;  // the class on screen, even if the occluded image prefers another
  auto e = g.engine->explain(t.occluded_input, o);
  if (!e) {
    t.error = e.error();
    return;
  }
  t.occluded = std::move(e.value());
  (void)g.engine->predict(g.input);  // the network holds the image on screen again (it ran before)
  const size_t target = size_t(g.result.target);
  t.drop = double(g.result.probabilities[target]) - double(t.occluded.probabilities[target]);
  // The map's prediction: its share (normalised, at the input's resolution) under the patch.
  const std::vector<float> up = heatmap(g.result.cam.values.data(), g.result.cam.height, g.result.cam.width, iw, ih);
  double inside = 0, total = 0;
  for (int y = 0; y < ih; ++y)
    for (int x = 0; x < iw; ++x) {
      const double v = up[size_t(y) * iw + x];
      total += v;
      if (y >= t.patch_y && y < t.patch_y + side && x >= t.patch_x && x < t.patch_x + side) inside += v;
    }
  t.map_share = total > 0 ? inside / total : 0;
  t.occlusion_ms = emscripten_get_now() - t0;
  t.occluded_x = t.patch_x;
  t.occluded_y = t.patch_y;
  t.occlusion_serial = g.result_serial;
  t.occlusion_choice = g.result_choice;
  t.have_occlusion = true;
  wake();
}

// A map drawn as coloured cells (small maps: a 4x4 layer map stays 16 honest squares).
void draw_map_cells(const Map& m, float side) {
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const std::vector<float> n = normalize_map(m.values.data(), int(m.values.size()));
  const float cw = side / float(std::max(1, m.width)), ch = side / float(std::max(1, m.height));
  for (int y = 0; y < m.height; ++y)
    for (int x = 0; x < m.width; ++x) {
      const auto rgb = colormap_rgb(g.choice.colormap, n[size_t(y) * m.width + x]);
      dl->AddRectFilled(ImVec2(p.x + x * cw, p.y + y * ch), ImVec2(p.x + (x + 1) * cw, p.y + (y + 1) * ch),
                        IM_COL32(rgb[0], rgb[1], rgb[2], 255));
    }
  ImGui::Dummy(ImVec2(side, side));
}

// The model's input (HWC floats in its scale) as cells; returns the top-left corner on screen.
ImVec2 draw_input_cells(const std::vector<float>& input, float side) {
  const ImVec2 p = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const int ih = arch().height, iw = arch().width, c = arch().channels;
  const float cw = side / float(iw), ch = side / float(ih);
  for (int y = 0; y < ih; ++y)
    for (int x = 0; x < iw; ++x) {
      const float* v = &input[(size_t(y) * iw + x) * c];
      auto byte = [&](int k) {
        const int j = std::min(k, c - 1);
        return int(std::clamp(input_to_pixel(arch(), j, v[j]), 0.0f, 255.0f));
      };
      dl->AddRectFilled(ImVec2(p.x + x * cw, p.y + y * ch), ImVec2(p.x + (x + 1) * cw, p.y + (y + 1) * ch),
                        IM_COL32(byte(0), byte(1), byte(2), 255));
    }
  return p;
}

void draw_curve(const char* title, const Curve& c, const char* better) {
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "area %.3f (%s)", c.auc, better);
  ImGui::TextUnformatted(title);
  ImGui::PlotLines((std::string("##") + title).c_str(), c.probability.data(), int(c.probability.size()), 0, overlay, 0.0f,
                   1.0f, ImVec2(ImGui::GetContentRegionAvail().x, 4.5f * em()));
  g.tabs.stop(std::string(title) + " curve, " + overlay);
}

void draw_occlusion() {
  ImGui::TextDisabled("Occlusion: drag the grey patch over the input");
  const float side = 12.0f * em();
  const int iw = arch().width, ih = arch().height, patch = patch_side();
  const ImVec2 origin = draw_input_cells(t.have_occlusion ? t.occluded_input : g.input, side);
  ImGui::SetCursorScreenPos(origin);
  ImGui::InvisibleButton("##occlusion-input", ImVec2(side, side));
  if (ImGui::IsItemActive()) {  // dragging: the patch's centre follows the pointer
    const ImVec2 m = ImGui::GetIO().MousePos;
    t.patch_x = int(std::floor((m.x - origin.x) / side * float(iw))) - patch / 2;
    t.patch_y = int(std::floor((m.y - origin.y) / side * float(ih))) - patch / 2;
  }
  const float cell = side / float(iw);
  ImGui::GetWindowDrawList()->AddRect(ImVec2(origin.x + t.patch_x * cell, origin.y + t.patch_y * cell),
                                      ImVec2(origin.x + (t.patch_x + patch) * cell, origin.y + (t.patch_y + patch) * cell),
                                      IM_COL32(255, 255, 255, 255), 0.0f, 0, 2.0f);
  ImGui::SameLine();
  ImGui::BeginGroup();
  if (t.have_occlusion) {
    draw_map_cells(t.occluded.cam, 6.0f * em());
    ImGui::TextDisabled("map of the occluded input");
  }
  ImGui::EndGroup();
  // Without a pointer: the patch's position as two sliders (arrows change them once active).
  ImGui::SetNextItemWidth(12.0f * em());
  ImGui::SliderInt("patch x", &t.patch_x, 0, iw - patch);
  g.tabs.stop("Occlusion patch x: " + std::to_string(t.patch_x) + ", slider");
  ImGui::SetNextItemWidth(12.0f * em());
  ImGui::SliderInt("patch y", &t.patch_y, 0, ih - patch);
  g.tabs.stop("Occlusion patch y: " + std::to_string(t.patch_y) + ", slider");
  if (!t.have_occlusion) return;
  const int target = g.result.target;
  ImGui::Text("%s: %s -> %s (drop %+.1f points)", class_name(target).c_str(), percent(g.result.probabilities[size_t(target)]).c_str(),
              percent(t.occluded.probabilities[size_t(target)]).c_str(), 100.0 * t.drop);
  ImGui::Text("the map put %.1f%% of its weight under the patch", 100.0 * t.map_share);
  for (const ClassScore& s : top_k(t.occluded.probabilities, 5))
    ImGui::TextDisabled("  %-11s %s", class_name(s.index).c_str(), percent(s.probability).c_str());
  ImGui::TextDisabled("engine: %s per move", ms(t.occlusion_ms).c_str());
}

void draw_sanity() {
  if (ImGui::Button("Run the sanity check")) run_sanity_check();
  g.tabs.stop("Run the sanity check, button");
  ImGui::SameLine();
  ImGui::TextDisabled("re-initialise the weights from the top layer down");
  if (!t.have_sanity) return;
  if (!(current(t.sanity_serial, t.sanity_choice))) {
    ImGui::TextDisabled("(for an earlier explanation: run it again)");
    return;
  }
  const float side = 4.0f * em();
  ImGui::BeginGroup();
  draw_map_cells(t.sanity.original, side);
  ImGui::TextDisabled("original");
  ImGui::EndGroup();
  for (const SanityStep& s : t.sanity.steps) {
    ImGui::SameLine();
    if (ImGui::GetContentRegionAvail().x < side) ImGui::NewLine();
    ImGui::BeginGroup();
    draw_map_cells(s.map, side);
    ImGui::TextDisabled("%s", s.layer.c_str());
    ImGui::TextDisabled("r %.2f", s.spearman);
    ImGui::EndGroup();
  }
  ImGui::TextDisabled("r: Spearman rank correlation with the original (1: unchanged). A map that stays alike while the "
                      "weights are random shows the image, not the model. %s.", ms(t.sanity_ms).c_str());
}

}  // namespace

void run_sanity_check() {
  if (!g.have_result) return;
  const double t0 = emscripten_get_now();
  ExplainOptions o = g.result_choice.options;
  o.target = g.result.target;
  auto r = sanity_check(g.engine->model(), g.input.data(), o);
  if (!r) {
    fail(r.error());
    return;
  }
  t.sanity = std::move(r.value());
  t.sanity_ms = emscripten_get_now() - t0;
  t.sanity_serial = g.result_serial;
  t.sanity_choice = g.result_choice;
  t.have_sanity = true;
  wake();
}

void set_occlusion_patch(int x, int y) {
  t.patch_x = x;
  t.patch_y = y;
  update_occlusion();
}

void draw_trust_window() {
  if (!g.show_trust) return;
  ImGuiWindowFlags flags = 0;
  if (g.narrow) {
    // A phone: the whole width, opened where the page is scrolled to, as tall as its content; the
    // page scrolls over it (main.cpp makes the canvas tall enough), since a finger cannot scroll it.
    const float w = ImGui::GetIO().DisplaySize.x;
    ImGui::SetNextWindowPos(ImVec2(0, g.page_scroll_y), ImGuiCond_Appearing);
    ImGui::SetNextWindowSizeConstraints(ImVec2(w, 0), ImVec2(w, 1e9f));
    flags = ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoCollapse;
  } else {
    ImGui::SetNextWindowSize(ImVec2(30.0f * em(), ImGui::GetIO().DisplaySize.y - 2.0f * em()), ImGuiCond_FirstUseEver);
    ImGui::SetNextWindowPos(ImVec2(ImGui::GetIO().DisplaySize.x - 31.0f * em(), 1.0f * em()), ImGuiCond_FirstUseEver);
  }
  if (!ImGui::Begin(kTrustWindowTitle, &g.show_trust, flags)) {
    ImGui::End();
    return;
  }
  if (!g.have_result) {
    ImGui::TextDisabled("Explain an image first.");
    ImGui::End();
    return;
  }
  update_curves();
  update_occlusion();
  ImGui::TextWrapped("%s for %s: pixels removed (deletion) or revealed (insertion) in the map's order.",
                     method_label(g.result.method), class_name(g.result.target).c_str());
  draw_curve("Deletion", t.deletion, "lower is better");
  draw_curve("Insertion", t.insertion, "higher is better");
  ImGui::TextDisabled("both curves: %s", ms(t.curves_ms).c_str());
  ImGui::Separator();
  draw_occlusion();
  ImGui::Separator();
  draw_sanity();
  ImGui::End();
}

std::string trust_state_json() {
  using json = nlohmann::json;
  json j = {{"open", g.show_trust}};
  if (t.have_curves && current(t.serial, t.choice)) {
    j["deletion"] = json::parse(curve_json(t.deletion));  // the engine's serialiser, as the JS API's
    j["insertion"] = json::parse(curve_json(t.insertion));
    j["curves_ms"] = t.curves_ms;
  }
  if (t.have_occlusion && current(t.occlusion_serial, t.occlusion_choice)) {
    json top = json::array();
    for (const ClassScore& s : top_k(t.occluded.probabilities, 5))
      top.push_back({{"index", s.index}, {"name", class_name(s.index)}, {"probability", s.probability}});
    j["occlusion"] = {{"x", t.occluded_x}, {"y", t.occluded_y}, {"size", patch_side()}, {"top", top},
                      {"drop", t.drop}, {"map_share", t.map_share}, {"ms", t.occlusion_ms}};
  }
  if (t.have_sanity && current(t.sanity_serial, t.sanity_choice)) {
    j["sanity"] = json::parse(sanity_check_json(t.sanity, /*maps=*/false));
    j["sanity"]["ms"] = t.sanity_ms;
  }
  return j.dump();
}

}  // namespace app
