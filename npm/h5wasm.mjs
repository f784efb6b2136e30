// h5wasm.mjs (npm package): keras.mjs reads Keras files with the `h5wasm` dependency, imported by
// its bare name so that Node and bundlers resolve it (its `import` export: dist/esm/hdf5_hl.js).
// It is imported only when a Keras file is opened. The site's version: engine/js/h5wasm.mjs.
export * from 'h5wasm';
