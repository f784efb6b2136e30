// A TF.js layers model in the browser: the explorer takes model.json with its .bin files together
// (opened or dropped, or their folder dropped from disk), or a zipped folder (deflated, as zip tools write it; a Teachable Machine
// export's, stored, with its labels and scale), and the widget takes
// model=".../model.json", reading the shards beside it; each predicts as the native CLI on the same
// image. The files are written by tests/fixtures/tfjs_fixtures.py (tfjs-converter's layout).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';

import { ROOT, SITE, openPage, siteInChromium, siteMissing, tmpdir } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'";
const NATIVE = path.join(ROOT, 'build/native/gradcam');

describe('TF.js models in the browser', { skip: missing || false }, () => {
  const site = siteInChromium();
  let dir;
  const folderFiles = (folder) => fs.readdirSync(path.join(dir, folder)).sort()
    .map((name) => ({ name, mimeType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream', buffer: fs.readFileSync(path.join(dir, folder, name)) }));
  // The native CLI's probabilities for a sample image of the site.
  const nativeProbabilities = (folder, sample) => {
    const r = spawnSync(NATIVE, ['explain', '--model', path.join(dir, folder, 'model.json'), '--image', path.join(SITE, 'samples', sample), '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).probabilities;
  };
  const assertClose = (a, b, what) => {
    assert.equal(a.length, b.length, what);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5, `${what}: class ${i}: ${a[i]} vs ${b[i]}`);
  };

  before(async () => {
    dir = tmpdir();
    const r = spawnSync('/usr/bin/python3', [path.join(ROOT, 'tests/fixtures/tfjs_fixtures.py'), dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tfjs_fixtures.py failed: ${r.stderr}`);
  });

  test('the explorer takes model.json with its shards (opened or dropped) or a zip of them, and names a missing shard', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/mine/cnn-uint16.zip`, (route) => route.fulfill({ body: fs.readFileSync(path.join(dir, 'cnn-uint16.zip')) }));
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const sample = (await page.evaluate(() => window.gradcamApp.lastResult())).image.name;

    // Opened together in the file input: model.json and its three shards.
    await page.setInputFiles('#file', folderFiles('cnn-uint16'));
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'conv2d_1', null, { timeout: 60000 });
    const opened = await page.evaluate(() => window.gradcamApp.lastResult());
    assert.equal(opened.image.name, sample);
    assertClose(opened.probabilities, nativeProbabilities('cnn-uint16', sample), 'opened');
    assert.deepEqual((await page.evaluate(() => window.gradcamApp.info.classes)), ['class_0', 'class_1', 'class_2', 'class_3']);

    // Dropped together: the float32 model's files.
    const files = folderFiles('cnn-float32').map((f) => ({ name: f.name, data: Array.from(f.buffer) }));
    await page.evaluate((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([new Uint8Array(f.data)], f.name));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, files);
    const expected = nativeProbabilities('cnn-float32', sample);
    await page.waitForFunction((p) => Math.abs(window.gradcamApp.lastResult().probabilities[0] - p) < 1e-5, expected[0], { timeout: 60000 });
    assertClose((await page.evaluate(() => window.gradcamApp.lastResult())).probabilities, expected, 'dropped');

    // A zip of the folder, deflated: the same model as the opened files.
    await page.evaluate(() => window.gradcamApp.loadModel('mine/cnn-uint16.zip'));
    assert.deepEqual((await page.evaluate(() => window.gradcamApp.lastResult())).probabilities, opened.probabilities);

    // model.json alone: the status names the shard it needs, and the model stays.
    const message = await page.evaluate((text) => window.gradcamApp.loadModel(new File([text], 'model.json')).then(() => 'loaded', (e) => e.message),
      fs.readFileSync(path.join(dir, 'cnn-float32', 'model.json'), 'utf8'));
    assert.equal(message, 'model.json: weight file group1-shard1of1.bin is missing (hand over model.json with its .bin files together)');
    assert.equal(await page.locator('#status').textContent(), message);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('a Teachable Machine export, dropped as its zip, loads in the explorer with its labels and scale and no input panel', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const sample = (await page.evaluate(() => window.gradcamApp.lastResult())).image.name;
    await page.evaluate((data) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], 'my-model.zip', { type: 'application/zip' }));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, Array.from(fs.readFileSync(path.join(dir, 'tm.zip'))));
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'out_relu', null, { timeout: 60000 });
    const info = await page.evaluate(() => window.gradcamApp.info);
    assert.deepEqual(info.classes, ['Cat', 'Dog', 'Other']);
    assert.equal(info.asks_for_input_options, false);
    assert.equal(await page.locator('#labels-choice').isHidden(), true);
    assertClose((await page.evaluate(() => window.gradcamApp.lastResult())).probabilities, nativeProbabilities('tm', sample), 'tm');
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('a folder dropped from disk (a real directory entry, read through webkitGetAsEntry) loads as its model', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const sample = (await page.evaluate(() => window.gradcamApp.lastResult())).image.name;
    // Chromium's own drag and drop of a path on disk, as a file manager hands it over: DevTools'
    // Input.dispatchDragEvent with the folder's path. The page gets a DataTransfer whose one item is a
    // directory entry, as from a real drag (a DataTransfer built in the page cannot hold one).
    const cdp = await page.context().newCDPSession(page);
    const data = { items: [], files: [path.join(dir, 'tm')], dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, x: 200, y: 200, data });
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'out_relu', null, { timeout: 60000 });
    // The folder's metadata.json came along: Teachable Machine's labels.
    assert.deepEqual(await page.evaluate(() => window.gradcamApp.info.classes), ['Cat', 'Dog', 'Other']);
    assertClose((await page.evaluate(() => window.gradcamApp.lastResult())).probabilities, nativeProbabilities('tm', sample), 'folder');
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });

  test('the widget takes model=".../model.json" and reads its shards beside it', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/tfjs.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body>
<gradcam-view id="a" src="samples/cat.jpg" model="mine/cnn/model.json" style="width:200px;height:200px"></gradcam-view>
</body></html>`,
    }));
    await page.route(`${site.origin}/mine/cnn/*`, (route) => {
      const file = path.join(dir, 'cnn-uint16', path.basename(new URL(route.request().url()).pathname));
      return fs.existsSync(file) ? route.fulfill({ body: fs.readFileSync(file) }) : route.fulfill({ status: 404, body: '' });
    });
    await page.goto(`${site.origin}/tfjs.html`);
    await page.waitForFunction(() => document.getElementById('a').result, null, { timeout: 60000 });
    const a = await page.evaluate(() => document.getElementById('a').result);
    assert.equal(a.layer, 'conv2d_1');
    const expected = nativeProbabilities('cnn-uint16', 'cat.jpg');
    const best = expected.indexOf(Math.max(...expected));
    assert.equal(a.top[0].name, `class_${best}`);
    assert.ok(Math.abs(a.top[0].probability - expected[best]) <= 1e-5);
    assert.ok(log.requests.some((u) => u.endsWith('/mine/cnn/group1-shard3of3.bin')));
    assert.deepEqual(log.foreign, []);
    // A converter's model.json has no metadata.json beside it: none is asked for, so no 404 in the console.
    assert.deepEqual(log.errors, []);
    assert.ok(!log.requests.some((u) => u.endsWith('/metadata.json')), log.requests.join(' '));
  });

  test('the widget reads a Teachable Machine export\'s metadata.json beside its model.json, for its labels', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.route(`${site.origin}/tm.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body>
<gradcam-view id="a" src="samples/cat.jpg" model="mine/tm/model.json" style="width:200px;height:200px"></gradcam-view>
</body></html>`,
    }));
    await page.route(`${site.origin}/mine/tm/*`, (route) => {
      const file = path.join(dir, 'tm', path.basename(new URL(route.request().url()).pathname));
      return fs.existsSync(file) ? route.fulfill({ body: fs.readFileSync(file) }) : route.fulfill({ status: 404, body: '' });
    });
    await page.goto(`${site.origin}/tm.html`);
    await page.waitForFunction(() => document.getElementById('a').result, null, { timeout: 60000 });
    const a = await page.evaluate(() => document.getElementById('a').result);
    assert.ok(['Cat', 'Dog', 'Other'].includes(a.top[0].name), a.top[0].name);
    assert.ok(log.requests.some((u) => u.endsWith('/mine/tm/metadata.json')));
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });
});
