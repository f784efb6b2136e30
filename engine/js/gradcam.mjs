// gradcam.mjs: the engine's JS API, for browsers and plain Node 20 (no flags).
//
//   import { loadEngine } from './gradcam.mjs';
//   const engine = await loadEngine();  // the shipped CIFAR-10 model, models/cifar10.safetensors
//   const other = await loadEngine({ model: 'cifar10.safetensors' });  // URL, path, ArrayBuffer, File
//   const mine = await loadEngine({ model: 'model.h5' });  // a Keras file (keras.mjs, h5wasm in a worker)
//   const onnx = await loadEngine({ model: 'resnet18.onnx', mean: [0.485, 0.456, 0.406],
//                                   std: [0.229, 0.224, 0.225], labels: 'imagenet_classes.txt' });
//   onnx.explain(imageData, { layer: '/layer4/layer4.1/relu_1/Relu' });  // a node (or its output) name
//   const r = engine.explain(imageData, { layer: 'conv2d_6', method: 'gradcam' });
//   r.top[0].name, r.cam.data, r.heatmap(256, 256)
//
// All engines share one WebAssembly instance (one download); on a cross-origin isolated page, those
// with the same thread count (loadEngine's `threads`) share one of the threaded core instead.
// Errors are thrown as Error with a message a person can act on; the engine stays usable after
// any of them. Files are read and models loaded by load.mjs, over abi.mjs's memory helpers: the
// explorer page (web/page.js) loads its models through the same two modules and the same C
// functions (engine/js/load.cpp).
import createGradcamCore from './gradcam_core.mjs';
import { lastError, readFloats, withBytes, withString } from './abi.mjs';
import { engineInfo, isNode, loadModel, nodeModule, modelOptionsJson, optionsText, readModelInput, setModelOptions } from './load.mjs';

// The cores: the single-threaded one (runs anywhere) and, by thread count, the threaded one
// (gradcam_core_threads.mjs: Emscripten pthreads over a SharedArrayBuffer, which browsers give
// only to cross-origin isolated pages). Both are built from the same sources and give the same
// answers bit for bit.
let corePromise = null;
const threadedCores = new Map();  // thread count -> Promise<module>

// Threads beyond this many rarely pay for their Workers on one image; an explicit `threads` may ask
// for up to MAX_THREADS.
const DEFAULT_THREADS_CAP = 8;
const MAX_THREADS = 64;

function instantiateCore() {
  if (!corePromise) {
    corePromise = (async () => {
      if (isNode) {
        // Under Node this Emscripten's web glue cannot fetch a file path: hand it the bytes.
        const fs = await nodeModule('fs');
        const wasmBinary = fs.readFileSync(new URL('./gradcam_core.wasm', import.meta.url));
        return createGradcamCore({ wasmBinary });
      }
      return createGradcamCore();
    })();
    corePromise.catch(() => { corePromise = null; });
  }
  return corePromise;
}

// Whether this context can run the threaded core: a browser page or worker that is cross-origin
// isolated (served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp). Node is not: this Emscripten's (3.1.6) pthreads glue starts its threads as Web
// Workers, which Node's ES modules do not have.
const canUseThreads = () => !isNode && globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function'
  && typeof Worker === 'function';

// The thread count loadEngine's `threads` asks for, checked: a whole number from 1 to MAX_THREADS;
// undefined means the machine's cores (navigator.hardwareConcurrency), at most DEFAULT_THREADS_CAP.
function requestedThreads(threads) {
  if (threads === undefined) {
    const cores = globalThis.navigator?.hardwareConcurrency;
    return Math.max(1, Math.min(Number.isInteger(cores) ? cores : 1, DEFAULT_THREADS_CAP));
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new Error(`loadEngine: threads must be a whole number from 1 to ${MAX_THREADS}, not ${typeof threads === 'string' ? JSON.stringify(threads) : String(threads)}`);
  }
  return threads;
}

