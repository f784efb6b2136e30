// The README's CLI block, run line by line as a person would paste it, so the document cannot
// drift from the program: every command must exist, take the options shown and succeed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { nativeCli, requireBuilt, root, shippedModel, tempDir } from './support.mjs';

requireBuilt(nativeCli);

// The first ```sh block that defines B and M: the CLI section.
function cliBlock() {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.startsWith('B=build/native/gradcam;'));
  assert.ok(block, 'README.md has no ```sh block starting with B=build/native/gradcam;');
  const lines = block.split('\n').filter((l) => l.trim());
  return { setup: lines[0], commands: lines.slice(1) };
}

// What the commands name: photo.jpg, photos/, data/test/<class>/, arch.json, from the shipped
// samples and model; build/ and assets/ are the repository's own.
function workspace() {
  const dir = tempDir('gradcam-readme-');
  fs.symlinkSync(path.join(root, 'build'), path.join(dir, 'build'));
  fs.symlinkSync(path.join(root, 'assets'), path.join(dir, 'assets'));
  const samples = path.join(root, 'assets/samples');
  fs.copyFileSync(path.join(samples, 'dog.jpg'), path.join(dir, 'photo.jpg'));
  fs.mkdirSync(path.join(dir, 'photos/more'), { recursive: true });
  for (const name of ['cat.jpg', 'ship.jpg']) fs.copyFileSync(path.join(samples, name), path.join(dir, 'photos', name));
  fs.copyFileSync(path.join(samples, 'frog.jpg'), path.join(dir, 'photos/more/frog.jpg'));
  for (const name of fs.readdirSync(samples)) {
    const cls = path.basename(name, '.jpg');
    fs.mkdirSync(path.join(dir, 'data/test', cls), { recursive: true });
    fs.copyFileSync(path.join(samples, name), path.join(dir, 'data/test', cls, '0000.jpg'));
  }
  // The architecture JSON of the shipped model, as the model file's metadata holds it.
  const bytes = fs.readFileSync(shippedModel);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  fs.writeFileSync(path.join(dir, 'arch.json'), header.__metadata__.architecture);
  return dir;
}

test('every command of the README\'s CLI block runs and succeeds', () => {
  const { setup, commands } = cliBlock();
  assert.ok(commands.length >= 8, `only ${commands.length} commands found`);
  const dir = workspace();
  for (const command of commands) {
    const r = spawnSync('bash', ['-c', `set -e; ${setup}\n${command}`], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, `${command}\n${r.stderr}`);
    assert.ok(r.stdout.length > 0, `${command}: printed nothing`);
  }
  // What the commands say they write is there.
  for (const f of ['overlay.png', 'overlays/index.json', 'overlays/cat.jpg.png', 'overlays/more/frog.jpg.png',
    'random.safetensors', 'mine.safetensors']) {
    assert.ok(fs.existsSync(path.join(dir, f)), `${f} was not written`);
  }
});
