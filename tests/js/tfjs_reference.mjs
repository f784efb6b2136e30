// An independent reference for the engine, written with TF.js from the model-file contract alone:
// its own safetensors + F16 reader, its own shape planning, the network as TF.js functional ops, and
// the class activation maps from tf.grad of the score with respect to a layer's output. Nothing here
// is shared with the C++ engine, so agreement between the two means something.
//
// Use the cpu backend for reference numbers (float32, deterministic):
//   import { setBackend, loadModelFile, camReference } from './tfjs_reference.mjs';
//   await setBackend('cpu');
//   const model = loadModelFile(fs.readFileSync('m.safetensors'));
//   const { cam } = camReference(model, inputFloat32HWC, 'conv2d_8', 'gradcam', 'auto', 'logit');
// The bench registers the wasm backend and reuses buildForward() on it.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

export { tf };

// tfjs-core's Node bundle (tf-core.node.js) registers no gradients: the union package
// @tensorflow/tfjs does that by importing tfjs-core/dist/register_all_gradients.js, which is ESM
// written for bundlers (extensionless relative imports, in a package without "type": "module").
// A small resolve/load hook lets Node load it as is. The gradient functions it registers are
// TF.js's own; the registries and the engine they use are process-global, so they serve the
// tensors of the Node bundle.
const TFJS_ESM_HOOK = `
const dist = '/@tensorflow/tfjs-core/dist/';
export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes(dist) && specifier.startsWith('.') && !specifier.endsWith('.js')) {
    try { return await next(specifier + '.js', context); } catch { return next(specifier + '/index.js', context); }
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.includes(dist) && !url.endsWith('/tf-core.node.js')) return next(url, { ...context, format: 'module' });
  return next(url, context);
}`;
if (!tf.getGradient('Conv2D')) {
  register('data:text/javascript,' + encodeURIComponent(TFJS_ESM_HOOK));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  if (!tf.getGradient('Conv2D')) throw new Error('TF.js gradients did not register');
}

