// load.mjs: the one JS path from a model file to an engine handle, for the JS API (gradcam.mjs)
// and the page (web/page.js). Both WebAssembly programs link the same loader
// (engine/js/load.cpp), so this module only needs the Emscripten module to call it on:
//   readFileBytes   the bytes of a file given as a File/Blob, URL, path (Node), ArrayBuffer or typed array
//   modelOptionsJson what a model file may not say (mean, std, labels, size), as the loader's JSON
//   readModelInput  a model as the API and the page take it: a file, or a list of Files (TF.js)
//   loadModel       a model file, a Keras file (read with h5wasm in a worker, keras.mjs) or a TF.js model.json
//                   with its files (tfjs.mjs) -> a handle
//   setModelOptions new mean/std/labels for a loaded engine
import { lastError, megabytes, withBytes, withString } from './abi.mjs';
import { checkHdf5Timeout, isHdf5, isZip, readKerasArchive, readKerasFile } from './keras.mjs';
import { tfjsFromFileList, tfjsFromZip, tfjsModelInput, weightPaths } from './tfjs.mjs';

export const isNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// One of Node's own modules ('fs', 'fs/promises'), reached without an `import('node:fs')` that a
// bundler building for the browser would try to resolve and fail on (esbuild does): Node >= 20.16
// hands it over directly; older Node imports it by a name that is not a literal.
export async function nodeModule(name) {
  if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
  return import(`node:${name}`);
}

const tooLarge = (label, size, maxBytes) => new Error(`${label} is ${megabytes(size)}; files over ${megabytes(maxBytes)} are not read`);

// The bytes of a file and the name messages use for it: `name` if given, else the file's own name,
// path or URL, else `what` ('model', 'labels', 'image'). maxBytes: larger files are refused before
// they are read (where their size is known first).
export async function readFileBytes(file, what = 'model', { name, maxBytes = Infinity } = {}) {
  if (typeof Blob !== 'undefined' && file instanceof Blob) {
    const label = name || file.name || what;
    if (file.size > maxBytes) throw tooLarge(label, file.size, maxBytes);
    try {
      return { bytes: new Uint8Array(await file.arrayBuffer()), source: label };
    } catch (e) {
      throw new Error(`${label}: the browser could not read the file (${e.message})`);
    }
  }
  if (file instanceof ArrayBuffer) return { bytes: new Uint8Array(file), source: name || what };
  if (ArrayBuffer.isView(file)) {
    return { bytes: new Uint8Array(file.buffer, file.byteOffset, file.byteLength), source: name || what };
  }
  if (typeof file !== 'string' && !(file instanceof URL)) {
    throw new Error(`the ${what} must be a File, Blob, URL, path, ArrayBuffer or typed array`);
  }
  const url = String(file);
  if (isNode && !/^(https?|data|blob):/.test(url)) {
    const fs = await nodeModule('fs/promises');
    const path = url.startsWith('file:') ? new URL(url) : url;
    try {
      return { bytes: new Uint8Array(await fs.readFile(path)), source: name || url };
    } catch (e) {
      throw new Error(`${url}: cannot read ${what} file (${e.code || e.message})`);
    }
  }
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: cannot download ${what} (${e.message})`);
  }
  if (!response.ok) throw new Error(`${url}: cannot download ${what} (HTTP ${response.status})`);
  const size = Number(response.headers.get('Content-Length'));
  if (size > maxBytes) throw tooLarge(url, size, maxBytes);
  return { bytes: new Uint8Array(await response.arrayBuffer()), source: name || url };
}

const isFileList = (x) => Array.isArray(x) || (typeof FileList !== 'undefined' && x instanceof FileList);

// A model as the JS API and the page take it: anything readFileBytes reads, or a list of Files
// (a TF.js model.json with its .bin files and metadata.json). {bytes, source, tfjs}: tfjs is set
// for a TF.js model (tfjs.mjs: its JSON and a reader for the files beside it).
export async function readModelInput(model, options = {}) {
  if (isFileList(model)) {
    const tfjs = await tfjsFromFileList(model);
    if (!tfjs) throw new Error('none of the files is a TF.js model.json (a list of files is a model.json with its .bin files)');
    return { bytes: tfjs.bytes, source: tfjs.source, tfjs };
  }
  const { bytes, source } = await readFileBytes(model, 'model', options);
  return { bytes, source, tfjs: await tfjsModelInput(model, bytes, source) };
}

// What a model file may not say (LoadOptions in engine.h) as the JSON the core takes; the core's
// contract (parse_load_options) checks every value. mean and std: three numbers each
// (torchvision's x = (pixel/255 - mean) / std); null or [] for none. labels: the class names as an
// array of strings, or a labels file (one name per line) as its bytes (File, Blob, ArrayBuffer,
// typed array), as its text (a string holding a line break), or as a URL or path (any other
// string): a file is read here, the engine parses its text. Keys left undefined are not sent.
// `caller` and `valid` name the function and its keys in the message for an unknown key.
export async function modelOptionsJson(options, caller, valid) {
  const out = {};
  for (const [key, value] of Object.entries(options)) {
    if (!valid.includes(key)) {
      throw new Error(`${caller}: unknown option "${key}" (valid: ${valid.join(', ')})`);
    }
    if (value === undefined) continue;
    out[key] = key === 'labels' && value !== null ? await labelsValue(value) : value;
  }
  return optionsText(out);
}

// An options object as the JSON the core reads. JSON has no NaN or Infinity (stringify would
// send null, which means "absent"): such a value is an error naming its key, not a default.
export function optionsText(options) {
  return JSON.stringify(options, (key, value) => {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${key} must be a finite number, not ${value}`);
    return value;
  });
}

