// The engine on ONNX models against PyTorch: ResNet-18, MobileNetV2, SqueezeNet 1.1, ShuffleNet v2
// x0.5, vit_tiny (a small VisionTransformer: token layers), swin_tiny (a small SwinTransformer with
// shifted windows: [1,h,w,C] grids) (torchvision 0.14, seeded random weights), allops (a small net
// holding every op the ONNX importer reads), shapes_13/17 (shape arithmetic folded at load),
// math_14/17 (arithmetic on values of any rank) and attention_14 (MaxViT's window attention made
// small: Einsum, Where with a constant condition, Tanh),
// written by tools/onnx_fixtures.py into build/onnx-fixtures with a manifest that pairs ONNX nodes
// with the torch modules computing the same tensor. For every model, manifest node and method
// (Grad-CAM, HiResCAM, LayerCAM) the CLI's --json --dump-input output is compared with
// tools/onnx_reference.py (PyTorch autograd) on the very tensor the CLI fed the model, and the
// CLI's logits with onnxruntime-node's on that tensor. A first test checks the fixtures
// themselves: onnxruntime-node and PyTorch agree on every model's output and at every manifest
// node, so a disagreement with the engine is the engine's.
//
//   node --test tests/js/onnx_crosscheck.test.mjs
//
// Needs Debian's python3-torch, python3-torchvision and python3-onnx (GRADCAM_PYTHON overrides
// /usr/bin/python3) and the npm package onnxruntime-node: tools/deps.sh installs them. Anything
// missing, the CLIs included, is a failure, never a skip. GRADCAM_NATIVE_CLI and GRADCAM_WASM_CLI
// override the CLIs (a .js path runs under node).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';

import { maxAbs, nativeCli, ONNX_FIXTURES as FIXTURES, onnxFixtures as fixtures, pool, pythonReference,
  requireBuilt, root, runCliAsync, wasmCli, worstDiff } from './support.mjs';

const REFERENCE_SCRIPT = path.join(root, 'tools/onnx_reference.py');
const IMAGE = path.join(root, 'assets/samples/cat.jpg');
const METHODS = ['gradcam', 'hirescam', 'layercam'];

const PROB_TOL = 1e-4;     // absolute
const ORT_TOL = 1e-4;      // relative to the largest |logit| (|probability| for allops)
const ACT_TOL = 1e-4;      // onnxruntime vs PyTorch activations, relative to the largest |activation|
const CAM_TOL = 1e-3;      // relative to the reference map's maximum
const MIN_NONZERO = 0.7;   // share of compared maps whose reference max is > 0

// ------------------------------------------------------------------------------------------
// Fixtures, onnxruntime and the PyTorch reference.

let ortModule = null;
async function ort() {
  try {
    ortModule ??= await import('onnxruntime-node');
  } catch (e) {
    throw new Error(`onnxruntime-node cannot be loaded (${e.message}): run npm install (tools/deps.sh does)`);
  }
  return ortModule;
}

const sessions = new Map();
// Runs one model file on a [1,C,H,W] tensor; returns {output name: Float32Array}.
async function runOrt(file, inputName, input, shape) {
  const { InferenceSession, Tensor } = await ort();
  if (!sessions.has(file)) sessions.set(file, await InferenceSession.create(file, { graphOptimizationLevel: 'disabled' }));
  const outputs = await sessions.get(file).run({ [inputName]: new Tensor('float32', Float32Array.from(input), shape) });
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.data]));
}

// ------------------------------------------------------------------------------------------
// Helpers.

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// The shipped sample, nearest-neighbour scaled to the model's input and normalised by the
// manifest's mean and std (NCHW): an image-like input for the fixture check that does not depend
// on the engine's preprocessing.
function sampleTensor(entry) {
  const [, channels, height, width] = entry.input_shape;
  const img = jpeg.decode(fs.readFileSync(IMAGE), { useTArray: true });
  const out = new Float32Array(channels * height * width);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const sy = Math.floor((y * img.height) / height);
      for (let x = 0; x < width; x++) {
        const sx = Math.floor((x * img.width) / width);
        const v = img.data[4 * (sy * img.width + sx) + c] / 255;
        out[(c * height + y) * width + x] = (v - entry.mean[c]) / entry.std[c];
      }
    }
  }
  return out;
}

