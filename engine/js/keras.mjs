// keras.mjs: reads a Keras HDF5 file in JS with h5wasm (HDF5 compiled to WebAssembly, loaded only
// when a Keras file is given) and returns what the engine's C ABI takes: a manifest of the weight
// tensors (layer, weight name, shape, offset) with the model_config JSON, and one Float32Array of
// their values. The engine maps them onto the architecture (engine/src/formats/keras_mapping.cpp),
// as natively. Layouts, as engine/src/formats/keras_hdf5.cpp reads them natively:
//  - Keras 2 save_weights / save (keras/saving/legacy/hdf5_format.py): attribute layer_names (or
//    its chunks layer_names0, 1, ...), a group per layer with attribute weight_names, datasets at
//    <layer>/<weight name>; a whole model adds attribute model_config and puts all this under
//    model_weights/;
//  - Keras 3 .weights.h5 (keras/src/saving/saving_lib.py, H5IOStore): layers/<class>[_N]/vars/0..n-1,
//    nested models below (layers/functional/layers/conv2d/vars/0); a tensor's layer is its path.
// Sizes are checked before any dataset is read: the file is not trusted. HDF5 itself is not
// trusted either: a damaged global heap sends libhdf5, and so h5wasm, into an endless loop
// (tests/fuzz/regressions/keras/hdf5-vlen-global-heap-endless-loop.h5), so the HDF5 part runs in a
// Worker (keras_worker.mjs; worker_threads in Node) that is terminated after a time limit.

const MAX_TENSOR_VALUES = 2 ** 27;  // the engine's ModelLimits::kMaxTensorElements
const MAX_TOTAL_VALUES = 2 ** 27;
const H5T_FLOAT = 1;
const TYPE_CLASS = { 0: 'integer', 2: 'time', 3: 'string', 4: 'bitfield', 5: 'opaque', 6: 'compound', 7: 'reference',
  8: 'enum', 9: 'variable-length', 10: 'array' };

let h5Promise = null;
let fileSerial = 0;

// h5wasm through h5wasm.mjs: in the site, the copy the site serves itself (no CDN, and the page's
// CSP allows it); in the npm package, the `h5wasm` dependency, which Node and bundlers resolve.
function loadH5wasm() {
  if (!h5Promise) {
    h5Promise = import('./h5wasm.mjs').then(async (h5) => { await h5.ready; return h5; }, (e) => {
      throw new Error(`h5wasm, which reads Keras files, could not be loaded (${e.message}); in a browser without a `
        + 'bundler, map "h5wasm" to its dist/esm/hdf5_hl.js with an import map');
    });
    h5Promise.catch(() => { h5Promise = null; });
  }
  return h5Promise;
}

export function isHdf5(bytes) {
  const sig = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
  return bytes.length >= 8 && sig.every((b, i) => bytes[i] === b);
}

// An attribute as a list of strings ([] for Keras's empty weight_names, a float array).
function strings(obj, name, source) {
  const attrs = obj.attrs;
  let values;
  if (name in attrs) {
    values = attrs[name].value;
  } else if (`${name}0` in attrs) {
    values = [];
    for (let i = 0; `${name}${i}` in attrs; i++) values = values.concat(Array.from(attrs[`${name}${i}`].value));
  } else {
    return null;
  }
  if (typeof values === 'string') return [values];
  if (values && values.length === 0) return [];
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) {
    throw new Error(`${source}: attribute ${name} is not text`);
  }
  return values;
}

