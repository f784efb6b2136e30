// Vision transformers through the JS API (build/site/gradcam.mjs under plain Node): vit_tiny's token
// layers ([1,1+h*w,C], the class token first) and swin_tiny's grids ([1,h,w,C], shifted windows) as
// info lists them, with the grid a map is read on,
// the default layer the CLI's info names, and the maps at it and at an earlier token layer, by a
// gradient method (Grad-CAM) and a gradient-free one (Score-CAM), equal to the CLIs' for the same
// image and options: the wasm CLI's exactly (one engine, one build), the native one's up to float
// rounding. The fixtures are PyTorch's (tools/onnx_fixtures.py, written on demand).
//
//   node --test tests/js/onnx_tokens.test.mjs
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import test from 'node:test';

import { ONNX_FIXTURES, nativeCli, onnxFixtures, requireBuilt, root, run, siteModule, wasmCli } from './support.mjs';

requireBuilt(siteModule);
const { loadEngine } = await import(siteModule);
const manifest = onnxFixtures();
const IMAGE = path.join(root, 'assets/samples/cat.jpg');

// The grid a token layer's map is read on: ViT's [1,1+h*w,C] is h x w x C after the class token,
// Swin's [1,h,w,C] is itself.
function expectedGrid(node) {
  if (node.layout === 'nhwc') return { grid: node.shape.slice(1), class_token: false };
  const side = Math.round(Math.sqrt(node.shape[1] - 1));
  return { grid: [side, side, node.shape[2]], class_token: true };
}
const MODELS = ['vit_tiny', 'swin_tiny'];

// The CLI's explain --json for the same file, image and options as the API call.
function cliExplain(cli, model, entry, layer, method) {
  requireBuilt(cli);
  const args = ['explain', '--model', model, '--image', IMAGE, '--mean', entry.mean.join(','), '--std', entry.std.join(','),
    '--method', method, '--json', ...(layer ? ['--layer', layer] : [])];
  const out = run(cli, args);
  assert.equal(out.status, 0, `${path.basename(cli)} ${args.join(' ')}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

for (const name of MODELS) {
  test(`${name}: info lists the token layers with their grids, and the default layer is the CLI's`, async () => {
    const entry = manifest.models[name];
    const model = path.join(ONNX_FIXTURES, entry.file);
    const engine = await loadEngine({ model, mean: entry.mean, std: entry.std });
    const { info } = engine;
    for (const node of entry.nodes) {
      const layer = info.layers.find((l) => l.name === node.onnx_node);
      assert.ok(layer, `${node.onnx_node} is listed`);
      assert.deepEqual(layer.output, node.shape);
      assert.deepEqual({ grid: layer.grid, class_token: layer.class_token }, expectedGrid(node), node.onnx_node);
    }
    const cliInfo = JSON.parse(run(nativeCli, ['info', '--model', model, '--json']).stdout);
    assert.equal(info.default_layer, entry.default_layer);
    assert.equal(info.default_layer, cliInfo.default_layer);
    assert.deepEqual(info.layers, cliInfo.layers);  // one serialiser: the same description, grids included
    engine.dispose();
  });

  test(`${name}: Grad-CAM and Score-CAM at the default and an earlier token layer equal the CLIs' maps`, async () => {
    const entry = manifest.models[name];
    const gridOf = (layer) => expectedGrid(entry.nodes.find((n) => n.onnx_node === layer)).grid.slice(0, 2);
    const model = path.join(ONNX_FIXTURES, entry.file);
    const engine = await loadEngine({ model, mean: entry.mean, std: entry.std });
    const image = engine.decode(fs.readFileSync(IMAGE));
    const earlier = entry.nodes[0].onnx_node;
    assert.notEqual(earlier, entry.default_layer);
    for (const [layer, method] of [[undefined, 'gradcam'], [earlier, 'gradcam'], [earlier, 'scorecam'], [undefined, 'scorecam']]) {
      const label = `${layer ?? 'default layer'} ${method}`;
      const r = engine.explain(image, { method, ...(layer ? { layer } : {}) });
      assert.equal(r.layer.name, layer ?? entry.default_layer, label);
      assert.deepEqual([r.cam.height, r.cam.width], gridOf(layer ?? entry.default_layer), `${label}: the layer's grid`);
      const max = Math.max(...Array.from(r.cam.data, Math.abs));
      assert.ok(max > 0, `${label}: the map is not zero everywhere`);
      for (const [cli, exact] of [[wasmCli, true], [nativeCli, false]]) {
        const j = cliExplain(cli, model, entry, layer, method);
        assert.equal(j.layer.name, r.layer.name, label);
        assert.equal(j.target.index, r.target.index, `${label}: the same top class`);
        assert.deepEqual([j.cam.height, j.cam.width], [r.cam.height, r.cam.width], label);
        if (exact) assert.deepEqual(Array.from(r.cam.data), j.cam.values.map(Math.fround), `${label}: wasm CLI`);
        else {
          j.cam.values.forEach((v, i) => assert.ok(Math.abs(v - r.cam.data[i]) <= 1e-3 * max,
            `${label}: native cam[${i}] ${v}, JS API ${r.cam.data[i]}`));
        }
      }
    }
    engine.dispose();
  });
}
