// The benchmarks' one option parser (bench/common.mjs): a mistyped option, one without its value
// or a count that is not a positive whole number stops the benchmark with a message naming it
// (status 2) before anything is measured; --help prints the file's leading comment.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (script, ...args) => spawnSync(process.execPath, [path.join(root, 'bench', script), ...args],
  { encoding: 'utf8', timeout: 30000 });

// Every benchmark, with an option each of them takes.
const benchmarks = [['bench.mjs', '--iterations'], ['onnx.mjs', '--iterations'], ['threads.mjs', '--iterations'],
  ['memory.mjs', '--models'], ['page.mjs', '--loads'], ['wasm_threads.mjs', '--iterations'], ['onnx_threads.mjs', '--threads'], ['sanity.mjs', '--layer']];

test('every benchmark refuses a mistyped option, naming it and the options it has', () => {
  for (const [script, known] of benchmarks) {
    const r = run(script, '--iteration', '3');
    assert.equal(r.status, 2, `${script}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^bench/${script.replace('.', '\\.')}: unknown option --iteration; the options are .*${known}`));
    assert.equal(r.stdout, '');
  }
});

test('an option without its value, and a count that is not a positive whole number, are errors', () => {
  let r = run('threads.mjs', '--threads');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--threads needs a value/);
  for (const bad of ['0', '2.5', '1e3', 'two', '']) {
    r = run('threads.mjs', '--rounds', bad);
    assert.equal(r.status, 2, `--rounds ${JSON.stringify(bad)}`);
    assert.match(r.stderr, /--rounds must be a positive integer/);
  }
});

test('--help prints the benchmark\'s leading comment, without the #! line', () => {
  const r = run('onnx.mjs', '--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^Benchmark \(not a test\): the engine on PyTorch-exported ONNX models/);
  assert.match(run('sanity.mjs', '-h').stdout, /^The model-randomisation sanity check/);
});
