// An independent reference for Keras files: TF.js layers (@tensorflow/tfjs-layers 4.22, cpu backend)
// builds the network from the Keras 2 file's own model_config, with the weights that file holds (read
// here with h5wasm), and computes logits, probabilities and Grad-CAM at a named layer. Nothing is
// shared with the engine's importer, ops or readers.
//
//   import { kerasReference } from './keras_reference.mjs';
//   const ref = await kerasReference('resnet.h5', { dialect: 'keras2' });
//   const { logits, probabilities, cam } = ref.explain(inputHWC, 'conv3_block2_out', target);
//
// (TF.js camel-cases every string in a layer config, so the ops' names are camelCase.)
// What TF.js lacks or defines differently is written here in tfjs-core ops (class KerasReference),
// each as Keras defines it: BatchNormalization without center or scale (TF.js's gradient of its
// fused kernel fails without an offset or a scale), Subtract, SpatialDropout2D (identity at inference), Normalization
// ((x - mean) / sqrt(variance), Keras clamps the variance at epsilon 1e-7), Conv2D with groups,
// ReLU with negative_slope and threshold, GlobalAveragePooling2D keepdims, and hard_sigmoid
// (Keras 2: clip(0.2 x + 0.5, 0, 1); Keras 3: clip(x / 6 + 0.5, 0, 1), so `dialect` says whose), and
// Keras 3's silu (x sigmoid(x)) and hard_silu / hard_swish (x relu6(x + 3) / 6).
//
// Grad-CAM's gradient d(logit)/d(layer output) comes from a probe: an identity layer inserted after
// the named layer (wherever it sits, inside a nested model too) that adds a zero variable; the
// gradient with respect to that variable, by tf.variableGrads, is exactly the gradient with respect
// to the layer's output, and the probe keeps its input, the activations.
import fs from 'node:fs';
import * as h5 from 'h5wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, setBackend, camFromActivations } from './tfjs_reference.mjs';

// ---- reading the Keras 2 .h5 (save_model_to_hdf5's layout) ------------------------------------------

let serial = 0;

function textAttr(obj, name) {
  const v = obj.attrs[name]?.value;
  if (v === undefined) return null;
  if (typeof v === 'string') return [v];
  return Array.from(v, String);
}

// {config, weights: Map("layer/weight" -> {shape, data: Float32Array})} from model.save("m.h5").
export async function readKeras2(file) {
  await h5.ready;
  const name = `keras-ref-${process.pid}-${serial++}.h5`;
  h5.FS.writeFile(name, fs.readFileSync(file));
  const f = new h5.File(name, 'r');
  try {
    const config = JSON.parse(f.attrs.model_config.value);
    const group = f.get('model_weights');
    const weights = new Map();
    for (const layer of textAttr(group, 'layer_names')) {
      const g = group.get(layer);
      for (const wn of textAttr(g, 'weight_names') ?? []) {
        const d = g.get(wn);
        if (!d) throw new Error(`${file}: ${layer}/${wn} is missing`);
        weights.set(wn.replace(/:0$/, ''), { shape: d.shape, data: Float32Array.from(d.value, Number) });
      }
    }
    return { config, weights };
  } finally {
    f.close();
    h5.FS.unlink(name);
  }
}

// ---- the layers TF.js lacks, in tfjs-core ops ---------------------------------------------------

class KerasReference extends tfl.layers.Layer {
  static className = 'KerasReference';

  constructor(config) {
    super(config);
    this.spec = config.spec;
    this.supportsMasking = true;
  }