function describe(dataset, what, source) {
  if (dataset?.type === 'ExternalLink') throw new Error(`${source}: tensor ${what} is a link to another file`);
  if (!dataset || dataset.type !== 'Dataset') throw new Error(`${source}: tensor ${what} is listed but missing from the file`);
  const meta = dataset.metadata;
  // Normalization's count is an integer scalar (tf-keras and Keras 3 both store it so).
  const counter = meta.type === 0 && (dataset.shape || []).length === 0;
  if (counter) return { shape: [], n: 1 };
  if (meta.type !== H5T_FLOAT) {
    throw new Error(`${source}: tensor ${what} holds ${TYPE_CLASS[meta.type] || 'non-float'} values; Keras weights are floats`);
  }
  // h5wasm has no float16 view in every JS engine: those files go through the native converter.
  if (![4, 8].includes(meta.size)) {
    throw new Error(`${source}: tensor ${what} holds ${meta.size * 8}-bit floats; convert the file with gradcam import-keras`);
  }
  const shape = dataset.shape || [];
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n) || n > MAX_TENSOR_VALUES) {
      throw new Error(`${source}: tensor ${what} is larger than the limit of ${MAX_TENSOR_VALUES} values`);
    }
  }
  return { shape, n };
}

export function isZip(bytes) {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

const MAX_ENTRY_BYTES = 2 ** 30;  // the engine's ModelLimits::kMaxFileBytes

let crcTable = null;
// CRC-32 (ISO 3309, as zip uses it).
function crc32(bytes) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A raw deflate stream (zip's method 8) into exactly `size` bytes, through the platform's
// DecompressionStream (browsers, Node 18+): the wasm engine carries no inflater.
async function inflateRaw(data, size, name, bad) {
  const out = new Uint8Array(size);
  let done = 0;
  const reader = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw bad(`${name}: damaged deflate data (${e.message})`);
    }
    if (chunk.done) break;
    if (chunk.value.length > size - done) {
      reader.cancel().catch(() => {});
      throw bad(`${name} inflates to more bytes than the archive says (damaged archive)`);
    }
    out.set(chunk.value, done);
    done += chunk.value.length;
  }
  if (done < size) throw bad(`${name} inflates to fewer bytes than the archive says (damaged archive)`);
  return out;
}

// The entries of a zip archive's central directory (with its Zip64 records), as
// engine/src/formats/zip_archive.cpp reads it natively, with the same messages: {name, flags,
// method, crc, csize, usize, local} each, every offset still to be checked when it is read.
export function zipDirectory(bytes, source) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (p) => view.getUint16(p, true), u32 = (p) => view.getUint32(p, true);
  const u64 = (p) => Number(view.getBigUint64(p, true));
  const bad = (why) => new Error(`${source}: ${why}`);
  let eocd = -1;
  for (let back = 22; back <= bytes.length && back <= 22 + 65535; back++) {
    if (u32(bytes.length - back) === 0x06054b50) { eocd = bytes.length - back; break; }
  }
  if (eocd < 0) throw bad('not a zip archive (no end of central directory)');
  let entries = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    if (eocd < 20 || u32(eocd - 20) !== 0x07064b50) throw bad('zip64 archive without its locator');
    const z = u64(eocd - 20 + 8);
    if (z > bytes.length - 56 || u32(z) !== 0x06064b50) throw bad('zip64 record outside the archive');
    entries = u64(z + 32); cdSize = u64(z + 40); cdOffset = u64(z + 48);
  }
  if (cdOffset > bytes.length || cdSize > bytes.length - cdOffset) throw bad('central directory outside the archive (truncated?)');
  const end = cdOffset + cdSize, out = [];
  for (let i = 0, p = cdOffset; i < entries; i++) {
    if (end - p < 46 || u32(p) !== 0x02014b50) throw bad('damaged central directory');
    const n = u16(p + 28), extra = u16(p + 30), comment = u16(p + 32);
    if (end - p - 46 < n + extra + comment) throw bad('damaged central directory');
    const f = {
      name: new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + n)), flags: u16(p + 8), method: u16(p + 10),
      crc: u32(p + 16), csize: u32(p + 20), usize: u32(p + 24), local: u32(p + 42),
    };
    for (let e = p + 46 + n; e + 4 <= p + 46 + n + extra;) {
      const id = u16(e), len = u16(e + 2);
      if (e + 4 + len > p + 46 + n + extra) throw bad('damaged zip64 extra field');
      let q = e + 4;
      if (id === 1) {
        for (const k of ['usize', 'csize', 'local']) {
          if (f[k] !== 0xffffffff) continue;
          if (q + 8 > e + 4 + len) throw bad('damaged zip64 extra field');
          f[k] = u64(q); q += 8;
        }
      }
      e += 4 + len;
    }
    out.push(f);
    p += 46 + n + extra + comment;
  }
  return out;
}

