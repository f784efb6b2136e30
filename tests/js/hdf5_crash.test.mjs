// A file that crashes the HDF5 library gives one clear error everywhere, and whatever read it goes
// on working. The input (found by fuzz_keras, now one of its regressions) sends Debian 12's
// libhdf5 1.10.8 out of bounds in H5HG_read; natively the library reads in a child process
// (engine/src/formats/keras_hdf5_child.cpp), and h5wasm's exceptions become the same words in JS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { root, nativeCli, siteModule, requireBuilt, run, tempDir } from './support.mjs';

const crash = path.join(root, 'tests/fuzz/regressions/keras/hdf5-vlen-global-heap-overlap.h5');
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