  build(inputShape) {
    const s = this.spec;
    const shape = Array.isArray(inputShape[0]) ? inputShape[0] : inputShape;
    const c = shape.at(-1);
    const zeros = tfl.initializers.zeros();
    if (s.op === 'groupedConv') {
      const [kh, kw] = s.kernelSize;
      this.kernel = this.addWeight('kernel', [kh, kw, c / s.groups, s.filters], 'float32', zeros);
      if (s.useBias) this.bias = this.addWeight('bias', [s.filters], 'float32', zeros);
    } else if (s.op === 'normalization') {
      this.mean = this.addWeight('mean', [c], 'float32', zeros, undefined, false);
      this.variance = this.addWeight('variance', [c], 'float32', zeros, undefined, false);
    } else if (s.op === 'batchNorm') {
      if (s.scale) this.gamma = this.addWeight('gamma', [c], 'float32', zeros);
      if (s.center) this.beta = this.addWeight('beta', [c], 'float32', zeros);
      this.movingMean = this.addWeight('moving_mean', [c], 'float32', zeros, undefined, false);
      this.movingVariance = this.addWeight('moving_variance', [c], 'float32', zeros, undefined, false);
    } else if (s.op === 'probe') {
      this.delta = this.addWeight('delta', shape.slice(1), 'float32', zeros);
    }
    this.built = true;
  }

  computeOutputShape(inputShape) {
    const s = this.spec;
    if (s.op === 'subtract') return inputShape[0];
    if (s.op === 'gapKeepdims') return [inputShape[0], 1, 1, inputShape[3]];
    if (s.op === 'groupedConv') {
      const out = (n, k, st, d) => (s.padding === 'same' ? Math.ceil(n / st) : Math.floor((n - (k - 1) * d - 1) / st) + 1);
      return [inputShape[0], out(inputShape[1], s.kernelSize[0], s.strides[0], s.dilationRate[0]),
        out(inputShape[2], s.kernelSize[1], s.strides[1], s.dilationRate[1]), s.filters];
    }
    return inputShape;
  }

  call(inputs) {
    return tf.tidy(() => {
      const s = this.spec;
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      switch (s.op) {
        case 'identity': return x.clone();
        case 'subtract': return tf.sub(inputs[0], inputs[1]);
        case 'gapKeepdims': return tf.mean(x, [1, 2], true);
        case 'normalization':
          return tf.div(tf.sub(x, this.mean.read()), tf.sqrt(tf.maximum(this.variance.read(), 1e-7)));
        case 'batchNorm': {
          let y = tf.div(tf.sub(x, this.movingMean.read()), tf.sqrt(tf.add(this.movingVariance.read(), s.epsilon)));
          if (this.gamma) y = tf.mul(y, this.gamma.read());
          if (this.beta) y = tf.add(y, this.beta.read());
          return y;
        }
        case 'relu': {  // Keras: max_value above it, x from threshold up, negative_slope * (x - threshold) below
          let y = tf.where(tf.greaterEqual(x, s.threshold), x, tf.mul(s.negativeSlope, tf.sub(x, s.threshold)));
          if (s.maxValue !== null && s.maxValue !== undefined) y = tf.minimum(y, s.maxValue);
          return y;
        }
        case 'hardSigmoidKeras3': return tf.clipByValue(tf.add(tf.div(x, 6), 0.5), 0, 1);
        case 'silu': return tf.mul(x, tf.sigmoid(x));
        case 'hardSilu': return tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6));
        case 'groupedConv': {
          const xs = tf.split(x, s.groups, 3);
          const ks = tf.split(this.kernel.read(), s.groups, 3);
          let y = tf.concat(xs.map((xi, i) => tf.conv2d(xi, ks[i], s.strides, s.padding, 'NHWC', s.dilationRate)), 3);
          if (this.bias) y = tf.add(y, this.bias.read());
          return activation(s.activation, y);
        }
        case 'probe':
          this.seen?.dispose();
          this.seen = tf.keep(x.clone());
          return tf.add(x, this.delta.read());
        default: throw new Error(`KerasReference: no op ${s.op}`);
      }
    });
  }

  getConfig() {
    return { ...super.getConfig(), spec: this.spec };
  }
}
tf.serialization.registerClass(KerasReference);

function activation(name, y) {
  if (name === 'linear' || !name) return y;
  if (name === 'relu') return tf.relu(y);
  throw new Error(`KerasReference: activation ${name} after a grouped conv is not written here`);
}

// ---- the Keras config, rewritten where TF.js differs, with the probe -------------------------------

function forEachLayer(model, fn) {
  for (const entry of model.config.layers) {
    fn(entry, model);
    if (entry.class_name === 'Functional' || entry.class_name === 'Sequential') forEachLayer(entry, fn);
  }
}

