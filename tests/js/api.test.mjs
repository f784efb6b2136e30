// The JS API (build/site/gradcam.mjs) under plain Node: answers, and clear errors for bad input
// after which the engine still works.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { encodeJpeg, encodePng, makeRandomModel, requireBuilt, shippedModel, siteModule, tempDir, testPixels } from './support.mjs';

requireBuilt(siteModule);
const { loadEngine } = await import(siteModule);
const dir = tempDir();
const modelPath = makeRandomModel(dir, 7);
const engine = await loadEngine({ model: modelPath });
const pixels = testPixels(48, 40, 3);
const pngBytes = encodePng(pixels);

const assertUsable = () => {
  const r = engine.explain(testPixels(32, 32, 9), { layer: 'conv2d_8' });
  assert.equal(r.cam.width, 3);
  assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
};

test('info describes the model from its file', () => {
  assert.equal(engine.info.classes.length, 10);
  assert.equal(engine.info.classes[3], 'cat');
  assert.deepEqual(engine.info.input, { height: 32, width: 32, channels: 3, scale: engine.info.input.scale });
  assert.equal(engine.info.conv_layers.length, 9);
  const byName = Object.fromEntries(engine.info.layers.map((l) => [l.name, l.output]));
  assert.deepEqual(byName.conv2d, [30, 30, 32]);
  assert.deepEqual(byName.conv2d_2, [15, 15, 64]);
  assert.deepEqual(byName.conv2d_8, [3, 3, 16]);
  assert.equal(engine.info.trained, false);
  assert.ok(engine.info.methods.includes('gradcam++'));
});

