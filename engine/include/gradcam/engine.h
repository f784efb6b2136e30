// The engine as the CLI and the JS API use it: a loaded model, a planned network, and the steps
// from image bytes to an explanation, with results as JSON.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "gradcam/methods.h"
#include "gradcam/colormap.h"
#include "gradcam/image.h"
#include "gradcam/model.h"
#include "gradcam/network.h"

namespace gradcam {

struct ClassScore {
  int index;
  float probability;
};
// The k most probable classes, most probable first.
std::vector<ClassScore> top_k(const std::vector<float>& probabilities, int k);

// What a person tells the engine about a model that its file does not say (ONNX models mostly).
struct LoadOptions {
  int size = 0;                     // input height and width when the file leaves them dynamic
  std::vector<float> mean, std;     // per-channel normalisation (torchvision's); empty: none
  std::vector<std::string> labels;  // class names; empty: the file's (ONNX: "0", "1", ...)
  // A Keras weights file's architecture (the CLI's --arch): the architecture JSON or a Keras config
  // (keras.h, parse_keras_arch), named by arch_source in messages; empty: the file's own. The JS
  // front ends hand it to load_keras_manifest instead.
  std::string arch, arch_source = "arch";
  // The engine's worker threads, 1..kMaxThreads: the kernels split their work over them, with the
  // same answers for any count. One count for the process (the engine's one thread pool), set
  // when the engine is made; 0: leave it as it is (1 unless something set it).
  int threads = 0;
};
inline constexpr int kMaxThreads = 256;

// Checks and sets a normalisation (3 means, 3 positive stds, or both empty) on a model.
Status set_normalization(Model& model, const std::vector<float>& mean, const std::vector<float>& std);
// Checks and sets class names (one per class).
Status set_labels(Model& model, const std::vector<std::string>& labels);
// One class name per line; blank lines at the end ignored.
Result<std::vector<std::string>> parse_labels(const std::string& text, const std::string& source);
// LoadOptions as the JS front ends send them: {"mean":[r,g,b], "std":[r,g,b], "labels":[names] or
// the text of a labels file, "size":N}. Every key optional (null = absent); unknown keys are errors.
// The contract's reader (engine/src/api/contract.cpp; the text form is in contract.h).
Result<LoadOptions> parse_load_options(const std::string& options_json);

class Engine {
 public:
  // The format is told by the bytes: safetensors model file, Keras HDF5 / .keras archive, or ONNX
  // (a TF.js model.json needs its weight files: load_file, or from_model(load_tfjs_model(...))).
  static Result<std::unique_ptr<Engine>> load(const uint8_t* bytes, size_t size, const std::string& source,
                                              const LoadOptions& options = {});
  // A path may also be a TF.js model.json (tfjs.h): its weight files are read beside it.
  static Result<std::unique_ptr<Engine>> load_file(const std::string& path, const LoadOptions& options = {});
  // An engine for a model read elsewhere (the wasm CLI's Keras files read in JS, a TF.js model and
  // its weight files), or that reader's error, with the options the file does not say applied and
  // checked as load() applies them.
  static Result<std::unique_ptr<Engine>> from_model(Result<Model> model, const std::string& source,
                                                    const LoadOptions& options = {});
  explicit Engine(Model model);
  // The network holds references into model_: a copied or moved Engine would point into the old one.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return model_; }
  const Architecture& arch() const { return model_.arch; }
  // The network is planned (its buffers allocated, its kernels transformed) on the first pass, not
  // when the model loads: `info` needs none of it, and the file's bytes are gone by then.
  Network& network();
  const Graph& graph() const { return *model_.graph; }
  // The file leaves normalisation and class names to the person (the importer says so).
  bool asks_for_input_options() const { return graph().asks_for_input_options; }
  // Changing what the file does not say, after loading (the page's panel).
  Status set_normalization(const std::vector<float>& mean, const std::vector<float>& std) {
    return gradcam::set_normalization(model_, mean, std);
  }
  Status set_labels(const std::vector<std::string>& labels) { return gradcam::set_labels(model_, labels); }

  // The same JSON as parse_load_options, on a loaded model: only the keys it names change, so
  // {"labels": [...]} keeps the normalisation and {"mean": [], "std": []} removes it; size cannot
  // change; threads sets the process's thread count.
  Status set_model_options(const std::string& options_json);

  // The model's input tensor for an image (HWC, scaled, normalised).
  std::vector<float> prepare(const Image& image, CropMode crop) const;
  // Probabilities for an input tensor (the logits stay in network().logits()), or the error of a
  // pass this platform cannot hold (Network::plan_pass).
  Result<std::vector<float>> predict(const std::vector<float>& input);
  Result<Explanation> explain(const std::vector<float>& input, const ExplainOptions& options);

  // {"format", "classes", "input", "layers":[{"name","type","output":[h,w,c], ...}], "explainable",
  //  "default_layer", "methods", "method_details", "names": every name table (contract.h's
  //  name_tables_json), "trained", "parameters"}; a model without a layer list (ONNX) lists its
  //  explainable nodes as "layers", "output" [1,C,H,W]. Written in result_json.cpp.
  std::string info_json() const;

 private:
  Model model_;
  std::unique_ptr<Network> net_;  // planned by network()
};

// A pixel value (0..255) of channel k as the model's input takes it, and back: pixel * scale, then
// (x - mean) / std when the model is normalised.
float pixel_to_input(const Architecture& arch, int k, float pixel);
float input_to_pixel(const Architecture& arch, int k, float x);

// The explained layer's name: the graph node's (an ONNX node name or a model file's layer name).
std::string layer_name(const Model& model, int layer);
// The model's input as the model itself takes it: [1,C,H,W] for ONNX (PyTorch), [1,H,W,C] for a
// model file (Keras), and the engine's channels-last input tensor reordered into that layout.
std::vector<int64_t> model_input_shape(const Model& model);
std::vector<float> model_layout_input(const Model& model, const std::vector<float>& hwc);

// The result as the CLI's --json prints it and the JS API returns it.
struct JsonOptions {
  const std::vector<float>* input = nullptr;  // include "input" (--dump-input)
  double decode_ms = 0, preprocess_ms = 0;
  int top = 5;
  bool cam_values = true;  // false: "cam" holds only its size (the JS API reads the values directly)
  const char* crop = nullptr;  // include "crop" (the mode the input was prepared with)
};
std::string explanation_json(const Model& model, const Explanation& e, const JsonOptions& options);
// The explanation in one line, as every front end shows it (the JSON's "summary"): "cat (93.0%) ·
// Grad-CAM for cat at conv2d_8 (8×8)"; the target's own probability follows it when it is not the
// top class. Front ends add their own timing and notes.
std::string explanation_summary(const Model& model, const Explanation& e);
// A prediction alone: {"probabilities", "logits", "top", "trained", "timings_ms":{"preprocess"}}.
std::string prediction_json(const Model& model, const std::vector<float>& probabilities, const std::vector<float>& logits,
                            double preprocess_ms, int top = 5);
// Every conv layer's map (explain_all_layers): the explanation's fields, with "layers":[{"name",
// "index","height","width","channels","offset"}] where offset[i] locates layer i's map in a
// buffer that the caller fills (the JS API's shared float array).
std::string all_layers_json(const Model& model, const std::vector<Explanation>& all, const std::vector<size_t>& offsets,
                            int top = 5);

}  // namespace gradcam
