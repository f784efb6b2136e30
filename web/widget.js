// <gradcam-view>: a Grad-CAM heat map for documentation pages. One script tag, one element:
//
//   <script type="module" src="widget.js"></script>
//   <gradcam-view src="samples/cat.jpg" layer="conv2d_6" method="gradcam" target="auto"
//                 colormap="turbo" alpha="0.45"></gradcam-view>
//
// Attributes (all optional but src): model (URL of the model file; default models/cifar10.safetensors
// next to this script), layer ('auto' = the last conv layer), method, target ('auto', a class index
// or name), score ('logit' | 'probability'), crop ('center' | 'squash' | 'letterbox'), colormap
// ('turbo' | 'jet' | 'viridis' | 'inferno'), alpha (0..1), upsample ('bicubic' | 'bilinear'),
// view ('overlay' | 'side-by-side'). Changing an attribute updates the view; colormap, alpha,
// upsample and view only redraw.
//
// Every widget on a page shares one engine per model URL (one download, one wasm instance). Each
// renders in its own Shadow DOM with its own styles: no CSS leaks in or out, and it never reads the
// host page. It fills its container's width. It draws with WebGL2 and the same shaders as the app
// (web/site.sh inlines shaders/ below); without WebGL2 it falls back to the engine's CPU overlay.
//
// Events on the element: 'gradcam-result' (detail: {top, target, layer, method, ...}) and
// 'gradcam-error' (detail: {message}). The last result is also element.result.
import { loadEngine } from './gradcam.mjs';

const SHADERS = /*@SHADERS@*/ null;  // {vertex, fragment} from shaders/, inlined at site build
const DEFAULT_MODEL = new URL('models/cifar10.safetensors', import.meta.url).href;
const COLORMAPS = ['jet', 'turbo', 'viridis', 'inferno'];  // rows of the lookup texture
const EXPLAIN_ATTRIBUTES = new Set(['layer', 'method', 'target', 'score', 'crop']);
const LOAD_ATTRIBUTES = new Set(['src', 'model']);

const engines = new Map();  // model URL -> Promise<Engine>
function engineFor(url) {
  if (!engines.has(url)) {
    const p = loadEngine({ model: url });
    p.catch(() => engines.delete(url));  // a later widget may retry
    engines.set(url, p);
  }
  return engines.get(url);
}

// The host element is styled by the page too (its rules win over :host), so every inherited
// property is reset on the inner frame: nothing of the page's text style reaches inside.
const STYLE = `
:host {
  display: block;
  box-sizing: border-box;
  width: 100%;
  max-width: 100%;
  contain: content;
}
:host([hidden]) { display: none; }
.frame {
  all: initial;
  display: block;
  box-sizing: border-box;
  margin: 0;
  padding: 10px;
  color: #e6e9ef;
  background: #15171c;
  border-radius: 8px;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
}
canvas { display: block; width: 100%; height: auto; border-radius: 4px; background: #0d0f13; }
.legend { display: flex; align-items: center; gap: 8px; margin-top: 8px; font-size: 12px; color: #9aa3b2; }
.bar { flex: 1; height: 10px; border-radius: 3px; background: #333; }
.more { color: #e6e9ef; }
.caption { margin: 6px 0 0; min-height: 1.45em; }
.caption.error { color: #ff7a72; }
.note { color: #ffa842; }
`;

let sheet = null;
function styleSheet() {
  if (!sheet && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLE);
  }
  return sheet;
}

const METHOD_LABELS = {
  gradcam: 'Grad-CAM', 'gradcam++': 'Grad-CAM++', xgradcam: 'XGrad-CAM', hirescam: 'HiResCAM',
  layercam: 'LayerCAM', scorecam: 'Score-CAM', eigencam: 'Eigen-CAM', saliency: 'Saliency',
  smoothgrad: 'SmoothGrad', 'guided-backprop': 'Guided backprop', 'guided-gradcam': 'Guided Grad-CAM',
};