// A manifest node's map size [h, w] and its ONNX output as the C x H x W the reference reports:
// an image layer as it is; a ViT token layer [1, 1+h*w, C] as its grid after the class token
// (pytorch-grad-cam's reshape_transform), so the class token is not compared; a Swin grid
// [1, h, w, C] with its channels moved first.
function mapSize(node) {
  if (node.layout === 'nhwc') return node.shape.slice(1, 3);
  if (node.layout !== 'tokens') return node.shape.slice(2);
  const side = Math.round(Math.sqrt(node.shape[1] - 1));
  return [side, side];
}
function asGrid(values, node) {
  if (node.layout !== 'tokens' && node.layout !== 'nhwc') return values;
  const [h, w] = mapSize(node), c = node.shape[node.shape.length - 1];
  const first = node.layout === 'tokens' ? 1 : 0;
  const out = new Float32Array(c * h * w);
  for (let t = 0; t < h * w; t++) for (let k = 0; k < c; k++) out[k * h * w + t] = values[(first + t) * c + k];
  return out;
}

// The model's answer as the engine reports it: logits, except allops, whose ONNX output is the
// final Softmax (onnxruntime gives probabilities there).
function ortScores(entry, outputs) {
  return outputs[entry.output_tensor];
}


// ------------------------------------------------------------------------------------------

test('fixtures: onnxruntime-node and PyTorch agree on every model, at the output and every manifest node', async (t) => {
  const manifest = fixtures();
  const problems = [];
  const cases = [], ortRuns = [];
  for (const [name, entry] of Object.entries(manifest.models)) {
    const input = sampleTensor(entry);
    const outputs = await runOrt(path.join(FIXTURES, entry.probe_file), entry.input, input, entry.input_shape);
    ortRuns.push({ name, entry, outputs });
    const target = argmax(ortScores(entry, outputs));
    for (const node of entry.nodes) {
      cases.push({ model: name, input: Array.from(input), input_shape: entry.input_shape, node: node.onnx_node,
        target, methods: METHODS, activations: true, entry, outputs, manifestNode: node });
    }
  }
  const answers = await pythonReference(REFERENCE_SCRIPT, cases.map(({ entry, outputs, manifestNode, ...c }) => c));

  let maps = 0, nonzero = 0;
  const worst = [];
  for (const { name, entry, outputs } of ortRuns) {
    const r = answers[cases.findIndex((c) => c.model === name)];
    const torchScores = entry.output === 'probabilities' ? r.probabilities : r.logits;
    const got = ortScores(entry, outputs);
    const scale = maxAbs(torchScores);
    const { d, at } = worstDiff(got, torchScores);
    worst.push(`${name}: output |diff| ${d.toExponential(2)} (max |${entry.output}| ${scale.toExponential(2)})`);
    if (got.length !== torchScores.length) problems.push(`${name}: onnxruntime gives ${got.length} outputs, torch ${torchScores.length}`);
    else if (!(d <= ORT_TOL * scale)) {
      problems.push(`${name}: onnxruntime ${entry.output}[${at}] ${got[at]}, torch ${torchScores[at]} (|diff| ${d.toExponential(3)})`);
    }
  }
  cases.forEach((c, i) => {
    const r = answers[i];
    const label = `${c.model} ${c.node}`;
    const raw = c.outputs[c.manifestNode.tensor];
    if (!raw) { problems.push(`${label}: the probe model has no output ${c.manifestNode.tensor}`); return; }
    const ortA = asGrid(raw, c.manifestNode);
    const scale = maxAbs(r.activations);
    const { d, at } = worstDiff(ortA, r.activations);
    if (ortA.length !== r.activations.length) problems.push(`${label}: ${ortA.length} values from onnxruntime, ${r.activations.length} from ${r.module}`);
    else if (!(d <= ACT_TOL * scale)) {
      problems.push(`${label} vs torch ${r.module}: activations differ by ${d.toExponential(3)} at ${at} ` +
        `(max |A| ${scale.toExponential(3)}): the manifest pairs the wrong module, or the export is off`);
    }
    worst.push(`${label.padEnd(58)} ${r.module.padEnd(22)} |A diff|/max ${(d / scale).toExponential(2)}`);
    if (scale === 0) problems.push(`${label}: all activations are zero`);
    const [h, w] = mapSize(c.manifestNode);
    if (r.shape[0] !== h || r.shape[1] !== w) problems.push(`${label}: reference map ${r.shape}, manifest shape ${c.manifestNode.shape}`);
    for (const m of METHODS) {
      const v = r.maps[m];
      maps++;
      if (v.length !== h * w || v.some((x) => !(x >= 0 && Number.isFinite(x)))) problems.push(`${label} ${m}: map not ${h}x${w} finite values >= 0`);
      if (maxAbs(v) > 0) nonzero++;
    }
  });
  for (const line of worst) t.diagnostic(line);
  t.diagnostic(`${nonzero} of ${maps} reference maps are nonzero`);
  assert.deepEqual(problems, []);
  assert.ok(nonzero >= MIN_NONZERO * maps, `only ${nonzero} of ${maps} reference maps are nonzero`);
});