// One entry of zipDirectory's, stored (as Keras writes .keras archives) or deflated (as a
// re-zipped one has it): every offset checked against the archive, at most the model limit once
// inflated, its CRC-32 checked.
export async function readZipEntry(bytes, f, source) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (p) => view.getUint16(p, true), u32 = (p) => view.getUint32(p, true);
  const bad = (why) => new Error(`${source}: ${why}`);
  const { name, method } = f;
  if (f.flags & 1) throw bad(`${name} is encrypted (a password-protected zip); zip it again without a password`);
  if (method !== 0 && method !== 8) {
    throw bad(`${name} is compressed with zip method ${method}; stored and deflated entries are read: zip it again `
      + "with deflate (zip's default) or none");
  }
  if (f.usize > MAX_ENTRY_BYTES) throw bad(`${name} holds ${f.usize} bytes, over the ${MAX_ENTRY_BYTES / 2 ** 20} MiB model limit`);
  if (f.local > bytes.length - 30 || u32(f.local) !== 0x04034b50) throw bad(`${name}: local header outside the archive (truncated?)`);
  const data = f.local + 30 + u16(f.local + 26) + u16(f.local + 28);
  if (data > bytes.length || f.csize > bytes.length - data) throw bad(`${name} lies outside the archive (truncated?)`);
  let out;
  if (method === 0) {
    if (f.csize !== f.usize) throw bad(`${name} is stored with two different sizes (damaged archive)`);
    out = bytes.subarray(data, data + f.csize);
  } else {
    out = await inflateRaw(bytes.subarray(data, data + f.csize), f.usize, name, bad);
  }
  if (crc32(out) !== f.crc) throw bad(`${name} fails its CRC-32 check (damaged archive)`);
  return out;
}

async function zipEntry(bytes, name, source) {
  const f = zipDirectory(bytes, source).find((e) => e.name === name);
  if (!f) throw new Error(`${source}: the archive has no ${name}`);
  return readZipEntry(bytes, f, source);
}

// A Keras 3 .keras archive (keras/src/saving/saving_lib.py): config.json and model.weights.h5.
// options: as readKerasFile's.
export async function readKerasArchive(bytes, source = 'model', options = {}) {
  if (bytes.length < 22) throw new Error(`${source}: not a zip archive (too short)`);
  const config = new TextDecoder().decode(await zipEntry(bytes, 'config.json', source));
  return readKerasFile(await zipEntry(bytes, 'model.weights.h5', source), source, config, options);
}

// Keras's automatic numbering order: conv2d, conv2d_1, ..., conv2d_10 (HDF5 lists by name).
function kerasNameOrder(a, b) {
  const order = (s) => { const m = /^(.*)_(\d{1,9})$/.exec(s); return m ? [m[1], +m[2]] : [s, -1]; };
  const [x, i] = order(a), [y, j] = order(b);
  return x < y ? -1 : x > y ? 1 : i - j;
}

