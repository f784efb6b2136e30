// TF.js layers models (tensorflowjs_converter's layers-model in float32 and its uint8 / uint16 /
// float16 quantised forms, and a Teachable Machine image export) through the native CLI, the wasm
// CLI and the JS API (by path, from File objects, from a .zip), checked against tfjs-layers 4.22
// itself: tf.loadLayersModel on the same files (so quantised weights are dequantised by TF.js's own
// decodeWeights) predicts on the exact tensor the engine fed (--dump-input, result.input), and its
// gradients (tf.grad through the model's own layers) give the Grad-CAM maps the engine draws.
// Fixtures: tests/fixtures/tfjs_fixtures.py, written at test time.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tfl from '@tensorflow/tfjs-layers';
import { tf, setBackend, camFromActivations } from './tfjs_reference.mjs';
import { root, nativeCli, wasmCli, siteModule, requireBuilt, tempDir, run, worstDiff } from './support.mjs';

const dir = tempDir('gradcam-tfjs-');
const image = path.join(root, 'assets/samples', fs.readdirSync(path.join(root, 'assets/samples')).filter((n) => /\.(jpe?g|png)$/.test(n)).sort()[0]);
const CONVERTED = ['cnn-float32', 'cnn-uint8', 'cnn-uint16', 'cnn-float16'];
// Measured up to 9e-8 (float32 sums in another order than TF.js's cpu kernels): 1e-6 leaves room.
const TOLERANCE = 1e-6;
// One line on stderr naming the file and the problem.
const ERRORS = {
  'broken-missing': 'weight file group1-shard1of1.bin is missing',
  'broken-short': 'weight file group1-shard1of1.bin is too short: 1000 bytes, the manifest\'s weights need 71568',
  'broken-dtype': 'weight conv2d/bias: dtype bool is not a weight type (TF.js layers weights are float32 or int32)',
};

before(async () => {
  requireBuilt(nativeCli);
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'tests/fixtures/tfjs_fixtures.py'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tfjs_fixtures.py failed: ${r.stderr}`);
  await setBackend('cpu');
});

// tfjs-layers' own model from the folder's files: its decodeWeights dequantises.
const references = new Map();
async function reference(folder) {
  if (!references.has(folder)) {
    const json = JSON.parse(fs.readFileSync(path.join(dir, folder, 'model.json')));
    const group = json.weightsManifest[0];
    const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, folder, p))));
    const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
    references.set(folder, await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: group.weights, weightData })));
  }
  return references.get(folder);
}

async function expectedProbabilities(folder, input) {
  const model = await reference(folder);
  const [, h, w, c] = model.inputs[0].shape;
  return tf.tidy(() => Array.from(model.predict(tf.tensor4d(Float32Array.from(input), [1, h, w, c])).dataSync()));
}

// A chain of Sequential models (nested ones too, as Teachable Machine's) as its layers in order.
const leafLayers = (m) => m.layers.flatMap((l) => (l.layers ? leafLayers(l) : [l])).filter((l) => l.getClassName() !== 'InputLayer');

// Grad-CAM of a Sequential tfjs-layers model at `layerName` for class `target`'s logit (the input
// of the last Dense layer's softmax), from tf.grad through the layers after it.
async function expectedCam(folder, input, layerName, target) {
  const model = await reference(folder);
  const layers = leafLayers(model);
  const k = layers.findIndex((l) => l.name === layerName);
  const last = layers.at(-1);
  return tf.tidy(() => {
    let a = tf.tensor4d(Float32Array.from(input), [1, ...model.inputs[0].shape.slice(1)]);
    for (const l of layers.slice(0, k + 1)) a = l.apply(a, { training: false });
    const logit = (x) => {
      for (const l of layers.slice(k + 1, -1)) x = l.apply(x, { training: false });
      const product = tf.matMul(x, last.kernel.read());
      const logits = last.bias ? tf.add(product, last.bias.read()) : product;
      return tf.sum(tf.slice(logits, [0, target], [1, 1]));
    };
    const g = tf.grad(logit)(a);
    const [, h, w, c] = a.shape;
    return camFromActivations('gradcam', a.dataSync(), g.dataSync(), h, w, c);
  });
}

function assertCam(cam, r, what) {
  assert.equal(cam.values.length, r.values.length, what);
  // As tfjs_crosscheck: 1e-3 of the map's maximum (or of its terms' size, where they cancel).
  const scale = Math.max(r.max, 1e-3 * r.magnitude, 1e-30);
  const { d, at } = worstDiff(cam.values, r.values);
  assert.ok(r.max > 0, `${what}: the reference map is all zero`);
  assert.ok(d <= 1e-3 * scale, `${what}: map differs by ${d} at ${at} (reference max ${r.max})`);
}

function cliJson(cli, model, extra = []) {
  const r = run(cli, ['explain', '--model', model, '--image', image, '--json', '--dump-input', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function assertAgrees(folder, probabilities, input, what) {
  const expected = await expectedProbabilities(folder, input);
  const { d, at } = worstDiff(Array.from(probabilities), expected);
  assert.ok(d <= TOLERANCE, `${what}: probabilities differ by ${d} at class ${at} (tfjs ${expected[at]})`);
}

test('the native CLI predicts every converted TF.js model (float32, uint8, uint16 over 3 shards, float16) as tfjs-layers does', async () => {
  for (const folder of CONVERTED) {
    const out = cliJson(nativeCli, path.join(dir, folder, 'model.json'));
    await assertAgrees(folder, out.probabilities, out.input, folder);
  }
  // Grad-CAM at both conv layers, float32 and the coarsest quantisation.
  for (const folder of ['cnn-float32', 'cnn-uint8']) {
    for (const layer of ['conv2d', 'conv2d_1']) {
      const out = cliJson(nativeCli, path.join(dir, folder, 'model.json'), ['--layer', layer, '--score', 'logit']);
      assertCam(out.cam, await expectedCam(folder, out.input, layer, out.target.index), `${folder} at ${layer}`);
    }
  }
  // The converter's files name no classes: the last Dense layer's 4 units are class_0..class_3.
  const info = JSON.parse(run(nativeCli, ['info', '--model', path.join(dir, 'cnn-float32', 'model.json'), '--json']).stdout);
  assert.deepEqual(info.classes, ['class_0', 'class_1', 'class_2', 'class_3']);
});

test('a Teachable Machine export loads with its labels and its [-1, 1] scale, with no flags', async () => {
  const out = cliJson(nativeCli, path.join(dir, 'tm', 'model.json'));
  const info = JSON.parse(run(nativeCli, ['info', '--model', path.join(dir, 'tm', 'model.json'), '--json']).stdout);
  assert.deepEqual(info.classes, ['Cat', 'Dog', 'Other']);
  assert.ok(['Cat', 'Dog', 'Other'].includes(out.top[0].name));
  // The photo's pixels span 0..255: the tensor fed spans [-1, 1] (pixel / 127.5 - 1).
  const lo = out.input.reduce((a, b) => Math.min(a, b)), hi = out.input.reduce((a, b) => Math.max(a, b));
  assert.ok(lo >= -1 && hi <= 1 && lo < -0.5 && hi > 0.5, `the input spans [${lo}, ${hi}], not [-1, 1]`);
  await assertAgrees('tm', out.probabilities, out.input, 'tm');
  for (const layer of ['expanded_conv_project_BN', 'out_relu']) {
    const at = cliJson(nativeCli, path.join(dir, 'tm', 'model.json'), ['--layer', layer, '--score', 'logit']);
    assertCam(at.cam, await expectedCam('tm', at.input, layer, at.target.index), `tm at ${layer}`);
  }
});

test('broken TF.js folders give one clear error line each (CLI, exit 1)', () => {
  for (const [folder, message] of Object.entries(ERRORS)) {
    const model = path.join(dir, folder, 'model.json');
    const r = run(nativeCli, ['info', '--model', model]);
    assert.equal(r.status, 1, folder);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${folder}: ${r.stderr}`);
    assert.ok(lines[0].startsWith(`gradcam info: ${model}: `), lines[0]);
    assert.ok(lines[0].includes(message), `${folder}: ${lines[0]}`);
  }
});

