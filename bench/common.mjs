// What the benchmarks share: their statistics, their options and --help (the file's leading
// comment), and the site served to headless Chromium.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Median and the 10th/90th percentiles of timings in ms.
export function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  return { median_ms: q(0.5), p10_ms: q(0.1), p90_ms: q(0.9), iterations: s.length };
}

// Prints the comment block at the top of the benchmark's file, up to its first line of code, and
// exits: the usage is written once, where the code is.
export function printHelpAndExit(moduleUrl) {
  const lines = fs.readFileSync(fileURLToPath(moduleUrl), 'utf8').split('\n');
  const start = lines[0].startsWith('#!') ? 1 : 0;
  const end = lines.findIndex((l, i) => i >= start && !l.startsWith('//'));
  console.log(lines.slice(start, end < 0 ? lines.length : end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

// The kinds of option parseOptions reads, each with the value the option has when not given.
// `key` names the field of the result (default: the option's name in camelCase).
export const option = {
  // A whole number from 1 up, written as one: "2", not "2.0" or "1e3".
  count: (fallback) => ({ fallback, read: (value, name) => {
    const text = value();
    if (!/^[1-9]\d*$/.test(text)) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
    return Number(text);
  } }),
  text: (fallback) => ({ fallback, read: (value) => value() }),
  list: (fallback) => ({ fallback, read: (value) => value().split(',').filter(Boolean) }),
  path: (fallback) => ({ fallback, read: (value) => path.resolve(value()) }),
  flag: () => ({ fallback: false, read: () => true }),
  // --no-<key>: turns off something that is on by default.
  off: (key) => ({ key, fallback: true, read: () => false }),
  // Any other shape: read(value, name) takes as many values as it needs.
  custom: (fallback, read) => ({ fallback, read }),
};

const camelCase = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

// The benchmark's options from argv, as `spec` (option name without "--" -> an `option` kind)
// describes them. -h/--help prints the file's leading comment. An option not in spec, or one
// without its value or with a value of the wrong kind, is an error that names it and lists the
// options: the benchmark exits (status 2) rather than measure something else than was asked.
export function parseOptions(argv, spec, moduleUrl) {
  const script = path.relative(ROOT, fileURLToPath(moduleUrl));
  const o = {};
  for (const [name, s] of Object.entries(spec)) o[s.key ?? camelCase(name)] = s.fallback;
  try {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '-h' || a === '--help') printHelpAndExit(moduleUrl);
      const name = a.startsWith('--') ? a.slice(2) : null;
      const s = name !== null && Object.hasOwn(spec, name) ? spec[name] : null;
      if (!s) throw new Error(`unknown option ${a}; the options are ${Object.keys(spec).map((n) => `--${n}`).join(', ')}`);
      const value = () => {
        if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
        return argv[++i];
      };
      o[s.key ?? camelCase(name)] = s.read(value, a);
    }
  } catch (e) {
    console.error(`${script}: ${e.message} (--help)`);
    process.exit(2);
  }
  return o;
}

// Runs `measure({browser, server})` against build/site served as tools/serve.mjs serves it
// (cross-origin isolated) and headless Chromium launched with `launchArgs` added to the browser
// tests' flags (tests/browser/support.mjs, loaded only here: the Node benchmarks need no browser);
// both are closed afterwards, whatever happens. A site not yet built is an error (status 1).
export async function withSiteInChromium(moduleUrl, launchArgs, measure) {
  const { launchBrowser, siteMissing, startServer } = await import('../tests/browser/support.mjs');
  const missing = siteMissing();
  if (missing) {
    console.error(`${path.relative(ROOT, fileURLToPath(moduleUrl))}: ${missing}`);
    process.exit(1);
  }
  const server = await startServer();
  let browser;
  try {
    browser = await launchBrowser(launchArgs);
    return await measure({ browser, server });
  } finally {
    await browser?.close();
    await server.close();
  }
}

// A smooth generated RGBA image at a model's input size (bench/onnx.mjs, bench/onnx_threads.mjs),
// so that preprocessing is a copy and a normalisation, not a resampling.
export function generatedImage(width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = 4 * (y * width + x);
      const inDisk = (x - width * 0.6) ** 2 + (y - height * 0.45) ** 2 < (width * 0.22) ** 2;
      data[o] = inDisk ? 200 : 40 + (y >> 1);
      data[o + 1] = inDisk ? 70 + (x >> 1) : 120 + 40 * Math.sin(x / 9);
      data[o + 2] = inDisk ? 50 : 200 - (y >> 1);
      data[o + 3] = 255;
    }
  }
  return { data, width, height };
}
