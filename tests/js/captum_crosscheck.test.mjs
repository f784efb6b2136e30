// Captum's attributions at the input (integrated-gradients, input-x-gradient, gradient-shap,
// deconvolution, occlusion) against tools/reference_captum.py: Captum's definitions written in
// PyTorch autograd, on tools/onnx_fixtures.py's seeded models, fed the very tensor the CLI fed the
// model (--json --dump-input). The signed per-channel "attribution" of the CLI's JSON is compared
// element by element, and the displayed map must be |sum over channels| of it.
// Natively: ResNet-18 (224x224) with every method, and allops (32x32); in wasm, allops only.
// Costs kept small: 8 quadrature points and 2 GradientSHAP samples on ResNet-18, occlusion with
// 9 windows (90 pixels, stride 70: overlapping, the last cut at the border).
//
//   node --test tests/js/captum_crosscheck.test.mjs
//
// Needs Debian's python3-torch, python3-torchvision and numpy (GRADCAM_PYTHON overrides
// /usr/bin/python3); anything missing, the CLIs included, is a failure, never a skip.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { encodePng, maxAbs, nativeCli, ONNX_FIXTURES as FIXTURES, onnxFixtures as fixtures, pool,
  pythonReference, requireBuilt, root, runCliAsync, tempDir, testPixels, wasmCli, worstDiff } from './support.mjs';

const REFERENCE_SCRIPT = path.join(root, 'tools/reference_captum.py');

// The test image at the models' 224x224, with seeded noise on every channel of every pixel. Not a
// photo: an upscaled photo has flat blocks, where ResNet's max pooling sees exact ties in exact
// arithmetic; which input wins a tie then depends on float rounding (the engine's and PyTorch's
// convolutions sum in different orders), and on the path of Integrated Gradients the gradient of a
// few hundred pixels moved by 1-6% of the largest attribution for that reason alone (measured with
// assets/samples/cat.jpg). Noise leaves no ties.
function noisyImage() {
  const img = testPixels(224, 224, 3);
  let s = 12345;
  for (let i = 0; i < img.data.length; i++) {
    if (i % 4 === 3) continue;
    s = (s * 1664525 + 1013904223) >>> 0;
    img.data[i] = Math.max(0, Math.min(255, img.data[i] + ((s >>> 24) % 41) - 20));
  }
  const file = path.join(tempDir('gradcam-captum-'), 'noisy.png');
  fs.writeFileSync(file, encodePng(img));
  return file;
}
// Relative to the reference's largest |attribution|. The reference is computed in float64; where
// PyTorch's own float32 strays further from it on a case (it reports float32_gap: on ResNet-18's
// interpolated inputs a few ReLUs sit within float32 noise of zero and flip, moving a region's
// gradient by 1-4% of the largest attribution, measured), the engine, also float32, may stray up to
// twice that gap, and no more.
const TOL = 1e-3;

// Per model, the runs: the method and its options, as the CLI takes them and the reference reads them.
const RUNS = {
  resnet18: [
    { method: 'input-x-gradient' },
    { method: 'integrated-gradients', steps: 8, baseline: 'black' },
    { method: 'gradient-shap', samples: 2, baseline: 'black' },
    { method: 'deconvolution' },
    { method: 'occlusion', window: 90, stride: 70 },
  ],
  allops: [
    { method: 'input-x-gradient' },
    { method: 'integrated-gradients' },  // Captum's default: 50 Gauss-Legendre points, black here
    { method: 'integrated-gradients', steps: 7, baseline: 'zero' },
    { method: 'gradient-shap', baseline: 'black' },  // Captum's default: 5 samples
    { method: 'deconvolution' },
    { method: 'occlusion', window: 8, stride: 3 },
  ],
};

