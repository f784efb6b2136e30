// The engine (native CLI) against an independent TF.js reference (tfjs_reference.mjs, cpu backend):
// a random model from `gradcam init-model --seed 7`, a few generated images (square and not), and
// for every conv layer x {gradcam, hirescam, layercam} x {logit, probability} x two targets the CLI's
// --json --dump-input output is compared with the reference run on the very tensor the CLI
// classified. A second test checks that tensor itself against an independent decode, centre crop
// and area resize of the PNG.
//
//   node --test tests/js/tfjs_crosscheck.test.mjs
//
// GRADCAM_CLI=path overrides the CLI (a .js or .mjs path runs under node, e.g. the wasm build's
// build/wasm/gradcam.js). A missing CLI is a failure, never a skip.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';

import { setBackend, loadModelFile, Reference, METHODS } from './tfjs_reference.mjs';
import { pool, runCliAsync } from './support.mjs';

const { PNG } = pngjs;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = process.env.GRADCAM_CLI ? path.resolve(process.env.GRADCAM_CLI) : path.join(ROOT, 'build/native/gradcam');
const CLI_MISSING = `${CLI} not found: build the engine first ` +
  '(cmake -S . -B build/native -G Ninja && ninja -C build/native), or point GRADCAM_CLI at a CLI';

const SCORES = ['logit', 'probability'];
const PROB_TOL = 1e-4;      // absolute
const LOGIT_TOL = 1e-3;     // relative to max(1, |logit|)
const CAM_TOL = 1e-3;       // relative to the reference map's maximum
const MIN_NONZERO = 0.8;    // share of compared maps whose reference max is > 0
const INPUT_TOL = 1e-5;     // dumped input vs the independent preprocessing, in model scale

// ------------------------------------------------------------------------------------------
// Running the CLI: a small pool of child processes (as many as there are cores).

const runCli = (args) => runCliAsync(CLI, args);

function parseOutput(run) {
  const what = `gradcam ${run.args.join(' ')}`;
  if (run.status !== 0) {
    throw new Error(`${what}: exit ${run.status}${run.error ? ` (${run.error})` : ''}: ${run.stderr.trim()}`);
  }
  try {
    return JSON.parse(run.stdout);
  } catch (e) {
    throw new Error(`${what}: stdout is not one JSON object (${e.message}): ${run.stdout.slice(0, 200)}`);
  }
}

// ------------------------------------------------------------------------------------------
// Test images, generated (deterministic) and written as PNG.

function rng(seed) {
  let s = seed >>> 0;
  return () => {  // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeImage(width, height, pixel) {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const o = 4 * (y * width + x);
      rgba[o] = clamp8(r); rgba[o + 1] = clamp8(g); rgba[o + 2] = clamp8(b); rgba[o + 3] = 255;
    }
  }
  return { width, height, rgba };
}
const clamp8 = (v) => Math.max(0, Math.min(255, Math.round(v)));

function testImages() {
  const noise = rng(99);
  const texture = rng(5);
  return [
    { name: 'gradient', ...makeImage(32, 32, (x, y) => [x * 8, y * 8, 255 - (x + y) * 4]) },
    { name: 'noise', ...makeImage(32, 32, () => [noise() * 256, noise() * 256, noise() * 256]) },
    {
      // sky, a sun, a hill with grass texture and a dark "animal" on it
      name: 'scene',
      ...makeImage(32, 32, (x, y) => {
        const hill = 20 + 3 * Math.sin(x / 5);
        if ((x - 9) ** 2 + (y - 7) ** 2 < 16) return [250, 220, 90];
        if ((x - 20) ** 2 / 30 + (y - 20) ** 2 / 12 < 1) return [90, 60, 40];
        if (y > hill) return [40 + 60 * texture(), 120 + 80 * texture(), 30 + 30 * texture()];
        return [110 + y * 3, 160 + y * 2, 240];
      }),
    },
    {
      // landscape: the centre crop drops 10 columns on each side, then 60 -> 32
      name: 'rings-80x60',
      ...makeImage(80, 60, (x, y) => {
        const r = Math.hypot(x - 47, y - 26);
        return [128 + 120 * Math.sin(r / 1.7), 128 + 100 * Math.cos(x / 2.3), (x * 7 + y * 13) % 256];
      }),
    },
    {
      // portrait: the centre crop drops 14 rows at the top and bottom, then 36 -> 32
      name: 'checker-36x64',
      ...makeImage(36, 64, (x, y) => {
        const c = ((x >> 2) + (y >> 2)) & 1;
        return [c ? 230 : 20, 40 + 3 * y, c ? 60 : 200 - 2 * x];
      }),
    },
  ];
}

