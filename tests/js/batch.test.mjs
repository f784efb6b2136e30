// `gradcam batch` and `explain --out` never lose a person's files: one output per input, nothing
// written into what is read, nothing replaced without --overwrite, interrupted runs resume, and
// shards or threads give exactly the bytes of a single run.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { encodeJpeg, encodePng, makeRandomModel, nativeCli, requireBuilt, run, tempDir, testPixels, wasmCli } from './support.mjs';

requireBuilt(nativeCli);
const dir = tempDir('gradcam-batch-');
const model = makeRandomModel(dir, 5);

// Every file below a folder with its SHA-256, to prove that nothing in it changed.
function snapshot(root) {
  const out = {};
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

// An input tree with the two collisions of the issue: photo.jpg beside photo.png, and a/x.jpg
// beside a_x.jpg; plus a few more images and one broken file.
function makeInput(name, extra = 0) {
  const root = path.join(dir, name);
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  fs.writeFileSync(path.join(root, 'photo.jpg'), encodeJpeg(testPixels(48, 40, 1)));
  fs.writeFileSync(path.join(root, 'photo.png'), encodePng(testPixels(40, 48, 2)));
  fs.writeFileSync(path.join(root, 'a', 'x.jpg'), encodeJpeg(testPixels(36, 36, 3)));
  fs.writeFileSync(path.join(root, 'a_x.jpg'), encodeJpeg(testPixels(33, 35, 4)));
  fs.writeFileSync(path.join(root, 'broken.jpg'), encodeJpeg(testPixels(30, 30, 5)).subarray(0, 60));
  for (let i = 0; i < extra; i++) fs.writeFileSync(path.join(root, 'a', `more-${i}.png`), encodePng(testPixels(32, 32, 10 + i)));
  return root;
}

function batch(args, env = {}) {
  return run(nativeCli, ['batch', '--model', model, '--quiet', ...args], env);
}

function partialFiles(root) {
  return Object.keys(snapshot(root)).filter((f) => f.endsWith('.gradcam-partial'));
}

const input = makeInput('in', 6);
const reference = path.join(dir, 'reference');
const first = batch(['--input', input, '--out', reference]);

test('no two inputs share an output, and the index records the exact mapping', () => {
  assert.equal(first.status, 1, first.stderr);  // broken.jpg fails; exit 1 says so
  const index = JSON.parse(fs.readFileSync(path.join(reference, 'index.json'), 'utf8'));
  const byFile = Object.fromEntries(index.images.map((e) => [e.file, e]));
  assert.equal(index.images.length, 11);
  assert.equal(byFile['photo.jpg'].overlay, 'photo.jpg.png');
  assert.equal(byFile['photo.png'].overlay, 'photo.png.png');
  assert.equal(byFile['a/x.jpg'].overlay, 'a/x.jpg.png');
  assert.equal(byFile['a_x.jpg'].overlay, 'a_x.jpg.png');
  assert.equal(byFile['broken.jpg'].ok, false);
  const overlays = index.images.filter((e) => e.ok).map((e) => e.overlay);
  assert.equal(new Set(overlays).size, overlays.length);
  // Each overlay is that input's own: the same bytes as explain --out writes for it alone.
  for (const f of ['photo.jpg', 'photo.png', 'a/x.jpg', 'a_x.jpg']) {
    const single = path.join(dir, `single-${f.replace('/', '-')}.png`);
    const r = run(nativeCli, ['explain', '--model', model, '--image', path.join(input, f), '--out', single]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readFileSync(path.join(reference, byFile[f].overlay)), fs.readFileSync(single), f);
  }
  assert.deepEqual(partialFiles(reference), []);
});

test('never writes into what it reads: --out inside --input, the same folder, or --input inside --out', () => {
  const before = snapshot(input);
  for (const out of [input, path.join(input, 'overlays'), path.join(input, 'a', '..')]) {
    const r = batch(['--input', input, '--out', out]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /is inside --input/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  const r = batch(['--input', path.join(input, 'a'), '--out', input]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--input .* is inside --out/);
  assert.deepEqual(snapshot(input), before);
  assert.ok(!fs.existsSync(path.join(input, 'overlays')));
});

test('explain --out refuses the image, the model and an existing file (unless --overwrite)', () => {
  const image = path.join(input, 'photo.png');
  const imageBefore = fs.readFileSync(image), modelBefore = fs.readFileSync(model);
  for (const [out, what] of [[image, 'image'], [path.join(input, 'a', '..', 'photo.png'), 'image'], [model, 'model']]) {
    const r = run(nativeCli, ['explain', '--model', model, '--image', image, '--out', out]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`is the --${what} file`));
  }
  assert.deepEqual(fs.readFileSync(image), imageBefore);
  assert.deepEqual(fs.readFileSync(model), modelBefore);
  const out = path.join(dir, 'existing.png');
  fs.writeFileSync(out, 'a person\'s file');
  const r = run(nativeCli, ['explain', '--model', model, '--image', image, '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /existing\.png: already exists \(pass --overwrite to replace it\)/);
  assert.equal(fs.readFileSync(out, 'utf8'), 'a person\'s file');
  assert.equal(run(nativeCli, ['explain', '--model', model, '--image', image, '--out', out, '--overwrite']).status, 0);
  assert.equal(fs.readFileSync(out).subarray(1, 4).toString(), 'PNG');
});

test('an existing output is an error before any work; --overwrite replaces it', () => {
  const out = path.join(dir, 'existing-out');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'photo.jpg.png'), 'keep me');
  const r = batch(['--input', input, '--out', out]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /photo\.jpg\.png: already exists \(pass --overwrite to replace it\)/);
  assert.deepEqual(Object.keys(snapshot(out)), ['photo.jpg.png']);  // nothing written at all
  assert.equal(fs.readFileSync(path.join(out, 'photo.jpg.png'), 'utf8'), 'keep me');
  // A finished batch in the folder: running it again is refused, not silently redone.
  const again = batch(['--input', input, '--out', reference]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /a batch was already written here \(--resume finishes it, --overwrite starts again\)/);
  const over = batch(['--input', input, '--out', out, '--overwrite']);
  assert.equal(over.status, 1, over.stderr);
  assert.deepEqual(snapshot(out), snapshot(reference));
});

test('Ctrl-C stops after the current image; --resume finishes with the bytes of an uninterrupted run', () => {
  const out = path.join(dir, 'interrupted');
  // The run sends itself SIGINT after its third image: the real handler, at an exact point.
  const r = batch(['--input', input, '--out', out], { GRADCAM_TEST_INTERRUPT_AFTER: '3' });
  assert.equal(r.status, 130, r.stderr);
  assert.match(r.stderr, /interrupted after 3 of 11 images; .*index\.jsonl lists them\. To finish, run the same command with --resume/);
  assert.ok(!fs.existsSync(path.join(out, 'index.json')));
  const lines = fs.readFileSync(path.join(out, 'index.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 1 + 3);  // the settings, then one line per finished image
  assert.deepEqual(partialFiles(out), []);
  // A changed option is refused, naming it.
  const other = batch(['--input', input, '--out', out, '--resume', '--layer', 'conv2d_2']);
  assert.equal(other.status, 2);
  assert.match(other.stderr, /other settings \(layer was "conv2d_8", now "conv2d_2"\)/);
  // What a kill leaves: a torn last journal line and a temporary file. Resume copes with both.
  fs.appendFileSync(path.join(out, 'index.jsonl'), '{"file":"photo.pn');
  fs.writeFileSync(path.join(out, 'photo.png.png.4242.gradcam-partial'), 'half a png');
  const resumed = batch(['--input', input, '--out', out, '--resume']);
  assert.equal(resumed.status, 1, resumed.stderr);
  assert.deepEqual(partialFiles(out), []);
  const lastRun = fs.readFileSync(path.join(out, 'index.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lastRun.length, 1 + 11);
  assert.deepEqual(snapshot(out), snapshot(reference));
});

test('--shard K/N: the shards cover every image once and merge-index gives the single run\'s index byte for byte', () => {
  const out = path.join(dir, 'sharded');
  const seen = [];
  for (const k of [1, 2, 3]) {
    const r = batch(['--input', input, '--out', out, '--shard', `${k}/3`]);
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const shard = JSON.parse(fs.readFileSync(path.join(out, `index.shard-${k}-of-3.json`), 'utf8'));
    assert.equal(shard.shard, `${k}/3`);
    seen.push(...shard.images.map((e) => e.file));
  }
  assert.equal(seen.length, 11);
  assert.equal(new Set(seen).size, 11);
  const m = run(nativeCli, ['merge-index', '--out', out]);
  assert.equal(m.status, 0, m.stderr);
  assert.deepEqual(fs.readFileSync(path.join(out, 'index.json')), fs.readFileSync(path.join(reference, 'index.json')));
  const sharded = snapshot(out);
  for (const [f, hash] of Object.entries(snapshot(reference))) {
    if (f !== 'index.jsonl') assert.equal(sharded[f], hash, f);  // each shard keeps its own journal
  }
  // A missing shard is named.
  fs.rmSync(path.join(out, 'index.shard-2-of-3.json'));
  const missing = run(nativeCli, ['merge-index', '--out', out, '--overwrite']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /shard 2\/3 is missing/);
});

test('--jobs 2 writes exactly what --jobs 1 writes', () => {
  const out = path.join(dir, 'two-jobs');
  const r = batch(['--input', input, '--out', out, '--jobs', '2']);
  assert.equal(r.status, 1, r.stderr);
  const a = snapshot(out), b = snapshot(reference);
  delete a['index.jsonl'];  // lines in the order images finished
  delete b['index.jsonl'];
  assert.deepEqual(a, b);
});

test('a mistyped option or a malformed number is an error naming it, natively and in wasm', () => {
  const cases = [
    [['explain', '--model', model, '--image', path.join(input, 'photo.png'), '--methd', 'scorecam'], /unknown option --methd for explain \(valid: --model, .*--method/],
    [['explain', '--model', model, '--image', path.join(input, 'photo.png'), '--method', 'smoothgrad', '--samples', '5x'], /--samples must be a whole number from 1 to 1000 \(got "5x"\)/],
    [['eval', '--model', model, '--data', input, '--limit', '-3'], /--limit must be a whole number/],
    [['batch', '--model', model, '--input', input, '--out', path.join(dir, 'x'), '--shard', '4/3'], /--shard must be K\/N with 1 <= K <= N/],
    [['batch', '--model', model, '--input', input, '--out', path.join(dir, 'x'), '--resume', '--overwrite'], /give one of them/],
    [['info', '--model', model, '--json=yes'], /--json takes no value/],
    [['info', '--model', model, '--model', model], /--model is given twice/],
    [['bench', '--model', model, '--iterations', '0'], /--iterations must be a whole number from 1/],
  ];
  for (const [args, pattern] of cases) {
    for (const cli of [nativeCli, wasmCli]) {
      const r = run(cli, args);
      assert.equal(r.status, 2, `${cli} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  }
  assert.ok(!fs.existsSync(path.join(dir, 'x')));
});
