#!/usr/bin/env node
// Benchmark (not a test: it never fails because something is slow). This engine's wasm JS API
// against ONNX Runtime Web's wasm backend with the same thread count, 1 and N (--threads, 2 by
// default), in headless Chromium: the engine's threaded core and ORT-web's threads both need a
// cross-origin isolated page, which Node (bench/onnx.mjs) is not. One page per thread count, each
// with both engines on the same models (build/onnx-fixtures: ResNet-18 and MobileNetV2, 224x224,
// the same input tensor; the logits must agree); each round runs one forward of each engine on each
// page, in alternating order, so a slow spell of the machine hits every column. Medians.
//
//   node bench/onnx_threads.mjs [--models resnet18,mobilenet_v2] [--threads 2] [--iterations 15]
//                               [--warmup 3] [--json]                    (after tools/build.sh)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { openPage } from '../tests/browser/support.mjs';
import { generatedImage, option, parseOptions, stats, withSiteInChromium } from './common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const o = parseOptions(process.argv.slice(2), {
  models: option.list(['resnet18', 'mobilenet_v2']),
  threads: option.count(2),
  iterations: option.count(15),
  warmup: option.count(3),
  json: option.flag(),
}, import.meta.url);
const fixtures = path.join(ROOT, 'build/onnx-fixtures');
for (const m of o.models) {
  if (!fs.existsSync(path.join(fixtures, `${m}.onnx`))) {
    console.error(`bench/onnx_threads.mjs: ${m}.onnx is not in build/onnx-fixtures (/usr/bin/python3 tools/onnx_fixtures.py build/onnx-fixtures --if-stale)`);
    process.exit(1);
  }
}
const ortDist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
const ortVersion = JSON.parse(fs.readFileSync(path.join(ortDist, '..', 'package.json'), 'utf8')).version;

// A blank page of the site with the isolation headers tools/serve.mjs sends, ORT-web's wasm build
// and the models, all same-origin.
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
async function benchPage(browser, origin) {
  const opened = await openPage(browser, origin);
  const { context, page } = opened;
  await context.route(`${origin}/bench-blank.html`, (route) => route.fulfill({ contentType: 'text/html', headers: ISOLATION,
    body: '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body></body></html>' }));
  await context.route(`${origin}/ort/**`, (route) => {
    const file = path.join(ortDist, path.basename(new URL(route.request().url()).pathname));
    if (!fs.existsSync(file)) return route.fulfill({ status: 404, body: '' });
    const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    return route.fulfill({ contentType: type, headers: ISOLATION, body: fs.readFileSync(file) });
  });
  await context.route(`${origin}/bench-models/**`, (route) => route.fulfill({ contentType: 'application/octet-stream',
    headers: ISOLATION, body: fs.readFileSync(path.join(fixtures, path.basename(new URL(route.request().url()).pathname))) }));
  await page.goto(`${origin}/bench-blank.html`);
  return opened;
}

// In the page: both engines on `threads` threads for each model, kept on globalThis for the rounds;
// `pixels`: the image (common.mjs's generatedImage, as plain numbers).
async function setUp({ threads, models, pixels }) {
  const ort = await import('./ort/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  ort.env.wasm.proxy = false;
  const { loadEngine } = await import('./gradcam.mjs');
  const image = { width: pixels.width, height: pixels.height, data: Uint8ClampedArray.from(pixels.data) };
  const out = {};
  globalThis.bench = {};
  for (const name of models) {
    const engine = await loadEngine({ model: `bench-models/${name}.onnx`, threads,
      mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    const p = engine.predict(image);
    const { height: h, width: w, channels: c } = engine.info.input;
    const nchw = new Float32Array(p.input.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) nchw[(k * h + y) * w + x] = p.input[(y * w + x) * c + k];
    const session = await ort.InferenceSession.create(`bench-models/${name}.onnx`, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', nchw, [1, c, h, w]) };
    const logits = (await session.run(feeds))[session.outputNames[0]].data;
    let diff = 0, scale = 0;
    for (let i = 0; i < logits.length; i++) {
      diff = Math.max(diff, Math.abs(logits[i] - p.logits[i]));
      scale = Math.max(scale, Math.abs(logits[i]));
    }
    globalThis.bench[name] = { engine, session, feeds, image };
    out[name] = { engine_threads: engine.threads, logits_diff_over_max: diff / (scale || 1) };
  }
  return { isolated: globalThis.crossOriginIsolated, out };
}

// In the page: one forward of each engine on `name`, in the order given; times in ms.
async function round({ name, ortFirst }) {
  const b = globalThis.bench[name];
  const t = {};
  const runs = [['ort', async () => { await b.session.run(b.feeds); }], ['engine', async () => { b.engine.predict(b.image); }]];
  for (const [key, run] of ortFirst ? runs : runs.reverse()) {
    const t0 = performance.now();
    await run();
    t[key] = performance.now() - t0;
  }
  return t;
}

const result = await withSiteInChromium(import.meta.url, [], async ({ browser, server }) => {
  const counts = [1, o.threads];
  const pages = [];
  for (const threads of counts) {
    const opened = await benchPage(browser, server.origin);
    const image = generatedImage(224, 224);
    const pixels = { width: image.width, height: image.height, data: Array.from(image.data) };
    const setup = await opened.page.evaluate(setUp, { threads, models: o.models, pixels });
    if (!setup.isolated) throw new Error('the bench page is not cross-origin isolated');
    pages.push({ threads, ...opened, setup });
  }
  const rows = [];
  for (const name of o.models) {
    const samples = pages.map(() => ({ ort: [], engine: [] }));
    for (let i = -o.warmup; i < o.iterations; i++) {
      const order = i % 2 ? [0, 1] : [1, 0];
      for (const k of order) {
        const t = await pages[k].page.evaluate(round, { name, ortFirst: (i + k) % 2 === 0 });
        if (i >= 0) for (const key of ['ort', 'engine']) samples[k][key].push(t[key]);
      }
    }
    pages.forEach((p, k) => rows.push({ model: name, threads: p.threads, engine_threads: p.setup.out[name].engine_threads,
      logits_diff_over_max: p.setup.out[name].logits_diff_over_max,
      ort: stats(samples[k].ort), engine: stats(samples[k].engine),
      ratio: stats(samples[k].engine).median_ms / stats(samples[k].ort).median_ms }));
  }
  for (const p of pages) {
    if (p.log.errors.length) console.error(`bench/onnx_threads.mjs: the page logged errors: ${p.log.errors.join('; ')}`);
    await p.context.close();
  }
  return { chromium: browser.version(), ort: `onnxruntime-web ${ortVersion} (ort.wasm.min.mjs, numThreads = threads)`, rows };
});

if (o.json) {
  console.log(JSON.stringify(result, null, 1));
} else {
  const fmt = (s) => `${s.median_ms.toFixed(1)} (${s.p10_ms.toFixed(1)}-${s.p90_ms.toFixed(1)})`;
  console.log(`Chromium ${result.chromium}, cross-origin isolated pages; ${result.ort}; ${o.iterations} rounds after ${o.warmup}, medians (p10-p90) in ms`);
  console.log('| model | threads | ORT forward | engine forward | engine / ORT |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of result.rows) {
    const ran = r.engine_threads === r.threads ? '' : ` (engine ran ${r.engine_threads})`;
    const agree = r.logits_diff_over_max > 1e-4 ? ' ** logits DISAGREE: the timings do not compare **' : '';
    console.log(`| ${r.model} | ${r.threads}${ran} | ${fmt(r.ort)} | ${fmt(r.engine)} | ${r.ratio.toFixed(2)}x |${agree}`);
  }
}
