// The engine as the CLI and the JS API use it: a loaded model, a planned network, and the steps
// from image bytes to an explanation, with results as JSON.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "gradcam/cam.h"
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

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> load(const uint8_t* bytes, size_t size, const std::string& source);
  static Result<std::unique_ptr<Engine>> load_file(const std::string& path);
  explicit Engine(Model model);
  // The network holds references into model_: a copied or moved Engine would point into the old one.
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Model& model() const { return model_; }
  const Architecture& arch() const { return model_.arch; }
  Network& network() { return net_; }

  // The model's input tensor for an image (HWC, scaled).
  std::vector<float> prepare(const Image& image, CropMode crop) const;
  // Probabilities for an input tensor.
  const std::vector<float>& predict(const std::vector<float>& input);
  Result<Explanation> explain(const std::vector<float>& input, const ExplainOptions& options);

  // {"classes", "input", "layers":[{"name","type","output":[h,w,c], ...}], "trained", "parameters"}
  std::string info_json() const;

 private:
  Model model_;
  Network net_;
};

// The result as the CLI's --json prints it and the JS API returns it.
struct JsonOptions {
  const std::vector<float>* input = nullptr;  // include "input" (--dump-input)
  double decode_ms = 0, preprocess_ms = 0;
  int top = 5;
  bool cam_values = true;  // false: "cam" holds only its size (the JS API reads the values directly)
  const char* crop = nullptr;  // include "crop" (the mode the input was prepared with)
};
std::string explanation_json(const Model& model, const Explanation& e, const JsonOptions& options);
// A prediction alone: {"probabilities", "logits", "top", "trained", "timings_ms":{"preprocess"}}.
std::string prediction_json(const Model& model, const std::vector<float>& probabilities, const std::vector<float>& logits,
                            double preprocess_ms, int top = 5);
// Every conv layer's map (explain_all_layers): the explanation's fields, with "layers":[{"name",
// "index","height","width","channels","offset"}] where offset[i] locates layer i's map in a
// buffer that the caller fills (the JS API's shared float array).
std::string all_layers_json(const Model& model, const std::vector<Explanation>& all, const std::vector<size_t>& offsets,
                            int top = 5);

}  // namespace gradcam
