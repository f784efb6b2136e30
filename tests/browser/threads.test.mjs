// Threads in the browser: the site as tools/serve.mjs serves it is cross-origin isolated, and there
// the JS API runs the threaded core (gradcam_core_threads) with the same answers, bit for bit, as
// the single-threaded one; a page served without the isolation headers (most hosts) gets the
// single-threaded core, with no error, and its widget works as before.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { SITE, openPage, siteInChromium, siteMissing, startServer, tmpdir } from './support.mjs';

const missing = siteMissing();
const T = { timeout: 120000 };

// In the page: the shipped model on n threads and on one, each explaining a sample with several
// methods; every array as plain numbers, so that the test compares them exactly.
async function explainBoth(n) {
  const { loadEngine } = await import('./gradcam.mjs');
  const many = await loadEngine({ threads: n });
  const one = await loadEngine({ threads: 1 });
  const bytes = new Uint8Array(await (await fetch('samples/cat.jpg')).arrayBuffer());
  const image = one.decode(bytes);
  const requests = [{ layer: 'conv2d_6', method: 'gradcam' }, { layer: 'conv2d_2', method: 'gradcam++' },
    { layer: 'conv2d_6', method: 'scorecam' }, { method: 'smoothgrad', samples: 4 }];
  const runs = (engine) => requests.map((request) => {
    const r = engine.explain(image, request);
    return { method: r.method, cam: [...r.cam.data], probabilities: [...r.probabilities], logits: [...r.logits] };
  });
  const predicted = (engine) => [...engine.predict(image).probabilities];
  return {
    threads: [many.threads, one.threads],
    isolated: globalThis.crossOriginIsolated,
    many: runs(many), one: runs(one),
    predictMany: predicted(many), predictOne: predicted(one),
  };
}

