// The JS API (build/site/gradcam.mjs under plain Node) on ONNX models exported by PyTorch: what the
// file does not say (mean, std, labels) given at loading or after, the explainable nodes in info,
// every entry point working, maps identical to the CLI's for the same image and options (the wasm
// CLI is the same engine; the native one equal up to float rounding), and clear errors.
//
//   node --test tests/js/onnx_api.test.mjs
//
// The fixtures are written on demand (support.mjs onnxFixtures; Debian's python3-torch).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

import { ONNX_FIXTURES, nativeCli, onnxFixtures, requireBuilt, root, run, siteModule, tempDir, wasmCli } from './support.mjs';

requireBuilt(siteModule);
const { loadEngine } = await import(siteModule);
const manifest = onnxFixtures();
const dir = tempDir('gradcam-onnx-api-');
const IMAGE = path.join(root, 'assets/samples/airplane.jpg');
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const fixture = (name) => path.join(ONNX_FIXTURES, manifest.models[name].file);

// allops: 32x32, 10 classes, every op the importer reads; fast enough for the error paths.
const allopsLabels = Array.from({ length: 10 }, (_, i) => `thing ${i}`);
const allops = await loadEngine({ model: fixture('allops'), mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], labels: allopsLabels });
const image = allops.decode(fs.readFileSync(IMAGE));

test('info lists the explainable nodes with their NCHW shapes, the options given and the labels', () => {
  const info = allops.info;
  assert.equal(info.format, 'onnx');
  assert.deepEqual(info.classes, allopsLabels);
  assert.deepEqual(info.input.mean, [0.5, 0.5, 0.5]);
  assert.deepEqual(info.input.std, [0.5, 0.5, 0.5]);
  assert.deepEqual(info.input_shape, [1, 3, 32, 32]);
  assert.equal(info.trained, null);  // an ONNX file does not say
  assert.deepEqual(info.explainable, info.layers.map((l) => l.name));
  for (const node of manifest.models.allops.nodes.filter((n) => n.shape.length === 4)) {
    const layer = info.layers.find((l) => l.name === node.onnx_node);
    assert.ok(layer, `${node.onnx_node} is listed`);
    assert.deepEqual(layer.output, node.shape);
    assert.equal(layer.output_name, node.tensor);
  }
  assert.ok(info.explainable.includes(info.default_layer));
});

test('explain, explainAll, predict, evaluate and sanityCheck work on an ONNX engine', () => {
  const node = manifest.models.allops.nodes.find((n) => n.shape.length === 4 && n.shape[2] > 2);
  const r = allops.explain(image, { layer: node.onnx_node });
  assert.equal(r.layer.name, node.onnx_node);
  assert.equal(r.trained, null);
  assert.deepEqual([r.cam.height, r.cam.width], node.shape.slice(2));
  assert.ok(allopsLabels.includes(r.top[0].name));
  // The node's output tensor names the same node.
  const byOutput = allops.explain(image, { layer: node.tensor });
  assert.equal(byOutput.layer.name, node.onnx_node);
  assert.deepEqual(Array.from(byOutput.cam.data), Array.from(r.cam.data));

  assert.deepEqual(Array.from(allops.predict(image).probabilities), Array.from(r.probabilities));
  const all = allops.explainAll(image, { method: 'gradcam' });
  assert.deepEqual(all.layers.map((l) => l.name), allops.info.explainable);
  const same = all.layers.find((l) => l.name === node.onnx_node);
  assert.deepEqual(Array.from(same.cam.data), Array.from(r.cam.data));
  const faith = allops.evaluate(image, r, { metrics: ['deletion'], steps: 4 });
  assert.equal(faith.deletion.probability.length, 5);
  const sanity = allops.sanityCheck(image, { layer: node.onnx_node });
  assert.ok(sanity.steps.length > 0);
  assert.deepEqual([sanity.original.height, sanity.original.width], node.shape.slice(2));
});

test('explain at a ResNet-18 node equals the CLI\'s map for the same image, options and labels', async () => {
  const names = Array.from({ length: 1000 }, (_, i) => `class_${i}`);
  const labelsFile = path.join(dir, 'labels.txt');
  fs.writeFileSync(labelsFile, `${names.join('\n')}\n`);
  const layer = '/layer4/layer4.1/relu_1/Relu';
  const engine = await loadEngine({ model: fixture('resnet18'), ...IMAGENET, labels: labelsFile });
  const r = engine.explain(engine.decode(fs.readFileSync(IMAGE)), { layer });
  const args = ['explain', '--model', fixture('resnet18'), '--image', IMAGE, '--mean', IMAGENET.mean.join(','),
    '--std', IMAGENET.std.join(','), '--labels', labelsFile, '--layer', layer, '--json'];
  for (const [cli, exact] of [[wasmCli, true], [nativeCli, false]]) {
    requireBuilt(cli);
    const out = run(cli, args);
    assert.equal(out.status, 0, out.stderr);
    const j = JSON.parse(out.stdout);
    assert.equal(j.layer.name, layer);
    assert.equal(j.target.name, r.target.name);
    assert.deepEqual(j.top.map((t) => t.name), r.top.map((t) => t.name));
    assert.deepEqual([j.cam.height, j.cam.width], [r.cam.height, r.cam.width]);
    const max = Math.max(...j.cam.values.map(Math.abs));
    assert.ok(max > 0, 'the map is not zero everywhere');
    if (exact) {
      // One engine, one wasm build: the same numbers (the JSON prints floats that read back exactly).
      assert.deepEqual(Array.from(r.cam.data), j.cam.values.map(Math.fround));
    } else {
      // Native kernels sum in another order (SIMD width): equal up to rounding, as in cli_parity.
      j.cam.values.forEach((v, i) => assert.ok(Math.abs(v - r.cam.data[i]) <= 1e-3 * max, `cam[${i}]: ${v} != ${r.cam.data[i]}`));
    }
  }
  engine.dispose();
});

