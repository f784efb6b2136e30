// The npm package as a stranger uses it: build/npm/gradcam-wasm-<version>.tgz (the wasm tree's
// npm_package target) installed with `npm install --offline` into an empty project, its one
// dependency (h5wasm) read from build/npm-cache (tools/deps.sh fills it): no network. Then
//  - Node: `import { loadEngine } from 'gradcam-wasm'` explains a photo with the shipped model, a
//    Keras file and an ONNX file, exactly as the repository's JS API (build/site) does;
//  - a browser app importing gradcam-wasm and gradcam-wasm/widget, bundled by esbuild (with the
//    Keras reader's worker), served, in headless Chromium: the widget draws a map, the API explains
//    and reads a Keras file (in the worker), and no request leaves the origin;
//  - `npx gradcam info --json` and `npx gradcam explain ... --json --out`, with a Keras --model too;
//  - `tsc --strict` passes on an example using every call and fails on `method: 42`, for that.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { onnxFixtures, ONNX_FIXTURES, requireBuilt, root, siteModule, tempDir } from '../js/support.mjs';
import { launchBrowser, openPage, startServer } from '../browser/support.mjs';
import { canvasStats } from '../browser/widget_pixels.mjs';

const { version } = JSON.parse(fs.readFileSync(path.join(root, 'npm/package.json'), 'utf8'));
const tarball = process.env.GRADCAM_NPM_TARBALL ?? path.join(root, `build/npm/gradcam-wasm-${version}.tgz`);
const cache = path.join(root, 'build/npm-cache');
const esbuild = path.join(root, 'node_modules/esbuild/bin/esbuild');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
const image = path.join(root, 'assets/samples/cat.jpg');
const project = tempDir('gradcam-npm-');
const keras = path.join(tempDir('gradcam-npm-keras-'), 'weights.h5');
const installed = path.join(project, 'node_modules/gradcam-wasm');

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

before(() => {
  requireBuilt(tarball);
  requireBuilt(siteModule);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'stranger', private: true, type: 'module' }));
  const r = sh('npm', ['install', '--offline', '--cache', cache, '--no-audit', '--no-fund', '--loglevel=error', tarball]);
  if (r.status !== 0) {
    throw new Error(`npm install --offline ${tarball} failed (is the package's h5wasm in ${cache}? run tools/deps.sh): ${r.stderr}`);
  }
  const k = sh('/usr/bin/python3', [path.join(root, 'tests/fixtures/keras_fixtures.py'), path.dirname(keras)]);
  if (k.status !== 0) throw new Error(`keras_fixtures.py failed (install python3-h5py: tools/deps.sh): ${k.stderr}`);
});

after(() => {
  fs.rmSync(project, { recursive: true, force: true });
  fs.rmSync(path.dirname(keras), { recursive: true, force: true });
});

test('the tarball holds the API, the widget, the model, the CLI, types and docs, and no copy of h5wasm', () => {
  const files = sh('tar', ['tzf', tarball]).stdout.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort();
  assert.deepEqual(files, ['CHANGELOG.md', 'README.md', 'abi.mjs', 'bin/gradcam.mjs', 'cli/gradcam.cjs', 'cli/gradcam.wasm',
    'gradcam.mjs', 'gradcam_core.mjs', 'gradcam_core.wasm', 'gradcam_core_threads.mjs', 'gradcam_core_threads.wasm',
    'gradcam_core_threads.worker.js', 'h5wasm.mjs', 'index.d.ts', 'keras.mjs', 'keras_worker.mjs', 'load.mjs',
    'models/cifar10.safetensors', 'package.json', 'tfjs.mjs', 'widget.d.ts', 'widget.js', 'widget_renderer.js']);
  const manifest = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(manifest.version, version);
  assert.equal(manifest.engines.node, '>=20');
  assert.deepEqual(Object.keys(manifest.dependencies), ['h5wasm']);
  assert.ok(fs.existsSync(path.join(project, 'node_modules/h5wasm/dist/esm/hdf5_hl.js')), 'npm installed h5wasm beside it');
});

