// KPCA-CAM, FEM, Finer-CAM and --aug-smooth on the ONNX ResNet-18 fixture (tools/onnx_fixtures.py)
// against tools/reference_cams_extra.py, a PyTorch reference written from pytorch-grad-cam master's
// definitions: the CLI's --json --dump-input map is compared on the exact tensor the CLI fed the
// model, to 1e-3 of the reference map's maximum (or of its largest sum of absolute terms, where
// terms cancel). Natively at the default layer (layer4.1) and an earlier one (layer3.1); in wasm a
// cheaper subset at the default layer. For --aug-smooth the reference also checks that the engine's
// order (average at layer resolution, then upsample) gives pytorch-grad-cam's input-resolution
// average.
//
//   node --test tests/js/methods_more_crosscheck.test.mjs
//
// Needs Debian's python3-torch and python3-torchvision (GRADCAM_PYTHON overrides /usr/bin/python3);
// anything missing, the CLIs included, is a failure, never a skip.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { nativeCli, ONNX_FIXTURES as FIXTURES, onnxFixtures as fixtures, pool, pythonReference, requireBuilt,
  root, runCliAsync, wasmCli, worstDiff } from './support.mjs';

const REFERENCE_SCRIPT = path.join(root, 'tools/reference_cams_extra.py');
const IMAGE = path.join(root, 'assets/samples/cat.jpg');
const CAM_TOL = 1e-3;   // relative to the reference map's maximum
const GAP_TOL = 1e-5;   // layer-resolution average upsampled vs pytorch-grad-cam's, maps in [0, 1]
const DEFAULT_LAYER = '/layer4/layer4.1/relu_1/Relu';
const EARLIER_LAYER = '/layer3/layer3.1/relu_1/Relu';

// [method, node, aug-smooth]
const NATIVE_RUNS = [
  ...['kpcacam', 'fem', 'finercam'].flatMap((m) => [[m, DEFAULT_LAYER, false], [m, EARLIER_LAYER, false]]),
  ['gradcam', DEFAULT_LAYER, true], ['gradcam', EARLIER_LAYER, true], ['fem', DEFAULT_LAYER, true], ['kpcacam', DEFAULT_LAYER, true],
];
const WASM_RUNS = [['kpcacam', DEFAULT_LAYER, false], ['fem', DEFAULT_LAYER, false], ['finercam', DEFAULT_LAYER, false], ['gradcam', DEFAULT_LAYER, true]];

const PLANS = {
  native: () => ({ cli: path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli), runs: NATIVE_RUNS }),
  wasm: () => ({ cli: path.resolve(process.env.GRADCAM_WASM_CLI ?? wasmCli), runs: WASM_RUNS }),
};

for (const [which, plan] of Object.entries(PLANS)) {
  test(`kpcacam, fem, finercam and --aug-smooth (${which} CLI) match pytorch-grad-cam's definitions on ResNet-18`, async (t) => {
    const { cli, runs } = plan();
    requireBuilt(cli);
    const entry = fixtures().models.resnet18;
    const results = await pool(runs.map(([method, node, aug]) => () => runCliAsync(cli, ['explain', '--model',
      path.join(FIXTURES, entry.file), '--image', IMAGE, '--layer', node, '--mean', entry.mean.join(','),
      '--std', entry.std.join(','), '--method', method, '--json', '--dump-input', ...(aug ? ['--aug-smooth'] : [])])));
    const outs = results.map((res, i) => {
      assert.equal(res.status, 0, `${runs[i].join(' ')}: exit ${res.status}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      return JSON.parse(res.stdout);
    });
    const answers = await pythonReference(REFERENCE_SCRIPT, outs.map((out, i) => ({ model: 'resnet18', input: out.input, node: runs[i][1],
      target: out.target.index, method: runs[i][0], aug_smooth: runs[i][2] })));

    const problems = [];
    let nonzero = 0;
    outs.forEach((out, i) => {
      const [method, node, aug] = runs[i];
      const ref = answers[i];
      const label = `${method} ${node}${aug ? ' --aug-smooth' : ''}`;
      const [h, w] = ref.shape;
      if (out.cam.height !== h || out.cam.width !== w) { problems.push(`${label}: cam ${out.cam.height}x${out.cam.width}, reference ${h}x${w}`); return; }
      const refMax = Math.max(...ref.map);
      if (refMax > 0) nonzero++;
      const scale = Math.max(refMax, 1e-3 * ref.magnitude, 1e-30);
      const { d, at } = worstDiff(out.cam.values, ref.map);
      t.diagnostic(`${label.padEnd(50)} |diff|/max ${(d / scale).toExponential(2)}  max ${refMax.toExponential(2)}` +
        (aug ? `  order gap ${ref.aug_gap.toExponential(1)}` : ''));
      if (!(d <= CAM_TOL * scale)) {
        problems.push(`${label}: cam differs by ${d.toExponential(3)} at (${Math.floor(at / w)},${at % w}): engine ` +
          `${out.cam.values[at]}, PyTorch ${ref.map[at]}, PyTorch max ${refMax.toExponential(3)}`);
      }
      if (aug && !(ref.aug_gap <= GAP_TOL)) {
        problems.push(`${label}: averaging at layer resolution and upsampling differs from pytorch-grad-cam's order by ${ref.aug_gap}`);
      }
      if (aug && !(Math.min(...out.cam.values) >= 0 && Math.max(...out.cam.values) <= 1)) problems.push(`${label}: an average of normalised maps outside [0, 1]`);
    });
    assert.deepEqual(problems, []);
    assert.equal(nonzero, runs.length, 'a reference map is all zero: the comparison would prove little');
  });
}

test('the CLI spells aug-smooth as a flag, --aug-smooth, not as the request key --augSmooth', async () => {
  const cli = path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli);
  requireBuilt(cli);
  const model = path.join(root, 'assets/models/cifar10.safetensors');
  const res = await runCliAsync(cli, ['explain', '--model', model, '--image', IMAGE, '--augSmooth', 'yes']);
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /unknown option --augSmooth/);
  const ok = await runCliAsync(cli, ['explain', '--model', model, '--image', IMAGE, '--aug-smooth', '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).cam.values.length > 0, true);
});
