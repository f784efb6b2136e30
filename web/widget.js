// <gradcam-view>: a Grad-CAM heat map for documentation pages. One script tag, one element:
//
//   <script type="module" src="widget.js"></script>
//   <gradcam-view src="samples/cat.jpg" layer="conv2d_6" method="gradcam" target="auto"
//                 colormap="turbo" alpha="0.45"></gradcam-view>
//
// Attributes (all optional but src): model (URL of the model file: .safetensors, Keras .h5/.keras or
// .onnx; default models/cifar10.safetensors next to this script), mean and std (what an ONNX model's
// input was normalised with: three numbers each, comma-separated, e.g. mean="0.485,0.456,0.406"
// std="0.229,0.224,0.225"; both or neither; none: pixels in [0,1]), labels (URL of a labels file,
// one class name per line), layer ('auto' = the model's default layer; an ONNX node's name), method, target ('auto', a class index
// or name), score, crop, colormap (the names engine.info.names lists: scores, crops, colormaps),
// alpha (0..1), eigen-smooth (present or "true": the first principal component of the weighted
// activations instead of their sum, as pytorch-grad-cam's eigen_smooth), aug-smooth (present or
// "true": pytorch-grad-cam's test-time augmentation smoothing), upsample ('bicubic' | 'bilinear'),
// view ('overlay' | 'side-by-side'). Changing an attribute updates the view; colormap, alpha,
// upsample and view only redraw.
//
// Every widget on a page shares one engine per model URL (one download, one wasm instance) and one
// WebGL2 context (widget_renderer.js), so any number of widgets draw. Each renders in its own Shadow
// DOM with its own styles: no CSS leaks in or out, and it never reads the host page. It fills its
// container's width. It draws with the same shaders as the app; without WebGL2 (or while the context
// is lost) it draws the engine's CPU overlay instead.
//
// Events on the element: 'gradcam-result' (detail: {top, target, layer, method, ...}) and
// 'gradcam-error' (detail: {message}). The last result is also element.result; an error clears it
// and the picture. An invalid attribute value is an error whose message names the attribute and
// its valid values.
import { loadEngine } from './gradcam.mjs';
import { sharedRenderer } from './widget_renderer.js';

const DEFAULT_MODEL = new URL('models/cifar10.safetensors', import.meta.url).href;
const EXPLAIN_ATTRIBUTES = new Set(['layer', 'method', 'target', 'score', 'crop', 'samples', 'steps', 'baseline', 'window', 'stride', 'eigen-smooth', 'aug-smooth']);
const LOAD_ATTRIBUTES = new Set(['src', 'model', 'mean', 'std', 'labels']);

