// Heat-map rendering: colormaps (in RGB order) and overlays of maps normalised by map.h.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/image.h"
#include "gradcam/map.h"
#include "gradcam/name_table.h"
#include "gradcam/status.h"

namespace gradcam {

// Adding a colormap: a value here and a row of the table in engine/src/render/colormap.cpp (its
// name and its colours); the CLI's usage, `info` and through it the page, the widget and both
// renderers' lookup textures read that table.
enum class Colormap { turbo, jet, viridis, inferno, count };  // turbo, the default, first
Result<Colormap> parse_colormap(const std::string& name);
const char* colormap_name(Colormap map);
// Every colormap's name, in the enum's order (the rows of the renderers' lookup textures).
const NameTable<Colormap>& colormap_names();

// t in [0,1] (clamped) -> RGB. Low values are "mattered less"; high values "mattered more"
// (red for jet and turbo, yellow for viridis and inferno).
std::array<uint8_t, 3> colormap_rgb(Colormap map, float t);

// Colours a normalised map: RGBA8, alpha 255.
Image colorize(const std::vector<float>& normalized, int width, int height, Colormap map);

// out = (1 - alpha) * image + alpha * colormap(heat), where heat is a normalised map with the
// image's size. alpha in [0,1].
Image overlay(const Image& image, const std::vector<float>& heat, Colormap map, float alpha);

// Overlay on the whole source image, at its own resolution: the raw map (which covers the model's
// input_height x input_width input) is normalised and mapped back through the crop geometry with
// bilinear sampling, so the colours sit on the pixels the network saw. Source pixels the model never
// saw (the sides cut by a centre crop) are kept but dimmed to half brightness. With an empty raw
// map or input size the source comes back unchanged.
Image overlay_on_source(const Image& source, const float* raw, int raw_height, int raw_width,
                        int input_height, int input_width, CropMode mode, Colormap map,
                        float alpha);

}  // namespace gradcam
