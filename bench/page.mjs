// Page benchmark (not a test: it never fails because something is slow). In headless Chromium
// (SwiftShader WebGL2, as the browser tests) on build/site, it measures:
//   - page load to first heat map: navigation start to the animation frame that first draws an
//     explanation (performance marks set by web/page.js), over --loads fresh page loads;
//   - recompute on a layer change and on a class change: gradcamApp.set() (the network on the
//     image's prepared input, the map to the GPU) and that call plus the next frame;
//   - a colormap change, which only redraws, for contrast;
//   - the live camera fed by Chromium's fake camera (a moving pattern): maps per second, the median
//     of --camera-seconds one-second windows after a second of warm-up, with the frames the camera
//     delivered and the app drew in the same windows, and the main thread's time per map spent
//     reading the frame as RGBA (VideoFrame.copyTo and a YUV conversion, or a canvas) and in the app
//     (prepare, explain, upload): what the maps would cost if drawing the app's frame were free.
// Usage: node bench/page.mjs [--loads 5] [--rounds 5] [--camera-seconds 5] [--json]     (after tools/build.sh)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { FAKE_CAMERA_ARGS, openPage } from '../tests/browser/support.mjs';
import { option, parseOptions, withSiteInChromium } from './common.mjs';

const siteDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../build/site');

const { loads, rounds, cameraSeconds, json: asJson } = parseOptions(process.argv.slice(2), {
  loads: option.count(5),
  rounds: option.count(5),
  'camera-seconds': option.count(5),
  json: option.flag(),
}, import.meta.url);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const fmt = (v) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

// The fake camera changes nothing else.
const out = await withSiteInChromium(import.meta.url, FAKE_CAMERA_ARGS, async ({ browser, server }) => {
  const run = { chromium: browser.version(), loads: [], recompute: {}, downloads: [] };
  for (let i = 0; i < loads; i++) {
    const { context, page } = await openPage(browser, server.origin);
    // What the page fetches before its first heat map (the first load's list is kept).
    const fetched = [];
    const onRequest = (req) => fetched.push(new URL(req.url()).pathname);
    page.on('request', onRequest);
    await page.goto(`${server.origin}/index.html`);
    await page.waitForFunction(() => performance.getEntriesByName('gradcam:first-heatmap').length > 0, null, { timeout: 60000 });
    run.loads.push(await page.evaluate(() => {
      const at = (name) => performance.getEntriesByName(name)[0].startTime;
      const nav = performance.getEntriesByType('navigation')[0];
      return { model_loaded: at('gradcam:model-loaded'), first_result: at('gradcam:first-result'),
        first_heatmap: at('gradcam:first-heatmap'), dom_content_loaded: nav.domContentLoadedEventEnd };
    }));
    page.off('request', onRequest);
    if (i === 0) run.downloads = [...new Set(fetched)];
    await context.close();
  }

  const { context, page } = await openPage(browser, server.origin);
  await page.goto(`${server.origin}/index.html`);
  await page.waitForFunction(() => performance.getEntriesByName('gradcam:first-heatmap').length > 0, null, { timeout: 60000 });
  run.recompute = await page.evaluate(async (n) => {
    const app = window.gradcamApp;
    const frame = () => new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
    const time = async (options) => {
      await frame();
      const t0 = performance.now();
      const r = app.set(options);
      const t1 = performance.now();
      const t2 = await frame();
      return { call: t1 - t0, to_frame: t2 - t0, engine: r.timings_ms.total };
    };
    const layers = app.info.conv_layers;
    const byLayer = Object.fromEntries(layers.map((l) => [l, []]));
    const cls = [], colormap = [];
    for (let round = 0; round < n; round++) {
      for (const l of layers) byLayer[l].push(await time({ layer: l }));
      await time({ layer: layers[layers.length - 1], target: 'auto' });
      for (const t of app.lastResult().top.map((c) => c.index)) cls.push(await time({ target: t }));
      await time({ target: 'auto' });
      for (const c of ['jet', 'viridis', 'inferno', 'turbo']) colormap.push(await time({ colormap: c }));
    }
    return { byLayer, cls, colormap };
  }, rounds);
  await context.close();

  // The live camera, on a fresh page of the same size.
  const cam = await openPage(browser, server.origin);
  await cam.page.goto(`${server.origin}/index.html`);
  await cam.page.waitForFunction(() => performance.getEntriesByName('gradcam:first-heatmap').length > 0, null, { timeout: 60000 });
  run.camera = await cam.page.evaluate(async (seconds) => {
    const app = window.gradcamApp;
    await app.camera.start();
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
    const sample = () => ({ t: performance.now(), ...app.camera.state(), frames: app.state().frames });
    await sleep(1000);  // warm-up: the first frames, the first maps
    const windows = [];
    let a = sample();
    for (let i = 0; i < seconds; i++) {
      await sleep(1000);
      const b = sample();
      const maps = b.maps - a.maps, s = (b.t - a.t) / 1000;
      windows.push({ maps_per_s: maps / s, drawn_per_s: (b.frames - a.frames) / s,
        grab_ms: maps ? (b.grabMs - a.grabMs) / maps : NaN, app_ms: maps ? (b.explainMs - a.explainMs) / maps : NaN });
      a = b;
    }
    const end = app.camera.state();
    app.camera.stop();
    return { windows, settings: end.settings, size: end.size, grab: end.grab, method: app.options.method, layer: app.options.layer };
  }, cameraSeconds);
  await cam.context.close();
  return run;
});

