// The explorer on four screens: a phone (390x844, touch, device pixel ratio 2), a tablet
// (768x1024, touch), a laptop (1280x800) and a desktop (1920x1080). Each opens a link whose fragment
// holds a view, finds that view in the result and the status line, loads a photo, and checks what a
// person sees: the map's drawn size, no sideways scrolling, finger-sized controls on the phone, the
// text a screen reader reads. One page load per size (the suite runs on SwiftShader in CI).
// Screenshots: tests/artifacts/screen-<size>-link.png (the link's view) and screen-<size>.png (the
// photo).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';

import { greyJpeg } from './images.mjs';
import { openPage, screenshot, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };

const SIZES = [
  {
    name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    link: '#sample=horse.jpg&method=layercam&layer=conv2d_2&target=horse&score=logit&crop=center&colormap=viridis&alpha=0.5&view=overlay',
    expect: { sample: 'horse.jpg', method: 'layercam', layer: 'conv2d_2', target: 'horse', score: 'logit', crop: 'center', colormap: 'viridis', alpha: 0.5, view: 'overlay' },
    photoInput: '#camera',  // the phone's "Take a photo"
  },
  {
    // A malformed value: the app's red message for it, and the rest of the link still applies.
    name: 'tablet', viewport: { width: 768, height: 1024 }, hasTouch: true,
    link: '#sample=3&method=gradcam++&layer=conv2d_6&target=dog&colormap=rainbow&view=side-by-side',
    expect: { sampleIndex: 3, method: 'gradcam++', layer: 'conv2d_6', target: 'dog', colormap: 'turbo', view: 'side-by-side' },
    error: /^This link's colormap: .*rainbow/,
    photoInput: '#file',
  },
  {
    name: 'laptop', viewport: { width: 1280, height: 800 },
    link: '#sample=ship&method=gradcam%2B%2B&layer=conv2d_4&target=auto&score=probability&crop=squash&colormap=inferno&alpha=0.7&view=side-by-side&upsample=bilinear',
    expect: { sample: 'ship.jpg', method: 'gradcam++', layer: 'conv2d_4', target: 'auto', score: 'probability', crop: 'squash', colormap: 'inferno', alpha: 0.7, view: 'side-by-side', upsample: 'bilinear' },
    photoInput: '#file',
  },
  {
    name: 'desktop', viewport: { width: 1920, height: 1080 },
    link: '#sample=dog.jpg&method=hirescam&layer=conv2d_6&target=dog&colormap=jet&alpha=0.6&view=side-by-side',
    expect: { sample: 'dog.jpg', method: 'hirescam', layer: 'conv2d_6', target: 'dog', colormap: 'jet', alpha: 0.6, view: 'side-by-side' },
    photoInput: '#file',
  },
];

const state = (page) => page.evaluate(() => window.gradcamApp.state());

// Waits until the app has drawn every change: it draws frames while anything changes, then stops.
async function settled(page) {
  await page.waitForFunction(() => window.gradcamApp.state().idle, null, { timeout: 20000 });
}

// The fraction of pixels with colour in a PNG: the photo is grey, so colour is the heat map.
function colouredFraction(png) {
  const { data, width, height } = PNG.sync.read(png);
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.max(data[i], data[i + 1], data[i + 2]) - Math.min(data[i], data[i + 1], data[i + 2]) > 30) coloured++;
  }
  return coloured / (width * height);
}

// The drawn control whose label starts with `prefix`, scrolled into the window; its centre in
// viewport CSS px.
async function controlCentre(page, prefix) {
  const c = (await state(page)).layout.controls.find((x) => x.label.startsWith(prefix));
  assert.ok(c, `a control labelled "${prefix}..." is drawn`);
  const scrollY = await page.evaluate((y) => {
    window.scrollTo(0, Math.max(0, y - innerHeight / 2));
    return window.scrollY;
  }, c.y);
  return { x: c.x + c.width / 2, y: c.y + c.height / 2 - scrollY, control: c };
}

