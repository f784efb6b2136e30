// The CLI on ONNX models, native and wasm: every method on allops.onnx (a small net holding every
// op the importer reads, written by tools/onnx_fixtures.py), layers by node or tensor name, info,
// labels, normalisation flags, the input tensor as NCHW, and the errors a person meets with a
// model the engine cannot run: each is exit 1 and one line naming the file (and the node).
//
//   node --test tests/js/onnx_cli.test.mjs
//
// Needs /usr/bin/python3 with the onnx module (python3-onnx) to write the broken models, and
// torch/torchvision for the fixtures when build/onnx-fixtures is missing (tools/deps.sh).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { PNG } from 'pngjs';

import { nativeCli, requireBuilt, root, run, tempDir, wasmCli } from './support.mjs';

const PYTHON = process.env.GRADCAM_PYTHON ?? '/usr/bin/python3';
const FIXTURES = path.join(root, 'build/onnx-fixtures');
const allops = path.join(FIXTURES, 'allops.onnx');

requireBuilt(nativeCli);
requireBuilt(wasmCli);
if (!fs.existsSync(allops)) {
  const r = spawnSync(PYTHON, [path.join(root, 'tools/onnx_fixtures.py'), FIXTURES], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`tools/onnx_fixtures.py failed: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
}
const dir = tempDir('gradcam-onnx-cli-');

// A 32x32 image (allops' input size, so --crop squash copies pixels) whose channels and
// coordinates all differ: a swap of channels, of rows and columns, or of layouts changes the tensor.
const SIDE = 32;
function patternPixel(x, y) {
  return [(x * 7 + y) % 256, (y * 5 + 3 * x + 40) % 256, (x * y + 11) % 256];
}
const image = path.join(dir, 'pattern.png');
{
  const png = new PNG({ width: SIDE, height: SIDE });
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const [r, g, b] = patternPixel(x, y);
      png.data.set([r, g, b, 255], (y * SIDE + x) * 4);
    }
  }
  fs.writeFileSync(image, PNG.sync.write(png));
}

const info = JSON.parse(run(nativeCli, ['info', '--model', allops, '--json']).stdout);

function explain(cli, args) {
  const r = run(cli, ['explain', '--model', allops, '--image', image, '--json', ...args]);
  assert.equal(r.status, 0, `${path.basename(cli)} explain ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// Native and wasm sum in different orders (SIMD widths): equal up to float rounding, as in
// cli_parity.test.mjs; maps relative to their maximum.
// `floor`: a scale below which differences are rounding of something larger (occlusion's map is a
// difference of two scores, each rounded relative to the score, not to the difference).
function assertClose(a, b, what, floor = 1e-30) {
  assert.equal(a.length, b.length, `${what}: lengths`);
  const scale = Math.max(floor, ...a.map(Math.abs), ...b.map(Math.abs));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 * scale, `${what}[${i}]: ${a[i]} != ${b[i]}`);
}

// One line on stderr, nothing on stdout, exit `status`.
function assertOneLineError(r, status, what) {
  assert.equal(r.status, status, `${what}: exit ${r.status}, stderr ${r.stderr}`);
  assert.equal(r.stdout, '', what);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
  return lines[0];
}

test('every method gives a finite, non-empty map at the default layer and at another node, the same native and wasm', () => {
  assert.ok(info.methods.length >= 10, info.methods.join(' '));
  const other = '/grouped_act/HardSwish';
  assert.notEqual(info.default_layer, other);
  for (const method of info.methods) {
    for (const layer of ['auto', other]) {
      const what = `${method} at ${layer}`;
      const n = explain(nativeCli, ['--method', method, '--layer', layer]);
      const w = explain(wasmCli, ['--method', method, '--layer', layer]);
      assert.equal(n.method, method);
      assert.equal(n.layer.name, layer === 'auto' ? info.default_layer : layer, what);
      assert.ok(n.cam.values.length > 0 && n.cam.values.length === n.cam.width * n.cam.height, what);
      assert.ok(n.cam.values.every(Number.isFinite), `${what}: a value is not finite`);
      assert.deepEqual([w.cam.width, w.cam.height, w.layer.name, w.target.index], [n.cam.width, n.cam.height, n.layer.name, n.target.index], what);
      const scoreScale = method === 'occlusion' ? Math.max(...n.logits.map(Math.abs)) : 1e-30;
      assertClose(n.cam.values, w.cam.values, `${what}: map`, scoreScale);
      assertClose(n.logits, w.logits, `${what}: logits`);
    }
  }
});

test('--layer takes a node name or its output tensor name', () => {
  const node = info.layers.find((l) => l.name === '/grouped/Conv');
  assert.ok(node && node.output_name && node.output_name !== node.name);
  const byNode = explain(nativeCli, ['--layer', node.name]);
  const byTensor = explain(nativeCli, ['--layer', node.output_name]);
  assert.equal(byTensor.layer.name, node.name);
  assert.deepEqual(byTensor.cam, byNode.cam);
  // A name that is nowhere is a usage error that names it.
  const missing = run(nativeCli, ['explain', '--model', allops, '--image', image, '--layer', 'no/such/node']);
  assert.match(assertOneLineError(missing, 2, 'unknown layer'), /no\/such\/node/);
});

test('info --json lists every node with a 4-D output: name, op type, output [1,C,H,W]', () => {
  const r = run(wasmCli, ['info', '--model', allops, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), info);
  assert.ok(info.layers.length >= 20);
  const types = new Set();
  for (const l of info.layers) {
    assert.equal(typeof l.name, 'string');
    assert.equal(typeof l.type, 'string');
    assert.equal(l.output.length, 4, l.name);
    assert.equal(l.output[0], 1, l.name);
    assert.ok(l.output.slice(1).every((d) => Number.isInteger(d) && d >= 1), l.name);
    types.add(l.type);
  }
  assert.deepEqual(info.layers.map((l) => l.name), info.explainable);
  assert.ok(info.explainable.includes(info.default_layer));
  for (const t of ['Conv', 'MaxPool', 'AveragePool', 'Concat', 'Add', 'Mul', 'BatchNormalization']) assert.ok(types.has(t), t);
  // Every layer explains with the shape info gives it.
  const last = info.layers[info.layers.length - 1];
  const e = explain(nativeCli, ['--layer', last.name]);
  assert.deepEqual([1, e.layer.channels, e.layer.height, e.layer.width], last.output);
});

test('an ONNX file does not say whether it is trained: --json says "trained": null and nothing warns', () => {
  for (const cli of [nativeCli, wasmCli]) {
    const what = path.basename(cli);
    assert.equal(JSON.parse(run(cli, ['info', '--model', allops, '--json']).stdout).trained, null, what);
    assert.equal(explain(cli, []).trained, null, what);
    assert.match(run(cli, ['info', '--model', allops]).stdout, /^model: .*\(trained or not: the file does not say\)/, what);
    const text = run(cli, ['explain', '--model', allops, '--image', image]);
    assert.equal(text.status, 0, `${what}: ${text.stderr}`);
    assert.doesNotMatch(text.stdout, /untrained/, what);
  }
});

test('--labels renames the classes; a wrong count is an error', () => {
  const names = info.classes.map((_, i) => `class ${String.fromCharCode(97 + i)}`);
  const labels = path.join(dir, 'labels.txt');
  fs.writeFileSync(labels, names.join('\n') + '\n');
  for (const cli of [nativeCli, wasmCli]) {
    const r = run(cli, ['info', '--model', allops, '--labels', labels, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).classes, names);
    const e = JSON.parse(run(cli, ['explain', '--model', allops, '--image', image, '--labels', labels, '--json']).stdout);
    assert.equal(e.target.name, names[e.target.index]);
  }
  const short = path.join(dir, 'short.txt');
  fs.writeFileSync(short, names.slice(1).join('\n'));
  const line = assertOneLineError(run(nativeCli, ['info', '--model', allops, '--labels', short]), 1, 'short labels');
  assert.match(line, new RegExp(`${names.length - 1}.*${names.length}`));
});

test('--mean and --std: both or neither, three values each, std positive (exit 2, one line)', () => {
  const cases = [
    [['--mean', '0.5,0.5,0.5'], /--mean and --std/],
    [['--std', '0.2,0.2,0.2'], /--mean and --std/],
    [['--mean', '0.5,0.5', '--std', '0.2,0.2,0.2'], /3 values/],
    [['--mean', '0.5,0.5,0.5', '--std', '0.2,0.2,0.2,0.2'], /3 values/],
    [['--mean', '0.5,0.5,0.5', '--std', '0.2,0,0.2'], /positive/],
    [['--mean', '0.5,0.5,0.5', '--std', '0.2,-1,0.2'], /positive/],
  ];
  for (const [flags, message] of cases) {
    for (const cli of [nativeCli, wasmCli]) {
      const line = assertOneLineError(run(cli, ['info', '--model', allops, ...flags]), 2, flags.join(' '));
      assert.match(line, message, flags.join(' '));
    }
  }
});

test('--dump-input is the normalised image in NCHW order', () => {
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const args = ['--crop', 'squash', '--dump-input', '--mean', mean.join(','), '--std', std.join(',')];
  const n = explain(nativeCli, args), w = explain(wasmCli, args);
  assert.deepEqual(n.input_shape, [1, 3, SIDE, SIDE]);
  assert.equal(n.input.length, 3 * SIDE * SIDE);
  assert.deepEqual(w.input, n.input);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const expected = (patternPixel(x, y)[c] / 255 - mean[c]) / std[c];
        const got = n.input[(c * SIDE + y) * SIDE + x];
        assert.ok(Math.abs(got - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `input[${c},${y},${x}] = ${got}, expected ${expected}`);
      }
    }
  }
});