async function labelsValue(labels) {
  if (Array.isArray(labels)) return labels;
  if (typeof labels === 'string' && /[\r\n]/.test(labels)) return labels;
  const isBlob = typeof Blob !== 'undefined' && labels instanceof Blob;
  if (typeof labels !== 'string' && !(labels instanceof URL) && !(labels instanceof ArrayBuffer) && !ArrayBuffer.isView(labels) && !isBlob) {
    throw new Error('labels must be an array of class names or a labels file (URL, path, File, ArrayBuffer or its text)');
  }
  // The engine reads the text (parse_labels: one name per line, trailing blank lines ignored).
  const { bytes } = await readFileBytes(labels, 'labels');
  return new TextDecoder().decode(bytes);
}

// A model file (safetensors, ONNX) or a Keras HDF5 file / .keras archive, told apart by their bytes,
// loaded into `module` (the JS API's core or the page's app). optionsJson: modelOptionsJson's
// result (for a Keras file as natively: size for a config whose input size is open, mean/std/labels
// over the file's own); arch: a Keras weights file's architecture (a Keras config or the
// architecture JSON, text or object); hdf5Timeout: seconds a Keras file's HDF5 read may take
// (keras.mjs, checkHdf5Timeout). Resolves with the engine's handle; rejects with the loader's message.
export async function loadModel(module, bytes, source, { optionsJson = '{}', arch, tfjs, hdf5Timeout } = {}) {
  const timeout = checkHdf5Timeout(hdf5Timeout);  // a bad value is an error whatever the file
  let handle;
  if (!tfjs && isZip(bytes)) tfjs = await tfjsFromZip(bytes, source);  // a zipped model folder
  if (tfjs) {
    if (arch !== undefined && arch !== null) throw new Error(`${tfjs.source}: arch applies to Keras weights files only`);
    handle = await loadTfjs(module, tfjs, optionsJson);
  } else if (isHdf5(bytes) || isZip(bytes)) {
    const { manifest, data } = await (isZip(bytes) ? readKerasArchive(bytes, source, { timeout })
      : readKerasFile(bytes, source, '', { timeout }));
    const archText = arch === undefined || arch === null ? '' : typeof arch === 'string' ? arch : JSON.stringify(arch);
    const floats = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    handle = withBytes(module, floats, (dataPtr) => withString(module, manifest, (manifestPtr) =>
      withString(module, archText, (archPtr) => withString(module, source, (src) =>
        withString(module, optionsJson, (opt) => module._gc_load_keras(manifestPtr, dataPtr, data.length, archPtr, src, opt))))),
    source);
  } else {
    if (arch !== undefined && arch !== null) throw new Error(`${source}: arch applies to Keras weights files only`);
    handle = loadOnnxFile(module, bytes, source, optionsJson);
    if (handle === -1) {
      handle = withBytes(module, bytes, (ptr) => withString(module, source, (src) => withString(module, optionsJson, (opt) =>
        module._gc_load(ptr, bytes.length, src, opt))), source);
    }
  }
  if (!handle) throw new Error(lastError(module));
  return handle;
}

