// Keras Applications networks, as Keras writes them, explained exactly as TF.js explains them.
// tests/fixtures/keras_apps.py writes small ResNet, MobileNetV2, Xception, DenseNet, EfficientNet and
// VGG networks, a nested model (a Functional base inside a Sequential), a Teachable-Machine-shaped
// one (a Sequential of two Sequentials, MobileNet base and dense head, 224x224), one with a layer
// called twice (explained at its second call, "tied/call_1") and a "misc" network with every other
// layer class the engine reads, each in Keras 2.15 model.save("m.h5"), Keras 3
// model.save("m.keras") (stored, and re-zipped deflated) and Keras 3 save_weights("m.weights.h5")
// with its config.json given by --arch; and one with the activations only Keras 3 has, in Keras 3
// files. The reference (keras_reference.mjs) builds each network in @tensorflow/tfjs-layers from the
// Keras 2 .h5's model_config and weights and computes Grad-CAM at a named layer on the very tensor
// the engine classified (--dump-input, or the JS API's `input`).
//
//   node --test tests/js/keras_apps.test.mjs
//
// Tolerances, as measured (native and wasm CLIs and the JS API, x86-64, December 2026, all ten
// families): probabilities within 4e-7 of the reference, maps within 8e-7 of the reference map's
// maximum. The bounds below (1e-5, 1e-4) are over twenty times that and far below what one
// mis-read layer gives (Keras 2's hard_sigmoid read in a Keras 3 file moved misc's probabilities by
// 2.3e-4); the diagnostics print the worst case per family.
// Grad-CAM sums each channel's gradient over positions, so where a max-pool or ReLU routes a
// gradient among tied inputs does not move the map.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { root, nativeCli, wasmCli, siteModule, requireBuilt, tempDir, testPixels, encodePng, runCliAsync, pool,
  PYTHON } from './support.mjs';
import { kerasReference } from './keras_reference.mjs';

const PROB_TOL = 1e-5;   // absolute
const LOGIT_TOL = 1e-4;  // relative to max(1, |logit|)
const CAM_TOL = 1e-4;    // relative to the reference map's maximum
const MIN_NONZERO = 0.75; // share of compared maps whose reference maximum is > 0

const dir = tempDir('gradcam-keras-apps-');
let manifest;
const image = path.join(dir, 'image.png');
const references = new Map();
const explained = new Map();

