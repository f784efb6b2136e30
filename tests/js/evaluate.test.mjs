// gradcam evaluate on the shipped model and its sample images: the JSON the issue specifies, the
// CSV, and the fact the metrics exist to show: Grad-CAM's order beats the random-noise baseline's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { nativeCli, requireBuilt, root, run, shippedModel, tempDir, wasmCli } from './support.mjs';

requireBuilt(nativeCli);
const samples = path.join(root, 'assets/samples');

test('evaluate: Grad-CAM beats the random-noise baseline on deletion and insertion, natively and in wasm', () => {
  const dir = tempDir();
  const csv = path.join(dir, 'metrics.csv');
  const r = run(nativeCli, ['evaluate', '--model', shippedModel, '--data', samples, '--methods', 'gradcam,random-noise', '--json', '--csv', csv]);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.images, 10);
  assert.deepEqual(Object.keys(j.methods), ['gradcam', 'random-noise']);
  for (const m of Object.values(j.methods)) {
    assert.deepEqual(Object.keys(m), ['deletion_auc', 'insertion_auc', 'road_morf', 'road_lerf', 'confidence_change']);
    for (const k of ['deletion_auc', 'insertion_auc', 'road_morf', 'road_lerf']) assert.ok(m[k] >= 0 && m[k] <= 1, k);
  }
  assert.ok(j.methods.gradcam.deletion_auc < j.methods['random-noise'].deletion_auc);
  assert.ok(j.methods.gradcam.insertion_auc > j.methods['random-noise'].insertion_auc);
  const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'method,deletion_auc,insertion_auc,road_morf,road_lerf,confidence_change');
  assert.match(lines[1], /^gradcam,0\.\d{6},/);
  // The CSV is a person's file once written: not replaced without --overwrite.
  const again = run(nativeCli, ['evaluate', '--model', shippedModel, '--data', samples, '--methods', 'gradcam', '--csv', csv]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /metrics\.csv: already exists \(pass --overwrite to replace it\)/);
  // The wasm CLI computes the same numbers, up to float rounding.
  const w = run(wasmCli, ['evaluate', '--model', shippedModel, '--data', samples, '--methods', 'gradcam,random-noise', '--json', '--limit', '10']);
  assert.equal(w.status, 0, w.stderr);
  const jw = JSON.parse(w.stdout);
  for (const [method, m] of Object.entries(j.methods)) {
    for (const [k, v] of Object.entries(m)) assert.ok(Math.abs(jw.methods[method][k] - v) < 1e-3, `${method}.${k}: ${jw.methods[method][k]} vs ${v}`);
  }
  assert.match(run(nativeCli, ['evaluate', '--model', shippedModel, '--data', samples, '--methods', 'gradcam,magic']).stderr,
    /unknown method "magic"/);
});

test('the text table keeps its columns when a method name is longer than the header (integrated-gradients)', () => {
  const r = run(nativeCli, ['evaluate', '--model', shippedModel, '--data', samples, '--limit', '1', '--methods', 'gradcam,integrated-gradients']);
  assert.equal(r.status, 0, r.stderr);
  // After the summary line: the header, the better-direction line and one row per method, all as
  // wide as the name column plus the metric columns.
  const lines = r.stdout.trimEnd().split('\n').slice(1);
  assert.equal(lines.length, 4, r.stdout);
  assert.ok(lines[3].startsWith('integrated-gradients '), lines[3]);
  assert.deepEqual(lines.map((l) => l.length), lines.map(() => lines[0].length), r.stdout);
});