test('the model loads from a path, an ArrayBuffer, a Uint8Array and a Blob (a File) alike', async () => {
  const bytes = fs.readFileSync(modelPath);
  const a = await loadEngine({ model: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  const b = await loadEngine({ model: new Uint8Array(bytes) });
  const c = await loadEngine({ model: new Blob([bytes]) });  // load.mjs, as the page reads a File
  const expected = Array.from(engine.predict(pixels).probabilities);
  for (const e of [a, b, c]) {
    assert.deepEqual(Array.from(e.predict(pixels).probabilities), expected);
    e.dispose();
  }
  await assert.rejects(loadEngine({ model: 42 }), /^Error: the model must be a File, Blob, URL, path, ArrayBuffer or typed array$/);
});

test('decode gives RGBA of PNG and JPEG files', () => {
  const png = engine.decode(pngBytes);
  assert.equal(png.width, 48);
  assert.equal(png.height, 40);
  assert.deepEqual(Array.from(png.data.slice(0, 8)), Array.from(pixels.data.slice(0, 8)));
  const jpg = engine.decode(encodeJpeg(pixels, 95));
  assert.equal(jpg.width, 48);
  let err = 0;
  for (let i = 0; i < jpg.data.length; i += 4) err = Math.max(err, Math.abs(jpg.data[i] - pixels.data[i]));
  assert.ok(err < 60, `JPEG decoded far from the source (max error ${err})`);
});

test('explain answers with probabilities, top-k, target, layer, raw map and input', () => {
  const r = engine.explain(engine.decode(pngBytes), { layer: 'conv2d_6', method: 'gradcam' });
  assert.equal(r.probabilities.length, 10);
  assert.ok(Math.abs(r.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  for (let i = 1; i < r.top.length; i++) assert.ok(r.top[i - 1].probability >= r.top[i].probability);
  const best = r.probabilities.indexOf(Math.max(...r.probabilities));
  assert.equal(r.top[0].index, best);
  assert.equal(r.target.index, best);  // auto target is the top class
  assert.equal(r.target.name, engine.info.classes[best]);
  assert.deepEqual([r.layer.name, r.layer.height, r.layer.width, r.layer.channels], ['conv2d_6', 7, 7, 16]);
  assert.deepEqual([r.cam.height, r.cam.width, r.cam.data.length], [7, 7, 49]);
  assert.ok(r.cam.data.every((v) => v >= 0 && Number.isFinite(v)));  // after ReLU
  assert.equal(r.input.length, 32 * 32 * 3);
  assert.ok(r.input.every((v) => v >= 0 && v <= 1));
  assert.ok(r.timings.forward > 0);
  const h = r.heatmap(100, 60);
  assert.deepEqual([h.width, h.height, h.data.length], [100, 60, 6000]);
  const max = Math.max(...h.data), min = Math.min(...h.data);
  assert.ok(min >= 0 && max <= 1);
  if (Math.max(...r.cam.data) > 0) assert.ok(max > 0.95);
  const o = r.overlay(pixels, { colormap: 'turbo', alpha: 0.5 });
  assert.deepEqual([o.width, o.height, o.data.length], [48, 40, 48 * 40 * 4]);
});

test('predict agrees with explain, and explain targets any class and both scores', () => {
  const p = engine.predict(pixels);
  const e = engine.explain(pixels, { target: 'cat', score: 'probability' });
  assert.deepEqual(Array.from(p.probabilities), Array.from(e.probabilities));
  assert.equal(e.target.index, 3);
  assert.equal(e.score, 'probability');
  assert.equal(engine.explain(pixels, { target: 5 }).target.name, 'dog');
  const logit = engine.explain(pixels, { layer: 'conv2d_2', target: 'cat', method: 'hirescam' });
  const prob = engine.explain(pixels, { layer: 'conv2d_2', target: 'cat', method: 'hirescam', score: 'probability' });
  // d p_t = p_t (d z_t - sum_j p_j d z_j): a different map, not a rescaled copy, unless p_t ~ 1.
  assert.notDeepEqual(Array.from(logit.cam.data), Array.from(prob.cam.data));
});

test('every method gives a finite map of the documented resolution', () => {
  for (const method of engine.info.methods) {
    const r = engine.explain(pixels, { layer: 'conv2d_4', method, samples: 4 });
    // The resolution each method's row declares (saliency and its kin, fullgrad: the input's).
    const inputRes = engine.info.method_details.find((d) => d.name === method).resolution === 'input';
    assert.deepEqual([r.cam.height, r.cam.width], inputRes ? [32, 32] : [7, 7], method);
    assert.ok(r.cam.data.every((v) => v >= 0 && Number.isFinite(v)), method);
    assert.equal(r.method, method);
  }
});

test('eigenSmooth: the first principal component instead of the channel sum, through the one request parser', () => {
  const plain = engine.explain(pixels, { layer: 'conv2d_4', method: 'layercam' });
  const smooth = engine.explain(pixels, { layer: 'conv2d_4', method: 'layercam', eigenSmooth: true });
  assert.deepEqual([smooth.cam.height, smooth.cam.width], [plain.cam.height, plain.cam.width]);
  assert.notDeepEqual(Array.from(smooth.cam.data), Array.from(plain.cam.data));
  assert.deepEqual(Array.from(engine.explain(pixels, { layer: 'conv2d_4', method: 'layercam', eigenSmooth: false }).cam.data), Array.from(plain.cam.data));
  assert.equal(engine.parseRequest({ eigenSmooth: true }).eigen_smooth, true);
  assert.throws(() => engine.explain(pixels, { eigenSmooth: 'yes' }), /eigen-smooth must be true or false \(got "yes"\)/);
});

test('crop modes change what the network sees', () => {
  const wide = testPixels(96, 32, 4);
  const a = engine.explain(wide, { crop: 'center' }).input;
  const b = engine.explain(wide, { crop: 'squash' }).input;
  const c = engine.explain(wide, { crop: 'letterbox' }).input;
  assert.notDeepEqual(Array.from(a), Array.from(b));
  // Letterbox of a 3:1 image leaves black bands at the top and bottom.
  assert.ok(c.slice(0, 32 * 3 * 5).every((v) => v === 0));
  assert.ok(c.slice(32 * 3 * 14, 32 * 3 * 18).some((v) => v > 0));
});

test('bad images throw a clear Error and the engine stays usable', () => {
  const cases = [
    [new Uint8Array(0), /empty/],
    [pngBytes.subarray(0, pngBytes.length >> 1), /corrupt|truncated/],
    [encodeJpeg(pixels).subarray(0, 200), /corrupt|truncated/],
    [Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919 + 13) % 251), /not an image/],
    [new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"></svg>'), /SVG/],
  ];
  // A PNG header claiming 65535x65535 pixels.
  const huge = Buffer.from(pngBytes);
  huge.writeUInt32BE(65535, 16);
  huge.writeUInt32BE(65535, 20);
  cases.push([huge, /65535x65535/]);
  for (const [bytes, pattern] of cases) {
    assert.throws(() => engine.decode(bytes), pattern);
    assertUsable();
  }
  assert.throws(() => engine.explain({ data: new Uint8Array(10), width: 4, height: 4 }), /needs 64/);
  assert.throws(() => engine.explain({ width: 4, height: 4 }), /RGBA bytes/);
  assert.throws(() => engine.explain(null), /ImageData/);
  assertUsable();
});

test('bad options throw and name what is valid', () => {
  assert.throws(() => engine.explain(pixels, { layer: 'dense' }), /no conv layer named "dense" \(conv layers: conv2d, conv2d_1/);
  assert.throws(() => engine.explain(pixels, { method: 'magic' }), /unknown method "magic" \(known: gradcam/);
  assert.throws(() => engine.explain(pixels, { target: 'unicorn' }), /unknown target "unicorn"/);
  assert.throws(() => engine.explain(pixels, { target: 10 }), /out of range/);
  assert.throws(() => engine.explain(pixels, { target: -1 }), /out of range/);
  assert.throws(() => engine.explain(pixels, { score: 'loss' }), /unknown score/);
  assert.throws(() => engine.explain(pixels, { crop: 'zoom' }), /center, squash, letterbox|crop/);
  // A mistyped key is an error naming it and the valid ones, never a silent default.
  assert.throws(() => engine.explain(pixels, { methd: 'scorecam' }), /unknown option methd \(valid: layer, method, target, score, crop, colormap, alpha, samples, steps, baseline, window, stride, eigen-smooth, aug-smooth\)/);
  assert.throws(() => engine.explain(pixels, { method: 'smoothgrad', samples: 2.5 }), /samples must be a whole number from 1 to 1000 \(got "2.5"\)/);
  assert.throws(() => engine.explain(pixels, { layer: ['conv2d'] }), /layer must be a string or a number/);
  // Captum's methods' options: bounded whole numbers and named baselines; the window fits the input.
  assert.throws(() => engine.explain(pixels, { method: 'integrated-gradients', steps: 0 }), /steps must be a whole number from 1 to 1000 \(got "0"\)/);
  assert.throws(() => engine.explain(pixels, { baseline: 'grey' }), /baseline: unknown baseline "grey" \(known: black, blur, noise, zero\)/);
  assert.throws(() => engine.explain(pixels, { method: 'occlusion', window: 33 }), /occlusion window must be 1\.\.32 pixels \(the input is 32x32\), got 33/);
  assert.throws(() => engine.explain(pixels, { method: 'occlusion', window: 4, stride: 5 }), /occlusion stride must be 1 to the window \(4 pixels\)/);
  assert.throws(() => engine.explain(pixels, { method: 'occlusion', stride: 'two' }), /stride must be a whole number/);
  const occluded = engine.explain(pixels, { method: 'occlusion', window: 8, stride: 4, baseline: 'blur' });
  assert.equal(occluded.attribution.length, 32 * 32 * 3);
  assert.equal(engine.explain(pixels, { method: 'gradcam' }).attribution, null);
  assert.throws(() => engine.explainAll(pixels, { methd: 'gradcam' }), /unknown option methd/);
  assertUsable();
});

test('augSmooth: true averages six normalised maps (in [0, 1]) for the target of the image itself; only booleans are taken', () => {
  const plain = engine.explain(pixels, { layer: 'conv2d_4', method: 'fem' });
  const smooth = engine.explain(pixels, { layer: 'conv2d_4', method: 'fem', augSmooth: true });
  assert.equal(smooth.target.index, plain.target.index);
  assert.deepEqual(Array.from(smooth.probabilities), Array.from(plain.probabilities));
  assert.ok(smooth.cam.data.every((v) => v >= 0 && v <= 1));
  assert.notDeepEqual(Array.from(smooth.cam.data), Array.from(plain.cam.data));
  assert.deepEqual(Array.from(engine.explain(pixels, { layer: 'conv2d_4', method: 'fem', augSmooth: false }).cam.data), Array.from(plain.cam.data));
  assert.equal(engine.parseRequest({ augSmooth: true }).aug_smooth, true);
  assert.throws(() => engine.explain(pixels, { augSmooth: 'yes' }), /aug-smooth must be true or false \(got "yes"\)/);
  assertUsable();
});

test('bad model files are refused with a message naming the problem', async () => {
  const good = fs.readFileSync(modelPath);
  await assert.rejects(loadEngine({ model: good.subarray(0, good.length >> 1) }), /truncated/);
  await assert.rejects(loadEngine({ model: new Uint8Array(0) }), /empty file/);
  await assert.rejects(loadEngine({ model: path.join(dir, 'missing.safetensors') }), /cannot read model file/);
  // A model whose architecture disagrees with its tensors.
  const n = Number(good.readBigUInt64LE(0));
  const header = JSON.parse(good.subarray(8, 8 + n).toString());
  const arch = JSON.parse(header.__metadata__.architecture);
  arch.layers[0].filters = 16;
  header.__metadata__.architecture = JSON.stringify(arch);
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const mismatched = Buffer.concat([len, h, good.subarray(8 + n)]);
  await assert.rejects(loadEngine({ model: mismatched }), /conv2d.kernel has shape \[3,3,3,32\], expected \[3,3,3,16\]/);
  await assert.rejects(loadEngine(null), /takes \{model/);
  assertUsable();
});

test('with no model, loadEngine loads the shipped model from beside the module', async () => {
  const shipped = await loadEngine({ model: shippedModel });
  // A mistyped key is still an error, not the shipped model.
  await assert.rejects(loadEngine({ modle: modelPath }), /loadEngine: unknown option "modle" \(valid: model, arch, threads, mean, std, labels, size, hdf5Timeout\)/);
  for (const e of [await loadEngine(), await loadEngine({})]) {
    assert.deepEqual(e.info, shipped.info);
    assert.deepEqual(e.predict(pixels).probabilities, shipped.predict(pixels).probabilities);
    e.dispose();
  }
  shipped.dispose();
});

test('threads: a whole number from 1 to 64, else an error; Node runs the single-threaded core with the same answers', async () => {
  for (const [threads, shown] of [[0, '0'], [-2, '-2'], [1.5, '1.5'], ['2', '"2"'], [65, '65'], [null, 'null'], [NaN, 'NaN']]) {
    await assert.rejects(loadEngine({ model: modelPath, threads }),
      new RegExp(`^Error: loadEngine: threads must be a whole number from 1 to 64, not ${shown.replace('.', '\\.')}$`));
  }
  // Emscripten 3.1.6 starts pthreads as Web Workers, which Node's ES modules lack: one thread here.
  const one = await loadEngine({ model: modelPath, threads: 1 });
  const asked = await loadEngine({ model: modelPath, threads: 4 });
  const byDefault = await loadEngine({ model: modelPath });
  assert.deepEqual([one.threads, asked.threads, byDefault.threads], [1, 1, 1]);
  const r1 = one.explain(pixels, { layer: 'conv2d_6' }), r4 = asked.explain(pixels, { layer: 'conv2d_6' });
  assert.deepEqual(r4.cam.data, r1.cam.data);
  assert.deepEqual(r4.probabilities, r1.probabilities);
  for (const e of [one, asked, byDefault]) e.dispose();
  assertUsable();
});

test('a disposed engine says so', async () => {
  const e = await loadEngine({ model: modelPath });
  e.dispose();
  assert.throws(() => e.predict(pixels), /disposed/);
  assertUsable();
});

test('the shipped model loads and says whether it is trained', async () => {
  const shipped = await loadEngine({ model: shippedModel });
  assert.equal(typeof shipped.info.trained, 'boolean');
  assert.equal(shipped.info.classes.length, 10);
  shipped.dispose();
});

test('explainAll gives every conv layer from one pass, equal to explaining each layer', () => {
  const all = engine.explainAll(pixels, { method: 'gradcam', target: 'cat' });
  assert.deepEqual(all.layers.map((l) => l.name), engine.info.conv_layers);
  assert.equal(all.target.name, 'cat');
  for (const l of all.layers) {
    const one = engine.explain(pixels, { layer: l.name, method: 'gradcam', target: 'cat' });
    assert.deepEqual([l.cam.height, l.cam.width], [one.cam.height, one.cam.width]);
    assert.deepEqual(Array.from(l.cam.data), Array.from(one.cam.data), l.name);
  }
  assert.equal(all.layers[8].heatmap(16, 16).data.length, 256);
  assert.throws(() => engine.explainAll(pixels, { method: 'scorecam' }), /not scorecam/);
  assertUsable();
});

test('evaluate and sanityCheck: the metrics of a map for its class, as the native engine computes them', async () => {
  const trained = await loadEngine({ model: shippedModel });
  const image = trained.decode(fs.readFileSync(path.join(path.dirname(shippedModel), '../samples/cat.jpg')));
  const r = trained.explain(image, { layer: 'conv2d_6', method: 'gradcam' });
  const m = trained.evaluate(image, r, { steps: 16 });
  assert.equal(m.deletion.fraction.length, 17);
  assert.equal(m.deletion.probability[0].toFixed(5), r.top[0].probability.toFixed(5));  // nothing removed yet
  assert.equal(m.insertion.fraction.at(-1), 1);
  assert.ok(m.deletion.auc >= 0 && m.deletion.auc <= 1 && m.insertion.auc >= 0 && m.insertion.auc <= 1);
  assert.equal(m.road.fraction.length, 9);
  assert.equal(typeof m.confidence_change, 'number');
  // Deleting in Grad-CAM's order drops the cat's probability faster than the random-noise baseline's order.
  const random = trained.evaluate(image, trained.explain(image, { layer: 'conv2d_6', method: 'random-noise', target: r.target.index }));
  assert.ok(m.deletion.auc < random.deletion.auc, `${m.deletion.auc} vs random ${random.deletion.auc}`);
  assert.deepEqual(Object.keys(trained.evaluate(image, r, { metrics: ['road'] })), ['road']);
  assert.throws(() => trained.evaluate(image, r, { metrics: ['roc'] }), /unknown metric "roc" \(valid: deletion, insertion, road, confidence_change\)/);
  assert.throws(() => trained.evaluate(image, r, { step: 3 }), /unknown option step \(valid: metrics, steps, crop\)/);
  const s = trained.sanityCheck(image, { layer: 'conv2d_6', method: 'gradcam' });
  assert.deepEqual(s.original.values.length, r.cam.width * r.cam.height);
  assert.equal(s.steps[0].layer, 'dense_2');
  assert.equal(s.steps.at(-1).layer, 'conv2d');
  assert.ok(s.steps.at(-1).spearman < 0.9, `fully randomised, Spearman ${s.steps.at(-1).spearman}`);
  trained.dispose();
});
