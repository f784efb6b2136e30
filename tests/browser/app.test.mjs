// The explorer (build/site/index.html) in headless Chromium with WebGL2 through SwiftShader:
// it loads without errors, explains samples and images given by file input, drop and paste,
// reports broken files and keeps working, follows resizes and the pixel ratio, and no request
// leaves the page's origin. Screenshots go to tests/artifacts/.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { PNG } from 'pngjs';

import { brokenFiles, greyJpeg, greyPng } from './images.mjs';
import { launchBrowser, openPage, screenshot, siteInChromium, siteMissing, siteModelTrained, startServer } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 90000 };

// Collects CSP violations from the first script on.
const CSP_WATCH = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
};

async function openApp(browser, origin, options) {
  const p = await openPage(browser, origin, options);
  await p.context.addInitScript(CSP_WATCH);
  await p.page.goto(`${origin}/index.html`);
  await p.page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
  return p;
}

const explainCount = (page) => page.evaluate(() => window.gradcamApp.state().explain_count);
const statusText = (page) => page.locator('#status').textContent();

// Waits until the app explained an image of that name after `count` explanations.
async function waitForImage(page, name, count) {
  await page.waitForFunction(([n, c]) => {
    const s = window.gradcamApp.state();
    return s.explain_count > c && s.result && s.result.image.name === n;
  }, [name, count], { timeout: 30000 });
}

async function waitForError(page, pattern) {
  await page.waitForFunction(([source, flags]) => {
    const el = document.getElementById('status');
    return el.dataset.state === 'error' && new RegExp(source, flags).test(el.textContent);
  }, [pattern.source, pattern.flags], { timeout: 30000 });
}

// The fraction of pixels that differ between two PNG screenshots.
function changedFraction(a, b) {
  const pa = PNG.sync.read(a), pb = PNG.sync.read(b);
  assert.equal(pa.width, pb.width);
  let changed = 0;
  for (let i = 0; i < pa.data.length; i += 4) {
    const d = Math.abs(pa.data[i] - pb.data[i]) + Math.abs(pa.data[i + 1] - pb.data[i + 1]) + Math.abs(pa.data[i + 2] - pb.data[i + 2]);
    if (d > 24) changed++;
  }
  return changed / (pa.width * pa.height);
}

// Pixels of the overlay (read back from the GPU) that carry colour: the test images are grey,
// so colour can only come from the heat map.
async function colouredFraction(page) {
  const px = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(64, 64)));
  let coloured = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (Math.max(px[i], px[i + 1], px[i + 2]) - Math.min(px[i], px[i + 1], px[i + 2]) > 30) coloured++;
  }
  return coloured / (64 * 64);
}

function assertNamesAClass(text, classes) {
  const named = classes.filter((c) => new RegExp(`top class ${c} \\(\\d+(\\.\\d+)?%\\)`).test(text));
  assert.equal(named.length, 1, `status should name the top class and its probability: "${text}"`);
}