// Keras 3's layers/ tree (saving_lib.py: a saveable's own variables at <path>/vars/0..n-1, its
// children below <path>, a container's members named by class in snake case and numbered per
// class: layers/conv2d_1, a nested model's layers/functional/layers/conv2d), as
// engine/src/formats/keras_hdf5.cpp walks it: depth-first, a layer before its sublayers, siblings
// in Keras's numbering order; [{path, count}]. Links may form cycles: depth and groups are bounded.
function keras3Layers(root, path, depth, visited, source) {
  const bad = (why) => new Error(`${source}: ${why}`);
  if (depth > 16) throw bad(`${path} is nested more than 16 deep`);
  if (++visited.count > 4 * 4096) throw bad(`layers/ holds more than ${4 * 4096} groups`);
  // h5wasm returns an external link as itself (type ExternalLink): never followed, it would open
  // another file.
  const linked = (obj) => obj?.type === 'ExternalLink';
  const group = root.get(path);
  if (linked(group)) throw bad(`${path} is a link to another file, not a group`);
  const names = group.keys().sort(kerasNameOrder);
  const out = [];
  if (names.includes('vars')) {
    const vars = root.get(`${path}/vars`);
    if (linked(vars)) throw bad(`${path}/vars is a link to another file, not a group`);
    if (!vars || vars.type !== 'Group') throw bad(`${path}/vars is not a group`);
    const numbers = vars.keys().map((n) => {
      if (!/^\d{1,6}$/.test(n)) throw bad(`${path}/vars holds '${n}'; Keras numbers a layer's variables 0, 1, ...`);
      if (linked(root.get(`${path}/vars/${n}`))) throw bad(`${path}/vars/${n} is a link to another file, not a dataset`);
      return Number(n);
    }).sort((a, b) => a - b);
    numbers.forEach((n, i) => {
      if (n !== i) {
        throw bad(`${path}/vars has variables ${i ? `${numbers[i - 1]} then ` : ''}${n}; Keras numbers them 0, 1, ... without gaps`);
      }
    });
    if (numbers.length) out.push({ path, count: numbers.length });
  }
  for (const child of names) {
    if (child === 'vars') continue;
    if (linked(root.get(`${path}/${child}`))) throw bad(`${path}/${child} is a link to another file, not a group`);
    if (root.get(`${path}/${child}`)?.type !== 'Group') continue;
    out.push(...keras3Layers(root, `${path}/${child}`, depth + 1, visited, source));
  }
  return out;
}

// The time a Keras file's HDF5 read may take (loadEngine's hdf5Timeout), in seconds. A 256 MiB
// tensor reads in about 3 s on a busy 2-core machine (the worker's start included), so a file at
// the 512 MiB limit takes seconds, on a slow phone perhaps tens; the damaged files that loop never
// finish.
export const HDF5_TIMEOUT_S = 60;
const MAX_HDF5_TIMEOUT_S = 3600;

// hdf5Timeout as loadEngine takes it: seconds, a number in (0, 3600]; undefined for the default.
// Seconds and not milliseconds, as the messages count them: a value over an hour (60000, meant as
// ms) is refused rather than waited for.
export function checkHdf5Timeout(seconds) {
  if (seconds === undefined) return HDF5_TIMEOUT_S;
  if (typeof seconds !== 'number' || !(seconds > 0) || seconds > MAX_HDF5_TIMEOUT_S) {
    throw new Error(`hdf5Timeout must be a number of seconds, more than 0 and at most ${MAX_HDF5_TIMEOUT_S}, not ${
      typeof seconds === 'string' ? JSON.stringify(seconds) : String(seconds)}`);
  }
  return seconds;
}

// Reads bytes of a Keras HDF5 file: {manifest (JSON text), data (Float32Array)}. archiveConfig: a
// .keras archive's config.json, used when the file has no model_config. The read runs in a worker
// (readInWorker); where none can start (no Worker, a page whose CSP forbids workers, a bundle
// without keras_worker.mjs) it runs on this thread, unguarded. options.timeout: seconds
// (checkHdf5Timeout); past it the worker is terminated and this rejects naming the file.
export async function readKerasFile(bytes, source = 'model', archiveConfig = '', { timeout } = {}) {
  const seconds = checkHdf5Timeout(timeout);
  if (bytes.length === 0) throw new Error(`${source}: empty file`);
  const run = queue.then(async () => {
    const worker = await kerasWorker();
    if (!worker) return readKerasFileHere(bytes, source, archiveConfig);
    return readInWorker(worker, bytes, source, archiveConfig, seconds);
  });
  queue = run.catch(() => {});
  return run;
}

// One worker reads every Keras file in turn (h5wasm loads once), held alive only while it reads.
let workerStart = null;
let queue = Promise.resolve();

