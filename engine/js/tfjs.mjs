// tfjs.mjs: a TF.js layers model as the JS front ends receive it: a model.json and the files it
// names (weight shards, and a Teachable Machine metadata.json), given as a path or URL (the files
// are read beside it), as a list of File objects (the page's drop or file input, the JS API), or as
// a .zip of them (stored or deflated entries). The engine (engine/src/formats/tfjs_model.cpp)
// checks and decodes everything; this module only finds the files by the names model.json uses.
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
    return { bytes, json, source: f.name || label, beside };
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

// The entries of a zip archive as {name, bytes}: stored entries as they are, deflated ones
// inflated with DecompressionStream('deflate-raw') (browsers and Node 18+). People zip a model's
// folder with any tool, so both are read; folders and other methods are skipped.
export async function zipEntries(bytes, source) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (p) => view.getUint16(p, true), u32 = (p) => view.getUint32(p, true);
  const bad = (why) => new Error(`${source}: ${why}`);
  let eocd = -1;
  for (let back = 22; back <= bytes.length && back <= 22 + 65535; back++) {
    if (u32(bytes.length - back) === 0x06054b50) { eocd = bytes.length - back; break; }
  }
  if (eocd < 0) throw bad('not a zip archive (no end of central directory)');
  const count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) throw bad('a zip64 archive; zip the model folder without zip64');
  if (cdOffset > bytes.length || cdSize > bytes.length - cdOffset) throw bad('central directory outside the archive (truncated?)');
  const end = cdOffset + cdSize, out = [];
  for (let i = 0, p = cdOffset; i < count; i++) {
    if (end - p < 46 || u32(p) !== 0x02014b50) throw bad('damaged central directory');
    const n = u16(p + 28), extra = u16(p + 30), comment = u16(p + 32);
    if (end - p - 46 < n + extra + comment) throw bad('damaged central directory');
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + n));
    const method = u16(p + 10), csize = u32(p + 20), usize = u32(p + 24), local = u32(p + 42);
    p += 46 + n + extra + comment;
    if (name.endsWith('/') || (method !== 0 && method !== 8)) continue;
    if (u16(p - (46 + n + extra + comment) + 8) & 1) throw bad(`${name} is encrypted`);
    if (local > bytes.length - 30 || u32(local) !== 0x04034b50) throw bad(`${name}: local header outside the archive (truncated?)`);
    const at = local + 30 + u16(local + 26) + u16(local + 28);
    if (at > bytes.length || csize > bytes.length - at) throw bad(`${name} lies outside the archive (truncated?)`);
    const stored = bytes.subarray(at, at + csize);
    out.push({ name, method, usize, stored });
  }
  return Promise.all(out.map(async ({ name, method, usize, stored }) => {
    if (method === 0) return { name, bytes: stored };
    let inflated;
    try {
      const stream = new Blob([stored]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
      inflated = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
      throw bad(`${name} cannot be inflated (${e.message})`);
    }
    if (inflated.length !== usize) throw bad(`${name} inflates to ${inflated.length} bytes, the archive says ${usize}`);
    return { name, bytes: inflated };
  }));
}

// A zip whose entries hold a TF.js model.json (at any folder depth) and its files, else null (a
// Keras .keras archive holds config.json instead).
export async function tfjsFromZip(bytes, source) {
  const entries = await zipEntries(bytes, source);
  if (!entries.some((e) => /\.json$/i.test(e.name) && baseName(e.name) !== 'config.json')) return null;
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