test('setModelOptions changes only what it names, and a labels file is one name per line', async () => {
  const engine = await loadEngine({ model: fixture('allops') });
  assert.equal(engine.info.input.mean, undefined);
  assert.deepEqual(engine.info.classes, Array.from({ length: 10 }, (_, i) => String(i)));
  const plain = engine.predict(image).probabilities;
  await engine.setModelOptions({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  assert.deepEqual(Array.from(engine.predict(image).probabilities), Array.from(allops.predict(image).probabilities));
  await engine.setModelOptions({ labels: 'a\r\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n' });  // text: it holds line breaks
  assert.deepEqual(engine.info.classes, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
  assert.deepEqual(engine.info.input.mean, [0.5, 0.5, 0.5]);  // labels alone keep the normalisation
  const file = path.join(dir, 'ten.txt');
  fs.writeFileSync(file, allopsLabels.join('\n'));
  await engine.setModelOptions({ labels: new Uint8Array(fs.readFileSync(file)) });
  assert.deepEqual(engine.info.classes, allopsLabels);
  await engine.setModelOptions({ mean: null, std: null });
  assert.equal(engine.info.input.mean, undefined);
  assert.deepEqual(Array.from(engine.predict(image).probabilities), Array.from(plain));
  assert.deepEqual(engine.info.classes, allopsLabels);
  engine.dispose();
});

test('bad options and labels are errors that say what to fix, and the engine stays usable', async () => {
  const model = fixture('allops');
  const cases = [
    [{ model, means: [0.5, 0.5, 0.5] }, /loadEngine: unknown option "means" \(valid: model, arch, threads, mean, std, labels, size, hdf5Timeout\)$/],
    [{ model, mean: [0.5, 0.5, 0.5] }, /mean and std go together/],
    [{ model, mean: [0.5, 0.5], std: [0.5, 0.5] }, /mean and std need 3 values each/],
    [{ model, mean: 5, std: [1, 1, 1] }, /mean must be an array of numbers/],
    // Text is the CLI's and the widget's form, read by the same contract.
    [{ model, mean: '0.5;0.5;0.5', std: [1, 1, 1] }, /mean takes numbers separated by commas/],
    [{ model, mean: [0, 0, 0], std: [1, 0, 1] }, /std must be positive/],
    [{ model, labels: ['one', 'two'] }, /the labels name 2 classes, the model has 10/],
    [{ model, labels: 'a\nb\n' }, /the labels name 2 classes, the model has 10/],
    [{ model, labels: '\n\n' }, /no labels \(one class name per line\)/],
    [{ model, labels: path.join(dir, 'missing.txt') }, /missing\.txt: cannot read labels file/],
    [{ model, labels: [1, 2] }, /labels must be an array of strings/],
    [{ model, size: 'big' }, /size must be a whole number/],
    // Number.isInteger(4e80) is true; the engine's reader refuses it by range instead of converting it.
    [{ model, size: 4e80 }, /size must be a whole number from 1 to 4096 \(got "4e\+80"\)/],
    [{ model, size: NaN }, /size must be a finite number, not NaN/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(loadEngine(options), message, JSON.stringify(options));
  }
  await assert.rejects(allops.setModelOptions({ size: 64 }), /setModelOptions: unknown option "size" \(valid: mean, std, labels\)$/);
  // A valid normalisation with a bad label count: refused whole (the values alone are checked first).
  await assert.rejects(allops.setModelOptions({ mean: [0, 0, 0], std: [1, 1, 1], labels: ['x'] }), /the labels name 1 classes/);
  await assert.rejects(allops.setModelOptions({ mean: [0, 0, 0], std: [0, 1, 1] }), /std must be positive/);
  // Nothing changed.
  assert.deepEqual(allops.info.input.mean, [0.5, 0.5, 0.5]);
  assert.deepEqual(allops.info.classes, allopsLabels);
  assert.throws(() => allops.explain(image, { layer: '/no/such/Node' }), /no explainable node named "\/no\/such\/Node"/);
  assert.throws(() => allops.explain(image, { layre: 'x' }), /layre/);
  assert.ok(allops.explain(image).cam.data.length > 0);
});

test('an ONNX file loaded from bytes grows the wasm memory by about its weights, not by its bytes and its weights', () => {
  // In a fresh process (the memory only grows): the memory after the small allops fixture, then
  // after ResNet-18 (45 MiB) from bytes. The file stays in JS and is read as it is decoded
  // (load.mjs, gc_load_onnx_file): 62 MiB of growth, with Emscripten's growth steps; handing the
  // bytes over whole grew it by 107 MiB (2.4x the file).
  const script = `
    const fs = await import('node:fs');
    const { loadEngine } = await import(${JSON.stringify(pathToFileURL(siteModule).href)});
    const small = await loadEngine({ model: fs.readFileSync(process.argv[1]) });
    const before = small._core.HEAPU8.length;
    const bytes = fs.readFileSync(process.argv[2]);
    const big = await loadEngine({ model: bytes });
    console.log(JSON.stringify({ before, after: big._core.HEAPU8.length, file: bytes.length }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, fixture('allops'), fixture('resnet18')],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { before, after, file } = JSON.parse(r.stdout);
  assert.ok(after - before < 1.6 * file, `the wasm memory grew by ${((after - before) / 2 ** 20).toFixed(1)} MiB ` +
    `for a ${(file / 2 ** 20).toFixed(1)} MiB file`);
});
