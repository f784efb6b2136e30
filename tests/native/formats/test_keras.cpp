// Keras models: the config translated to the architecture, tensors mapped by name or by Keras's
// automatic numbering with every shape checked (native and wasm), and, natively, real HDF5 files
// written by tests/fixtures/keras_fixtures.py in Keras's own layouts.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
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

// A seed-shaped architecture's Sequential config, as model.to_json() writes it.
json keras_config_of(const Architecture& a) {
  json layers = json::array();
  for (const LayerSpec& l : a.layers) {
    json c = {{"name", l.name}};
    const char* act = activation_name(l.activation);
    switch (l.type) {
      case LayerType::conv2d:
        c.update({{"filters", l.filters}, {"kernel_size", {l.kernel_h, l.kernel_w}}, {"strides", {l.stride_h, l.stride_w}},
                  {"padding", l.padding == Padding::same ? "same" : "valid"}, {"activation", act}});
        layers.push_back(layer("Conv2D", c));
        break;
      case LayerType::dense:
        c.update({{"units", l.filters}, {"activation", act}});
        layers.push_back(layer("Dense", c));
        break;
      case LayerType::max_pool2d:
        c.update({{"pool_size", {l.pool_h, l.pool_w}}, {"strides", nullptr}, {"padding", "valid"}});
        layers.push_back(layer("MaxPooling2D", c));
        break;
      case LayerType::dropout:
        c["rate"] = l.rate;
        layers.push_back(layer("Dropout", c));
        break;
      case LayerType::batch_norm:
        c.update({{"epsilon", l.epsilon}, {"axis", {3}}});
        layers.push_back(layer("BatchNormalization", c));
        break;
      case LayerType::flatten: layers.push_back(layer("Flatten", c)); break;
    }
  }
  return sequential(layers);
}

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

TEST_CASE("a Keras Sequential config becomes the graph, Activation and Rescaling included") {
  json c = sequential({layer("Rescaling", {{"name", "rescaling"}, {"scale", 0.5}, {"offset", 0.0}}),
                       layer("Conv2D", {{"name", "c"}, {"filters", 4}, {"kernel_size", {3, 3}}, {"strides", {2, 2}},
                                        {"padding", "same"}, {"activation", "linear"}, {"data_format", "channels_last"}}),
                       layer("Activation", {{"name", "act"}, {"activation", "relu"}}),
                       layer("MaxPooling2D", {{"name", "p"}, {"pool_size", {2, 2}}, {"strides", nullptr}, {"padding", "valid"}}),
                       layer("BatchNormalization", {{"name", "bn"}, {"axis", {3}}, {"epsilon", 0.01}}),
                       layer("Dropout", {{"name", "d"}, {"rate", 0.5}}),
                       layer("Flatten", {{"name", "f"}}),
                       layer("Dense", {{"name", "out"}, {"units", 5}, {"activation", "softmax"}})});
  KerasFile f{c.dump(), "2.15.0", {}};
  auto add = [&](const std::string& l, const std::string& w, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    f.tensors.push_back({l, l + "/" + w + ":0", shape, std::vector<float>(size_t(n), 0.5f)});
  };
  add("c", "kernel", {3, 3, 3, 4}), add("c", "bias", {4});
  for (const char* w : {"gamma", "beta", "moving_mean", "moving_variance"}) add("bn", w, {4});
  add("out", "kernel", {256, 5}), add("out", "bias", {5});
  auto m = import_keras_model(f, "seq.h5");
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  const Graph& g = *m->graph;
  REQUIRE(g.nodes.size() == 8);
  CHECK(g.nodes[0].name == "rescaling");
  CHECK(m->arch.scale == 1.f);  // the Rescaling node scales the pixels
  CHECK(g.nodes[2].name == "act");
  CHECK(g.value(g.nodes[1].output).shape == Shape{16, 16, 4});
  CHECK(g.value(g.nodes[3].output).shape == Shape{8, 8, 4});
  CHECK(g.nodes[4].weights[0][0] == doctest::Approx(0.5 / std::sqrt(0.51)));  // epsilon 0.01
  CHECK(m->arch.classes == std::vector<std::string>{"class_0", "class_1", "class_2", "class_3", "class_4"});
}

