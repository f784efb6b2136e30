// The explorer when images arrive out of order, and what a pasted image is called. The last image
// asked for wins: a slower earlier request is dropped when it finally arrives. The slow download is
// held by the test (a route that answers only after the later image is on screen), so the order
// is certain on every run.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { greyJpeg, greyPng } from './images.mjs';
import { openPage, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 90000 };

const state = (page) => page.evaluate(() => window.gradcamApp.state());
const statusText = (page) => page.locator('#status').textContent();

async function waitForImage(page, name) {
  await page.waitForFunction((n) => {
    const s = window.gradcamApp.state();
    return s.result && s.result.image.name === n;
  }, name, { timeout: 30000 });
}

describe('explorer loading', { skip: missing || false }, () => {
  const site = siteInChromium();
  let p, page, release, slowArrived;

  before(async () => {
    p = await openPage(site.browser, site.origin);
    page = p.page;
    // slow.png answers only when the test lets it go; fast.png at once.
    await page.route(`${site.origin}/slow.png`, async (route) => {
      await new Promise((letGo) => slowArrived(letGo));
      await route.fulfill({ contentType: 'image/png', body: greyPng(40, 30) });
    });
    await page.route(`${site.origin}/fast.png`, (route) => route.fulfill({ contentType: 'image/png', body: greyPng(36, 36) }));
    await page.goto(`${site.origin}/index.html`);
    await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
  });

  // Starts loading slow.png and waits until the route holds its request.
  async function startSlow() {
    const held = new Promise((resolve) => { slowArrived = resolve; });
    await page.evaluate(() => {
      window.__slow = window.gradcamApp.loadImage('slow.png').then(() => 'shown', (e) => `${e.name}: ${e.message}`);
    });
    release = await held;
  }

  // Lets slow.png arrive, waits for its loadImage() to settle, and returns how it settled.
  async function finishSlow() {
    release();
    return page.evaluate(() => window.__slow);
  }

  test('loadImage(slow); loadImage(fast): the fast one stays, the slow one is dropped', T, async () => {
    await startSlow();
    const fast = await page.evaluate(() => window.gradcamApp.loadImage('fast.png').then((r) => r.image.name));
    assert.equal(fast, 'fast.png');
    assert.equal(await finishSlow(), 'AbortError: slow.png: not shown, a later image was requested');
    const s = await state(page);
    assert.equal(s.result.image.name, 'fast.png');
    assert.equal(s.image.name, 'fast.png');
    assert.match(await statusText(page), /^fast\.png: top class/);
  });

  test('a drop, a paste or a sample chosen in the app after a slow load wins too', T, async () => {
    for (const [what, act, name] of [
      ['drop', (bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'dropped.jpg', { type: 'image/jpeg' }));
        document.getElementById('canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, 'dropped.jpg'],
      ['paste', (bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/jpeg' }));
        document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, 'pasted image.jpg'],
    ]) {
      await startSlow();
      await page.evaluate(act, Array.from(greyJpeg(30, 30)));
      await waitForImage(page, name);
      assert.equal(await finishSlow(), 'AbortError: slow.png: not shown, a later image was requested', what);
      assert.equal((await state(page)).image.name, name, `the ${what} stays on screen`);
    }
    // N: the next gallery sample, chosen inside the app.
    await page.evaluate(() => window.gradcamApp.loadSample('cat.jpg'));
    await startSlow();
    await page.keyboard.press('n');
    await waitForImage(page, 'deer.jpg');
    assert.match(await finishSlow(), /^AbortError: /);
    assert.equal((await state(page)).image.name, 'deer.jpg');
  });

  test('a pasted image is called "pasted image.png" in the status, the result and the export', T, async () => {
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));  // as Chromium names clipboard bitmaps
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, Array.from(greyPng(40, 40)));
    await waitForImage(page, 'pasted image.png');
    assert.match(await statusText(page), /^pasted image\.png: top class/);
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.keyboard.press('e')]);
    assert.match(download.suggestedFilename(), /^pasted_image-gradcam-conv2d_8-[a-z]+\.png$/);
    // A copied file keeps its own name.
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'beach.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, Array.from(greyPng(20, 20)));
    await waitForImage(page, 'beach.png');
    assert.deepEqual(p.log.errors, []);
  });
});
