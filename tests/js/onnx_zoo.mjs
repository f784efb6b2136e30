// The torchvision zoo (tools/onnx_zoo.py) explained by a CLI and compared with PyTorch's autograd
// (tools/onnx_reference.py): shared by the zoo test (onnx_zoo.test.mjs) and bench/zoo.mjs, which
// prints the README's table from the same comparison.
//
// Per model: Grad-CAM, HiResCAM and LayerCAM (or the methods asked for) at the default layer (run
// without --layer: the engine chooses it, and it must be the node the manifest pairs with the module
// whose output the classifier pools) and at one earlier layer, on the shipped cat photo. The rules
// are onnx_crosscheck.test.mjs's: the target must be PyTorch's top class (or tie with it), the
// probabilities within PROB_TOL, and each map within CAM_TOL of the reference map's maximum (or of
// 1e-3 of its magnitude where the channel terms cancel). A map that misses that is measured once
// more: the reference moves each input value by CONDITIONING of itself (seeded draws) and
// computes the map exactly (float64); if twice what that tiny change moves the exact map is more
// than the tolerance, the map is ill-conditioned there (max-pool ties in flat image regions: the
// gradient takes one of two equal inputs, and float32 rounding picks which; deep random networks
// whose gradients amplify small changes), no float32 engine can be held closer than that, and the
// engine is held to ILL_FACTOR times the movement instead: the engine and the float32 reference
// each carry their own rounding, each acting like such a change of the input, so their maps can
// differ by about twice what one change moves the exact map. Such maps are counted and named in
// the results. The same measurement computes the exact map: PyTorch's float32 rounding inside a
// deep network can move its own map further than the 1e-6 change of the input does, so the float32
// map's distance from the exact one counts as a movement too, and the engine may match either
// reference (the closer one counts).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { maxAbs, pool, PYTHON, pythonReference, root, runCliAsync, worstDiff } from './support.mjs';

// The zoo takes about 15 GB: GRADCAM_ZOO_DIR puts it elsewhere.
export const ZOO_DIR = path.resolve(process.env.GRADCAM_ZOO_DIR ?? path.join(root, 'build/onnx-zoo'));
const EXPORTER = path.join(root, 'tools/onnx_zoo.py');
const REFERENCE = path.join(root, 'tools/onnx_reference.py');
export const IMAGE = path.join(root, 'assets/samples/cat.jpg');
export const METHODS = ['gradcam', 'hirescam', 'layercam'];

export const PROB_TOL = 1e-4;       // absolute
export const CAM_TOL = 1e-3;        // relative to the reference map's maximum
export const CONDITIONING = 1e-6;   // the relative change of the input that measures a map's conditioning
export const ILL_FACTOR = 2;        // an ill-conditioned map's tolerance, in movements (see above)
const DRAWS = 2;                    // draws of the change that measure a movement, and where those miss:
const MORE_DRAWS = 8;               // (crosscheckChunk)