TEST_CASE("a malformed Keras config is one error") {
  CHECK(error_of(import_keras_model(KerasFile{"{", "", {}}, "m.h5")) == "m.h5: the model's config is not valid JSON");
  CHECK(error_of(import_keras_model(KerasFile{R"({"class_name":"Sequential","config":{"layers":[]}})", "", {}}, "m.h5")) ==
        "m.h5: model '' has no layers");
  CHECK(error_of(import_keras_model(KerasFile{R"({"class_name":"Sequential","config":{"layers":3}})", "", {}}, "m.h5")) ==
        "m.h5: model '' has no layers");
  CHECK(error_of(import_keras_model(KerasFile{R"({"class_name":"Subclassed","config":{}})", "", {}}, "m.h5")) ==
        "m.h5: the model's class \"Subclassed\" is not supported (Sequential, Functional, Model)");
}

TEST_CASE("--arch takes the project's architecture JSON or a Keras config, told apart by class_name") {
  auto project = parse_keras_arch(architecture_to_json(seed_architecture()));
  REQUIRE_MESSAGE(project.ok(), project.error());
  CHECK(project->arch.has_value());
  CHECK(project->model_config.empty());
  const std::string text = sequential({layer("Flatten", {{"name", "f"}}), layer("Dense", {{"name", "out"}, {"units", 10}})}).dump();
  auto keras = parse_keras_arch(text);
  REQUIRE_MESSAGE(keras.ok(), keras.error());
  CHECK(!keras->arch.has_value());
  CHECK(keras->model_config == text);
  CHECK(parse_keras_arch("[1]").error() == "not a JSON object (an architecture JSON or a Keras config)");
  CHECK(parse_keras_arch(R"({"class_name": 3, "config": {}})").error().find("needs \"class_name\" (text)") != std::string::npos);
}

