// The model file: architecture parsing, shape planning, safetensors round trip, clear errors.
#include <doctest/doctest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "gradcam/model.h"
#include "gradcam/network.h"
#include "../test_helpers.h"

using namespace gradcam;
using json = nlohmann::json;

namespace {
// A safetensors file assembled by hand from a header and raw data, independent of save_model.
std::vector<uint8_t> safetensors(const json& header, const std::vector<uint8_t>& data) {
  std::string h = header.dump();
  std::vector<uint8_t> out(8 + h.size() + data.size());
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(n >> (8 * i));
  // Copies into a sized vector: g++ 12 warns (falsely) on vector::insert from a string here.
  std::copy(h.begin(), h.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + std::ptrdiff_t(h.size()));
  return out;
}
std::vector<uint8_t> saved_seed_model() { return save_model(random_model(seed_architecture(), 3)); }
// Every layer's output shape: the model's graph has one node per layer.
std::vector<Shape> layer_shapes(const Architecture& a) {
  auto g = model_graph(random_model(a, 1));
  std::vector<Shape> out;
  for (size_t i = 0; i < g->nodes.size(); ++i) out.push_back(g->output_of(int(i)).shape);
  return out;
}
std::string load_error(const std::vector<uint8_t>& b) {
  auto r = load_model(b.data(), b.size(), "m.safetensors");
  return r ? std::string() : r.error();
}
}  // namespace

TEST_CASE("the seed architecture has the tutorial's shapes") {
  Architecture a = seed_architecture();
  REQUIRE(a.layers.size() == 23);
  const std::vector<Shape> shapes = layer_shapes(a);
  REQUIRE(shapes.size() == a.layers.size());
  auto shape = [&](const char* name) {
    for (size_t i = 0; i < a.layers.size(); ++i)
      if (a.layers[i].name == name) return shapes[i];
    return Shape{};
  };
  CHECK(shape("conv2d") == Shape{30, 30, 32});
  CHECK(shape("conv2d_1") == Shape{30, 30, 128});
  CHECK(shape("conv2d_2") == Shape{15, 15, 64});
  CHECK(shape("conv2d_6") == Shape{7, 7, 16});
  CHECK(shape("conv2d_8") == Shape{3, 3, 16});
  CHECK(shape("flatten") == Shape{1, 1, 16});
  CHECK(shape("dense_2") == Shape{1, 1, 10});
  CHECK(a.classes[3] == "cat");
}

TEST_CASE("architecture JSON round-trips and Keras 'same' padding with strides plans correctly") {
  Architecture a = seed_architecture();
  auto b = parse_architecture(architecture_to_json(a));
  REQUIRE(b.ok());
  REQUIRE(b->layers.size() == a.layers.size());
  CHECK(architecture_to_json(*b) == architecture_to_json(a));
  CHECK(layer_shapes(*b) == layer_shapes(a));
  // Keras: 'same' with stride 2 on 7 -> ceil(7/2) = 4; 'valid' 5x5 stride 2 on 9 -> 3.
  auto arch = gradcam::testing::small_arch(
      7, 9, {gradcam::testing::conv("c", 4, 3, 3, 2, 2, Padding::same), gradcam::testing::conv("d", 2, 1, 5, 1, 2, Padding::valid)});
  CHECK(layer_shapes(arch)[0] == Shape{4, 5, 4});
  CHECK(layer_shapes(arch)[1] == Shape{4, 1, 2});
}

TEST_CASE("architecture errors name the layer and the problem") {
  json j = json::parse(architecture_to_json(seed_architecture()));
  json bad = j;
  bad["layers"][4]["kernel"] = json::array({3});
  CHECK(parse_architecture(bad.dump()).error().find("layer 4 (conv2d_2): kernel") != std::string::npos);
  // Sides are range-checked before they become an int: 4294967299 = 2^32 + 3 must not read as 3.
  for (const json& kernel : {json::array({4294967299LL, 3}), json(4294967299LL), json::array({3, -3}),
                             json::array({3, 18446744073709551615ULL})}) {
    bad = j;
    bad["layers"][4]["kernel"] = kernel;
    CHECK(parse_architecture(bad.dump()).error().find("layer 4 (conv2d_2): kernel must be two integers from 1 to") !=
          std::string::npos);
  }
  bad = j;
  bad["layers"][4]["strides"] = json::array({1, 4294967297LL});
  CHECK(parse_architecture(bad.dump()).error().find("layer 4 (conv2d_2): strides must be two integers") != std::string::npos);
  bad = j;
  bad["layers"][2]["type"] = "conv3d";
  CHECK(parse_architecture(bad.dump()).error().find("unknown layer type \"conv3d\"") != std::string::npos);
  bad = j;
  bad["classes"].erase(0);
  CHECK(parse_architecture(bad.dump()).error().find("9 classes but the last layer has 10 units") != std::string::npos);
  bad = j;
  bad["input"]["height"] = 4;  // 4 rows, 2 after conv2d, 1 after the first pooling: the second one does not fit
  CHECK(parse_architecture(bad.dump()).error() ==
        "layer 5 (max_pooling2d_1): node 'max_pooling2d_1' (MaxPool): the window (2x2) is larger than its padded input (1x15)");
  CHECK(parse_architecture("{not json").error() == "architecture is not valid JSON");
  // Within every per-layer limit: the layer outputs together are no longer limited, since a pass
  // keeps only what it still reads (Network::plan_pass refuses one over ModelLimits::kMaxPassBytes).
  bad = j;
  bad["input"]["height"] = 1024;
  bad["input"]["width"] = 1024;
  CHECK(parse_architecture(bad.dump()).ok());
}

