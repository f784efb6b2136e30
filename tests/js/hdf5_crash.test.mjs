// A file that crashes the HDF5 library gives one clear error everywhere, and whatever read it goes
// on working. The input (found by fuzz_keras, now one of its regressions) sends Debian 12's
// libhdf5 1.10.8 out of bounds in H5HG_read; natively the library reads in a child process
// (engine/src/formats/keras_hdf5_child.cpp), and h5wasm's exceptions become the same words in JS.
// Another sends HDF5 (h5wasm too) into an endless loop: the JS API reads in a worker, which it
// terminates after hdf5Timeout seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { root, nativeCli, siteModule, requireBuilt, run, tempDir } from './support.mjs';

const crash = path.join(root, 'tests/fuzz/regressions/keras/hdf5-vlen-global-heap-overlap.h5');
const loop = path.join(root, 'tests/fuzz/regressions/keras/hdf5-vlen-global-heap-endless-loop.h5');
const good = path.join(root, 'tests/fuzz/corpus/keras/whole.h5');
const FAILED = 'the HDF5 library failed on this file';

test('the native CLI refuses a file that crashes libhdf5 with one line (exit 1), in every command that reads it', () => {
  requireBuilt(nativeCli);
  const out = path.join(tempDir('gradcam-hdf5-crash-'), 'm.safetensors');
  for (const args of [['info', '--model', crash], ['import-keras', crash, '--out', out]]) {
    const r = run(nativeCli, args);
    assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
    assert.equal(r.stderr,
      `gradcam ${args[0]}: ${crash}: ${FAILED} (killed by signal 11): it is damaged or not a Keras file\n`);
  }
  assert.ok(!fs.existsSync(out));
});

test('the JS API rejects it with one clear error and loads the next Keras file', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  for (const model of [crash, new Uint8Array(fs.readFileSync(crash))]) {
    await assert.rejects(loadEngine({ model }), (e) => {
      assert.ok(e.message.startsWith(`${typeof model === 'string' ? model : 'model'}: ${FAILED} (`), e.message);
      assert.ok(e.message.endsWith('): it is damaged or not a Keras file'), e.message);
      return true;
    });
  }
  const engine = await loadEngine({ model: good });
  // whole.h5's config is a chain; every layer with a map output can be explained (README, Keras).
  assert.deepEqual(engine.info.conv_layers, ['conv2d', 'max_pooling2d', 'batch_normalization']);
  engine.dispose();
});

test('the JS API gives up on a file that sends HDF5 into an endless loop after hdf5Timeout, and reads the next file', async () => {
  requireBuilt(siteModule);
  const { loadEngine } = await import(siteModule);
  const started = Date.now();
  await assert.rejects(loadEngine({ model: loop, hdf5Timeout: 2 }), (e) => {
    assert.equal(e.message, `${loop}: reading this HDF5 file did not finish within 2 s: it is damaged or not a Keras file`);
    return true;
  });
  // Two seconds of reading plus the worker's start; far below the 60 s default.
  assert.ok(Date.now() - started < 30000, `gave up after ${Date.now() - started} ms`);
  const engine = await loadEngine({ model: good, hdf5Timeout: 30 });
  assert.deepEqual(engine.info.conv_layers, ['conv2d', 'max_pooling2d', 'batch_normalization']);
  engine.dispose();
  // The option is checked as every other: by name, and as seconds (an hour at most: 60000 is ms).
  await assert.rejects(loadEngine({ model: good, hdf5timeout: 5 }), /loadEngine: unknown option "hdf5timeout" \(valid: .*hdf5Timeout/);
  for (const bad of [0, -1, 60000, '5', NaN]) {
    await assert.rejects(loadEngine({ model: good, hdf5Timeout: bad }),
      /^Error: hdf5Timeout must be a number of seconds, more than 0 and at most 3600, not /, String(bad));
  }
});
