// The live camera: the page (web/page.js) owns the stream and the <video>, grabs each new frame's
// RGBA pixels and hands them here; this file makes each frame the image on screen and explains it
// with the current choices, counts the maps for the readout, and draws the camera's buttons. A
// frame takes the path a dropped photo takes after its decoder: Image -> Engine::prepare (the crop
// and resize to the model's input) -> Engine::explain; only the JPEG is skipped.
#include "app.h"

namespace app {

bool camera_live() { return g.camera.state == CameraState::live; }

int set_camera_state(CameraState state) {
  const CameraState before = g.camera.state;
  g.camera.state = state;
  if (state == CameraState::live && before != CameraState::live) {
    g.camera.recent_count = 0;  // the readout starts again
    g.camera.maps_per_second = 0;
    set_status("Live camera: every frame is explained. Pause to inspect one.", false);
  }
  // Paused or stopped on a camera frame: it stays and is explained in full, like a photo (the
  // status line, the result event and the page's text for screen readers).
  if ((state == CameraState::paused || state == CameraState::off) && before == CameraState::live &&
      g.image_name == kCameraFrameName) {
    g.result_serial = 0;
    ensure_explanation();
  }
  wake();
  return 1;
}

// Maps per second over the last second or so of frames (at least two of them).
static void count_map() {
  auto& c = g.camera;
  const double now = emscripten_get_now();
  constexpr int64_t n = int64_t(std::size(c.recent));
  c.recent[c.recent_count % n] = now;
  ++c.recent_count;
  ++c.maps;
  const int64_t last = c.recent_count - 1;
  int64_t first = std::max<int64_t>(0, c.recent_count - n);
  while (first < last - 1 && now - c.recent[first % n] > 1000.0) ++first;
  const double span = now - c.recent[first % n];
  c.maps_per_second = last > first && span > 0 ? float(double(last - first) * 1000.0 / span) : 0.0f;
}

int camera_frame(const uint8_t* rgba, int width, int height) {
  if (!g.engine) return fail("the model is not loaded yet");
  if (!camera_live()) return fail("the camera is not live: start it first");
  if (width <= 0 || height <= 0 || width > ImageLimits::kMaxSide || height > ImageLimits::kMaxSide)
    return fail("camera frame of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is not valid");
  const bool new_size = width != g.image.width || height != g.image.height;
  // The buffer is reused from frame to frame; zoom and pan stay, as the scene is the same.
  g.image.width = width;
  g.image.height = height;
  g.image.rgba.assign(rgba, rgba + size_t(width) * size_t(height) * 4);
  g.image_name = kCameraFrameName;
  ++g.image_serial;
  g.renderer.set_image(g.image);
  if (new_size) set_crop_geometry();
  ++g.gpu_version;
  if (!ensure_explanation()) return 0;
  count_map();
  wake();
  return 1;
}

// In the sidebar's Image section, under "Open image" (control_panel.cpp): offered wherever the
// browser has a camera API, not only with touch.
void draw_camera_controls() {
  auto& c = g.camera;
  if (c.state == CameraState::unavailable) return;
  if (c.state == CameraState::off) {
    if (ImGui::Button("Live camera", ImVec2(-1, 0))) page_request("camera-start");
    g.tabs.stop("Live camera: explain every frame, button");
    if (hovered()) ImGui::SetTooltip("Explain every frame of the camera, with the map drawn over the video");
    return;
  }
  if (c.state == CameraState::starting) {
    ImGui::TextDisabled("Starting the camera...");
    return;
  }
  const float w = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) * 0.5f;
  const bool live = c.state == CameraState::live;
  if (ImGui::Button(live ? "Pause" : "Resume", ImVec2(w, 0))) page_request(live ? "camera-pause" : "camera-resume");
  g.tabs.stop(live ? "Pause the live camera, button" : "Resume the live camera, button");
  ImGui::SameLine();
  if (ImGui::Button("Stop camera", ImVec2(-1, 0))) page_request("camera-stop");
  g.tabs.stop("Stop the camera, button");
  if (live)
    ImGui::Text("Live: %.1f maps/s", double(c.maps_per_second));
  else
    ImGui::TextDisabled("Paused: inspect this frame");
}

}  // namespace app
