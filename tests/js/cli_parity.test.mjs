// The native CLI, the same program as wasm under node, and the JS API give the same answers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { encodeJpeg, encodePng, makeRandomModel, nativeCli, requireBuilt, run, siteModule, tempDir, testPixels, wasmCli } from './support.mjs';

requireBuilt(nativeCli);
requireBuilt(wasmCli);
const dir = tempDir();
const model = makeRandomModel(dir, 11);
const png = path.join(dir, 'wide.png');
fs.writeFileSync(png, encodePng(testPixels(64, 40, 5)));
const jpg = path.join(dir, 'photo.jpg');
fs.writeFileSync(jpg, encodeJpeg(testPixels(50, 70, 6), 85));

// Same structure, and numbers equal up to float rounding (the two builds use different SIMD
// widths and so sum in different orders). Timings are measurements, not answers.
// Maps are compared relative to their maximum, as the TF.js cross-check does.
function assertSameJson(a, b, where = '$', scale = 1) {
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(Math.abs(a - b) <= 1e-5 * Math.max(scale, Math.abs(a), Math.abs(b)), `${where}: ${a} != ${b}`);
    return;
  }
  if (where.endsWith('.cam.values') || where === '$cam') {
    assert.equal(a.length, b.length, where);
    const max = Math.max(...a.map(Math.abs), ...b.map(Math.abs));
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i] - b[i]) <= 1e-3 * max, `${where}[${i}]: ${a[i]} != ${b[i]} (map max ${max})`);
    }
    return;
  }
  if (Array.isArray(a) || (a && typeof a === 'object')) {
    assert.equal(Array.isArray(a), Array.isArray(b), where);
    const ka = Object.keys(a).filter((k) => k !== 'timings_ms'), kb = Object.keys(b).filter((k) => k !== 'timings_ms');
    assert.deepEqual(ka, kb, `${where}: keys differ`);
    for (const k of ka) assertSameJson(a[k], b[k], `${where}.${k}`, scale);
    return;
  }
  assert.equal(a, b, where);
}

function both(args) {
  const n = run(nativeCli, args), w = run(wasmCli, args);
  return { n, w };
}

test('explain --json --dump-input: native and wasm agree for layers, methods, scores and crops', () => {
  const cases = [
    ['--image', png, '--layer', 'conv2d_8'],
    ['--image', png, '--layer', 'conv2d', '--method', 'hirescam', '--score', 'probability'],
    ['--image', jpg, '--layer', 'conv2d_2', '--method', 'gradcam++', '--target', 'cat', '--crop', 'letterbox'],
    ['--image', jpg, '--layer', 'conv2d_5', '--method', 'scorecam', '--crop', 'squash'],
    ['--image', png, '--method', 'guided-gradcam', '--layer', 'conv2d_6', '--target', '2'],
    ['--image', png, '--method', 'eigencam', '--layer', 'conv2d_3'],
    ['--image', jpg, '--method', 'smoothgrad', '--samples', '5'],
  ];
  for (const c of cases) {
    const { n, w } = both(['explain', '--model', model, ...c, '--json', '--dump-input']);
    assert.equal(n.status, 0, n.stderr);
    assert.equal(w.status, 0, w.stderr);
    const jn = JSON.parse(n.stdout), jw = JSON.parse(w.stdout);
    assert.equal(jn.input.length, 32 * 32 * 3);
    try {
      assertSameJson(jn, jw);
    } catch (e) {
      e.message = `${c.join(' ')}: ${e.message}`;
      throw e;
    }
  }
});

