// A person's ONNX model in the browser: dropped on the explorer it becomes the model, the panel's
// ImageNet preset normalises its input, a dropped labels file names its classes; a corrupt file, an
// unsupported op and a file over the page's limit each give one clear error and the previous model
// stays. The widget takes model="....onnx" with mean, std and labels attributes. Vision
// transformers (vit_tiny's token layers, swin_tiny's [1,h,w,C] grids) explain in the page and the
// widget at the layer the CLI's info names, with the native CLI's top class and map. Real files (the
// PyTorch-exported fixtures, written on demand as the Node tests do), the real engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { ONNX_FIXTURES, PYTHON, encodePng, nativeCli, onnxFixtures, requireBuilt, run, testPixels } from '../js/support.mjs';
import { canvasStats } from './widget_pixels.mjs';
import { ROOT, dropFile, explainDroppedOnnx, openPage, routeWidgetPage, siteInChromium, siteMissing, tmpdir } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };
const PHOTO = path.join(ROOT, 'assets/samples/airplane.jpg');
const LABELS = Array.from({ length: 10 }, (_, i) => `kind ${i}`);
const TRANSFORMERS = ['vit_tiny', 'swin_tiny'];

// An ONNX model with an op the engine does not read (Sin), written with the onnx module.
function unsupportedOpModel(file) {
  const script = `
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto as T
w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="/conv/Conv", pads=[1, 1, 1, 1]),
         helper.make_node("Sin", ["c"], ["s"], name="/sin/Sin"),
         helper.make_node("GlobalAveragePool", ["s"], ["p"], name="/pool/GlobalAveragePool"),
         helper.make_node("Flatten", ["p"], ["logits"], name="/flatten/Flatten")]
g = helper.make_graph(nodes, "sin", [helper.make_tensor_value_info("input", T.FLOAT, [1, 3, 8, 8])],
                      [helper.make_tensor_value_info("logits", T.FLOAT, [1, 4])], [w])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
`;
  const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`writing ${file} needs ${PYTHON} with onnx (python3-onnx): ${r.stderr}`);
  return fs.readFileSync(file);
}

const state = (page) => page.evaluate(() => window.gradcamApp.state());
const statusText = (page) => page.locator('#status').textContent();
const waitFor = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 60000 });

