#!/usr/bin/env node
// gradcam: the engine's command-line program (the WebAssembly build of the native CLI, every
// command) under this Node. A command that reads a model uses the package's shipped CIFAR-10
// model when --model is not given:
//   npx gradcam explain --image photo.jpg --out overlay.png
//   npx gradcam info --json
//   npx gradcam explain --model resnet18.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 ...
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../cli/gradcam.cjs', import.meta.url));
const shippedModel = fileURLToPath(new URL('../models/cifar10.safetensors', import.meta.url));
// The commands that take --model (`gradcam --help` lists them).
const MODEL_COMMANDS = new Set(['info', 'explain', 'accuracy', 'eval', 'evaluate', 'batch', 'bench']);

const args = process.argv.slice(2);
const wantsHelp = args.includes('--help') || args.includes('-h');
const givesModel = args.some((a) => a === '--model' || a.startsWith('--model='));
if (MODEL_COMMANDS.has(args[0]) && !givesModel && !wantsHelp) args.push('--model', shippedModel);

const r = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
if (r.error) {
  console.error(`gradcam: cannot run ${cli} (${r.error.message})`);
  process.exit(1);
}
// A signal (Ctrl-C) is passed on as the shell's 128 + its number (130 for SIGINT).
process.exit(r.status ?? 128 + (constants.signals[r.signal] ?? 0));
