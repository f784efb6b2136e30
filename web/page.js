// The browser glue of the Grad-CAM explorer (index.html). The app itself (web/app/main.cpp, Dear
// ImGui on WebGL2) draws everything; this module only does what needs the DOM:
//   - starts the app on the canvas and keeps the canvas at the window's size and pixel ratio;
//   - reads images from the file input, a drop anywhere on the page, or a paste, and hands the
//     bytes to the app (which decodes them: one decoder, one set of error messages); a model file
//     (.onnx, .safetensors, or Keras .h5/.keras) given the same ways becomes the model, and a .txt
//     file the class names of an ONNX model. Files are read, and models loaded, by the JS API's own
//     modules (engine/js/abi.mjs, load.mjs): the app links the same loader (engine/js/load.cpp),
//     so a model reaches the app as an engine handle, as it reaches gradcam.mjs's Engine;
//   - downloads the model, the sample gallery and the UI font (all same-origin, relative URLs);
//   - mirrors the app's status line into the role="status" element;
//   - runs the page's tab order through the app's drawn controls and out again (Tab, Shift+Tab,
//     Escape), and announces the focused control;
//   - picks the layout by screen (stacked below 700 CSS px, the page scrolls it; touch-sized
//     targets for fingers) and turns pinch and double-tap on the image into the app's zoom;
//   - keeps the view in the address's fragment (#sample=...&method=...) and restores it from a link;
//   - runs the live camera (getUserMedia and a <video>): each new frame's pixels go to the app,
//     which explains it and draws the map over it; pause, resume and stop;
//   - writes each explanation's top five and facts as text for screen readers;
//   - starts the app threaded where the page is cross-origin isolated (createApp);
//   - offers window.gradcamApp, a small scripting hook (documented in web/README.md).
import { withBytes as copyBytes, withString as copyString } from './abi.mjs';
import { FrameGrabber } from './camera_frame.js';
import { loadModel as loadModelHandle, modelOptionsJson, readFileBytes, readModelInput, setModelOptions as setEngineOptions } from './load.mjs';

const MODEL_URL = 'models/cifar10.safetensors';
const SAMPLES_URL = 'samples/index.json';
const FONT_URL = 'fonts/DejaVuSans.ttf';
const FIRST_SAMPLE = 'cat.jpg';
// The engine's limit on an image file (ImageLimits::kMaxFileBytes), applied before reading to every
// file the page reads but a model.
const MAX_FILE_BYTES = 256 * 1024 * 1024;
// A model file's limit (the engine takes model files up to 1 GiB): the app's 2 GB of wasm memory
// must hold the weights and the previous model (kept until the new one has loaded) together, and
// for any format but ONNX the file's bytes too (an ONNX file stays in JS and is read as it is
// decoded: load.mjs); past that the load fails with a message. 640 MB takes VGG-16 and VGG-19
// (553-575 MB as torchvision exports them), the models most Grad-CAM tutorials use.
const MAX_MODEL_BYTES = 640 * 1024 * 1024;
const NARROW_BELOW_PX = 700;  // CSS px of window width under which the panels stack

const canvas = document.getElementById('canvas');
const statusEl = document.getElementById('status');
const fileInput = document.getElementById('file');
const labelsInput = document.getElementById('labels-file');
const dropHint = document.getElementById('drop-hint');
const focusedEl = document.getElementById('focused');
const cameraInput = document.getElementById('camera');
const resultSummary = document.getElementById('result-summary');
const resultTop = document.getElementById('result-top');

let app = null;
let appThreads = 1;  // the threads the app's passes run on (createApp)
let lastResult = null;
// The number of the latest image request. Every load, file choice, drop, paste and sample (in the
// page or in the app) takes the next one, and a read that ends after a later request began is
// dropped: the last request wins, however long each one takes to download or read.
let latestLoad = 0;

function setStatus(text, isError) {
  statusEl.textContent = text;
  statusEl.dataset.state = isError ? 'error' : 'ok';
}

// ---- calling the app --------------------------------------------------------------------------

// engine/js/abi.mjs's copies into the app's memory for one call.
const withBytes = (bytes, fn, what = 'the image') => copyBytes(app, bytes, fn, what);
const withString = (text, fn) => copyString(app, text, fn);

const appError = () => new Error(app.UTF8ToString(app._app_error()));
const appState = () => JSON.parse(app.UTF8ToString(app._app_state()));

// A message from the page itself (the app shows it in its status line, which updates ours).
function reportError(message) {
  if (app) withString(message, (p) => app._app_report_error(p));
  else setStatus(message, true);
  return new Error(message);
}

// ---- reading images -----------------------------------------------------------------------------

function fileLabel(name) {
  return String(name || 'image').split(/[\\/]/).pop() || 'image';
}

// Bytes and a name from a File/Blob, ArrayBuffer, typed array or same-origin URL (engine/js/load.mjs
// reads them): the name is the file's own, without its folders.
async function readSource(source, name, what = 'image') {
  const isBlob = source instanceof Blob;
  const label = fileLabel(name || (isBlob ? source.name || 'pasted image' : typeof source === 'string' || source instanceof URL
    ? new URL(String(source), location.href).pathname : ''));
  const { bytes } = await readFileBytes(source, what, { name: isBlob ? label : undefined, maxBytes: MAX_FILE_BYTES });
  return { bytes, name: label };
}

