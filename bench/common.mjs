// What the benchmarks share: their statistics and their --help (the file's leading comment).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

// Median and the 10th/90th percentiles of timings in ms.
export function stats(samples) {
  const s = Float64Array.from(samples).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))];
  return { median_ms: q(0.5), p10_ms: q(0.1), p90_ms: q(0.9), iterations: s.length };
}

// Prints the comment block at the top of the benchmark's file, up to its first line of code, and
// exits: the usage is written once, where the code is.
export function printHelpAndExit(moduleUrl) {
  const lines = fs.readFileSync(fileURLToPath(moduleUrl), 'utf8').split('\n').slice(1);
  const end = lines.findIndex((l) => !l.startsWith('//'));
  console.log(lines.slice(0, end < 0 ? lines.length : end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