TEST_CASE("safetensors round trip keeps every weight and the metadata") {
  Model m = random_model(seed_architecture(), 5);
  m.metadata["trained"] = "true";
  std::vector<uint8_t> bytes = save_model(m);
  auto r = load_model(bytes.data(), bytes.size());
  REQUIRE(r.ok());
  CHECK(r->trained());
  CHECK(r->params.size() == m.params.size());
  for (auto& [k, v] : m.params) CHECK(r->params.at(k) == v);
  // Layout: header length is a little-endian u64 and tensor data starts 8-byte aligned.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[size_t(i)];
  CHECK((8 + n) % 8 == 0);
  json h = json::parse(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  CHECK(h["conv2d_4.kernel"]["shape"] == json::array({3, 3, 64, 32}));
  CHECK(h["conv2d_3.kernel"]["dtype"] == "F32");
  CHECK(h["dense.kernel"]["shape"] == json::array({16, 128}));
  CHECK(h["batch_normalization.moving_variance"]["shape"] == json::array({16}));
}

TEST_CASE("F16 tensors load as the same values") {
  // A one-conv model written by hand with F16 weights.
  Architecture a = gradcam::testing::small_arch(3, 3, {gradcam::testing::conv("c", 1, 1, 1, 1, 1, Padding::valid)}, 2);
  json header = {{"__metadata__", {{"architecture", architecture_to_json(a)}}}};
  std::vector<uint8_t> data;
  auto put16 = [&](uint16_t v) {
    data.push_back(uint8_t(v & 0xff));
    data.push_back(uint8_t(v >> 8));
  };
  // 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800, 6.1035e-05 = 0x0400, subnormal 2^-24 = 0x0001
  const uint16_t k[3] = {0x3c00, 0xc000, 0x3800};
  size_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<uint16_t> vals) {
    header[name] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {off, off + vals.size() * 2}}};
    for (uint16_t v : vals) put16(v);
    off += vals.size() * 2;
  };
  add("c.kernel", {1, 1, 3, 1}, {k[0], k[1], k[2]});
  add("c.bias", {1}, {0x0400});
  add("head.kernel", {9, 2}, std::vector<uint16_t>(18, 0x0001));
  add("head.bias", {2}, {0x3c00, 0x3c00});
  auto bytes = safetensors(header, data);
  auto r = load_model(bytes.data(), bytes.size());
  REQUIRE(r.ok());
  CHECK(r->params["c.kernel"] == std::vector<float>{1.f, -2.f, 0.5f});
  CHECK(r->params["c.bias"][0] == doctest::Approx(6.103515625e-05));
  CHECK(r->params["head.kernel"][0] == doctest::Approx(5.9604644775390625e-08));
  CHECK(!r->trained());
}

TEST_CASE("bad model files give clear errors") {
  std::vector<uint8_t> good = saved_seed_model();
  CHECK(load_error({}) == "m.safetensors: empty file");
  CHECK(load_error({1, 2, 3}).find("too short") != std::string::npos);
  // Truncated: the data section is cut.
  std::vector<uint8_t> cut(good.begin(), good.begin() + long(good.size() / 2));
  CHECK(load_error(cut).find("outside the file (truncated?)") != std::string::npos);
  // Header length pointing past the end.
  std::vector<uint8_t> lying = good;
  lying[5] = 0x7f;
  CHECK(load_error(lying).find("header length") != std::string::npos);
  // Random bytes.
  auto noise = gradcam::testing::random_vector(4096, 9);
  std::vector<uint8_t> rnd(noise.size());
  for (size_t i = 0; i < rnd.size(); ++i) rnd[i] = uint8_t(noise[i] * 255);
  CHECK(!load_error(rnd).empty());

  // A mismatched tensor shape is named with both shapes.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | good[size_t(i)];
  json h = json::parse(good.begin() + 8, good.begin() + 8 + long(n));
  std::vector<uint8_t> data(good.begin() + 8 + long(n), good.end());
  json wrong = h;
  wrong["conv2d_4.kernel"]["shape"] = json::array({3, 3, 32, 64});
  CHECK(load_error(safetensors(wrong, data)) ==
        "m.safetensors: tensor conv2d_4.kernel has shape [3,3,32,64], expected [3,3,64,32]");
  json missing = h;
  missing.erase("dense_1.bias");
  CHECK(load_error(safetensors(missing, data)) == "m.safetensors: missing tensor dense_1.bias [64]");
  json dtype = h;
  dtype["dense_1.bias"]["dtype"] = "I64";
  CHECK(load_error(safetensors(dtype, data)).find("dtype I64") != std::string::npos);
  json nometa = h;
  nometa.erase("__metadata__");
  CHECK(load_error(safetensors(nometa, data)).find("no __metadata__") != std::string::npos);
  // NaN weights are refused.
  std::vector<uint8_t> nan = data;
  size_t at = h["conv2d.kernel"]["data_offsets"][0].get<size_t>();
  const float q = std::nanf("");
  std::memcpy(nan.data() + at, &q, 4);
  CHECK(load_error(safetensors(h, nan)).find("NaN") != std::string::npos);
}

TEST_CASE("random models are deterministic and marked untrained") {
  Model a = random_model(seed_architecture(), 42), b = random_model(seed_architecture(), 42),
        c = random_model(seed_architecture(), 43);
  CHECK(a.params == b.params);
  CHECK(a.params != c.params);
  CHECK(!a.trained());
}
