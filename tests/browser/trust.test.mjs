// "Can I trust this?" in the explorer: deletion and insertion curves for the explanation on
// screen, live occlusion that follows the patch, and the sanity check's randomisation steps.
// Engine times are printed (they are measurements), never asserted.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { openPage, screenshot, siteInChromium, siteMissing } from './support.mjs';

const T = { timeout: 120000 };

describe('explorer: can I trust this?', { skip: siteMissing() || false }, () => {
  const site = siteInChromium();
  let p;

  before(async () => {
    p = await openPage(site.browser, site.origin, { viewport: { width: 1280, height: 800 } });
    await p.page.goto(`${site.origin}/index.html`);
    await p.page.waitForFunction(() => window.gradcamApp && window.gradcamApp.lastResult(), null, { timeout: 60000 });
  });

  const trust = () => p.page.evaluate(() => window.gradcamApp.trust.state());

  test('the window measures the explanation on screen, and again when it changes', T, async () => {
    const { page } = p;
    await page.evaluate(() => window.gradcamApp.set({ layer: 'conv2d_6', method: 'gradcam' }));
    await page.evaluate(() => window.gradcamApp.trust.show(true));
    await page.waitForFunction(() => window.gradcamApp.trust.state().deletion, null, { timeout: 30000 });
    const r = await page.evaluate(() => window.gradcamApp.lastResult());
    const s = await trust();
    assert.equal(s.open, true);
    assert.equal(s.deletion.probability.length, 33);  // 32 steps and the untouched image
    assert.ok(Math.abs(s.deletion.probability[0] - r.target.probability) < 1e-6, 'the curve starts at the class probability');
    assert.ok(s.deletion.auc >= 0 && s.deletion.auc <= 1 && s.insertion.auc >= 0 && s.insertion.auc <= 1);
    console.log(`# deletion ${s.deletion.auc.toFixed(3)}, insertion ${s.insertion.auc.toFixed(3)}: both curves in ${s.curves_ms.toFixed(0)} ms (engine, wasm)`);
    // Another method: the curves follow it.
    await page.evaluate(() => window.gradcamApp.set({ method: 'random-noise' }));
    await page.waitForFunction((auc) => {
      const d = window.gradcamApp.trust.state().deletion;
      return d && d.auc !== auc;
    }, s.deletion.auc, { timeout: 30000 });
    const random = await trust();
    assert.ok(random.deletion.auc > s.deletion.auc, `random ${random.deletion.auc} vs Grad-CAM ${s.deletion.auc}`);
    await page.evaluate(() => window.gradcamApp.set({ method: 'gradcam' }));
  });

  test('occlusion: the probabilities follow the patch, beside what the map predicted', T, async () => {
    const { page } = p;
    const r = await page.evaluate(() => window.gradcamApp.lastResult());
    const seen = [];
    for (const [x, y] of [[0, 0], [12, 12], [24, 24]]) {
      await page.evaluate(([a, b]) => window.gradcamApp.trust.occlude(a, b), [x, y]);
      const o = (await trust()).occlusion;
      assert.deepEqual([o.x, o.y, o.size], [x, y, 8]);
      assert.ok(o.map_share >= 0 && o.map_share <= 1);
      const occluded = o.top.find((c) => c.index === r.target.index);
      if (occluded) assert.ok(Math.abs(r.target.probability - occluded.probability - o.drop) < 1e-6, 'drop = before - after');
      seen.push(o);
      console.log(`# patch at ${x},${y}: drop ${(100 * o.drop).toFixed(1)} points, map share ${(100 * o.map_share).toFixed(1)}%, ${o.ms.toFixed(1)} ms per move`);
    }
    assert.notDeepEqual(seen[0].top, seen[1].top, 'moving the patch changes the probabilities');
    // Out of range: clamped to the input, not an error.
    await page.evaluate(() => window.gradcamApp.trust.occlude(99, -5));
    const o = (await trust()).occlusion;
    assert.deepEqual([o.x, o.y], [24, 0]);
    await screenshot(page, 'app-trust-occlusion.png');
  });

  test('the sanity check randomises every layer with weights from the top and compares the maps', T, async () => {
    const { page } = p;
    await page.evaluate(() => window.gradcamApp.trust.sanityCheck());
    const s = (await trust()).sanity;
    const layers = s.steps.map((step) => step.layer);
    assert.equal(layers[0], 'dense_2');
    assert.equal(layers.at(-1), 'conv2d');
    assert.equal(layers.length, 14);  // 9 conv, 2 batch norm, 3 dense
    for (const step of s.steps) assert.ok(step.spearman >= -1 && step.spearman <= 1);
    console.log(`# sanity check: ${layers.length} steps in ${s.ms.toFixed(0)} ms; last Spearman ${s.steps.at(-1).spearman.toFixed(2)}`);
    await page.waitForFunction((n) => window.gradcamApp.state().frames > n, await page.evaluate(() => window.gradcamApp.state().frames), { timeout: 10000 });
    await screenshot(page, 'app-trust-sanity.png');
    assert.deepEqual(p.log.errors, []);
  });
});