// Every model on each CLI: all manifest nodes x methods (natively); the wasm CLI is slower, so all
// nodes with Grad-CAM and one node in the middle with every method.
const PLANS = {
  native: () => ({ cli: path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli), methods: () => METHODS }),
  wasm: () => ({ cli: path.resolve(process.env.GRADCAM_WASM_CLI ?? wasmCli), methods: (i, n) => (i === Math.floor(n / 2) ? METHODS : ['gradcam']) }),
};

for (const [which, plan] of Object.entries(PLANS)) {
  test(`engine (${which} CLI) matches PyTorch and onnxruntime on the ONNX fixtures`, async (t) => {
    const { cli, methods } = plan();
    requireBuilt(cli);
    const manifest = fixtures();
    await ort();  // missing: fail before spending minutes on the CLI
    const started = performance.now();

    const runs = [];
    for (const [name, entry] of Object.entries(manifest.models)) {
      entry.nodes.forEach((node, i) => {
        for (const method of methods(i, entry.nodes.length)) {
          runs.push({ name, entry, node: node.onnx_node, method, args: ['explain', '--model', path.join(FIXTURES, entry.file),
            '--image', IMAGE, '--layer', node.onnx_node, '--mean', entry.mean.join(','), '--std', entry.std.join(','),
            '--method', method, '--json', '--dump-input'] });
        }
      });
    }
    const results = await pool(runs.map((r) => () => runCliAsync(cli, r.args)));

    const problems = [];
    // Where the manifest names the default layer (vit_tiny: the last block's ln_1, not its output,
    // whose tokens other than the class token get no gradient; swin_tiny: the last block's norm1,
    // not the shifted copy of it that its windows read), info must choose it.
    for (const [name, entry] of Object.entries(manifest.models)) {
      if (!entry.default_layer) continue;
      const res = await runCliAsync(cli, ['info', '--model', path.join(FIXTURES, entry.file), '--json']);
      let got;
      try { got = JSON.parse(res.stdout).default_layer; } catch (e) { got = `no JSON (exit ${res.status}: ${res.stderr.trim()})`; }
      if (got !== entry.default_layer) problems.push(`${name}: default layer ${got}, expected ${entry.default_layer}`);
    }
    const byModel = new Map();
    runs.forEach((r, i) => {
      const res = results[i];
      if (!byModel.has(r.name)) byModel.set(r.name, { entry: r.entry, ok: [], failed: [] });
      const group = byModel.get(r.name);
      if (res.status !== 0) { group.failed.push({ r, res }); return; }
      try {
        group.ok.push({ r, out: JSON.parse(res.stdout) });
      } catch (e) {
        problems.push(`${r.name} ${r.node} ${r.method}: stdout is not one JSON object (${e.message}): ${res.stdout.slice(0, 200)}`);
      }
    });

    // Rejections first, one line per model: today's likely failure is an engine without ONNX.
    for (const [name, g] of byModel) {
      if (g.failed.length === 0) continue;
      const { res } = g.failed[0];
      const what = g.ok.length === 0 ? `rejected ${g.entry.file} on every run` : `failed ${g.failed.length} of ${g.failed.length + g.ok.length} runs`;
      problems.push(`${which} CLI ${what} (first: --layer ${g.failed[0].r.node} --method ${g.failed[0].r.method}: ` +
        `exit ${res.status}${res.error ? `, ${res.error}` : ''}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')})` +
        (g.ok.length === 0 ? ` [${name}: does the engine read ONNX yet?]` : ''));
    }

    // Per model: the tensor the engine fed, checked for shape, the same on every run, and run
    // through onnxruntime.
    const cases = [], checks = [];
    for (const [name, g] of byModel) {
      if (g.ok.length === 0) continue;
      const { entry } = g;
      const base = g.ok[0].out;
      const want = entry.input_shape.reduce((a, b) => a * b, 1);
      if (JSON.stringify(base.input_shape) !== JSON.stringify(entry.input_shape)) {
        problems.push(`${name}: input_shape ${JSON.stringify(base.input_shape)}, the model takes ${JSON.stringify(entry.input_shape)}`);
      }
      if (!Array.isArray(base.input) || base.input.length !== want) {
        problems.push(`${name}: "input" has ${base.input?.length} values, expected ${want} (--dump-input, NCHW)`);
        continue;
      }
      const outputs = await runOrt(path.join(FIXTURES, entry.file), entry.input, base.input, entry.input_shape);
      const ortOut = ortScores(entry, outputs);
      const engineOut = entry.output === 'probabilities' ? base.probabilities : base.logits;
      if (engineOut?.length !== ortOut.length) problems.push(`${name}: ${engineOut?.length} ${entry.output} from the CLI, ${ortOut.length} from onnxruntime`);
      else {
        const { d, at } = worstDiff(engineOut, ortOut);
        const scale = maxAbs(ortOut);
        if (!(d <= ORT_TOL * scale)) {
          problems.push(`${name}: ${entry.output}[${at}] CLI ${engineOut[at]}, onnxruntime ${ortOut[at]} ` +
            `(|diff| ${d.toExponential(3)}, max ${scale.toExponential(3)})`);
        }
        t.diagnostic(`${name}: CLI vs onnxruntime ${entry.output} |diff| ${d.toExponential(2)} (max ${scale.toExponential(2)})`);
      }
      for (const { r, out } of g.ok) {
        if (!Array.isArray(out.input) || out.input.length !== base.input.length || out.input.some((v, k) => v !== base.input[k])) {
          problems.push(`${name} ${r.node} ${r.method}: the dumped input differs from the first run's`);
          continue;
        }
        cases.push({ model: name, input: base.input, input_shape: entry.input_shape, node: r.node,
          target: out.target?.index, methods: [r.method] });
        checks.push({ r, out });
      }
    }

    let maps = 0, nonzero = 0;
    const worst = new Map();
    if (cases.length > 0) {
      const answers = await pythonReference(REFERENCE_SCRIPT, cases);
      checks.forEach(({ r, out }, i) => {
        const ref = answers[i];
        const label = `${r.name} ${r.node} ${r.method}`;
        const bad = (msg) => problems.push(`${label}: ${msg}`);
        if (out.target?.index !== argmax(ref.logits)) bad(`target ${out.target?.index}, PyTorch's top class ${argmax(ref.logits)}`);
        if (out.probabilities?.length !== ref.probabilities.length) bad(`${out.probabilities?.length} probabilities, expected ${ref.probabilities.length}`);
        else {
          const { d } = worstDiff(out.probabilities, ref.probabilities);
          if (!(d <= PROB_TOL)) bad(`probabilities differ from PyTorch's by ${d.toExponential(3)}`);
        }
        const [h, w] = ref.shape;
        const v = ref.maps[r.method];
        const cam = out.cam ?? {};
        if (cam.height !== h || cam.width !== w || cam.values?.length !== v.length) {
          bad(`cam ${cam.height}x${cam.width} with ${cam.values?.length} values, PyTorch ${h}x${w}`);
          return;
        }
        maps++;
        const refMax = maxAbs(v);
        if (refMax > 0) nonzero++;
        // Where the terms cancel, float32 error scales with what was summed, not with the result.
        const scale = Math.max(refMax, 1e-3 * ref.magnitudes[r.method], 1e-30);
        const { d, at } = worstDiff(cam.values, v);
        if (!(d <= CAM_TOL * scale)) {
          bad(`cam differs by ${d.toExponential(3)} at (${Math.floor(at / w)},${at % w}): engine ${cam.values[at]}, ` +
            `PyTorch ${v[at]}, PyTorch max ${refMax.toExponential(3)}`);
        }
        const key = `${r.name} ${r.node} ${r.method}`;
        worst.set(key, `${key.padEnd(70)} |diff|/max ${(d / scale).toExponential(2)}  max ${refMax.toExponential(2)}`);
      });
    }
    t.diagnostic(`${runs.length} CLI runs, ${maps} maps compared, ${nonzero} with a nonzero reference, ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const line of worst.values()) t.diagnostic(line);

    assert.ok(problems.length === 0, `${problems.length} problems (first 40 shown):\n  ${problems.slice(0, 40).join('\n  ')}`);
    assert.equal(maps, runs.length, 'not every run was compared');
    assert.ok(nonzero >= MIN_NONZERO * maps, `only ${nonzero} of ${maps} reference maps are nonzero: the comparison would prove little`);
  });
}