describe('ONNX models in the browser', { skip: missing || false }, () => {
  const site = siteInChromium();
  let files, manifest, pngFile;

  before(async () => {
    manifest = onnxFixtures();
    const dir = tmpdir();
    const allops = fs.readFileSync(path.join(ONNX_FIXTURES, manifest.models.allops.file));
    // A PNG, so the browser's decoder and the CLI's read the same pixels.
    pngFile = path.join(dir, 'pattern.png');
    fs.writeFileSync(pngFile, encodePng(testPixels(96, 80, 3)));
    files = {
      ...Object.fromEntries(TRANSFORMERS.map((m) => [`${m}.onnx`, fs.readFileSync(path.join(ONNX_FIXTURES, manifest.models[m].file))])),
      'pattern.png': fs.readFileSync(pngFile),
      'allops.onnx': allops,
      'corrupt.onnx': allops.subarray(0, Math.floor(allops.length / 2)),
      'sin.onnx': unsupportedOpModel(path.join(dir, 'sin.onnx')),
      'photo.jpg': fs.readFileSync(PHOTO),
      'labels.txt': Buffer.from(`${LABELS.join('\n')}\n`),
    };
  });

  const serveMine = async (page) => {
    for (const [name, body] of Object.entries(files)) {
      await page.route(`${site.origin}/mine/${name}`, (route) => route.fulfill({ body }));
    }
  };

  test('a dropped .onnx is the model; with the ImageNet preset and a dropped photo the map is at an ONNX node', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await serveMine(page);
    await page.goto(`${site.origin}/index.html`);
    await waitFor(page, () => window.gradcamApp && window.gradcamApp.lastResult());
    assert.equal(await page.locator('#labels-choice').isHidden(), true, 'no labels input for the model file');

    await dropFile(page, 'mine/allops.onnx', 'allops.onnx');
    await waitFor(page, () => window.gradcamApp.state().model_name === 'allops.onnx');
    await dropFile(page, 'mine/photo.jpg', 'photo.jpg');
    await waitFor(page, () => (window.gradcamApp.lastResult() || {}).image?.name === 'photo.jpg');
    await waitFor(page, () => window.gradcamApp.state().idle);  // drawn: the controls are where the state says
    let s = await state(page);
    assert.equal(s.model.format, 'onnx');
    assert.equal(s.normalization, '[0,1]');  // the file says nothing: pixels in [0,1] until told
    assert.equal(await page.locator('#labels-choice').isHidden(), false);

    // The panel's ImageNet preset, clicked where the app drew it.
    const preset = s.layout.controls.find((c) => c.label.startsWith('Normalisation: ImageNet'));
    assert.ok(preset, 'the ONNX panel draws the ImageNet preset');
    const count = s.explain_count;
    await page.mouse.click(preset.x + preset.width / 2, preset.y + preset.height / 2);
    await waitFor(page, (n) => window.gradcamApp.state().explain_count > n, count);
    s = await state(page);
    assert.equal(s.normalization, 'ImageNet');
    assert.deepEqual(s.model.input.mean, [0.485, 0.456, 0.406].map(Math.fround));
    assert.ok(s.model.explainable.includes(s.result.layer.name), `${s.result.layer.name} is an ONNX node`);
    assert.ok(s.result.layer.name.startsWith('/'));
    assert.equal(s.result.image.name, 'photo.jpg');
    assert.ok(s.layout.controls.some((c) => c.label.startsWith(`Layer: ${s.result.layer.name}`)));
    const pixels = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(32, 32)));
    assert.ok(!s.result.cam.flat, 'the map has non-zero values');
    assert.ok(pixels.some((v, i) => i % 4 !== 3 && v > 0));
    assert.equal(s.result.top[0].name, String(s.result.top[0].index));  // numbered until labels come

    // A dropped labels file names the classes.
    await dropFile(page, 'mine/labels.txt', 'labels.txt');
    await waitFor(page, () => window.gradcamApp.state().labels === 'labels.txt');
    s = await state(page);
    assert.deepEqual(s.model.classes, LABELS);
    assert.equal(s.result.top[0].name, LABELS[s.result.top[0].index]);
    assert.ok((await statusText(page)).includes(LABELS[s.result.top[0].index]));
    assert.equal(s.normalization, 'ImageNet');  // labels keep the normalisation

    // The scripting hook: the [-1,1] preset's values, and a wrong label count.
    await page.evaluate(() => window.gradcamApp.setModelOptions({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }));
    assert.equal((await state(page)).normalization, '[-1,1]');
    const wrong = await page.evaluate(() => window.gradcamApp.setModelOptions({ labels: ['a', 'b'] }).then(() => 'ok', (e) => e.message));
    assert.equal(wrong, 'the labels name 2 classes, the model has 10');
    assert.deepEqual((await state(page)).model.classes, LABELS);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('a corrupt .onnx, an unsupported op and a file over the limit give one clear error; the model stays', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await serveMine(page);
    await page.goto(`${site.origin}/index.html`);
    await waitFor(page, () => window.gradcamApp && window.gradcamApp.lastResult());
    await page.evaluate(() => window.gradcamApp.loadModel('mine/allops.onnx'));
    const before = await state(page);
    assert.equal(before.model_name, 'allops.onnx');

    const expectError = async (name, drive, pattern) => {
      const count = (await state(page)).explain_count;
      await drive();
      await waitFor(page, () => window.gradcamApp.state().error);
      const text = await statusText(page);
      assert.match(text, pattern, name);
      assert.ok(!text.includes('\n'), `${name}: one line`);
      const s = await state(page);
      assert.equal(s.model_name, 'allops.onnx', `${name}: the previous model stays`);
      // Still usable: a sample is explained with it.
      await page.evaluate(() => window.gradcamApp.loadSample('dog.jpg'));
      const after = await state(page);
      assert.ok(after.explain_count > count && !after.error, `${name}: the model still explains`);
      assert.equal(after.result.layer.name, before.result.layer.name);
    };
    await expectError('corrupt.onnx', () => dropFile(page, 'mine/corrupt.onnx', 'corrupt.onnx'), /^corrupt\.onnx: /);
    await expectError('sin.onnx', () => dropFile(page, 'mine/sin.onnx', 'sin.onnx'), /^sin\.onnx: .*Sin/);
    await expectError('huge.onnx', () => page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(641 * 1024 * 1024)], 'huge.onnx'));
      document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }), /^huge\.onnx is 641 MB; files over 640 MB are not read$/);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('the widget takes model="....onnx" with mean, std and labels; a bad mean is an error in the widget', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await serveMine(page);
    await routeWidgetPage(page, site.origin, 'onnx.html', [
      '<gradcam-view id="good" src="mine/photo.jpg" model="mine/allops.onnx" mean="0.5,0.5,0.5" std="0.5, 0.5, 0.5" labels="mine/labels.txt" style="width:240px"></gradcam-view>',
      '<gradcam-view id="bad" src="mine/photo.jpg" model="mine/allops.onnx" mean="0.5,0.5" std="0.5,0.5,0.5" style="width:240px"></gradcam-view>',
    ]);
    await page.goto(`${site.origin}/onnx.html`);
    await waitFor(page, () => document.getElementById('good').result &&
      document.getElementById('bad').shadowRoot.querySelector('.caption.error'));
    const good = await page.evaluate(() => document.getElementById('good').result);
    assert.ok(good.layer.startsWith('/'), `${good.layer} is an ONNX node`);
    assert.ok(LABELS.includes(good.top[0].name));
    const stats = await canvasStats(page, '#good');
    assert.ok(stats.heat > 0.05, `the heat map shows (${stats.heat})`);
    const bad = await page.evaluate(() => {
      const w = document.getElementById('bad');
      return { result: w.result, caption: w.shadowRoot.querySelector('.caption').textContent };
    });
    assert.equal(bad.result, null);
    assert.equal(bad.caption, "gradcam-view: mean and std need 3 values each (R,G,B: every model's input is RGB), got 2 and 3");
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });
  // The native CLI's explanation of the PNG at the model's default layer, with the fixture's
  // normalisation: what the page and the widget must show.
  const nativeExplain = (name) => {
    requireBuilt(nativeCli);
    const entry = manifest.models[name];
    const out = run(nativeCli, ['explain', '--model', path.join(ONNX_FIXTURES, entry.file), '--image', pngFile,
      '--mean', entry.mean.join(','), '--std', entry.std.join(','), '--json']);
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout);
  };

  for (const name of TRANSFORMERS) {
    test(`${name}: dropped on the page, its token layers are listed and the map at the default layer is the CLI's`, T, async () => {
      const entry = manifest.models[name];
      const cli = nativeExplain(name);
      assert.equal(cli.layer.name, entry.default_layer);
      const { page, log } = await openPage(site.browser, site.origin);
      await serveMine(page);
      await explainDroppedOnnx(page, site.origin, name, { mean: entry.mean, std: entry.std });
      const s = await state(page);

      // The layer list: every manifest node with the grid its map is read on; the default is info's.
      for (const node of entry.nodes) {
        const layer = s.model.layers.find((l) => l.name === node.onnx_node);
        assert.ok(layer, `${node.onnx_node} is listed`);
        const side = Math.round(Math.sqrt(node.shape[1] - 1));  // tokens: [1,1+h*w,C]; nhwc: [1,h,w,C]
        const grid = node.layout === 'tokens' ? [side, side, node.shape[2]] : node.shape.slice(1);
        assert.deepEqual(layer.grid, grid, node.onnx_node);
      }
      assert.equal(s.model.default_layer, entry.default_layer);
      assert.equal(s.options.layer, entry.default_layer);
      assert.equal(s.result.layer.name, entry.default_layer);
      const grid = s.model.layers.find((l) => l.name === entry.default_layer).grid;
      assert.ok(s.layout.controls.some((c) => c.label.startsWith(`Layer: ${entry.default_layer}  (${grid.join('\u00d7')})`)),
        `the layer control shows the grid: ${s.layout.controls.map((c) => c.label).join(' | ')}`);

      // The answer and the map: the native CLI's, up to float rounding.
      assert.equal(s.result.top[0].index, cli.top[0].index);
      assert.ok(s.status.includes(cli.top[0].name), `status "${s.status}" names ${cli.top[0].name}`);
      const map = await page.evaluate(() => { const m = window.gradcamApp.map(); return { ...m, values: Array.from(m.values) }; });
      assert.deepEqual([map.height, map.width], [cli.cam.height, cli.cam.width]);
      const max = Math.max(...cli.cam.values.map(Math.abs));
      assert.ok(max > 0, 'the CLI\'s map is not zero everywhere');
      cli.cam.values.forEach((v, i) => assert.ok(Math.abs(v - map.values[i]) <= 1e-3 * max, `cam[${i}]: page ${map.values[i]}, CLI ${v}`));
      const pixels = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(32, 32)));
      assert.ok(pixels.some((v, i) => i % 4 !== 3 && v > 0), 'the heat map is drawn');
      assert.deepEqual(log.foreign, []);
      assert.deepEqual(log.errors, []);
    });
  }

  test('the widget draws vit_tiny\'s and swin_tiny\'s maps at their default layers, with the CLI\'s top class', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await serveMine(page);
    const views = TRANSFORMERS.map((m) => {
      const e = manifest.models[m];
      return `<gradcam-view id="${m}" src="mine/pattern.png" model="mine/${m}.onnx" mean="${e.mean}" std="${e.std}" style="width:240px"></gradcam-view>`;
    });
    await routeWidgetPage(page, site.origin, 'transformers.html', views);
    await page.goto(`${site.origin}/transformers.html`);
    await waitFor(page, (ids) => ids.every((id) => document.getElementById(id).result), TRANSFORMERS);
    for (const name of TRANSFORMERS) {
      const cli = nativeExplain(name);
      const result = await page.evaluate((id) => document.getElementById(id).result, name);
      assert.equal(result.layer, manifest.models[name].default_layer, name);
      assert.equal(result.top[0].name, cli.top[0].name, name);
      const stats = await canvasStats(page, `#${name}`);
      assert.ok(stats.heat > 0.05, `${name}: the heat map shows (${stats.heat})`);
    }
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });
});