function python(args) {
  const r = spawnSync(PYTHON, [EXPORTER, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(`${path.relative(root, EXPORTER)} ${args.join(' ')} failed (${r.error ?? `exit ${r.status}`}); ` +
      `it needs ${PYTHON} with torch, torchvision and onnx (tools/deps.sh installs python3-torch ` +
      `python3-torchvision python3-onnx): ${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`);
  }
  return r.stdout;
}

// The zoo as the exporter lists it: {families: {family: [model, ...]}, left_out: {model: why}}.
export function zooList() {
  return JSON.parse(python(['--list']));
}

// Exports the models that are not exported yet by this version of the exporter (it caches by its
// own hash) and returns the manifest. When the manifest already holds them all, from this version
// of the exporter and with their files, Python (and its second or more of importing torch, or a
// wait for another exporter's lock) is not needed: the exporter's own rule, read here.
export function exportZoo(models) {
  const file = path.join(ZOO_DIR, 'manifest.json');
  const read = () => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { models: {} });
  const digest = crypto.createHash('sha256').update(fs.readFileSync(EXPORTER)).digest('hex');
  const cached = (e) => e?.script_sha256 === digest &&
    ['file', 'stats_file'].every((k) => !(k in e) || fs.existsSync(path.join(ZOO_DIR, e[k])));
  if (models.every((m) => cached(read().models[m]))) return read();
  python([ZOO_DIR, '--models', models.join(',')]);
  return read();
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// The refusal in short: the CLI's last stderr line without the program's and the file's names.
export function shortError(stderr) {
  const line = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
  return line.replace(/^gradcam( \w+)?: /, '').replace(/^\S*\.onnx: /, '');
}

// Runs `plan` ({name, entry, methods(node) -> [method]}) on a CLI and compares every map with the
// reference; returns per model {name, loaded, refusal, defaultLayer, runs, worst, ill, problems,
// maps: the CLI's [{node, method, layer, target, values}]}.
// Models are compared a few at a time: a reference process keeps one model, and a dumped input is
// 0.6 MB of JSON per run.
export async function crosscheck(cli, plans, { chunk = 6, width } = {}) {
  const results = [];
  for (let i = 0; i < plans.length; i += chunk) results.push(...await crosscheckChunk(cli, plans.slice(i, i + chunk), width));
  return results;
}

async function crosscheckChunk(cli, plans, width) {
  const runs = [];
  for (const plan of plans) {
    const { entry } = plan;
    for (const node of entry.nodes) {
      for (const method of plan.methods(node)) {
        // The default layer is left to the engine: it must choose the manifest's node.
        const layer = node.role === 'default' ? [] : ['--layer', node.onnx_node];
        runs.push({ plan, node, method, args: ['explain', '--model', path.join(ZOO_DIR, entry.file), '--image', IMAGE,
          ...layer, '--mean', entry.mean.join(','), '--std', entry.std.join(','), '--method', method, '--json', '--dump-input'] });
      }
    }
  }
  const outs = await pool(runs.map((r) => async () => {
    const res = await runCliAsync(cli, r.args);
    if (res.status !== 0) return { res };
    try {
      return { res, out: JSON.parse(res.stdout) };
    } catch (e) {
      return { res, parseError: e.message };
    }
  }), width);

  const results = new Map(plans.map((p) => [p.name, { name: p.name, family: p.entry.family, loaded: false, refusal: null,
    defaultLayer: null, runs: 0, compared: 0, worst: 0, ill: [], problems: [], lines: [], maps: [] }]));
  // Per (model, node): one reference case for every method run there, on the tensor the CLI fed.
  const cases = new Map();
  runs.forEach((r, i) => {
    const { res, out, parseError } = outs[i];
    const result = results.get(r.plan.name);
    result.runs++;
    const label = `${r.plan.name} ${r.node.onnx_node} ${r.method}`;
    if (res.status !== 0) {
      const why = shortError(res.stderr) || res.error || `exit ${res.status}`;
      // One line per model for a refusal: every run of a model the engine cannot read says the same.
      if (why !== result.refusal) result.problems.push(`${label}: exit ${res.status}: ${why}`);
      result.refusal ??= why;
      return;
    }
    if (parseError) { result.problems.push(`${label}: stdout is not one JSON object (${parseError})`); return; }
    result.loaded = true;
    if (r.node.role === 'default') {
      result.defaultLayer = out.layer?.name;
      // That run's own timings (ms), which bench/zoo.mjs --wasm-agreement shows: forward, and
      // forward + backward + map for a Grad-CAM.
      const t = out.timings_ms;
      if (r.method === 'gradcam' && t) result.timings = { forward: t.forward, gradcam: t.forward + t.backward + t.cam };
      // (or the engine's copy of it into the image layout, `<node>/ToImage`: the same tensor)
      if (out.layer?.name !== r.node.onnx_node && out.layer?.name !== `${r.node.onnx_node}/ToImage`) {
        result.problems.push(`${r.plan.name}: the default layer is ${out.layer?.name}, but the tensor the classifier ` +
          `pools is ${r.node.onnx_node} (torch ${r.node.torch_module})`);
        return;
      }
    }
    const key = `${r.plan.name}\n${r.node.onnx_node}`;
    if (!cases.has(key)) {
      cases.set(key, { plan: r.plan, node: r.node, input: out.input, target: out.target?.index, checks: [] });
    }
    const c = cases.get(key);
    if (out.target?.index !== c.target) result.problems.push(`${label}: target ${out.target?.index}, another run's ${c.target}`);
    else if (!Array.isArray(out.input) || out.input.length !== c.input.length || out.input.some((v, k) => v !== c.input[k])) {
      result.problems.push(`${label}: the dumped input differs from another run's`);
    } else {
      c.checks.push({ method: r.method, out, label });
      result.maps.push({ node: r.node, method: r.method, layer: out.layer?.name, target: out.target?.index, values: out.cam?.values });
    }
  });
  // The runs' inputs are one tensor per model: keep one, drop the rest.
  for (const c of cases.values()) for (const ch of c.checks) delete ch.out.input;

  const list = [...cases.values()].filter((c) => c.checks.length > 0);
  if (list.length === 0) return [...results.values()];
  const request = list.map((c) => ({ model: c.plan.name, input: c.input, input_shape: c.plan.entry.input_shape,
    node: c.node.onnx_node, target: c.target, methods: c.checks.map((ch) => ch.method) }));
  const answers = await pythonReference(REFERENCE, request, ZOO_DIR);

  // First pass: the rules of the ONNX cross-check; what misses them is measured for conditioning.
  const doubtful = [];
  list.forEach((c, i) => {
    const ref = answers[i];
    const result = results.get(c.plan.name);
    const [h, w] = ref.shape;
    for (const { method, out, label } of c.checks) {
      const bad = (msg) => result.problems.push(`${label}: ${msg}`);
      const top = argmax(ref.logits);
      // A tie at the top may break either way in float32.
      const tie = out.target?.index === top || ref.logits[out.target?.index] >= ref.logits[top] - 1e-5 * maxAbs(ref.logits);
      const { d: dp } = worstDiff(out.probabilities ?? [], ref.probabilities);
      if (out.probabilities?.length !== ref.probabilities.length) {
        bad(`${out.probabilities?.length} probabilities, PyTorch ${ref.probabilities.length}`);
        continue;
      }
      // A miss is measured for conditioning below (settleAnswer), as a map's is.
      const answer = { tie, dp, target: out.target?.index, probabilities: out.probabilities, ref: ref.probabilities,
        ok: tie && dp <= PROB_TOL };
      const v = ref.maps[method];
      const cam = out.cam ?? {};
      if (cam.height !== h || cam.width !== w || cam.values?.length !== v.length) {
        bad(`cam ${cam.height}x${cam.width} with ${cam.values?.length} values, PyTorch ${h}x${w}`);
        continue;
      }
      const refMax = maxAbs(v);
      // Where the terms cancel, float32 error scales with what was summed, not with the result.
      const scale = Math.max(refMax, 1e-3 * ref.magnitudes[method], 1e-30);
      const { d, at } = worstDiff(cam.values, v);
      result.compared++;
      const check = { c, i, method, label, d, at, scale, refMax, values: cam.values, ref: v, w, result, answer };
      if (d <= CAM_TOL * scale && answer.ok) settle(check, CAM_TOL * scale, null);
      else doubtful.push(check);
    }
  });
  if (doubtful.length > 0) {
    const measure = (checks, draws) => pythonReference(REFERENCE, checks.map(({ c, method }) => ({ model: c.plan.name,
      input: c.input, input_shape: c.plan.entry.input_shape, node: c.node.onnx_node, target: c.target, methods: [method],
      conditioning: CONDITIONING, draws })), ZOO_DIR);
    const measured = await measure(doubtful, DRAWS);
    // The movement is the largest over the draws of the change, which few draws understate: a map or
    // answer that misses by DRAWS draws is measured again with MORE_DRAWS (ResNet-101's LayerCAM at
    // layer3.22 moved by 4.3e-3 and 3.0e-3 of its maximum in the first two, by up to 1.0e-2 in
    // eight, and the engine's map is 9.3e-3 from the exact one).
    const missed = doubtful.flatMap((check, k) => (judgeMap(check, measured[k]).ok && judgeAnswer(check, measured[k]).ok ? [] : [k]));
    if (missed.length > 0) {
      const again = await measure(missed.map((k) => doubtful[k]), MORE_DRAWS);
      missed.forEach((k, j) => { measured[k] = again[j]; });
    }
    doubtful.forEach((check, k) => {
      settleAnswer(check, measured[k]);
      const j = judgeMap(check, measured[k]);
      if (j.exact) Object.assign(check, { d: j.d, at: j.at, ref: j.ref, exact: true });
      settle(check, j.tol, j.ill ? j.moved : null);
    });
  }
  return [...results.values()];
}

// A map that missed the tolerance, judged again with the reference's conditioning answer m. PyTorch's
// float32 map carries its own rounding, which a deep network amplifies as it does a change of the
// input, and can move further than the 1e-6 change does (RegNet-Y-3.2GF: 4.8e-3 of the maximum
// from the exact map, the change 1.9e-4): that distance counts as a movement too. And the engine
// may match either reference (MNASNet 0.75's float32 map was 1e-3 from the exact one, the
// engine's 8e-7): the closer one is reported. Ill-conditioned wherever twice the movement is more
// than the tolerance: the engine's and the float32 reference's rounding each move the map
// (RegNet-Y-3.2GF's LayerCAM: PyTorch's float32 map 6.9e-4 of the maximum from the exact one, the
// engine's 1.2e-3).
function judgeMap(check, m) {
  if (check.d <= CAM_TOL * check.scale) return { ok: true, d: check.d, tol: CAM_TOL * check.scale, ill: false };
  const exactMap = m.exact[check.method];
  const moved = Math.max(m.movement[check.method], worstDiff(check.ref, exactMap).d);
  const exact = worstDiff(check.values, exactMap);
  const closer = exact.d < check.d ? { d: exact.d, at: exact.at, ref: exactMap, exact: true } : { d: check.d };
  const ill = ILL_FACTOR * moved > CAM_TOL * check.scale;
  const tol = ill ? ILL_FACTOR * moved : CAM_TOL * check.scale;
  return { ...closer, ok: closer.d <= tol, tol, ill, moved };
}

// The top class and probabilities where they missed PyTorch's float32 ones: a network chaotic
// enough (EfficientNet-B5 to B7 with these seeded weights) changes its answer under float32
// rounding alone. The exact (float64) probabilities and how far a CONDITIONING change of the input,
// or PyTorch's float32 rounding, moves them (m: the reference's conditioning answer) decide: the
// engine's probabilities are held to ILL_FACTOR times that movement (at least PROB_TOL), and its
// class must be within that of the exact top class's probability. Returns {ok, problems, ill}.
function judgeAnswer({ label, answer }, m) {
  if (answer.ok) return { ok: true, problems: [], ill: null };
  const exact = m.exact_probabilities;
  const moved = Math.max(m.probability_movement, worstDiff(answer.ref, exact).d);
  const ill = ILL_FACTOR * moved > PROB_TOL;
  const tol = ill ? ILL_FACTOR * moved : PROB_TOL;
  const dp = Math.min(answer.dp, worstDiff(answer.probabilities, exact).d);
  const exactTop = argmax(exact);
  const problems = [];
  if (!(dp <= tol)) {
    problems.push(`${label}: probabilities differ from PyTorch's by ${dp.toExponential(3)}` +
      (ill ? ` (ill-conditioned: allowed ${tol.toExponential(3)})` : ''));
  }
  if (!answer.tie && !(exact[answer.target] >= exact[exactTop] - tol)) {
    problems.push(`${label}: target ${answer.target}, PyTorch's top class ${argmax(answer.ref)} (exact, float64: ` +
      `${exactTop}, probability ${exact[exactTop].toExponential(3)}; the engine's class ${exact[answer.target].toExponential(3)})`);
  }
  return { ok: problems.length === 0, problems, ill: ill ? `${label}: a ${CONDITIONING} relative change of the input, or ` +
    `PyTorch's float32 rounding, moves the probabilities by ${moved.toExponential(2)}; the engine's answer is held to ${ILL_FACTOR}x that` : null };
}

function settleAnswer(check, m) {
  const { problems, ill } = judgeAnswer(check, m);
  check.result.problems.push(...problems);
  if (ill) check.result.ill.push(ill);
}

// Records a compared map against its tolerance: moved is the exact map's movement under a
// CONDITIONING change of the input where the map is ill-conditioned (null elsewhere).
function settle({ label, d, at, scale, refMax, values, ref, w, result, exact = false }, tol, moved) {
  const ratio = d / scale;
  result.worst = Math.max(result.worst, ratio);
  if (moved !== null) result.ill.push(`${label}: a ${CONDITIONING} relative change of the input, or PyTorch's float32 ` +
    `rounding, moves the exact map by ${(moved / refMax).toExponential(2)} of its maximum; the engine is held to ${ILL_FACTOR}x that`);
  if (!(d <= tol)) {
    result.problems.push(`${label}: cam differs by ${d.toExponential(3)} at (${Math.floor(at / w)},${at % w}): engine ` +
      `${values[at]}, PyTorch${exact ? ' (exact, float64)' : ''} ${ref[at]}, PyTorch max ${refMax.toExponential(3)}` +
      (moved !== null ? ` (ill-conditioned: allowed ${tol.toExponential(3)})` : ''));
  }
  result.lines.push(`${label.padEnd(72)} |diff|/max ${ratio.toExponential(2)}${exact ? ' (to the exact map)' : ''}` +
    `${moved !== null ? ' (ill-conditioned)' : ''}`);
}

// Merges these results into ZOO_DIR/results-<which>.json (per model, the last run's), with the
// time they were measured: the record bench/zoo.mjs --agreement reads.
export function recordResults(which, results) {
  const file = path.join(ZOO_DIR, `results-${which}.json`);
  const old = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const at = new Date().toISOString();
  for (const { lines, maps, ...r } of results) old[r.name] = { ...r, at };
  fs.writeFileSync(file, JSON.stringify(old, null, 1) + '\n');
}
