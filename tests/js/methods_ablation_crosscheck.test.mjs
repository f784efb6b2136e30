// AblationCAM, ShapleyCAM and FullGrad against PyTorch on the ONNX ResNet-18 fixture
// (tools/onnx_fixtures.py): the CLI's --json --dump-input map compared with tools/reference_ablation.py
// (pytorch-grad-cam's definitions, written with autograd) on the very tensor the CLI fed the model,
// as tests/js/onnx_crosscheck.test.mjs does for the gradient CAMs.
//
//   node --test tests/js/methods_ablation_crosscheck.test.mjs
//
// Natively: layer1 (64 channels at 56x56, a ReLU network of millions of units after it) and layer4's
// last block (512 channels, the default layer), each method, with the logit and the probability
// score; FullGrad's whole-input map once per score. The wasm CLI, slower: layer4 only, and FullGrad.
// Anything missing (torch, the fixtures, a CLI) is a failure, never a skip.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { maxAbs, nativeCli, ONNX_FIXTURES as FIXTURES, onnxFixtures, pool, pythonReference, requireBuilt,
  root, runCliAsync, wasmCli } from './support.mjs';

const REFERENCE_SCRIPT = path.join(root, 'tools/reference_ablation.py');
const IMAGE = path.join(root, 'assets/samples/cat.jpg');
const LAYER1 = '/layer1/layer1.0/relu_1/Relu';
const LAYER4 = '/layer4/layer4.1/relu_1/Relu';

// |engine - reference| / the reference map's maximum. AblationCAM and FullGrad are the same
// arithmetic in float32 (measured ~1e-5 and ~3e-7). ShapleyCAM with the logit has no Hessian term
// in a ReLU network (~2e-6); with the probability its Hessian term comes from a finite difference of
// the logits (engine/src/methods/shapley_cam.cpp: measured up to 1.3e-2 of the maximum), so 3e-2.
const TOL = { ablationcam: 1e-3, fullgrad: 1e-3, shapleycam: { logit: 1e-3, probability: 3e-2 } };
const tolerance = (method, score) => (typeof TOL[method] === 'number' ? TOL[method] : TOL[method][score]);

const PLANS = {
  native: {
    cli: () => path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli),
    runs: [LAYER1, LAYER4].flatMap((layer) => ['ablationcam', 'shapleycam'].flatMap((method) =>
      ['logit', 'probability'].map((score) => ({ layer, method, score }))))
      .concat(['logit', 'probability'].map((score) => ({ layer: LAYER4, method: 'fullgrad', score }))),
  },
  wasm: {
    cli: () => path.resolve(process.env.GRADCAM_WASM_CLI ?? wasmCli),
    runs: [{ layer: LAYER4, method: 'ablationcam', score: 'logit' }, { layer: LAYER4, method: 'shapleycam', score: 'probability' },
      { layer: LAYER4, method: 'fullgrad', score: 'logit' }],
  },
};

for (const [which, plan] of Object.entries(PLANS)) {
  test(`ablationcam, shapleycam and fullgrad (${which} CLI) match their PyTorch definitions on ResNet-18`, async (t) => {
    const cli = plan.cli();
    requireBuilt(cli);
    const entry = onnxFixtures().models.resnet18;
    const started = performance.now();
    const results = await pool(plan.runs.map((r) => () => runCliAsync(cli, ['explain', '--model', path.join(FIXTURES, entry.file),
      '--image', IMAGE, '--layer', r.layer, '--mean', entry.mean.join(','), '--std', entry.std.join(','),
      '--method', r.method, '--score', r.score, '--json', '--dump-input'])));
    const outs = results.map((res, i) => {
      const r = plan.runs[i];
      assert.equal(res.status, 0, `${r.layer} ${r.method} ${r.score}: exit ${res.status}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return JSON.parse(res.stdout);
    });
    const answers = await pythonReference(REFERENCE_SCRIPT, plan.runs.map((r, i) => ({ model: 'resnet18', input: outs[i].input, input_shape: entry.input_shape,
      node: r.layer, target: outs[i].target.index, score: r.score, methods: [r.method] })));
    const problems = [];
    plan.runs.forEach((r, i) => {
      const label = `${r.layer} ${r.method} ${r.score}`;
      const v = answers[i].maps[r.method];
      const cam = outs[i].cam;
      const [h, w] = r.method === 'fullgrad' ? entry.input_shape.slice(2) : answers[i].shape;
      if (cam.height !== h || cam.width !== w || cam.values.length !== v.length) {
        problems.push(`${label}: cam ${cam.height}x${cam.width} (${cam.values.length} values), PyTorch ${h}x${w} (${v.length})`);
        return;
      }
      const refMax = maxAbs(v);
      let d = 0, at = 0;
      cam.values.forEach((x, k) => { const e = Math.abs(x - v[k]); if (!(e <= d)) { d = e; at = k; } });
      const tol = tolerance(r.method, r.score);
      t.diagnostic(`${label.padEnd(52)} |diff|/max ${(d / refMax).toExponential(2)} (tolerance ${tol}), max ${refMax.toExponential(2)}`);
      if (!(refMax > 0)) problems.push(`${label}: the reference map is all zero: the comparison would prove nothing`);
      else if (!(d <= tol * refMax)) {
        problems.push(`${label}: differs by ${d.toExponential(3)} at (${Math.floor(at / w)},${at % w}): engine ${cam.values[at]}, ` +
          `PyTorch ${v[at]}, PyTorch max ${refMax.toExponential(3)}`);
      }
    });
    t.diagnostic(`${plan.runs.length} CLI runs and their references in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(problems, []);
  });
}