// The error a superseded load rejects with; the status line is left to the later request.
function superseded(name) {
  const e = new Error(`${name}: not shown, a later image was requested`);
  e.name = 'AbortError';
  return e;
}

async function loadImage(source, name) {
  const serial = ++latestLoad;
  stopCamera();  // a photo replaces the live view
  await ready;
  let input;
  try {
    input = await readSource(source, name);
  } catch (e) {
    if (serial !== latestLoad) throw superseded(fileLabel(name || source.name || String(source)));
    throw reportError(e.message);
  }
  if (serial !== latestLoad) throw superseded(input.name);
  const ok = withBytes(input.bytes, (p) => withString(input.name, (n) => app._app_load_image(p, input.bytes.length, n)));
  if (!ok) throw appError();
  return lastResult;
}

// A file the person opened, dropped or pasted, told apart by its name: a model file is the model
// (a TF.js model.json, or a .zip of a model's folder, too), a .txt file the class names of an ONNX
// model, anything else an image (the status line says what went wrong). ONNX files have no
// signature of their own to tell them by. Several files at once (or a folder) are a TF.js model:
// model.json with its .bin files and metadata.json.
const MODEL_FILE = /\.(onnx|safetensors|h5|hdf5|keras|json|zip)$/i;
function loadFromUser(file, name) {
  if (Array.isArray(file)) {
    if (file.length > 1 && file.some((f) => /\.(json|bin)$/i.test(f.name))) return void loadModel(file).catch(() => {});
    file = file[0];
  }
  const fileName = (file && file.name) || '';
  const labels = /\.txt$/i.test(fileName) && modelAsksForInputOptions();
  const load = MODEL_FILE.test(fileName) ? loadModel : labels ? loadLabels : loadImage;
  load(file, name).catch(() => {});
}

// Whether the model's file leaves its class names (and normalisation) unsaid (ONNX): its importer
// says so in info.
function modelAsksForInputOptions() {
  const model = app && appState().model;
  return !!model && model.asks_for_input_options;
}

// The labels input is offered while the model's file names no classes.
function offerLabels() {
  document.getElementById('labels-choice').hidden = !modelAsksForInputOptions();
}

// A model the person brings: a Keras HDF5 file (save_weights / save, Keras 2 or 3), read with
// h5wasm in a worker and mapped by the engine, or the model file itself. Explains the current image
// again. options: {hdf5Timeout} (seconds, as loadEngine's; the default 60 when dropped or opened).
async function loadModel(source, name, options = {}) {
  await ready;
  try {
    const unknown = Object.keys(options || {}).filter((key) => key !== 'hdf5Timeout');
    if (unknown.length) throw new Error(`loadModel: unknown option "${unknown[0]}" (valid: hdf5Timeout)`);
    const isBlob = source instanceof Blob;
    const input = await readModelInput(source, { name: isBlob ? fileLabel(name || source.name) : undefined, maxBytes: MAX_MODEL_BYTES });
    const label = fileLabel(name || input.source);
    setStatus(`Reading ${label}...`, false);
    useModel(await loadModelHandle(app, input.bytes, label, { tfjs: input.tfjs, hdf5Timeout: options.hdf5Timeout }), label);
  } catch (e) {
    throw reportError(e.message);
  } finally {
    offerLabels();
  }
  return lastResult;
}

// Makes a handle that engine/js/load.mjs returned the app's model.
function useModel(handle, name) {
  if (!withString(name, (n) => app._app_use_model(handle, n))) throw appError();
}

// What an ONNX model's file does not say: {mean: [r,g,b], std: [r,g,b]} (null or [] for none: the
// pixels in [0,1]) and labels, an array of class names or a labels file (one name per line) as a
// File, Blob, ArrayBuffer, Uint8Array or same-origin URL. Only the keys given change; the image is
// explained again. Resolves with the new result; rejects with the status's message.
async function setModelOptions(options) {
  await ready;
  try {
    if (!options || typeof options !== 'object') throw new Error('setModelOptions needs an object {mean, std, labels}');
    const json = await modelOptionsJson(options, 'setModelOptions', ['mean', 'std', 'labels']);
    // What the status and the labels button call the class names: the labels file, or 'labels'.
    const { labels } = options;
    const labelsName = labels === undefined || labels === null ? ''
      : Array.isArray(labels) || (typeof labels === 'string' && /[\r\n]/.test(labels)) ? 'labels'
      : labels instanceof Blob ? fileLabel(labels.name || 'labels')
      : typeof labels === 'string' || labels instanceof URL ? fileLabel(new URL(String(labels), location.href).pathname)
      : 'labels';
    const handle = app._app_engine();
    if (!handle) throw new Error('the model is not loaded yet');
    setEngineOptions(app, handle, json);
    if (!withString(labelsName, (n) => app._app_model_options_changed(n))) throw appError();
  } catch (e) {
    throw reportError(e.message);
  }
  return lastResult;
}

function loadLabels(file) {
  return setModelOptions({ labels: file });
}

// ---- file input, drop, paste ---------------------------------------------------------------------

for (const input of [fileInput, cameraInput, labelsInput]) {
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    if (files.length) loadFromUser(files);
    input.value = '';  // choosing the same file again fires 'change' again
  });
}