describe('threads', { skip: missing || false }, () => {
  const site = siteInChromium();

  test('tools/serve.mjs sends the isolation headers: the JS API runs threaded, with the single-threaded core\'s answers bit for bit', T, async () => {
    const { context, page, log } = await openPage(site.browser, site.origin);
    const response = await page.goto(`${site.origin}/embed.html`);
    assert.equal(response.headers()['cross-origin-opener-policy'], 'same-origin');
    assert.equal(response.headers()['cross-origin-embedder-policy'], 'require-corp');
    // The page's widgets (default threads: the browser's cores, at most 8) draw on the threaded core.
    await page.waitForFunction(() => [...document.querySelectorAll('gradcam-view')].every((w) => w.result), null, { timeout: 60000 });
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const r = await page.evaluate(explainBoth, 2);
    assert.equal(r.isolated, true);
    assert.deepEqual(r.threads, [2, 1]);
    for (let i = 0; i < r.one.length; ++i) {
      assert.equal(r.many[i].method, r.one[i].method);
      assert.deepEqual(r.many[i].cam, r.one[i].cam, `${r.one[i].method}: the same map on 2 threads as on 1`);
      assert.deepEqual(r.many[i].probabilities, r.one[i].probabilities, `${r.one[i].method}: the same probabilities`);
      assert.deepEqual(r.many[i].logits, r.one[i].logits);
    }
    assert.deepEqual(r.predictMany, r.predictOne);
    const defaultThreads = await page.evaluate(async () => (await (await import('./gradcam.mjs')).loadEngine()).threads);
    assert.equal(defaultThreads, Math.min(cores, 8));
    if (cores > 1) assert.ok(log.requests.some((u) => u.endsWith('/gradcam_core_threads.wasm')), 'the widgets loaded the threaded core');
    assert.deepEqual(log.errors, []);
    await context.close();
  });

  test('a page served without the headers gets the single-threaded core: its widget works, threads is 1, no error', T, async () => {
    const { context, page, log } = await openPage(site.browser, site.origin);
    // Served by the test, without Cross-Origin-Opener-Policy / -Embedder-Policy, as most hosts do.
    await page.route(`${site.origin}/plain.html`, (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="widget.js"></script></head><body><gradcam-view src="samples/cat.jpg" layer="conv2d_6"></gradcam-view></body></html>`,
    }));
    await page.goto(`${site.origin}/plain.html`);
    await page.waitForFunction(() => document.querySelector('gradcam-view').result, null, { timeout: 60000 });
    const result = await page.evaluate(() => document.querySelector('gradcam-view').result);
    assert.equal(result.layer, 'conv2d_6');
    const r = await page.evaluate(async () => {
      const { loadEngine } = await import('./gradcam.mjs');
      return { isolated: globalThis.crossOriginIsolated, threads: (await loadEngine({ threads: 4 })).threads };
    });
    assert.deepEqual(r, { isolated: false, threads: 1 });
    assert.ok(!log.requests.some((u) => u.includes('gradcam_core_threads')), 'the threaded core is not downloaded');
    assert.deepEqual(log.errors, []);
    await context.close();
  });

  test('the explorer served isolated runs the threaded app on the cores, with the maps of the page served without the headers', T, async () => {
    // The explorer at `file`: its maps for a few methods, each as plain numbers, and its threads.
    // `body`: the test serves that page itself, without Cross-Origin-Opener-Policy / -Embedder-Policy.
    const run = async (file, body) => {
      const { context, page, log } = await openPage(site.browser, site.origin);
      if (body) await context.route(`${site.origin}/${file}`, (route) => route.fulfill({ contentType: 'text/html', body }));
      await page.goto(`${site.origin}/${file}`);
      const r = await page.evaluate(async () => {
        await gradcamApp.ready;
        const out = [];
        for (const options of [{ method: 'gradcam', layer: 'conv2d_6' }, { method: 'scorecam', layer: 'conv2d_6' },
          { method: 'smoothgrad' }]) {
          const result = gradcamApp.set(options);
          out.push({ method: result.method, top: result.top, map: [...gradcamApp.map().values] });
        }
        return { isolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency, threads: gradcamApp.state().threads, out };
      });
      await context.close();
      return { ...r, requests: log.requests, errors: log.errors };
    };
    const isolated = await run('index.html');
    assert.equal(isolated.isolated, true);
    assert.equal(isolated.threads, Math.min(isolated.cores, 8), 'the app runs on the browser\'s cores, at most 8');
    if (isolated.cores > 1) {
      assert.ok(isolated.requests.some((u) => u.endsWith('/gradcam_app_threads.wasm')), 'the threaded app was loaded');
      assert.ok(!isolated.requests.some((u) => /\/gradcam_app\.(mjs|wasm)$/.test(u)), 'and the plain one was not');
    }
    assert.deepEqual(isolated.errors, []);
    const plain = await run('plain-index.html', fs.readFileSync(path.join(SITE, 'index.html'), 'utf8'));
    assert.deepEqual([plain.isolated, plain.threads], [false, 1]);
    assert.ok(!plain.requests.some((u) => u.includes('gradcam_app_threads')), 'the threaded app is not downloaded');
    assert.deepEqual(plain.errors, []);
    for (let i = 0; i < plain.out.length; ++i) {
      assert.equal(isolated.out[i].method, plain.out[i].method);
      assert.deepEqual(isolated.out[i].top, plain.out[i].top, `${plain.out[i].method}: the same top classes`);
      assert.deepEqual(isolated.out[i].map, plain.out[i].map, `${plain.out[i].method}: the same map, bit for bit`);
    }
  });

  test('an isolated page whose threaded core lacks its Worker script: loadEngine rejects naming the file, and does not hang', T, async () => {
    // The site as built, less gradcam_core_threads.worker.js, served with the isolation headers.
    const dir = tmpdir();
    fs.cpSync(SITE, dir, { recursive: true });
    fs.rmSync(path.join(dir, 'gradcam_core_threads.worker.js'));
    fs.writeFileSync(path.join(dir, 'blank.html'), '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body></body></html>');
    const server = await startServer(dir);
    try {
      const { context, page } = await openPage(site.browser, server.origin);
      await page.goto(`${server.origin}/blank.html`);
      const r = await page.evaluate(async () => {
        const { loadEngine } = await import('./gradcam.mjs');
        const outcome = (p) => p.then((e) => ({ threads: e.threads }), (e) => ({ error: e.message }));
        // Before the fix the threaded core's promise never settled: 30 s says so in the result.
        const hung = new Promise((resolve) => setTimeout(() => resolve({ hung: true }), 30000));
        return { isolated: globalThis.crossOriginIsolated, two: await Promise.race([outcome(loadEngine({ threads: 2 })), hung]),
          one: await outcome(loadEngine({ threads: 1 })) };
      });
      assert.equal(r.isolated, true);
      assert.match(r.two.error ?? JSON.stringify(r.two),
        /^loadEngine: the threaded core's Worker script http:\/\/127\.0\.0\.1:\d+\/gradcam_core_threads\.worker\.js could not be loaded \(HTTP 404\): serve gradcam_core_threads\.worker\.js beside gradcam_core_threads\.mjs, or load with threads: 1$/);
      assert.deepEqual(r.one, { threads: 1 }, 'one thread still loads on that page');
      await context.close();
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a mistyped thread count is an error naming the option', T, async () => {
    const { context, page } = await openPage(site.browser, site.origin);
    await page.goto(`${site.origin}/embed.html`);
    const messages = await page.evaluate(async () => {
      const { loadEngine } = await import('./gradcam.mjs');
      const out = [];
      for (const threads of [0, 2.5, '2', 65]) {
        try { await loadEngine({ threads }); out.push(null); } catch (e) { out.push(e.message); }
      }
      return out;
    });
    for (const m of messages) assert.match(m ?? '', /^loadEngine: threads must be a whole number from 1 to 64, not /);
    await context.close();
  });
});