// The core for `threads` threads: {core, threads} with the count it runs. One thread, or a context
// without cross-origin isolation, gets the single-threaded core (threads 1, no error); so does a
// page whose threaded core cannot be loaded (say, a bundle without gradcam_core_threads.* beside
// it), with a warning that says so. A threaded core whose Worker script is missing is an error
// instead (MissingWorkerError): the module loaded, so the host left out one file of it, and a page
// that quietly ran on one thread would hide that. The threaded core's Workers are started with the
// module (gcWorkers), one instance per thread count.
async function coreFor(threads) {
  if (threads === 1 || !canUseThreads()) return { core: await instantiateCore(), threads: 1 };
  try {
    return await threadedCore(threads);
  } catch (e) {
    if (e instanceof MissingWorkerError) throw e;
    console.warn(`gradcam: the threaded core did not load (${e.message}); running on one thread`);
    return { core: await instantiateCore(), threads: 1 };
  }
}

class MissingWorkerError extends Error {}

// This Emscripten (3.1.6) resolves the threaded module only once every Worker of its pool has
// loaded, and a Worker whose script cannot be fetched never does: its error event fires before the
// glue listens for it, so the module would never resolve and the page would wait forever. So the
// script is asked for first (one small request more), and a server that does not give it is an
// error naming the file and the server's answer.
async function checkWorkerScript(workerUrl) {
  const why = await fetch(workerUrl).then((r) => {
    r.body?.cancel();
    return r.ok ? null : `HTTP ${r.status}`;
  }, (e) => e.message);
  if (why) {
    throw new MissingWorkerError(`loadEngine: the threaded core's Worker script ${workerUrl} could not be loaded (${why}): ` +
      'serve gradcam_core_threads.worker.js beside gradcam_core_threads.mjs, or load with threads: 1');
  }
}

function threadedCore(threads) {
  if (!threadedCores.has(threads)) {
    // A computed specifier: a bundler leaves it alone, so pages that never use threads do not
    // carry the threaded core's glue (it is fetched from beside this module when needed).
    const url = new URL('./gradcam_core_threads.mjs', import.meta.url).href;
    const workerUrl = new URL('./gradcam_core_threads.worker.js', import.meta.url).href;
    // The pool reports the threads it started: fewer than asked if the browser gave fewer Workers.
    const p = import(/* webpackIgnore: true */ /* @vite-ignore */ url).then(async ({ default: createThreadedCore }) => {
      await checkWorkerScript(workerUrl);
      const core = await createThreadedCore({ gcWorkers: threads });
      return { core, threads: core._gc_set_threads(threads) };
    });
    p.catch(() => threadedCores.delete(threads));
    threadedCores.set(threads, p);
  }
  return threadedCores.get(threads);
}

// Explain options as the engine's request reads them: the JS API spells a key in camelCase
// (eigenSmooth), the request in kebab-case (eigen-smooth, as the CLI's --eigen-smooth and the
// widget's attribute).
function requestText(options) {
  const out = {};
  for (const [key, value] of Object.entries(options)) out[key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = value;
  return optionsText(out);
}

function checkImage(image) {
  if (!image || typeof image !== 'object') throw new Error('image must be an object like ImageData: {data, width, height}');
  const { data, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`image size ${width}x${height} is not valid`);
  }
  if (!data || !ArrayBuffer.isView(data)) throw new Error('image.data must be RGBA bytes (Uint8ClampedArray or Uint8Array)');
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== width * height * 4) {
    throw new Error(`image.data has ${bytes.length} bytes; ${width}x${height} RGBA needs ${width * height * 4}`);
  }
  return bytes;
}

class Engine {
  constructor(core, handle, threads) {
    this._core = core;
    this._handle = handle;
    this.info = engineInfo(core, handle);
    // The threads its passes run on: 1 on the single-threaded core.
    this.threads = threads;
  }

  _live() {
    if (!this._handle) throw new Error('this engine was disposed');
    return this._core;
  }

  // Decodes PNG, JPEG, BMP or GIF bytes to {data: Uint8ClampedArray RGBA, width, height}.
  decode(bytes) {
    const core = this._live();
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    if (!ArrayBuffer.isView(bytes)) throw new Error('decode needs the bytes of an image file');
    const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ok = withBytes(core, u8, (ptr) => core._gc_decode(ptr, u8.length));
    if (!ok) throw new Error(lastError(core));
    const width = core._gc_image_width(), height = core._gc_image_height();
    const data = new Uint8ClampedArray(core.HEAPU8.buffer, core._gc_image_pixels() >>> 0, width * height * 4).slice();
    return { data, width, height };
  }