describe('explorer on phone, tablet, laptop and desktop screens', { skip: missing || false }, () => {
  const site = siteInChromium();

  for (const size of SIZES) {
    const { name, link, expect, photoInput, error, ...contextOptions } = size;
    test(`${name} ${contextOptions.viewport.width}x${contextOptions.viewport.height}: a link's view, a photo, the layout`, T, async () => {
      const { context, page, log } = await openPage(site.browser, site.origin, contextOptions);
      try {
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.origin });
        await page.goto(`${site.origin}/index.html${link}`);
        await page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });

        // The link's view is what was explained, and the status line says so.
        const s = await state(page);
        const r = s.result;
        const sample = expect.sample ?? s.samples[expect.sampleIndex];
        assert.equal(r.image.name, sample);
        assert.equal(r.method, expect.method);
        assert.equal(r.layer.name, expect.layer);
        if (expect.target === 'auto') assert.equal(r.auto_target, true);
        else assert.equal(r.target.name, expect.target);
        for (const key of ['score', 'crop']) if (expect[key]) assert.equal(r[key], expect[key]);
        for (const key of ['colormap', 'alpha', 'view', 'upsample']) {
          if (expect[key] !== undefined) assert.equal(key === 'alpha' ? Math.round(s.options.alpha * 100) / 100 : s.options[key], expect[key], key);
        }
        const label = s.model.method_details.find((d) => d.name === expect.method).label;
        const status = await page.locator('#status').textContent();
        if (error) {
          assert.match(status, error);
          assert.equal(await page.locator('#status').getAttribute('data-state'), 'error');
        } else {
          assert.ok(status.startsWith(`${sample}: top class `), status);
          assert.ok(status.includes(`${label} for ${r.target.name}`) && status.includes(`at ${expect.layer} (`), status);
        }

        await settled(page);
        await screenshot(page, `screen-${name}-link.png`);

        // The fragment now holds the whole view (a bad value replaced by what is shown); a change
        // rewrites it in place, without a history entry.
        const history0 = await page.evaluate(() => history.length);
        const hash = await page.evaluate(() => location.hash);
        assert.match(hash, new RegExp(`[#&]sample=${sample.replace('.', '\\.')}(&|$)`));
        assert.match(hash, new RegExp(`&colormap=${s.options.colormap}(&|$)`));
        assert.match(hash, new RegExp(`&layer=${expect.layer}(&|$)`));
        await page.evaluate(() => window.gradcamApp.set({ upsample: 'bilinear', alpha: 0.55 }));
        await page.waitForFunction(() => /&alpha=0\.55&/.test(location.hash) && /&upsample=bilinear$/.test(location.hash), null, { timeout: 20000 });
        assert.equal(await page.evaluate(() => history.length), history0);

        // A photo: through the camera input on the phone, the file input elsewhere. The link's
        // method and layer stay.
        const count = s.explain_count;
        await page.setInputFiles(photoInput, { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(greyJpeg(480, 360)) });
        await page.waitForFunction((c) => {
          const st = window.gradcamApp.state();
          return st.explain_count > c && st.result.image.name === 'photo.jpg';
        }, count, { timeout: 30000 });
        await settled(page);
        const after = await state(page);
        assert.equal(after.result.method, expect.method);
        assert.equal(after.result.layer.name, expect.layer);
        assert.doesNotMatch(await page.evaluate(() => location.hash), /(#|&)sample=/, 'an opened photo is not in the link');

        // The text a screen reader reads: the top five with probabilities, the method, layer,
        // class and time.
        const top = await page.locator('#result-top li').allTextContents();
        assert.deepEqual(top.map((t) => t.split(':')[0]), after.result.top.map((c) => c.name));
        assert.ok(top.every((t) => /: \d+(\.\d+)?%$/.test(t)), JSON.stringify(top));
        const summary = await page.locator('#result-summary').textContent();
        for (const part of ['photo.jpg', after.result.summary, label, ` at ${expect.layer} `, ` for ${after.result.target.name}`]) {
          assert.ok(summary.includes(part), `"${part}" in "${summary}"`);
        }
        assert.match(summary, /took \d+(\.\d)? ms/);

        // What a person sees: the map drawn where the state says, with the heat map's colours on
        // the grey photo, and nothing wider than the window.
        const { layout } = after;
        const viewport = contextOptions.viewport;
        assert.equal(layout.narrow, viewport.width < 700);
        assert.equal(layout.touch, !!contextOptions.hasTouch || viewport.width < 700);
        if (layout.touch) assert.ok(layout.frame_height >= 44, `touch targets are ${layout.frame_height} CSS px high`);
        if (name === 'phone') assert.ok(layout.map.width >= 300, `the map is ${layout.map.width} CSS px wide on the phone`);
        assert.ok(layout.map.x >= 0 && layout.map.x + layout.map.width <= viewport.width, JSON.stringify(layout.map));
        const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
        assert.ok(widths[0] <= widths[1], `nothing scrolls sideways: scrollWidth ${widths[0]}, innerWidth ${widths[1]}`);
        const [cw, dpr] = await page.evaluate(() => [canvas.width, window.gradcamApp.state().dpr]);
        assert.equal(dpr, contextOptions.deviceScaleFactor ?? 1);
        assert.equal(cw, viewport.width * dpr, 'the canvas has a pixel per device pixel');
        const mapShot = await page.screenshot({ clip: layout.map });
        assert.ok(colouredFraction(mapShot) > 0.2, 'the map area shows the heat map');
        await screenshot(page, `screen-${name}.png`);

        if (name === 'phone') {
          // Two fingers spreading on the map zoom into it (real touch input through the DevTools
          // protocol); the page does not scroll meanwhile.
          const cdp = await context.newCDPSession(page);
          const cx = layout.map.x + layout.map.width / 2, cy = layout.map.y + layout.map.height / 2;
          const fingers = (d) => [{ x: cx - d, y: cy, id: 0 }, { x: cx + d, y: cy, id: 1 }];
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: fingers(30) });
          for (const d of [50, 70, 90]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: fingers(d) });
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          const zoom = (await state(page)).layout.zoom;
          assert.ok(zoom > 2.5 && zoom < 3.5, `spreading two fingers from 60 to 180 px zooms about 3x (got ${zoom})`);
          await settled(page);
          await screenshot(page, 'screen-phone-zoomed.png');

          // A keyboard on a phone: Shift+Tab from the file input reaches the last drawn control,
          // at the bottom of the column, and the page scrolls to show it.
          await page.evaluate(() => window.scrollTo(0, 0));
          await page.focus('#file');
          await page.keyboard.press('Shift+Tab');
          await page.waitForFunction(() => document.getElementById('focused').textContent.startsWith('Keyboard shortcuts'), null, { timeout: 20000 });
          const last = (await state(page)).layout.controls.at(-1);
          await page.waitForFunction((c) => c.y - window.scrollY >= 0 && c.y + c.height - window.scrollY <= window.innerHeight, last, { timeout: 20000 });

          // A tap on the second class row explains that class: taps land where the finger is.
          const second = after.result.top[1];
          const row = await controlCentre(page, 'Class 2: ');
          await page.touchscreen.tap(row.x, row.y);
          await page.waitForFunction((i) => window.gradcamApp.lastResult().target.index === i, second.index, { timeout: 20000 });

          // "Copy link" by tap: the clipboard holds this view's address.
          const copy = await controlCentre(page, 'Copy link');
          await page.touchscreen.tap(copy.x, copy.y);
          await page.waitForFunction(() => /^Link copied: /.test(document.getElementById('status').textContent), null, { timeout: 20000 });
          const copied = await page.evaluate(() => navigator.clipboard.readText());
          assert.equal(copied, await page.evaluate(() => location.href));
          assert.match(copied, new RegExp(`#method=layercam&layer=conv2d_2&target=${second.name}&`));

          // "Can I trust this?" opens across the page's width where the page is scrolled, and the
          // page grows to hold it.
          await page.evaluate(() => window.scrollTo(0, 600));
          await page.evaluate(() => window.gradcamApp.trust.show(true));
          await settled(page);
          const sanity = (await state(page)).layout.controls.find((c) => c.label.startsWith('Run the sanity check'));
          assert.ok(sanity, 'the trust window is drawn');
          assert.ok(sanity.x >= 0 && sanity.x + sanity.width <= 390, JSON.stringify(sanity));
          assert.ok(sanity.y > 600, `it opened where the page was scrolled to (y ${sanity.y})`);
          assert.ok(await page.evaluate((c) => c.y + c.height <= canvas.getBoundingClientRect().height, sanity), 'the canvas holds it');
          assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
          await page.evaluate(() => window.scrollTo(0, 600));
          await settled(page);
          await screenshot(page, 'screen-phone-trust.png');
          await page.evaluate(() => window.gradcamApp.trust.show(false));
          await settled(page);

          // A mouse wheel over the canvas scrolls the page (GLFW would cancel it).
          await page.evaluate(() => window.scrollTo(0, 0));
          await page.mouse.move(200, 400);
          await page.mouse.wheel(0, 500);
          await page.waitForFunction(() => window.scrollY > 0, null, { timeout: 20000 });
        }
        if (name === 'tablet') {
          // The side-by-side layout with touch: one finger dragged up over the sidebar scrolls it.
          const shortcuts = async () => (await state(page)).layout.controls.find((c) => c.label.startsWith('Keyboard shortcuts'));
          const before0 = await shortcuts();
          const cdp = await context.newCDPSession(page);
          const finger = (y) => [{ x: 120, y, id: 0 }];
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: finger(900) });
          for (const y of [800, 700, 600]) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: finger(y) });
          await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
          await settled(page);
          const after0 = await shortcuts();
          assert.ok(after0.y < before0.y, `the sidebar scrolled: "${after0.label}" from y ${before0.y} to ${after0.y}`);
          // A mouse wheel over the sidebar scrolls it back. The app takes the wheel on the canvas
          // only: ImGui's GLFW backend would listen on the whole document, where the browser logs
          // an error for each wheel event it tries to cancel (log.errors, checked below).
          await page.mouse.move(120, 600);
          await page.mouse.wheel(0, -300);
          await settled(page);
          const after1 = await shortcuts();
          assert.ok(after1.y > after0.y, `the wheel scrolled the sidebar: "${after1.label}" from y ${after0.y} to ${after1.y}`);
        }
        if (name === 'laptop') {
          // Double-click on the map zooms 3x about that point; again, back to the whole image.
          const m = layout.map;
          await page.mouse.dblclick(m.x + m.width / 2, m.y + m.height / 2);
          await page.waitForFunction(() => window.gradcamApp.state().layout.zoom === 3, null, { timeout: 20000 });
          await page.mouse.dblclick(m.x + m.width / 2, m.y + m.height / 2);
          await page.waitForFunction(() => window.gradcamApp.state().layout.zoom === 1, null, { timeout: 20000 });

          // A fragment edited in the address bar applies at once.
          await page.evaluate(() => { location.hash = '#sample=1&method=eigencam&layer=conv2d_5'; });
          await page.waitForFunction(() => {
            const r = window.gradcamApp.lastResult();
            return r.image.name === window.gradcamApp.samples[1] && r.method === 'eigencam' && r.layer.name === 'conv2d_5';
          }, null, { timeout: 20000 });
        }
        assert.deepEqual(log.errors, []);
      } finally {
        await context.close();
      }
    });
  }
});
