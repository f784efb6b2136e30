// tfjs.mjs: a TF.js layers model as the JS front ends receive it: a model.json and the files it
// names (weight shards, and a Teachable Machine metadata.json), given as a path or URL (the files
// are read beside it), as a list of File objects (the page's drop or file input, the JS API), or as
// a .zip of them (stored or deflated entries). The engine (engine/src/formats/tfjs_model.cpp)
// checks and decodes everything; this module only finds the files by the names model.json uses.
import { readZipEntry, zipDirectory } from './keras.mjs';
import { isNode, nodeModule } from './load.mjs';

const MAX_MODEL_JSON = 16 * 1024 * 1024;  // ModelLimits::kMaxHeaderBytes

// model.json's parsed JSON if these bytes are one (an object with modelTopology or
// weightsManifest), else null: binary files are told apart by their first byte.
export function tfjsModelJson(bytes) {
  let i = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x09 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  if (bytes[i] !== 0x7b || bytes.length > MAX_MODEL_JSON) return null;
  try {
    const j = JSON.parse(new TextDecoder().decode(bytes.subarray(i)));
    return j && typeof j === 'object' && !Array.isArray(j) && ('modelTopology' in j || 'weightsManifest' in j) ? j : null;
  } catch {
    return null;
  }
}

// The weight file paths model.json names, in manifest order, without repeats. A path that leaves
// model.json's folder is not read here: the engine refuses it with a message.
export function weightPaths(modelJson) {
  const groups = Array.isArray(modelJson.weightsManifest) ? modelJson.weightsManifest : [];
  const paths = groups.flatMap((g) => (g && Array.isArray(g.paths) ? g.paths : [])).filter((p) => typeof p === 'string');
  return [...new Set(paths)].filter((p) => p && !/^[\\/]|:/.test(p) && !p.split(/[\\/]/).includes('..'));
}

const baseName = (name) => String(name).split(/[\\/]/).pop();

// A list of files (File objects, or {name, bytes} as a zip's entries are): the model.json among
// them and a reader for the others by the name model.json gives (its last path component, as a
// dropped or opened file has no folder). null if no file in the list is a TF.js model.json.
export async function tfjsFromFileList(files, label = 'the files') {
  const entries = Array.from(files);
  // Blob has a bytes() method in newer runtimes: a zip entry's bytes are told by their type.
  const bytesOf = async (f) => (f.bytes instanceof Uint8Array ? f.bytes : new Uint8Array(await f.arrayBuffer()));
  // model.json by name first; else any .json file that is a model.json (converters name it freely).
  const candidates = [...entries.filter((f) => baseName(f.name) === 'model.json'),
    ...entries.filter((f) => /\.json$/i.test(f.name) && baseName(f.name) !== 'model.json' && baseName(f.name) !== 'metadata.json')];
  for (const f of candidates) {
    const bytes = await bytesOf(f);
    const json = tfjsModelJson(bytes);
    if (!json) continue;
    const byName = new Map(entries.map((e) => [baseName(e.name), e]));
    const beside = async (path) => {
      const e = byName.get(baseName(path));
      return e ? bytesOf(e) : null;
    };
    return { bytes, json, source: f.name || label, beside, listed: true };  // listed: no request to look for a file
  }
  return null;
}

// The files beside a model.json given by path (Node) or URL: a missing file is null, any other
// failure an error naming it.
export function besidePathOrUrl(model) {
  const url = String(model);
  if (isNode && !/^(https?|data|blob):/.test(url)) {
    return async (name) => {
      const [fs, path] = await Promise.all([nodeModule('fs/promises'), nodeModule('path')]);
      const dir = path.dirname(url.startsWith('file:') ? new URL(url).pathname : url);
      try {
        return new Uint8Array(await fs.readFile(path.join(dir, name)));
      } catch (e) {
        if (e.code === 'ENOENT') return null;
        throw new Error(`${path.join(dir, name)}: cannot read the file (${e.code || e.message})`);
      }
    };
  }
  return async (name) => {
    const base = typeof location !== 'undefined' ? new URL(url, location.href) : new URL(url);
    const target = new URL(name, base);
    let response;
    try {
      response = await fetch(target);
    } catch (e) {
      throw new Error(`${target}: cannot download (${e.message})`);
    }
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`${target}: cannot download (HTTP ${response.status})`);
    return new Uint8Array(await response.arrayBuffer());
  };
}

// A zip whose entries hold a TF.js model.json (at any folder depth) and its files, else null (a
// Keras .keras archive holds config.json and metadata.json instead). Entries are read through
// keras.mjs's zip reader (stored or deflated, checked as natively); folders are skipped.
export async function tfjsFromZip(bytes, source) {
  const directory = zipDirectory(bytes, source).filter((e) => !e.name.endsWith('/'));
  if (!directory.some((e) => /\.json$/i.test(e.name) && !['config.json', 'metadata.json'].includes(baseName(e.name)))) return null;
  const entries = await Promise.all(directory.map(async (e) => ({ name: e.name, bytes: await readZipEntry(bytes, e, source) })));
  const found = await tfjsFromFileList(entries, source);
  return found && { ...found, source: `${source}: ${found.source}` };
}

// A model given to the JS API or the page that is a TF.js model, as {bytes, json, source, beside},
// or null when it is something else. `model`: a list of Files, or a path / URL whose bytes (already
// read) are `bytes`.
export async function tfjsModelInput(model, bytes, source) {
  if (bytes) {
    const json = tfjsModelJson(bytes);
    if (!json) return null;
    const named = typeof model === 'string' || model instanceof URL;
    return { bytes, json, source, beside: named ? besidePathOrUrl(model) : async () => null };
  }
  return tfjsFromFileList(model);
}

