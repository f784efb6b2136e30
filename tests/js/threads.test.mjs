// The native CLI's --threads: the same bytes out with one thread and with two (overlays and JSON,
// timings aside), on the seed network and on ONNX ResNet-18 and MobileNetV2; a thread count that is
// not a whole number from 1 is a usage error that says so.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { encodePng, makeRandomModel, nativeCli, ONNX_FIXTURES, onnxFixtures, requireBuilt, run, tempDir, testPixels } from './support.mjs';

requireBuilt(nativeCli);
const dir = tempDir('gradcam-threads-');
const seedModel = makeRandomModel(dir, 11);
const image = path.join(dir, 'photo.png');
fs.writeFileSync(image, encodePng(testPixels(96, 80, 3)));

// The JSON without its timings, which differ from run to run.
function withoutTimings(value) {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => !k.endsWith('_ms')).map(([k, v]) => [k, withoutTimings(v)]));
}

// explain with --threads N: the overlay's bytes and the JSON.
function explain(model, threads, args, tag) {
  const out = path.join(dir, `${tag}-${threads}.png`);
  const r = run(nativeCli, ['explain', '--model', model, '--image', image, '--threads', String(threads), '--out', out, '--json', ...args]);
  assert.equal(r.status, 0, r.stderr);
  return { overlay: fs.readFileSync(out), json: withoutTimings(JSON.parse(r.stdout)) };
}

function assertSameWithOneAndTwoThreads(model, args, tag) {
  const one = explain(model, 1, args, tag), two = explain(model, 2, args, tag);
  assert.ok(one.overlay.equals(two.overlay), `${tag}: the overlays differ`);
  assert.deepEqual(two.json, one.json);
  return one.json;
}

test('the seed network: Grad-CAM, Score-CAM and SmoothGrad give the same bytes with 1 and 2 threads', () => {
  for (const method of ['gradcam', 'scorecam', 'smoothgrad']) {
    const json = assertSameWithOneAndTwoThreads(seedModel, ['--method', method, '--samples', '4'], `seed-${method}`);
    assert.ok(json.cam.values.length > 0);
  }
});

test('ONNX ResNet-18 (SmoothGrad: forward and backward to the input) and MobileNetV2 (Grad-CAM): the same bytes with 1 and 2 threads', () => {
  const manifest = onnxFixtures();
  for (const [name, method] of [['resnet18', 'smoothgrad'], ['mobilenet_v2', 'gradcam']]) {
    const m = manifest.models[name];
    const model = path.join(ONNX_FIXTURES, m.file);
    const normalise = ['--mean', m.mean.join(','), '--std', m.std.join(',')];
    assertSameWithOneAndTwoThreads(model, [...normalise, '--method', method, '--samples', '2'], `${name}-${method}`);
  }
});

test('--threads takes a whole number from 1; 0, negatives and words are usage errors', () => {
  for (const bad of ['0', '-2', 'two', '1.5']) {
    const r = run(nativeCli, ['explain', '--model', seedModel, '--image', image, '--threads', bad]);
    assert.equal(r.status, 2, `--threads ${bad}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`--threads must be a whole number from 1 to 256 \\(got "${bad}"\\)`));
  }
  const help = run(nativeCli, ['--help']);
  assert.match(help.stdout + help.stderr, /--threads N +worker threads/);
});
