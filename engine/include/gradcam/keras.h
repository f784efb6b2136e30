// Keras models as the engine reads them. A reader (native HDF5 in formats/keras_hdf5.cpp, or the JS
// API through h5wasm) lists the file's weight tensors and its model_config JSON; the format-neutral
// steps here choose the architecture and map the tensors onto it, so every front end maps the same.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gradcam/model.h"

namespace gradcam {

// One weight as the file stores it: its layer, its weight name (Keras 2: "conv2d/kernel:0";
// Keras 3: "0", "1", ...), its shape and, once read, its values (Keras layout, F32).
struct KerasTensor {
  std::string layer;
  std::string weight;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct KerasFile {
  std::string model_config;  // the whole-model file's config JSON; empty for a weights-only file
  std::string keras_version;
  std::vector<KerasTensor> tensors;  // layers in model order, weights in the layer's order
};


// The architecture for a Keras weights file: `override_arch` if given (--arch), else the seed
// network (the tutorial's save_weights file has no config; a file with one is imported as a graph).
Result<Architecture> keras_architecture(const KerasFile& file, const Architecture* override_arch);

// For every parameter of the architecture (parameter_specs order), the index of the tensor that
// fills it. Layers match by name; where names differ only by Keras's automatic numbering (a
// notebook re-run gives conv2d_9.., dense_3..), by order within each base name. Every shape is
// checked: errors name the layer, the expected and the found shape. Values are not needed here, so
// a reader can check shapes before it reads (or allocates) any data.
Result<std::vector<size_t>> match_keras_tensors(const Architecture& arch, const std::vector<KerasTensor>& tensors,
                                                const std::string& source);

// The model: the architecture and the matched tensors' values (every one finite).
Result<Model> model_from_keras(const Architecture& arch, const KerasFile& file, const std::string& source);

// A whole-model file's network: its config (Keras 2 model_config, Keras 3 config.json, TF.js
// modelTopology; Sequential or Functional, models nested in models inlined) as the engine's graph
// of op descriptors, one Keras layer as one or a few nodes named after it, with the file's tensors
// bound to the layers that own them (Keras 2 and TF.js by weight name, "<layer>/<weight>[:0]" in
// the group `layer` (a nested model's for its layers; empty: any); Keras 3 by position under
// "layers/<snake_case class>[_N]", nested "layers/functional/layers/...", as saving_lib.py
// numbers them; a bare "conv2d_1" means "layers/conv2d_1"). Every shape is checked, every value
// finite, every tensor used. Errors name the layer and its class.
// `size` (--size) gives an input whose height and width the config leaves open (None); a fixed
// input must match it.
Result<Model> import_keras_model(const KerasFile& file, const std::string& source, int size = 0);

// The architecture a person gives a Keras weights file (--arch, the JS API's `arch`): either this
// project's architecture JSON (`arch`) or a Keras config (`model_config`: Keras 3's config.json,
// Keras 2's model.to_json()), told apart by the config's top-level "class_name".
struct KerasArch {
  std::optional<Architecture> arch;
  std::string model_config;
  int size = 0;  // --size: the input's height and width where the config leaves them open (None)
};
Result<KerasArch> parse_keras_arch(const std::string& text);
// The model from what a reader found. Every reader (HDF5, archive, manifest, TF.js) ends here.
// `given` (--arch, may be null): a Keras config replaces the file's model_config; an architecture
// JSON overrides it. A file with a config and no architecture JSON goes through
// import_keras_model; otherwise the architecture (keras_architecture: the given one, else the seed
// network) takes the tensors matched onto it (model_from_keras).
Result<Model> load_keras_file(KerasFile file, const std::string& source, const KerasArch* given);

// HDF5's 8-byte signature at the start of the file (Keras .h5 files carry no user block).
bool is_hdf5(const uint8_t* bytes, size_t size);
bool is_zip(const uint8_t* bytes, size_t size);

// Reads a Keras HDF5 file (Keras 2 save_weights / save, Keras 3 .weights.h5) from memory through
// the HDF5 library; only in builds with HDF5 (the native one). Elsewhere it returns an error that
// says how to convert the file.
// `archive_config`: the config.json of a .keras archive, used when the file has no model_config;
// `given`: what --arch gave (parse_keras_arch), before either. It is read_keras_hdf5 (natively in a
// child process, so that a crash inside the HDF5 library on a damaged file is an error), then
// load_keras_file.
Result<Model> load_keras_hdf5(const uint8_t* bytes, size_t size, const std::string& source,
                              const KerasArch* given = nullptr, const std::string* archive_config = nullptr);

// An entry of a zip archive: a stored one where it lies in the archive, a deflated one inflated.
struct ZipEntry {
  size_t offset = 0, size = 0;    // a stored entry's bytes within the archive
  std::vector<uint8_t> inflated;  // a deflated entry's bytes (empty for a stored one)
  const uint8_t* data(const uint8_t* archive) const { return inflated.empty() ? archive + offset : inflated.data(); }
};
// The entry `name` of a zip archive, stored or deflated (natively; the wasm engine refuses deflated
// entries, which its JS front end inflates), at most `max_size` bytes once inflated, its CRC-32
// checked. Errors say what is wrong with the entry (encrypted, another compression method, over the
// limit, damaged).
Result<ZipEntry> read_zip_entry(const uint8_t* bytes, size_t size, const std::string& name, size_t max_size);
// A Keras 3 .keras archive: its config.json and model.weights.h5 (load_keras_hdf5).
Result<Model> load_keras_archive(const uint8_t* bytes, size_t size, const std::string& source,
                                 const KerasArch* given = nullptr);
bool keras_hdf5_available();
// The HDF5 library's part: the file's model_config (empty for a weights-only file), Keras version
// and every weight tensor with its values, in the file's layer order. Errors name the tensor.
Result<KerasFile> read_keras_hdf5(const uint8_t* bytes, size_t size, const std::string& source);

// The JS API's hand-over (h5wasm reads the file in JS): a manifest JSON {"model_config": "...",
// "keras_version": "...", "tensors": [{"layer", "weight", "shape": [..], "offset"}]} with offsets
// in floats into `data`. Every offset and shape is checked against `count`.
Result<KerasFile> keras_file_from_manifest(const std::string& manifest, const float* data, size_t count);
// The model from such a hand-over: keras_architecture, then model_from_keras. `arch_json` (the
// architecture JSON or a Keras config, parse_keras_arch; for a weights-only file of another network)
// may be empty. `size` (--size, the JS API's `size`; 0: not given) as for load_keras_file: the
// input's height and width where the config leaves them open.
Result<Model> load_keras_manifest(const std::string& manifest, const float* data, size_t count,
                                  const std::string& arch_json, const std::string& source, int size = 0);

}  // namespace gradcam