before(() => {
  const r = spawnSync(PYTHON, [path.join(root, 'tests/fixtures/keras_apps.py'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`keras_apps.py failed (it needs python3-h5py: tools/deps.sh): ${r.stderr}`);
  manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  // Wider than tall: the engine's centre crop and area resize make the input, --dump-input shows it.
  fs.writeFileSync(image, encodePng(testPixels(44, 36, 5)));
});

after(() => {
  for (const ref of references.values()) ref.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

// The reference of a family in one dialect. Only a network with hard_sigmoid needs its own
// Keras 3 reference (Keras 3's hard_sigmoid is relu6(x + 3) / 6, Keras 2's clip(0.2 x + 0.5)).
async function reference(family, dialect) {
  const h5 = path.join(dir, manifest[family].reference);
  const config = fs.readFileSync(path.join(dir, manifest[family].keras3.config), 'utf8');
  const own = dialect === 'keras3' && config.includes('"hard_sigmoid"') ? 'keras3' : 'keras2';
  const key = `${family}|${own}`;
  if (!references.has(key)) references.set(key, await kerasReference(h5, { dialect: own }));
  return references.get(key);
}

// Every way to hand the engine a family: [label, model args, dialect, layer names in that file].
function layouts(family) {
  const m = manifest[family];
  const at = (f) => path.join(dir, f);
  return [
    ...(m.keras2 ? [[m.keras2.file, ['--model', at(m.keras2.file)], 'keras2', m.keras2.layers]] : []),
    ...m.keras3.files.map((f) => [f, ['--model', at(f)], 'keras3', m.keras3.layers]),
    [`${m.keras3.weights} --arch ${m.keras3.config}`, ['--model', at(m.keras3.weights), '--arch', at(m.keras3.config)],
      'keras3', m.keras3.layers],
  ];
}

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

// Compares one explanation ({probabilities, logits, target, layer, cam: {width, height, values}})
// with the reference run on its own input; returns the problems and the worst map ratio.
async function compare(label, out, input, family, dialect, layerIndex) {
  const problems = [];
  const ref = await reference(family, dialect);
  const shape = manifest[family].input;
  const target = out.target?.index;
  if (!Number.isInteger(target)) return { problems: [`${label}: no target`] };
  const names = (manifest[family].keras2 ?? manifest[family].keras3).layers;  // the reference's are Keras 2's
  // Every layout of a family sees the same input: the reference runs once per input, layer and target.
  const key = [family, dialect, layerIndex, target, createHash('sha1').update(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)).digest('hex')].join('|');
  if (!explained.has(key)) explained.set(key, await ref.explain(input, shape, names[layerIndex], target));
  const r = explained.get(key);
  const P = r.probabilities, L = r.logits;
  let probDiff;
  if (target !== argmax(P)) problems.push(`${label}: target ${target}, the reference's top class is ${argmax(P)}`);
  if (out.probabilities?.length !== P.length) problems.push(`${label}: ${out.probabilities?.length} probabilities`);
  else {
    const d = Math.max(...P.map((p, k) => Math.abs(out.probabilities[k] - p)));
    probDiff = d;
    if (!(d <= PROB_TOL)) problems.push(`${label}: probabilities differ by ${d.toExponential(3)}`);
  }
  if (out.logits?.length === L.length) {
    const d = Math.max(...L.map((l, k) => Math.abs(out.logits[k] - l) / Math.max(1, Math.abs(l))));
    if (!(d <= LOGIT_TOL)) problems.push(`${label}: logits differ by ${d.toExponential(3)} (relative)`);
  } else problems.push(`${label}: ${out.logits?.length} logits`);
  const [h, w, c] = r.shape;
  if (out.layer && (out.layer.height !== h || out.layer.width !== w || out.layer.channels !== c)) {
    problems.push(`${label}: layer ${JSON.stringify(out.layer)}, the reference's is ${h}x${w}x${c}`);
  }
  const cam = out.cam ?? {};
  const values = cam.values ?? cam.data;
  if (cam.height !== h || cam.width !== w || values?.length !== h * w) {
    problems.push(`${label}: map ${cam.height}x${cam.width}, the reference's ${h}x${w}`);
    return { problems };
  }
  // When the terms cancel, float32 error scales with what was summed, not with the result.
  const scale = Math.max(r.cam.max, 1e-3 * r.cam.magnitude, 1e-30);
  let diff = 0, at = 0;
  for (let k = 0; k < values.length; k++) {
    const d = Math.abs(values[k] - r.cam.values[k]);
    if (!(d <= diff)) { diff = d; at = k; }
  }
  if (!(diff <= CAM_TOL * scale)) {
    problems.push(`${label}: map differs by ${diff.toExponential(3)} at (${Math.floor(at / w)},${at % w}): ` +
      `engine ${values[at]}, reference ${r.cam.values[at]}, reference max ${r.cam.max.toExponential(3)}`);
  }
  return { problems, ratio: diff / scale, probDiff, nonzero: r.cam.max > 0 };
}

async function cliCases(cli, pick) {
  const cases = [];
  for (const family of Object.keys(manifest)) {
    for (const [label, modelArgs, dialect, layers] of pick(family)) {
      layers.forEach((layer, i) => cases.push({ family, label: `${family}: ${label} --layer ${layer}`, modelArgs, dialect,
        layerIndex: i, layer }));
    }
  }
  const runs = await pool(cases.map((c) => () => runCliAsync(cli, ['explain', ...c.modelArgs, '--image', image,
    '--layer', c.layer, '--json', '--dump-input'])));
  const problems = [];
  const worst = new Map();
  let maps = 0, nonzero = 0;
  for (const [i, c] of cases.entries()) {
    const run = runs[i];
    if (run.status !== 0) {
      problems.push(`${c.label}: exit ${run.status}: ${(run.error ?? run.stderr).trim().split('\n')[0]}`);
      continue;
    }
    const out = JSON.parse(run.stdout);
    const r = await compare(c.label, out, Float32Array.from(out.input), c.family, c.dialect, c.layerIndex);
    problems.push(...r.problems);
    if (r.ratio !== undefined) {
      maps++;
      if (r.nonzero) nonzero++;
      const w = worst.get(c.family) ?? { ratio: 0, probDiff: 0 };
      worst.set(c.family, { ratio: Math.max(w.ratio, r.ratio), probDiff: Math.max(w.probDiff, r.probDiff ?? 0) });
    }
  }
  return { problems, worst, maps, nonzero, cases: cases.length };
}

function report(t, result) {
  for (const [family, w] of result.worst) {
    t.diagnostic(`${family.padEnd(13)} worst |map - reference| / max ${w.ratio.toExponential(2)}, ` +
      `|probability - reference| ${w.probDiff.toExponential(2)}`);
  }
  t.diagnostic(`${result.maps} of ${result.cases} maps compared, ${result.nonzero} with a nonzero reference`);
  assert.deepEqual(result.problems.slice(0, 30), [], `${result.problems.length} disagreements (first 30 shown)`);
  assert.ok(result.nonzero >= MIN_NONZERO * result.maps,
    `only ${result.nonzero} of ${result.maps} reference maps are nonzero: the comparison would prove little`);
}

function testInput([h, w]) {
  const { data } = testPixels(w, h, 3);
  return Float32Array.from({ length: h * w * 3 }, (_, i) => data[4 * Math.floor(i / 3) + (i % 3)] / 255);
}

test('the fixtures: every network loads in TF.js and predicts finite logits that differ between classes', async () => {
  const problems = [];
  for (const family of Object.keys(manifest)) {
    const { logits } = await (await reference(family, 'keras2')).predict(testInput(manifest[family].input), manifest[family].input);
    const spread = Math.max(...logits) - Math.min(...logits);
    if (!logits.every(Number.isFinite) || !(spread > 0.5)) problems.push(`${family}: logits ${Array.from(logits)}`);
  }
  assert.deepEqual(problems, []);
});

test('the reference: its probe gradient is d(logit)/d(layer output), by central differences', async () => {
  // misc and activations3 run through every layer the reference writes itself; nested has the probe
  // inside a model; shared has it on a shared layer's second call.
  const problems = [];
  for (const [family, layer] of [['misc', 'gelu'], ['nested', 'block1_relu'], ['activations3', 'silu'], ['shared', 'tied/call_1']]) {
    const ref = await reference(family, 'keras2');
    const shape = manifest[family].input;
    const input = testInput(shape);
    const target = argmax((await ref.predict(input, shape)).logits);
    const { gradients: G } = await ref.explain(input, shape, layer, target);
    const largest = [...G.keys()].sort((a, b) => Math.abs(G[b]) - Math.abs(G[a])).slice(0, 6);
    for (const i of largest) {
      // Two step sizes: a ReLU or max-pool kink within one of them spoils only that one.
      let best = Infinity;
      for (const eps of [1e-2, 1e-3]) {
        const fd = ((await ref.logitWithOffset(input, shape, layer, target, i, eps)) -
          (await ref.logitWithOffset(input, shape, layer, target, i, -eps))) / (2 * eps);
        best = Math.min(best, Math.abs(fd - G[i]) / Math.abs(G[i]));
      }
      if (!(best <= 1e-2)) problems.push(`${family} ${layer} [${i}]: gradient ${G[i]}, central differences off by ${best}`);
    }
  }
  assert.deepEqual(problems, []);
});

test('native CLI: every family, every Keras layout, two named layers each, as the TF.js reference', async (t) => {
  requireBuilt(nativeCli);
  report(t, await cliCases(nativeCli, layouts));
});

test('wasm CLI: one file per family, Keras 2 .h5 and Keras 3 .keras in turn, as the TF.js reference', async (t) => {
  requireBuilt(wasmCli);
  const families = Object.keys(manifest);
  report(t, await cliCases(wasmCli, (family) => [layouts(family)[families.indexOf(family) % 2]]));
});

test('JS API: loadEngine({model}) on the .h5 and .keras files, and .weights.h5 with arch, as the TF.js reference', async (t) => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const problems = [];
  let maps = 0;
  for (const family of Object.keys(manifest)) {
    const m = manifest[family];
    const files = [
      ...(m.keras2 ? [[m.keras2.file, { model: path.join(dir, m.keras2.file) }, 'keras2', m.keras2.layers]] : []),
      [m.keras3.files[0], { model: path.join(dir, m.keras3.files[0]) }, 'keras3', m.keras3.layers],
      [`${m.keras3.weights} + arch`, { model: path.join(dir, m.keras3.weights),
        arch: fs.readFileSync(path.join(dir, m.keras3.config), 'utf8') }, 'keras3', m.keras3.layers],
    ];
    for (const [label, options, dialect, layers] of files) {
      let engine;
      try {
        engine = await loadEngine(options);
      } catch (e) {
        problems.push(`${family}: ${label}: ${e.message}`);
        continue;
      }
      try {
        const pixels = engine.decode(fs.readFileSync(image));
        for (const [i, layer] of layers.entries()) {
          const out = engine.explain(pixels, { layer });
          const r = await compare(`${family}: ${label} layer ${layer}`, out, out.input, family, dialect, i);
          problems.push(...r.problems);
          maps++;
        }
      } catch (e) {
        problems.push(`${family}: ${label}: ${e.message}`);
      } finally {
        engine.dispose();
      }
    }
  }
  t.diagnostic(`${maps} maps compared`);
  assert.deepEqual(problems.slice(0, 30), [], `${problems.length} disagreements (first 30 shown)`);
});
