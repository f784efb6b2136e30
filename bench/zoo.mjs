#!/usr/bin/env node
// Benchmark (not a test): the README's table of the torchvision zoo, one row per model, printed as
// markdown on stdout (progress on stderr). See bench/README.md.
//
//   node bench/zoo.mjs [--models all|a,b,...] [--max-mb N] [--iterations N] [--wasm]
//                      [--agreement FILE | --no-check] [--wasm-agreement FILE] [--no-export]
//                      [--native F] [--wasm-cli F]
//
// Models come from tools/onnx_zoo.py (exported into build/onnx-zoo when missing; --models all, the
// default, is the whole zoo; --max-mb N leaves out files over N MB, listed as such; --no-export
// takes the folder as it is, a model not in it is "not exported yet"). Per model:
// - loads: yes, or the engine's refusal in short (the CLI's error);
// - default layer: the node the engine explains when no --layer is given;
// - agreement: the worst |engine - PyTorch| over the Grad-CAM, HiResCAM and LayerCAM maps at the
//   default and an earlier layer, relative to each map's maximum, by the zoo test's rules
//   (tests/js/onnx_zoo.mjs; "ill-conditioned" where a map moves that far under a 1e-6 relative
//   change of the input). --agreement FILE takes them from a zoo test run's record
//   (build/onnx-zoo/results-native.json) instead of comparing again; --no-check leaves them out;
// - load: the wall time of `gradcam info` (read and check the file, no pass), and its peak memory
//   (max RSS by /usr/bin/time -v): what loading the model costs;
// - forward and Grad-CAM: medians of `gradcam bench --iterations N` (default 3) at the default
//   layer, natively (the machine's cores), and in wasm with --wasm (one thread, under Node);
//   --iterations 0 takes the one `explain` run's own timings instead (forward; forward + backward
//   + map), for a first look at the whole zoo;
// - explain peak: max RSS of `gradcam explain` (Grad-CAM at the default layer) by /usr/bin/time -v;
// - with --wasm-agreement FILE (a zoo test run's wasm record, build/onnx-zoo/results-wasm.json):
//   the wasm CLI's worst Grad-CAM difference from PyTorch at both layers, whether the JS API's maps
//   equalled the wasm CLI's, and that run's own wasm forward and Grad-CAM times (one thread).
// The load average before and after is printed under the table: timings from a loaded machine
// are marked as such.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { printHelpAndExit } from './common.mjs';
import { crosscheck, exportZoo, IMAGE, METHODS, shortError, ZOO_DIR, zooList } from '../tests/js/onnx_zoo.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  const o = {
    models: 'all', maxMb: Infinity, iterations: 3, wasm: false, agreement: null, wasmAgreement: null, check: true, export: true,
    native: path.join(ROOT, 'build/native/gradcam'), wasmCli: path.join(ROOT, 'build/wasm/gradcam.js'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const number = (v) => {
      if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`${a} takes a number, not ${v}`);
      return Number(v);
    };
    if (a === '--models') o.models = value();
    else if (a === '--max-mb') o.maxMb = number(value());
    else if (a === '--iterations') o.iterations = number(value());
    else if (a === '--wasm') o.wasm = true;
    else if (a === '--agreement') { o.agreement = path.resolve(value()); o.check = false; }
    else if (a === '--wasm-agreement') o.wasmAgreement = path.resolve(value());
    else if (a === '--no-check') o.check = false;
    else if (a === '--no-export') o.export = false;
    else if (a === '--native') o.native = path.resolve(value());
    else if (a === '--wasm-cli') o.wasmCli = path.resolve(value());
    else if (a === '-h' || a === '--help') printHelpAndExit(import.meta.url);
    else throw new Error(`unknown option ${a} (--help)`);
  }
  return o;
}

// The manifest as it is (--no-export).
function readManifest() {
  const file = path.join(ZOO_DIR, 'manifest.json');
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { models: {} };
}

// Runs a command under /usr/bin/time -v: its result, wall seconds and max RSS in MiB.
function timed(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error) throw new Error(`/usr/bin/time: ${r.error.message} (apt-get install time)`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(r.stderr);
  return {
    // time's own report (and its "Command exited with non-zero status" line) is not the program's.
    status: r.status, stdout: r.stdout,
    stderr: r.stderr.split('\n\tCommand being timed')[0].replace(/\n?Command exited with non-zero status \d+$/, ''),
    rssMiB: rss ? Number(rss[1]) / 1024 : NaN,
    wallS: wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : NaN,
  };
}