let dragDepth = 0;
const carriesFiles = (e) => !!e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!carriesFiles(e)) return;
  e.preventDefault();
  dragDepth++;
  dropHint.hidden = false;
});
document.addEventListener('dragover', (e) => {
  if (!e.dataTransfer) return;
  e.preventDefault();  // without this the browser opens the file instead of dropping it here
  e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) dropHint.hidden = true;
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  dropHint.hidden = true;
  const files = Array.from((e.dataTransfer && e.dataTransfer.files) || []);
  const entries = Array.from((e.dataTransfer && e.dataTransfer.items) || [], (i) => i.webkitGetAsEntry && i.webkitGetAsEntry());
  if (entries.some((entry) => entry && entry.isDirectory)) {
    droppedFolderFiles(entries).then(loadFromUser, (err) => reportError(err.message));
  } else if (files.length) {
    loadFromUser(files);
  } else {
    reportError('Nothing to load: drop an image file (PNG, JPEG, BMP or GIF). Images dragged from other sites cannot be read here; save them first.');
  }
});

// The files of a dropped folder (a TF.js model's: model.json, its .bin files, metadata.json), read
// through the entries API; the entries must be taken while the drop event runs.
async function droppedFolderFiles(entries) {
  const files = [];
  const visit = async (entry, depth) => {
    if (!entry || depth > 4) return;
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {  // readEntries hands out a folder's entries in batches, then an empty one
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await visit(child, depth + 1);
      }
    }
  };
  for (const entry of entries) await visit(entry, 0);
  return files;
}

// Chromium names every pasted bitmap "image.png"; a copied file keeps its own name. The name shows
// in the status line, the image's heading and the exported file's name.
const PASTED_EXTENSIONS = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/bmp': 'bmp' };
function pastedName(file, type) {
  if (file && file.name && file.name !== 'image.png') return file.name;
  const extension = PASTED_EXTENSIONS[type];
  return extension ? `pasted image.${extension}` : 'pasted image';
}

document.addEventListener('paste', (e) => {
  const items = Array.from((e.clipboardData && e.clipboardData.items) || []);
  const item = items.find((i) => i.kind === 'file');
  if (item) {
    e.preventDefault();
    const file = item.getAsFile();
    loadFromUser(file, pastedName(file, item.type));
  } else if (items.length) {
    reportError('The clipboard holds no image: copy an image (not a link or text) and paste again.');
  }
});

// ---- canvas size: the window's size times the device pixel ratio -----------------------------------

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const rect = canvas.getBoundingClientRect();
  const w = Math.max(1, Math.round(rect.width * dpr));
  const h = Math.max(1, Math.round(rect.height * dpr));
  if (app) {
    // Through the glue, not glfwSetWindowSize: that one asks for fullscreen when the size equals
    // the screen's.
    if (canvas.width !== w || canvas.height !== h) app.setCanvasSize(w, h);
    app._app_set_pixel_ratio(dpr);
  } else {
    canvas.width = w;
    canvas.height = h;
  }
}
new ResizeObserver(resize).observe(canvas);
(function watchPixelRatio() {
  // Zooming or moving to another screen changes the ratio without always resizing the canvas.
  const query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  query.addEventListener('change', () => { resize(); watchPixelRatio(); }, { once: true });
})();

// ---- layout by screen -------------------------------------------------------------------------------
// Below NARROW_BELOW_PX the app draws one column (image and map, top five, controls) that is taller
// than the window: the canvas grows to its height (Module.onLayout) and the page scrolls it, so a
// finger scrolls natively. Fingers get targets of at least 44 CSS px, in the stacked layout and
// wherever the pointer is coarse (tablets keep the side-by-side layout).
const coarsePointer = window.matchMedia('(pointer: coarse)');
let narrow = false;

function applyLayout() {
  narrow = window.innerWidth < NARROW_BELOW_PX;
  const touch = narrow || coarsePointer.matches;
  document.documentElement.classList.toggle('narrow', narrow);
  document.getElementById('camera-choice').hidden = !touch;  // "Take a photo" is offered with touch only
  if (!narrow) document.documentElement.style.removeProperty('--app-height');
  if (app) app._app_set_layout(narrow ? 1 : 0, touch ? 1 : 0);
}
window.addEventListener('resize', applyLayout);
coarsePointer.addEventListener('change', applyLayout);
applyLayout();

// A custom property, not the canvas's own style: Emscripten's setCanvasSize clears that.
function onLayout(cssHeight) {
  if (narrow && cssHeight > 0) {
    document.documentElement.style.setProperty('--app-height', `${Math.max(Math.ceil(cssHeight), window.innerHeight)}px`);
  }
}

// A point of an event in canvas device pixels, as the app (GLFW) measures.
function canvasPoint(e) {
  const r = canvas.getBoundingClientRect();
  const k = canvas.width / Math.max(1, r.width);
  return { x: (e.clientX - r.left) * k, y: (e.clientY - r.top) * k };
}