// ---- models the engine cannot run ----

// Small ONNX models written with onnx.helper: a 3x3 conv on [1,3,H,W] and then what each case needs.
const BROKEN = String.raw`
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
rng = np.random.RandomState(0)

def conv(name, x, y, ic=3, oc=4):
    w = numpy_helper.from_array(rng.uniform(-0.3, 0.3, (oc, ic, 3, 3)).astype(np.float32), name + '.weight')
    return helper.make_node('Conv', [x, w.name], [y], name=name, pads=[1, 1, 1, 1]), [w]

def head(x):
    return [helper.make_node('GlobalAveragePool', [x], ['pooled'], name='pool'),
            helper.make_node('Flatten', ['pooled'], ['logits'], name='flatten')]

def save(file, nodes, inits, inputs, output='logits'):
    graph = helper.make_graph(nodes, 'g', inputs, [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    onnx.save(model, out + '/' + file)

image = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 16, 16])
c, w = conv('stem', 'image', 'a')

save('unsupported.onnx', [c, helper.make_node('Hardmax', ['a'], ['b'], name='odd_activation')] + head('b'), w, [image])
# Tokens [1,4,256] into a pooling that reads only [1,C,H,W] images and [1,n] vectors.
tokens_shape = numpy_helper.from_array(np.array([1, 4, 256], dtype=np.int64), 'tokens_shape')
save('tokens_into_pool.onnx', [c, helper.make_node('Reshape', ['a', 'tokens_shape'], ['b'], name='to_tokens')] + head('b'), w + [tokens_shape], [image])

second = helper.make_tensor_value_info('mask', TensorProto.FLOAT, [1, 4, 16, 16])
save('two_inputs.onnx', [c, helper.make_node('Mul', ['a', 'mask'], ['b'], name='masked')] + head('b'), w, [image, second])

save('softmax_inside.onnx', [c, helper.make_node('Softmax', ['a'], ['b'], name='early_softmax', axis=1)] + head('b'), w, [image])

dynamic = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, 'height', 'width'])
save('dynamic.onnx', [c, helper.make_node('Relu', ['a'], ['b'], name='act')] + head('b'), w, [dynamic])
`;

