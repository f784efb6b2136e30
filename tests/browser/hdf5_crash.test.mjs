// A damaged .h5 opened in the page (the input that crashes Debian 12's libhdf5 natively, one of
// fuzz_keras's regressions): h5wasm's exception becomes one error in the status line, the page
// keeps the model it had, and the next Keras file opens as usual. One that sends HDF5 into an endless
// loop holds only the reader's worker, which is ended after its time limit; the page goes on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { ROOT, openPage, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };
const crash = fs.readFileSync(path.join(ROOT, 'tests/fuzz/regressions/keras/hdf5-vlen-global-heap-overlap.h5'));
const good = fs.readFileSync(path.join(ROOT, 'tests/fuzz/corpus/keras/whole.h5'));
const loop = fs.readFileSync(path.join(ROOT, 'tests/fuzz/regressions/keras/hdf5-vlen-global-heap-endless-loop.h5'));

describe('a damaged Keras file in the browser', { skip: missing || false }, () => {
  const site = siteInChromium();

  test('the page says what is wrong with it, keeps its model and opens the next file', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const before = await page.evaluate(() => window.gradcamApp.lastResult());

    await page.setInputFiles('#file', { name: 'broken.h5', mimeType: 'application/x-hdf5', buffer: crash });
    await page.waitForFunction(() => /the HDF5 library failed/.test(document.querySelector('#status').textContent), null,
      { timeout: 60000 });
    assert.match(await page.locator('#status').textContent(),
      /^broken\.h5: the HDF5 library failed on this file \(.+\): it is damaged or not a Keras file$/);
    const still = await page.evaluate(() => window.gradcamApp.lastResult());
    assert.equal(still.layer.name, before.layer.name);
    assert.deepEqual(still.probabilities, before.probabilities);

    // whole.h5 of the fuzz corpus: an 8x8 network whose one conv layer is conv2d.
    await page.setInputFiles('#file', { name: 'good.h5', mimeType: 'application/x-hdf5', buffer: good });
    await page.waitForFunction(() => window.gradcamApp.lastResult().layer.name === 'conv2d', null, { timeout: 60000 });
    assert.deepEqual(log.foreign, []);
    // The page's own errors only: h5wasm writes HDF5's diagnostics for the damaged file to the console.
    assert.deepEqual(log.errors.filter((e) => e.startsWith('pageerror')), []);
  });

  test('a file that sends HDF5 into an endless loop is given up after the time limit; the page stays usable', T, async () => {
    const { page, log } = await openPage(site.browser, site.origin);
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    const before = await page.evaluate(() => window.gradcamApp.lastResult());

    // The time limit shortened from 60 s to 2 s through loadModel's option.
    const pending = page.evaluate((data) => window.gradcamApp.loadModel(new File([new Uint8Array(data)], 'loop.h5'), undefined,
      { hdf5Timeout: 2 }).then(() => 'loaded', (e) => e.message), Array.from(loop));
    // While HDF5 loops in the worker, the page's own thread answers.
    await page.waitForFunction(() => /^Reading loop\.h5/.test(document.querySelector('#status').textContent), null, { timeout: 30000 });
    assert.equal(await page.evaluate(() => 6 * 7), 42);
    const message = await pending;
    assert.equal(message, 'loop.h5: reading this HDF5 file did not finish within 2 s: it is damaged or not a Keras file');
    assert.equal(await page.locator('#status').textContent(), message);

    // The shipped model still explains: the same sample, the same answer.
    const again = await page.evaluate((name) => window.gradcamApp.loadSample(name), before.image.name);
    assert.equal(again.layer.name, before.layer.name);
    assert.deepEqual(again.probabilities, before.probabilities);
    assert.deepEqual(log.foreign, []);
    assert.deepEqual(log.errors, []);
  });
});
