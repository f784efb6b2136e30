// Every method the engine shares with pytorch-grad-cam against that library's definitions, written
// from its master's source in tools/reference_cams.py (PyTorch autograd), on the ResNet-18 fixture
// (tools/onnx_fixtures.py: torchvision 0.14, seeded weights) and the exact tensor the CLI fed the
// model (--json --dump-input). Two layers: the default (layer4's output, 7x7x512) and layer1's
// (56x56x64); two targets: the top class and the runner-up. Maps are compared raw (after ReLU, before
// normalisation) to 1e-3 of the reference map's maximum.
//
// Natively: every layer map at both layers and targets (Eigen-CAM and RandomCAM use no gradient:
// one target),
// guided backprop at both targets, Score-CAM at layer1 only (64 masked forwards; at layer4 it would
// be 512), and --eigen-smooth for Grad-CAM, LayerCAM and Score-CAM. In wasm, a cheaper subset at the
// default layer and the top class: no Score-CAM.
//
// Eigen-CAM's sign: pytorch-grad-cam's get_2d_projection takes numpy's SVD sign, which LAPACK's
// arithmetic decides, not a rule. The engine's rule is documented (the projection correlates
// positively with the centred channel sum) and the reference applies that rule, so the comparison
// is exact; the diagnostics say where numpy's own sign happened to agree.
//
//   node --test tests/js/methods_crosscheck.test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { nativeCli, ONNX_FIXTURES as FIXTURES, onnxFixtures as fixtures, pool, pythonReference, requireBuilt,
  root, runCliAsync, wasmCli, worstDiff } from './support.mjs';

const REFERENCE_SCRIPT = path.join(root, 'tools/reference_cams.py');
const IMAGE = path.join(root, 'assets/samples/cat.jpg');
const MODEL = 'resnet18';
const LAYER4 = '/layer4/layer4.1/relu_1/Relu';  // the importer's default layer
const LAYER1 = '/layer1/layer1.0/relu_1/Relu';
const CAM_TOL = 1e-3;  // relative to the reference map's maximum

const LAYER_MAPS = ['gradcam', 'gradcam++', 'gradcam++-paper', 'xgradcam', 'hirescam', 'gradcam-elementwise', 'layercam',
  'eigengradcam', 'segeigencam'];

// One run: {layer, target: 'top' | 'second', method, eigenSmooth}.
function nativePlan() {
  const runs = [];
  for (const layer of [LAYER4, LAYER1]) {
    for (const target of ['top', 'second']) {
      for (const method of LAYER_MAPS) runs.push({ layer, target, method });
      if (layer === LAYER4) runs.push({ layer, target, method: 'guided-backprop' });
      if (layer === LAYER1) runs.push({ layer, target, method: 'scorecam' });
    }
    // Neither uses the target's gradient: one target each.
    for (const method of ['eigencam', 'random']) runs.push({ layer, target: 'top', method });
    for (const method of ['gradcam', 'layercam']) runs.push({ layer, target: 'top', method, eigenSmooth: true });
  }
  runs.push({ layer: LAYER1, target: 'top', method: 'scorecam', eigenSmooth: true });
  return runs;
}

function wasmPlan() {
  return ['gradcam', 'gradcam++', 'gradcam-elementwise', 'eigencam', 'eigengradcam', 'random']
    .map((method) => ({ layer: LAYER4, target: 'top', method }))
    .concat([{ layer: LAYER4, target: 'top', method: 'hirescam', eigenSmooth: true }]);
}

function argsFor(entry, run, targetIndex) {
  const args = ['explain', '--model', path.join(FIXTURES, entry.file), '--image', IMAGE, '--layer', run.layer,
    '--mean', entry.mean.join(','), '--std', entry.std.join(','), '--method', run.method, '--json', '--dump-input'];
  if (targetIndex !== undefined) args.push('--target', String(targetIndex));
  if (run.eigenSmooth) args.push('--eigen-smooth');
  return args;
}