const PLANS = {
  native: { cli: () => path.resolve(process.env.GRADCAM_NATIVE_CLI ?? nativeCli), models: ['resnet18', 'allops'] },
  wasm: { cli: () => path.resolve(process.env.GRADCAM_WASM_CLI ?? wasmCli), models: ['allops'] },
};

for (const [which, plan] of Object.entries(PLANS)) {
  test(`Captum's attributions (${which} CLI) match their PyTorch definitions on the ONNX fixtures`, async (t) => {
    const cli = plan.cli();
    requireBuilt(cli);
    const manifest = fixtures();
    const started = performance.now();
    const image = noisyImage();
    const runs = [];
    for (const name of plan.models) {
      const entry = manifest.models[name];
      assert.ok(entry, `${name}: not in the fixtures' manifest`);
      for (const options of RUNS[name]) {
        const args = ['explain', '--model', path.join(FIXTURES, entry.file), '--image', image,
          '--mean', entry.mean.join(','), '--std', entry.std.join(','), '--json', '--dump-input'];
        for (const [k, v] of Object.entries(options)) args.push(`--${k}`, String(v));
        runs.push({ name, entry, options, args });
      }
    }
    const results = await pool(runs.map((r) => () => runCliAsync(cli, r.args)), 2);
    const problems = [], cases = [], checks = [];
    runs.forEach((r, i) => {
      const res = results[i];
      const label = `${r.name} ${JSON.stringify(r.options)}`;
      if (res.status !== 0) { problems.push(`${label}: exit ${res.status}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`); return; }
      const out = JSON.parse(res.stdout);
      const [, c, h, w] = r.entry.input_shape;
      if (out.attribution?.length !== c * h * w || out.input?.length !== c * h * w) {
        problems.push(`${label}: attribution ${out.attribution?.length} and input ${out.input?.length} values, expected ${c * h * w}`);
        return;
      }
      // The displayed map: |sum over channels| of the attribution (NCHW in the JSON).
      if (out.cam.height !== h || out.cam.width !== w) problems.push(`${label}: map ${out.cam.height}x${out.cam.width}, not the input's ${h}x${w}`);
      else {
        const reduced = Array.from({ length: h * w }, (_, p) => {
          let s = 0;
          for (let k = 0; k < c; k++) s += out.attribution[k * h * w + p];
          return Math.abs(s);
        });
        const { d } = worstDiff(out.cam.values, reduced);
        if (!(d <= 1e-5 * Math.max(maxAbs(reduced), 1e-30))) problems.push(`${label}: the map is not |sum over channels| of the attribution (off by ${d})`);
      }
      cases.push({ model: r.name, input: out.input, target: out.target.index, ...r.options });
      checks.push({ label, out });
    });
    const answers = cases.length ? await pythonReference(REFERENCE_SCRIPT, cases) : [];
    checks.forEach(({ label, out }, i) => {
      const ref = answers[i].attribution, gap = answers[i].float32_gap;
      const scale = maxAbs(ref), tol = Math.max(TOL, 2 * gap);
      const { d, at } = worstDiff(out.attribution, ref);
      t.diagnostic(`${label.padEnd(72)} |diff|/max ${(d / scale).toExponential(2)} (PyTorch float32 ${gap.toExponential(2)})  max ${scale.toExponential(2)}`);
      if (!(scale > 0)) problems.push(`${label}: the reference attribution is all zero: the comparison would prove nothing`);
      else if (!(d <= tol * scale)) {
        problems.push(`${label}: attribution differs by ${d.toExponential(3)} at ${at}: engine ${out.attribution[at]}, ` +
          `PyTorch (float64) ${ref[at]}, max ${scale.toExponential(3)}; PyTorch float32 is ${gap.toExponential(2)} off`);
      }
    });
    t.diagnostic(`${runs.length} CLI runs, ${checks.length} compared, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(problems.length === 0, `${problems.length} problems:\n  ${problems.join('\n  ')}`);
    assert.equal(checks.length, runs.length, 'not every run was compared');
  });
}