test('Node: the package explains a photo with the shipped model, a Keras file and an ONNX file, as the repository API does', async () => {
  const onnx = onnxFixtures().models.squeezenet1_1;
  const onnxOptions = { model: path.join(ONNX_FIXTURES, onnx.file), mean: onnx.mean, std: onnx.std };
  // The two lines of the README, then the other two formats.
  fs.writeFileSync(path.join(project, 'node.mjs'), `
import { loadEngine } from 'gradcam-wasm';
import fs from 'node:fs';
const [image, keras, onnx] = process.argv.slice(2);
const engine = await loadEngine();
const picture = engine.decode(fs.readFileSync(image));
const pick = (r) => ({ top: r.top, summary: r.summary, probabilities: Array.from(r.probabilities), cam: Array.from(r.cam.data) });
const out = { shipped: pick(engine.explain(picture)) };
out.keras = pick((await loadEngine({ model: keras })).explain(picture));
out.onnx = pick((await loadEngine(JSON.parse(onnx))).explain(picture, { method: 'gradcam++' }));
console.log(JSON.stringify(out));
`);
  const r = sh(process.execPath, ['node.mjs', image, keras, JSON.stringify(onnxOptions)]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);

  const { loadEngine } = await import(siteModule);
  const reference = await loadEngine({ model: path.join(root, 'assets/models/cifar10.safetensors') });
  const picture = reference.decode(fs.readFileSync(image));
  const expected = reference.explain(picture);
  assert.deepEqual(out.shipped.probabilities, Array.from(expected.probabilities));
  assert.deepEqual(out.shipped.cam, Array.from(expected.cam.data));
  assert.equal(out.shipped.summary, expected.summary);
  // tests/js/keras.test.mjs: every Keras layout explains exactly as the shipped model file.
  assert.deepEqual(out.keras.probabilities, out.shipped.probabilities);
  assert.deepEqual(out.keras.cam, out.shipped.cam);
  const onnxExpected = (await loadEngine(onnxOptions)).explain(picture, { method: 'gradcam++' });
  assert.equal(out.onnx.probabilities.length, 1000);
  assert.deepEqual(out.onnx.probabilities, Array.from(onnxExpected.probabilities));
  assert.deepEqual(out.onnx.cam, Array.from(onnxExpected.cam.data));
});