describe('explorer page', { skip: missing || false }, () => {
  const site = siteInChromium();
  let app, classes;

  before(async () => {
    app = await openApp(site.browser, site.origin);
    classes = await app.page.evaluate(() => window.gradcamApp.info.classes);
  });

  test('loads without errors, explains the first sample and says whether the model is trained', T, async () => {
    const { page, log } = app;
    const text = await statusText(page);
    assertNamesAClass(text, classes);
    assert.match(text, /^cat\.jpg: /);
    if (siteModelTrained()) assert.doesNotMatch(text, /[Uu]ntrained/);
    else assert.match(text, /Untrained model/);
    assert.equal(await page.locator('#status').getAttribute('role'), 'status');
    assert.equal(await page.locator('#status').getAttribute('aria-live'), 'polite');
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
    const info = await page.evaluate(() => window.gradcamApp.info);
    assert.equal(info.trained, siteModelTrained());
    assert.deepEqual(await page.evaluate(() => window.gradcamApp.samples.length), 10);
    // The canvas fills the window.
    const size = await page.evaluate(() => [canvas.width, canvas.height, innerWidth, innerHeight]);
    assert.deepEqual(size, [1280, 800, 1280, 800]);
    assert.ok(await colouredFraction(page) > 0.2, 'the overlay shows a heat map');
    await screenshot(page, 'app-loaded.png');
    assert.deepEqual(log.errors, []);
    assert.deepEqual(await page.evaluate(() => window.__csp), []);
  });

  test('a gallery sample explains (keyboard N, and by name)', T, async () => {
    const { page } = app;
    let count = await explainCount(page);
    await page.keyboard.press('n');  // next sample after cat.jpg
    await waitForImage(page, 'deer.jpg', count);
    assertNamesAClass(await statusText(page), classes);
    count = await explainCount(page);
    const r = await page.evaluate(() => window.gradcamApp.loadSample('ship.jpg'));
    assert.equal(r.image.name, 'ship.jpg');
    assert.equal(r.top.length, 5);
    assert.ok(await explainCount(page) > count);
  });

  for (const [kind, make, mimeType] of [['PNG', greyPng, 'image/png'], ['JPEG', greyJpeg, 'image/jpeg']]) {
    test(`a ${kind} through the file input shows a heat map and names a class`, T, async () => {
      const { page } = app;
      const name = `grey.${kind === 'PNG' ? 'png' : 'jpg'}`;
      const beforeShot = await page.screenshot();
      const count = await explainCount(page);
      await page.setInputFiles('#file', { name, mimeType, buffer: Buffer.from(make()) });
      await waitForImage(page, name, count);
      await page.waitForTimeout(200);  // the next animation frame draws it
      const afterShot = await page.screenshot();
      await screenshot(page, `app-file-${kind.toLowerCase()}.png`);
      assert.ok(changedFraction(beforeShot, afterShot) > 0.05, 'canvas pixels change');
      assert.ok(await colouredFraction(page) > 0.2, 'the grey image has heat-map colours on it');
      const text = await statusText(page);
      assertNamesAClass(text, classes);
      assert.ok(text.startsWith(`${name}: `));
    });

    test(`a ${kind} dropped on the page shows a heat map and names a class`, T, async () => {
      const { page } = app;
      const name = `dropped.${kind === 'PNG' ? 'png' : 'jpg'}`;
      await page.evaluate(() => window.gradcamApp.loadSample('frog.jpg'));
      await page.waitForTimeout(200);
      const beforeShot = await page.screenshot();
      const count = await explainCount(page);
      await page.evaluate(([bytes, fileName, type]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], fileName, { type }));
        const target = document.getElementById('canvas');
        for (const t of ['dragenter', 'dragover', 'drop']) {
          target.dispatchEvent(new DragEvent(t, { dataTransfer: dt, bubbles: true, cancelable: true }));
        }
      }, [Array.from(make()), name, mimeType]);
      await waitForImage(page, name, count);
      await page.waitForTimeout(200);
      const afterShot = await page.screenshot();
      await screenshot(page, `app-drop-${kind.toLowerCase()}.png`);
      assert.ok(changedFraction(beforeShot, afterShot) > 0.05, 'canvas pixels change');
      assert.ok(await colouredFraction(page) > 0.2);
      assertNamesAClass(await statusText(page), classes);
      assert.equal(await page.locator('#drop-hint').isHidden(), true);
    });
  }

  test('a pasted image is explained', T, async () => {
    const { page } = app;
    const count = await explainCount(page);
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'clip.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, Array.from(greyPng(40, 40)));
    await waitForImage(page, 'clip.png', count);
    assertNamesAClass(await statusText(page), classes);
  });

  test('broken files give a clear error, and the next image still works', T, async () => {
    const { page, log } = app;
    for (const file of brokenFiles()) {
      await page.setInputFiles('#file', { name: file.name, mimeType: file.mimeType, buffer: file.buffer });
      await waitForError(page, file.expect);
      const text = await statusText(page);
      assert.ok(text.startsWith(`${file.name}: `), `the error names the file: "${text}"`);
      await screenshot(page, `app-error-${file.name.replace(/\W+/g, '-')}.png`);
      // The previous explanation stays on screen.
      assert.ok(await page.evaluate(() => window.gradcamApp.lastResult() !== null));
    }
    const rejected = await page.evaluate(() => window.gradcamApp.loadImage(new Uint8Array([1, 2, 3]), 'three-bytes.bin').then(() => 'resolved', (e) => e.message));
    assert.match(rejected, /^three-bytes\.bin: /);
    const count = await explainCount(page);
    await page.setInputFiles('#file', { name: 'after-errors.png', mimeType: 'image/png', buffer: greyPng(30, 30) });
    await waitForImage(page, 'after-errors.png', count);
    assertNamesAClass(await statusText(page), classes);
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'ok');
    assert.deepEqual(log.errors, []);
  });

  test('settings update the view at once; colormap and opacity do not re-run the network', T, async () => {
    const { page } = app;
    await page.evaluate(() => window.gradcamApp.loadSample('cat.jpg'));
    let count = await explainCount(page);
    const px0 = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(32, 32)));
    await page.evaluate(() => window.gradcamApp.set({ colormap: 'viridis', alpha: 0.8, upsample: 'bilinear' }));
    const px1 = await page.evaluate(() => Array.from(window.gradcamApp.overlayPixels(32, 32)));
    assert.equal(await explainCount(page), count, 'colormap/alpha/upsampling only redraw');
    assert.notDeepEqual(px0, px1);

    const r = await page.evaluate(() => window.gradcamApp.set({ layer: 'conv2d_2' }));
    assert.equal(await explainCount(page), count + 1);
    assert.equal(r.layer.name, 'conv2d_2');
    assert.deepEqual([r.cam.width, r.cam.height], [15, 15]);
    assert.equal(r.timings_ms.preprocess, 0, 'a new layer reuses the prepared input');

    const second = r.top[1];
    const r2 = await page.evaluate((i) => window.gradcamApp.set({ target: i }), second.index);
    assert.equal(r2.target.index, second.index);
    assert.equal(r2.auto_target, false);
    assert.equal(r2.timings_ms.preprocess, 0);
    assert.match(r2.status, new RegExp(`for ${second.name} \\(`));

    for (const method of await page.evaluate(() => window.gradcamApp.info.methods)) {
      const m = await page.evaluate((name) => window.gradcamApp.set({ method: name, target: 'auto' }), method);
      assert.equal(m.method, method);
    }
    const bad = await page.evaluate(() => { try { window.gradcamApp.set({ layer: 'dense' }); return 'no error'; } catch (e) { return e.message; } });
    assert.match(bad, /dense/);
    count = await explainCount(page);
    await page.evaluate(() => window.gradcamApp.set({ method: 'gradcam', layer: 'conv2d_8', colormap: 'turbo', alpha: 0.45, upsample: 'bicubic', score: 'probability', crop: 'letterbox', view: 'overlay' }));
    const s = await page.evaluate(() => window.gradcamApp.state());
    assert.equal(s.result.score, 'probability');
    assert.equal(s.result.crop, 'letterbox');
    assert.equal(s.options.view, 'overlay');
    await page.waitForTimeout(200);
    await screenshot(page, 'app-overlay-view.png');
    await page.evaluate(() => window.gradcamApp.set({ score: 'logit', crop: 'center', view: 'side-by-side' }));
  });

  test('keyboard shortcuts drive the main controls', T, async () => {
    const { page } = app;
    await page.evaluate(() => window.gradcamApp.set({ method: 'gradcam', layer: 'conv2d_8', colormap: 'turbo', target: 'auto' }));
    const opts = () => page.evaluate(() => window.gradcamApp.options);
    await page.keyboard.press('m');
    await page.waitForTimeout(100);
    assert.equal((await opts()).method, 'gradcam++');
    await page.keyboard.press('Shift+M');
    await page.waitForTimeout(100);
    assert.equal((await opts()).method, 'gradcam');
    await page.keyboard.press('l');
    await page.waitForTimeout(100);
    assert.equal((await opts()).layer, 'conv2d');  // wraps from the last layer to the first
    // C and Shift+C step through every colormap and wrap both ways; R through every crop mode.
    const press = async (key) => {
      await page.keyboard.press(key);
      await page.waitForTimeout(100);
      return opts();
    };
    for (const colormap of ['jet', 'viridis', 'inferno', 'turbo', 'jet']) assert.equal((await press('c')).colormap, colormap);
    assert.equal((await press('Shift+C')).colormap, 'turbo');
    assert.equal((await press('Shift+C')).colormap, 'inferno');
    for (const colormap of ['turbo', 'jet']) assert.equal((await press('c')).colormap, colormap);
    for (const crop of ['squash', 'letterbox', 'center']) assert.equal((await press('r')).crop, crop);
    await page.keyboard.press('2');
    await page.waitForTimeout(100);
    const r = await page.evaluate(() => window.gradcamApp.lastResult());
    assert.equal(r.target.index, r.top[1].index);
    await page.keyboard.press('a');
    await page.waitForTimeout(100);
    assert.equal((await opts()).target, 'auto');
    await page.keyboard.press('v');
    await page.waitForTimeout(100);
    assert.equal((await opts()).view, 'overlay');
    await page.keyboard.press('h');
    await page.waitForTimeout(200);
    await screenshot(page, 'app-shortcuts.png');
    await page.keyboard.press('v');
    await page.keyboard.press('h');
    await page.evaluate(() => window.gradcamApp.set({ layer: 'conv2d_8', colormap: 'turbo' }));
  });

  test('export gives a PNG of the overlay at the image size', T, async () => {
    const { page } = app;
    await page.evaluate(() => window.gradcamApp.loadSample('cat.jpg'));
    const [w, h, magic] = await page.evaluate(async () => {
      const blob = await window.gradcamApp.exportPng();
      const b = new DataView(await blob.arrayBuffer());
      return [b.getUint32(16), b.getUint32(20), b.getUint32(0).toString(16) + ' ' + blob.type];
    });
    assert.equal(magic, '89504e47 image/png');
    assert.deepEqual([w, h], [256, 256], 'a 32x32 image exports at 8x, whole pixels');
  });

  test('the canvas follows window resizes', T, async () => {
    const { page } = app;
    await page.setViewportSize({ width: 800, height: 600 });
    await page.waitForFunction(() => canvas.width === 800 && canvas.height === 600, null, { timeout: 10000 });
    await page.waitForTimeout(300);
    await screenshot(page, 'app-800x600.png');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.waitForFunction(() => canvas.width === 1280 && canvas.height === 800, null, { timeout: 10000 });
  });

  test('the canvas uses the device pixel ratio', T, async () => {
    const hidpi = await openApp(site.browser, site.origin, { viewport: { width: 800, height: 600 }, deviceScaleFactor: 2 });
    try {
      const s = await hidpi.page.evaluate(() => [canvas.width, canvas.height, window.gradcamApp.state().dpr]);
      assert.deepEqual(s, [1600, 1200, 2]);
      assertNamesAClass(await statusText(hidpi.page), classes);
      await hidpi.page.waitForTimeout(300);
      await screenshot(hidpi.page, 'app-800x600-dpr2.png');
      assert.deepEqual(hidpi.log.errors, []);
    } finally {
      await hidpi.context.close();
    }
  });

  test('no request leaves the page origin', T, async () => {
    const { log } = app;
    assert.ok(log.requests.length > 5);
    assert.deepEqual(log.foreign, []);
    assert.ok(log.requests.some((u) => u.endsWith('/models/cifar10.safetensors')));
    // The app's wasm: its threaded build on this cross-origin isolated site (threads.test.mjs).
    assert.ok(log.requests.some((u) => /\/gradcam_app(_threads)?\.wasm$/.test(u)));
    // The page reads files and loads models with the JS API's own modules (one loading path).
    for (const shared of ['/abi.mjs', '/load.mjs']) assert.ok(log.requests.some((u) => u.endsWith(shared)), shared);
  });
});

describe('explorer page without its model', { skip: missing || false }, () => {
  test('says why the model could not be read', T, async () => {
    const server = await startServer();
    const browser = await launchBrowser();
    try {
      const { context, page } = await openPage(browser, server.origin);
      await context.route('**/models/cifar10.safetensors', (route) => route.fulfill({ status: 404, body: 'not found' }));
      await page.goto(`${server.origin}/index.html`);
      await waitForError(page, /cifar10\.safetensors: cannot download the model \(HTTP 404\)/);
      await screenshot(page, 'app-no-model.png');
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