function custom(entry, spec) {
  entry.class_name = 'KerasReference';
  entry.config = { name: entry.config.name, trainable: true, dtype: 'float32', spec };
}

function rewrite(config, dialect) {
  forEachLayer(config, (entry) => {
    const c = entry.config;
    switch (entry.class_name) {
      case 'Subtract': custom(entry, { op: 'subtract' }); break;
      case 'SpatialDropout2D': custom(entry, { op: 'identity' }); break;
      case 'Normalization': custom(entry, { op: 'normalization' }); break;
      case 'ReLU':
        custom(entry, { op: 'relu', maxValue: c.max_value ?? null, negativeSlope: c.negative_slope ?? 0,
          threshold: c.threshold ?? 0 });
        break;
      case 'GlobalAveragePooling2D': if (c.keepdims) custom(entry, { op: 'gapKeepdims' }); break;
      case 'Conv2D':
        if ((c.groups ?? 1) > 1) {
          custom(entry, { op: 'groupedConv', filters: c.filters, kernelSize: c.kernel_size, strides: c.strides,
            padding: c.padding, dilationRate: c.dilation_rate, groups: c.groups, useBias: c.use_bias,
            activation: c.activation });
        }
        break;
      case 'Activation':
        if (c.activation === 'hard_sigmoid' && dialect === 'keras3') custom(entry, { op: 'hardSigmoidKeras3' });
        if (c.activation === 'silu') custom(entry, { op: 'silu' });
        if (c.activation === 'hard_silu' || c.activation === 'hard_swish') custom(entry, { op: 'hardSilu' });
        break;
      case 'BatchNormalization':
        if (c.center === false || c.scale === false) custom(entry, { op: 'batchNorm', center: c.center, scale: c.scale, epsilon: c.epsilon });
        else c.axis = -1;
        break;
      default: break;
    }
  });
}

// The named layer's consumers read the probe instead; it sits right after the layer in the list.
// "<layer>/call_N" (the engine's name of a shared layer's later call) is Keras's node N of <layer>.
function insertProbe(model, layerName) {
  let found = false;
  const visit = (m) => {
    const layers = m.config.layers;
    const nameOf = (e) => e.config?.name ?? e.name;
    const call = /^(.*)\/call_(\d+)$/.exec(layerName);
    const [layer, node] = call && layers.some((e) => nameOf(e) === call[1]) ? [call[1], Number(call[2])] : [layerName, 0];
    const i = layers.findIndex((e) => nameOf(e) === layer);
    if (i >= 0) {
      found = true;
      const probe = `${layerName}__probe`;
      const entry = { class_name: 'KerasReference', config: { name: probe, trainable: true, dtype: 'float32', spec: { op: 'probe' } } };
      if (m.class_name === 'Sequential') {
        layers.splice(i + 1, 0, entry);
        return;
      }
      const reads = (t) => t[0] === layer && t[1] === node;
      for (const e of layers) {
        for (const inbound of e.inbound_nodes ?? []) for (const t of inbound) if (reads(t)) t[0] = probe, t[1] = 0;
      }
      for (const o of m.config.output_layers) if (reads(o)) o[0] = probe, o[1] = 0;
      entry.name = probe;
      entry.inbound_nodes = [[[layer, node, 0, {}]]];
      layers.splice(i + 1, 0, entry);
      return;
    }
    for (const e of layers) if (e.class_name === 'Functional' || e.class_name === 'Sequential') visit(e);
  };
  visit(model);
  if (!found) throw new Error(`no layer named ${layerName}`);
  return `${layerName}__probe`;
}

// The model's output layer, when it is a Dense with a softmax: its logits are the input of the
// softmax, as the engine reports them. A model nested last (Teachable Machine's head) is looked into.
function logitsOutput(model) {
  const layers = model.config.layers;
  const last = model.class_name === 'Sequential' ? layers.at(-1)
    : layers.find((e) => e.name === model.config.output_layers[0][0]);
  if (last.class_name === 'Functional' || last.class_name === 'Sequential') logitsOutput(last);
  else if (last.class_name === 'Dense' && last.config.activation === 'softmax') last.config.activation = 'linear';
}