// One engine per model URL and model options (the options live in the engine).
const engines = new Map();  // JSON of {model, mean, std, labels} -> Promise<Engine>
function engineFor(options) {
  const key = JSON.stringify(options);
  if (!engines.has(key)) {
    const p = loadEngine(options);
    p.catch(() => engines.delete(key));  // a later widget may retry
    engines.set(key, p);
  }
  return engines.get(key);
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
.failed canvas, .failed .legend { display: none; }  /* an error shows its message, no picture */
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

// The attributes the engine's request parser checks (request.h: the same keys as explain()'s
// options); its messages name the attribute, this widget puts its own name in front.
const REQUEST_ATTRIBUTES = ['layer', 'method', 'target', 'score', 'crop', 'colormap', 'alpha', 'samples', 'steps', 'baseline', 'window', 'stride', 'eigen-smooth', 'aug-smooth'];
// HTML boolean attributes: present without a value means true.
const BOOLEAN_ATTRIBUTES = new Set(['eigen-smooth', 'aug-smooth']);
// upsample and view are this widget's own: how it draws, not what the engine computes.
const DRAW_VALUES = {
  upsample: ['bicubic', 'bilinear'],
  view: ['overlay', 'side-by-side'],
};

function oneOf(name, value, values) {
  if (!values.includes(value)) throw new Error(`gradcam-view: ${name}="${value}" is not valid; use one of ${values.join(', ')}`);
  return value;
}

// Runs fn; an Error from the engine gets this widget's name in front.
function asWidget(fn) {
  try {
    return fn();
  } catch (e) {
    throw new Error(`gradcam-view: ${e.message}`);
  }
}

class GradcamView extends HTMLElement {
  static get observedAttributes() {
    return ['src', 'model', 'mean', 'std', 'labels', 'layer', 'method', 'target', 'score', 'crop', 'colormap', 'alpha', 'upsample', 'view',
      'samples', 'steps', 'baseline', 'window', 'stride', 'eigen-smooth', 'aug-smooth'];
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
    // A 2-D canvas: the pixels come from the page's one shared WebGL2 context (widget_renderer.js)
    // or from the engine's CPU overlay. data-renderer says which ('webgl', 'cpu' or 'none').
    this._canvas = document.createElement('canvas');
    this._canvas.setAttribute('role', 'img');
    this._canvas.setAttribute('aria-label', 'Grad-CAM heat map');
    this._canvas.dataset.renderer = 'none';
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
    this._connected = false;
    this._slot = null;  // this widget's textures in the shared WebGL2 context
    this._renderer = null;
    this._onRenderer = () => this._draw();  // context lost or restored: draw again (CPU or GPU)
    this._resizer = new ResizeObserver(() => this._draw());
  }

  connectedCallback() {
    this._connected = true;
    this._resizer.observe(this);
    if (this._renderer) this._renderer.listeners.add(this._onRenderer);
    const loaded = this._loaded;
    if (this._image && loaded && loaded.src === this.getAttribute('src') && loaded.model === this._modelKey()) {
      this._explain();  // moved within the page: the image is decoded already (attributes may have changed)
    } else {
      this._load();
    }
  }

  disconnectedCallback() {
    this._connected = false;
    this._resizer.disconnect();
    if (this._renderer) {
      this._renderer.listeners.delete(this._onRenderer);
      this._renderer.release(this._slot);
    }
    this._slot = null;
  }

  attributeChangedCallback(name, before, after) {
    // Before connectedCallback (an element upgraded from the page's HTML gets one call per
    // attribute first) the load in connectedCallback covers every attribute: one download.
    if (!this._connected || before === after) return;
    if (LOAD_ATTRIBUTES.has(name)) this._load();
    else if (EXPLAIN_ATTRIBUTES.has(name) || !this._explanation) this._explain();  // also after an error
    else this._draw();
  }

  _attr(name, fallback) {
    const v = this.getAttribute(name);
    return v === null || v === '' ? fallback : v;
  }

  // The model and its options as loadEngine takes them: mean and std as their text ("r,g,b"), which
  // the engine's contract checks when loading.
  _modelOptions() {
    const options = { model: this._attr('model', DEFAULT_MODEL) };
    for (const name of ['mean', 'std']) {
      const text = this._attr(name, null);
      if (text !== null) options[name] = text;
    }
    const labels = this._attr('labels', null);
    // A URL relative to the page, as src is (the engine would read a bare string as a path under Node).
    if (labels !== null) options.labels = new URL(labels, document.baseURI).href;
    return options;
  }

  // What identifies the loaded engine, to tell whether an attribute changed it.
  _modelKey() {
    try {
      return JSON.stringify(this._modelOptions());
    } catch (e) {
      return `invalid: ${e.message}`;
    }
  }

  // The request attributes that are set, as explain() takes them.
  _requestAttributes() {
    const options = {};
    for (const name of REQUEST_ATTRIBUTES) {
      const value = BOOLEAN_ATTRIBUTES.has(name) && this.getAttribute(name) === '' ? 'true' : this._attr(name, null);
      if (value !== null) options[name] = value;
    }
    return options;
  }

  // colormap, alpha (checked by the engine's request parser with the other request attributes),
  // upsample and view; throws an Error that names the attribute.
  _look() {
    const request = asWidget(() => this._engine.parseRequest(this._requestAttributes()));
    const look = { colormap: request.colormap, alpha: request.alpha };
    for (const [name, values] of Object.entries(DRAW_VALUES)) look[name] = oneOf(name, this._attr(name, values[0]), values);
    return look;
  }

  // Shows the message in red, clears the picture and the result, and fires gradcam-error.
  _fail(message) {
    this.result = null;
    this._explanation = null;
    this._cpuOverlay = null;
    this._canvas.width = this._canvas.height = 0;  // no stale pixels left to show or read
    this._canvas.dataset.renderer = 'none';
    this._frame.classList.add('failed');
    this._canvas.setAttribute('aria-label', `Grad-CAM heat map: none (${message})`);
    this._caption.textContent = message;
    this._caption.classList.add('error');
    this.dispatchEvent(new CustomEvent('gradcam-error', { detail: { message }, bubbles: true, composed: true }));
  }

  async _load() {
    const serial = ++this._serial;
    const src = this.getAttribute('src');
    this._image = null;
    this._loaded = null;
    if (!src) {
      this._fail('gradcam-view: set src to an image URL');
      return;
    }
    let modelOptions;
    try {
      modelOptions = this._modelOptions();
    } catch (e) {
      this._fail(e.message);
      return;
    }
    const model = JSON.stringify(modelOptions);
    this._caption.classList.remove('error');
    this._caption.textContent = 'Loading...';
    try {
      const loading = engineFor(modelOptions).catch((e) => { throw new Error(`gradcam-view: ${e.message}`); });
      const [engine, bytes] = await Promise.all([loading, fetch(src).then((r) => {
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
      this._engine = engine;
      this._image = image;
      this._loaded = { src, model };
      this._explain();
    } catch (e) {
      if (serial === this._serial) this._fail(e.message);
    }
  }

  _explain() {
    if (!this._image || !this._engine) return;
    let r;
    try {
      this._look();  // every attribute checked before any picture is drawn
      const { colormap, alpha, ...options } = this._requestAttributes();  // drawing only: no new map
      r = asWidget(() => this._engine.explain(this._image, options));
    } catch (e) {
      this._fail(e.message);
      return;
    }
    this._explanation = r;
    this._cam = { values: r.heatmap().data, width: r.cam.width, height: r.cam.height };  // the engine's normalisation
    this._cpuOverlay = null;
    const target = { index: r.target.index, name: r.target.name, probability: r.probabilities[r.target.index] };
    this.result = {
      top: r.top, target, layer: r.layer.name, method: r.method, score: r.score,
      cam: { width: r.cam.width, height: r.cam.height }, trained: r.trained, timings_ms: r.timings,
    };
    this._caption.classList.remove('error');
    this._caption.textContent = '';
    // The engine's one-line summary (the app's status line and the CLI say the same), and the time.
    const text = document.createTextNode(`${r.summary} \u00b7 ${r.timings.call.toFixed(1)} ms`);
    this._caption.append(text);
    if (r.trained === false) {  // null: the file does not say (ONNX)
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = ' \u00b7 untrained model';
      this._caption.append(note);
    }
    this._canvas.setAttribute('aria-label', `Grad-CAM heat map: ${this._caption.textContent}`);
    this._draw();
    if (this._explanation) {
      this.dispatchEvent(new CustomEvent('gradcam-result', { detail: this.result, bubbles: true, composed: true }));
    }
  }

  // The shared WebGL2 renderer, with this widget listening to its losses and restorations.
  _gpu() {
    const renderer = sharedRenderer(this._engine);
    if (renderer && renderer !== this._renderer) {
      this._renderer = renderer;
      if (this._connected) renderer.listeners.add(this._onRenderer);
    }
    return renderer;
  }

  _draw() {
    const img = this._image;
    if (!img || !this._explanation) return;
    let look;
    try {
      look = this._look();
    } catch (e) {
      this._fail(e.message);
      return;
    }
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
    this._frame.classList.remove('failed');
    const ctx = this._canvas.getContext('2d');
    const gpu = this._gpu();
    if (gpu && !gpu.lost) {
      try {
        // Uploads only what changed since this widget's last draw (or everything, after a loss).
        if (!this._slot || this._slot.generation !== gpu.generation) this._slot = gpu.slot();
        if (this._slot.imageOf !== img) gpu.setImage(this._slot, img);
        if (this._slot.camOf !== this._cam) gpu.setCam(this._slot, this._cam);
        const rects = this._engine.cropGeometry(img.width, img.height, this._attr('crop', 'center'));
        if (gpu.draw(ctx, this._slot, width, panelH, panels, look, rects)) {
          this._canvas.dataset.renderer = 'webgl';
          return;
        }
      } catch (e) {
        console.warn(`gradcam-view: drawing on the CPU (${e.message})`);
      }
    }
    // No WebGL2 (or it is lost for now): the engine's overlay on the CPU, scaled by the canvas.
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
    ctx.imageSmoothingEnabled = img.width > 256;
    ctx.fillStyle = '#0d0f13';
    ctx.fillRect(0, 0, width, panelH);
    for (const p of panels) ctx.drawImage(p.heat ? this._cpuOverlay.overlay : this._cpuOverlay.plain, p.x, p.y, p.width, p.height);
    this._canvas.dataset.renderer = 'cpu';
  }
}

if (!customElements.get('gradcam-view')) customElements.define('gradcam-view', GradcamView);
export { GradcamView };