test("the declarations' name unions hold only names the engine knows", async () => {
  const dts = fs.readFileSync(path.join(installed, 'index.d.ts'), 'utf8');
  const union = (type) => {
    const m = dts.match(new RegExp(`export type ${type} =([^;]*);`));
    assert.ok(m, `index.d.ts declares ${type}`);
    const names = [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
    assert.ok(names.length > 0, `${type} lists names`);
    return names;
  };
  const { loadEngine } = await import(siteModule);
  const { names, method_details: details } = (await loadEngine()).info;
  // A new engine method is still accepted (the unions end in `string & {}`); a name the engine
  // dropped or renamed fails here.
  for (const m of union('MethodName')) assert.ok(names.methods.includes(m), `MethodName ${m}`);
  for (const m of union('AllLayersMethodName')) assert.ok(details.find((d) => d.name === m)?.all_layers, `AllLayersMethodName ${m}`);
  assert.deepEqual(union('ScoreName'), names.scores);
  assert.deepEqual(union('CropMode'), names.crops);
  for (const c of union('ColormapName')) assert.ok(names.colormaps.includes(c), `ColormapName ${c}`);
  for (const m of union('MetricName')) assert.ok(names.metrics.includes(m), `MetricName ${m}`);
});

test('npx gradcam runs the wasm CLI with the shipped model when --model is absent', () => {
  const info = sh('npx', ['--offline', 'gradcam', 'info', '--json']);
  assert.equal(info.status, 0, info.stderr);
  const { classes, conv_layers: layers, format } = JSON.parse(info.stdout);
  assert.equal(format, 'model');
  assert.equal(classes.length, 10);
  assert.equal(layers.at(-1), 'conv2d_8');

  const overlay = path.join(project, 'overlay.png');
  const explain = sh('npx', ['--offline', 'gradcam', 'explain', '--image', image, '--method', 'layercam', '--out', overlay, '--json']);
  assert.equal(explain.status, 0, explain.stderr);
  const r = JSON.parse(explain.stdout);
  assert.equal(r.method, 'layercam');
  assert.equal(r.top.length > 0 && r.top[0].name, 'cat');
  assert.deepEqual(fs.readFileSync(overlay).subarray(0, 8), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  // The same CLI as the repository's wasm build: the same answer for an explicit --model.
  const explicit = sh('npx', ['--offline', 'gradcam', 'explain', '--model', path.join(root, 'assets/models/cifar10.safetensors'),
    '--image', image, '--method', 'layercam', '--json']);
  assert.deepEqual(JSON.parse(explicit.stdout).probabilities, r.probabilities);
  // A Keras file: the package's CLI reads it with the package's keras.mjs and its h5wasm dependency.
  const fromKeras = sh('npx', ['--offline', 'gradcam', 'explain', '--model', keras, '--image', image, '--method', 'layercam', '--json']);
  assert.equal(fromKeras.status, 0, fromKeras.stderr);
  assert.deepEqual(JSON.parse(fromKeras.stdout).probabilities, r.probabilities);

  const typo = sh('npx', ['--offline', 'gradcam', 'explain', '--imagee', image]);
  assert.equal(typo.status, 2, typo.stderr);
  assert.match(typo.stderr, /--imagee/);
});

test('esbuild bundles an app with gradcam-wasm and its widget: in Chromium the widget draws a map, the API reads a Keras file, nothing leaves the origin', async (t) => {
  const src = path.join(project, 'src'), www = path.join(project, 'www');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'app.js'), `
import { loadEngine } from 'gradcam-wasm';
import 'gradcam-wasm/widget';
window.done = (async () => {
  const engine = await loadEngine();
  const picture = engine.decode(await (await fetch('cat.jpg')).arrayBuffer());
  const keras = await loadEngine({ model: 'weights.h5' });
  return { shipped: engine.explain(picture).top[0].name, keras: Array.from(keras.explain(picture).probabilities),
    probabilities: Array.from(engine.explain(picture).probabilities) };
})();
`);
  const b = sh(process.execPath, [esbuild, 'src/app.js', '--bundle', '--format=esm', '--splitting', '--outdir=www', '--log-level=warning']);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(b.stderr, '', 'esbuild bundles without a warning');
  // esbuild does not copy what `new URL(..., import.meta.url)` names (Vite and webpack do): the
  // package's README says to copy these beside the bundle (the threaded core's three files for
  // threads: the test server sends the cross-origin isolation headers), and to bundle the Keras
  // reader's worker (it imports h5wasm by its bare name) as keras_worker.mjs beside it.
  const w = sh(process.execPath, [esbuild, 'node_modules/gradcam-wasm/keras_worker.mjs', '--bundle', '--format=esm',
    '--outfile=www/keras_worker.mjs', '--log-level=warning']);
  assert.equal(w.status, 0, w.stderr);
  assert.equal(w.stderr, '', 'esbuild bundles the worker without a warning');
  for (const f of ['gradcam_core.wasm', 'gradcam_core_threads.mjs', 'gradcam_core_threads.wasm', 'gradcam_core_threads.worker.js']) {
    fs.copyFileSync(path.join(installed, f), path.join(www, f));
  }
  fs.cpSync(path.join(installed, 'models'), path.join(www, 'models'), { recursive: true });
  fs.copyFileSync(image, path.join(www, 'cat.jpg'));
  fs.copyFileSync(keras, path.join(www, 'weights.h5'));
  fs.writeFileSync(path.join(www, 'index.html'), '<!doctype html><meta charset="utf-8"><title>app</title><link rel="icon" href="data:,">' +
    '<gradcam-view id="view" src="cat.jpg" method="gradcam"></gradcam-view><script type="module" src="app.js"></script>');

  const server = await startServer(www);
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await server.close(); });
  const { page, log } = await openPage(browser, server.origin);
  await page.goto(`${server.origin}/index.html`);
  const api = await page.evaluate(() => window.done);
  await page.waitForFunction(() => document.querySelector('#view').result !== null, null, { timeout: 60000 });
  assert.equal(api.shipped, 'cat');
  assert.deepEqual(api.keras, api.probabilities, 'the Keras file explains as the shipped model');
  assert.equal(await page.evaluate(() => document.querySelector('#view').result.top[0].name), 'cat');
  const s = await canvasStats(page, '#view');
  assert.ok(s.heat > 0.2, `the widget shows a heat map (${s.heat} of the pixels)`);
  // h5wasm (5 MB, its wasm inlined) lives in the reader's worker, fetched only once a Keras file is
  // opened; the page itself never loads it (its chunk is there only for a page that cannot start workers).
  const worker = log.requests.findIndex((u) => u.endsWith('/keras_worker.mjs'));
  assert.ok(worker > log.requests.findIndex((u) => u.endsWith('/weights.h5')), `the worker after the Keras file: ${log.requests.join(' ')}`);
  assert.ok(!log.requests.some((u) => /\/h5wasm-[A-Z0-9]+\.js$/.test(u)), log.requests.join(' '));
  assert.ok(fs.statSync(path.join(www, 'app.js')).size < 1 << 20, 'the app bundle does not hold h5wasm');
  assert.deepEqual(log.foreign, []);
  assert.deepEqual(log.errors, []);
});