TEST_CASE("a Keras config given for a weights-only file names its layers (the manifest's arch)") {
  // The seed network's weights, saved from a notebook's re-run (conv2d_9.., dense_3..), with the
  // config that model.to_json() wrote: its names are the layers' names, the weights map by order.
  Model m = random_model(seed_architecture(), 5);
  std::map<std::string, std::string> rename;
  for (int i = 0; i <= 8; ++i) rename[i ? "conv2d_" + std::to_string(i) : "conv2d"] = "conv2d_" + std::to_string(9 + i);
  for (int i = 0; i <= 2; ++i) rename[i ? "dense_" + std::to_string(i) : "dense"] = "dense_" + std::to_string(3 + i);
  json manifest = {{"tensors", json::array()}};
  std::vector<float> data;
  for (const KerasTensor& t : keras_file(m).tensors) {  // saved under the seed's names
    manifest["tensors"].push_back({{"layer", t.layer}, {"weight", t.weight}, {"shape", t.shape}, {"offset", data.size()}});
    data.insert(data.end(), t.values.begin(), t.values.end());
  }
  Architecture renamed = m.arch;
  for (LayerSpec& l : renamed.layers)
    if (rename.count(l.name)) l.name = rename.at(l.name);
  for (const std::string& given : {keras_config_of(renamed).dump(), architecture_to_json(renamed)}) {
    auto r = load_keras_manifest(manifest.dump(), data.data(), data.size(), given, "model.h5");
    REQUIRE_MESSAGE(r.ok(), error_of(r));
    // A config is imported as a graph, an architecture JSON as the model file's layers: the same nodes.
    auto graph = model_graph(*r);
    CHECK(graph->nodes.front().name == "conv2d_9");
    CHECK(graph->nodes.front().weights[0] == m.params.at("conv2d.kernel"));
    CHECK(graph->nodes.back().name == "dense_5");
    CHECK(graph->nodes.back().weights[1] == m.params.at("dense_2.bias"));
  }
  auto bad = load_keras_manifest(manifest.dump(), data.data(), data.size(), "{", "model.h5");
  CHECK(error_of(bad) == "arch: not a JSON object (an architecture JSON or a Keras config)");
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
  for (const char* name : {"weights.h5", "rerun.h5", "whole.h5", "functional.h5", "model.weights.h5", "model.keras",
                           "nested.weights.h5", "deflated.keras"}) {
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

namespace {
Result<KerasFile> read_fixture(const std::string& name) {
  std::vector<uint8_t> b = read_bytes(fixtures() / name);
  return read_keras_hdf5(b.data(), b.size(), name);
}
}  // namespace

TEST_CASE("Keras 3 weights are listed by their path in the file, nested models' too, optimizer/ left out") {
  auto flat = read_fixture("model.weights.h5");
  REQUIRE_MESSAGE(flat.ok(), flat.error());
  CHECK(flat->tensors.front().layer == "layers/batch_normalization");
  CHECK(flat->tensors.front().weight == "0");
  auto nested = read_fixture("nested.weights.h5");
  REQUIRE_MESSAGE(nested.ok(), nested.error());
  std::vector<std::string> layers;
  for (const KerasTensor& t : nested->tensors)
    if (layers.empty() || layers.back() != t.layer) layers.push_back(t.layer);
  // Keras's numbering order within each container (conv2d_2 before conv2d_10 would be), the
  // nested model's layers below its path; the empty vars groups (Flatten, Dropout) and the
  // optimizer's variables give no tensors.
  const std::vector<std::string> expected = {
      "layers/dense", "layers/dense_1", "layers/dense_2",
      "layers/functional/layers/batch_normalization", "layers/functional/layers/batch_normalization_1",
      "layers/functional/layers/conv2d", "layers/functional/layers/conv2d_1", "layers/functional/layers/conv2d_2",
      "layers/functional/layers/conv2d_3", "layers/functional/layers/conv2d_4", "layers/functional/layers/conv2d_5",
      "layers/functional/layers/conv2d_6", "layers/functional/layers/conv2d_7", "layers/functional/layers/conv2d_8"};
  CHECK(layers == expected);
  CHECK(nested->tensors.size() == 32);  // 9 conv and 3 dense (kernel, bias), 2 batch norms (4 each)
}

TEST_CASE("a Keras 3 layer's variables come in numeric order: vars/10 after vars/9") {
  auto f = read_fixture("many_vars.weights.h5");
  REQUIRE_MESSAGE(f.ok(), f.error());
  REQUIRE(f->tensors.size() == 12);
  for (size_t i = 0; i < 12; ++i) {
    CAPTURE(i);
    CHECK(f->tensors[i].layer == "layers/dense");
    CHECK(f->tensors[i].weight == std::to_string(i));
    CHECK(f->tensors[i].values == std::vector<float>{float(i), float(i)});
  }
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
      {"bzip2.keras", "bzip2.keras: config.json is compressed with zip method 12; stored and deflated entries are read: "
                      "zip it again with deflate (zip's default) or none"},
      {"encrypted.keras", "encrypted.keras: config.json is encrypted (a password-protected zip); zip it again without a password"},
      {"crc.keras", "crc.keras: model.weights.h5 fails its CRC-32 check (damaged archive)"},
      {"external_layer.h5", "external_layer.h5: layer conv2d is a link to another file, not a group"},
      {"external_link.weights.h5", "external_link.weights.h5: layers/conv2d/vars is a link to another file, not a group"},
      {"oversize.keras", "oversize.keras: config.json holds 2147483647 bytes, over the 1024 MiB model limit"},
      {"overflow.keras", "overflow.keras: config.json inflates to more bytes than the archive says (damaged archive)"},
  };
  for (const auto& [name, message] : cases) {
    CAPTURE(name);
    CHECK(error_of(load_fixture(name)) == message);
  }
  CHECK(error_of(load_fixture("unsupported.h5"))
            .starts_with("unsupported.h5: layer 'conv2d_transpose' (Conv2DTranspose): this layer class is not supported (supported: "));
}
#endif