  // Calls gc_explain or gc_explain_all on an image with options; the parsed result JSON.
  _run(entry, image, options) {
    const core = this._live();
    const rgba = checkImage(image);
    if (options === null || typeof options !== 'object') throw new Error('options must be an object');
    const json = withBytes(core, rgba, (imgPtr) =>
      withString(core, requestText(options), (optPtr) =>
        core[entry](this._handle, imgPtr, rgba.length, image.width, image.height, optPtr)));
    if (!json) throw new Error(lastError(core));
    return JSON.parse(core.UTF8ToString(json));
  }

  // Explain options checked and resolved as explain() would, without running anything: {layer (the
  // node's name), method, target (a class index, -1 for the top class), score, crop, colormap,
  // alpha, samples, steps, baseline, window, stride, eigen_smooth, aug_smooth}. Errors name the key (the widget puts its own name in front).
  parseRequest(options = {}) {
    const core = this._live();
    if (options === null || typeof options !== 'object') throw new Error('options must be an object');
    const json = withString(core, requestText(options), (optPtr) => core._gc_parse_request(this._handle, optPtr));
    if (!json) throw new Error(lastError(core));
    return JSON.parse(core.UTF8ToString(json));
  }

  // Probabilities and the top classes of an image.
  predict(image, options = {}) {
    const r = this._run('_gc_explain', image, { crop: options.crop || 'center', predict_only: true });
    const core = this._core;
    return {
      probabilities: Float32Array.from(r.probabilities),
      logits: Float32Array.from(r.logits),
      top: r.top,
      input: readFloats(core, core._gc_input(), core._gc_input_size()),
    };
  }

  // Classifies and explains. options: layer (a conv layer name, default the last), method
  // (default 'gradcam'), target ('auto', a class index or name), score, crop (the names
  // info.names.scores and info.names.crops list), samples (SmoothGrad's noisy copies, GradientSHAP's
  // draws), steps (Integrated Gradients), baseline (black|blur|noise|zero), window and stride (occlusion),
  // eigenSmooth (true: a layer map's first principal component instead of its channel sum), augSmooth
  // (true: the map averaged over pytorch-grad-cam's six test-time augmentations, each normalised to [0, 1]).
  explain(image, options = {}) {
    const t0 = (globalThis.performance || Date).now();
    const r = this._run('_gc_explain', image, options);
    const core = this._core;
    const cam = { width: r.cam.width, height: r.cam.height, data: readFloats(core, core._gc_cam(), r.cam.width * r.cam.height) };
    const input = readFloats(core, core._gc_input(), core._gc_input_size());
    const engine = this;
    const crop = options.crop || 'center';
    const timings = { ...r.timings_ms, call: (globalThis.performance || Date).now() - t0 };
    return {
      probabilities: Float32Array.from(r.probabilities),
      logits: Float32Array.from(r.logits),
      top: r.top,
      target: r.target,
      layer: r.layer,
      method: r.method,
      score: r.score,
      summary: r.summary,  // one line: "cat (93.0%) · Grad-CAM for cat at conv2d_8 (8×8)"
      crop,
      trained: r.trained,
      cam,
      input,
      // The signed per-channel attribution of integrated-gradients, input-x-gradient, gradient-shap,
      // deconvolution and occlusion, laid out as `input` (the model's layout); null for the others.
      attribution: r.attribution ? Float32Array.from(r.attribution) : null,
      timings,
      // The normalised map ([0,1]) resampled bilinearly to width x height.
      heatmap(width = cam.width, height = cam.height) {
        return engine._heatmap(cam, width, height);
      },
      // The image with the heat map blended over it, at the image's own size.
      overlay(source = image, { colormap = 'turbo', alpha = 0.45 } = {}) {
        return engine._overlay(source, cam, crop, colormap, alpha);
      },
    };
  }

