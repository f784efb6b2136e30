#!/usr/bin/env node
// Benchmark (not a test): peak memory of the engine against ONNX Runtime Web's, per model, each
// measured in a fresh Node process so that no model inherits another's grown wasm memory. See
// bench/README.md.
//
//   node bench/memory.mjs [--models resnet18,mobilenet_v2] [--fixtures DIR] [--json]
//                         [--engine-module F] [--native F]
//
// Per model (224x224 input, one thread):
// - wasm: the WebAssembly memory's size (it only grows, so its final size is its high-water mark)
//   after loading the model, a forward and a Grad-CAM at the default layer through the engine's JS
//   API (engine.predict, engine.explain), and after loading the same file into an ORT-web session
//   (wasm EP, graphOptimizationLevel all) and one session.run; each with the process's max RSS;
// - native: the CLI's max RSS (/usr/bin/time) for `gradcam info` and `gradcam explain` (Grad-CAM at
//   the default layer) on the same file, when build/native/gradcam (or --native) exists.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { option, parseOptions } from './common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const MiB = 1 << 20;

function parseArgs(argv) {
  return parseOptions(argv, {
    models: option.list(['resnet18', 'mobilenet_v2']),
    fixtures: option.path(path.join(ROOT, 'build/onnx-fixtures')),
    json: option.flag(),
    'engine-module': option.path(path.join(ROOT, 'build/site/gradcam.mjs')),
    native: option.path(path.join(ROOT, 'build/native/gradcam')),
    // This script, measuring one peer in a process of its own.
    child: option.custom(null, (value) => ({ peer: value(), file: value() })),
  }, import.meta.url);
}

// A smooth image at the model's input size (no resampling).
function generatedImage(width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const x = i % width, y = Math.floor(i / width);
    data.set([(x * 3) & 255, (y * 5) & 255, (x + y) & 255, 255], 4 * i);
  }
  return { data, width, height };
}

// The wasm memories an instantiation creates or imports (ORT does not expose its own).
function watchMemories() {
  const memories = [];
  const original = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (source, imports) {
    const result = await original.call(this, source, imports);
    const instance = result.instance ?? result;
    for (const ns of Object.values(imports ?? {}))
      for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) memories.push(v);
    for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) memories.push(v);
    return result;
  };
  return memories;
}

async function child({ peer, file }, o) {
  const memories = watchMemories();
  let wasmBytes = 0;
  if (peer === 'engine') {
    const { loadEngine } = await import(pathToFileURL(o.engineModule).href);
    const engine = await loadEngine({ model: file });
    const { height, width } = engine.info.input;
    const image = generatedImage(width, height);
    engine.predict(image);
    engine.explain(image, { method: 'gradcam', target: 'auto', score: 'logit' });
    wasmBytes = engine._core.HEAPU8.length;
  } else {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    const session = await ort.InferenceSession.create(file, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const x = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).fill(0.5), [1, 3, 224, 224]);
    await session.run({ [session.inputNames[0]]: x });
    wasmBytes = Math.max(0, ...memories.map((m) => m.buffer.byteLength));
  }
  process.stdout.write(JSON.stringify({ wasm_mib: wasmBytes / MiB, max_rss_mib: process.resourceUsage().maxRSS / 1024 }));
}

function measureChild(peer, file, o) {
  const r = spawnSync(process.execPath, [SELF, '--child', peer, file, '--engine-module', o.engineModule], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${peer} on ${file}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout);
}

// The native CLI's max RSS in MiB, from GNU time's %M (KiB).
function measureNative(args, o) {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', o.native, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gradcam ${args.join(' ')}: ${r.stderr.trim()}`);
  return Number(r.stderr.trim().split('\n').pop()) / 1024;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.child) return child(o.child, o);
  const log = (...a) => (o.json ? console.error : console.log)(...a);
  if (!fs.existsSync(o.engineModule))
    throw new Error(`${path.relative(ROOT, o.engineModule)} is not built (tools/build.sh site)`);
  const native = fs.existsSync(o.native) && fs.existsSync('/usr/bin/time');
  const image = path.join(ROOT, 'assets/samples/cat.jpg');
  const result = { node: process.version, models: [] };
  for (const m of o.models) {
    const file = path.join(o.fixtures, `${m}.onnx`);
    if (!fs.existsSync(file))
      throw new Error(`${file}: no such fixture (/usr/bin/python3 tools/onnx_fixtures.py build/onnx-fixtures --if-stale)`);
    const row = { model: m, file_mib: fs.statSync(file).size / MiB, engine: measureChild('engine', file, o), ort: measureChild('ort', file, o) };
    if (native) {
      row.native_info_rss_mib = measureNative(['info', '--model', file], o);
      row.native_explain_rss_mib = measureNative(['explain', '--model', file, '--image', image, '--json'], o);
    }
    row.wasm_ratio = row.engine.wasm_mib / row.ort.wasm_mib;
    result.models.push(row);
  }
  log('peak memory in MiB (wasm: the WebAssembly memory after load, forward and Grad-CAM; RSS: the whole process)');
  const header = ['model', 'file', 'engine wasm', 'ORT wasm', 'ratio', 'engine RSS', 'ORT RSS', 'native info', 'native explain'];
  const table = [header, ...result.models.map((r) => [
    r.model, r.file_mib.toFixed(0), r.engine.wasm_mib.toFixed(0), r.ort.wasm_mib.toFixed(0), `${r.wasm_ratio.toFixed(2)}x`,
    r.engine.max_rss_mib.toFixed(0), r.ort.max_rss_mib.toFixed(0),
    r.native_info_rss_mib?.toFixed(0) ?? 'n/a', r.native_explain_rss_mib?.toFixed(0) ?? 'n/a',
  ])];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  if (o.json) console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(`bench/memory.mjs: ${e.message}`);
  process.exit(1);
});
