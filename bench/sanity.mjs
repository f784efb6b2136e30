// The model-randomisation sanity check (Adebayo et al., NeurIPS 2018) for several methods on the
// shipped model and the sample images: Spearman rank correlation between each method's map and
// the map after every layer's weights were re-initialised. High: the map does not depend on what
// the model learned. Usage: node bench/sanity.mjs [--layer conv2d_8]   (after tools/build.sh)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { option, parseOptions } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { layer } = parseOptions(process.argv.slice(2), { layer: option.text('conv2d_8') }, import.meta.url);
const { loadEngine } = await import(path.join(root, 'build/site/gradcam.mjs'));
const engine = await loadEngine({ model: path.join(root, 'assets/models/cifar10.safetensors') });
const samples = fs.readdirSync(path.join(root, 'assets/samples')).filter((n) => n.endsWith('.jpg')).sort();
console.log(`Spearman between the map and the map of the fully randomised network, at ${layer}, ${samples.length} sample images`);
for (const method of engine.info.methods) {
  const values = samples.map((name) => {
    const image = engine.decode(fs.readFileSync(path.join(root, 'assets/samples', name)));
    return engine.sanityCheck(image, { method, layer, samples: 8 }).steps.at(-1).spearman;
  });
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  console.log(`${method.padEnd(16)} mean ${mean.toFixed(2)}  (${values.map((v) => v.toFixed(2)).join(' ')})`);
}
