// Keras models: the config translated to the architecture, tensors mapped by name or by Keras's
// automatic numbering with every shape checked (native and wasm), and, natively, real HDF5 files
// written by tests/fixtures/keras_fixtures.py in Keras's own layouts.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gradcam/graph.h"
#include "gradcam/keras.h"

using namespace gradcam;
using json = nlohmann::json;

namespace {

// A model's parameters as a Keras 2 save_weights file lists them, with layer names renamed.
KerasFile keras_file(const Model& m, const std::map<std::string, std::string>& rename = {}) {
  KerasFile f;
  for (const LayerSpec& l : m.arch.layers) {
    std::vector<std::string> params;
    if (l.type == LayerType::batch_norm) params = {"gamma", "beta", "moving_mean", "moving_variance"};
    else if (l.type == LayerType::conv2d || l.type == LayerType::dense) params = {"kernel", "bias"};
    const std::string name = rename.count(l.name) ? rename.at(l.name) : l.name;
    for (const ParamSpec& s : parameter_specs(m.arch))
      for (const std::string& p : params)
        if (s.name == l.name + "." + p) f.tensors.push_back({name, name + "/" + p + ":0", s.shape, m.params.at(s.name)});
  }
  return f;
}

std::string error_of(const Result<Model>& r) { return r ? std::string() : r.error(); }

// A Sequential config as tf.keras 2 writes it.
json sequential(const json& layers) {
  json all = json::array({{{"class_name", "InputLayer"}, {"config", {{"batch_input_shape", {nullptr, 32, 32, 3}}, {"name", "input_1"}}}}});
  for (const json& l : layers) all.push_back(l);
  return {{"class_name", "Sequential"}, {"config", {{"name", "sequential"}, {"layers", all}}}};
}
json layer(const std::string& cls, json config) { return {{"class_name", cls}, {"config", config}}; }

}  // namespace

TEST_CASE("a Keras weights file with the seed network's names maps onto it unchanged") {
  Model m = random_model(seed_architecture(), 5);
  auto r = model_from_keras(seed_architecture(), keras_file(m), "model.h5");
  REQUIRE_MESSAGE(r.ok(), error_of(r));
  CHECK(r->params == m.params);
  CHECK(r->trained());
}

TEST_CASE("re-run names (conv2d_9.., dense_3..) map by order within each base name") {
  Model m = random_model(seed_architecture(), 5);
  std::map<std::string, std::string> rename;
  for (int i = 0; i <= 8; ++i) rename[i ? "conv2d_" + std::to_string(i) : "conv2d"] = "conv2d_" + std::to_string(9 + i);
  for (int i = 0; i <= 2; ++i) rename[i ? "dense_" + std::to_string(i) : "dense"] = "dense_" + std::to_string(3 + i);
  rename["batch_normalization"] = "batch_normalization_2";
  rename["batch_normalization_1"] = "batch_normalization_3";
  KerasFile f = keras_file(m, rename);
  // Keras 3's .weights.h5 names weights by position only.
  for (KerasTensor& t : f.tensors)
    if (t.layer.rfind("dense", 0) == 0) t.weight = std::to_string(&t - f.tensors.data());
  auto r = model_from_keras(seed_architecture(), f, "rerun.h5");
  REQUIRE_MESSAGE(r.ok(), error_of(r));
  CHECK(r->params == m.params);
}

TEST_CASE("a Keras shape mismatch names the layer, the expected and the found shape") {
  Model m = random_model(seed_architecture(), 5);
  KerasFile f = keras_file(m);
  for (KerasTensor& t : f.tensors)
    if (t.layer == "conv2d_3" && t.weight == "conv2d_3/kernel:0") t.shape = {3, 3, 32, 64};
  CHECK(error_of(model_from_keras(seed_architecture(), f, "m.h5")) ==
        "m.h5: layer conv2d_3 kernel has shape [3,3,32,64], expected [3,3,64,64]");
}

TEST_CASE("Keras files of another network are refused with a reason") {
  Model m = random_model(seed_architecture(), 5);
  KerasFile extra = keras_file(m);
  extra.tensors.push_back({"dense_7", "dense_7/bias:0", {10}, std::vector<float>(10, 0.f)});
  CHECK(error_of(model_from_keras(seed_architecture(), extra, "m.h5")).find("layer dense_7 that the architecture has no layer for") !=
        std::string::npos);
  KerasFile missing = keras_file(m);
  std::erase_if(missing.tensors, [](const KerasTensor& t) { return t.layer == "conv2d_8"; });
  CHECK(error_of(model_from_keras(seed_architecture(), missing, "m.h5")).find("layer conv2d_8 has no weights") !=
        std::string::npos);
  KerasFile short_values = keras_file(m);
  short_values.tensors[0].values.pop_back();
  CHECK(error_of(model_from_keras(seed_architecture(), short_values, "m.h5")).find("holds 863 values") != std::string::npos);
}

