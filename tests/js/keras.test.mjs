// Keras files everywhere: the native CLI (--model FILE.h5, import-keras) and the JS API (h5wasm)
// predict exactly what the shipped model file predicts, from every layout that
// tests/fixtures/keras_fixtures.py writes (Keras's own), and broken files give one clear error each.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { root, nativeCli, wasmCli, siteModule, shippedModel, requireBuilt, tempDir, run } from './support.mjs';

const dir = tempDir('gradcam-keras-');
const image = path.join(root, 'assets/samples', fs.readdirSync(path.join(root, 'assets/samples')).filter((n) => /\.(jpe?g|png)$/.test(n)).sort()[0]);
const LAYOUTS = ['weights.h5', 'rerun.h5', 'whole.h5', 'functional.h5', 'model.weights.h5', 'model.keras', 'nested.weights.h5',
  'deflated.keras'];
// One line on stderr naming the file and the problem.
const ERRORS = {
  'empty.h5': 'empty file',
  'truncated.h5': 'not a readable HDF5 file (truncated or damaged)',
  'mismatch.h5': 'layer conv2d_3 kernel has shape [3,3,32,64], expected [3,3,64,64]',
  'huge.h5': 'tensor conv2d/conv2d/kernel:0 is larger than the limit of 134217728 values',
  'int_dtype.h5': 'tensor dense/dense/bias:0 holds integer values; Keras weights are floats',
  'string_dtype.h5': 'tensor dense/dense/bias:0 holds string values; Keras weights are floats',
  'nan.h5': 'tensor dense_2/dense_2/bias:0 contains NaN or infinity',
  'unsupported.h5': "layer 'conv2d_transpose' (Conv2DTranspose): this layer class is not supported",
  'bzip2.keras': "config.json is compressed with zip method 12; stored and deflated entries are read: zip it again with deflate (zip's default) or none",
  'encrypted.keras': 'config.json is encrypted (a password-protected zip); zip it again without a password',
  'crc.keras': 'model.weights.h5 fails its CRC-32 check (damaged archive)',
  'external_layer.h5': 'layer conv2d is a link to another file, not a group',
  'external_link.weights.h5': 'layers/conv2d/vars is a link to another file, not a group',
  'oversize.keras': 'config.json holds 2147483647 bytes, over the 1024 MiB model limit',
  'overflow.keras': 'config.json inflates to more bytes than the archive says (damaged archive)',
};

before(() => {
  requireBuilt(nativeCli);
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'tests/fixtures/keras_fixtures.py'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`keras_fixtures.py failed (install python3-h5py: tools/deps.sh): ${r.stderr}`);
});

