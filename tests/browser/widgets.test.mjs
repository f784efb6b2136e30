// <gradcam-view> under real use, on pages the tests write: twenty widgets on one page (more than
// Chromium's 16 WebGL contexts), a lost WebGL context, an image wider than the GPU's texture limit,
// errors after a success, and a clear error for every invalid attribute value.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { greyPng } from './images.mjs';
import { canvasStats } from './widget_pixels.mjs';
import { openPage, screenshot, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 90000 };
const SAMPLES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
// The site's policy, but the test pages size their widgets with inline styles.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'";

// A page of the site (same origin as widget.js) whose body is `body`.
async function widgetPage(browser, origin, name, body, routes = {}) {
  const p = await openPage(browser, origin);
  await p.page.route(`${origin}/${name}`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body style="margin:0">${body}</body></html>`,
  }));
  for (const [path, reply] of Object.entries(routes)) await p.page.route(`${origin}/${path}`, reply);
  await p.page.goto(`${origin}/${name}`);
  return p;
}

const allDrawn = (page, renderer) => page.waitForFunction((r) => {
  const all = [...document.querySelectorAll('gradcam-view')];
  return all.length > 0 && all.every((w) => w.result && w.shadowRoot.querySelector('canvas').dataset.renderer === r);
}, renderer, { timeout: 60000 });

// Sets attributes on a widget and returns the first gradcam-result or gradcam-error it fires.
function change(page, selector, attributes) {
  return page.evaluate(([sel, attrs]) => new Promise((resolve) => {
    const w = document.querySelector(sel);
    const done = (e) => {
      w.removeEventListener('gradcam-result', done);
      w.removeEventListener('gradcam-error', done);
      resolve({ type: e.type, message: e.detail.message || null, result: w.result,
        caption: w.shadowRoot.querySelector('.caption').textContent,
        red: w.shadowRoot.querySelector('.caption').classList.contains('error') });
    };
    w.addEventListener('gradcam-result', done);
    w.addEventListener('gradcam-error', done);
    for (const [k, v] of Object.entries(attrs)) w.setAttribute(k, v);
  }), [selector, attributes]);
}

describe('widgets', { skip: missing || false }, () => {
  const site = siteInChromium();

  describe('twenty widgets on one page', () => {
    let p;
    before(async () => {
      // Each widget has its own URL (a query string), so its downloads can be counted.
      const widgets = Array.from({ length: 20 }, (_, i) =>
        `<gradcam-view id="w${i}" src="samples/${SAMPLES[i % 10]}.jpg?widget=${i}" style="width:150px;display:inline-block"${i % 3 === 1 ? ' view="side-by-side"' : ''}></gradcam-view>`);
      p = await widgetPage(site.browser, site.origin, 'twenty.html', widgets.join('\n'));
      await allDrawn(p.page, 'webgl');
    });
    after(() => p.context.close());

    test('all twenty draw a heat map with WebGL, each image downloaded once', T, async () => {
      const { page, log } = p;
      await screenshot(page, 'widgets-twenty.png');
      for (let i = 0; i < 20; i++) {
        const s = await canvasStats(page, `#w${i}`);
        assert.equal(s.renderer, 'webgl', `widget ${i} draws with WebGL`);
        assert.ok(s.heat > 0.2, `widget ${i} shows a heat map (${s.heat} of its pixels)`);
        assert.equal(log.requests.filter((u) => u.endsWith(`?widget=${i}`)).length, 1, `widget ${i}'s image is downloaded once`);
      }
      assert.equal(log.requests.filter((u) => u.endsWith('/models/cifar10.safetensors')).length, 1);
      assert.deepEqual(log.errors, []);
      assert.deepEqual(log.console.filter((m) => /too many active webgl contexts|context lost|drawing on the CPU/i.test(m)), [],
        'no context was dropped and no widget fell back to the CPU');
    });

    test('a lost WebGL context: the widgets draw on the CPU, then on the GPU again when it is restored', T, async () => {
      const { page, log } = p;
      await page.evaluate(async () => {
        const { sharedRenderer } = await import('./widget_renderer.js');
        window.__lose = sharedRenderer().gl.getExtension('WEBGL_lose_context');
        window.__lose.loseContext();
      });
      await allDrawn(page, 'cpu');
      for (const i of [0, 1, 19]) assert.ok((await canvasStats(page, `#w${i}`)).heat > 0.2, `widget ${i} still shows a heat map`);
      await page.evaluate(() => window.__lose.restoreContext());
      await allDrawn(page, 'webgl');
      for (let i = 0; i < 20; i++) assert.ok((await canvasStats(page, `#w${i}`)).heat > 0.2, `widget ${i} shows a heat map again`);
      // A resize after all that still draws (no broken canvas): 220 px less 2 x 10 px of padding.
      await page.setViewportSize({ width: 900, height: 700 });
      await page.evaluate(() => document.getElementById('w5').style.width = '220px');
      await page.waitForFunction(() => document.getElementById('w5').shadowRoot.querySelector('canvas').width === 200, null, { timeout: 10000 });
      assert.ok((await canvasStats(page, '#w5')).heat > 0.2);
      assert.deepEqual(log.errors, []);
    });
  });

  test('an image wider than the GPU texture limit is shrunk before upload, not drawn black', T, async () => {
    const wide = greyPng(16000, 1200);
    const p = await widgetPage(site.browser, site.origin, 'wide.html',
      '<gradcam-view id="wide" src="wide.png" crop="squash" style="width:1200px"></gradcam-view>',
      { 'wide.png': (route) => route.fulfill({ contentType: 'image/png', body: wide }) });
    try {
      const { page } = p;
      await allDrawn(page, 'webgl');
      const limit = await page.evaluate(async () => (await import('./widget_renderer.js')).sharedRenderer().maxTexture);
      assert.ok(limit < 16000, `this GPU's texture limit (${limit}) is below the image's width, which the test is about`);
      const s = await canvasStats(page, '#wide');
      await screenshot(page, 'widget-wide.png');
      assert.ok(s.width >= 1000 && s.height >= 70, `canvas ${s.width}x${s.height}`);
      assert.ok(s.plainMean > 80, `the grey image shows under the map (mean ${s.plainMean.toFixed(1)} of 255), not black`);
      assert.ok(s.heat > 0.2, `the heat map is drawn (${s.heat})`);
      assert.deepEqual(p.log.errors, []);
    } finally {
      await p.context.close();
    }
  });

  describe('errors', () => {
    let p;
    before(async () => {
      p = await widgetPage(site.browser, site.origin, 'errors.html',
        '<gradcam-view id="w" src="samples/cat.jpg"></gradcam-view><gradcam-view id="other" src="samples/dog.jpg"></gradcam-view>');
      await allDrawn(p.page, 'webgl');
    });
    after(() => p.context.close());

    test('an error after a success clears the picture and the result', T, async () => {
      const { page } = p;
      assert.ok((await canvasStats(page, '#w')).heat > 0.2);
      const e = await change(page, '#w', { src: 'samples/missing.jpg' });
      assert.equal(e.type, 'gradcam-error');
      assert.match(e.message, /samples\/missing\.jpg: cannot download \(HTTP 404\)/);
      assert.equal(e.result, null, 'element.result is cleared');
      assert.equal(e.red, true);
      const s = await canvasStats(page, '#w');
      assert.equal(s.renderer, 'none');
      assert.deepEqual([s.width, s.height, s.display], [0, 0, 'none'], 'the old picture is gone');
      await screenshot(page, 'widget-error.png');
      const ok = await change(page, '#w', { src: 'samples/cat.jpg' });
      assert.equal(ok.type, 'gradcam-result');
      assert.ok((await canvasStats(page, '#w')).heat > 0.2);
      assert.ok((await canvasStats(page, '#other')).heat > 0.2, 'the other widget is untouched');
    });

    // The engine's request parser checks the attributes it shares with explain() (its messages
    // name the attribute and what is valid); upsample and view are the widget's own.
    const cases = [
      ['colormap', 'rainbow', /^gradcam-view: colormap: unknown colormap 'rainbow'; valid: turbo, jet, viridis, inferno$/],
      ['alpha', '2', /^gradcam-view: alpha must be a number from 0 to 1 \(got "2"\)$/],
      ['alpha', 'half', /^gradcam-view: alpha must be a number from 0 to 1 \(got "half"\)$/],
      ['upsample', 'nearest', /upsample="nearest" is not valid; use one of bicubic, bilinear/],
      ['view', 'grid', /view="grid" is not valid; use one of overlay, side-by-side/],
      ['layer', 'dense', /^gradcam-view: layer: no conv layer named "dense" \(conv layers: conv2d, conv2d_1, .*conv2d_8\)$/],
      ['method', 'magic', /^gradcam-view: method: unknown method "magic" \(known: gradcam, gradcam\+\+, .*guided-gradcam/],
      ['target', 'zebra', /^gradcam-view: target: unknown target "zebra": use auto, a class index or one of airplane, .*truck$/],
      ['target', '10', /^gradcam-view: target: target 10 is out of range/],
      ['score', 'margin', /^gradcam-view: score: unknown score "margin" \(known: logit, probability\)$/],
      ['crop', 'fit', /^gradcam-view: crop: unknown crop mode 'fit'; valid: center, squash, letterbox$/],
      ['eigen-smooth', 'maybe', /^gradcam-view: eigen-smooth must be true or false \(got "maybe"\)$/],
      ['aug-smooth', 'yes', /^gradcam-view: aug-smooth must be true or false \(got "yes"\)$/],
      ['steps', '0', /^gradcam-view: steps must be a whole number from 1 to 1000 \(got "0"\)$/],
      ['baseline', 'grey', /^gradcam-view: baseline: unknown baseline "grey" \(known: black, blur, noise, zero\)$/],
      ['window', 'wide', /^gradcam-view: window must be a whole number from 1 to 4096 \(got "wide"\)$/],
    ];
    test('every invalid attribute value is an error that names the attribute and its valid values', T, async () => {
      const { page, log } = p;
      const downloads = () => log.requests.filter((u) => u.endsWith('/samples/cat.jpg')).length;
      const before0 = downloads();
      for (const [name, value, expect] of cases) {
        const e = await change(page, '#w', { [name]: value });
        assert.equal(e.type, 'gradcam-error', `${name}="${value}" is refused`);
        assert.match(e.message, expect);
        assert.equal(e.caption, e.message, 'the caption shows the message');
        assert.equal(e.red, true);
        assert.equal(e.result, null);
        const gone = await canvasStats(page, '#w');
        assert.deepEqual([gone.width, gone.display], [0, 'none'], `${name}="${value}": the picture is cleared`);
        const ok = await change(page, '#w', { [name]: name === 'alpha' ? '0.5' : name === 'target' ? 'auto' : name === 'layer' ? 'conv2d_6' : { colormap: 'viridis', upsample: 'bilinear', view: 'overlay', method: 'gradcam', score: 'logit', crop: 'center',
          steps: '10', baseline: 'black', window: '8', 'eigen-smooth': 'false', 'aug-smooth': '' }[name] });
        assert.equal(ok.type, 'gradcam-result', `a valid ${name} brings the picture back`);
        assert.ok((await canvasStats(page, '#w')).heat > 0.2);
      }
      assert.equal(downloads(), before0, 'no attribute change downloads the image again');
    });

    test('a widget moved within the page draws again without downloading its image again', T, async () => {
      const { page, log } = p;
      const downloads = () => log.requests.filter((u) => u.endsWith('/samples/dog.jpg')).length;
      const before0 = downloads();
      const r = await page.evaluate(() => new Promise((resolve) => {
        const w = document.getElementById('other');
        w.addEventListener('gradcam-result', (e) => resolve(e.detail.target.name), { once: true });
        document.body.prepend(w);  // disconnected, then connected again
      }));
      assert.ok(r);
      assert.ok((await canvasStats(page, '#other')).heat > 0.2);
      assert.equal(downloads(), before0);
    });

    test('an invalid attribute in the page HTML is reported before anything is drawn', T, async () => {
      const q = await widgetPage(site.browser, site.origin, 'bad-attr.html',
        '<gradcam-view id="bad" src="samples/cat.jpg" colormap="rainbow"></gradcam-view>');
      try {
        await q.page.waitForFunction(() => document.getElementById('bad').shadowRoot.querySelector('.caption.error'), null, { timeout: 60000 });
        const caption = await q.page.evaluate(() => document.getElementById('bad').shadowRoot.querySelector('.caption').textContent);
        assert.match(caption, /colormap: unknown colormap 'rainbow'/);
        assert.equal(await q.page.evaluate(() => document.getElementById('bad').result), null);
      } finally {
        await q.context.close();
      }
    });
  });
});