TEST_CASE("a Keras Sequential config becomes the architecture, Activation and Rescaling included") {
  json c = sequential({layer("Rescaling", {{"name", "rescaling"}, {"scale", 0.5}, {"offset", 0.0}}),
                       layer("Conv2D", {{"name", "c"}, {"filters", 4}, {"kernel_size", {3, 3}}, {"strides", {2, 2}},
                                        {"padding", "same"}, {"activation", "linear"}, {"data_format", "channels_last"}}),
                       layer("Activation", {{"name", "act"}, {"activation", "relu"}}),
                       layer("MaxPooling2D", {{"name", "p"}, {"pool_size", {2, 2}}, {"strides", nullptr}, {"padding", "valid"}}),
                       layer("BatchNormalization", {{"name", "bn"}, {"axis", {3}}, {"epsilon", 0.01}}),
                       layer("Dropout", {{"name", "d"}, {"rate", 0.5}}),
                       layer("Flatten", {{"name", "f"}}),
                       layer("Dense", {{"name", "out"}, {"units", 5}, {"activation", "softmax"}})});
  auto a = architecture_from_keras_config(c.dump());
  REQUIRE_MESSAGE(a.ok(), (a.ok() ? std::string() : a.error()));
  CHECK(a->scale == doctest::Approx(0.5));
  REQUIRE(a->layers.size() == 6);
  CHECK(a->layers[0].activation == Activation::relu);
  CHECK(a->layers[0].output == Shape{16, 16, 4});
  CHECK(a->layers[1].output == Shape{8, 8, 4});
  CHECK(a->layers[2].epsilon == doctest::Approx(0.01));
  CHECK(a->classes == std::vector<std::string>{"class_0", "class_1", "class_2", "class_3", "class_4"});
}

TEST_CASE("unsupported Keras layers and graphs are named in the error") {
  json c = sequential({layer("Conv2D", {{"name", "c"}, {"filters", 4}, {"kernel_size", 3}}),
                       layer("GlobalAveragePooling2D", {{"name", "gap"}}), layer("Dense", {{"name", "d"}, {"units", 10}})});
  auto a = architecture_from_keras_config(c.dump());
  REQUIRE(!a.ok());
  CHECK(a.error().find("layer 2 (gap, GlobalAveragePooling2D): layer class GlobalAveragePooling2D is not supported") !=
        std::string::npos);
  // A Functional model whose second layer reads the input again (a branch), not the layer before.
  json f = {{"class_name", "Functional"},
            {"config",
             {{"layers",
               {{{"class_name", "InputLayer"}, {"name", "in"}, {"config", {{"name", "in"}, {"batch_shape", {nullptr, 32, 32, 3}}}}},
                {{"class_name", "Conv2D"}, {"name", "a"}, {"config", {{"name", "a"}, {"filters", 4}, {"kernel_size", 3}}},
                 {"inbound_nodes", {{{"args", {{{"config", {{"keras_history", {"in", 0, 0}}}}}}}}}}},
                {{"class_name", "Flatten"}, {"name", "b"}, {"config", {{"name", "b"}}},
                 {"inbound_nodes", {{{"args", {{{"config", {{"keras_history", {"in", 0, 0}}}}}}}}}}}}}}}};
  a = architecture_from_keras_config(f.dump());
  REQUIRE(!a.ok());
  CHECK(a.error().find("(b, Flatten): takes its input from [\"in\"], not from the layer before it") != std::string::npos);
  CHECK(!architecture_from_keras_config("{").ok());
  CHECK(architecture_from_keras_config(R"({"class_name":"Sequential","config":{"layers":[]}})").error() ==
        "model_config has no layers");
}

