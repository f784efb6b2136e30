// Big torchvision models in the page and the widget (part of the whole zoo's command, `ctest
// --preset zoo`: ctest's onnx_zoo_page, label "zoo"; not named *.test.mjs, so the default run's
// `node --test tests/browser/` leaves it out: the exports take minutes and gigabytes). Each model,
// exported by tools/onnx_zoo.py as the zoo test exports it, is dropped on the page with its
// normalisation and a PNG (the browser's decoder and the CLI's read the same pixels): the page's
// default layer is the engine's, its top class and map are the wasm CLI's bit for bit (one engine:
// the page is served as tools/serve.mjs serves it, cross-origin isolated, so the threaded app runs,
// whose maps equal the single-threaded ones: threads.test.mjs), and the heat map is drawn. ViT-B/16 and Swin-T are also drawn by the <gradcam-view> widget, with the
// CLI's top class. The exports' maps against PyTorch are the zoo test's (onnx_zoo.test.mjs).
//
//   node --test tests/browser/zoo_page.mjs
//   GRADCAM_ZOO_PAGE=densenet201 node --test tests/browser/zoo_page.mjs
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { encodePng, requireBuilt, run, testPixels, wasmCli } from '../js/support.mjs';
import { exportZoo, ZOO_DIR } from '../js/onnx_zoo.mjs';
import { canvasStats } from './widget_pixels.mjs';
import { explainDroppedOnnx, launchBrowser, openPage, routeWidgetPage, SITE, siteMissing, startServer, tmpdir } from './support.mjs';

// The deepest DenseNet, the largest EfficientNet, the transformers, and VGG-16, which most
// Grad-CAM tutorials use (the page's model limit is 640 MB: page.js).
const PAGE_MODELS = (process.env.GRADCAM_ZOO_PAGE ?? 'densenet201,efficientnet_b7,vit_b_16,swin_t,vgg16').split(',');
const WIDGET_MODELS = ['vit_b_16', 'swin_t'].filter((m) => PAGE_MODELS.includes(m));
const T = { timeout: 600000 };

const missing = siteMissing();
const waitFor = (page, fn, arg) => page.waitForFunction(fn, arg, { timeout: 300000 });

describe('big torchvision models in the page and the widget', { skip: missing || false }, () => {
  // The site and the models served by tools/serve.mjs from one folder of links (build/site's
  // entries, and mine/ with the exports and the PNG): Playwright's route.fulfill cannot hand a
  // page a file of this size (the page closes).
  const dir = tmpdir();
  const png = path.join(dir, 'pattern.png');
  fs.writeFileSync(png, encodePng(testPixels(160, 120, 5)));
  const site = { server: null, origin: null, browser: null };
  let manifest;
  const entry = (name) => {
    manifest ??= exportZoo(PAGE_MODELS);
    const e = manifest.models[name];
    assert.equal(e?.status, 'exported', `${name}: ${e?.status}`);
    return e;
  };
  before(async () => {
    const root = path.join(dir, 'site');
    fs.mkdirSync(path.join(root, 'mine'), { recursive: true });
    for (const f of fs.readdirSync(SITE)) fs.symlinkSync(path.join(SITE, f), path.join(root, f));
    fs.symlinkSync(png, path.join(root, 'mine/pattern.png'));
    for (const name of PAGE_MODELS) fs.symlinkSync(path.join(ZOO_DIR, entry(name).file), path.join(root, `mine/${name}.onnx`));
    site.server = await startServer(root);
    site.origin = site.server.origin;
    site.browser = await launchBrowser();
  });
  after(async () => {
    await site.browser?.close();
    await site.server?.close();
  });
  const wasmExplain = (name) => {
    requireBuilt(wasmCli);
    const e = entry(name);
    const out = run(wasmCli, ['explain', '--model', path.join(ZOO_DIR, e.file), '--image', png,
      '--mean', e.mean.join(','), '--std', e.std.join(','), '--json']);
    assert.equal(out.status, 0, out.stderr);
    return JSON.parse(out.stdout);
  };

  for (const name of PAGE_MODELS) {
    test(`${name}: dropped on the page, its map at the default layer is the wasm CLI's`, T, async () => {
      const e = entry(name);
      const cli = wasmExplain(name);
      const { context, page, log } = await openPage(site.browser, site.origin);
      await explainDroppedOnnx(page, site.origin, name, { mean: e.mean, std: e.std }, 300000);
      const s = await page.evaluate(() => window.gradcamApp.state());
      assert.equal(s.model.default_layer, cli.layer.name);
      assert.equal(s.result.layer.name, cli.layer.name);
      assert.equal(s.result.top[0].index, cli.top[0].index);
      const map = await page.evaluate(() => { const m = window.gradcamApp.map(); return { ...m, values: Array.from(m.values) }; });
      assert.deepEqual([map.height, map.width], [cli.cam.height, cli.cam.width]);
      assert.ok(cli.cam.values.some((v) => v !== 0), 'the CLI\'s map is not zero everywhere');
      assert.deepEqual(map.values, cli.cam.values.map(Math.fround), 'the page\'s map is the wasm CLI\'s');
      const pixels = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(32, 32)));
      assert.ok(pixels.some((v, i) => i % 4 !== 3 && v > 0), 'the heat map is drawn');
      assert.deepEqual(log.foreign, []);
      assert.deepEqual(log.errors, []);
      await context.close();
    });
  }

  if (WIDGET_MODELS.length) {
    test(`the widget draws ${WIDGET_MODELS.join(' and ')} at their default layers, with the wasm CLI's top class`, T, async () => {
      const { context, page, log } = await openPage(site.browser, site.origin);
      const views = WIDGET_MODELS.map((m) => {
        const e = entry(m);
        return `<gradcam-view id="${m}" src="mine/pattern.png" model="mine/${m}.onnx" mean="${e.mean}" std="${e.std}" style="width:240px"></gradcam-view>`;
      });
      await routeWidgetPage(page, site.origin, 'zoo.html', views);
      await page.goto(`${site.origin}/zoo.html`);
      await waitFor(page, (ids) => ids.every((id) => document.getElementById(id).result), WIDGET_MODELS);
      for (const name of WIDGET_MODELS) {
        const cli = wasmExplain(name);
        const result = await page.evaluate((id) => document.getElementById(id).result, name);
        assert.equal(result.layer, cli.layer.name, name);
        assert.equal(result.top[0].name, cli.top[0].name, name);
        const stats = await canvasStats(page, `#${name}`);
        assert.ok(stats.heat > 0.05, `${name}: the heat map shows (${stats.heat})`);
      }
      assert.deepEqual(log.foreign, []);
      assert.deepEqual(log.errors, []);
      await context.close();
    });
  }
});
