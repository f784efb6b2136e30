#!/usr/bin/env node
// Benchmark (not a test): the native engine with 2 threads against 1 (`--threads`), side by side in
// one run. See bench/README.md.
//
//   node bench/threads.mjs [--models seed,resnet18,mobilenet_v2] [--methods gradcam,scorecam,smoothgrad]
//                          [--threads 2] [--rounds N] [--iterations N] [--method-iterations N]
//                          [--fixtures DIR] [--cli F] [--json]
//
// Per model: the forward pass and whole explanations (Grad-CAM, Score-CAM, SmoothGrad at the
// model's default layer) timed in-process by `gradcam bench --threads 1` and `--threads N`. The two
// alternate, one process each per round, so a slow spell of a shared machine lands on both; each
// cell is the median over the rounds of each process's median. speed-up = 1 thread / N threads.
// With scorecam, one more row: Score-CAM's time over (the layer's channels x one warm forward), the
// forwards timed as one span of as many (gradcam bench's `forward x channels`), each thread count
// against its own forwards (below 1: a masked pass costs less than a forward; the JSON adds N
// threads' Score-CAM against the 1-thread forwards).
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { option, parseOptions } from './common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  return parseOptions(argv, {
    models: option.list(['seed', 'resnet18', 'mobilenet_v2']),
    methods: option.list(['gradcam', 'scorecam', 'smoothgrad']),
    threads: option.count(2),
    rounds: option.count(3),
    iterations: option.count(20),
    'method-iterations': option.count(2),
    fixtures: option.path(path.join(ROOT, 'build/onnx-fixtures')),
    cli: option.path(path.join(ROOT, 'build/native/gradcam')),
    json: option.flag(),
  }, import.meta.url);
}

// The seed network is the shipped model file; the others are the ONNX fixtures (tools/onnx_fixtures.py).
function modelFile(name, o) {
  return name === 'seed' ? path.join(ROOT, 'assets/models/cifar10.safetensors') : path.join(o.fixtures, `${name}.onnx`);
}

function benchOnce(file, threads, o) {
  const args = ['bench', '--model', file, '--threads', String(threads), '--iterations', String(o.iterations),
    '--methods', o.methods.join(','), '--method-iterations', String(o.methodIterations), '--json'];
  const r = spawnSync(o.cli, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${o.cli} ${args.join(' ')}: ${(r.stderr || '').trim()}`);
  return JSON.parse(r.stdout);
}

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];

function main() {
  const o = parseArgs(process.argv.slice(2));
  const rowsWanted = ['forward', ...o.methods.map((m) => `explain ${m}`)];
  if (o.methods.includes('scorecam')) rowsWanted.push('forward x channels');
  const results = [];
  for (const name of o.models) {
    const file = modelFile(name, o);
    const samples = { 1: {}, [o.threads]: {} };
    for (let round = 0; round < o.rounds; round++) {
      for (const threads of round % 2 ? [o.threads, 1] : [1, o.threads]) {
        const j = benchOnce(file, threads, o);
        for (const row of rowsWanted) (samples[threads][row] ??= []).push(j[row].median_ms);
        process.stderr.write(`${name}: round ${round + 1}/${o.rounds}, ${threads} thread(s) done\n`);
      }
    }
    for (const row of rowsWanted) {
      if (row === 'forward x channels') continue;
      const one = median(samples[1][row]), many = median(samples[o.threads][row]);
      results.push({ model: name, work: row, one_thread_ms: one, threads_ms: many, speedup: one / many });
    }
    if (o.methods.includes('scorecam')) {
      const scorecam = (t) => median(samples[t]['explain scorecam']);
      const forwards = (t) => median(samples[t]['forward x channels']);
      results.push({ model: name, work: 'Score-CAM / (channels x forward)', ratio: true,
        one_thread_ms: scorecam(1) / forwards(1), threads_ms: scorecam(o.threads) / forwards(o.threads),
        threads_against_one_thread_forward: scorecam(o.threads) / forwards(1) });
    }
  }
  if (o.json) {
    console.log(JSON.stringify({ threads: o.threads, rounds: o.rounds, results }, null, 1));
    return;
  }
  const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));
  console.log(`| model | work | 1 thread ms | ${o.threads} threads ms | speed-up |`);
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) {
    if (r.ratio) console.log(`| ${r.model} | ${r.work} | ${r.one_thread_ms.toFixed(2)} | ${r.threads_ms.toFixed(2)} | - |`);
    else console.log(`| ${r.model} | ${r.work} | ${fmt(r.one_thread_ms)} | ${fmt(r.threads_ms)} | ${r.speedup.toFixed(2)}x |`);
  }
}

main();