function brokenModels() {
  const folder = path.join(dir, 'broken');
  fs.mkdirSync(folder, { recursive: true });
  const r = spawnSync(PYTHON, ['-c', BROKEN, folder], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`writing the test models needs ${PYTHON} with the onnx module (python3-onnx): ${r.error ?? r.stderr}`);
  }
  return (name) => path.join(folder, name);
}

test('ONNX files the engine cannot run: exit 1, one line naming the file and what is wrong', () => {
  const file = brokenModels();
  const bytes = fs.readFileSync(allops);
  const truncated = path.join(dir, 'truncated.onnx');
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
  const noise = path.join(dir, 'noise.onnx');
  let s = 12345;
  fs.writeFileSync(noise, Uint8Array.from({ length: 4096 }, () => (s = (s * 1103515245 + 12345) >>> 0) >>> 24));

  const supported = /supported: .*Conv.*MaxPool.*Relu/;
  const cases = [
    [truncated, [], /truncated\.onnx: .*(truncated|corrupt)/],
    [noise, [], /noise\.onnx: not a model file/],
    [file('unsupported.onnx'), [], /unsupported\.onnx: node 'odd_activation' \(Hardmax\): .*Hardmax is not supported/],
    [file('unsupported.onnx'), [], supported],
    [file('tokens_into_pool.onnx'), [], /tokens_into_pool\.onnx: node 'pool' \(GlobalAveragePool\): .*\[1,4,256\]/],
    [file('two_inputs.onnx'), [], /two_inputs\.onnx: the model has 2 inputs; one image input is supported/],
    [file('dynamic.onnx'), [], /dynamic\.onnx: .*dynamic.*--size/],
  ];
  for (const [model, flags, message] of cases) {
    for (const cli of [nativeCli, wasmCli]) {
      const what = `${path.basename(cli)} ${path.basename(model)} ${flags.join(' ')}`;
      const line = assertOneLineError(run(cli, ['info', '--model', model, ...flags]), 1, what);
      assert.match(line, message, what);
    }
  }
  // A Softmax inside the graph was refused before Softmax took any axis: it now loads.
  for (const cli of [nativeCli, wasmCli]) {
    const r = run(cli, ['info', '--model', file('softmax_inside.onnx')]);
    assert.equal(r.status, 0, `${path.basename(cli)} softmax_inside.onnx: ${r.stderr}`);
  }
});

test('a dynamic-size model at the largest side loads: a pass keeps only what it still reads, so no limit on all activations together refuses it', () => {
  const file = brokenModels()('dynamic.onnx');
  for (const cli of [nativeCli, wasmCli]) {
    const r = run(cli, ['info', '--model', file, '--size', '4096']);
    assert.equal(r.status, 0, `${path.basename(cli)}: ${r.stderr}`);
    assert.match(r.stdout, /\[1,4,4096,4096\]/);
  }
});

test('a dynamic-size model runs at the --size given', () => {
  const file = brokenModels()('dynamic.onnx');
  const n = JSON.parse(run(nativeCli, ['explain', '--model', file, '--image', image, '--size', '24', '--json', '--dump-input']).stdout);
  assert.deepEqual(n.input_shape, [1, 3, 24, 24]);
  assert.equal(n.layer.name, 'act');
  assert.deepEqual([n.cam.height, n.cam.width], [24, 24]);
  assert.ok(n.cam.values.every(Number.isFinite));
  const w = JSON.parse(run(wasmCli, ['explain', '--model', file, '--image', image, '--size', '24', '--json']).stdout);
  assertClose(n.cam.values, w.cam.values, 'map');
});