// Emscripten's GLFW turns a touch into a mouse press at the *last mouse position* (it reads no
// coordinates from touch events), so a tap would press whatever was under the previous tap. After a
// tap the browser sends mouse events at the right place, which GLFW handles. So touches never reach
// GLFW: the browser scrolls the stacked layout with them (touch-action: pan-y), one finger scrolls
// the sidebar of the side-by-side one, and two fingers on the image pinch (zoom) and drag it.
// In the side-by-side layout the page does not scroll: one finger scrolls the drawn window under it
// (the sidebar on a tablet).
let pinch = null;  // {mid, dist} while two fingers started on an image panel
let drag = null;   // the last point of one finger, in the side-by-side layout
function onTouch(e) {
  if (e.target !== canvas) return;
  e.stopImmediatePropagation();
  if (!app) return;
  if (e.touches.length === 1 && !narrow) {
    const p = canvasPoint(e.touches[0]);
    if (e.type === 'touchmove' && drag && app._app_touch_scroll(p.x, p.y, p.y - drag.y)) e.preventDefault();
    drag = p;
  } else {
    drag = null;
  }
  if (e.touches.length !== 2) {
    pinch = null;
    return;
  }
  const a = canvasPoint(e.touches[0]), b = canvasPoint(e.touches[1]);
  const mid = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  const dist = Math.max(1, Math.hypot(a.x - b.x, a.y - b.y));
  if (e.type === 'touchstart') {
    pinch = app._app_on_panel(mid.x, mid.y) ? { mid, dist } : null;
  } else if (e.type === 'touchmove' && pinch) {
    e.preventDefault();  // the fingers belong to the image, not to the page's scrolling
    app._app_zoom(pinch.mid.x, pinch.mid.y, dist / pinch.dist);
    app._app_pan(mid.x - pinch.mid.x, mid.y - pinch.mid.y);
    pinch = { mid, dist };
  }
}
for (const type of ['touchstart', 'touchmove', 'touchend', 'touchcancel']) {
  window.addEventListener(type, onTouch, { capture: true, passive: false });
}
// Double-tap (the browser sends dblclick when the page cannot be zoomed) or double-click: zoom in
// 3x about that point, or back to the whole image.
canvas.addEventListener('dblclick', (e) => {
  const p = canvasPoint(e);
  if (app) app._app_zoom_toggle(p.x, p.y);
});
// A window the app opens in the stacked layout (Can I trust this?) opens where the page is scrolled.
window.addEventListener('scroll', () => {
  if (app) app._app_set_page_scroll(window.scrollY * (window.devicePixelRatio || 1));
}, { passive: true });
// GLFW cancels every wheel event on the canvas; in the stacked layout the page must scroll.
window.addEventListener('wheel', (e) => {
  if (narrow && e.target === canvas) e.stopImmediatePropagation();
}, { capture: true, passive: true });

// ---- keyboard: the page's tab order runs through the drawn controls ---------------------------------
// Emscripten's GLFW listens for keys on the whole window and cancels Tab everywhere, which made the
// page a keyboard trap. This listener is added before the app starts, so it runs before GLFW's and
// decides who gets each key:
//   - focus outside the canvas: Tab and the keys that operate controls belong to the page (GLFW
//     never sees them); the app's one-letter shortcuts still work;
//   - focus on the canvas: Tab and Shift+Tab move through the drawn controls (web/app/keyboard.h)
//     and, past the first or last one, on to the page's elements; Escape leaves the canvas for the
//     next element unless the app needs it to close a list; arrows, Space and Enter go to ImGui.
// Key releases always reach GLFW, so it never holds a key that was pressed in the canvas.
const PAGE_KEYS = new Set(['Tab', 'Enter', ' ', 'Escape', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight',
  'PageUp', 'PageDown', 'Home', 'End', 'Backspace']);
let tabDirection = 0;  // +1 or -1 while a Tab or Shift+Tab is down: how focus reached the canvas
window.addEventListener('keydown', (e) => {
  const inCanvas = document.activeElement === canvas && app;
  if (e.key === 'Tab' && !e.ctrlKey && !e.altKey && !e.metaKey) {
    tabDirection = e.shiftKey ? -1 : 1;
    e.stopImmediatePropagation();
    if (inCanvas && app._app_tab(tabDirection)) e.preventDefault();  // moved within the app
    return;  // otherwise the browser moves focus, out of the canvas if it was there
  }
  if (inCanvas && e.key === 'Escape' && !app._app_wants_escape()) {
    e.stopImmediatePropagation();
    fileInput.focus();  // the canvas's next element in the page
    return;
  }
  if (!inCanvas && PAGE_KEYS.has(e.key)) e.stopImmediatePropagation();
}, true);
window.addEventListener('keyup', (e) => {
  if (e.key === 'Tab') tabDirection = 0;
}, true);
canvas.addEventListener('mousedown', () => { tabDirection = 0; });
canvas.addEventListener('focus', () => {
  if (app) app._app_canvas_focus(tabDirection || 2);
});
canvas.addEventListener('blur', () => {
  if (app) app._app_canvas_focus(0);
  focusedEl.textContent = '';
});

function onFocus(label) {
  focusedEl.textContent = label;
  if (narrow) queueMicrotask(() => scrollToControl(label));
}

// In the stacked layout the page scrolls, not the app: bring the control focused by Tab into view.
function scrollToControl(label) {
  const c = appState().layout.controls.find((x) => x.label === label);
  if (!c) return;  // drawn for the first time in this frame; it moved no other control
  const top = canvas.getBoundingClientRect().top + c.y;
  if (top < 0 || top + c.height > window.innerHeight) window.scrollBy(0, top - window.innerHeight / 3);
}

// ---- export --------------------------------------------------------------------------------------

async function exportPng() {
  await ready;
  const n = app._app_export_png();
  if (!n) throw appError();
  const ptr = app._app_png();
  return new Blob([app.HEAPU8.slice(ptr, ptr + n)], { type: 'image/png' });
}

