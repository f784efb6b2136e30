// abi.mjs: calling the engine's C ABI in an Emscripten module (engine/js/load.cpp and core.cpp; the
// JS API's core and the page's app both export them). Bytes and strings are copied into the
// module's memory for the length of one call; floats are copied out, since memory growth would
// detach a view. Addresses above 2 GB come back from wasm as negative numbers (an i32): `>>> 0`
// reads them as the unsigned offsets they are.

const megabytes = (n) => `${(n / (1024 * 1024)).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;

// Copies bytes into wasm memory for the duration of fn(pointer); `what` names them if they do not fit.
export function withBytes(module, bytes, fn, what = 'the data') {
  const ptr = module._malloc(Math.max(1, bytes.length)) >>> 0;
  if (!ptr) throw new Error(`out of memory: ${what} (${megabytes(bytes.length)}) does not fit in the WebAssembly memory`);
  try {
    module.HEAPU8.set(bytes, ptr);
    return fn(ptr);
  } finally {
    module._free(ptr);
  }
}

// A NUL-terminated UTF-8 copy of text for the duration of fn(pointer).
export function withString(module, text, fn) {
  const n = module.lengthBytesUTF8(text) + 1;
  const ptr = module._malloc(n) >>> 0;
  try {
    module.stringToUTF8(text, ptr, n);
    return fn(ptr);
  } finally {
    module._free(ptr);
  }
}

export function readFloats(module, ptr, count) {
  return new Float32Array(module.HEAPF32.buffer, ptr >>> 0, count).slice();
}

// Why the last gc_* call returned 0 or null.
export function lastError(module) {
  return module.UTF8ToString(module._gc_error());
}

export { megabytes };
