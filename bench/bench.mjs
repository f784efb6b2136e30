#!/usr/bin/env node
// Benchmark (not a test): the engine against TF.js on the same weights and the same image, in one
// Node process on one thread. See bench/README.md.
//
//   node bench/bench.mjs [--model F] [--image F] [--iterations N] [--warmup N] [--json]
//                        [--no-tfjs] [--no-engine] [--no-native] [--engine-module F] [--cli F]
//
// Rows: forward; Grad-CAM (forward + gradient + map) at conv2d_8, conv2d_2 and conv2d; the maps of
// all conv layers from one forward and one backward pass (engine and native only).
// Columns: TF.js with its wasm backend (SIMD, single thread), the engine's JS API
// (build/site/gradcam.mjs, SIMD wasm) and the native CLI (`gradcam bench`, its own process).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';

import { tf, setBackend, loadModelFile, buildForward } from '../tests/js/tfjs_reference.mjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

import { option, parseOptions, stats } from './common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAYERS = ['conv2d_8', 'conv2d_2', 'conv2d'];

// ------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  return parseOptions(argv, {
    model: option.path(path.join(ROOT, 'assets/models/cifar10.safetensors')),
    image: option.path(null),
    iterations: option.count(200),
    warmup: option.count(20),
    json: option.flag(),
    'no-tfjs': option.off('tfjs'),
    'no-engine': option.off('engine'),
    'no-native': option.off('native'),
    'engine-module': option.path(path.join(ROOT, 'build/site/gradcam.mjs')),
    cli: option.path(path.join(ROOT, 'build/native/gradcam')),
  }, import.meta.url);
}

// ------------------------------------------------------------------------------------------
// Timing

// V8 runs wasm first as its baseline compiler's code (Liftoff) and recompiles the hot functions
// with its optimising compiler (TurboFan) in the background while they run: the row timed first
// paid for that. It made the engine's forward (predict(), its first row) look slower than a whole
// explain() at conv2d_8, which does that forward and more. So every workload of a column runs
// `warmup` times before any of them is timed.
function warmAll(workloads, warmup) {
  for (let i = 0; i < warmup; i++) for (const fn of workloads) fn();
}

function time(fn, iterations, warmup) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

// ------------------------------------------------------------------------------------------
// The image: a file (PNG or JPEG), else a generated 32x32 one. RGBA for the engine; the model's
// input tensor for TF.js is the very tensor the engine classifies when the engine is built (its
// `input`), else an area-resized centre crop computed here.

function generatedImage(width = 32, height = 32) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 4 * (y * width + x);
      const inDisk = (x - width * 0.6) ** 2 + (y - height * 0.45) ** 2 < (width * 0.22) ** 2;
      data[o] = inDisk ? 200 : 40 + 4 * y;
      data[o + 1] = inDisk ? 70 + 2 * x : 120 + 3 * Math.sin(x / 2) * 20;
      data[o + 2] = inDisk ? 50 : 200 - 3 * y;
      data[o + 3] = 255;
    }
  }
  return { data, width, height };
}

function decodeFile(file) {
  const bytes = fs.readFileSync(file);
  if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const png = pngjs.PNG.sync.read(bytes);
    return { data: new Uint8ClampedArray(png.data), width: png.width, height: png.height };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { data: new Uint8ClampedArray(img.data), width: img.width, height: img.height };
  }
  throw new Error(`${file}: not a PNG or JPEG`);
}

function defaultImageFile() {
  const dir = path.join(ROOT, 'assets/samples');
  if (!fs.existsSync(dir)) return null;
  const files = fs.readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  for (const f of files) {
    try {
      const img = decodeFile(path.join(dir, f));
      if (img.width === 32 && img.height === 32) return path.join(dir, f);
    } catch { /* not decodable here: skip */ }
  }
  return null;
}

