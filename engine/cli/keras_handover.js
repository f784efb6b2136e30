// keras_handover.js: the wasm CLI's --pre-js (cmake/wasm.cmake). The wasm engine has no HDF5
// library, so a Keras file given as --model (.h5, .weights.h5, .keras, told apart by their first
// bytes, as the engine does) is read here, before main(), by the JS API's own reader (keras.mjs:
// h5wasm, and the zip reader that inflates deflated entries) into the manifest the JS API hands
// over; keras_handover.cpp takes it from Module.gradcamKeras when the CLI loads its model, and the
// engine maps it as it maps every Keras file (load_keras_manifest). The reader sits beside the CLI:
// ../keras.mjs in the npm package (cli/gradcam.cjs), ../site/keras.mjs in the build tree
// (build/wasm/gradcam.js beside build/site). Anything this cannot read (no such file, too large,
// not a Keras file, no reader) is left to the engine, whose messages say what is wrong.
(function () {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) return;
  let model = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--model' && i + 1 < args.length) model = args[i + 1];
    else if (args[i].startsWith('--model=')) model = args[i].slice('--model='.length);
  }
  if (args[0] === 'import-keras' && args.length > 1 && args[1][0] !== '-') model = args[1];  // main.cpp's positional FILE
  if (model === null) return;
  const fs = require('fs'), path = require('path'), url = require('url');
  // The first bytes say whether it is a Keras file; only then is the whole file read here.
  const head = new Uint8Array(8);
  try {
    if (fs.statSync(model).size > 2 ** 30) return;  // ModelLimits::kMaxFileBytes: the engine says so
    const fd = fs.openSync(model, 'r');
    try {
      fs.readSync(fd, head, 0, 8, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return;
  }
  const hdf5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => head[i] === b);
  const zip = head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
  if (!hdf5 && !zip) return;
  const reader = [path.join(__dirname, '..', 'keras.mjs'), path.join(__dirname, '..', 'site', 'keras.mjs')].find((f) => fs.existsSync(f));
  if (!reader) return;
  let bytes;
  try {
    bytes = new Uint8Array(fs.readFileSync(model));
  } catch (e) {
    return;
  }
  const text = (s) => new TextEncoder().encode(s);
  Module['preRun'] = [].concat(Module['preRun'] || [], function () {
    addRunDependency('gradcam-keras');
    // h5wasm prints HDF5's own error stack (HDF5-DIAG ...) through console.error, which it binds
    // when it loads: while the file is read those lines are dropped, so that a broken file gives
    // the one line the CLI writes for every error.
    const consoleError = console.error;
    let reading = true;
    console.error = function () {
      if (!reading) consoleError.apply(console, arguments);
    };
    const done = (handover) => {
      reading = false;
      console.error = consoleError;
      Module['gradcamKeras'] = handover;
      removeRunDependency('gradcam-keras');
    };
    import(url.pathToFileURL(reader).href)
      .then((keras) => (zip ? keras.readKerasArchive(bytes, model) : keras.readKerasFile(bytes, model)))
      .then(({ manifest, data }) => done({ source: text(model), manifest: text(manifest),
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }),
      (e) => done({ source: text(model), error: text(e.message) }));
  });
})();