// One of Node's own modules without an `import('node:...')` that a bundler for the browser would
// try to resolve (as load.mjs's nodeModule; this module cannot import load.mjs, which imports it).
async function nodeBuiltin(name) {
  if (typeof process.getBuiltinModule === 'function') return process.getBuiltinModule(name);
  return import(`node:${name}`);
}

const inNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// The worker, wrapped to one shape for browsers and Node: {post, terminate, hold}, with `listener`
// set per read to {message, failure}. Resolves once the worker's module runs (it says 'ready'),
// with null when no worker can start here.
function kerasWorker() {
  if (!workerStart) {
    workerStart = startKerasWorker().catch(() => null);
  }
  return workerStart;
}

async function startKerasWorker() {
  const w = { listener: null };
  let raw, dead = false;
  // A worker that fails between reads is dropped: the next read starts another.
  const failed = (why) => (w.listener ? w.listener.failure(why) : w.terminate());
  if (inNode) {
    const { Worker } = await nodeBuiltin('worker_threads');
    // stdout/stderr of its own: piping them to this process's would open process.stdout, which
    // makes a pipe on fd 1 non-blocking, and the wasm CLI's writeSync of a large --json would then
    // stop at the pipe's 64 KiB (EAGAIN). The worker writes nothing anyway.
    raw = new Worker(new URL('./keras_worker.mjs', import.meta.url), { stdout: true, stderr: true });
    raw.unref();  // an idle reader never keeps Node running
    w.hold = (busy) => (busy ? raw.ref() : raw.unref());
    raw.on('message', (m) => w.listener?.message(m));
    raw.on('error', (e) => failed(e.message));
    raw.on('exit', (code) => failed(`the reader stopped with exit code ${code}`));
  } else {
    if (typeof Worker === 'undefined') return null;
    // This exact form lets bundlers (Vite, webpack) find and bundle the worker module.
    raw = new Worker(new URL('./keras_worker.mjs', import.meta.url), { type: 'module' });
    w.hold = () => {};
    raw.addEventListener('message', (e) => w.listener?.message(e.data));
    raw.addEventListener('error', (e) => { e.preventDefault(); failed(e.message || 'the reader failed'); });
  }
  w.post = (message, transfer) => raw.postMessage(message, transfer);
  w.terminate = () => {
    if (dead) return;  // Node's 'exit' follows a terminate: by then another worker may be starting
    dead = true;
    workerStart = null;
    w.listener = null;
    raw.terminate();
  };
  w.hold(true);
  try {
    await new Promise((resolve, reject) => {
      w.listener = { message: (m) => (m === 'ready' ? resolve() : reject(new Error('unexpected message'))), failure: reject };
    });
  } catch (e) {
    w.terminate();
    throw e;
  } finally {
    w.hold(false);
  }
  w.listener = null;
  return w;
}

function readInWorker(w, bytes, source, archiveConfig, seconds) {
  const copy = bytes.slice();  // the caller keeps its bytes; the copy moves to the worker
  w.hold(true);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.terminate();
      reject(new Error(`${source}: reading this HDF5 file did not finish within ${seconds} s: it is damaged or not a `
        + 'Keras file'));
    }, seconds * 1000);
    const end = () => { clearTimeout(timer); w.listener = null; w.hold(false); };
    w.listener = {
      message: (m) => {
        end();
        if (m.error) reject(new Error(m.error));
        else resolve({ manifest: m.manifest, data: m.data });
      },
      failure: (why) => {
        end();
        w.terminate();
        reject(new Error(`${source}: the HDF5 library failed on this file (${why}): it is damaged or not a Keras file`));
      },
    };
    w.post({ bytes: copy, source, archiveConfig }, [copy.buffer]);
  });
}

// readKerasFile on this thread (the worker's part). h5wasm throws its own exceptions on what it
// cannot parse (a damaged object header: "error - name not defined!"); they become one error naming
// the file, in the words the native reader uses when libhdf5 crashes.
export async function readKerasFileHere(bytes, source = 'model', archiveConfig = '') {
  await loadH5wasm();  // its own error says how to make h5wasm available
  try {
    return await readKerasHdf5(bytes, source, archiveConfig);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith(`${source}: `)) throw e;  // the reader's own error
    throw new Error(`${source}: the HDF5 library failed on this file (${e instanceof Error ? e.message : String(e)}): `
      + 'it is damaged or not a Keras file');
  }
}