test('the wasm CLI reads model.json and its shards as the native one does', () => {
  requireBuilt(wasmCli);
  for (const folder of ['cnn-uint16', 'cnn-float16']) {
    const model = path.join(dir, folder, 'model.json');
    const native = cliJson(nativeCli, model), wasm = cliJson(wasmCli, model);
    assert.deepEqual(wasm.input, native.input, folder);
    assert.ok(worstDiff(wasm.probabilities, native.probabilities).d <= 1e-6, folder);
    assert.deepEqual(wasm.top.map((t) => t.name), native.top.map((t) => t.name), folder);
  }
});

test('the JS API loads a model.json by path, from File objects and from a .zip, as tfjs-layers predicts', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const files = (folder) => fs.readdirSync(path.join(dir, folder)).map((name) => new File([fs.readFileSync(path.join(dir, folder, name))], name));
  const cases = [
    ['cnn-float32', path.join(dir, 'cnn-float32', 'model.json')],
    ['cnn-uint8', files('cnn-uint8')],
    ['cnn-uint16', new File([fs.readFileSync(path.join(dir, 'cnn-uint16.zip'))], 'cnn-uint16.zip')],
  ];
  for (const [folder, model] of cases) {
    const engine = await loadEngine({ model });
    const r = engine.explain(engine.decode(fs.readFileSync(image)));
    await assertAgrees(folder, r.probabilities, r.input, `${folder} (${Array.isArray(model) ? 'Files' : model.name ?? typeof model})`);
    engine.dispose();
  }
  // Without its .bin files, a lone model.json names what is missing.
  await assert.rejects(loadEngine({ model: [new File([fs.readFileSync(path.join(dir, 'cnn-float32', 'model.json'))], 'model.json')] }),
    /model\.json: weight file group1-shard1of1\.bin is missing/);
});

test('the Teachable Machine export loads alike in the wasm CLI and the JS API (its files, a stored .zip)', async () => {
  requireBuilt(wasmCli);
  requireBuilt(siteModule);
  const model = path.join(dir, 'tm', 'model.json');
  const native = cliJson(nativeCli, model), wasm = cliJson(wasmCli, model);
  assert.deepEqual(wasm.input, native.input);
  assert.ok(worstDiff(wasm.probabilities, native.probabilities).d <= 1e-6);
  const { loadEngine } = await import(siteModule);
  const files = fs.readdirSync(path.join(dir, 'tm')).map((name) => new File([fs.readFileSync(path.join(dir, 'tm', name))], name));
  for (const given of [model, files, fs.readFileSync(path.join(dir, 'tm.zip'))]) {
    const engine = await loadEngine({ model: given });
    assert.deepEqual(engine.info.classes, ['Cat', 'Dog', 'Other']);
    const r = engine.explain(engine.decode(fs.readFileSync(image)));
    await assertAgrees('tm', r.probabilities, r.input, `tm (${Array.isArray(given) ? 'Files' : typeof given})`);
    engine.dispose();
  }
});