  // Every conv layer's map from one forward and one backward pass (methods gradcam, gradcam++,
  // xgradcam, hirescam, layercam, eigencam, random): {probabilities, top, target, layers: [{name,
  // height, width, channels, cam: {width, height, data}}], timings}.
  explainAll(image, options = {}) {
    const t0 = (globalThis.performance || Date).now();
    const r = this._run('_gc_explain_all', image, options);
    const core = this._core;
    const base = core._gc_floats() >>> 0;
    const engine = this;
    return {
      probabilities: Float32Array.from(r.probabilities),
      logits: Float32Array.from(r.logits),
      top: r.top,
      target: r.target,
      method: r.method,
      score: r.score,
      trained: r.trained,
      layers: r.layers.map((l) => {
        const cam = { width: l.width, height: l.height, data: readFloats(core, base + 4 * l.offset, l.width * l.height) };
        return { name: l.name, index: l.index, height: l.height, width: l.width, channels: l.channels, cam,
          heatmap: (w = cam.width, h = cam.height) => engine._heatmap(cam, w, h) };
      }),
      timings: { ...r.timings_ms, call: (globalThis.performance || Date).now() - t0 },
    };
  }

  // How faithful an explanation's map is (engine/include/gradcam/metrics.h), for its target class:
  // {deletion: {fraction, probability, auc}, insertion: {...}, road: {fraction, morf, lerf,
  // morf_mean, lerf_mean}, confidence_change}. options: metrics (a list of info.names.metrics;
  // default all), steps (default 32).
  evaluate(image, result, options = {}) {
    const core = this._live();
    const rgba = checkImage(image);
    if (!result || !result.cam || !result.target) throw new Error('evaluate needs the result of explain() for this image');
    if (options === null || typeof options !== 'object') throw new Error('options must be an object');
    const cam = result.cam;
    const camBytes = new Uint8Array(cam.data.buffer, cam.data.byteOffset, cam.data.byteLength);
    const json = withBytes(core, rgba, (imgPtr) => withBytes(core, camBytes, (camPtr) =>
      withString(core, optionsText({ crop: result.crop || 'center', ...options }), (optPtr) =>
        core._gc_evaluate(this._handle, imgPtr, rgba.length, image.width, image.height, camPtr, cam.height, cam.width,
          result.target.index, optPtr))));
    if (!json) throw new Error(lastError(core));
    return JSON.parse(core.UTF8ToString(json));
  }

  // The model-randomisation sanity check (Adebayo et al. 2018) for explain's options: {original:
  // {width, height, values}, steps: [{layer, spearman, ssim, map}]}, the top layer first.
  sanityCheck(image, options = {}) {
    return this._run('_gc_sanity_check', image, options);
  }

  _heatmap(cam, width, height) {
    const core = this._live();
    if (!Number.isInteger(width) || !Number.isInteger(height)) throw new Error('heatmap size must be integers');
    const bytes = new Uint8Array(cam.data.buffer, cam.data.byteOffset, cam.data.byteLength);
    const ptr = withBytes(core, bytes, (p) => core._gc_heatmap(p, cam.height, cam.width, width, height));
    if (!ptr) throw new Error(lastError(core));
    return { width, height, data: readFloats(core, ptr, width * height) };
  }

  _overlay(image, cam, crop, colormap, alpha) {
    const core = this._live();
    const rgba = checkImage(image);
    const camBytes = new Uint8Array(cam.data.buffer, cam.data.byteOffset, cam.data.byteLength);
    const ok = withBytes(core, rgba, (imgPtr) => withBytes(core, camBytes, (camPtr) =>
      withString(core, crop, (cropPtr) => withString(core, colormap, (mapPtr) =>
        core._gc_overlay(imgPtr, rgba.length, image.width, image.height, camPtr, cam.height, cam.width,
          this.info.input.height, this.info.input.width, cropPtr, mapPtr, alpha)))));
    if (!ok) throw new Error(lastError(core));
    const w = core._gc_image_width(), h = core._gc_image_height();
    return { width: w, height: h, data: new Uint8ClampedArray(core.HEAPU8.buffer, core._gc_image_pixels() >>> 0, w * h * 4).slice() };
  }

