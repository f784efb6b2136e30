#version 300 es
// One triangle that covers the viewport; no vertex buffers. v_uv is the position in the source
// image, [0,1]^2 with v = 0 at the image's top row. Drawn into a framebuffer object, row 0 of the
// result is the image's top row, which is how Dear ImGui and glReadPixels read a texture; drawn
// straight to a canvas (the widget), u_flip_y puts the top row at the top of the screen.
uniform bool u_flip_y;
out vec2 v_uv;

void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));  // (0,0) (2,0) (0,2)
  v_uv = u_flip_y ? vec2(p.x, 1.0 - p.y) : p;
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}