// An ONNX file through the module's in-memory file system (gc_load_onnx_file): the file system
// keeps the caller's bytes (canOwn: no copy) in JS, outside the wasm memory, and the engine reads
// them as it decodes them, so the wasm memory holds the weights and never the file too. The handle,
// 0 on failure, or -1 when the bytes are not ONNX (the caller hands them to gc_load).
let onnxFiles = 0;
function loadOnnxFile(module, bytes, source, optionsJson) {
  const file = `/gradcam-model-${++onnxFiles}`;
  module.FS.writeFile(file, bytes, { canOwn: true });
  try {
    return withString(module, file, (p) => withString(module, source, (src) => withString(module, optionsJson, (opt) =>
      module._gc_load_onnx_file(p, src, opt))));
  } finally {
    module.FS.unlink(file);
  }
}

// A TF.js model.json and the files it names, as far as they are found (the engine says which is
// missing), plus metadata.json when there may be one (mayHaveMetadata).
async function loadTfjs(module, { bytes, source, json, beside, listed }, optionsJson) {
  const files = [];
  for (const path of weightPaths(json)) {
    const data = await beside(path);
    if (data) files.push({ path, data });
  }
  const metadata = listed || mayHaveMetadata(json) ? await beside('metadata.json') : null;
  const all = new Uint8Array(files.reduce((n, f) => n + f.data.length, 0));
  let offset = 0;
  const list = files.map(({ path, data }) => {
    all.set(data, offset);
    offset += data.length;
    return { path, offset: offset - data.length, size: data.length };
  });
  const text = new TextDecoder().decode(bytes);
  const metaText = metadata ? new TextDecoder().decode(metadata) : null;
  return withBytes(module, all, (dataPtr) => withString(module, text, (modelPtr) =>
    withString(module, JSON.stringify(list), (listPtr) => withString(module, source, (src) =>
      withString(module, optionsJson, (opt) => {
        const call = (metaPtr) => module._gc_load_tfjs(modelPtr, metaPtr, listPtr, dataPtr, all.length, src, opt);
        return metaText === null ? call(0) : withString(module, metaText, call);
      })))), source);
}

// Whether a model.json fetched from a server may have a metadata.json beside it, which is only worth
// a request when the answer may be yes: a browser logs every failed fetch to the console, and
// tensorflowjs_converter writes no metadata.json. Teachable Machine's exports come from TF.js's own
// model.save() in the browser, whose model.json says "convertedBy": null; the converter's names
// itself ("TensorFlow.js Converter v4.22.0"). A list of files is looked through at no cost.
function mayHaveMetadata(json) {
  return typeof json.convertedBy !== 'string';
}

// New mean/std and/or labels for a loaded engine (modelOptionsJson's JSON); on an error nothing
// changed and this throws the engine's message.
export function setModelOptions(module, handle, optionsJson) {
  if (!withString(module, optionsJson, (p) => module._gc_set_model_options(handle, p))) throw new Error(lastError(module));
}

// The engine's info JSON, parsed.
export function engineInfo(module, handle) {
  const info = module._gc_info(handle);
  if (!info) throw new Error(lastError(module));
  return JSON.parse(module.UTF8ToString(info));
}
