// Threads benchmark (not a test: it never fails because something is slow). In headless Chromium on
// build/site as tools/serve.mjs serves it (cross-origin isolated), one page runs the JS API on one
// thread (loadEngine({threads: 1}): the single-threaded core, gradcam_core) and on N threads (the
// threaded core, gradcam_core_threads), side by side: each round times one call on each, in turn.
//   - the seed model (models/cifar10.safetensors): forward (predict), Grad-CAM at its default layer,
//     Score-CAM at conv2d_6 and at its default layer (conv2d_8), the sanity check (sanityCheck:
//     Grad-CAM after each layer's weights are re-initialised, top down);
//   - ResNet-18 and MobileNetV2 (build/onnx-fixtures/{resnet18,mobilenet_v2}.onnx,
//     tools/onnx_fixtures.py; each left out when missing): forward, Grad-CAM, SmoothGrad (25
//     samples), Score-CAM (512 and 1,280 masked passes) and the sanity check at the default layer,
//     on a 224x224 image; the last three take --scorecam-iterations rounds (3 by default) after one
//     untimed.
// Medians of the wall time of each call; `ratio` is 1 thread / N threads (above 1: threads help).
// For Score-CAM at the default layer, a row more: its time over (the layer's channels x one forward),
// each engine against its own forward (below 1: a masked pass costs less than a forward), and the
// N-thread Score-CAM against the 1-thread forward (in brackets).
// Chromium here runs the page with navigator.hardwareConcurrency of the machine.
// Usage: node bench/wasm_threads.mjs [--threads 2] [--iterations 15] [--scorecam-iterations 3] [--json]
//        (after tools/build.sh)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openPage } from '../tests/browser/support.mjs';
import { option, parseOptions, withSiteInChromium } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { threads, iterations, scorecamIterations, json: asJson } = parseOptions(process.argv.slice(2), {
  threads: option.count(2),
  iterations: option.count(15),
  'scorecam-iterations': option.count(3),
  json: option.flag(),
}, import.meta.url);
const onnxModels = ['resnet18', 'mobilenet_v2'].filter((m) => fs.existsSync(path.join(root, `build/onnx-fixtures/${m}.onnx`)));

// In the page: both engines for each model, then `iterations` rounds of every row, one call on
// each engine in turn (the order alternates), after two untimed rounds.
async function measure({ threads, iterations, scorecamIterations, onnxModels }) {
  const { loadEngine } = await import('./gradcam.mjs');
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const photo = async (size) => {
    const bitmap = await createImageBitmap(await (await fetch('samples/cat.jpg')).blob());
    const canvas = new OffscreenCanvas(size, size);
    const g = canvas.getContext('2d');
    g.drawImage(bitmap, 0, 0, size, size);
    return g.getImageData(0, 0, size, size);
  };
  const models = [{ name: 'seed', options: {}, size: 32,
    rows: [['forward', (e, img) => e.predict(img)], ['gradcam', (e, img) => e.explain(img)],
      ['scorecam conv2d_6', (e, img) => e.explain(img, { method: 'scorecam', layer: 'conv2d_6' })],
      ['scorecam', (e, img) => e.explain(img, { method: 'scorecam' })],
      ['sanity check', (e, img) => e.sanityCheck(img)]] }];
  for (const name of onnxModels) {
    const long = { rounds: scorecamIterations, warm: 1 };
    models.push({ name, size: 224,
      options: { model: `bench-models/${name}.onnx`, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      rows: [['forward', (e, img) => e.predict(img)], ['gradcam', (e, img) => e.explain(img)],
        ['smoothgrad', (e, img) => e.explain(img, { method: 'smoothgrad' }), long],
        ['scorecam', (e, img) => e.explain(img, { method: 'scorecam' }), long],
        ['sanity check', (e, img) => e.sanityCheck(img), long]] });
  }
  const out = [];
  for (const m of models) {
    const one = await loadEngine({ ...m.options, threads: 1 });
    const many = await loadEngine({ ...m.options, threads });
    const image = await photo(m.size);
    // The default layer's channels: info lists a model file's layers as [h, w, c], an ONNX graph's
    // nodes as [1, c, h, w].
    const layer = one.info.layers.find((l) => l.name === one.info.default_layer);
    const channels = layer.output.length === 3 ? layer.output[2] : layer.output[1];
    const forward = {};
    for (const [row, call, { rounds = iterations, warm = 2 } = {}] of m.rows) {
      const times = { one: [], many: [] };
      for (let i = -warm; i < rounds; i++) {
        const order = i % 2 ? [['one', one], ['many', many]] : [['many', many], ['one', one]];
        for (const [key, engine] of order) {
          const t0 = performance.now();
          call(engine, image);
          const t = performance.now() - t0;
          if (i >= 0) times[key].push(t);
        }
      }
      out.push({ model: m.name, row, threads: [one.threads, many.threads], one_ms: median(times.one), many_ms: median(times.many) });
      if (row === 'forward') Object.assign(forward, { one: median(times.one), many: median(times.many) });
      if (row === 'scorecam') {
        out.push({ model: m.name, row: `scorecam / (${channels} channels x forward)`, ratio: true, threads: [one.threads, many.threads],
          one_ms: median(times.one) / (channels * forward.one), many_ms: median(times.many) / (channels * forward.many),
          many_against_one_thread_forward: median(times.many) / (channels * forward.one) });
      }
    }
    one.dispose();
    many.dispose();
  }
  return { isolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency, rows: out };
}

const result = await withSiteInChromium(import.meta.url, [], async ({ browser, server }) => {
  const { page, log } = await openPage(browser, server.origin);
  for (const name of onnxModels) {
    await page.route(`${server.origin}/bench-models/${name}.onnx`, (route) => route.fulfill({
      body: fs.readFileSync(path.join(root, `build/onnx-fixtures/${name}.onnx`)), contentType: 'application/octet-stream' }));
  }
  await page.goto(`${server.origin}/embed.html`);
  const measured = await page.evaluate(measure, { threads, iterations, scorecamIterations, onnxModels });
  if (log.errors.length) console.error(`bench/wasm_threads.mjs: the page logged errors: ${log.errors.join('; ')}`);
  return { ...measured, chromium: browser.version() };
});

const fmt = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(1));
if (asJson) {
  console.log(JSON.stringify(result, null, 1));
} else {
  console.log(`Chromium ${result.chromium}, cross-origin isolated: ${result.isolated}, hardwareConcurrency ${result.cores}; ` +
    `medians of ${iterations} rounds (ms)`);
  console.log(`| model | row | 1 thread | ${threads} threads | 1 / ${threads} |`);
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of result.rows) {
    const cell = (v) => (r.ratio ? v.toFixed(2) : fmt(v));
    let label = r.threads[1] === threads ? `${cell(r.many_ms)}` : `${cell(r.many_ms)} (ran on ${r.threads[1]})`;
    if (r.ratio) label += ` (${cell(r.many_against_one_thread_forward)})`;
    console.log(`| ${r.model} | ${r.row} | ${cell(r.one_ms)} | ${label} | ${r.ratio ? '-' : `${(r.one_ms / r.many_ms).toFixed(2)}x`} |`);
  }
}
