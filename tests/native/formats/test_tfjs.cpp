// TF.js layers models: model.json's weightsManifest decoded by TF.js's rule (float32, int32, and
// the uint8 / uint16 / float16 quantised forms), shards concatenated per group, every size and
// path checked, and a Teachable Machine metadata.json's labels and [-1, 1] scale applied.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gradcam/graph.h"
#include "gradcam/tfjs.h"

using namespace gradcam;
using json = nlohmann::json;

namespace {

// A Keras Sequential (input 2x2x3, Flatten, Dense 2 softmax) as tfjs-layers' model.save() writes it.
json topology() {
  return {{"class_name", "Sequential"},
          {"config",
           {{"name", "sequential"},
            {"layers",
             {{{"class_name", "Flatten"}, {"config", {{"name", "flatten"}, {"batch_input_shape", {nullptr, 2, 2, 3}}}}},
              {{"class_name", "Dense"}, {"config", {{"name", "dense"}, {"units", 2}, {"activation", "softmax"}}}}}}}},
          {"keras_version", "tfjs-layers 4.22.0"},
          {"backend", "tensor_flow.js"}};
}

json weight(const std::string& name, std::vector<int> shape, const json& quantization = nullptr) {
  json w = {{"name", name}, {"shape", shape}, {"dtype", "float32"}};
  if (!quantization.is_null()) w["quantization"] = quantization;
  return w;
}

json model_json(const json& weights, const json& paths = {"group1-shard1of1.bin"}) {
  return {{"format", "layers-model"},
          {"generatedBy", "keras v2.15.0"},
          {"convertedBy", "TensorFlow.js Converter v4.22.0"},
          {"modelTopology", topology()},
          {"weightsManifest", {{{"paths", paths}, {"weights", weights}}}}};
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

using Files = std::map<std::string, std::vector<uint8_t>>;

TfjsWeightReader reader(const Files& files) {
  return [files](const std::string& path) -> Result<std::vector<uint8_t>> {
    if (!files.count(path)) return make_error("weight file " + path + " is missing");
    return files.at(path);
  };
}

std::vector<float> iota_floats(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = float(i) * step - 0.5f;
  return v;
}

const json kWeights = {weight("dense/kernel", {12, 2}), weight("dense/bias", {2})};

Files float_files() {
  std::vector<float> all = iota_floats(26, 0.03f);
  return {{"group1-shard1of1.bin", bytes_of(all)}};
}

std::string error_of(const Result<KerasFile>& r) { return r ? std::string() : r.error(); }

}  // namespace

TEST_CASE("a TF.js model.json with float32 weights becomes a KerasFile named as Keras names it") {
  auto f = keras_file_from_tfjs(model_json(kWeights).dump(), reader(float_files()), "m/model.json");
  REQUIRE_MESSAGE(f, error_of(f));
  CHECK(json::parse(f->model_config)["class_name"] == "Sequential");
  CHECK(f->keras_version == "tfjs-layers 4.22.0");
  REQUIRE(f->tensors.size() == 2);
  CHECK(f->tensors[0].layer == "");  // a two-part name says no group: it binds by "dense/kernel" anywhere
  CHECK(f->tensors[0].weight == "dense/kernel");
  CHECK(f->tensors[0].shape == std::vector<int64_t>{12, 2});
  const std::vector<float> all = iota_floats(26, 0.03f);
  CHECK(f->tensors[1].values == std::vector<float>(all.begin() + 24, all.end()));
  // The converter nests the config as a Keras 2 .h5 does.
  json nested = model_json(kWeights);
  nested["modelTopology"] = {{"keras_version", "2.15.0"}, {"backend", "tensorflow"}, {"model_config", topology()}};
  auto g = keras_file_from_tfjs(nested.dump(), reader(float_files()), "model.json");
  REQUIRE_MESSAGE(g, error_of(g));
  CHECK(g->keras_version == "2.15.0");
  CHECK(json::parse(g->model_config)["config"]["name"] == "sequential");
  // And the model loads through the Keras importer.
  auto m = load_tfjs_model(model_json(kWeights).dump(), reader(float_files()), nullptr, "model.json");
  REQUIRE_MESSAGE(m, (m ? "" : m.error()));
  CHECK(m->arch.classes.size() == 2);
  CHECK(m->arch.scale == doctest::Approx(1.0 / 255));
}

TEST_CASE("quantised TF.js weights decode as TF.js decodes them, across shards") {
  // uint8: q * scale + min; uint16 likewise; float16: the half's value. The group's bytes are the
  // two shards concatenated, so the uint16 bias straddles them.
  const json q8 = {{"dtype", "uint8"}, {"scale", 0.5}, {"min", -2.0}, {"original_dtype", "float32"}};
  const json q16 = {{"dtype", "uint16"}, {"scale", 0.25}, {"min", -1.0}, {"original_dtype", "float32"}};
  std::vector<uint8_t> kernel(24);
  for (size_t i = 0; i < 24; ++i) kernel[i] = uint8_t(i * 7);
  std::vector<uint8_t> data = kernel;
  for (uint16_t q : {uint16_t(3), uint16_t(60000)}) data.insert(data.end(), {uint8_t(q & 0xff), uint8_t(q >> 8)});
  Files files = {{"a.bin", std::vector<uint8_t>(data.begin(), data.begin() + 25)},
                 {"b.bin", std::vector<uint8_t>(data.begin() + 25, data.end())}};
  auto f = keras_file_from_tfjs(model_json({weight("dense/kernel", {12, 2}, q8), weight("dense/bias", {2}, q16)},
                                           {"a.bin", "b.bin"}).dump(),
                                reader(files), "model.json");
  REQUIRE_MESSAGE(f, error_of(f));
  for (size_t i = 0; i < 24; ++i) CHECK(f->tensors[0].values[i] == float(i * 7 * 0.5 - 2.0));
  CHECK(f->tensors[1].values == std::vector<float>{-0.25f, 14999.0f});

  const json f16 = {{"dtype", "float16"}, {"original_dtype", "float32"}};
  std::vector<uint16_t> halves(26, 0x3E00);  // 1.5
  halves[25] = 0xC000;                       // -2
  auto h = keras_file_from_tfjs(model_json({weight("dense/kernel", {12, 2}, f16), weight("dense/bias", {2}, f16)}).dump(),
                                reader({{"group1-shard1of1.bin", bytes_of(halves)}}), "model.json");
  REQUIRE_MESSAGE(h, error_of(h));
  CHECK(h->tensors[0].values == std::vector<float>(24, 1.5f));
  CHECK(h->tensors[1].values == std::vector<float>{1.5f, -2.f});
}

TEST_CASE("broken TF.js manifests give one error naming the file and what is wrong") {
  auto err = [](const json& model, const Files& files) {
    return error_of(keras_file_from_tfjs(model.dump(), reader(files), "m/model.json"));
  };
  CHECK(err(model_json(kWeights), {}) == "m/model.json: weight file group1-shard1of1.bin is missing");
  Files short_files = float_files();
  short_files["group1-shard1of1.bin"].resize(100);
  CHECK(err(model_json(kWeights), short_files) ==
        "m/model.json: weight file group1-shard1of1.bin is too short: 100 bytes, the manifest's weights need 104 "
        "(dense/bias is cut off)");
  Files long_files = float_files();
  long_files["group1-shard1of1.bin"].resize(108);
  CHECK(err(model_json(kWeights), long_files).find("holds more bytes than the manifest's weights need (104") !=
        std::string::npos);
  json bad_dtype = model_json(kWeights);
  bad_dtype["weightsManifest"][0]["weights"][1]["dtype"] = "bool";
  CHECK(err(bad_dtype, float_files()) ==
        "m/model.json: weight dense/bias: dtype bool is not a weight type (TF.js layers weights are float32 or int32)");
  json bad_quant = model_json({weight("dense/kernel", {12, 2}, {{"dtype", "int4"}}), weight("dense/bias", {2})});
  CHECK(err(bad_quant, float_files()).find("quantization dtype int4 is unknown (TF.js writes uint8, uint16 and float16)") !=
        std::string::npos);
  json no_scale = model_json({weight("dense/kernel", {12, 2}, {{"dtype", "uint8"}}), weight("dense/bias", {2})});
  CHECK(err(no_scale, float_files()).find("quantization uint8 needs a numeric scale and min") != std::string::npos);
  json huge = model_json({weight("dense/kernel", {1 << 20, 1 << 20}), weight("dense/bias", {2})});
  CHECK(err(huge, float_files()).find("is larger than the limit") != std::string::npos);
  for (const char* path : {"../secret.bin", "/etc/passwd", "a/../../b.bin", "C:\\w.bin"})
    CHECK(err(model_json(kWeights, {path}), float_files()).find("is not a path relative to model.json's folder") !=
          std::string::npos);
  json graph = model_json(kWeights);
  graph["format"] = "graph-model";
  CHECK(err(graph, float_files()).find("a TF.js graph model has no Keras layers") != std::string::npos);
  CHECK(err(json::array(), float_files()) == "m/model.json: not valid JSON (a TF.js model.json is one JSON object)");
  json no_manifest = model_json(kWeights);
  no_manifest.erase("weightsManifest");
  CHECK(err(no_manifest, float_files()) == "m/model.json: has no weightsManifest (the list of weight files)");
}

TEST_CASE("a TF.js model.json is told from other JSON and from binary model files") {
  const std::string text = "\xEF\xBB\xBF  " + model_json(kWeights).dump();
  CHECK(is_tfjs_model_json(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
  const std::string other = R"({"format": "gradcam-cnn", "layers": []})";
  CHECK_FALSE(is_tfjs_model_json(reinterpret_cast<const uint8_t*>(other.data()), other.size()));
  // A safetensors header length whose first byte is '{' (123): binary after it, not a model.json.
  const uint8_t st[16] = {123, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':', 1, 2, 3};
  CHECK_FALSE(is_tfjs_model_json(st, sizeof st));
}

TEST_CASE("a Teachable Machine metadata.json names the classes and scales the input to [-1, 1]") {
  auto load = [](const json& meta) {
    const std::string text = meta.dump();
    return load_tfjs_model(model_json(kWeights).dump(), reader(float_files()), &text, "tm/model.json", "tm/metadata.json");
  };
  json meta = {{"packageName", "@teachablemachine/image"}, {"labels", {"Cat", "Dog"}}, {"imageSize", 2}};
  auto m = load(meta);
  REQUIRE_MESSAGE(m, (m ? "" : m.error()));
  CHECK(m->arch.classes == std::vector<std::string>{"Cat", "Dog"});
  // Nothing left for the person to give (the page's input panel stays hidden).
  REQUIRE(m->graph);
  CHECK_FALSE(m->graph->asks_for_input_options);
  // pixel 0 -> -1, 255 -> 1, as @teachablemachine/image's (pixel - 127.5) / 127.5.
  for (float pixel : {0.f, 127.5f, 255.f}) {
    const float x = (pixel * m->arch.scale - m->arch.mean[0]) / m->arch.std[0];
    CHECK(x == doctest::Approx(pixel / 127.5f - 1.f));
  }
  auto three = load({{"packageName", "@teachablemachine/image"}, {"labels", {"Cat", "Dog", "Other"}}});
  REQUIRE_FALSE(three);
  CHECK(three.error() == "tm/metadata.json: names 3 labels, the model has 2 classes");
  auto size = load({{"packageName", "@teachablemachine/image"}, {"labels", {"a", "b"}}, {"imageSize", 224}});
  REQUIRE_FALSE(size);
  CHECK(size.error() == "tm/metadata.json: imageSize 224 is not the model's input size 2x2");
  // Another package's metadata gives its labels and leaves the scale alone.
  auto other = load({{"labels", {"a", "b"}}});
  REQUIRE(other);
  CHECK(other->arch.mean.empty());
  CHECK(other->graph->asks_for_input_options);
  CHECK(other->arch.scale == doctest::Approx(1.0 / 255));
}

TEST_CASE("natively, model.json's weight files are read beside it, and a missing one is named") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("gradcam-tfjs-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "model.json") << model_json(kWeights).dump();
  auto missing = load_tfjs_model_file((dir / "model.json").string());
  REQUIRE_FALSE(missing);
  CHECK(missing.error().find((dir / "model.json").string() + ": weight file group1-shard1of1.bin is missing") == 0);
  const std::vector<uint8_t> bin = float_files().at("group1-shard1of1.bin");
  std::ofstream(dir / "group1-shard1of1.bin", std::ios::binary).write(reinterpret_cast<const char*>(bin.data()),
                                                                      std::streamsize(bin.size()));
  std::ofstream(dir / "metadata.json") << R"({"packageName": "@teachablemachine/image", "labels": ["x", "y"]})";
  auto m = load_tfjs_model_file((dir / "model.json").string());
  REQUIRE_MESSAGE(m, (m ? "" : m.error()));
  CHECK(m->arch.classes == std::vector<std::string>{"x", "y"});
  fs::remove_all(dir);
}