function exportFileName() {
  const r = lastResult;
  const stem = (r ? r.image.name : 'image').replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_');
  return r ? `${stem}-${r.method}-${r.layer.name}-${r.target.name}.png` : `${stem}-gradcam.png`;
}

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

function onRequest(what) {
  if (what === 'image-chosen') {
    latestLoad++;  // a sample chosen in the app supersedes pending reads, and the camera
    stopCamera();
  } else if (what === 'open-file') fileInput.click();
  else if (what === 'camera-start') startCamera().catch(() => {});
  else if (what === 'camera-pause') pauseCamera(true);
  else if (what === 'camera-resume') pauseCamera(false);
  else if (what === 'camera-stop') stopCamera();
  else if (what === 'open-camera') cameraInput.click();
  else if (what === 'open-labels') labelsInput.click();
  else if (what === 'copy-link') copyLink();
  else if (what === 'export') exportPng().then((blob) => download(blob, exportFileName())).catch(() => {});
}

// ---- the live camera ---------------------------------------------------------------------------------
// getUserMedia into a <video> that is never shown: the app draws each frame with its map. Each new
// video frame becomes RGBA pixels at up to CAMERA_MAX_SIDE pixels on its long side (camera_frame.js;
// the app shows them, and the engine's prepare crops and resizes them to the model's input, as it
// does a photo's) and goes to the app, which explains it at once: no JPEG per frame. While the app
// is explaining or the previous frame is not yet copied, newer frames are skipped, so the maps per
// second are what this machine sustains.
const CAMERA_MAX_SIDE = 640;
const CAMERA_STATES = ['unavailable', 'off', 'starting', 'live', 'paused'];  // app.h, CameraState
const cameraSupported = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
const camera = {
  state: cameraSupported() ? 'off' : 'unavailable',
  stream: null,
  tracks: [],     // the last stream's tracks, kept after stop so a test can see them ended
  video: null,
  grabber: new FrameGrabber(CAMERA_MAX_SIDE),  // camera_frame.js
  frame: null,    // the last frame handed to the app: ImageData
  serial: 0,      // bumps on every start and stop: a frame callback of an older stream is dropped
  maps: 0,        // frames the app explained
  grabMs: 0,      // main-thread time spent reading frames as RGBA pixels (FrameGrabber.busyMs)
  explainMs: 0,   // time spent in the app's app_camera_frame (prepare, explain, upload)
};

function setCameraState(state) {
  camera.state = state;
  if (app) app._app_camera_state(CAMERA_STATES.indexOf(state));
}

// What went wrong, in words a person can act on (getUserMedia's errors are DOMExceptions by name).
function cameraMessage(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return 'The camera was refused: allow it for this page in the browser\'s site settings, or open or drop a photo instead.';
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return 'No camera was found: connect one, or open or drop a photo instead.';
  }
  if (name === 'NotReadableError' || name === 'AbortError') {
    return `The camera could not start (another program may be using it): ${e.message}`;
  }
  return `The camera could not start: ${e && e.message ? e.message : e}`;
}

// Starts the live view. Resolves with camera state; rejects with the status's message (camera
// refused, none found) and the page stays as it was.
async function startCamera() {
  await ready;
  if (camera.stream) return cameraState();
  if (!cameraSupported()) {
    throw reportError('This browser gives pages no camera (navigator.mediaDevices.getUserMedia is missing; it needs a page served over HTTPS or from localhost). Open or drop a photo instead.');
  }
  const serial = ++camera.serial;
  setCameraState('starting');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment', frameRate: { ideal: 30 } }, audio: false });
  } catch (e) {
    if (serial === camera.serial) setCameraState('off');
    throw reportError(cameraMessage(e));
  }
  if (serial !== camera.serial) {  // stopped (or a photo chosen) while the permission was asked
    for (const t of stream.getTracks()) t.stop();
    return cameraState();
  }
  camera.stream = stream;
  camera.tracks = stream.getTracks();
  for (const t of camera.tracks) t.addEventListener('ended', () => { if (camera.stream === stream) stopCamera(); });
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  camera.video = video;
  try {
    await video.play();
  } catch (e) {
    stopCamera();
    throw reportError(cameraMessage(e));
  }
  if (serial !== camera.serial) return cameraState();
  latestLoad++;  // the camera supersedes any image still being read
  setCameraState('live');
  nextCameraFrame(serial);
  return cameraState();
}

// Each new frame of the <video>: requestVideoFrameCallback where the browser has it (once per new
// frame), else the next animation frame with a new currentTime. (Chromium's
// MediaStreamTrackProcessor, which reads the track's frames as they come, without a <video>, gave
// fewer maps per second on SwiftShader, not more: each map's texture upload then waited for the
// GPU instead.)
function nextCameraFrame(serial) {
  const video = camera.video;
  if (!video || serial !== camera.serial) return;
  if (video.requestVideoFrameCallback) {
    video.requestVideoFrameCallback(() => onVideoFrame(serial));
  } else {
    const last = video.currentTime;
    requestAnimationFrame(() => (video.currentTime !== last ? onVideoFrame(serial) : nextCameraFrame(serial)));
  }
}

async function onVideoFrame(serial) {
  if (serial !== camera.serial) return;  // an older stream's callback
  if (camera.state === 'live') {
    try {
      await explainCameraFrame(serial);
    } catch (e) {
      if (serial !== camera.serial) return;
      stopCamera();
      reportError(`The camera frame could not be explained: ${e.message}`);
      return;
    }
  }
  nextCameraFrame(serial);
}

