// A person's own Keras model in the browser: the explorer takes an opened .h5 as its model and
// explains the image with it, the widget takes model="....h5", both through h5wasm served by the
// site under the page's CSP (no request leaves the origin). The files are written by
// tests/fixtures/keras_fixtures.py (Keras's layouts, the shipped model's weights).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { ROOT, openPage, siteInChromium, siteMissing, tmpdir } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'";

describe('Keras models in the browser', { skip: missing || false }, () => {
  const site = siteInChromium();
  let dir;
  const keras = (name) => fs.readFileSync(path.join(dir, name));

  before(async () => {
    dir = tmpdir();
    const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'tests/fixtures/keras_fixtures.py'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keras_fixtures.py failed (install python3-h5py): ${r.stderr}`);
  });

  test('the explorer takes an opened whole-model .h5 as its model and explains the image with it', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/mine/mismatch.h5`, (route) => route.fulfill({ body: keras('mismatch.h5') }));
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const before = await page.evaluate(() => window.gradcamApp.lastResult());
    assert.equal(before.layer.name, 'conv2d_8');

    // As a person opens it: the file input (a drop takes the same path).
    await page.setInputFiles('#file', { name: 'model.h5', mimeType: 'application/x-hdf5', buffer: keras('whole.h5') });
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'conv2d_17', null, { timeout: 60000 });
    const mine = await page.evaluate(() => window.gradcamApp.lastResult());
    assert.deepEqual(mine.probabilities, before.probabilities);  // the same weights under re-run names
    assert.equal(mine.image.name, before.image.name);
    assert.ok(log.requests.some((u) => u.endsWith('/h5wasm/hdf5_hl.js')));

    // A file of another network: the status says which layer and which shapes.
    const message = await page.evaluate(() => window.gradcamApp.loadModel('mine/mismatch.h5').then(() => 'loaded', (e) => e.message));
    assert.equal(message, 'mismatch.h5: layer conv2d_3 kernel has shape [3,3,32,64], expected [3,3,64,64]');
    assert.equal(await page.locator('#status').textContent(), message);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('a Keras Applications network (Xception-shaped) explains by its Keras layer names in the explorer and the widget', T, async () => {
    // tests/fixtures/keras_apps.py: the same network and weights as a Keras 2 .h5 and a Keras 3 .keras;
    // tests/js/keras_apps.test.mjs checks the engine's maps on them against TF.js.
    const apps = tmpdir();
    const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'tests/fixtures/keras_apps.py'), apps], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keras_apps.py failed (install python3-h5py): ${r.stderr}`);
    const app = (name) => fs.readFileSync(path.join(apps, name));
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/apps.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body>
<gradcam-view id="k2" src="samples/cat.jpg" model="mine/xception.h5" layer="block5_sepconv2_act" style="width:200px;height:200px"></gradcam-view>
<gradcam-view id="k3" src="samples/cat.jpg" model="mine/xception.keras" layer="block5_sepconv2_act" style="width:200px;height:200px"></gradcam-view>
</body></html>`,
    }));
    for (const name of ['xception.h5', 'xception.keras']) {
      await page.route(`${site.origin}/mine/${name}`, (route) => route.fulfill({ body: app(name) }));
    }
    await page.goto(`${site.origin}/apps.html`);
    await page.waitForFunction(() => ['k2', 'k3'].every((id) => document.getElementById(id).result), null, { timeout: 60000 });
    const [k2, k3] = await page.evaluate(() => ['k2', 'k3'].map((id) => document.getElementById(id).result));
    assert.equal(k2.layer, 'block5_sepconv2_act');
    assert.equal(k3.layer, 'block5_sepconv2_act');
    assert.deepEqual(k3.top, k2.top);  // one network, two layouts
    assert.deepEqual(log.errors, []);

    // The explorer: an opened .keras becomes its model, explained at keras.io's layer by default.
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    await page.setInputFiles('#file', { name: 'xception.keras', mimeType: 'application/zip', buffer: app('xception.keras') });
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'block14_sepconv2_act', null, { timeout: 60000 });
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('the widget takes model="....h5" or "....keras" and predicts as with the model file', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/keras.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body>
<gradcam-view id="a" src="samples/cat.jpg" style="width:200px;height:200px"></gradcam-view>
<gradcam-view id="b" src="samples/cat.jpg" model="mine/model.weights.h5" layer="conv2d_6" style="width:200px;height:200px"></gradcam-view>
<gradcam-view id="c" src="samples/cat.jpg" model="mine/model.keras" style="width:200px;height:200px"></gradcam-view>
</body></html>`,
    }));
    await page.route(`${site.origin}/mine/model.weights.h5`, (route) => route.fulfill({ body: keras('model.weights.h5') }));
    await page.route(`${site.origin}/mine/model.keras`, (route) => route.fulfill({ body: keras('model.keras') }));
    await page.goto(`${site.origin}/keras.html`);
    await page.waitForFunction(() => ['a', 'b', 'c'].every((id) => document.getElementById(id).result), null, { timeout: 60000 });
    const [a, b, c] = await page.evaluate(() => ['a', 'b', 'c'].map((id) => document.getElementById(id).result));
    assert.equal(b.layer, 'conv2d_6');
    assert.deepEqual(b.top, a.top);
    assert.deepEqual(c.top, a.top);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });
});
