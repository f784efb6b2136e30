#include "heatmap_renderer.h"

#include <algorithm>
#include <array>

namespace gradcam_web {
namespace {

// One lookup row per colormap, in the engine's table order (the widget's renderer does the same
// from info.names.colormaps).
constexpr size_t kLutRows = size_t(gradcam::Colormap::count);
constexpr int kLutWidth = 256;
constexpr int kSmallImage = 256;  // at most this many pixels a side: show the pixels, not a blur

GLuint compile(GLenum type, const char* source, std::string* error) {
  GLuint s = glCreateShader(type);
  glShaderSource(s, 1, &source, nullptr);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048] = {};
    glGetShaderInfoLog(s, sizeof log, nullptr, log);
    *error = std::string(type == GL_VERTEX_SHADER ? "vertex" : "fragment") + " shader: " + log;
    glDeleteShader(s);
    return 0;
  }
  return s;
}

void set_sampling(GLenum min_filter, GLenum mag_filter) {
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, min_filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, mag_filter);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
}

// Box filter by an integer factor, for display of images beyond the GPU's texture size.
gradcam::Image shrink(const gradcam::Image& src, int factor) {
  gradcam::Image out;
  out.width = std::max(1, src.width / factor);
  out.height = std::max(1, src.height / factor);
  out.rgba.resize(size_t(out.width) * out.height * 4);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      std::array<uint32_t, 4> sum{};
      for (int dy = 0; dy < factor; ++dy)
        for (int dx = 0; dx < factor; ++dx) {
          const uint8_t* p = &src.rgba[(size_t(y * factor + dy) * src.width + size_t(x * factor + dx)) * 4];
          for (int c = 0; c < 4; ++c) sum[c] += p[c];
        }
      uint8_t* q = &out.rgba[(size_t(y) * out.width + x) * 4];
      for (int c = 0; c < 4; ++c) q[c] = uint8_t(sum[c] / uint32_t(factor * factor));
    }
  return out;
}

}  // namespace

bool HeatmapRenderer::init(const char* vertex_source, const char* fragment_source, std::string* error) {
  GLuint vs = compile(GL_VERTEX_SHADER, vertex_source, error);
  if (!vs) return false;
  GLuint fs = compile(GL_FRAGMENT_SHADER, fragment_source, error);
  if (!fs) return false;
  program_ = glCreateProgram();
  glAttachShader(program_, vs);
  glAttachShader(program_, fs);
  glLinkProgram(program_);
  glDeleteShader(vs);
  glDeleteShader(fs);
  GLint ok = 0;
  glGetProgramiv(program_, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048] = {};
    glGetProgramInfoLog(program_, sizeof log, nullptr, log);
    *error = std::string("shader link: ") + log;
    return false;
  }
  u_flip_y_ = glGetUniformLocation(program_, "u_flip_y");
  u_image_ = glGetUniformLocation(program_, "u_image");
  u_cam_ = glGetUniformLocation(program_, "u_cam");
  u_lut_ = glGetUniformLocation(program_, "u_lut");
  u_lut_row_ = glGetUniformLocation(program_, "u_lut_row");
  u_src_rect_ = glGetUniformLocation(program_, "u_src_rect");
  u_dst_rect_ = glGetUniformLocation(program_, "u_dst_rect");
  u_alpha_ = glGetUniformLocation(program_, "u_alpha");
  u_upsample_ = glGetUniformLocation(program_, "u_upsample");
  u_has_cam_ = glGetUniformLocation(program_, "u_has_cam");
  glGenVertexArrays(1, &vao_);
  glGetIntegerv(GL_MAX_TEXTURE_SIZE, &max_texture_size_);

  // Colormap lookup table: one row per colormap, from the engine's colormap_rgb.
  std::vector<uint8_t> lut(size_t(kLutWidth) * kLutRows * 4);
  for (size_t row = 0; row < kLutRows; ++row)
    for (int i = 0; i < kLutWidth; ++i) {
      auto rgb = gradcam::colormap_rgb(gradcam::Colormap(row), float(i) / float(kLutWidth - 1));
      uint8_t* p = &lut[(row * kLutWidth + size_t(i)) * 4];
      p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2], p[3] = 255;
    }
  glGenTextures(1, &lut_texture_);
  glBindTexture(GL_TEXTURE_2D, lut_texture_);
  set_sampling(GL_LINEAR, GL_LINEAR);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, kLutWidth, GLsizei(kLutRows), 0, GL_RGBA,
               GL_UNSIGNED_BYTE, lut.data());
  glGenTextures(1, &cam_texture_);
  return true;
}

float HeatmapRenderer::lut_row(gradcam::Colormap map) {
  const size_t row = size_t(map) < kLutRows ? size_t(map) : 0;
  return (float(row) + 0.5f) / float(kLutRows);
}

