// The GPU side of <gradcam-view>: one WebGL2 context for every widget on the page.
//
// Browsers cap the live WebGL contexts of a page (Chromium: 16) and silently drop the oldest when a
// page makes more, so a context per widget breaks pages with many widgets. Here one hidden canvas
// runs the app's shaders (the site target, web/site.cmake, inlines shaders/ below) for each widget in turn, and the
// widget copies the pixels into its own 2-D canvas, which no context limit or loss can blank.
//
// A lost context is given back by the browser when it can ('webglcontextrestored'): the program and
// colormap texture are rebuilt, and every widget uploads its image and map again on its next draw
// (the generation number says which uploads are stale). Until then draw() returns false and the
// widget draws on the CPU. Listeners (onChange) hear of both, so the widgets redraw at once.

const SHADERS = /*@SHADERS@*/ null;  // {vertex, fragment} from shaders/, inlined at site build
const SMALL_IMAGE = 256;  // up to this size an image is drawn with nearest filtering (sharp pixels)

// Box filter by a whole factor, the explorer's way (web/app/heatmap_renderer.cpp), for images wider
// or taller than the GPU's texture limit: a texture that size would fail and sample as black.
export function shrinkImage(img, factor) {
  const width = Math.max(1, Math.floor(img.width / factor));
  const height = Math.max(1, Math.floor(img.height / factor));
  const out = new Uint8ClampedArray(width * height * 4);
  const n = factor * factor;
  const sum = new Uint32Array(4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      sum.fill(0);
      for (let dy = 0; dy < factor; dy++) {
        let p = ((y * factor + dy) * img.width + x * factor) * 4;
        for (let dx = 0; dx < factor; dx++, p += 4) {
          sum[0] += img.data[p]; sum[1] += img.data[p + 1]; sum[2] += img.data[p + 2]; sum[3] += img.data[p + 3];
        }
      }
      const q = (y * width + x) * 4;
      for (let c = 0; c < 4; c++) out[q + c] = Math.round(sum[c] / n);
    }
  }
  return { data: out, width, height };
}

class SharedRenderer {
  constructor(engine) {
    this.canvas = document.createElement('canvas');
    this.canvas.width = this.canvas.height = 1;
    this.generation = 0;  // bumps at every (re)initialisation; uploads from older ones are gone
    this.lost = false;
    this.listeners = new Set();
    // One lookup row per colormap, in the engine's table order (info.names.colormaps), as the app's.
    this.colormaps = engine.info.names.colormaps;
    this.lut = new Uint8Array(256 * this.colormaps.length * 4);
    this.colormaps.forEach((name, row) => {
      for (let i = 0; i < 256; i++) {
        const [r, g, b] = engine.colormap(name, i / 255);
        this.lut.set([r, g, b, 255], (row * 256 + i) * 4);
      }
    });
    this.gl = this.canvas.getContext('webgl2', { preserveDrawingBuffer: true, antialias: false, alpha: false });
    if (!this.gl) throw new Error('this browser has no WebGL2');
    this.canvas.addEventListener('webglcontextlost', (e) => {
      e.preventDefault();  // tells the browser we want it back
      this.lost = true;
      this.changed('lost');
    });
    this.canvas.addEventListener('webglcontextrestored', () => {
      try {
        this.init();
        this.lost = false;
      } catch (e) {
        console.warn(`gradcam-view: WebGL2 did not come back (${e.message}); drawing on the CPU`);
      }
      this.changed('restored');
    });
    this.init();
  }

  changed(what) {
    for (const fn of this.listeners) fn(what);
  }