async function readKerasHdf5(bytes, source, archiveConfig) {
  if (bytes.length === 0) throw new Error(`${source}: empty file`);
  const h5 = await loadH5wasm();
  const path = `/gradcam-keras-${++fileSerial}.h5`;
  h5.FS.writeFile(path, bytes);
  let file = null;
  try {
    let root;
    try {
      root = new h5.File(path, 'r');
    } catch (e) {
      root = null;
    }
    // h5wasm returns a File with an invalid id (<= 0) when HDF5 cannot open it.
    if (!root || !(Number(root.file_id) > 0)) throw new Error(`${source}: not a readable HDF5 file (truncated or damaged)`);
    file = root;
    const manifest = { model_config: '', keras_version: '', tensors: [] };
    const found = [];  // [entry, dataset]
    let weights = root;
    const config = strings(root, 'model_config', source);
    if (config) {
      if (config.length !== 1) throw new Error(`${source}: attribute model_config must be one JSON text`);
      manifest.model_config = config[0];
      weights = root.get('model_weights');
      if (!weights || weights.type !== 'Group') throw new Error(`${source}: a whole-model file without its model_weights group`);
    }
    if (!manifest.model_config) manifest.model_config = archiveConfig;
    for (const obj of [root, weights]) {
      const v = !manifest.keras_version && strings(obj, 'keras_version', source);
      if (v && v.length === 1) manifest.keras_version = v[0];
    }
    const layerNames = strings(weights, 'layer_names', source);
    if (layerNames) {
      for (const layer of layerNames) {
        const g = layer ? weights.get(layer) : null;
        if (g?.type === 'ExternalLink') throw new Error(`${source}: layer ${layer} is a link to another file, not a group`);
        if (!g || g.type !== 'Group') throw new Error(`${source}: layer ${layer} is listed in layer_names but has no group`);
        for (const w of strings(g, 'weight_names', source) || []) {
          found.push([{ layer, weight: w }, g.get(w), `${layer}/${w}`]);
        }
      }
    } else if (root.get('layers')?.type === 'Group') {
      const visited = { count: 0 };
      for (const { path, count } of keras3Layers(root, 'layers', 0, visited, source)) {
        for (let i = 0; i < count; i++) found.push([{ layer: path, weight: String(i) }, root.get(`${path}/vars/${i}`), `${path}/${i}`]);
      }
    } else {
      throw new Error(`${source}: not a Keras weights file: no layer_names attribute (Keras 2 save_weights or save) ` +
        'and no layers/ group (Keras 3 .weights.h5)');
    }
    let total = 0;
    const sizes = found.map(([entry, dataset, what]) => {
      const { shape, n } = describe(dataset, what, source);
      entry.shape = shape;
      entry.offset = total;
      total += n;
      if (total > MAX_TOTAL_VALUES) throw new Error(`${source}: the weights hold more than ${MAX_TOTAL_VALUES} values`);
      return n;
    });
    const data = new Float32Array(total);
    found.forEach(([entry, dataset, what], i) => {
      let values;
      try {
        values = sizes[i] ? dataset.value : [];
        // A scalar comes back as a number, an int64 one as a BigInt.
        if (typeof values === 'number' || typeof values === 'bigint') values = [Number(values)];
      } catch (e) {
        throw new Error(`${source}: cannot read tensor ${what} (the file is truncated or damaged)`);
      }
      if (values.length !== sizes[i]) throw new Error(`${source}: cannot read tensor ${what}`);
      data.set(values, entry.offset);  // float64 becomes float32 here
      manifest.tensors.push(entry);
    });
    return { manifest: JSON.stringify(manifest), data };
  } finally {
    try { file?.close(); } catch (e) { /* a file that failed to open has nothing to close */ }
    try { h5.FS.unlink(path); } catch (e) { /* already gone */ }
  }
}