function benchCli(cli, entry, file, iterations) {
  const isJs = cli.endsWith('.js');
  const args = ['bench', '--model', file, '--image', IMAGE, '--mean', entry.mean.join(','), '--std', entry.std.join(','),
    '--iterations', String(iterations), '--json', ...(isJs ? ['--threads', '1'] : [])];
  const r = spawnSync(isJs ? process.execPath : cli, isJs ? [cli, ...args] : args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return { error: shortError(r.stderr ?? '') || `exit ${r.status}` };
  const rows = JSON.parse(r.stdout);
  const gradcam = Object.keys(rows).find((k) => k.startsWith('gradcam '));
  return { forward: rows.forward?.median_ms, gradcam: gradcam ? rows[gradcam].median_ms : NaN };
}

const ms = (v) => (v === undefined || Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toPrecision(3));

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { families, left_out: leftOut } = zooList();
  const all = Object.values(families).flat();
  const names = o.models === 'all' ? all : o.models.split(',');
  for (const n of names) if (!all.includes(n)) throw new Error(`--models: unknown model ${n}`);
  const load0 = os.loadavg()[0];
  const started = new Date();
  // Read again for every row: a zoo test running meanwhile records its results as it goes.
  const read = (file) => (file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
  const recorded = () => read(o.agreement);
  const agreement = (a) => {
    if (!a) return '-';
    if (a.problems.length) return `**fails** (${a.problems.length}: ${a.problems[0].slice(0, 80)})`;
    return `${a.worst.toExponential(1)}${a.ill.length ? ` (${a.ill.length} ill-conditioned)` : ''}`;
  };
  const head = ['model', 'family', 'file MB', 'loads', 'default layer', 'worst map diff / max vs PyTorch',
    'load s', 'load peak MiB', 'forward ms', 'Grad-CAM ms', ...(o.wasm ? ['wasm forward ms', 'wasm Grad-CAM ms'] : []),
    'explain peak MiB', ...(o.wasmAgreement ? ['wasm Grad-CAM diff / max (JS API)', 'wasm forward ms (test run)', 'wasm Grad-CAM ms (test run)'] : [])];
  const wasmCells = (name) => {
    const w = read(o.wasmAgreement)[name];
    if (!w) return ['-', '-', '-'];
    const js = w.jsMaps ? `; JS API equal (${w.jsMaps} maps)` : '';
    return [agreement(w) + js, ms(w.timings?.forward), ms(w.timings?.gradcam)];
  };
  // Row by row as measured (the whole zoo takes hours), the load average at the end.
  console.log(`| ${head.join(' | ')} |\n| ${head.map(() => '---').join(' | ')} |`);
  for (const name of names) {
    if (!(name in leftOut) && o.export) process.stderr.write(`zoo: ${name}: exporting if missing (${path.relative(ROOT, ZOO_DIR)})\n`);
    const entry = name in leftOut ? null : o.export ? exportZoo([name]).models[name] : readManifest().models?.[name];
    const r = { name, family: entry?.family ?? Object.keys(families).find((f) => families[f].includes(name)),
      mb: entry?.bytes ? entry.bytes / 1e6 : NaN };
    if (name in leftOut || !entry || entry.status !== 'exported') {
      // In short: the exporter's first sentence, the first clause of why a model is left out.
      r.loads = name in leftOut ? `left out: ${leftOut[name].split(/[;(]/)[0].trim()}`
        : (entry?.status ?? 'not exported yet').replace(/: \w*Error: /, ': ').split('. ')[0];
    } else if (r.mb > o.maxMb) {
      r.loads = `not measured (over ${o.maxMb} MB)`;
    } else {
      process.stderr.write(`zoo: ${name} (${r.mb.toFixed(0)} MB)\n`);
      measure(o, r, entry);
      if (r.loads === 'yes' && o.check) [r.agreement] = await crosscheck(o.native, [{ name, entry, methods: () => METHODS }]);
      else if (r.loads === 'yes') r.agreement = recorded()[name];
    }
    const loaded = r.loads === 'yes';
    const cells = [r.name, r.family, Number.isNaN(r.mb) ? '-' : r.mb.toFixed(0), r.loads.replaceAll('|', '\\|'),
      loaded ? `\`${r.defaultLayer}\`` : '-', loaded ? agreement(r.agreement) : '-', loaded ? r.loadS.toFixed(1) : '-',
      loaded ? r.loadRssMiB.toFixed(0) : '-', loaded ? ms(r.forward) : '-', loaded ? ms(r.gradcam) : '-',
      ...(o.wasm ? [loaded ? (r.wasmError ? `refused: ${r.wasmError}` : ms(r.wasmForward)) : '-', loaded ? ms(r.wasmGradcam) : '-'] : []),
      loaded ? r.rssMiB.toFixed(0) : '-', ...(o.wasmAgreement ? (loaded ? wasmCells(name) : ['-', '-', '-']) : [])];
    console.log(`| ${cells.join(' | ')} |`);
  }
  const load1 = os.loadavg()[0];
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const busy = Math.max(load0, load1) > 0.5 * os.cpus().length;
  console.log(`\n${started.toISOString().slice(0, 16)} UTC, ${cpu}, ${os.cpus().length} cores; load average ` +
    `${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end` +
    (busy ? ': **timings from a loaded machine** (other work shared the cores)' : '') +
    `; \`${['node bench/zoo.mjs', ...process.argv.slice(2)].join(' ')}\``);
}

// Load time, default layer, peak memory and timings of one exported model (fills r).
function measure(o, r, entry) {
  const file = path.join(ZOO_DIR, entry.file);
  const model = ['--model', file, '--mean', entry.mean.join(','), '--std', entry.std.join(',')];
  const info = timed(o.native, ['info', ...model, '--json']);
  if (info.status !== 0) { r.loads = shortError(info.stderr); return; }
  r.loads = 'yes';
  r.loadS = info.wallS;
  r.loadRssMiB = info.rssMiB;
  r.defaultLayer = JSON.parse(info.stdout).default_layer;
  const explain = timed(o.native, ['explain', ...model, '--image', IMAGE, '--json']);
  r.rssMiB = explain.status === 0 ? explain.rssMiB : NaN;
  if (o.iterations > 0) Object.assign(r, benchCli(o.native, entry, file, o.iterations));
  else if (explain.status === 0) {
    // --iterations 0: that one explain's own timings (the whole zoo on a busy machine).
    const t = JSON.parse(explain.stdout).timings_ms;
    r.forward = t.forward;
    r.gradcam = t.forward + t.backward + t.cam;
  }
  if (o.wasm) {
    const w = benchCli(o.wasmCli, entry, file, Math.max(1, o.iterations));
    r.wasmForward = w.forward;
    r.wasmGradcam = w.gradcam;
    if (w.error) r.wasmError = w.error;
  }
}

main().catch((e) => {
  console.error(`bench/zoo.mjs: ${e.message}`);
  process.exit(1);
});