// tf.setBackend, without the cpu backend's "install tfjs-node" notice on first use.
export async function setBackend(name) {
  if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} failed to initialise`);
  await tf.ready();
  const backend = tf.backend();
  if ('firstUse' in backend) backend.firstUse = false;
}

// ---------------------------------------------------------------------------------------------
// Model file: 8-byte little-endian header length N, N bytes of JSON, then the data section.

function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;  // zero and subnormals
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

function readTensor(bytes, dataStart, name, info) {
  if (!info || typeof info !== 'object') throw new Error(`tensor ${name}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = info;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`tensor ${name}: bad data_offsets`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const width = dtype === 'F32' ? 4 : dtype === 'F16' ? 2 : 0;
  if (!width) throw new Error(`tensor ${name}: unsupported dtype ${dtype}`);
  const [begin, end] = offsets;
  if (end < begin || end - begin !== count * width) {
    throw new Error(`tensor ${name}: ${end - begin} bytes for ${count} ${dtype} values`);
  }
  if (dataStart + end > bytes.length) throw new Error(`tensor ${name}: data past the end of the file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
  const data = new Float32Array(count);
  if (width === 4) for (let i = 0; i < count; i++) data[i] = view.getFloat32(4 * i, true);
  else for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(2 * i, true));
  return { shape, data, dtype };
}

// Output shape [h, w, c] of every layer, from the architecture alone.
export function planShapes(arch) {
  let h = arch.input.height, w = arch.input.width, c = arch.input.channels;
  const pair = (v, what, layer) => {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
      throw new Error(`layer ${layer.name}: ${what} must be two positive integers`);
    }
    return v;
  };
  const out = (n, k, s, padding) => (padding === 'same' ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1);
  const shapes = [];
  for (const layer of arch.layers) {
    switch (layer.type) {
      case 'conv2d': {
        const [kh, kw] = pair(layer.kernel, 'kernel', layer);
        const [sh, sw] = pair(layer.strides ?? [1, 1], 'strides', layer);
        const padding = layer.padding ?? 'valid';
        h = out(h, kh, sh, padding); w = out(w, kw, sw, padding); c = layer.filters;
        break;
      }
      case 'max_pool2d': {
        const [ph, pw] = pair(layer.pool, 'pool', layer);
        const [sh, sw] = pair(layer.strides ?? layer.pool, 'strides', layer);
        const padding = layer.padding ?? 'valid';
        h = out(h, ph, sh, padding); w = out(w, pw, sw, padding);
        break;
      }
      case 'flatten': c = h * w * c; h = 1; w = 1; break;
      case 'dense':
        if (h !== 1 || w !== 1) throw new Error(`layer ${layer.name}: dense on a ${h}x${w}x${c} input (flatten first)`);
        c = layer.units;
        break;
      case 'dropout': case 'batch_norm': break;
      default: throw new Error(`layer ${layer.name}: unknown type ${layer.type}`);
    }
    if (!(h > 0 && w > 0 && c > 0)) throw new Error(`layer ${layer.name}: empty output ${h}x${w}x${c}`);
    shapes.push([h, w, c]);
  }
  return shapes;
}

// bytes: Uint8Array / Buffer of a .safetensors file. Returns {arch, params, metadata, shapes} where
// params maps "<layer>.<param>" to {shape, data: Float32Array, dtype}.
export function loadModelFile(bytes) {
  if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
  if (bytes.length < 8) throw new Error('model file shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw new Error(`header length ${n} past the end of the file`);
  const headerLength = Number(n);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const dataStart = 8 + headerLength;
  const metadata = header.__metadata__ ?? {};
  if (typeof metadata.architecture !== 'string') throw new Error('no __metadata__.architecture');
  const arch = JSON.parse(metadata.architecture);
  if (arch.format !== 'gradcam-cnn') throw new Error(`architecture format ${arch.format}`);
  const params = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    params[name] = readTensor(bytes, dataStart, name, info);
  }
  const shapes = planShapes(arch);
  // Every parameter the architecture needs, with its Keras shape.
  let inC = arch.input.channels;
  const need = (name, shape) => {
    const p = params[name];
    if (!p) throw new Error(`missing tensor ${name}`);
    if (JSON.stringify(p.shape) !== JSON.stringify(shape)) {
      throw new Error(`tensor ${name}: shape ${JSON.stringify(p.shape)}, expected ${JSON.stringify(shape)}`);
    }
  };
  arch.layers.forEach((layer, i) => {
    if (layer.type === 'conv2d') {
      need(`${layer.name}.kernel`, [layer.kernel[0], layer.kernel[1], inC, layer.filters]);
      need(`${layer.name}.bias`, [layer.filters]);
    } else if (layer.type === 'dense') {
      need(`${layer.name}.kernel`, [inC, layer.units]);
      need(`${layer.name}.bias`, [layer.units]);
    } else if (layer.type === 'batch_norm') {
      for (const p of ['gamma', 'beta', 'moving_mean', 'moving_variance']) need(`${layer.name}.${p}`, [inC]);
    }
    inC = shapes[i][2];
  });
  return { arch, params, metadata, shapes };
}

// ---------------------------------------------------------------------------------------------
// The network as TF.js functional ops (NHWC, batch 1).

function activate(x, activation) {
  if (!activation || activation === 'linear') return x;
  if (activation === 'relu') return tf.relu(x);
  if (activation === 'softmax') return tf.softmax(x);
  throw new Error(`unknown activation ${activation}`);
}

// Returns {
//   layers, shapes, lastDense,
//   forward(x)            -> {outputs: [tensor per layer], logits, probabilities}  (x: [1,h,w,c])
//   head(i)               -> a => logits, running layers i+1.. on layer i's output
//   layer(i, x)           -> layer i's output (after its activation) from its input
//   dispose()
// }. Tensors returned are the caller's to dispose (use tf.tidy).
export function buildForward(model) {
  const { arch, params, shapes } = model;
  const layers = arch.layers;
  let lastDense = -1;
  layers.forEach((l, i) => { if (l.type === 'dense') lastDense = i; });
  if (lastDense < 0) throw new Error('no dense layer: no logits');

  const weights = layers.map((l) => {
    const t = (p) => tf.tensor(params[`${l.name}.${p}`].data, params[`${l.name}.${p}`].shape, 'float32');
    if (l.type === 'conv2d' || l.type === 'dense') return { kernel: t('kernel'), bias: t('bias') };
    if (l.type === 'batch_norm') {
      return { gamma: t('gamma'), beta: t('beta'), mean: t('moving_mean'), variance: t('moving_variance') };
    }
    return {};
  });

  // Layer i from its input; `preActivation` leaves the activation off (the logits).
  function layer(i, x, preActivation = false) {
    const l = layers[i], W = weights[i];
    switch (l.type) {
      case 'conv2d': {
        const y = tf.add(tf.conv2d(x, W.kernel, l.strides ?? [1, 1], l.padding ?? 'valid'), W.bias);
        return preActivation ? y : activate(y, l.activation);
      }
      case 'max_pool2d':
        return tf.maxPool(x, l.pool, l.strides ?? l.pool, l.padding ?? 'valid');
      case 'dropout':
        return x;  // inference
      case 'batch_norm': {
        const eps = l.epsilon ?? 1e-3;
        const norm = tf.div(tf.sub(x, W.mean), tf.sqrt(tf.add(W.variance, tf.scalar(eps))));
        return tf.add(tf.mul(W.gamma, norm), W.beta);
      }
      case 'flatten':
        return tf.reshape(x, [1, -1]);  // NHWC row-major, as Keras
      case 'dense': {
        const y = tf.add(tf.matMul(tf.reshape(x, [1, -1]), W.kernel), W.bias);
        return preActivation ? y : activate(y, l.activation);
      }
      default:
        throw new Error(`unknown layer type ${l.type}`);
    }
  }

  function forward(x) {
    const outputs = [];
    let logits = null;
    let h = x;
    for (let i = 0; i < layers.length; i++) {
      if (i === lastDense) {
        logits = layer(i, h, true);
        h = activate(logits, layers[i].activation);
      } else {
        h = layer(i, h);
      }
      outputs.push(h);
    }
    return { outputs, logits, probabilities: tf.softmax(logits) };
  }

  // The part of the network above layer i: layer i's output -> logits.
  function head(i) {
    return (a) => {
      let h = a;
      for (let j = i + 1; j < lastDense; j++) h = layer(j, h);
      return layer(lastDense, h, true);
    };
  }

  function dispose() {
    for (const W of weights) for (const t of Object.values(W)) t.dispose();
  }

  return { layers, shapes, lastDense, forward, head, layer, dispose };
}

// ---------------------------------------------------------------------------------------------
// Class activation maps. A and G are Float32Array h*w*c (HWC); maps are computed in float64.

export const METHODS = ['gradcam', 'hirescam', 'layercam'];

// Returns {height, width, values: Float64Array, max, magnitude}; magnitude = max over positions of
// sum_k |term_k| (the size of what was summed, for judging float error when the terms cancel).
export function camFromActivations(method, A, G, h, w, c) {
  const hw = h * w;
  const values = new Float64Array(hw);
  let max = 0, magnitude = 0;
  let weights = null;
  if (method === 'gradcam') {
    weights = new Float64Array(c);
    for (let p = 0; p < hw; p++) for (let k = 0; k < c; k++) weights[k] += G[p * c + k];
    for (let k = 0; k < c; k++) weights[k] /= hw;
  } else if (method !== 'hirescam' && method !== 'layercam') {
    throw new Error(`reference has no method ${method}`);
  }
  for (let p = 0; p < hw; p++) {
    let sum = 0, abs = 0;
    for (let k = 0; k < c; k++) {
      const a = A[p * c + k], g = G[p * c + k];
      const term = method === 'gradcam' ? weights[k] * a : method === 'hirescam' ? g * a : Math.max(g, 0) * a;
      sum += term;
      abs += Math.abs(term);
    }
    values[p] = Math.max(sum, 0);
    if (values[p] > max) max = values[p];
    if (abs > magnitude) magnitude = abs;
  }
  return { height: h, width: w, values, max, magnitude };
}

export function resolveLayer(model, layerName) {
  const layers = model.arch.layers;
  if (layerName === undefined || layerName === null || layerName === '' || layerName === 'auto') {
    for (let i = layers.length - 1; i >= 0; i--) if (layers[i].type === 'conv2d') return i;
    throw new Error('no conv layer');
  }
  const i = layers.findIndex((l) => l.name === layerName);
  if (i < 0) throw new Error(`no layer named ${layerName}`);
  if (layers[i].type !== 'conv2d') throw new Error(`layer ${layerName} is not a conv layer`);
  return i;
}

export function resolveTarget(model, target, probabilities) {
  if (target === undefined || target === null || target === 'auto') {
    let best = 0;
    for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[best]) best = i;
    return best;
  }
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  const i = model.arch.classes.indexOf(target);
  if (i < 0) throw new Error(`no class ${target}`);
  return i;
}

// A reference session for one input: one forward pass, then gradients at any layer on demand
// (memoised per layer, target and score), so a test sweeping layers x methods x targets x scores
// runs the forward once.
export class Reference {
  constructor(model, input) {
    this.model = model;
    this.net = model.net ?? (model.net = buildForward(model));
    const { height, width, channels } = model.arch.input;
    const data = input instanceof Float32Array ? input : Float32Array.from(input);
    if (data.length !== height * width * channels) {
      throw new Error(`input has ${data.length} values, the model takes ${height}x${width}x${channels}`);
    }
    this.x = tf.tensor4d(data, [1, height, width, channels]);
    const { outputs, logits, probabilities } = this.net.forward(this.x);
    this.outputs = outputs;  // kept: the activations
    this.logits = logits.dataSync().slice();
    this.probabilities = probabilities.dataSync().slice();
    logits.dispose();
    probabilities.dispose();
    this.activations = new Map();
    this.gradients = new Map();
  }

  activation(i) {
    if (!this.activations.has(i)) this.activations.set(i, this.outputs[i].dataSync().slice());
    return this.activations.get(i);
  }

  // d score / d (layer i's output), Float32Array HWC.
  gradient(i, target, score) {
    const key = `${i}|${target}|${score}`;
    if (!this.gradients.has(key)) {
      const head = this.net.head(i);
      const scoreOf = (a) => {
        const logits = head(a);
        const s = score === 'probability' ? tf.softmax(logits) : score === 'logit' ? logits : null;
        if (!s) throw new Error(`unknown score ${score}`);
        return tf.sum(tf.slice(s, [0, target], [1, 1]));
      };
      const g = tf.tidy(() => tf.grad(scoreOf)(this.outputs[i]));
      this.gradients.set(key, g.dataSync().slice());
      g.dispose();
    }
    return this.gradients.get(key);
  }

  cam(layerName, method, target = 'auto', score = 'logit') {
    const i = resolveLayer(this.model, layerName);
    const t = resolveTarget(this.model, target, this.probabilities);
    const [h, w, c] = this.model.shapes[i];
    const cam = camFromActivations(method, this.activation(i), this.gradient(i, t, score), h, w, c);
    return { layer: { name: this.model.arch.layers[i].name, index: i, height: h, width: w, channels: c },
      target: t, logits: this.logits, probabilities: this.probabilities, cam };
  }

  dispose() {
    this.x.dispose();
    for (const t of this.outputs) t.dispose();
  }
}

// One-shot form: input is h*w*c floats (HWC, already scaled, as the CLI's --dump-input).
export function camReference(model, input, layerName, method = 'gradcam', target = 'auto', score = 'logit') {
  const ref = new Reference(model, input);
  try {
    return ref.cam(layerName, method, target, score);
  } finally {
    ref.dispose();
  }
}