void HeatmapRenderer::set_image(const gradcam::Image& image) {
  const gradcam::Image* shown = &image;
  gradcam::Image reduced;
  int factor = 1;
  while (image.width / factor > max_texture_size_ || image.height / factor > max_texture_size_) ++factor;
  if (factor > 1) {
    reduced = shrink(image, factor);
    shown = &reduced;
  }
  if (!image_texture_) glGenTextures(1, &image_texture_);
  glBindTexture(GL_TEXTURE_2D, image_texture_);
  const bool small = image.width <= kSmallImage && image.height <= kSmallImage;
  set_sampling(small ? GL_NEAREST : GL_LINEAR_MIPMAP_LINEAR, small ? GL_NEAREST : GL_LINEAR);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, shown->width, shown->height, 0, GL_RGBA, GL_UNSIGNED_BYTE,
               shown->rgba.data());
  if (!small) glGenerateMipmap(GL_TEXTURE_2D);
  image_width_ = image.width;
  image_height_ = image.height;
}

void HeatmapRenderer::set_cam(const std::vector<float>& normalised, int height, int width) {
  glBindTexture(GL_TEXTURE_2D, cam_texture_);
  set_sampling(GL_NEAREST, GL_NEAREST);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 4);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_R32F, width, height, 0, GL_RED, GL_FLOAT, normalised.data());
  has_cam_ = true;
}

void HeatmapRenderer::clear_cam() { has_cam_ = false; }

void HeatmapRenderer::set_crop(const gradcam::CropGeometry& g, int image_width, int image_height,
                               int input_width, int input_height) {
  src_rect_[0] = float(g.src_x0 / image_width);
  src_rect_[1] = float(g.src_y0 / image_height);
  src_rect_[2] = float(g.src_x1 / image_width);
  src_rect_[3] = float(g.src_y1 / image_height);
  dst_rect_[0] = float(g.dst_x0) / float(input_width);
  dst_rect_[1] = float(g.dst_y0) / float(input_height);
  dst_rect_[2] = float(g.dst_x1) / float(input_width);
  dst_rect_[3] = float(g.dst_y1) / float(input_height);
}

void HeatmapRenderer::draw(const Look& look) {
  glDisable(GL_BLEND);
  glDisable(GL_SCISSOR_TEST);
  glDisable(GL_DEPTH_TEST);
  glDisable(GL_CULL_FACE);
  glUseProgram(program_);
  glActiveTexture(GL_TEXTURE0);
  glBindTexture(GL_TEXTURE_2D, image_texture_);
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, cam_texture_);
  glActiveTexture(GL_TEXTURE2);
  glBindTexture(GL_TEXTURE_2D, lut_texture_);
  glActiveTexture(GL_TEXTURE0);
  glUniform1i(u_image_, 0);
  glUniform1i(u_cam_, 1);
  glUniform1i(u_lut_, 2);
  glUniform1i(u_flip_y_, 0);
  glUniform1f(u_lut_row_, lut_row(look.colormap));
  glUniform4fv(u_src_rect_, 1, src_rect_);
  glUniform4fv(u_dst_rect_, 1, dst_rect_);
  glUniform1f(u_alpha_, std::clamp(look.alpha, 0.0f, 1.0f));
  glUniform1i(u_upsample_, look.upsample == Upsample::bicubic ? 1 : 0);
  glUniform1i(u_has_cam_, has_cam_ ? 1 : 0);
  glBindVertexArray(vao_);
  glDrawArrays(GL_TRIANGLES, 0, 3);
  glBindVertexArray(0);
  glUseProgram(0);
}

GLuint HeatmapRenderer::render(RenderTarget& target, int width, int height, const Look& look) {
  width = std::clamp(width, 1, max_texture_size_);
  height = std::clamp(height, 1, max_texture_size_);
  if (!target.framebuffer) {
    glGenFramebuffers(1, &target.framebuffer);
    glGenTextures(1, &target.texture);
  }
  if (target.width != width || target.height != height) {
    glBindTexture(GL_TEXTURE_2D, target.texture);
    set_sampling(GL_LINEAR, GL_LINEAR);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    glBindFramebuffer(GL_FRAMEBUFFER, target.framebuffer);
    glFramebufferTexture2D(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, target.texture, 0);
    target.width = width;
    target.height = height;
  }
  glBindFramebuffer(GL_FRAMEBUFFER, target.framebuffer);
  glViewport(0, 0, width, height);
  if (image_texture_) {
    draw(look);
  } else {
    glClearColor(0, 0, 0, 1);
    glClear(GL_COLOR_BUFFER_BIT);
  }
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
  return target.texture;
}

std::vector<uint8_t> HeatmapRenderer::read_pixels(int width, int height, const Look& look) {
  RenderTarget target;
  render(target, width, height, look);
  std::vector<uint8_t> pixels(size_t(target.width) * target.height * 4);
  glBindFramebuffer(GL_FRAMEBUFFER, target.framebuffer);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadPixels(0, 0, target.width, target.height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
  destroy(target);
  return pixels;
}

void destroy(RenderTarget& target) {
  if (target.framebuffer) glDeleteFramebuffers(1, &target.framebuffer);
  if (target.texture) glDeleteTextures(1, &target.texture);
  target = {};
}

}  // namespace gradcam_web
