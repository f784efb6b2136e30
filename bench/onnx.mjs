#!/usr/bin/env node
// Benchmark (not a test): the engine on PyTorch-exported ONNX models against ONNX Runtime Web's
// wasm backend, both in this one Node process, on one thread, with SIMD. See bench/README.md.
//
//   node bench/onnx.mjs [--models resnet18,mobilenet_v2] [--fixtures DIR] [--iterations N]
//                       [--warmup N] [--json] [--engine-module F]
//
// Per model (224x224 input): ORT-web's forward (session.run), the engine's forward
// (engine.predict) and the engine's Grad-CAM at its default layer, the last block
// (engine.explain, method gradcam). The three run interleaved, one of each per iteration in a
// rotating order, so a slow spell of a shared machine hits all of them. Both engines get the
// same input tensor: the engine's own (its `input`), transposed to NCHW for ORT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { generatedImage, option, parseOptions, stats } from './common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// ------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  return parseOptions(argv, {
    models: option.list(['resnet18', 'mobilenet_v2']),
    fixtures: option.path(path.join(ROOT, 'build/onnx-fixtures')),
    iterations: option.count(30),
    warmup: option.count(3),
    json: option.flag(),
    'engine-module': option.path(path.join(ROOT, 'build/site/gradcam.mjs')),
  }, import.meta.url);
}

// ------------------------------------------------------------------------------------------
// Timing

// Runs the named (async) functions `iterations` times each, interleaved: iteration i starts at
// function i mod n, so none always runs right after the same peer. Returns samples per name.
async function interleaved(fns, iterations, warmup) {
  const names = Object.keys(fns);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < warmup + iterations; i++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(i + k) % names.length];
      const t0 = performance.now();
      await fns[name]();
      if (i >= warmup) samples[name].push(performance.now() - t0);
    }
  }
  return samples;
}

// ------------------------------------------------------------------------------------------
// ONNX Runtime Web. Its wasm module is instantiated inside the package; wrapping
// WebAssembly.instantiate shows which binary it chose (matched by hash against the package's
// .wasm files) and hands us its Memory, which the package does not expose.

function watchWasmInstantiation() {
  const seen = [];
  const original = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    const result = await original.call(this, source, imports);
    const instance = result.instance ?? result;
    const memories = [];
    for (const ns of Object.values(imports ?? {}))
      for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) memories.push(v);
    for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) memories.push(v);
    const bytes = source instanceof WebAssembly.Module ? null
      : ArrayBuffer.isView(source) ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
        : new Uint8Array(source);
    seen.push({ sha256: bytes ? crypto.createHash('sha256').update(bytes).digest('hex') : null, memories });
    return result;
  };
  return { seen, restore: () => { WebAssembly.instantiate = original; } };
}

async function initOrt() {
  const watch = watchWasmInstantiation();
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;  // no worker threads: one thread, as the engine
  ort.env.wasm.proxy = false;
  const dist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const hashes = Object.fromEntries(fs.readdirSync(dist).filter((f) => f.endsWith('.wasm')).map((f) =>
    [crypto.createHash('sha256').update(fs.readFileSync(path.join(dist, f))).digest('hex'), f]));
  // ORT loads its binary with the first session; the engine's own instantiation (no match) is
  // seen by the same wrapper and left out.
  const mine = () => watch.seen.filter((s) => hashes[s.sha256]);
  return {
    ort,
    version: ort.env.versions?.web ?? '?',
    wasmFiles: () => mine().map((s) => hashes[s.sha256]),
    memory: () => mine().flatMap((s) => s.memories)[0] ?? null,
  };
}