const summary = (runs) => ({
  call_ms: median(runs.map((r) => r.call)),
  to_frame_ms: median(runs.map((r) => r.to_frame)),
  engine_ms: median(runs.map((r) => r.engine)),
});
const result = {
  chromium: out.chromium,
  page_loads: loads,
  load: {
    first_heatmap_ms: median(out.loads.map((l) => l.first_heatmap)),
    first_result_ms: median(out.loads.map((l) => l.first_result)),
    model_loaded_ms: median(out.loads.map((l) => l.model_loaded)),
    dom_content_loaded_ms: median(out.loads.map((l) => l.dom_content_loaded)),
  },
  layer_change: Object.fromEntries(Object.entries(out.recompute.byLayer).map(([l, runs]) => [l, summary(runs)])),
  layer_change_all: summary(Object.values(out.recompute.byLayer).flat()),
  class_change: summary(out.recompute.cls),
  colormap_change: summary(out.recompute.colormap),
  camera: {
    seconds: cameraSeconds,
    method: out.camera.method,
    layer: out.camera.layer,
    camera: { width: out.camera.settings.width, height: out.camera.settings.height, frame_rate: out.camera.settings.frameRate },
    frame: out.camera.size,
    grab: out.camera.grab,
    maps_per_s: median(out.camera.windows.map((w) => w.maps_per_s)),
    drawn_per_s: median(out.camera.windows.map((w) => w.drawn_per_s)),
    grab_ms: median(out.camera.windows.map((w) => w.grab_ms)),
    app_ms: median(out.camera.windows.map((w) => w.app_ms)),
  },
};

// Bytes of those files as served, and gzipped (level 9) as a static host would send them.
result.downloads = out.downloads.map((p) => {
  const file = path.join(siteDir, decodeURIComponent(p === '/' ? '/index.html' : p));
  const bytes = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  return { path: p, bytes: bytes.length, gzip_bytes: zlib.gzipSync(bytes, { level: 9 }).length };
});
result.download_total = result.downloads.reduce((a, d) => ({ bytes: a.bytes + d.bytes, gzip_bytes: a.gzip_bytes + d.gzip_bytes }),
  { bytes: 0, gzip_bytes: 0 });

const lines = [];
lines.push(`Chromium ${result.chromium}, headless, SwiftShader WebGL2; medians of ${loads} page loads and ${rounds} rounds`);
lines.push('');
lines.push('| page load (from navigation start) | ms |');
lines.push('|---|---:|');
lines.push(`| DOMContentLoaded | ${fmt(result.load.dom_content_loaded_ms)} |`);
lines.push(`| model loaded into the app | ${fmt(result.load.model_loaded_ms)} |`);
lines.push(`| first explanation computed | ${fmt(result.load.first_result_ms)} |`);
lines.push(`| first heat map drawn | ${fmt(result.load.first_heatmap_ms)} |`);
lines.push('');
lines.push('| change | set() ms | to next frame ms | engine ms |');
lines.push('|---|---:|---:|---:|');
for (const [l, s] of Object.entries(result.layer_change)) lines.push(`| layer -> ${l} | ${fmt(s.call_ms)} | ${fmt(s.to_frame_ms)} | ${fmt(s.engine_ms)} |`);
const row = (name, s) => `| ${name} | ${fmt(s.call_ms)} | ${fmt(s.to_frame_ms)} | ${s.engine_ms === undefined ? '' : fmt(s.engine_ms)} |`;
lines.push(row('layer (all layers)', result.layer_change_all));
lines.push(row('class (top 5, last layer)', result.class_change));
lines.push(row('colormap (redraw only)', { ...result.colormap_change, engine_ms: undefined }));
lines.push('');
const c = result.camera;
lines.push(`| live camera (fake, ${c.camera.width}x${c.camera.height} at ${fmt(c.camera.frame_rate)} fps; frames grabbed at ${c.frame.width}x${c.frame.height}; ${c.method} at ${c.layer}) | median of ${c.seconds} s |`);
lines.push('|---|---:|');
lines.push(`| maps per second | ${fmt(c.maps_per_s)} |`);
lines.push(`| app frames drawn per second | ${fmt(c.drawn_per_s)} |`);
lines.push(`| grab ms per map (${c.grab === 'yuv' ? 'VideoFrame.copyTo + YUV to RGBA' : 'canvas drawImage + getImageData'}) | ${fmt(c.grab_ms)} |`);
lines.push(`| app ms per map (prepare, explain, upload) | ${fmt(c.app_ms)} |`);
lines.push(`| maps per second the grab and the app alone allow | ${fmt(1000 / (c.grab_ms + c.app_ms))} |`);
lines.push('');
lines.push('| downloaded before the first heat map | bytes | gzip -9 |');
lines.push('|---|---:|---:|');
for (const d of result.downloads) lines.push(`| ${d.path} | ${d.bytes} | ${d.gzip_bytes} |`);
lines.push(`| **total** | **${result.download_total.bytes}** | **${result.download_total.gzip_bytes}** |`);
if (asJson) {
  console.error(lines.join('\n'));
  console.log(JSON.stringify(result, null, 2));
} else {
  console.log(lines.join('\n'));
}
