#version 300 es
// The heat map on the image, per output pixel:
//   1. map the pixel through the crop geometry to the model's input (what the network saw);
//   2. upsample the raw class-activation map there: bilinear, or bicubic (Keys, a = -0.5), with
//      pixel centres at half-integers and clamped edges, as OpenCV's and TF's resize
//      (align_corners = false) and the engine's upsample_bilinear do;
//   3. look the value up in a colormap texture (low = "mattered less", high = "mattered more");
//   4. blend: (1 - alpha) * image + alpha * colour. Pixels the model never saw (the sides cut by a
//      centre crop) are shown at half brightness with no colour.
// The map is normalised to [0,1] on the CPU (a few hundred values at most); everything that grows
// with the image's size happens here.
precision highp float;
precision highp int;
precision highp sampler2D;

in vec2 v_uv;
out vec4 o_color;

uniform sampler2D u_image;  // RGBA8 source image
uniform sampler2D u_cam;    // R32F normalised map, read with texelFetch (float textures need not filter)
uniform sampler2D u_lut;    // 256 x rows RGBA8, one colormap per row
uniform float u_lut_row;    // v coordinate of the centre of the chosen colormap's row
uniform vec4 u_src_rect;    // part of the image the model saw: x0, y0, x1, y1 in [0,1]
uniform vec4 u_dst_rect;    // where that part lands in the model's input: x0, y0, x1, y1 in [0,1]
uniform float u_alpha;      // heat map opacity, 0 shows the image alone
uniform int u_upsample;     // 0 bilinear, 1 bicubic
uniform bool u_has_cam;     // false: draw the image alone

float cam_at(ivec2 p) {
  ivec2 last = textureSize(u_cam, 0) - 1;
  return texelFetch(u_cam, clamp(p, ivec2(0), last), 0).r;
}

// q: position in map texels (0 .. width, 0 .. height); texel centres at +0.5.
float cam_bilinear(vec2 q) {
  vec2 f = q - 0.5;
  vec2 i = floor(f);
  vec2 t = f - i;
  ivec2 p = ivec2(i);
  float a = cam_at(p), b = cam_at(p + ivec2(1, 0));
  float c = cam_at(p + ivec2(0, 1)), d = cam_at(p + ivec2(1, 1));
  return mix(mix(a, b, t.x), mix(c, d, t.x), t.y);
}

// Keys' cubic convolution kernel with a = -0.5 (Catmull-Rom), the weights of the four taps at
// offsets -1, 0, 1, 2 for a fraction t.
vec4 cubic_weights(float t) {
  float t2 = t * t, t3 = t2 * t;
  return vec4(-0.5 * t3 + t2 - 0.5 * t,
              1.5 * t3 - 2.5 * t2 + 1.0,
              -1.5 * t3 + 2.0 * t2 + 0.5 * t,
              0.5 * t3 - 0.5 * t2);
}

float cam_bicubic(vec2 q) {
  vec2 f = q - 0.5;
  vec2 i = floor(f);
  vec2 t = f - i;
  ivec2 p = ivec2(i);
  vec4 wx = cubic_weights(t.x), wy = cubic_weights(t.y);
  float sum = 0.0;
  for (int y = 0; y < 4; ++y) {
    vec4 row = vec4(cam_at(p + ivec2(-1, y - 1)), cam_at(p + ivec2(0, y - 1)),
                    cam_at(p + ivec2(1, y - 1)), cam_at(p + ivec2(2, y - 1)));
    sum += wy[y] * dot(wx, row);
  }
  return clamp(sum, 0.0, 1.0);  // the kernel's lobes overshoot near sharp edges
}

void main() {
  vec3 image = texture(u_image, v_uv).rgb;
  if (!u_has_cam) {
    o_color = vec4(image, 1.0);
    return;
  }
  vec2 t = (v_uv - u_src_rect.xy) / (u_src_rect.zw - u_src_rect.xy);
  if (any(lessThan(t, vec2(0.0))) || any(greaterThan(t, vec2(1.0)))) {
    o_color = vec4(image * 0.5, 1.0);
    return;
  }
  vec2 input_uv = mix(u_dst_rect.xy, u_dst_rect.zw, t);
  vec2 q = input_uv * vec2(textureSize(u_cam, 0));
  float heat = u_upsample == 1 ? cam_bicubic(q) : cam_bilinear(q);
  vec3 colour = texture(u_lut, vec2((heat * 255.0 + 0.5) / 256.0, u_lut_row)).rgb;
  o_color = vec4(mix(image, colour, u_alpha), 1.0);
}