// The engine's crop_geometry (engine/src/image.cpp): the part of the image the model sees and
// where it lands in the model's input, both normalised to [0,1].
function cropRects(sw, sh, dw, dh, mode) {
  let src = [0, 0, sw, sh];
  let dst = [0, 0, dw, dh];
  if (mode === 'center') {
    if (sw * dh > sh * dw) {
      const w = (sh * dw) / dh;
      src = [(sw - w) / 2, 0, (sw - w) / 2 + w, sh];
    } else if (sw * dh < sh * dw) {
      const h = (sw * dh) / dw;
      src = [0, (sh - h) / 2, sw, (sh - h) / 2 + h];
    }
  } else if (mode === 'letterbox') {
    let w = dw, h = dh;
    if (sw * dh > sh * dw) h = Math.floor((2 * sh * dw + sw) / (2 * sw));
    else if (sw * dh < sh * dw) w = Math.floor((2 * sw * dh + sh) / (2 * sh));
    w = Math.min(Math.max(w, 1), dw);
    h = Math.min(Math.max(h, 1), dh);
    const x0 = Math.floor((dw - w) / 2), y0 = Math.floor((dh - h) / 2);
    dst = [x0, y0, x0 + w, y0 + h];
  }
  return {
    src: [src[0] / sw, src[1] / sh, src[2] / sw, src[3] / sh],
    dst: [dst[0] / dw, dst[1] / dh, dst[2] / dw, dst[3] / dh],
  };
}

// (v - min) / (max - min), zeros when the map is constant (the engine's normalize_map).
function normalise(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const out = new Float32Array(values.length);
  if (hi > lo) for (let i = 0; i < values.length; i++) out[i] = (values[i] - lo) / (hi - lo);
  return out;
}

// The shaders of the app (shaders/*.vert, *.frag) on a WebGL2 canvas.
class GlRenderer {
  static create(canvas, engine) {
    if (!SHADERS) return null;
    const gl = canvas.getContext('webgl2', { preserveDrawingBuffer: true, antialias: false, alpha: false });
    if (!gl) return null;
    try {
      return new GlRenderer(gl, engine);
    } catch (e) {
      console.warn(`gradcam-view: WebGL2 renderer unavailable (${e.message}); drawing on the CPU`);
      return null;
    }
  }

  constructor(gl, engine) {
    this.gl = gl;
    const compile = (type, source) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, source);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    const p = gl.createProgram();
    gl.attachShader(p, compile(gl.VERTEX_SHADER, SHADERS.vertex));
    gl.attachShader(p, compile(gl.FRAGMENT_SHADER, SHADERS.fragment));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    this.program = p;
    this.u = {};
    for (const name of ['u_flip_y', 'u_image', 'u_cam', 'u_lut', 'u_lut_row', 'u_src_rect', 'u_dst_rect',
      'u_alpha', 'u_upsample', 'u_has_cam']) this.u[name] = gl.getUniformLocation(p, name);
    this.vao = gl.createVertexArray();
    this.image = gl.createTexture();
    this.cam = gl.createTexture();
    this.lut = gl.createTexture();
    const lut = new Uint8Array(256 * COLORMAPS.length * 4);
    COLORMAPS.forEach((name, row) => {
      for (let i = 0; i < 256; i++) {
        const [r, g, b] = engine.colormap(name, i / 255);
        lut.set([r, g, b, 255], (row * 256 + i) * 4);
      }
    });
    this.texture(this.lut, gl.LINEAR, gl.LINEAR);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, COLORMAPS.length, 0, gl.RGBA, gl.UNSIGNED_BYTE, lut);
  }

  texture(t, min, mag) {
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, min);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, mag);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  }

  setImage(img) {
    const gl = this.gl;
    const small = img.width <= 256 && img.height <= 256;
    this.texture(this.image, small ? gl.NEAREST : gl.LINEAR_MIPMAP_LINEAR, small ? gl.NEAREST : gl.LINEAR);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, img.width, img.height, 0, gl.RGBA, gl.UNSIGNED_BYTE,
      new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength));
    if (!small) gl.generateMipmap(gl.TEXTURE_2D);
  }

  setCam(values, width, height) {
    const gl = this.gl;
    this.texture(this.cam, gl.NEAREST, gl.NEAREST);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 4);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.R32F, width, height, 0, gl.RED, gl.FLOAT, values);
  }

  // panels: [{x, y, width, height, heat: bool}] in canvas pixels, y from the top.
  draw(panels, look, rects) {
    const gl = this.gl;
    gl.viewport(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight);
    gl.clearColor(0.051, 0.059, 0.075, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.useProgram(this.program);
    [this.image, this.cam, this.lut].forEach((t, i) => {
      gl.activeTexture(gl.TEXTURE0 + i);
      gl.bindTexture(gl.TEXTURE_2D, t);
    });
    gl.uniform1i(this.u.u_image, 0);
    gl.uniform1i(this.u.u_cam, 1);
    gl.uniform1i(this.u.u_lut, 2);
    gl.uniform1i(this.u.u_flip_y, 1);
    const row = Math.max(0, COLORMAPS.indexOf(look.colormap));
    gl.uniform1f(this.u.u_lut_row, (row + 0.5) / COLORMAPS.length);
    gl.uniform4fv(this.u.u_src_rect, rects.src);
    gl.uniform4fv(this.u.u_dst_rect, rects.dst);
    gl.uniform1f(this.u.u_alpha, look.alpha);
    gl.uniform1i(this.u.u_upsample, look.upsample === 'bilinear' ? 0 : 1);
    gl.bindVertexArray(this.vao);
    for (const p of panels) {
      gl.viewport(p.x, gl.drawingBufferHeight - p.y - p.height, p.width, p.height);
      gl.uniform1i(this.u.u_has_cam, p.heat ? 1 : 0);
      gl.drawArrays(gl.TRIANGLES, 0, 3);
    }
    gl.bindVertexArray(null);
  }
}