test('tsc --strict accepts an example using every call and rejects a method that is a number', () => {
  const good = `
import { loadEngine, type Engine, type Explanation, type EngineInfo } from 'gradcam-wasm';
import 'gradcam-wasm/widget';

const engine: Engine = await loadEngine();
const onnx = await loadEngine({ model: 'resnet18.onnx', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225],
  labels: ['a', 'b'], size: 224 });
await loadEngine({ model: new Uint8Array(8), arch: { layers: [] }, hdf5Timeout: 30 });
const image = engine.decode(new Uint8Array(8));
const info: EngineInfo = engine.info;
const method = info.method_details.find((d) => d.all_layers)?.name ?? 'gradcam';
const p = engine.predict(image, { crop: 'letterbox' });
const top: number = p.top[0].probability + p.probabilities[0] + p.input[0];
const r: Explanation = engine.explain(image, { layer: info.default_layer ?? 'auto', method: 'gradcam++', target: 'cat',
  score: 'logit', crop: 'center', samples: 8 });
const map = r.heatmap(64, 64).data[0] + r.cam.data[0] + r.timings.call + r.layer.channels;
const overlay: Uint8ClampedArray = r.overlay(image, { colormap: 'viridis', alpha: 0.5 }).data;
const all = engine.explainAll(image, { method, target: 3 });
const layers: string[] = all.layers.map((l) => l.name + l.heatmap().width);
const e = engine.evaluate(image, r, { metrics: ['deletion', 'road'], steps: 16 });
const auc: number | undefined = e.deletion?.auc ?? e.road?.morf_mean ?? e.confidence_change;
const sanity = engine.sanityCheck(image, { method: 'gradcam' }).steps.map((s) => s.spearman + s.ssim + s.map.values[0]);
const request = engine.parseRequest({ method: 'xgradcam', colormap: 'turbo', alpha: 0.3 });
const target: number = request.target;
const ig = engine.explain(image, { method: 'integrated-gradients', steps: 32, baseline: 'blur', eigenSmooth: false, augSmooth: true });
const occluded = engine.explain(image, { method: 'occlusion', window: 8, stride: 4 }).attribution?.[0] ?? request.steps;
const smoothed: boolean = request.eigen_smooth || request.aug_smooth || request.baseline === 'zero';
const g = engine.cropGeometry(640, 480, 'letterbox').src[0];
const [red, green, blue] = engine.colormap('inferno', 0.5);
const next: EngineInfo = await onnx.setModelOptions({ mean: null, std: null, labels: 'labels.txt' });
engine.dispose();

const view = document.createElement('gradcam-view');
view.setAttribute('src', 'cat.jpg');
view.addEventListener('gradcam-result', (ev) => console.log(ev.detail.top[0].name, ev.detail.layer, view.result?.method));
view.addEventListener('gradcam-error', (ev) => console.log(ev.detail.message.length));
const found = document.querySelector('gradcam-view')?.result?.target.probability;
console.log(top, map, overlay, layers, auc, sanity, target, ig.attribution, occluded, smoothed, g, red, green, blue, next.classes, found);
`;
  const bad = "import { loadEngine } from 'gradcam-wasm';\nconst e = await loadEngine();\ne.explain(e.decode(new Uint8Array(8)), { method: 42 });\n";
  fs.writeFileSync(path.join(project, 'good.ts'), good);
  fs.writeFileSync(path.join(project, 'bad.ts'), bad);
  const flags = ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'es2022,dom', '--types', ''];
  const ok = sh(process.execPath, [tsc, ...flags, 'good.ts']);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const wrong = sh(process.execPath, [tsc, ...flags, 'bad.ts']);
  assert.notEqual(wrong.status, 0);
  // One error, at `method: 42`: a number where a method name goes.
  const errors = wrong.stdout.trim().split('\n').filter((l) => /error TS/.test(l));
  assert.equal(errors.length, 1, wrong.stdout);
  assert.match(errors[0], /^bad\.ts\(3,42\): error TS2322: Type 'number' is not assignable to type 'MethodName/);
});
