// The documentation page (build/site/embed.html) and its <gradcam-view> widgets in headless
// Chromium: three widgets draw heat maps, they share one engine download, attributes update them,
// styles do not cross the Shadow DOM either way, and no request leaves the page's origin.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { canvasStats as statsOf } from './widget_pixels.mjs';
import { openPage, screenshot, siteInChromium, siteMissing, siteModelTrained } from './support.mjs';

const missing = siteMissing();
const canvasStats = (page, id) => statsOf(page, `#${id}`);
const T = { timeout: 90000 };

async function openEmbed(browser, origin, options) {
  const p = await openPage(browser, origin, options);
  await p.context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await p.page.goto(`${origin}/embed.html`);
  await p.page.waitForFunction(() => {
    const all = [...document.querySelectorAll('gradcam-view')];
    return all.length >= 3 && all.every((w) => w.result);
  }, null, { timeout: 60000 });
  return p;
}

describe('embed page', { skip: missing || false }, () => {
  const site = siteInChromium();
  let embed;

  before(async () => {
    embed = await openEmbed(site.browser, site.origin);
  });

  test('draws three widgets with heat maps and captions', T, async () => {
    const { page, log } = embed;
    await screenshot(page, 'embed.png');
    await page.screenshot({ path: (await import('./support.mjs')).ARTIFACTS + '/embed-full.png', fullPage: true });
    const classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    for (const id of ['w-cat', 'w-ship', 'w-horse']) {
      const s = await canvasStats(page, id);
      assert.ok(s.width > 100 && s.height > 50, `${id} has a sized canvas`);
      assert.ok(s.heat > 0.2, `${id} shows a heat map (${s.heat} of the pixels)`);
      assert.ok(Math.abs(s.cssWidth - (s.hostWidth - 20)) < 2, `${id} fills its container`);
      const caption = await page.evaluate((wid) => document.getElementById(wid).shadowRoot.querySelector('[role=status]').textContent, id);
      assert.ok(classes.some((c) => caption.startsWith(`${c} `)), `caption names a class: ${caption}`);
      if (siteModelTrained()) assert.doesNotMatch(caption, /untrained/);
      else assert.match(caption, /untrained model/);
    }
    const horse = await page.evaluate(() => document.getElementById('w-horse').result);
    assert.equal(horse.target.name, 'horse');
    assert.equal(horse.layer, 'conv2d_2');
    assert.equal(horse.method, 'layercam');
    assert.equal(horse.score, 'probability');
    const cat = await page.evaluate(() => document.getElementById('w-cat').result);
    assert.equal(cat.layer, 'conv2d_6');
    assert.deepEqual(log.errors, []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
  });

  test('all widgets share one engine and one model download, each image is downloaded once; nothing leaves the origin', T, async () => {
    const { log } = embed;
    const count = (suffix) => log.requests.filter((u) => u.endsWith(suffix)).length;
    assert.equal(count('/models/cifar10.safetensors'), 1);
    // The single-threaded core, or the threaded one on a page with more than one core (tools/serve.mjs
    // serves the site cross-origin isolated).
    assert.equal(count('/gradcam_core.wasm') + count('/gradcam_core_threads.wasm'), 1);
    for (const image of ['cat.jpg', 'ship.jpg', 'horse.jpg']) assert.equal(count(`/samples/${image}`), 1, `${image} is downloaded once`);
    assert.deepEqual(log.foreign, []);
  });

  test('attributes update a widget: colormap only redraws, layer re-explains', T, async () => {
    const { page } = embed;
    const before0 = await canvasStats(page, 'w-cat');
    const timings0 = await page.evaluate(() => document.getElementById('w-cat').result.timings_ms.call);
    await page.evaluate(() => document.getElementById('w-cat').setAttribute('colormap', 'inferno'));
    const after0 = await canvasStats(page, 'w-cat');
    assert.notEqual(after0.sum, before0.sum, 'pixels change');
    assert.equal(await page.evaluate(() => document.getElementById('w-cat').result.timings_ms.call), timings0, 'no new explanation');
    const r = await page.evaluate(() => new Promise((resolve) => {
      const w = document.getElementById('w-cat');
      w.addEventListener('gradcam-result', (e) => resolve(e.detail), { once: true });
      w.setAttribute('layer', 'conv2d_2');
    }));
    assert.equal(r.layer, 'conv2d_2');
    assert.deepEqual([r.cam.width, r.cam.height], [15, 15]);
  });

  test('a widget with a broken image says so and the others keep working', T, async () => {
    const { page } = embed;
    const message = await page.evaluate(() => new Promise((resolve) => {
      const w = document.createElement('gradcam-view');
      w.addEventListener('gradcam-error', (e) => resolve(e.detail.message), { once: true });
      w.setAttribute('src', 'samples/missing.jpg');
      document.querySelector('main').append(w);
    }));
    assert.match(message, /samples\/missing\.jpg: cannot download \(HTTP 404\)/);
    const s = await canvasStats(page, 'w-ship');
    assert.ok(s.heat > 0.2);
  });

  test('no CSS leaks into or out of the widgets', T, async () => {
    // Hostile page styles, injected past the page's CSP for this test only.
    const hostile = await openPage(site.browser, site.origin, { bypassCSP: true });
    try {
      const { page } = hostile;
      await page.goto(`${site.origin}/embed.html`);
      await page.addStyleTag({ content: 'canvas { display: none !important; } figcaption, .caption, .legend, figure { color: rgb(255, 0, 0) !important; font-size: 40px !important; } * { letter-spacing: 9px; }' });
      await page.waitForFunction(() => [...document.querySelectorAll('gradcam-view')].every((w) => w.result), null, { timeout: 60000 });
      const inside = await page.evaluate(() => {
        const root = document.getElementById('w-cat').shadowRoot;
        const cs = (sel) => getComputedStyle(root.querySelector(sel));
        return { canvas: cs('canvas').display, color: cs('.caption').color, size: cs('.caption').fontSize, spacing: cs('.caption').letterSpacing };
      });
      assert.deepEqual(inside, { canvas: 'block', color: 'rgb(230, 233, 239)', size: '14px', spacing: 'normal' });
      // The widget's own rules (.caption, .bar, canvas) do not style the page's elements.
      const outside = await page.evaluate(() => {
        const p = document.createElement('p');
        p.className = 'caption bar';
        p.textContent = 'host text';
        document.querySelector('main').append(p);
        const cs = getComputedStyle(p);
        return { color: cs.color, background: cs.backgroundColor };
      });
      assert.deepEqual(outside, { color: 'rgb(255, 0, 0)', background: 'rgba(0, 0, 0, 0)' });
      const pageCanvas = await page.evaluate(() => {
        const c = document.createElement('canvas');
        document.body.append(c);
        return [getComputedStyle(c).display, getComputedStyle(c).borderRadius];
      });
      assert.deepEqual(pageCanvas, ['none', '0px']);
    } finally {
      await hostile.context.close();
    }
  });

  test('the widgets size to a narrow container', T, async () => {
    const { page } = embed;
    await page.setViewportSize({ width: 420, height: 800 });
    await page.waitForTimeout(300);
    const s = await canvasStats(page, 'w-horse');
    assert.ok(s.cssWidth < 420 && Math.abs(s.cssWidth - (s.hostWidth - 20)) < 2);
    await screenshot(page, 'embed-narrow.png');
  });
});