// Centre crop to the model's aspect, then area (box) resampling; alpha composited over white.
function imageToInput(image, height, width, scale) {
  const { width: sw, height: sh, data } = image;
  let x0 = 0, y0 = 0, x1 = sw, y1 = sh;
  if (sw * height > sh * width) { const cw = (sh * width) / height; x0 = (sw - cw) / 2; x1 = x0 + cw; }
  else if (sw * height < sh * width) { const ch = (sw * height) / width; y0 = (sh - ch) / 2; y1 = y0 + ch; }
  const sx = (x1 - x0) / width, sy = (y1 - y0) / height;
  const cover = (lo, hi) => {
    const out = [];
    for (let p = Math.floor(lo); p < hi; p++) {
      const w = Math.min(hi, p + 1) - Math.max(lo, p);
      if (w > 1e-12) out.push([p, w]);
    }
    return out;
  };
  const out = new Float32Array(height * width * 3);
  for (let oy = 0; oy < height; oy++) {
    const ys = cover(y0 + oy * sy, y0 + (oy + 1) * sy);
    for (let ox = 0; ox < width; ox++) {
      const xs = cover(x0 + ox * sx, x0 + (ox + 1) * sx);
      for (let c = 0; c < 3; c++) {
        let sum = 0, total = 0;
        for (const [py, wy] of ys) {
          for (const [px, wx] of xs) {
            const o = 4 * (py * sw + px), a = data[o + 3] / 255;
            sum += wy * wx * (data[o + c] * a + 255 * (1 - a));
            total += wy * wx;
          }
        }
        out[(oy * width + ox) * 3 + c] = (sum / total) * scale;
      }
    }
  }
  return out;
}

function writePng(file, image) {
  const png = new pngjs.PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  fs.writeFileSync(file, pngjs.PNG.sync.write(png));
}

// ------------------------------------------------------------------------------------------
// TF.js (wasm backend): the reference network's functional ops, on wasm.

async function initTfjsWasm() {
  // One thread: never the threaded-SIMD module, whatever Node supports.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  const dist = path.join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  setWasmPaths(dist);
  await import('@tensorflow/tfjs-backend-wasm');
  await setBackend('wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return `tfjs-backend-wasm ${tf.version_core}, ${simd ? 'SIMD' : 'no SIMD'}, 1 thread`;
}

function tfjsRows(model, input, o) {
  const net = buildForward(model);
  const { height, width, channels } = model.arch.input;
  const x = tf.tensor4d(input, [1, height, width, channels]);
  const rows = {};
  const outputs = {};

  const forward = () => tf.tidy(() => tf.softmax(net.head(-1)(x)).dataSync());
  const gradcams = {};
  for (const name of LAYERS) {
    if (!o.convLayers.includes(name)) continue;
    const L = model.arch.layers.findIndex((l) => l.name === name);
    const head = net.head(L);
    // As the Keras tutorial: the forward pass to the layer, then the rest of the network under the
    // gradient tape, the target is the top class, Grad-CAM weights are the spatially averaged
    // gradients, the map is ReLU of the weighted channel sum. Read back to JS.
    const gradcam = () => tf.tidy(() => {
      let a = x;
      for (let i = 0; i <= L; i++) a = net.layer(i, a);
      const score = (A) => {
        const logits = head(A);
        const target = tf.argMax(logits, 1).dataSync()[0];
        return tf.sum(tf.slice(logits, [0, target], [1, 1]));
      };
      const g = tf.grad(score)(a);
      const weights = tf.mean(g, [0, 1, 2]);
      return tf.relu(tf.sum(tf.mul(a, weights), -1)).dataSync();
    });
    gradcams[`gradcam ${name}`] = gradcam;
  }
  warmAll([forward, ...Object.values(gradcams)], o.warmup);
  rows.forward = time(forward, o.iterations, o.warmup);
  outputs.probabilities = forward();
  for (const [name, gradcam] of Object.entries(gradcams)) {
    rows[name] = time(gradcam, o.iterations, o.warmup);
    outputs[name] = gradcam();
  }
  x.dispose();
  net.dispose();
  return { rows, outputs };
}

// ------------------------------------------------------------------------------------------
// The engine's JS API.

async function engineRows(modelPath, image, o) {
  const { loadEngine } = await import(pathToFileURL(o.engineModule).href);
  const engine = await loadEngine({ model: modelPath });
  const rows = {}, outputs = {}, internal = {};
  const predict = () => engine.predict(image);
  const explainAt = (name) => () => engine.explain(image, { layer: name, method: 'gradcam', target: 'auto', score: 'logit' });
  warmAll([predict, ...LAYERS.filter((name) => o.convLayers.includes(name)).map(explainAt),
    () => engine.explainAll(image, { method: 'gradcam' })], o.warmup);
  rows.forward = time(predict, o.iterations, o.warmup);
  const p = predict();
  outputs.probabilities = p.probabilities;
  outputs.input = p.input;
  for (const name of LAYERS) {
    if (!o.convLayers.includes(name)) continue;
    const options = { layer: name, method: 'gradcam', target: 'auto', score: 'logit' };
    const parts = {};
    const explain = () => {
      const r = engine.explain(image, options);
      for (const [k, v] of Object.entries(r.timings ?? {})) (parts[k] ??= []).push(v);
      return r;
    };
    rows[`gradcam ${name}`] = time(explain, o.iterations, o.warmup);
    outputs[`gradcam ${name}`] = explain().cam.data;
    // The engine's own breakdown (forward_ms, backward_ms, cam_ms, ...), medians over all calls.
    internal[`gradcam ${name}`] = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, stats(v).median_ms]));
  }
  // Every conv layer's Grad-CAM from one forward and one backward pass.
  rows['all conv layers (1 fwd + 1 bwd)'] = time(() => engine.explainAll(image, { method: 'gradcam' }),
    o.iterations, o.warmup);
  // A batch of 256 images, one Grad-CAM (conv2d_8) each: images per second.
  const batch = Array.from({ length: 8 }, (_, k) => ({ ...image, data: image.data.map((v, i) => (i % 4 === 3 ? 255 : (v + 29 * k) & 255)) }));
  const tb = performance.now();
  for (let i = 0; i < 256; i++) engine.explain(batch[i % batch.length], { layer: 'conv2d_8' });
  internal.batch_256_images_per_s = 256 / ((performance.now() - tb) / 1000);
  // Wasm memory only grows: its size now is the peak of everything above.
  internal.peak_wasm_memory_mib = engine._core.HEAPU8.length / (1 << 20);
  engine.dispose();
  return { rows, outputs, internal };
}

