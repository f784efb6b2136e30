// Shared by the Node tests: paths, generated images, a random model made by the engine's CLI.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const nativeCli = path.join(root, 'build/native/gradcam');
export const wasmCli = path.join(root, 'build/wasm/gradcam.js');
export const siteModule = path.join(root, 'build/site/gradcam.mjs');
export const shippedModel = path.join(root, 'assets/models/cifar10.safetensors');

export function requireBuilt(file) {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: build first (tools/build.sh)`);
}

export function tempDir(prefix = 'gradcam-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// RGBA pixels of a deterministic, structured test image: smooth gradients plus a bright disc, so
// the network sees edges and the maps have something to point at.
export function testPixels(width, height, seed = 1) {
  const data = new Uint8Array(width * height * 4);
  let s = seed * 2654435761 >>> 0;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
  const cx = width * (0.3 + 0.4 * rand()), cy = height * (0.3 + 0.4 * rand()), r = Math.min(width, height) * 0.25;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      data[i] = inDisc ? 230 : (x * 255 / width) | 0;
      data[i + 1] = inDisc ? 200 : (y * 255 / height) | 0;
      data[i + 2] = inDisc ? 40 : ((rand() * 60) | 0) + 90;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

export function encodePng({ data, width, height }) {
  const png = new PNG({ width, height });
  png.data = Buffer.from(data);
  return PNG.sync.write(png);
}

export function encodeJpeg({ data, width, height }, quality = 90) {
  return jpeg.encode({ data: Buffer.from(data), width, height }, quality).data;
}

export function run(cmd, args, env = {}) {
  const isWasm = cmd.endsWith('.js');
  const r = spawnSync(isWasm ? process.execPath : cmd, isWasm ? [cmd, ...args] : args,
    { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A deterministic untrained model written by the native CLI.
export function makeRandomModel(dir, seed = 7) {
  requireBuilt(nativeCli);
  const file = path.join(dir, `random-${seed}.safetensors`);
  const r = run(nativeCli, ['init-model', '--seed', String(seed), '--out', file]);
  if (r.status !== 0) throw new Error(`init-model failed: ${r.stderr}`);
  return file;
}

// The ONNX fixtures (tools/onnx_fixtures.py: ResNet-18, MobileNetV2, SqueezeNet 1.1, ShuffleNet v2 x0.5, a tiny ViT, allops,
// exported by PyTorch from fixed seeds) in build/onnx-fixtures, written on demand when missing or
// older than the script; returns the manifest. Needs Debian's python3-torch, python3-torchvision
// and python3-onnx (GRADCAM_PYTHON overrides /usr/bin/python3): a failure, never a skip.
export const PYTHON = process.env.GRADCAM_PYTHON ?? '/usr/bin/python3';
export const ONNX_FIXTURES = path.join(root, 'build/onnx-fixtures');
const FIXTURE_SCRIPT = path.join(root, 'tools/onnx_fixtures.py');
let manifestCache = null;
export function onnxFixtures() {
  if (manifestCache) return manifestCache;
  const manifestFile = path.join(ONNX_FIXTURES, 'manifest.json');
  const fresh = fs.existsSync(manifestFile) &&
    fs.statSync(manifestFile).mtimeMs > fs.statSync(FIXTURE_SCRIPT).mtimeMs;
  let manifest = fresh ? JSON.parse(fs.readFileSync(manifestFile, 'utf8')) : null;
  const complete = manifest && Object.values(manifest.models).every((m) =>
    fs.existsSync(path.join(ONNX_FIXTURES, m.file)) && fs.existsSync(path.join(ONNX_FIXTURES, m.probe_file)));
  if (!complete) {
    const r = spawnSync(PYTHON, [FIXTURE_SCRIPT, ONNX_FIXTURES], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.error || r.status !== 0) {
      throw new Error(`${path.relative(root, FIXTURE_SCRIPT)} failed (${r.error ?? `exit ${r.status}`}); ` +
        `it needs ${PYTHON} with torch, torchvision and onnx (tools/deps.sh installs python3-torch ` +
        `python3-torchvision python3-onnx): ${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`);
    }
    manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  }
  manifestCache = manifest;
  return manifest;
}

// A PyTorch reference script (tools/onnx_reference.py, reference_cams.py, ...) asked once for every
// case: one process, since importing torch is the slow part. It reads {model_dir, cases} on stdin
// (model_dir: the ONNX fixtures unless given, e.g. the zoo's) and answers {cases: [...]} on stdout;
// a failure to run or to answer is an Error naming the script.
export function pythonReference(script, cases, modelDir = ONNX_FIXTURES) {
  const name = path.basename(script);
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => reject(new Error(`${PYTHON} ${script}: ${e.message}`)));
    child.on('close', (code) => {
      const stderr = Buffer.concat(err).toString().trim();
      if (code !== 0) {
        reject(new Error(`${name} exit ${code} (it needs ${PYTHON} with torch, torchvision and numpy: tools/deps.sh): ` +
          stderr.split('\n').slice(-5).join(' | ')));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(out).toString()).cases);
      } catch (e) {
        reject(new Error(`${name}: stdout is not JSON (${e.message}); stderr: ${stderr.slice(-500)}`));
      }
    });
    child.stdin.end(JSON.stringify({ model_dir: modelDir, cases }));
  });
}

// The largest magnitude in `values`.
export function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

// Largest |a - b| and where; NaN sticks.
export function worstDiff(a, b) {
  let d = 0, at = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.abs(a[i] - b[i]);
    if (!(x <= d)) { d = x; at = i; }
  }
  return { d, at };
}

// A CLI run without blocking (a .js or .mjs CLI, the wasm build, runs under node): its exit status,
// output and arguments; a failure to start is `error`, never a throw.
export function runCliAsync(cli, args) {
  const [cmd, argv] = /\.m?js$/.test(cli) ? [process.execPath, [cli, ...args]] : [cli, args];
  return new Promise((resolve) => {
    execFile(cmd, argv, { encoding: 'utf8', maxBuffer: 256 << 20 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr,
        args, error: error && typeof error.code !== 'number' ? String(error) : null });
    });
  });
}

// Runs the async jobs (functions) at most `width` at a time (default: one per core), results in order.
export async function pool(jobs, width = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
  const results = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return results;
}