// HWC (the engine's layout) to NCHW (the ONNX model's input).
function toNchw(hwc, h, w, c) {
  const out = new Float32Array(hwc.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = hwc[(y * w + x) * c + k];
  return out;
}

// ------------------------------------------------------------------------------------------

async function benchModel(name, file, ortRt, loadEngine, o) {
  const engine = await loadEngine({ model: file });
  const { height, width, channels } = engine.info.input;
  const image = generatedImage(width, height);
  const p = engine.predict(image);
  const x = new ortRt.ort.Tensor('float32', toNchw(p.input, height, width, channels), [1, channels, height, width]);
  const session = await ortRt.ort.InferenceSession.create(file, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const feeds = { [session.inputNames[0]]: x };
  const ortLogits = (await session.run(feeds))[session.outputNames[0]].data;

  // The peers must compute the same thing for the timings to compare.
  let diff = 0, scale = 0;
  for (let i = 0; i < ortLogits.length; i++) {
    diff = Math.max(diff, Math.abs(ortLogits[i] - p.logits[i]));
    scale = Math.max(scale, Math.abs(ortLogits[i]));
  }
  const explainOptions = { method: 'gradcam', target: 'auto', score: 'logit' };
  const first = engine.explain(image, explainOptions);

  const internal = { forward: [], backward: [], cam: [], preprocess: [] };
  const samples = await interleaved({
    ort: async () => { await session.run(feeds); },
    predict: () => engine.predict(image),
    gradcam: () => {
      const t = engine.explain(image, explainOptions).timings;
      for (const k of Object.keys(internal)) internal[k].push(t[k] ?? 0);
    },
  }, o.iterations, o.warmup);
  const fwdBwd = internal.forward.map((f, i) => f + internal.backward[i]);
  await session.release();
  engine.dispose();
  const rows = {
    ort_forward: stats(samples.ort),
    engine_forward: stats(samples.predict),
    engine_gradcam: stats(samples.gradcam),
    engine_gradcam_forward_backward: stats(fwdBwd),
  };
  return {
    model: name,
    file: path.relative(ROOT, file) || file,
    input: `${height}x${width}x${channels}`,
    layer: first.layer,
    logits_max_abs_diff_over_max: diff / (scale || 1),
    rows,
    engine_internal_median_ms: Object.fromEntries(Object.entries(internal).map(([k, v]) => [k, stats(v).median_ms])),
    ratios: {
      forward: rows.engine_forward.median_ms / rows.ort_forward.median_ms,
      gradcam: rows.engine_gradcam.median_ms / rows.ort_forward.median_ms,
      gradcam_forward_backward: rows.engine_gradcam_forward_backward.median_ms / rows.ort_forward.median_ms,
    },
    // Wasm memory only grows, and each engine's instance is shared by every model in this
    // process: the size after this model's runs is the peak so far.
    peak_wasm_memory_mib: {
      engine: engine._core.HEAPU8.length / (1 << 20),
      ort: ortRt.memory() ? ortRt.memory().buffer.byteLength / (1 << 20) : null,
    },
  };
}

function fmt(s) {
  return `${s.median_ms.toFixed(1)} (${s.p10_ms.toFixed(1)}–${s.p90_ms.toFixed(1)})`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const log = (...a) => (o.json ? console.error : console.log)(...a);
  if (!fs.existsSync(o.engineModule))
    throw new Error(`${path.relative(ROOT, o.engineModule)} is not built (tools/build.sh site)`);
  const files = o.models.map((m) => {
    const f = path.join(o.fixtures, `${m}.onnx`);
    if (!fs.existsSync(f))
      throw new Error(`${f}: no such fixture (/usr/bin/python3 tools/onnx_fixtures.py build/onnx-fixtures --if-stale)`);
    return f;
  });
  const { loadEngine } = await import(pathToFileURL(o.engineModule).href);
  const ortRt = await initOrt();

  const result = {
    iterations: o.iterations,
    warmup: o.warmup,
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    ort: '',
    engine: `engine JS API (${path.relative(ROOT, o.engineModule)}), SIMD wasm, 1 thread`,
    models: [],
  };
  for (let i = 0; i < o.models.length; i++) result.models.push(await benchModel(o.models[i], files[i], ortRt, loadEngine, o));
  result.ort = `onnxruntime-web ${ortRt.version}, wasm EP, numThreads 1, graphOptimizationLevel all, ` +
    `binary ${ortRt.wasmFiles().join(', ') || 'not seen (its Memory is then not reachable either)'}`;

  log(`${o.iterations} iterations after ${o.warmup} warm-up, interleaved; ${result.cpu}, node ${process.version}`);
  log(`  ORT:    ${result.ort}`);
  log(`  engine: ${result.engine}`);
  log('times in ms: median (p10–p90); ratio = engine median / ORT forward median');
  const header = ['model', 'ORT forward', 'engine forward', 'ratio', 'engine Grad-CAM', 'ratio', 'fwd+bwd', 'ratio',
    'peak MiB engine / ORT'];
  const table = [header, ...result.models.map((m) => [
    m.model, fmt(m.rows.ort_forward), fmt(m.rows.engine_forward), `${m.ratios.forward.toFixed(2)}x`,
    fmt(m.rows.engine_gradcam), `${m.ratios.gradcam.toFixed(2)}x`,
    m.rows.engine_gradcam_forward_backward.median_ms.toFixed(1), `${m.ratios.gradcam_forward_backward.toFixed(2)}x`,
    `${m.peak_wasm_memory_mib.engine.toFixed(0)} / ${m.peak_wasm_memory_mib.ort == null ? 'n/a' : m.peak_wasm_memory_mib.ort.toFixed(0)}`,
  ])];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  for (const m of result.models) {
    const e = m.engine_internal_median_ms;
    log(`${m.model}: Grad-CAM at ${m.layer.name ?? m.layer}; engine's own medians: preprocess ${e.preprocess.toFixed(1)}, ` +
      `forward ${e.forward.toFixed(1)}, backward ${e.backward.toFixed(1)}, cam ${e.cam.toFixed(2)} ms; ` +
      `logits vs ORT: max |diff| / max |logit| ${m.logits_max_abs_diff_over_max.toExponential(2)}` +
      (m.logits_max_abs_diff_over_max > 1e-4 ? '  ** DISAGREE: the timings do not compare **' : ''));
  }
  if (o.json) console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(`bench: ${e.message}`);
  process.exit(1);
});
