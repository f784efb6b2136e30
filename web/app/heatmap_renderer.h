// Draws the heat map on the image with the shaders in shaders/: the raw map goes to the GPU as a
// small float texture and the fragment shader upsamples it (bilinear or bicubic), looks up the
// colormap and blends. The CPU never resizes the displayed heat map.
#pragma once
#include <GLES3/gl3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gradcam/colormap.h"
#include "gradcam/image.h"

namespace gradcam_web {

enum class Upsample { bilinear, bicubic };

// How the map is drawn: changing any of these redraws, never re-runs the network.
struct Look {
  gradcam::Colormap colormap = gradcam::Colormap::turbo;
  float alpha = 0.45f;
  Upsample upsample = Upsample::bicubic;
  bool operator==(const Look&) const = default;
};

// A texture that is rendered into.
struct RenderTarget {
  GLuint framebuffer = 0, texture = 0;
  int width = 0, height = 0;
};

class HeatmapRenderer {
 public:
  // Compiles the shaders and builds the colormap lookup texture; the message says what failed.
  bool init(const char* vertex_source, const char* fragment_source, std::string* error);

  // The source image (RGBA8). Images larger than the GPU's texture limit are box-filtered down
  // for display only; small images are shown with nearest filtering so their pixels stay sharp.
  void set_image(const gradcam::Image& image);
  // The map normalised to [0,1], row-major, and how the image maps to the model's input.
  void set_cam(const std::vector<float>& normalised, int height, int width);
  void clear_cam();
  void set_crop(const gradcam::CropGeometry& g, int image_width, int image_height, int input_width,
                int input_height);

  bool has_image() const { return image_texture_ != 0; }
  bool has_cam() const { return has_cam_; }
  GLuint image_texture() const { return image_texture_; }
  int image_width() const { return image_width_; }
  int image_height() const { return image_height_; }
  // The colormap lookup texture (256 x one row per colormap) and the v coordinate of a colormap's row, for legends.
  GLuint lut_texture() const { return lut_texture_; }
  static float lut_row(gradcam::Colormap map);

  // Renders the overlay into `target` at width x height (resized as needed) and returns its
  // texture. Row 0 of the texture is the image's top row.
  GLuint render(RenderTarget& target, int width, int height, const Look& look);
  // Renders at width x height and reads the pixels back (RGBA8, top row first).
  std::vector<uint8_t> read_pixels(int width, int height, const Look& look);

  int max_texture_size() const { return max_texture_size_; }

 private:
  void draw(const Look& look);

  GLuint program_ = 0, vao_ = 0;
  GLuint image_texture_ = 0, cam_texture_ = 0, lut_texture_ = 0;
  GLint u_flip_y_ = -1, u_image_ = -1, u_cam_ = -1, u_lut_ = -1, u_lut_row_ = -1, u_src_rect_ = -1,
        u_dst_rect_ = -1, u_alpha_ = -1, u_upsample_ = -1, u_has_cam_ = -1;
  int image_width_ = 0, image_height_ = 0;
  bool has_cam_ = false;
  float src_rect_[4] = {0, 0, 1, 1}, dst_rect_[4] = {0, 0, 1, 1};
  int max_texture_size_ = 4096;
};

void destroy(RenderTarget& target);

}  // namespace gradcam_web