// Reads the video's frame as pixels (none before its first picture) and has the app explain them.
async function explainCameraFrame(serial) {
  const frame = await camera.grabber.grab(camera.video);
  const t1 = performance.now();
  camera.grabMs += camera.grabber.busyMs;
  // Paused or stopped while the frame was copied: the frame on screen stays.
  if (!frame || serial !== camera.serial || camera.state !== 'live') return;
  const ok = withBytes(frame.data, (p) => app._app_camera_frame(p, frame.width, frame.height), 'the camera frame');
  camera.explainMs += performance.now() - t1;
  if (!ok) throw appError();
  camera.frame = frame;
  camera.maps++;
}

// Pause (true) keeps the last frame and explains it in full, like a photo: the layer, method and
// class can then be changed on it. Resume (false) goes live again.
function pauseCamera(paused) {
  if (!camera.stream) return cameraState();
  setCameraState(paused ? 'paused' : 'live');
  return cameraState();
}

// Releases the camera (its tracks end; the browser's camera light goes off). The last frame stays,
// explained like a photo.
function stopCamera() {
  if (camera.state === 'off' || camera.state === 'unavailable') return cameraState();
  camera.serial++;
  for (const t of camera.tracks) t.stop();
  if (camera.video) camera.video.srcObject = null;
  camera.stream = null;
  camera.video = null;
  setCameraState('off');
  return cameraState();
}

function cameraState() {
  const inApp = app ? appState().camera : null;
  return {
    state: camera.state,
    maps: camera.maps,
    mapsPerSecond: inApp ? inApp.maps_per_second : 0,
    tracks: camera.tracks.map((t) => t.readyState),
    // What the camera delivers: {width, height, frameRate, ...} of its video track.
    settings: camera.tracks.length ? camera.tracks[0].getSettings() : null,
    size: camera.frame ? { width: camera.frame.width, height: camera.frame.height } : null,
    grab: camera.grabber.path,
    grabMs: camera.grabMs,
    explainMs: camera.explainMs,
  };
}

// ---- the view in the address: #sample=cat.jpg&method=layercam&layer=conv2d_2&... -----------------
// The keys are the app's option names (as gradcamApp.set and the CLI take them) plus `sample`, a
// gallery image by name or by its index in the gallery. An image the person opened is not in it.

