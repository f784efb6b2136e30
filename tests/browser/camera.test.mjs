// The explorer's live camera, fed by Chromium's fake camera (--use-fake-device-for-media-stream: a
// moving pattern) and granted without a prompt (--use-fake-ui-for-media-stream): the "Live camera"
// button starts it, every frame is explained and drawn, the map follows the moving picture, a paused
// frame's map is the JS API's map of the same pixels and can be inspected like a photo, and stop
// ends the camera's tracks. A frame read as YUV has the browser's colours. Without the granting
// flag the camera is refused and the page says so.
// The maps per second are a figure for bench/page.mjs, not something this test times.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { FAKE_CAMERA_ARGS, launchBrowser, openPage, screenshot, siteInChromium, siteMissing } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };
const MAPS = 8;  // maps drawn before the checks: enough to see the pattern move

const CSP_WATCH = () => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
};

async function explorer(browser, origin) {
  const p = await openPage(browser, origin, { viewport: { width: 800, height: 600 } });  // cheaper frames
  await p.context.addInitScript(CSP_WATCH);
  await p.page.goto(`${origin}/index.html`);
  await p.page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
  return p;
}

const camera = (page) => page.evaluate(() => window.gradcamApp.camera.state());
const map = (page) => page.evaluate(() => {
  const m = window.gradcamApp.map();
  return m && { width: m.width, height: m.height, values: Array.from(m.values) };
});
const maxDiff = (a, b) => a.reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);

// Tab from the page's top to the drawn control whose label starts with prefix, then Space.
async function pressControl(page, prefix) {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const label = await page.waitForFunction(() => {
      const el = document.activeElement;
      return el && el.id === 'canvas' ? document.getElementById('focused').textContent || false : 'page';
    }, null, { timeout: 10000 }).then((h) => h.jsonValue());
    if (label.startsWith(prefix)) {
      await page.keyboard.press(' ');
      return;
    }
  }
  throw new Error(`no control labelled "${prefix}..." in the tab order`);
}