test('info --json and accuracy agree, and eval is accuracy by its old name', () => {
  const { n, w } = both(['info', '--model', model, '--json']);
  assert.equal(n.status, 0);
  assert.equal(n.stdout, w.stdout);
  const data = path.join(dir, 'data');
  for (const [cls, seed] of [['cat', 1], ['cat', 2], ['ship', 3]]) {
    fs.mkdirSync(path.join(data, cls), { recursive: true });
    fs.writeFileSync(path.join(data, cls, `${seed}.png`), encodePng(testPixels(32, 32, seed)));
  }
  const e = both(['accuracy', '--model', model, '--data', data, '--json']);
  assert.equal(e.n.status, 0, e.n.stderr);
  const old = run(nativeCli, ['eval', '--model', model, '--data', data, '--json']);
  assert.equal(old.status, 0, old.stderr);
  assert.equal(old.stdout, e.n.stdout);
  const jn = JSON.parse(e.n.stdout);
  assert.equal(jn.images, 3);
  assert.equal(jn.confusion.flat().reduce((a, b) => a + b, 0), 3);
  assert.deepEqual(jn.confusion[3].reduce((a, b) => a + b, 0), 2);  // two cats
  assertSameJson(jn, JSON.parse(e.w.stdout));
});

test('errors: same exit code and the same one-line message naming the file', () => {
  const empty = path.join(dir, 'empty.png');
  fs.writeFileSync(empty, '');
  const cases = [
    [['explain', '--model', model, '--image', path.join(dir, 'nope.png')], 1, /nope\.png: cannot open/],
    [['explain', '--model', model, '--image', empty], 1, /empty\.png: empty file/],
    [['explain', '--model', png, '--image', png], 1, /wide\.png: /],
    [['explain', '--model', model, '--image', png, '--layer', 'dense'], 2, /no conv layer named "dense"/],
    [['explain', '--model', model], 2, /missing --image/],
    [['frobnicate'], 2, /unknown command/],
  ];
  for (const [args, code, pattern] of cases) {
    const { n, w } = both(args);
    assert.equal(n.status, code, `${args.join(' ')}: ${n.stderr}`);
    assert.equal(w.status, code, `${args.join(' ')} (wasm): ${w.stderr}`);
    assert.match(n.stderr, pattern);
    assert.equal(n.stderr.trim().split('\n').length, 1, n.stderr);
    assert.equal(w.stderr, n.stderr);
  }
});

test('the JS API computes what the native CLI computes', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const engine = await loadEngine({ model });
  const image = engine.decode(fs.readFileSync(png));
  for (const layer of ['conv2d', 'conv2d_4', 'conv2d_8']) {
    const r = engine.explain(image, { layer, method: 'gradcam', target: 'auto' });
    const n = JSON.parse(run(nativeCli, ['explain', '--model', model, '--image', png, '--layer', layer, '--json', '--dump-input']).stdout);
    assertSameJson(Array.from(r.probabilities), n.probabilities);
    assertSameJson(Array.from(r.input), n.input);
    assertSameJson(Array.from(r.cam.data), n.cam.values, '$cam');
  }
});

test('batch explains a folder, reports a bad file in the index and keeps going', () => {
  const input = path.join(dir, 'batch-in');
  fs.mkdirSync(input, { recursive: true });
  fs.copyFileSync(png, path.join(input, 'a.png'));
  fs.copyFileSync(jpg, path.join(input, 'b.jpg'));
  fs.writeFileSync(path.join(input, 'broken.jpg'), Buffer.from(fs.readFileSync(jpg)).subarray(0, 100));
  const out = path.join(dir, 'batch-out');
  const r = run(nativeCli, ['batch', '--model', model, '--input', input, '--out', out, '--quiet']);
  assert.equal(r.status, 1);  // one file failed
  const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
  assert.equal(index.images.length, 3);
  const byFile = Object.fromEntries(index.images.map((e) => [e.file, e]));
  assert.equal(byFile['a.png'].ok, true);
  assert.equal(byFile['b.jpg'].ok, true);
  assert.equal(byFile['broken.jpg'].ok, false);
  assert.match(byFile['broken.jpg'].error, /broken\.jpg: (corrupt|truncated)/);
  assert.ok(fs.statSync(path.join(out, byFile['b.jpg'].overlay)).size > 100);
});