// Values keep '+' (gradcam++) and are percent-decoded; URLSearchParams would read '+' as a space.
function readFragment(hash) {
  const entries = [];
  for (const part of String(hash).replace(/^#/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const decode = (t) => { try { return decodeURIComponent(t); } catch { return t; } };
    entries.push([decode(eq < 0 ? part : part.slice(0, eq)), decode(eq < 0 ? '' : part.slice(eq + 1))]);
  }
  return entries;
}

const encodeValue = (v) => encodeURIComponent(String(v)).replace(/%2B/g, '+');

function viewFragment() {
  const s = appState();
  const o = s.options;
  const entries = [];
  if (s.image && s.samples.includes(s.image.name)) entries.push(['sample', s.image.name]);
  entries.push(['method', o.method], ['layer', o.layer],
    ['target', o.target === 'auto' ? 'auto' : s.model.classes[o.target]], ['score', o.score], ['crop', o.crop],
    ['colormap', o.colormap], ['alpha', String(Math.round(o.alpha * 100) / 100)], ['view', o.view],
    ['upsample', o.upsample]);
  if (o.eigen_smooth) entries.push(['eigen-smooth', 'true']);
  if (o.aug_smooth) entries.push(['aug-smooth', 'true']);
  return entries.map(([k, v]) => `${k}=${encodeValue(v)}`).join('&');
}

// Until the link the page was opened with is applied, the app's defaults must not overwrite it.
let linkApplied = false;
function writeFragment() {
  if (!linkApplied || !app || !app._app_state) return;
  const fragment = `#${viewFragment()}`;
  // Replaced, not pushed: a history entry for every slider step would make Back useless.
  if (fragment !== location.hash) history.replaceState(history.state, '', fragment);
}
function onView() {
  queueMicrotask(writeFragment);  // after the app's frame, which calls this, has returned
}

function sampleByLink(value, samples) {
  if (/^\d+$/.test(value)) return samples[Number(value)];
  return samples.find((n) => n === value || n.replace(/\.[^.]*$/, '') === value);
}

// Applies a link's view: every valid option and the sample, with one run of the network. A bad
// value is reported as the app reports any bad option (red status line); the rest still applies.
function applyLink(entries, fallbackSample) {
  const errors = [];
  let sample = fallbackSample;
  const samples = appState().samples;
  for (const [key, value] of entries) {
    if (key === 'sample') {
      sample = sampleByLink(value, samples);
      if (!sample) {
        errors.push(`sample "${value}" is not in the gallery (use a name or an index from 0 to ${samples.length - 1}: ${samples.join(', ')})`);
        sample = fallbackSample;
      }
    } else if (!withString(key, (k) => withString(value, (v) => app._app_set(k, v)))) {
      errors.push(app.UTF8ToString(app._app_error()));
    }
  }
  if (sample) {
    latestLoad++;  // the link's sample supersedes nothing older, and is superseded by anything newer
    stopCamera();
    withString(sample, (n) => app._app_load_sample(n));
  }
  app._app_apply();
  if (errors.length) reportError(`This link's ${errors.join('; ')}`);
  linkApplied = true;
  writeFragment();
}

window.addEventListener('hashchange', () => {
  if (linkApplied) applyLink(readFragment(location.hash), null);
});

function showStatus(text) {
  withString(text, (p) => app._app_show_status(p));
}

async function copyLink() {
  writeFragment();
  const url = location.href;
  try {
    await navigator.clipboard.writeText(url);
    showStatus(`Link copied: ${url}`);
  } catch {
    // No clipboard here (a page not served over HTTPS, or permission refused): show it to copy.
    showStatus(`Copy this link: ${url}`);
  }
}

// ---- the explanation as text (screen readers) -------------------------------------------------------

const percentText = (p) => `${(p * 100).toFixed(p >= 0.0995 ? 1 : 2)}%`;

function mirrorResult(r) {
  const items = r.top.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.name}: ${percentText(c.probability)}`;
    return li;
  });
  resultTop.replaceChildren(...items);
  // The engine's one-line summary (the app's status line and the widget's caption say the same).
  resultSummary.textContent = `${r.image.name}: ${r.summary}, ${r.auto_target ? 'the top class' : 'a chosen class'}, ` +
    `score ${r.score}; took ${r.timings_ms.total.toFixed(1)} ms.`;
}

// ---- start ---------------------------------------------------------------------------------------

// A file of the site (engine/js/load.mjs downloads it); `what` names it in messages.
async function fetchBytes(url, what) {
  return (await readFileBytes(url, `the ${what}`)).bytes;
}

async function loadSamples() {
  let names;
  try {
    names = await (await fetch(SAMPLES_URL)).json();
  } catch {
    return [];  // a site without the gallery still works
  }
  const files = await Promise.all(names.map((name) =>
    fetchBytes(`samples/${name}`, 'sample image').then((bytes) => ({ name, bytes }), () => null)));
  return files.filter(Boolean);
}

let firstResultSeen = false;
function onResult(json) {
  lastResult = JSON.parse(json);
  mirrorResult(lastResult);
  if (!firstResultSeen) {
    firstResultSeen = true;
    performance.mark('gradcam:first-result');
    // The app draws it in its next animation frame.
    requestAnimationFrame(() => performance.mark('gradcam:first-heatmap'));
  }
  window.dispatchEvent(new CustomEvent('gradcam-result', { detail: lastResult }));
}

// The app on the cores the page is given: on a cross-origin isolated page (served with COOP
// same-origin and COEP require-corp, as tools/serve.mjs does) the threaded build
// (gradcam_app_threads: Emscripten pthreads over a SharedArrayBuffer, the engine's passes split
// over navigator.hardwareConcurrency threads, at most MAX_APP_THREADS), else the plain one. Both
// come from the same sources and give the same answers, bit for bit; a threaded build that cannot
// start (no Workers, no memory) leaves the plain one, with a console warning.
const MAX_APP_THREADS = 8;  // as the JS API's default cap (engine/js/gradcam.mjs)
async function createApp(options) {
  const cores = Math.min(navigator.hardwareConcurrency || 1, MAX_APP_THREADS);
  if (cores > 1 && globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function') {
    try {
      const { default: createThreadedApp } = await import('./gradcam_app_threads.mjs');
      const threaded = await createThreadedApp({ ...options, gcWorkers: cores });
      appThreads = threaded._gc_set_threads(cores);
      return threaded;
    } catch (e) {
      console.warn(`The threaded app could not start (${e.message}); the page runs on one thread.`);
    }
  }
  appThreads = 1;
  const { default: createGradcamApp } = await import('./gradcam_app.mjs');  // only the build this page runs is downloaded
  return createGradcamApp(options);
}

async function start() {
  setStatus('Loading the Grad-CAM explorer...', false);
  resize();
  const modelBytes = fetchBytes(MODEL_URL, 'model');
  const fontBytes = fetchBytes(FONT_URL, 'font').catch(() => null);  // ImGui's own font otherwise
  const samples = loadSamples();
  modelBytes.catch(() => {});
  try {
    app = await createApp({
      canvas,
      onStatus: setStatus,
      onResult,
      onRequest,
      onFocus,
      onView,
      onLayout,
      print: (text) => console.log(text),
      printErr: (text) => console.warn(text),
    });
  } catch (e) {
    throw reportError(`The app could not start: ${e.message}. It needs WebAssembly and WebGL2.`);
  }
  resize();
  applyLayout();
  setCameraState(camera.state);  // the app offers "Live camera" where the browser has a camera API
  const font = await fontBytes;
  if (font) withBytes(font, (p) => app._app_set_font(p, font.length));

  let model;
  try {
    model = await modelBytes;
  } catch (e) {
    throw reportError(e.message);
  }
  try {
    useModel(await loadModelHandle(app, model, MODEL_URL), MODEL_URL);
  } catch (e) {
    throw reportError(e.message);
  }
  performance.mark('gradcam:model-loaded');
  offerLabels();

  const gallery = await samples;
  for (const s of gallery) withBytes(s.bytes, (p) => withString(s.name, (n) => app._app_add_sample(p, s.bytes.length, n)));
  // The link's view, on the first sample unless the link names one or an image was asked for meanwhile.
  const asked = latestLoad !== 0;
  const first = !asked && gallery.length ? (gallery.find((s) => s.name === FIRST_SAMPLE) || gallery[0]).name : null;
  applyLink(readFragment(location.hash).filter(([key]) => !asked || key !== 'sample'), first);
  return api;
}

// ---- window.gradcamApp -----------------------------------------------------------------------------

const api = {
  // Resolves when the model is loaded (and the first sample explained); rejects with the reason.
  get ready() { return ready; },
  // Loads and explains an image: File, Blob, ArrayBuffer, Uint8Array or a same-origin URL.
  // Resolves with the result (as lastResult()); rejects with an Error whose message the status shows.
  loadImage,
  // Loads a model: an ONNX model, a Keras .h5/.keras or a model file (File, Blob, ArrayBuffer,
  // Uint8Array or same-origin URL; told apart by their bytes), or a TF.js model.json (its URL, a
  // list of Files with its .bin files and metadata.json, or a .zip of them). Resolves with the current image's new
  // result (or null); rejects with the status's message, and the previous model stays. Optional
  // third argument {hdf5Timeout}: seconds a Keras file's HDF5 read may take (default 60).
  loadModel,
  // Normalisation and class names of the model (ONNX): {mean, std, labels}; see setModelOptions.
  setModelOptions,
  // Loads one of the gallery's samples by file name, e.g. 'dog.jpg'.
  async loadSample(name) {
    const serial = ++latestLoad;
    stopCamera();  // a sample replaces the live view
    await ready;
    if (serial !== latestLoad) throw superseded(String(name));
    if (!withString(String(name), (n) => app._app_load_sample(n))) throw appError();
    return lastResult;
  },
  // Changes options, e.g. {layer: 'conv2d_6', method: 'gradcam++', target: 'dog' | 3 | 'auto',
  // score, crop, colormap: names from model.names (the engine's tables), alpha: 0.45, upsample: 'bilinear' | 'bicubic',
  // view: 'side-by-side' | 'overlay'}. The view updates at once. Returns the last result.
  set(options) {
    if (!app) throw new Error('the app has not started yet: await gradcamApp.ready');
    for (const [key, value] of Object.entries(options || {})) {
      if (!withString(key, (k) => withString(String(value), (v) => app._app_set(k, v)))) throw appError();
    }
    if (!app._app_apply()) throw appError();  // one run of the network for all the options
    return lastResult;
  },
  get options() { return app ? appState().options : null; },
  // The last explanation: {image, top: [{index, name, probability}] (5), target, auto_target, layer,
  // method, score, crop, cam: {width, height}, timings_ms, trained, status, explain_count} or null.
  lastResult() { return lastResult; },
  get status() { return statusEl.textContent; },
  get info() { return app ? appState().model : null; },
  get samples() { return app ? appState().samples : []; },
  // Everything at once (options, image, result, status, explain_count, frames drawn), and the
  // threads the engine's passes run on (1 unless the page is cross-origin isolated).
  state() { return app ? { ...appState(), threads: appThreads } : null; },
  // The overlay at the image's own size as a PNG Blob.
  exportPng,
  // "Can I trust this?": show(true|false) the window; occlude(x, y) puts the grey patch at the model
  // input's pixel (x, y), top-left; sanityCheck() runs the sanity check; state() is what the window
  // shows: {open, deletion: {auc, probability}, insertion, occlusion: {x, y, size, top, drop,
  // map_share, ms}, sanity: {steps: [{layer, spearman, ssim}], ms}}.
  trust: {
    show(open = true) { app._app_trust(open ? 1 : 0); },
    occlude(x, y) { if (!app._app_occlude(x | 0, y | 0)) throw appError(); },
    sanityCheck() { if (!app._app_sanity_check()) throw appError(); },
    state() { return JSON.parse(app.UTF8ToString(app._app_trust_state())); },
  },
  // The address of this view (the page's URL with the view in its fragment), and the same copied to
  // the clipboard as the "Copy link" button does (resolves when the status line says which).
  get link() {
    writeFragment();
    return location.href;
  },
  copyLink,
  // The live camera: start() (resolves with state(); rejects with the status's message when the
  // camera is refused or absent), pause(true|false), stop() (its tracks end), state(): {state:
  // 'unavailable' | 'off' | 'starting' | 'live' | 'paused', maps (frames explained), mapsPerSecond
  // (the readout), tracks (the last stream's readyStates), settings (its video track's: width,
  // height, frameRate), size (of the frames grabbed), grab ('yuv' or 'canvas': how), grabMs,
  // explainMs (totals)}, and frame(): the last frame handed to the app as ImageData (its pixels,
  // which the map explains).
  camera: {
    start: startCamera,
    pause: (paused = true) => pauseCamera(paused),
    stop: stopCamera,
    state: cameraState,
    frame: () => camera.frame,
  },
  // The raw map on screen, before normalisation: {width, height, values: Float32Array}, or null.
  map() {
    const m = app && appState().map;
    const ptr = app && app._app_map();
    if (!m || !ptr) return null;
    return { width: m.width, height: m.height, values: app.HEAPF32.slice(ptr >> 2, (ptr >> 2) + m.width * m.height) };
  },
  // The overlay as the view draws it, read back from the GPU at width x height: RGBA, top row first.
  overlayPixels(width = 64, height = 64) {
    const ptr = app._app_overlay_pixels(width, height);
    return app.HEAPU8.slice(ptr, ptr + width * height * 4);
  },
};

const ready = start();
ready.catch((e) => console.warn(`gradcam: ${e.message}`));
window.gradcamApp = api;
