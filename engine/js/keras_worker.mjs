// keras_worker.mjs: the HDF5 part of reading a Keras file (keras.mjs, readKerasFileHere), off the
// caller's thread. A damaged file can send HDF5 into an endless loop; here that loop only holds a
// worker, which keras.mjs terminates after its time limit, while the page (or Node's event loop)
// goes on. A browser starts it as a module Worker, Node as a worker_threads Worker. Protocol: it
// says 'ready' once loaded, then answers each {bytes, source, archiveConfig} with {manifest, data}
// (the floats' buffer transferred) or {error}.
import { readKerasFileHere } from './keras.mjs';

const inNode = typeof process !== 'undefined' && !!(process.versions && process.versions.node);

// Node's parentPort, reached as keras.mjs reaches Node's modules (no literal 'node:' import for a
// bundler to resolve); in a browser the worker's own scope.
async function parentPort() {
  const name = 'worker_threads';
  const threads = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule(name) : await import(`node:${name}`);
  return threads.parentPort;
}
const port = inNode ? await parentPort() : self;
const post = (message, transfer) => port.postMessage(message, transfer);

// h5wasm writes HDF5's own error stack (HDF5-DIAG ...) through console.error, bound when it loads;
// the error this worker answers with says what is wrong, so those lines are dropped, as the wasm
// CLI drops them (engine/cli/keras_handover.js).
console.error = () => {};

async function read({ bytes, source, archiveConfig }) {
  try {
    const { manifest, data } = await readKerasFileHere(bytes, source, archiveConfig);
    post({ manifest, data }, [data.buffer]);
  } catch (e) {
    post({ error: e instanceof Error ? e.message : String(e) });
  }
}

if (inNode) port.on('message', read);
else port.addEventListener('message', (e) => read(e.data));
post('ready');