class GradcamView extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'model', 'layer', 'method', 'target', 'score', 'crop', 'colormap', 'alpha', 'upsample', 'view'];
  }

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const s = styleSheet();
    if (s) {
      root.adoptedStyleSheets = [s];
    } else {
      const style = document.createElement('style');
      style.textContent = STYLE;
      root.append(style);
    }
    this._frame = document.createElement('figure');
    this._frame.className = 'frame';
    this._canvas = document.createElement('canvas');
    this._canvas.setAttribute('role', 'img');
    this._canvas.setAttribute('aria-label', 'Grad-CAM heat map');
    const legend = document.createElement('div');
    legend.className = 'legend';
    legend.setAttribute('aria-label', 'colour scale: left mattered less, right mattered more');
    const less = document.createElement('span');
    less.textContent = 'mattered less';
    this._bar = document.createElement('span');
    this._bar.className = 'bar';
    const more = document.createElement('span');
    more.className = 'more';
    more.textContent = 'mattered more';
    legend.append(less, this._bar, more);
    this._caption = document.createElement('figcaption');
    this._caption.className = 'caption';
    this._caption.setAttribute('role', 'status');
    this._caption.setAttribute('aria-live', 'polite');
    this._caption.textContent = 'Loading...';
    this._frame.append(this._canvas, legend, this._caption);
    root.append(this._frame);
    this.result = null;
    this._serial = 0;
    this._resizer = new ResizeObserver(() => this._draw());
  }

  connectedCallback() {
    this._resizer.observe(this);
    this._load();
  }

  disconnectedCallback() {
    this._resizer.disconnect();
  }

  attributeChangedCallback(name, before, after) {
    if (!this.isConnected || before === after) return;
    if (LOAD_ATTRIBUTES.has(name)) this._load();
    else if (EXPLAIN_ATTRIBUTES.has(name)) this._explain();
    else this._draw();
  }

  _attr(name, fallback) {
    const v = this.getAttribute(name);
    return v === null || v === '' ? fallback : v;
  }

  _look() {
    const alpha = Number(this._attr('alpha', '0.45'));
    return {
      colormap: COLORMAPS.includes(this._attr('colormap', 'turbo')) ? this._attr('colormap', 'turbo') : 'turbo',
      alpha: Number.isFinite(alpha) ? Math.min(1, Math.max(0, alpha)) : 0.45,
      upsample: this._attr('upsample', 'bicubic'),
      view: this._attr('view', 'overlay'),
    };
  }

  _fail(message) {
    this._caption.textContent = message;
    this._caption.classList.add('error');
    this.dispatchEvent(new CustomEvent('gradcam-error', { detail: { message }, bubbles: true, composed: true }));
  }

  async _load() {
    const serial = ++this._serial;
    const src = this.getAttribute('src');
    const model = this._attr('model', DEFAULT_MODEL);
    this._image = null;
    if (!src) {
      this._fail('gradcam-view: set src to an image URL');
      return;
    }
    this._caption.classList.remove('error');
    this._caption.textContent = 'Loading...';
    try {
      const [engine, bytes] = await Promise.all([engineFor(model), fetch(src).then((r) => {
        if (!r.ok) throw new Error(`${src}: cannot download (HTTP ${r.status})`);
        return r.arrayBuffer();
      }, (e) => { throw new Error(`${src}: cannot download (${e.message})`); })]);
      if (serial !== this._serial) return;  // a newer src or model won
      let image;
      try {
        image = engine.decode(bytes);
      } catch (e) {
        throw new Error(`${src}: ${e.message}`);
      }
      if (this._engine !== engine) {
        this._engine = engine;
        this._gl = GlRenderer.create(this._canvas, engine);
      }
      this._image = image;
      if (this._gl) this._gl.setImage(image);
      this._explain();
    } catch (e) {
      if (serial === this._serial) this._fail(e.message);
    }
  }

  _explain() {
    if (!this._image || !this._engine) return;
    const options = {
      layer: this._attr('layer', 'auto'),
      method: this._attr('method', 'gradcam'),
      target: this._attr('target', 'auto'),
      score: this._attr('score', 'logit'),
      crop: this._attr('crop', 'center'),
    };
    let r;
    try {
      r = this._engine.explain(this._image, options);
    } catch (e) {
      this._fail(e.message);
      return;
    }
    this._explanation = r;
    if (this._gl) this._gl.setCam(normalise(r.cam.data), r.cam.width, r.cam.height);
    this._cpuOverlay = null;
    const top = r.top[0];
    const target = { index: r.target.index, name: r.target.name, probability: r.probabilities[r.target.index] };
    const where = ['saliency', 'smoothgrad', 'guided-backprop', 'guided-gradcam'].includes(r.method) ? 'the input' : r.layer.name;
    this.result = {
      top: r.top, target, layer: r.layer.name, method: r.method, score: r.score,
      cam: { width: r.cam.width, height: r.cam.height }, trained: r.trained, timings_ms: r.timings,
    };
    this._caption.classList.remove('error');
    this._caption.textContent = '';
    const text = document.createTextNode(
      `${top.name} ${(top.probability * 100).toFixed(1)}% \u00b7 ${METHOD_LABELS[r.method] || r.method} for ${target.name}` +
      `${target.index === top.index ? '' : ` (${(target.probability * 100).toFixed(1)}%)`} at ${where} ` +
      `(${r.cam.width}\u00d7${r.cam.height}) \u00b7 ${r.timings.call.toFixed(1)} ms`);
    this._caption.append(text);
    if (!r.trained) {
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = ' \u00b7 untrained model';
      this._caption.append(note);
    }
    this._canvas.setAttribute('aria-label', `Grad-CAM heat map: ${this._caption.textContent}`);
    this._draw();
    this.dispatchEvent(new CustomEvent('gradcam-result', { detail: this.result, bubbles: true, composed: true }));
  }

  _draw() {
    const img = this._image;
    if (!img || !this._explanation) return;
    const look = this._look();
    const stops = [];
    for (let i = 0; i <= 8; i++) {
      const [r, g, b] = this._engine.colormap(look.colormap, i / 8);
      stops.push(`rgb(${r},${g},${b}) ${(i * 12.5).toFixed(1)}%`);
    }
    this._bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;

    const dpr = window.devicePixelRatio || 1;
    const cssWidth = Math.max(1, this._canvas.clientWidth || this.clientWidth || 300);
    const two = look.view === 'side-by-side';
    const gap = two ? Math.round(8 * dpr) : 0;
    const width = Math.max(2, Math.round(cssWidth * dpr));
    const panelW = two ? Math.floor((width - gap) / 2) : width;
    const panelH = Math.max(1, Math.round((panelW * img.height) / img.width));
    if (this._canvas.width !== width || this._canvas.height !== panelH) {
      this._canvas.width = width;
      this._canvas.height = panelH;
    }
    const panels = two
      ? [{ x: 0, y: 0, width: panelW, height: panelH, heat: false }, { x: panelW + gap, y: 0, width: panelW, height: panelH, heat: true }]
      : [{ x: 0, y: 0, width: panelW, height: panelH, heat: true }];
    const info = this._engine.info.input;
    if (this._gl) {
      this._gl.draw(panels, look, cropRects(img.width, img.height, info.width, info.height, this._attr('crop', 'center')));
      return;
    }
    // No WebGL2: the engine's overlay on the CPU, scaled by the canvas.
    const key = `${look.colormap}/${look.alpha}`;
    if (!this._cpuOverlay || this._cpuOverlay.key !== key) {
      const o = this._explanation.overlay(img, { colormap: look.colormap, alpha: look.alpha });
      const c = document.createElement('canvas');
      c.width = o.width;
      c.height = o.height;
      c.getContext('2d').putImageData(new ImageData(o.data, o.width, o.height), 0, 0);
      const plain = document.createElement('canvas');
      plain.width = img.width;
      plain.height = img.height;
      plain.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
      this._cpuOverlay = { key, overlay: c, plain };
    }
    const ctx = this._canvas.getContext('2d');
    ctx.imageSmoothingEnabled = img.width > 256;
    ctx.fillStyle = '#0d0f13';
    ctx.fillRect(0, 0, width, panelH);
    for (const p of panels) ctx.drawImage(p.heat ? this._cpuOverlay.overlay : this._cpuOverlay.plain, p.x, p.y, p.width, p.height);
  }
}

if (!customElements.get('gradcam-view')) customElements.define('gradcam-view', GradcamView);
export { GradcamView };