function writePng(file, image) {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.rgba);
  fs.writeFileSync(file, PNG.sync.write(png));
}

// ------------------------------------------------------------------------------------------
// Independent preprocessing: centre crop to the input's aspect, then area (box) resampling.

function expectedInput(image, height, width, scale) {
  const { width: sw, height: sh, rgba } = image;
  let x0 = 0, y0 = 0, x1 = sw, y1 = sh;
  if (sw * height > sh * width) {  // wider than the input: crop the sides
    const cw = (sh * width) / height;
    x0 = (sw - cw) / 2; x1 = x0 + cw;
  } else if (sw * height < sh * width) {
    const ch = (sw * height) / width;
    y0 = (sh - ch) / 2; y1 = y0 + ch;
  }
  const spanX = (x1 - x0) / width, spanY = (y1 - y0) / height;
  const cover = (lo, hi) => {  // [pixel index, weight] of unit pixels under [lo, hi)
    const out = [];
    for (let p = Math.floor(lo); p < hi; p++) {
      const w = Math.min(hi, p + 1) - Math.max(lo, p);
      if (w > 1e-12) out.push([p, w]);
    }
    return out;
  };
  const out = new Float64Array(height * width * 3);
  for (let oy = 0; oy < height; oy++) {
    const ys = cover(y0 + oy * spanY, y0 + (oy + 1) * spanY);
    for (let ox = 0; ox < width; ox++) {
      const xs = cover(x0 + ox * spanX, x0 + (ox + 1) * spanX);
      for (let ch = 0; ch < 3; ch++) {
        let sum = 0, total = 0;
        for (const [py, wy] of ys) {
          for (const [px, wx] of xs) {
            sum += wy * wx * rgba[4 * (py * sw + px) + ch];
            total += wy * wx;
          }
        }
        out[(oy * width + ox) * 3 + ch] = (sum / total) * scale;
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Setup shared by the tests: model and images in a temp dir, one baseline CLI run per image.

let setupPromise = null;
function setup() {
  setupPromise ??= (async () => {
    if (!fs.existsSync(CLI)) throw new Error(CLI_MISSING);
    await setBackend('cpu');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-xcheck-'));
    const modelPath = path.join(dir, 'seed7.safetensors');
    const init = await runCli(['init-model', '--seed', '7', '--out', modelPath]);
    if (init.status !== 0) throw new Error(`init-model failed (exit ${init.status}): ${init.stderr.trim()}`);
    const model = loadModelFile(fs.readFileSync(modelPath));
    const images = testImages();
    for (const image of images) {
      image.file = path.join(dir, `${image.name}.png`);
      writePng(image.file, image);
    }
    // The baseline run: defaults everywhere (last conv layer, gradcam, auto target, logit).
    const base = await pool(images.map((image) => () =>
      runCli(['explain', '--model', modelPath, '--image', image.file, '--json', '--dump-input'])));
    images.forEach((image, i) => { image.baseline = parseOutput(base[i]); });
    return { dir, modelPath, model, images };
  })();
  return setupPromise;
}

test.after(() => {
  setupPromise?.then(({ dir }) => fs.rmSync(dir, { recursive: true, force: true }), () => {});
});

// ------------------------------------------------------------------------------------------

test('CLI input tensor: independent decode, centre crop and area resize', async () => {
  const { model, images } = await setup();
  const { height, width, channels, scale } = model.arch.input;
  for (const image of images) {
    const input = image.baseline.input;
    assert.ok(Array.isArray(input), `${image.name}: no "input" in the --dump-input output`);
    assert.equal(input.length, height * width * channels, `${image.name}: input length`);
    const want = expectedInput(image, height, width, scale);
    let worst = 0, at = 0;
    input.forEach((v, i) => {
      const d = Math.abs(v - want[i]);
      if (!(d <= worst)) { worst = d; at = i; }
    });
    const p = Math.floor(at / 3);
    assert.ok(worst <= INPUT_TOL,
      `${image.name} (${image.width}x${image.height}): input differs by ${worst} at y=${Math.floor(p / width)} ` +
      `x=${p % width} c=${at % 3}: CLI ${input[at]}, expected ${want[at]}`);
  }
});

test('engine matches the TF.js reference: every conv layer x method x score x target', async (t) => {
  const { modelPath, model, images } = await setup();
  const { arch } = model;
  const classes = arch.classes;
  const convs = arch.layers.map((l, i) => ({ ...l, index: i })).filter((l) => l.type === 'conv2d');
  assert.ok(convs.length > 0, 'the model has no conv layers');

  const problems = [];
  const worst = new Map();  // "layer method score" -> {ratio, absDiff, refMax}
  let maps = 0, nonzero = 0;
  const started = performance.now();

  for (const [n, image] of images.entries()) {
    const base = image.baseline;
    const ref = new Reference(model, Float32Array.from(base.input));
    const order = [...ref.probabilities.keys()].sort((a, b) => ref.probabilities[b] - ref.probabilities[a]);
    // auto, plus another class: the runner-up by index, or the least likely by name (alternating).
    const other = n % 2 === 0 ? { arg: String(order[1]), index: order[1] }
      : { arg: classes[order.at(-1)], index: order.at(-1) };
    const targets = [{ arg: 'auto', index: order[0] }, other];

    // Default choices of the baseline run.
    const lastConv = convs.at(-1);
    if (base.layer?.name !== lastConv.name) problems.push(`${image.name}: default layer ${base.layer?.name}, expected ${lastConv.name}`);
    if (base.method !== 'gradcam') problems.push(`${image.name}: default method ${base.method}`);
    if (base.score !== 'logit') problems.push(`${image.name}: default score ${base.score}`);
    if (base.target?.index !== order[0]) problems.push(`${image.name}: default target ${base.target?.index}, reference top ${order[0]}`);

    const cases = [];
    for (const layer of convs) {
      for (const method of METHODS) {
        for (const score of SCORES) {
          for (const target of targets) cases.push({ layer, method, score, target });
        }
      }
    }
    const runs = await pool(cases.map((c) => () => runCli(['explain', '--model', modelPath, '--image', image.file,
      '--layer', c.layer.name, '--method', c.method, '--target', c.target.arg, '--score', c.score,
      '--json', '--dump-input'])));

    cases.forEach((c, i) => {
      const label = `${image.name} ${c.layer.name} ${c.method} ${c.score} target=${c.target.arg}`;
      let out;
      try {
        out = parseOutput(runs[i]);
      } catch (e) {
        problems.push(e.message);
        return;
      }
      const bad = (msg) => problems.push(`${label}: ${msg}`);

      // Same tensor as the baseline (the reference ran on that one).
      if (!Array.isArray(out.input) || out.input.length !== base.input.length ||
          out.input.some((v, k) => v !== base.input[k])) bad('dumped input differs from the baseline run');

      // Forward pass.
      const P = ref.probabilities, L = ref.logits;
      if (out.probabilities?.length !== P.length) bad(`${out.probabilities?.length} probabilities, expected ${P.length}`);
      else {
        const d = Math.max(...P.map((p, k) => Math.abs(out.probabilities[k] - p)));
        if (!(d <= PROB_TOL)) bad(`probabilities differ by ${d.toExponential(3)}`);
      }
      if (out.logits?.length !== L.length) bad(`${out.logits?.length} logits, expected ${L.length}`);
      else {
        const d = Math.max(...L.map((l, k) => Math.abs(out.logits[k] - l) / Math.max(1, Math.abs(l))));
        if (!(d <= LOGIT_TOL)) bad(`logits differ by ${d.toExponential(3)} (relative)`);
      }
      if (!Array.isArray(out.top) || out.top.length === 0) bad('no "top" list');
      else {
        if (out.top[0].index !== order[0]) bad(`top[0] is ${out.top[0].index}, reference top ${order[0]}`);
        out.top.forEach((e, k) => {
          if (e.name !== classes[e.index]) bad(`top[${k}] name ${e.name} for index ${e.index}`);
          if (k > 0 && e.probability > out.top[k - 1].probability) bad('"top" is not sorted');
        });
      }

      // What was explained.
      if (out.target?.index !== c.target.index || out.target?.name !== classes[c.target.index]) {
        bad(`target ${JSON.stringify(out.target)}, expected ${c.target.index} ${classes[c.target.index]}`);
      }
      const [h, w, ch] = model.shapes[c.layer.index];
      const L2 = out.layer ?? {};
      if (L2.name !== c.layer.name || L2.index !== c.layer.index || L2.height !== h || L2.width !== w || L2.channels !== ch) {
        bad(`layer ${JSON.stringify(L2)}, expected ${c.layer.name} #${c.layer.index} ${h}x${w}x${ch}`);
      }
      if (out.method !== c.method) bad(`method ${out.method}`);
      if (out.score !== c.score) bad(`score ${out.score}`);

      // The map.
      const r = ref.cam(c.layer.name, c.method, c.target.index, c.score).cam;
      const cam = out.cam ?? {};
      if (cam.height !== r.height || cam.width !== r.width || cam.values?.length !== r.values.length) {
        bad(`cam ${cam.height}x${cam.width} with ${cam.values?.length} values, reference ${r.height}x${r.width}`);
        return;
      }
      maps++;
      if (r.max > 0) nonzero++;
      // tiny: when the terms cancel, float32 error scales with what was summed, not with the result.
      const scale = Math.max(r.max, 1e-3 * r.magnitude, 1e-30);
      let absDiff = 0, at = 0;
      cam.values.forEach((v, k) => {
        const d = Math.abs(v - r.values[k]);
        if (!(d <= absDiff)) { absDiff = d; at = k; }  // NaN sticks
      });
      if (!(absDiff <= CAM_TOL * scale)) {
        bad(`cam differs by ${absDiff.toExponential(3)} at (${Math.floor(at / r.width)},${at % r.width}): ` +
          `engine ${cam.values[at]}, reference ${r.values[at]}, reference max ${r.max.toExponential(3)}`);
      }
      const key = `${c.layer.name} ${c.method} ${c.score}`;
      const ratio = absDiff / scale;
      if (!worst.has(key) || !(ratio <= worst.get(key).ratio)) worst.set(key, { ratio, absDiff, refMax: r.max, image: image.name });
    });
    ref.dispose();
  }

  // Summary for the log: the worst case per layer, method and score.
  const lines = [...worst.entries()].map(([k, v]) =>
    `${k.padEnd(32)} worst |diff|/max ${v.ratio.toExponential(2)}  |diff| ${v.absDiff.toExponential(2)}  ` +
    `ref max ${v.refMax.toExponential(2)}  (${v.image})`);
  t.diagnostic(`${maps} maps compared, ${nonzero} with a nonzero reference max, ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s`);
  for (const line of lines) t.diagnostic(line);

  assert.deepEqual(problems.slice(0, 40), [], `${problems.length} disagreements (first 40 shown)`);
  assert.ok(maps > 0, 'no maps compared');
  assert.ok(nonzero >= MIN_NONZERO * maps,
    `only ${nonzero} of ${maps} reference maps are nonzero: the comparison would prove little`);
});