  // Where an image of width x height lands in the model's input for a crop mode: {src, dst}, each
  // [x0, y0, x1, y1] normalised to [0,1] (the part of the image used, the part of the input filled).
  cropGeometry(width, height, crop = 'center') {
    const core = this._live();
    if (!Number.isInteger(width) || !Number.isInteger(height)) throw new Error('image size must be integers');
    const json = withString(core, String(crop), (p) => core._gc_crop_geometry(this._handle, width, height, p));
    if (!json) throw new Error(lastError(core));
    return JSON.parse(core.UTF8ToString(json));
  }

  // RGB of a colormap at t in [0,1] (for legends): [r, g, b].
  colormap(name, t) {
    const core = this._live();
    const v = withString(core, String(name), (p) => core._gc_colormap_rgb(p, t));
    if (v < 0) throw new Error(lastError(core));
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }

  // Changes the normalisation and/or class names after loading: {mean, std, labels} as loadEngine
  // takes them; only the keys given change ({mean: null, std: null} removes the normalisation).
  // Resolves with the new info; on an error nothing changed.
  async setModelOptions(options = {}) {
    if (options === null || typeof options !== 'object') throw new Error('setModelOptions needs an object {mean, std, labels}');
    const json = await modelOptionsJson(options, 'setModelOptions', ['mean', 'std', 'labels']);
    const core = this._live();
    setModelOptions(core, this._handle, json);
    this.info = engineInfo(core, this._handle);
    return this.info;
  }

  dispose() {
    if (this._handle) this._core._gc_dispose(this._handle);
    this._handle = 0;
  }
}

// The shipped model, beside this module (in the site and in the npm package). Written as
// `new URL('<literal>', import.meta.url)` so that bundlers which follow that pattern (Vite,
// webpack) copy the file; in Node it is read from the file system (load.mjs), not fetched.
const shippedModel = () => new URL('./models/cifar10.safetensors', import.meta.url);

// model (default: the shipped CIFAR-10 model): the model file, a Keras HDF5 file (save_weights /
// save, Keras 2 or 3), a Keras 3 .keras archive or an ONNX model (exported by PyTorch), told apart by their bytes; or a
// TF.js model.json (by path or URL, its .bin files and a Teachable Machine metadata.json read beside it; or a list of
// Files holding them, or a .zip of them). arch (Keras
// weights-only files of another network than the seed one): the architecture JSON or a Keras config
// (Keras 3's config.json, Keras 2's model.to_json(); told apart by its "class_name"), as text or an
// object. mean, std, labels, size: what the file does not say (ONNX models mostly; see
// modelOptionsJson in load.mjs): the per-channel normalisation, the class names, and the input
// size of a model whose size is dynamic (an ONNX model's, a Keras config's whose input is
// [null, null, null, 3]). hdf5Timeout: the seconds a Keras file's HDF5 read may take (default 60;
// a damaged file can loop forever in HDF5). threads: how many threads the engine's passes use
// (default the machine's cores, at most 8); more than one needs a cross-origin isolated page
// (threaded core), else the engine runs on one thread with the same answers (engine.threads says
// which). An unknown key is an error.
export async function loadEngine(options = {}) {
  if (options === null || typeof options !== 'object') throw new Error('loadEngine takes {model: URL | path | ArrayBuffer | File | File[], ...} or nothing');
  const { model: given, arch, hdf5Timeout, threads: askedThreads, ...modelOptions } = options;
  const model = given ?? shippedModel();
  const [{ core, threads }, { bytes, source, tfjs }, optionsJson] = await Promise.all([coreFor(requestedThreads(askedThreads)),
    readModelInput(model),
    modelOptionsJson(modelOptions, 'loadEngine', ['model', 'arch', 'threads', 'mean', 'std', 'labels', 'size', 'hdf5Timeout'])]);
  const handle = await loadModel(core, bytes, source, { optionsJson, arch, tfjs, hdf5Timeout });
  return new Engine(core, handle, threads);
}