// What an explanation says, without its timings.
function explainJson(model, extra = [], cli = nativeCli) {
  const r = run(cli, ['explain', '--model', model, '--image', image, '--json', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  const { probabilities, logits, cam, top } = JSON.parse(r.stdout);
  return { probabilities, logits, cam, top };
}

test('the native CLI explains every Keras layout exactly as the shipped model file', () => {
  const expected = explainJson(shippedModel);
  for (const name of LAYOUTS) assert.deepEqual(explainJson(path.join(dir, name)), expected, name);
});

test('import-keras writes a model file that predicts bit-identically to the .h5, and never overwrites silently', () => {
  for (const name of ['rerun.h5', 'whole.h5', 'model.weights.h5', 'model.keras']) {
    const out = path.join(dir, `${name}.safetensors`);
    const r = run(nativeCli, ['import-keras', path.join(dir, name), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(explainJson(out), explainJson(path.join(dir, name)), name);
  }
  const out = path.join(dir, 'rerun.h5.safetensors');
  const again = run(nativeCli, ['import-keras', path.join(dir, 'rerun.h5'), '--out', out]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already exists \(pass --overwrite to replace it\)/);
  assert.equal(run(nativeCli, ['import-keras', path.join(dir, 'rerun.h5'), '--out', out, '--overwrite']).status, 0);
  // --arch: the architecture of a weights-only file, here the shipped model's own.
  const arch = path.join(dir, 'arch.json');
  const bytes = fs.readFileSync(shippedModel);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString());
  fs.writeFileSync(arch, header.__metadata__.architecture);
  const withArch = run(nativeCli, ['import-keras', path.join(dir, 'weights.h5'), '--arch', arch, '--out', path.join(dir, 'a.safetensors')]);
  assert.equal(withArch.status, 0, withArch.stderr);
  const notHdf5 = run(nativeCli, ['import-keras', shippedModel, '--out', path.join(dir, 'b.safetensors')]);
  assert.equal(notHdf5.status, 1);
  assert.match(notHdf5.stderr, /not a Keras file/);
});

test('--arch gives a weights-only file its architecture, a Keras config (config.json, to_json) or the project JSON', () => {
  // Keras 3's config.json out of a .keras archive: the seed network's own names.
  const expected = explainJson(shippedModel);
  assert.deepEqual(explainJson(path.join(dir, 'model.weights.h5'), ['--arch', path.join(dir, 'config.json')]), expected);
  // Keras 2's model.to_json() of a notebook re-run: its names become the layers' names.
  const toJson = path.join(dir, 'rerun_to_json.json');
  const info = run(nativeCli, ['info', '--json', '--model', path.join(dir, 'weights.h5'), '--arch', toJson]);
  assert.equal(info.status, 0, info.stderr);
  assert.equal(JSON.parse(info.stdout).conv_layers[0], 'conv2d_9');
  const explained = run(nativeCli, ['explain', '--model', path.join(dir, 'weights.h5'), '--arch', toJson, '--image', image,
    '--layer', 'conv2d_15', '--json']);
  assert.equal(explained.status, 0, explained.stderr);
  assert.equal(JSON.parse(explained.stdout).layer.name, 'conv2d_15');
  const imported = run(nativeCli, ['import-keras', path.join(dir, 'model.weights.h5'), '--arch', path.join(dir, 'config.json'),
    '--out', path.join(dir, 'from_config.safetensors')]);
  assert.equal(imported.status, 0, imported.stderr);
  // Not a Keras file, or not an architecture: one line naming the file.
  const notKeras = run(nativeCli, ['info', '--model', shippedModel, '--arch', toJson]);
  assert.equal(notKeras.status, 1);
  assert.match(notKeras.stderr, /rerun_to_json\.json is the architecture of a Keras weights file, and this is not a Keras file/);
  fs.writeFileSync(path.join(dir, 'broken.json'), '{"class_name": "Sequential"');
  const broken = run(nativeCli, ['info', '--model', path.join(dir, 'weights.h5'), '--arch', path.join(dir, 'broken.json')]);
  assert.equal(broken.status, 1);
  assert.equal(broken.stderr.trim(), `gradcam info: ${path.join(dir, 'broken.json')}: not a JSON object (an architecture JSON or a Keras config)`);
});

test('broken and hostile Keras files give one clear error line each (CLI, exit 1)', () => {
  for (const [name, message] of Object.entries(ERRORS)) {
    const r = run(nativeCli, ['info', '--model', path.join(dir, name)]);
    assert.equal(r.status, 1, name);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.ok(lines[0].startsWith(`gradcam info: ${path.join(dir, name)}: `), lines[0]);
    assert.ok(lines[0].includes(message), `${name}: ${lines[0]}`);
  }
});

// The wasm CLI has no HDF5 library: its --pre-js reads Keras files with the JS API's reader
// (engine/cli/keras_handover.js). Same weights, same build: bit-identical to the shipped model file.
test('the wasm CLI reads every Keras layout (explain, info, batch, import-keras) as the native CLI does', () => {
  requireBuilt(wasmCli);
  const expected = explainJson(shippedModel, [], wasmCli);
  for (const name of LAYOUTS) assert.deepEqual(explainJson(path.join(dir, name), [], wasmCli), expected, name);
  for (const [name, extra] of [['model.keras', []], ['weights.h5', ['--arch', path.join(dir, 'rerun_to_json.json')]]]) {
    const args = ['info', '--json', '--model', path.join(dir, name), ...extra];
    const n = run(nativeCli, args), w = run(wasmCli, args);
    assert.equal(w.status, 0, w.stderr);
    assert.deepEqual(JSON.parse(w.stdout), JSON.parse(n.stdout), name);
  }
  const input = path.join(dir, 'batch-in');
  fs.mkdirSync(input, { recursive: true });
  fs.copyFileSync(image, path.join(input, path.basename(image)));
  const batch = run(wasmCli, ['batch', '--model', path.join(dir, 'deflated.keras'), '--input', input, '--out', path.join(dir, 'batch-out'), '--quiet']);
  assert.equal(batch.status, 0, batch.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'batch-out', `${path.basename(image)}.png`)));
  const out = path.join(dir, 'wasm-import.safetensors');
  const imported = run(wasmCli, ['import-keras', path.join(dir, 'nested.weights.h5'), '--out', out]);
  assert.equal(imported.status, 0, imported.stderr);
  assert.deepEqual(explainJson(out), explainJson(shippedModel));
});

test('the wasm CLI refuses broken Keras files with the native CLI\'s one line, naming the file', () => {
  requireBuilt(wasmCli);
  for (const [name, message] of Object.entries(ERRORS)) {
    const r = run(wasmCli, ['info', '--model', path.join(dir, name)]);
    assert.equal(r.status, 1, name);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${name}: ${r.stderr}`);
    assert.ok(lines[0].startsWith(`gradcam info: ${path.join(dir, name)}: `), lines[0]);
    assert.ok(lines[0].includes(message), `${name}: ${lines[0]}`);
  }
});

test('the JS API loads Keras files (path or bytes) and predicts as the model file', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const reference = await loadEngine({ model: shippedModel });
  const img = reference.decode(fs.readFileSync(image));
  const expected = reference.predict(img);
  for (const name of LAYOUTS) {
    const engine = await loadEngine({ model: path.join(dir, name) });
    const p = engine.predict(img);
    assert.deepEqual(p.probabilities, expected.probabilities, name);
    assert.deepEqual(engine.info.classes, reference.info.classes);
    engine.dispose();
  }
  const fromBytes = await loadEngine({ model: new Uint8Array(fs.readFileSync(path.join(dir, 'whole.h5'))) });
  assert.deepEqual(fromBytes.predict(img).probabilities, expected.probabilities);
  assert.equal(fromBytes.info.conv_layers[0], 'conv2d_9');  // whole.h5's config names the layers
  const r = fromBytes.explain(img, { layer: 'conv2d_15' });
  assert.equal(r.layer.name, 'conv2d_15');
  fromBytes.dispose();
  // arch: a Keras config (here Keras 2's to_json(), as text and as an object) names a weights-only file's layers.
  const toJson = fs.readFileSync(path.join(dir, 'rerun_to_json.json'), 'utf8');
  for (const arch of [toJson, JSON.parse(toJson)]) {
    const withConfig = await loadEngine({ model: path.join(dir, 'weights.h5'), arch });
    assert.equal(withConfig.info.conv_layers[0], 'conv2d_9');
    assert.deepEqual(withConfig.predict(img).probabilities, expected.probabilities);
    withConfig.dispose();
  }
  reference.dispose();
});

test('the JS API refuses broken Keras files with the same messages, and stays usable', async () => {
  const { loadEngine } = await import(siteModule);
  for (const [name, message] of Object.entries(ERRORS)) {
    await assert.rejects(loadEngine({ model: path.join(dir, name) }), (e) => {
      assert.ok(e.message.includes(message), `${name}: ${e.message}`);
      return true;
    });
  }
  const engine = await loadEngine({ model: path.join(dir, 'weights.h5') });
  assert.equal(engine.info.classes.length, 10);
  engine.dispose();
});

test('a Keras config whose input size is open takes size, in the JS API and the wasm CLI as natively', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const open = path.join(dir, 'open_size.h5');  // whole.h5 with Input(shape=(None, None, 3))
  const asked = 'the input\'s height and width are not fixed ([null,null,null,3]): give the size to use (--size N)';
  await assert.rejects(loadEngine({ model: open }), (e) => e.message.includes(asked) || assert.fail(e.message));
  // Native kernels and wasm ones round differently: probabilities to 1e-5, maps to 1e-3 of their maximum.
  const close = (a, b, tolerance, what) => {
    assert.equal(a.length, b.length, what);
    const scale = Math.max(...b.map(Math.abs));
    a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tolerance * scale, `${what}[${i}]: ${x} vs ${b[i]}`));
  };
  const args = ['--size', '32', '--layer', 'conv2d_15'];
  const native = explainJson(open, args);
  const engine = await loadEngine({ model: open, size: 32 });
  assert.deepEqual([engine.info.input.height, engine.info.input.width], [32, 32]);
  const r = engine.explain(engine.decode(fs.readFileSync(image)), { layer: 'conv2d_15' });
  close(Array.from(r.probabilities), native.probabilities, 1e-5, 'JS API probabilities');
  close(Array.from(r.cam.data), native.cam.values, 1e-3, 'JS API map');
  engine.dispose();
  // The network flattens its last map into a dense layer of a fixed width: another size is refused
  // there, naming the file.
  await assert.rejects(loadEngine({ model: open, size: 40 }), /open_size\.h5: /);
  requireBuilt(wasmCli);
  const wasm = explainJson(open, args, wasmCli);
  close(wasm.probabilities, native.probabilities, 1e-5, 'wasm CLI probabilities');
  close(wasm.cam.values, native.cam.values, 1e-3, 'wasm CLI map');
});
