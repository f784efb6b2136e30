// TF.js layers models (tfjs-converter's `--output_format tfjs_layers_model`, tfjs-layers'
// model.save(), Teachable Machine's image export): a model.json holding the Keras config
// (modelTopology) and a weightsManifest that names the weight files ("shards") beside it. The
// weights become a KerasFile, so a TF.js model maps onto the engine exactly as a Keras file does.
// Layouts: tfjs-core/src/io/types.ts (WeightsManifestConfig) and io_utils.ts (decodeWeights).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gradcam/keras.h"
#include "gradcam/model.h"

namespace gradcam {

// The bytes of a weight file by the path the manifest gives (relative to model.json's folder), or
// an error saying why it cannot be had (missing, unreadable). Natively the file system; in the
// JS API the files the caller handed over.
using TfjsWeightReader = std::function<Result<std::vector<uint8_t>>(const std::string& path)>;

// A model.json's text, told from other JSON by its keys (modelTopology, weightsManifest).
bool is_tfjs_model_json(const uint8_t* bytes, size_t size);

// model.json and its weight files as a KerasFile: the topology's Keras config as model_config,
// every weight (manifest name as `weight`; as `layer`, the first path component of a name with
// three or more, the nested model it belongs to, else empty: any group) dequantised as
// TF.js does (uint8/uint16: q * scale + min; float16: the half's value). Each group's files are
// concatenated in `paths` order and must hold exactly the bytes its weights need. Errors start
// with `source` and name the file or weight and what is wrong.
Result<KerasFile> keras_file_from_tfjs(const std::string& model_json, const TfjsWeightReader& read_weights,
                                       const std::string& source);

// A Teachable Machine metadata.json (packageName "@teachablemachine/image"): its labels become the
// class names (as many as the model's outputs) and its images are scaled to [-1, 1] (pixel / 127.5
// - 1, as @teachablemachine/image does before predicting); imageSize must be the model's input.
// Another package's metadata gives labels only. Errors start with `source`.
Status apply_tfjs_metadata(Model& model, const std::string& metadata_json, const std::string& source);

// The model: keras_file_from_tfjs, then load_keras_file, then the metadata if there is one.
Result<Model> load_tfjs_model(const std::string& model_json, const TfjsWeightReader& read_weights,
                              const std::string* metadata_json, const std::string& source,
                              const std::string& metadata_source = "metadata.json");

// Natively: model.json at `path`, its weight files by their manifest paths relative to its folder
// (never outside it), and metadata.json beside it when there is one.
Result<Model> load_tfjs_model_file(const std::string& path);

}  // namespace gradcam