// ------------------------------------------------------------------------------------------
// The native CLI: its `bench` subcommand times in-process; without it, whole `explain` runs.

function nativeRows(modelPath, imageFile, o) {
  const env = { ...process.env, OMP_NUM_THREADS: '1' };
  const r = spawnSync(o.cli, ['bench', '--model', modelPath, '--image', imageFile, '--threads', '1',
    '--iterations', String(o.iterations), '--json'], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  if (r.status === 0) {
    const j = JSON.parse(r.stdout);
    const rows = {};
    for (const [name, v] of Object.entries(j)) {
      rows[name] = { median_ms: v.median_ms, p10_ms: v.p10_ms ?? null, p90_ms: v.p90_ms ?? null,
        iterations: v.iterations };
    }
    return { rows, how: '`gradcam bench` (in-process timing)' };
  }
  // Fallback: whole processes (start-up, model load and image decode included).
  const n = Math.min(o.iterations, 30);
  const rows = {};
  for (const name of LAYERS) {
    const args = ['explain', '--model', modelPath, '--image', imageFile, '--layer', name, '--threads', '1', '--json'];
    const samples = [];
    for (let i = 0; i < n + 2; i++) {
      const t0 = performance.now();
      const e = spawnSync(o.cli, args, { encoding: 'utf8', env });
      if (e.status !== 0) throw new Error(`gradcam explain failed: ${e.stderr.trim()}`);
      if (i >= 2) samples.push(performance.now() - t0);
    }
    rows[`gradcam ${name}`] = stats(samples);
  }
  return { rows, how: `no \`gradcam bench\` (${r.stderr.trim().split('\n')[0]}): whole \`explain\` processes` };
}

// ------------------------------------------------------------------------------------------

function maxAbsDiff(a, b) {
  if (!a || !b || a.length !== b.length) return NaN;
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function fmt(s) {
  if (!s) return '—';
  const m = s.median_ms.toFixed(3);
  return s.p10_ms == null ? m : `${m} (${s.p10_ms.toFixed(2)}–${s.p90_ms.toFixed(2)})`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(o.model)) throw new Error(`${o.model}: no such model (--model F)`);
  const model = loadModelFile(fs.readFileSync(o.model));
  const { height, width, channels, scale } = model.arch.input;
  o.convLayers = model.arch.layers.filter((l) => l.type === 'conv2d').map((l) => l.name);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-bench-'));
  let imageFile = o.image ?? defaultImageFile();
  let image;
  if (imageFile) image = decodeFile(imageFile);
  else {
    image = generatedImage(width, height);
    imageFile = path.join(tmp, 'generated.png');
    writePng(imageFile, image);
  }

  const result = {
    model: path.relative(ROOT, o.model) || o.model,
    image: imageFile.startsWith(tmp) ? `generated ${image.width}x${image.height}` : path.relative(ROOT, imageFile),
    iterations: o.iterations,
    warmup: o.warmup,
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    columns: {},
    rows: {},
    agreement: {},
  };
  const log = (...a) => (o.json ? console.error : console.log)(...a);

  // The engine first: its input tensor is what TF.js will classify.
  let engine = null;
  if (o.engine) {
    if (!fs.existsSync(o.engineModule)) {
      result.columns.engine = `not built (${path.relative(ROOT, o.engineModule)}: tools/build.sh site)`;
    } else {
      try {
        engine = await engineRows(o.model, image, o);
        result.columns.engine = 'engine JS API (SIMD wasm), 1 thread';
      } catch (e) {
        result.columns.engine = `failed: ${e.message}`;
      }
    }
  }
  const input = engine?.outputs.input ?? imageToInput(image, height, width, scale);
  if (input.length !== height * width * channels) throw new Error('input tensor size mismatch');

  let tfjs = null;
  if (o.tfjs) {
    result.columns.tfjs = await initTfjsWasm();
    tfjs = tfjsRows(model, input, o);
  }

  let native = null;
  if (o.native) {
    if (!fs.existsSync(o.cli)) result.columns.native = `not built (${path.relative(ROOT, o.cli)})`;
    else {
      native = nativeRows(o.model, imageFile, o);
      result.columns.native = `native CLI: ${native.how}`;
    }
  }

  const names = [...new Set([...Object.keys(tfjs?.rows ?? {}), ...Object.keys(engine?.rows ?? {}),
    ...Object.keys(native?.rows ?? {})])];
  for (const name of names) {
    const t = tfjs?.rows[name], e = engine?.rows[name], n = native?.rows[name];
    result.rows[name] = {
      tfjs_wasm: t ?? null,
      engine_wasm: e ?? null,
      native: n ?? null,
      engine_over_tfjs: t && e ? e.median_ms / t.median_ms : null,
      native_over_tfjs: t && n ? n.median_ms / t.median_ms : null,
    };
    if (engine?.internal[name]) result.rows[name].engine_internal_ms = engine.internal[name];
  }
  // The columns must compute the same thing for the timings to compare.
  if (tfjs && engine) {
    result.agreement.probabilities_max_abs_diff = maxAbsDiff(tfjs.outputs.probabilities, engine.outputs.probabilities);
    for (const name of names.filter((n) => n.startsWith('gradcam '))) {
      const a = tfjs.outputs[name], b = engine.outputs[name];
      if (a && b) {
        const max = Math.max(...a);
        result.agreement[`${name} max_abs_diff_over_map_max`] = maxAbsDiff(a, b) / (max || 1);
      }
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  // Table.
  log(`model ${result.model}, image ${result.image}, ${o.iterations} iterations after ${o.warmup} warm-up`);
  log(`${result.cpu}, node ${process.version}`);
  for (const [k, v] of Object.entries(result.columns)) log(`  ${k}: ${v}`);
  log('times in ms: median (p10–p90); ratio = median / TF.js median (lower is faster)');
  const header = ['', 'TF.js wasm', 'engine wasm', 'ratio', 'native', 'ratio'];
  const table = [header, ...names.map((name) => {
    const r = result.rows[name];
    const ratio = (v) => (v == null ? '—' : `${v.toFixed(2)}x`);
    return [name, fmt(r.tfjs_wasm), fmt(r.engine_wasm), ratio(r.engine_over_tfjs), fmt(r.native), ratio(r.native_over_tfjs)];
  })];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  if (Object.keys(result.agreement).length) {
    log('agreement TF.js vs engine: ' + Object.entries(result.agreement).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
    if (Object.entries(result.agreement).some(([k, v]) => k.startsWith('gradcam') && v > 1e-3)) {
      log('  (a Grad-CAM difference here can be TF.js wasm\'s own: its MaxPool gradient drops the gradient of\n' +
        '   pooling windows that are all zeros after ReLU, where TF and TF.js cpu pass it to the first\n' +
        '   position; the timed work is the same. tests/js/tfjs_crosscheck.test.mjs checks the engine.)');
    }
  }
  if (engine) {
    result.engine_batch_256_images_per_s = engine.internal.batch_256_images_per_s;
    result.engine_peak_wasm_memory_mib = engine.internal.peak_wasm_memory_mib;
    log(`engine wasm: batch of 256 images (Grad-CAM at conv2d_8 each) ${engine.internal.batch_256_images_per_s.toFixed(0)} images/s; ` +
      `peak wasm memory ${engine.internal.peak_wasm_memory_mib.toFixed(1)} MiB`);
  }
  if (o.json) console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