async function crosscheck(t, cli, runs) {
  requireBuilt(cli);
  const entry = fixtures().models[MODEL];
  const started = performance.now();
  // The top class and the runner-up, from the engine's own logits on its input.
  const first = await runCliAsync(cli, argsFor(entry, { layer: LAYER4, method: 'gradcam' }));
  assert.equal(first.status, 0, first.stderr);
  const base = JSON.parse(first.stdout);
  const order = base.logits.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).map(([, i]) => i);
  const targets = { top: order[0], second: order[1] };

  const results = await pool(runs.map((r) => () => runCliAsync(cli, argsFor(entry, r, targets[r.target]))));
  const problems = [];
  const outs = results.map((res, i) => {
    const r = runs[i];
    if (res.status !== 0) { problems.push(`${r.method} ${r.layer}: exit ${res.status}: ${res.stderr.trim()}`); return null; }
    const out = JSON.parse(res.stdout);
    if (out.input.length !== base.input.length || out.input.some((v, k) => v !== base.input[k])) {
      problems.push(`${r.method} ${r.layer}: the dumped input differs from the first run's`);
    }
    if (out.target.index !== targets[r.target]) problems.push(`${r.method}: target ${out.target.index}, asked ${targets[r.target]}`);
    return out;
  });

  // One reference case per layer, target and eigen_smooth, with all its methods.
  const groups = new Map();
  runs.forEach((r, i) => {
    const key = `${r.layer}|${r.target}|${!!r.eigenSmooth}`;
    if (!groups.has(key)) groups.set(key, { layer: r.layer, target: targets[r.target], eigen_smooth: !!r.eigenSmooth, runs: [] });
    groups.get(key).runs.push(i);
  });
  const cases = [...groups.values()].map((g) => ({ model: MODEL, input: base.input, input_shape: entry.input_shape,
    node: g.layer, target: g.target, eigen_smooth: g.eigen_smooth, methods: g.runs.map((i) => runs[i].method) }));
  const answers = await pythonReference(REFERENCE_SCRIPT, cases);

  let compared = 0, nonzero = 0;
  [...groups.values()].forEach((g, c) => {
    const ref = answers[c];
    for (const i of g.runs) {
      const r = runs[i], out = outs[i];
      if (!out) continue;
      const label = `${r.method}${r.eigenSmooth ? ' --eigen-smooth' : ''} at ${r.layer} for class ${g.target}`;
      const want = ref.maps[r.method];
      const cam = out.cam;
      if (cam.values.length !== want.length) { problems.push(`${label}: ${cam.values.length} values, reference ${want.length}`); continue; }
      const refMax = Math.max(...want);
      // Where the terms cancel (HiResCAM, EigenGrad-CAM), float32 error scales with what was summed.
      const scale = Math.max(refMax, 1e-3 * ref.magnitudes[r.method], 1e-30);
      const { d, at } = worstDiff(cam.values, want);
      compared++;
      if (refMax > 0) nonzero++;
      if (!(d <= CAM_TOL * scale)) problems.push(`${label}: differs by ${(d / scale).toExponential(2)} of the max at ${at}: engine ${cam.values[at]}, reference ${want[at]}`);
      const sign = ref.numpy_sign_agrees[r.method];
      t.diagnostic(`${label.padEnd(70)} |diff|/max ${(d / scale).toExponential(2)}` +
        (sign === undefined ? '' : `  numpy's SVD sign ${sign ? 'agrees' : 'is the opposite'}`));
    }
  });
  t.diagnostic(`${runs.length + 1} CLI runs, ${compared} maps compared, ${nonzero} nonzero, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.deepEqual(problems, []);
  assert.equal(compared, runs.length);
  assert.ok(nonzero >= 0.9 * compared, `only ${nonzero} of ${compared} reference maps are nonzero`);
}

test('every pytorch-grad-cam method the engine has matches its definition on ResNet-18 (native CLI)', async (t) => {
  await crosscheck(t, path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli), nativePlan());
});

test('the cheap methods match in wasm too (wasm CLI)', async (t) => {
  await crosscheck(t, path.resolve(process.env.GRADCAM_WASM_CLI ?? wasmCli), wasmPlan());
});