describe('live camera', { skip: missing || false }, () => {
  const site = siteInChromium(FAKE_CAMERA_ARGS);

  test('the fake camera is explained frame by frame; pause inspects a frame as the JS API would; stop ends the tracks', T, async () => {
    const { context, page, log } = await explorer(site.browser, site.origin);
    try {
      assert.equal((await camera(page)).state, 'off', 'the camera is offered (the browser has getUserMedia), not started');
      // By keyboard, as the page's other controls: Tab to the drawn button, Space.
      await page.locator('#canvas').focus();
      await pressControl(page, 'Live camera');
      await page.waitForFunction(() => window.gradcamApp.camera.state().state === 'live', null, { timeout: 20000 });
      assert.match(await page.evaluate(() => window.gradcamApp.status), /^Live camera/);

      // The map follows the moving pattern: maps of different frames differ.
      await page.waitForFunction((n) => window.gradcamApp.camera.state().maps >= n, 2, { timeout: 30000 });
      const first = await map(page);
      const maps0 = (await camera(page)).maps;
      await page.waitForFunction((n) => window.gradcamApp.camera.state().maps >= n, maps0 + MAPS, { timeout: 60000 });
      const later = await map(page);
      const live = await camera(page);
      assert.equal(live.tracks[0], 'live');
      assert.deepEqual(live.size, { width: 640, height: 480 }, 'frames are taken at the fake camera\'s size');
      assert.equal(live.grab, 'yuv', 'and read as YUV, not through a canvas');
      assert.equal(later.values.length, first.values.length);
      assert.ok(maxDiff(first.values, later.values) > 0, 'the map changes as the fake camera\'s picture moves');
      const state = await page.evaluate(() => window.gradcamApp.state());
      assert.equal(state.image.name, 'camera frame');
      assert.ok(state.camera.maps_per_second > 0, 'the readout shows maps per second');
      assert.ok(state.frames > 0);
      await screenshot(page, 'camera-live.png');

      // Pause: the last frame stays, explained in full; its map is the JS API's map of its pixels.
      await page.evaluate(() => window.gradcamApp.camera.pause(true));
      const paused = await camera(page);
      assert.equal(paused.state, 'paused');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await camera(page)).maps, paused.maps, 'no frame is explained while paused');
      const same = await page.evaluate(async () => {
        const app = window.gradcamApp;
        const { loadEngine } = await import('./gradcam.mjs');
        const engine = await loadEngine();
        const frame = app.camera.frame();
        const m = app.map();
        const options = app.options;
        const r = engine.explain({ data: frame.data, width: frame.width, height: frame.height },
          { layer: options.layer, method: options.method, crop: options.crop });
        const top = app.lastResult();
        return { app: Array.from(m.values), api: Array.from(r.cam.data), appTop: top.top[0].index, apiTop: r.top[0].index,
          image: top.image.name, status: app.status };
      });
      assert.equal(same.image, 'camera frame', 'the paused frame is the explained image');
      assert.match(same.status, /^camera frame: top class /);
      assert.equal(same.apiTop, same.appTop);
      assert.equal(same.api.length, same.app.length);
      assert.ok(maxDiff(same.api, same.app) <= 1e-5 * Math.max(...same.api.map(Math.abs), 1e-30),
        `the paused frame's map equals the JS API's map of the same pixels (max difference ${maxDiff(same.api, same.app)})`);

      // A paused frame is inspected like a photo: another layer and method run on it.
      const layers = await page.evaluate(() => window.gradcamApp.info.conv_layers);
      const r = await page.evaluate((layer) => window.gradcamApp.set({ layer, method: 'layercam' }), layers[0]);
      assert.equal(r.layer.name, layers[0]);
      assert.equal(r.method, 'layercam');
      assert.equal(r.image.name, 'camera frame');
      assert.equal((await camera(page)).maps, paused.maps);

      // Resume goes live again; stop releases the camera and keeps the last frame.
      await page.evaluate(() => window.gradcamApp.camera.pause(false));
      await page.waitForFunction((n) => window.gradcamApp.camera.state().maps >= n, paused.maps + 2, { timeout: 30000 });
      await pressControl(page, 'Stop the camera');
      await page.waitForFunction(() => window.gradcamApp.camera.state().state === 'off', null, { timeout: 10000 });
      const stopped = await camera(page);
      assert.deepEqual(stopped.tracks, ['ended'], 'stop ends the camera\'s track');
      assert.equal((await page.evaluate(() => window.gradcamApp.lastResult())).image.name, 'camera frame');

      // A sample replaces the frame, and the camera can start again.
      await page.evaluate(() => window.gradcamApp.loadSample('dog.jpg'));
      await page.evaluate(() => window.gradcamApp.camera.start());
      assert.equal((await camera(page)).state, 'live');
      await page.evaluate(() => window.gradcamApp.loadSample('cat.jpg'));
      const afterSample = await camera(page);
      assert.equal(afterSample.state, 'off', 'choosing an image stops the camera');
      assert.deepEqual(afterSample.tracks, ['ended']);
      assert.equal((await page.evaluate(() => window.gradcamApp.lastResult())).image.name, 'cat.jpg');

      assert.deepEqual(await page.evaluate(() => window.__csp), []);
      assert.deepEqual(log.errors, []);
    } finally {
      await context.close();
    }
  });

  test('camera frames read as YUV (VideoFrame.copyTo) have the colours the browser\'s own conversion gives', T, async () => {
    const { context, page, log } = await explorer(site.browser, site.origin);
    try {
      const r = await page.evaluate(async () => {
        const { FrameGrabber, yuvImageData } = await import('./camera_frame.js');
        const meanDiff = (a, b) => {
          let sum = 0;
          for (let i = 0; i < a.length; i += 4) sum += Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]);
          return sum / (a.length / 4 * 3);
        };
        // The browser's conversion of the same frame, through a canvas.
        const compare = async (frame) => {
          const yuv = await yuvImageData(frame);
          const canvas = new FrameGrabber(4096).canvasImageData(frame, frame.displayWidth, frame.displayHeight);
          frame.close();
          return { size: [yuv.width, yuv.height, canvas.width, canvas.height], diff: meanDiff(yuv.data, canvas.data) };
        };
        // Frames of every layout and matrix the page reads, with chroma that varies in both
        // directions and differs between U and V (the fake camera's green has U = V = 0).
        const W = 64, H = 48;
        const made = {};
        for (const [format, matrix, fullRange] of [['NV12', 'smpte170m', false], ['I420', 'smpte170m', false], ['NV12', 'bt709', false], ['I420', 'bt709', true]]) {
          const bytes = new Uint8Array(W * H * 3 / 2);
          for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) bytes[y * W + x] = 30 + 3 * x;
          for (let y = 0; y < H / 2; y++) {
            for (let x = 0; x < W / 2; x++) {
              const u = 60 + 5 * x, v = 200 - 5 * y;
              if (format === 'NV12') {
                bytes[W * H + y * W + 2 * x] = u;
                bytes[W * H + y * W + 2 * x + 1] = v;
              } else {
                bytes[W * H + y * (W / 2) + x] = u;
                bytes[W * H * 5 / 4 + y * (W / 2) + x] = v;
              }
            }
          }
          const frame = new VideoFrame(bytes, { format, codedWidth: W, codedHeight: H, timestamp: 0,
            colorSpace: { matrix, fullRange, primaries: matrix, transfer: matrix === 'bt709' ? 'bt709' : 'smpte170m' } });
          made[`${format} ${matrix}${fullRange ? ' full' : ''}`] = await compare(frame);
        }
        // The fake camera: its frames are YUV, and the page's grabber reads them so.
        const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        const video = document.createElement('video');
        video.muted = true;
        video.srcObject = stream;
        await video.play();
        await new Promise((resolve) => video.requestVideoFrameCallback(resolve));
        const frame = new VideoFrame(video);
        const format = frame.format;
        const camera = await compare(frame);
        const grabber = new FrameGrabber(640);
        const grabbed = await grabber.grab(video);
        for (const t of stream.getTracks()) t.stop();
        return { made, format, camera, path: grabber.path, grabbed: [grabbed.width, grabbed.height] };
      });
      for (const [name, m] of Object.entries(r.made)) {
        assert.deepEqual(m.size, [64, 48, 64, 48], name);
        assert.ok(m.diff < 2, `${name}: mean difference from the browser's conversion ${m.diff} of 255`);
      }
      assert.match(r.format, /^(NV12|I420)$/, 'the fake camera\'s frames are YUV in memory');
      assert.deepEqual(r.camera.size, [640, 480, 640, 480]);
      assert.ok(r.camera.diff < 2, `the fake camera's frame: mean difference ${r.camera.diff}`);
      assert.equal(r.path, 'yuv', 'the page reads such frames without a canvas');
      assert.deepEqual(r.grabbed, [640, 480]);
      assert.deepEqual(log.errors, []);
    } finally {
      await context.close();
    }
  });

  test('a refused camera gives a message and the page keeps working', T, async () => {
    const refusing = await launchBrowser(['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
    try {
      const { page, log } = await explorer(refusing, site.origin);
      const error = await page.evaluate(() => window.gradcamApp.camera.start().then(() => null, (e) => e.message));
      assert.match(error ?? '', /camera was refused/);
      assert.match(await page.evaluate(() => window.gradcamApp.status), /camera was refused: allow it/);
      assert.equal((await camera(page)).state, 'off', 'the button is offered again');
      const r = await page.evaluate(() => window.gradcamApp.loadSample('dog.jpg'));
      assert.equal(r.image.name, 'dog.jpg');
      assert.deepEqual(log.errors, []);
    } finally {
      await refusing.close();
    }
  });
});