function leafLayers(model, out = []) {
  for (const l of model.layers) {
    if (l.layers) leafLayers(l, out);
    else out.push(l);
  }
  return out;
}

async function buildModel(source, dialect, layerName) {
  const config = structuredClone(source.config);
  rewrite(config, dialect);
  logitsOutput(config);
  const probeName = layerName ? insertProbe(config, layerName) : null;
  const model = await tfl.models.modelFromJSON({ modelTopology: config });
  // Every weight TF.js made gets the file's value, by layer name and weight name; every weight the file
  // holds is used (but Normalization's sample count, which inference does not read).
  const used = new Set();
  let probe = null;
  for (const layer of leafLayers(model)) {
    if (layer.name === probeName) probe = layer;
    const values = layer.weights.map((w) => {
      const short = w.originalName.split('/').at(-1);
      if (layer.name === probeName) return tf.zeros(w.shape);
      const key = `${layer.name}/${short}`;
      const v = source.weights.get(key);
      if (!v) throw new Error(`${layer.name}: the file has no weight ${key}`);
      if (v.shape.join() !== w.shape.join()) throw new Error(`${key}: file [${v.shape}], TF.js [${w.shape}]`);
      used.add(key);
      return tf.tensor(v.data, v.shape);
    });
    layer.setWeights(values);
    values.forEach((t) => t.dispose());
  }
  const unused = [...source.weights.keys()].filter((k) => !used.has(k) && !k.endsWith('/count'));
  if (unused.length) throw new Error(`weights the reference did not place: ${unused.join(', ')}`);
  return { model, probe };
}

export async function kerasReference(file, { dialect = 'keras2' } = {}) {
  await setBackend('cpu');
  const source = await readKeras2(file);
  const models = new Map();
  const get = async (layer) => {
    if (!models.has(layer)) models.set(layer, await buildModel(source, dialect, layer));
    return models.get(layer);
  };
  return {
    config: source.config,
    // logits and probabilities (softmax of the logits) for an HWC input.
    async predict(input, [h, w, c]) {
      const { model } = await get(null);
      return tf.tidy(() => {
        const logits = model.predict(tf.tensor4d(input, [1, h, w, c]));
        return { logits: logits.dataSync().slice(), probabilities: tf.softmax(logits).dataSync().slice() };
      });
    },
    // Grad-CAM at `layer` for class `target`: {logits, probabilities, cam} with cam as
    // camFromActivations returns it (after ReLU, before normalisation).
    async explain(input, [h, w, c], layer, target) {
      const { model, probe } = await get(layer);
      const x = tf.tensor4d(input, [1, h, w, c]);
      let logits;
      const { grads } = tf.variableGrads(() => {
        logits = tf.keep(model.apply(x, { training: false }));
        return tf.sum(tf.slice(logits, [0, target], [1, 1]));
      }, [probe.delta.val]);
      const G = grads[probe.delta.val.name].dataSync().slice();
      const A = probe.seen.dataSync().slice();
      const [, lh, lw, lc] = probe.seen.shape;
      const out = { logits: logits.dataSync().slice(), probabilities: tf.softmax(logits).dataSync().slice(),
        shape: [lh, lw, lc], activations: A, gradients: G, cam: camFromActivations('gradcam', A, G, lh, lw, lc) };
      tf.dispose([x, logits, ...Object.values(grads)]);
      return out;
    },
    // The target's logit with the probe's offset set to `eps` at one position of the layer's output
    // (HWC index): central differences of it check the probe's gradient.
    async logitWithOffset(input, [h, w, c], layer, target, index, eps) {
      const { model, probe } = await get(layer);
      const delta = probe.delta.val;
      const offset = new Float32Array(delta.size);
      offset[index] = eps;
      delta.assign(tf.tensor(offset, delta.shape));
      try {
        return tf.tidy(() => model.apply(tf.tensor4d(input, [1, h, w, c]), { training: false }).dataSync()[target]);
      } finally {
        delta.assign(tf.zerosLike(delta));
      }
    },
    dispose() {
      for (const { model } of models.values()) model.dispose();
    },
  };
}
