// The explorer with the keyboard alone: Tab and Shift+Tab move through the page's real elements
// and through the controls that Dear ImGui draws in the canvas, and out again; Escape leaves the
// canvas; Space and the arrows use the drawn controls. What a screen reader hears of the focused
// control is the #focused live region, which is what these tests read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { openPage, screenshot, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 90000 };

const focus = (page) => page.evaluate(() => ({
  element: document.activeElement.id || document.activeElement.tagName.toLowerCase(),
  label: document.getElementById('focused').textContent,
}));

// Presses a key and waits until the app has drawn two more frames: the first one acts on it.
async function pressInApp(page, key) {
  const frames = await page.evaluate(() => window.gradcamApp.state().frames);
  await page.keyboard.press(key);
  await page.waitForFunction((f) => window.gradcamApp.state().frames >= f + 2, frames, { timeout: 10000 });
}

// Tab (or Shift+Tab) and wait until the focus is somewhere else: another element or another control.
async function tab(page, key = 'Tab') {
  const before0 = await focus(page);
  await page.keyboard.press(key);
  // On the canvas, the label names the drawn control only once the app has drawn a frame with the
  // new focus: wait for it rather than read the empty label of the moment focus arrives.
  await page.waitForFunction(([element, label]) => {
    const el = document.activeElement.id || document.activeElement.tagName.toLowerCase();
    const now = document.getElementById('focused').textContent;
    if (el === 'canvas') return now !== '' && (element !== 'canvas' || now !== label);
    return el !== element;
  }, [before0.element, before0.label], { timeout: 10000 });
  return focus(page);
}

async function tabTo(page, prefix) {
  for (let i = 0; i < 60; i++) {
    const f = await tab(page);
    if (f.element === 'canvas' && f.label.startsWith(prefix)) return f;
  }
  throw new Error(`no control labelled "${prefix}..." in the tab order`);
}

describe('explorer by keyboard', { skip: missing || false }, () => {
  const site = siteInChromium();
  let p;

  // A fresh page for each test: focus starts at the top of the page.
  async function fresh() {
    p = await openPage(site.browser, site.origin, { viewport: { width: 800, height: 600 } });  // cheaper frames
    await p.page.goto(`${site.origin}/index.html`);
    await p.page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
    return p.page;
  }

  test('Tab and Shift+Tab go through the page and every drawn control, and out again', T, async () => {
    const page = await fresh();
    try {
      const labels = [];
      let f = await tab(page);
      assert.equal(f.element, 'canvas', 'the first Tab reaches the canvas');
      while (f.element === 'canvas') {
        labels.push(f.label);
        assert.ok(labels.length < 60, 'Tab leaves the canvas after its last control');
        f = await tab(page);
      }
      assert.equal(f.element, 'file', 'after the last drawn control, Tab reaches the file input');
      const expected = [/^Open image, button/, /^Sample image airplane\.jpg/, /^Method: Grad-CAM/, /^Layer: conv2d_8/, /^Class: top class/,
        /^Score: logit, selected/, /^Score: probability/, /^Eigen-smooth: off, selected/, /^Eigen-smooth: on/, /^Crop: center/, /^View: /, /^Opacity: 0\.45/, /^Colormap: turbo/,
        /^Upsample: bilinear/, /^Upsample: bicubic/, /^Export the overlay as PNG/, /^Keyboard shortcuts/, /^Class 1: /, /^Class 5: /];
      let at = -1;
      for (const re of expected) {
        const i = labels.findIndex((l) => re.test(l));
        assert.ok(i > at, `${re} comes next in the tab order: ${JSON.stringify(labels)}`);
        at = i;
      }
      assert.equal(labels.filter((l) => l.startsWith('Sample image')).length, 10);
      assert.equal(new Set(labels).size, labels.length, 'each control is visited once');

      f = await tab(page);
      assert.ok(!['file', 'canvas'].includes(f.element), `Tab leaves the file input (now on ${f.element})`);
      f = await tab(page, 'Shift+Tab');
      assert.equal(f.element, 'file', 'Shift+Tab comes back to the file input');
      f = await tab(page, 'Shift+Tab');
      assert.deepEqual(f, { element: 'canvas', label: labels.at(-1) }, 'and into the canvas at its last control');
      f = await tab(page, 'Shift+Tab');
      assert.deepEqual(f, { element: 'canvas', label: labels.at(-2) });
      await screenshot(page, 'app-keyboard-focus.png');
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => document.activeElement.id === 'file', null, { timeout: 10000 });
      assert.deepEqual(p.log.errors, []);
    } finally {
      await p.context.close();
    }
  });

  test('every control works without a mouse: lists, radio buttons, class rows, export', T, async () => {
    const page = await fresh();
    try {
      const options = () => page.evaluate(() => window.gradcamApp.options);
      await tabTo(page, 'Method: Grad-CAM');
      await pressInApp(page, ' ');  // opens the list
      await pressInApp(page, 'ArrowDown');
      await pressInApp(page, ' ');  // chooses Grad-CAM++
      assert.equal((await options()).method, 'gradcam++');
      await page.waitForFunction(() => /^Method: Grad-CAM\+\+/.test(document.getElementById('focused').textContent), null, { timeout: 10000 });

      // Escape closes an open list and stays in the canvas; the next Escape leaves the canvas.
      await tabTo(page, 'Colormap: turbo');
      await pressInApp(page, ' ');
      await pressInApp(page, 'Escape');
      assert.equal((await focus(page)).element, 'canvas');
      assert.equal((await options()).colormap, 'turbo');

      await tabTo(page, 'Score: probability, not selected');
      await pressInApp(page, ' ');
      assert.equal((await options()).score, 'probability');
      await page.waitForFunction(() => document.getElementById('focused').textContent.startsWith('Score: probability, selected'), null, { timeout: 10000 });

      await tab(page, 'Shift+Tab');  // back to "Score: logit"; Enter works as Space does
      await pressInApp(page, 'Enter');
      assert.equal((await options()).score, 'logit');

      await tabTo(page, 'Class 2: ');
      await pressInApp(page, ' ');
      const r = await page.evaluate(() => window.gradcamApp.lastResult());
      assert.equal(r.target.index, r.top[1].index, 'the second class is explained');

      // Export is the only control before the class rows that is back to the start: Shift+Tab to it.
      for (let i = 0; i < 60 && !(await focus(page)).label.startsWith('Export'); i++) await tab(page, 'Shift+Tab');
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), pressInApp(page, ' ')]);
      assert.match(download.suggestedFilename(), /^cat-gradcam\+\+-conv2d_8-.*\.png$/);

      await page.keyboard.press('Escape');
      await page.waitForFunction(() => document.activeElement.id === 'file', null, { timeout: 10000 });
      assert.deepEqual(p.log.errors, []);
    } finally {
      await p.context.close();
    }
  });
});