  // Program, vertex array and colormap texture: everything that is not per widget.
  init() {
    const gl = this.gl;
    const compile = (type, source) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s) || 'shader did not compile');
      return s;
    };
    const p = gl.createProgram();
    gl.attachShader(p, compile(gl.VERTEX_SHADER, SHADERS.vertex));
    gl.attachShader(p, compile(gl.FRAGMENT_SHADER, SHADERS.fragment));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p) || 'program did not link');
    this.program = p;
    this.u = {};
    for (const name of ['u_flip_y', 'u_image', 'u_cam', 'u_lut', 'u_lut_row', 'u_src_rect', 'u_dst_rect',
      'u_alpha', 'u_upsample', 'u_has_cam']) this.u[name] = gl.getUniformLocation(p, name);
    this.vao = gl.createVertexArray();
    this.maxTexture = gl.getParameter(gl.MAX_TEXTURE_SIZE);
    this.lutTexture = gl.createTexture();
    this.sampling(this.lutTexture, gl.LINEAR, gl.LINEAR);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, this.colormaps.length, 0, gl.RGBA, gl.UNSIGNED_BYTE, this.lut);
    this.generation++;
  }

  sampling(t, min, mag) {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, min);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, mag);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  }

  // A widget's textures. A slot from an older generation is gone with its context: take a new one.
  slot() {
    const gl = this.gl;
    return { generation: this.generation, image: gl.createTexture(), cam: gl.createTexture(), imageOf: null, camOf: null };
  }

  // img: {data: RGBA bytes, width, height}; shrunk first if the GPU cannot hold it.
  setImage(slot, img) {
    const gl = this.gl;
    let shown = img;
    let factor = 1;
    while (img.width / factor > this.maxTexture || img.height / factor > this.maxTexture) factor++;
    if (factor > 1) shown = shrinkImage(img, factor);
    const small = img.width <= SMALL_IMAGE && img.height <= SMALL_IMAGE;
    this.sampling(slot.image, small ? gl.NEAREST : gl.LINEAR_MIPMAP_LINEAR, small ? gl.NEAREST : gl.LINEAR);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, shown.width, shown.height, 0, gl.RGBA, gl.UNSIGNED_BYTE,
      new Uint8Array(shown.data.buffer, shown.data.byteOffset, shown.data.byteLength));
    if (!small) gl.generateMipmap(gl.TEXTURE_2D);
    slot.imageOf = img;
  }

  // cam: {values: Float32Array normalised to [0,1], width, height}.
  setCam(slot, cam) {
    const gl = this.gl;
    this.sampling(slot.cam, gl.NEAREST, gl.NEAREST);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, cam.width, cam.height, 0, gl.RED, gl.FLOAT, cam.values);
    slot.camOf = cam;
  }

  release(slot) {
    if (!slot || slot.generation !== this.generation || this.lost) return;
    this.gl.deleteTexture(slot.image);
    this.gl.deleteTexture(slot.cam);
  }

  // Draws panels ([{x, y, width, height, heat}], canvas pixels, y from the top) at width x height
  // and copies them into the 2-D context `target`. False when the context is lost or the slot stale.
  draw(target, slot, width, height, panels, look, rects) {
    const gl = this.gl;
    if (this.lost || gl.isContextLost() || !slot || slot.generation !== this.generation) return false;
    // The shared canvas only grows: reallocating it for each widget's size would cost more than
    // drawing into its top-left corner.
    if (this.canvas.width < width || this.canvas.height < height) {
      this.canvas.width = Math.max(this.canvas.width, width);
      this.canvas.height = Math.max(this.canvas.height, height);
    }
    const top = this.canvas.height - height;  // GL counts rows from the bottom
    gl.viewport(0, top, width, height);
    gl.enable(gl.SCISSOR_TEST);
    gl.scissor(0, top, width, height);
    gl.clearColor(0.051, 0.059, 0.075, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.disable(gl.SCISSOR_TEST);
    gl.useProgram(this.program);
    [slot.image, slot.cam, this.lutTexture].forEach((t, i) => {
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, t);
    });
    gl.uniform1i(this.u.u_image, 0);
    gl.uniform1i(this.u.u_cam, 1);
    gl.uniform1i(this.u.u_lut, 2);
    gl.uniform1i(this.u.u_flip_y, 1);
    gl.uniform1f(this.u.u_lut_row, (this.colormaps.indexOf(look.colormap) + 0.5) / this.colormaps.length);
    gl.uniform4fv(this.u.u_src_rect, rects.src);
    gl.uniform4fv(this.u.u_dst_rect, rects.dst);
    gl.uniform1f(this.u.u_alpha, look.alpha);
    gl.uniform1i(this.u.u_upsample, look.upsample === 'bilinear' ? 0 : 1);
    gl.bindVertexArray(this.vao);
    for (const p of panels) {
      gl.viewport(p.x, this.canvas.height - p.y - p.height, p.width, p.height);
      gl.uniform1i(this.u.u_has_cam, p.heat ? 1 : 0);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
    }
    gl.bindVertexArray(null);
    target.drawImage(this.canvas, 0, 0, width, height, 0, 0, width, height);
    return true;
  }
}

let shared;  // undefined: not tried yet; null: no WebGL2 here (every widget draws on the CPU)
export function sharedRenderer(engine) {
  if (shared === undefined) {
    try {
      shared = SHADERS ? new SharedRenderer(engine) : null;
    } catch (e) {
      console.warn(`gradcam-view: WebGL2 renderer unavailable (${e.message}); drawing on the CPU`);
      shared = null;
    }
  }
  return shared;
}
