// h5wasm.mjs: where keras.mjs finds h5wasm. The site serves npm's h5wasm beside the JS API
// (web/site.cmake copies it to h5wasm/); the npm package replaces this file with one that imports
// the bare name `h5wasm`, its dependency (npm/h5wasm.mjs).
export * from './h5wasm/hdf5_hl.js';