TEST_CASE("the JS API's Keras manifest is checked against its data") {
  std::vector<float> data(10, 1.f);
  auto ok = keras_file_from_manifest(R"({"tensors":[{"layer":"d","weight":"d/bias:0","shape":[10],"offset":0}]})",
                                     data.data(), data.size());
  REQUIRE(ok.ok());
  CHECK(ok->tensors[0].values.size() == 10);
  for (const char* bad : {R"({"tensors":[{"layer":"d","weight":"w","shape":[11],"offset":0}]})",
                          R"({"tensors":[{"layer":"d","weight":"w","shape":[2],"offset":9}]})",
                          R"({"tensors":[{"layer":"d","weight":"w","shape":[4294967296,4294967296],"offset":0}]})",
                          R"({"tensors":[{"layer":"d","weight":"w","shape":[-1],"offset":0}]})", R"({"tensors":7})", "[]"})
    CHECK_MESSAGE(!keras_file_from_manifest(bad, data.data(), data.size()).ok(), bad);
}

#if GRADCAM_HAVE_HDF5
namespace {
std::vector<uint8_t> read_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
// The fixtures, written once per run by the committed script (python3-h5py, tools/deps.sh).
const std::filesystem::path& fixtures() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("gradcam-keras-" + std::to_string(::getpid()));
    std::string cmd = "/usr/bin/python3 " GRADCAM_SOURCE_DIR "/tests/fixtures/keras_fixtures.py " + d.string() +
                      " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("keras_fixtures.py failed: install python3-h5py (tools/deps.sh)");
    return d;
  }();
  return dir;
}
Result<Model> load_fixture(const std::string& name) {
  std::vector<uint8_t> b = read_bytes(fixtures() / name);
  if (name.ends_with(".keras")) return load_keras_archive(b.data(), b.size(), name);
  return load_keras_hdf5(b.data(), b.size(), name);
}
}  // namespace

TEST_CASE("Keras HDF5 files and .keras archives in every layout load the shipped model's weights exactly") {
  auto shipped = load_model_file(GRADCAM_SOURCE_DIR "/assets/models/cifar10.safetensors");
  REQUIRE(shipped.ok());
  for (const char* name : {"weights.h5", "rerun.h5", "whole.h5", "functional.h5", "model.weights.h5", "model.keras"}) {
    CAPTURE(name);
    auto m = load_fixture(name);
    REQUIRE_MESSAGE(m.ok(), error_of(m));
    CHECK(m->arch.classes == shipped->arch.classes);
    // The same ops holding the same values in the same order, whether the network came from the
    // seed architecture (weights-only files) or from the file's config (whole.h5 keeps its re-run
    // layer names).
    auto graph = model_graph(*m), expected = model_graph(*shipped);
    REQUIRE(graph->nodes.size() == expected->nodes.size());
    for (size_t i = 0; i < graph->nodes.size(); ++i) {
      CHECK(graph->nodes[i].op == expected->nodes[i].op);
      CHECK(graph->nodes[i].attrs.relu == expected->nodes[i].attrs.relu);
      CHECK(graph->nodes[i].weights == expected->nodes[i].weights);
    }
  }
  CHECK(load_fixture("whole.h5")->graph->nodes[0].name == "conv2d_9");
  CHECK(load_fixture("functional.h5")->metadata.at("keras_version") == "3.6.0");
}

TEST_CASE("broken and hostile Keras HDF5 files give one clear error each") {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"empty.h5", "empty.h5: empty file"},
      {"truncated.h5", "truncated.h5: not a readable HDF5 file (truncated or damaged)"},
      {"mismatch.h5", "mismatch.h5: layer conv2d_3 kernel has shape [3,3,32,64], expected [3,3,64,64]"},
      {"huge.h5", "huge.h5: tensor conv2d/conv2d/kernel:0 is larger than the limit of 134217728 values"},
      {"int_dtype.h5", "int_dtype.h5: tensor dense/dense/bias:0 holds integer values; Keras weights are floats"},
      {"string_dtype.h5", "string_dtype.h5: tensor dense/dense/bias:0 holds string values; Keras weights are floats"},
      {"nan.h5", "nan.h5: tensor dense_2/dense_2/bias:0 contains NaN or infinity"},
      {"not_keras.h5", "not_keras.h5: not a Keras weights file: no layer_names attribute (Keras 2 save_weights or save) "
                       "and no layers/ group (Keras 3 .weights.h5)"},
      {"deflated.keras", "deflated.keras: config.json is compressed (method 8); only stored entries are read, as Keras writes them"},
  };
  for (const auto& [name, message] : cases) {
    CAPTURE(name);
    CHECK(error_of(load_fixture(name)) == message);
  }
  CHECK(error_of(load_fixture("unsupported.h5"))
            .starts_with("unsupported.h5: layer 'conv2d_transpose' (Conv2DTranspose): this layer class is not supported (supported: "));
}
#endif
