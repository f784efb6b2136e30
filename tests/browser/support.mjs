// Shared set-up for the browser tests and the page benchmark: the real static server
// (tools/serve.mjs) on a free port, and Debian's Chromium driven by playwright-core, headless,
// with WebGL2 through SwiftShader: no GPU is needed (--use-angle=swiftshader with
// --enable-unsafe-swiftshader), and the background-networking flags keep Chromium from flooding a
// closed network with connections.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SITE = path.join(ROOT, 'build/site');
export const ARTIFACTS = path.join(ROOT, 'tests/artifacts');

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
  '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-default-apps', '--disable-extensions', '--mute-audio',
];

// Whether the site's model says it is trained (its safetensors __metadata__), read independently of
// the engine, so tests can state what the page must say about it.
export function siteModelTrained() {
  const bytes = fs.readFileSync(path.join(SITE, 'models/cifar10.safetensors'));
  const n = Number(bytes.readBigUInt64LE(0));
  const meta = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')).__metadata__ ?? {};
  return meta.trained === 'true';
}

export function siteMissing() {
  for (const f of ['index.html', 'embed.html', 'gradcam_app.wasm', 'widget.js', 'models/cifar10.safetensors']) {
    if (!fs.existsSync(path.join(SITE, f))) return `build/site/${f} is missing: run tools/build.sh first`;
  }
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing: apt-get install chromium`;
  return null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts tools/serve.mjs on build/site (or another folder with an index.html); resolves with
// {origin, close()}.
export async function startServer(root = SITE) {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'tools/serve.mjs'), '--port', String(port), '--root', root],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${log}`)), 10000);
    const onData = (d) => {
      log += d;
      if (log.includes('serving')) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}): ${log}`)); });
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { child.once('exit', resolve); child.kill(); }),
  };
}

// Chromium's fake camera (a moving pattern, 640x480 at 30 frames a second, no device needed),
// granted without a prompt: for the live camera's test and benchmark. Without the second flag a
// page's camera request is refused.
export const FAKE_CAMERA_ARGS = ['--use-fake-device-for-media-stream=fps=30', '--use-fake-ui-for-media-stream'];

// extraArgs: more Chromium flags, e.g. FAKE_CAMERA_ARGS.
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

// The site served as tools/serve.mjs serves it (startServer) and one headless Chromium
// (launchBrowser, with extraArgs), shared by the tests of the describe block that calls this:
// started by a before hook registered here (so the block's own before hooks, registered after it,
// find them running) and closed by an after hook, also when a before hook failed half-way. The
// object's `server`, `origin` and `browser` are set once that hook has run.
export function siteInChromium(extraArgs = []) {
  const site = { server: null, origin: null, browser: null };
  before(async () => {
    site.server = await startServer();
    site.origin = site.server.origin;
    site.browser = await launchBrowser(extraArgs);
  });
  after(async () => {
    if (site.browser) await site.browser.close();
    if (site.server) await site.server.close();
  });
  return site;
}

// A page that records every request, console error and page error. `foreign` lists requests
// that left the origin (anything but the origin itself, data: and blob: URLs).
export async function openPage(browser, origin, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  const log = { requests: [], foreign: [], errors: [], console: [] };
  page.on('request', (req) => {
    const url = req.url();
    log.requests.push(url);
    if (!url.startsWith(origin + '/') && !/^(data|blob):/.test(url)) log.foreign.push(url);
  });
  page.on('console', (msg) => {
    log.console.push(`${msg.type()}: ${msg.text()}`);
    if (msg.type() === 'error') log.errors.push(msg.text());
  });
  page.on('pageerror', (e) => log.errors.push(`pageerror: ${e.message}`));
  return { context, page, log };
}

export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

export const tmpdir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gradcam-browser-'));

// Drops the file served at `url` on the page's canvas as `name` (as a person drops a file from disk).
export function dropFile(page, url, name) {
  return page.evaluate(async ([u, n]) => {
    const blob = await (await fetch(u)).blob();
    const dt = new DataTransfer();
    dt.items.add(new File([blob], n));
    const target = document.getElementById('canvas');
    for (const t of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(t, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, [url, name]);
}

// A docs page embedding the widget, served at origin/file: `views` (<gradcam-view> elements) under
// a Content-Security-Policy as strict as a docs site's that allows the widget (its script, wasm and
// blob: images).
export const WIDGET_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' blob: data:; connect-src 'self'";
export function routeWidgetPage(page, origin, file, views) {
  return page.route(`${origin}/${file}`, (route) => route.fulfill({
    contentType: 'text/html',
    body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${WIDGET_CSP}">
<link rel="icon" href="data:,"><script type="module" src="widget.js"></script></head><body style="margin:0">
${views.join('\n')}
</body></html>`,
  }));
}

// On the explorer at origin (already routed as the test needs), drops the ONNX model served at
// mine/<name>.onnx, gives it `options` (mean, std) and drops mine/pattern.png; resolves once that
// image's map is drawn. `timeout` in ms for each wait.
export async function explainDroppedOnnx(page, origin, name, options, timeout = 60000) {
  const waitFor = (fn, arg) => page.waitForFunction(fn, arg, { timeout });
  await page.goto(`${origin}/index.html`);
  await waitFor(() => window.gradcamApp && window.gradcamApp.lastResult());
  await dropFile(page, `mine/${name}.onnx`, `${name}.onnx`);
  await waitFor((n) => window.gradcamApp.state().model_name === n, `${name}.onnx`);
  await page.evaluate((o) => window.gradcamApp.setModelOptions(o), options);
  await dropFile(page, 'mine/pattern.png', 'pattern.png');
  await waitFor(() => (window.gradcamApp.lastResult() || {}).image?.name === 'pattern.png');
  await waitFor(() => window.gradcamApp.state().idle);
}
