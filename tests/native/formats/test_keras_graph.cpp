// Keras configs as the engine's graph: small networks written by hand in each dialect (Keras 2
// model_config, Keras 3 config.json, TF.js modelTopology, a model nested in a model) with generated
// weights in each file layout (Keras 2 named, Keras 3 by class-numbered path), checked for the
// nodes they become, the weights they bind, what they compute and the errors they give.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "gradcam/graph.h"
#include "gradcam/keras.h"
#include "gradcam/network.h"
#include "formats/keras_graph.h"
#include "graph/ops/ops.h"

using namespace gradcam;
using json = nlohmann::json;

namespace {

const KerasArch* const kNoArch = nullptr;  // the file's own config, no --arch

std::vector<float> ramp(size_t n, float start, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * float(int(i % 7) - 3);
  return v;
}

// Keras 2 functional layer entry: calls as [[["name", 0, 0, {}], ...]].
json k2_layer(const std::string& cls, const std::string& name, json config, std::vector<std::string> from) {
  config["name"] = name;
  json call = json::array();
  for (const std::string& f : from) call.push_back({f, 0, 0, json::object()});
  return {{"class_name", cls}, {"name", name}, {"config", config}, {"inbound_nodes", from.empty() ? json::array() : json::array({call})}};
}

// Keras 3 functional layer entry: calls as {"args": [tensor or [tensors]], "kwargs": {}}.
json k3_layer(const std::string& cls, const std::string& name, json config, std::vector<std::string> from) {
  config["name"] = name;
  auto tensor = [](const std::string& f) {
    return json{{"class_name", "__keras_tensor__"},
                {"config", {{"shape", {nullptr, 8, 8, 4}}, {"dtype", "float32"}, {"keras_history", {f, 0, 0}}}}};
  };
  json args = json::array();
  if (from.size() == 1) args.push_back(tensor(from[0]));
  else if (from.size() > 1) {
    json list = json::array();
    for (const std::string& f : from) list.push_back(tensor(f));
    args.push_back(list);
  }
  json entry = {{"module", "keras.layers"}, {"class_name", cls}, {"name", name}, {"config", config},
                {"inbound_nodes", from.empty() ? json::array() : json::array({{{"args", args}, {"kwargs", json::object()}}})}};
  return entry;
}

// A residual block in ResNet's shape: conv-BN-relu, a conv without bias, the sum, its ReLU, then
// global pooling and a softmax classifier. Layer names are Keras Applications' style, not Keras's
// automatic ones, so a Keras 3 file cannot find them by name.
json residual_layers(bool keras3) {
  auto L = keras3 ? k3_layer : k2_layer;
  json input = keras3 ? json{{"module", "keras.layers"}, {"class_name", "InputLayer"}, {"name", "image"},
                             {"config", {{"name", "image"}, {"batch_shape", {nullptr, 8, 8, 3}}, {"dtype", "float32"}}},
                             {"inbound_nodes", json::array()}}
                      : json{{"class_name", "InputLayer"}, {"name", "image"},
                             {"config", {{"name", "image"}, {"batch_input_shape", {nullptr, 8, 8, 3}}, {"dtype", "float32"}}},
                             {"inbound_nodes", json::array()}};
  json relu = keras3 ? json{{"module", "keras.activations"}, {"class_name", "function"}, {"config", "relu"}} : json("relu");
  return json::array(
      {input,
       L("Conv2D", "block_conv1", {{"filters", 4}, {"kernel_size", {3, 3}}, {"padding", "same"}, {"activation", relu}}, {"image"}),
       L("BatchNormalization", "block_bn", {{"axis", -1}, {"epsilon", 1e-3}}, {"block_conv1"}),
       L("Activation", "block_relu", {{"activation", "relu"}}, {"block_bn"}),
       L("Conv2D", "block_conv2", {{"filters", 4}, {"kernel_size", 1}, {"use_bias", false}, {"activation", "linear"}}, {"block_relu"}),
       L("Add", "block_add", json::object(), {"block_relu", "block_conv2"}),
       L("Activation", "block_out", {{"activation", "relu"}}, {"block_add"}),
       L("GlobalAveragePooling2D", "avg_pool", json::object(), {"block_out"}),
       L("Dense", "predictions", {{"units", 5}, {"activation", "softmax"}}, {"avg_pool"})});
}

json functional(const json& layers, bool keras3) {
  json ins = keras3 ? json{"image", 0, 0} : json::array({{"image", 0, 0}});
  json outs = keras3 ? json{"predictions", 0, 0} : json::array({{"predictions", 0, 0}});
  json model = {{"class_name", "Functional"},
                {"config", {{"name", "resnetish"}, {"layers", layers}, {"input_layers", ins}, {"output_layers", outs}}}};
  if (keras3) model["module"] = "keras.src.models.functional", model["registered_name"] = "Functional";
  return model;
}

// The residual block's weights, in each layer's variable order.
struct Weights {
  std::vector<float> conv1_k = ramp(3 * 3 * 3 * 4, 0.01f, 0.02f), conv1_b = ramp(4, 0.1f, 0.05f);
  std::vector<float> gamma = ramp(4, 1.f, 0.1f), beta = ramp(4, 0.f, 0.1f), mean = ramp(4, 0.05f, 0.01f), var = ramp(4, 1.f, 0.2f);
  std::vector<float> conv2_k = ramp(4 * 4, 0.f, 0.1f);
  std::vector<float> dense_k = ramp(4 * 5, 0.f, 0.3f), dense_b = ramp(5, 0.f, 0.1f);
};

// Keras 2 .h5: "<layer>/<weight>:0" in the layer's group.
std::vector<KerasTensor> keras2_tensors(const Weights& w) {
  return {{"block_conv1", "block_conv1/kernel:0", {3, 3, 3, 4}, w.conv1_k},
          {"block_conv1", "block_conv1/bias:0", {4}, w.conv1_b},
          {"block_bn", "block_bn/gamma:0", {4}, w.gamma},
          {"block_bn", "block_bn/beta:0", {4}, w.beta},
          {"block_bn", "block_bn/moving_mean:0", {4}, w.mean},
          {"block_bn", "block_bn/moving_variance:0", {4}, w.var},
          {"block_conv2", "block_conv2/kernel:0", {1, 1, 4, 4}, w.conv2_k},
          {"predictions", "predictions/kernel:0", {4, 5}, w.dense_k},
          {"predictions", "predictions/bias:0", {5}, w.dense_b}};
}

// Keras 3 .keras: by class, numbered in layer order, never by the layer's name.
std::vector<KerasTensor> keras3_tensors(const Weights& w) {
  return {{"layers/conv2d", "0", {3, 3, 3, 4}, w.conv1_k},
          {"layers/conv2d", "1", {4}, w.conv1_b},
          {"layers/batch_normalization", "0", {4}, w.gamma},
          {"layers/batch_normalization", "1", {4}, w.beta},
          {"layers/batch_normalization", "2", {4}, w.mean},
          {"layers/batch_normalization", "3", {4}, w.var},
          {"layers/conv2d_1", "0", {1, 1, 4, 4}, w.conv2_k},
          {"layers/dense", "0", {4, 5}, w.dense_k},
          {"layers/dense", "1", {5}, w.dense_b}};
}

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> out;
  for (const Node& n : g.nodes) out.push_back(n.name);
  return out;
}

std::string error_of(const Result<Model>& r) { return r ? std::string() : r.error(); }

// The residual block computed directly, in double precision, from the weights: the logits.
std::vector<double> residual_reference(const Weights& w, const std::vector<float>& x) {
  const int H = 8, W = 8;
  std::vector<double> a(size_t(H * W * 4)), out(size_t(H * W * 4));
  for (int y = 0; y < H; ++y)
    for (int xx = 0; xx < W; ++xx)
      for (int o = 0; o < 4; ++o) {
        double s = w.conv1_b[size_t(o)];
        for (int ky = 0; ky < 3; ++ky)
          for (int kx = 0; kx < 3; ++kx) {
            const int iy = y + ky - 1, ix = xx + kx - 1;
            if (iy < 0 || ix < 0 || iy >= H || ix >= W) continue;
            for (int c = 0; c < 3; ++c)
              s += double(x[size_t((iy * W + ix) * 3 + c)]) * w.conv1_k[size_t(((ky * 3 + kx) * 3 + c) * 4 + o)];
          }
        s = std::max(s, 0.0);
        const size_t k = size_t(o);
        s = (s - w.mean[k]) / std::sqrt(double(w.var[k]) + 1e-3) * w.gamma[k] + w.beta[k];
        a[size_t((y * W + xx) * 4 + o)] = std::max(s, 0.0);
      }
  std::vector<double> pooled(4, 0.0);
  for (int p = 0; p < H * W; ++p)
    for (int o = 0; o < 4; ++o) {
      double s = a[size_t(p * 4 + o)];
      for (int c = 0; c < 4; ++c) s += a[size_t(p * 4 + c)] * w.conv2_k[size_t(c * 4 + o)];
      pooled[size_t(o)] += std::max(s, 0.0) / (H * W);
    }
  std::vector<double> logits(5);
  for (int u = 0; u < 5; ++u) {
    logits[size_t(u)] = w.dense_b[size_t(u)];
    for (int c = 0; c < 4; ++c) logits[size_t(u)] += pooled[size_t(c)] * w.dense_k[size_t(c * 5 + u)];
  }
  return logits;
}

void check_residual(const Model& m, const Weights& w) {
  const Graph& g = *m.graph;
  CHECK(node_names(g) == std::vector<std::string>{"block_conv1", "block_bn", "block_relu", "block_conv2", "block_add",
                                                   "block_out", "avg_pool", "predictions"});
  CHECK(g.nodes[0].attrs.relu);  // relu activation fused into the conv
  CHECK(g.nodes[0].weights[0] == w.conv1_k);
  CHECK(g.nodes[3].weights[1] == std::vector<float>(4, 0.f));  // use_bias=False
  CHECK(g.nodes[7].weights[0] == w.dense_k);
  CHECK(g.values[size_t(g.output)].name == "predictions");  // the softmax dropped: logits
  std::vector<std::string> explainable;
  for (int i : explainable_nodes(g)) explainable.push_back(g.nodes[size_t(i)].name);
  CHECK(explainable == std::vector<std::string>{"block_conv1", "block_bn", "block_relu", "block_conv2", "block_add", "block_out"});
  CHECK(g.nodes[size_t(g.default_layer)].name == "block_out");
  CHECK(find_layer(g, "block_relu").ok());
  CHECK(m.arch.classes == std::vector<std::string>{"class_0", "class_1", "class_2", "class_3", "class_4"});
  CHECK(m.arch.scale == doctest::Approx(1.0 / 255));
  CHECK(g.asks_for_input_options);

  std::vector<float> x(8 * 8 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
  Network net(m);
  net.forward(x.data());
  const std::vector<double> expected = residual_reference(w, x);
  REQUIRE(net.logits().size() == 5);
  for (size_t u = 0; u < 5; ++u) CHECK(net.logits()[u] == doctest::Approx(expected[u]).epsilon(1e-4));
}

}  // namespace

TEST_CASE("a Keras 2 functional model_config becomes a graph named after its layers, its weights bound by name") {
  Weights w;
  KerasFile f{functional(residual_layers(false), false).dump(), "2.15.0", keras2_tensors(w)};
  auto m = load_keras_file(f, "resnet.h5", kNoArch);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  check_residual(*m, w);
}

TEST_CASE("a Keras 3 config.json binds weights by class-numbered path, whatever the layers are named") {
  Weights w;
  KerasFile f{functional(residual_layers(true), true).dump(), "3.6.0", keras3_tensors(w)};
  auto m = load_keras_file(f, "resnet.keras", kNoArch);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  check_residual(*m, w);
  // A reader that gives only the group under layers/ ("conv2d_1") means the same path.
  for (KerasTensor& t : f.tensors) t.layer = t.layer.substr(7);
  auto bare = load_keras_file(f, "resnet.keras", kNoArch);
  REQUIRE_MESSAGE(bare.ok(), error_of(bare));
  check_residual(*bare, w);
}

TEST_CASE("Keras weight errors name the layer, its class and what is wrong") {
  Weights w;
  const std::string k2 = functional(residual_layers(false), false).dump();
  auto load = [&](std::vector<KerasTensor> t, const std::string& config, const char* version) {
    return error_of(load_keras_file(KerasFile{config, version, std::move(t)}, "m.h5", kNoArch));
  };
  auto tensors = keras2_tensors(w);
  tensors.erase(tensors.begin() + 3);  // block_bn/beta
  CHECK(load(tensors, k2, "2.15.0") == "m.h5: layer 'block_bn' (BatchNormalization): its weight block_bn/beta is missing from the file");
  tensors = keras2_tensors(w);
  tensors[6].shape = {1, 1, 4, 5};
  CHECK(load(tensors, k2, "2.15.0") ==
        "m.h5: layer 'block_conv2' (Conv2D): kernel has shape [1,1,4,5], expected [1,1,4,4]");
  tensors = keras2_tensors(w);
  tensors.push_back({"extra", "extra/kernel:0", {2}, {1.f, 2.f}});
  CHECK(load(tensors, k2, "2.15.0") ==
        "m.h5: tensor extra/extra/kernel:0 belongs to no layer of the model's config (is the file from another network?)");
  tensors = keras2_tensors(w);
  tensors[1].values[2] = std::nanf("");
  CHECK(load(tensors, k2, "2.15.0") == "m.h5: layer 'block_conv1' (Conv2D): tensor block_conv1/block_conv1/bias:0 contains NaN or infinity");

  const std::string k3 = functional(residual_layers(true), true).dump();
  tensors = keras3_tensors(w);
  tensors.push_back({"layers/conv2d_1", "1", {4}, std::vector<float>(4, 0.f)});  // a bias the config says is not there
  CHECK(load(tensors, k3, "3.6.0") ==
        "m.h5: layer 'block_conv2' (Conv2D): the file holds 2 variables at layers/conv2d_1, the layer takes 1 (is the file from "
        "another network?)");
  tensors = keras3_tensors(w);
  tensors.pop_back();
  CHECK(load(tensors, k3, "3.6.0") == "m.h5: layer 'predictions' (Dense): its bias is missing from the file (expected at layers/dense/vars/1)");
}

TEST_CASE("a Keras layer class the engine does not read is one error naming the layer and its class") {
  json layers = residual_layers(false);
  layers[4] = k2_layer("Conv2DTranspose", "up", {{"filters", 4}, {"kernel_size", 1}}, {"block_relu"});
  layers[5]["inbound_nodes"] = json::array({json::array({{"block_relu", 0, 0, json::object()}, {"up", 0, 0, json::object()}})});
  auto m = load_keras_file(KerasFile{functional(layers, false).dump(), "2.15.0", keras2_tensors(Weights())}, "m.h5", kNoArch);
  REQUIRE(!m.ok());
  CHECK(m.error().rfind("m.h5: layer 'up' (Conv2DTranspose): this layer class is not supported (supported: InputLayer, ", 0) == 0);
  CHECK(m.error().find("SeparableConv2D") != std::string::npos);
  // A layer that reads a tensor no layer computes.
  layers = residual_layers(false);
  layers[3]["inbound_nodes"] = json::array({json::array({{"nowhere", 0, 0, json::object()}})});
  m = load_keras_file(KerasFile{functional(layers, false).dump(), "2.15.0", keras2_tensors(Weights())}, "m.h5", kNoArch);
  CHECK(error_of(m) == "m.h5: layer 'block_relu' (Activation) reads 'nowhere', which no layer of the model computes");
}

TEST_CASE("a TF.js modelTopology (Sequential, batch_input_shape on its first layer) binds weights named without :0") {
  json layers = json::array(
      {{{"class_name", "Rescaling"}, {"config", {{"name", "rescale"}, {"scale", 0.5}, {"offset", -1.0}, {"batch_input_shape", {nullptr, 4, 4, 3}}}}},
       {{"class_name", "ZeroPadding2D"}, {"config", {{"name", "pad"}, {"padding", {{1, 0}, {0, 1}}}}}},
       {{"class_name", "DepthwiseConv2D"},
        {"config", {{"name", "dw"}, {"kernel_size", {2, 2}}, {"depth_multiplier", 2}, {"strides", 1}, {"padding", "valid"}, {"activation", "relu6"}}}},
       {{"class_name", "SeparableConv2D"},
        {"config", {{"name", "sep"}, {"filters", 2}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "hard_sigmoid"}}}},
       {{"class_name", "Flatten"}, {"config", {{"name", "flat"}}}},
       {{"class_name", "Dense"}, {"config", {{"name", "logits"}, {"units", 10}}}}});
  json topology = {{"model_config", {{"class_name", "Sequential"}, {"config", {{"name", "seq"}, {"layers", layers}}}}}};
  std::vector<KerasTensor> t = {{"", "dw/depthwise_kernel", {2, 2, 3, 2}, ramp(24, 0.1f, 0.05f)},
                                {"", "dw/bias", {6}, ramp(6, 0.f, 0.1f)},
                                {"", "sep/depthwise_kernel", {3, 3, 6, 1}, ramp(54, 0.f, 0.05f)},
                                {"", "sep/pointwise_kernel", {1, 1, 6, 2}, ramp(12, 0.f, 0.2f)},
                                {"", "sep/bias", {2}, {0.1f, -0.1f}},
                                {"", "logits/kernel", {32, 10}, ramp(320, 0.f, 0.01f)},
                                {"", "logits/bias", {10}, ramp(10, 0.f, 0.01f)}};
  auto m = load_keras_file(KerasFile{topology.dump(), "tfjs-layers 4.22.0", t}, "model.json", kNoArch);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  const Graph& g = *m->graph;
  CHECK(node_names(g) == std::vector<std::string>{"rescale", "pad", "dw/depthwise", "dw", "sep/depthwise", "sep/pointwise", "sep",
                                                   "flat", "logits"});
  CHECK(m->arch.scale == 1.f);  // the model scales pixels itself
  CHECK(!g.asks_for_input_options);
  CHECK(m->arch.classes.front() == "airplane");  // ten classes: CIFAR-10's names, as before
  CHECK(g.nodes[0].weights == std::vector<std::vector<float>>{{0.5f, 0.5f, 0.5f}, {-1.f, -1.f, -1.f}});
  CHECK(g.value(g.nodes[1].output).shape == Shape{5, 5, 3});
  CHECK(g.nodes[2].attrs.groups == 3);
  CHECK(g.value(g.nodes[2].output).shape == Shape{4, 4, 6});
  CHECK(g.nodes[3].op_type == "Clip");
  CHECK(g.nodes[5].attrs.out_channels == 2);
  CHECK(g.nodes[6].attrs.alpha == doctest::Approx(0.2));  // Keras 2's hard_sigmoid: 0.2 x + 0.5
  // Explainable: layers with a feature map, never the parts of one ("dw/depthwise").
  CHECK(!g.nodes[2].explainable);
  CHECK(g.nodes[3].explainable);
  CHECK(g.nodes[size_t(g.default_layer)].name == "sep");
  CHECK(find_layer(g, "dw/depthwise").error().find("has no feature map to explain") != std::string::npos);
}

TEST_CASE("a model nested in a model is inlined, its layers explainable by their own names (Keras 2 and 3)") {
  // Transfer learning's shape: Sequential([base, GlobalAveragePooling2D, Dense]).
  auto base = [](bool keras3) {
    json input = {{"class_name", "InputLayer"}, {"name", "base_in"},
                  {"config", {{"name", "base_in"}, {keras3 ? "batch_shape" : "batch_input_shape", {nullptr, 6, 6, 3}}}},
                  {"inbound_nodes", json::array()}};
    auto L = keras3 ? k3_layer : k2_layer;
    json layers = json::array({input, L("Conv2D", "base_conv", {{"filters", 2}, {"kernel_size", 3}}, {"base_in"}),
                               L("ReLU", "out_relu", {{"max_value", 6.0}}, {"base_conv"})});
    json io_in = keras3 ? json{"base_in", 0, 0} : json::array({{"base_in", 0, 0}});
    json io_out = keras3 ? json{"out_relu", 0, 0} : json::array({{"out_relu", 0, 0}});
    return json{{"class_name", "Functional"},
                {"config", {{"name", "base"}, {"layers", layers}, {"input_layers", io_in}, {"output_layers", io_out}}}};
  };
  for (bool keras3 : {false, true}) {
    CAPTURE(keras3);
    json input = {{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {keras3 ? "batch_shape" : "batch_input_shape", {nullptr, 6, 6, 3}}}}};
    json model = {{"class_name", "Sequential"},
                  {"config",
                   {{"name", "transfer"},
                    {"layers", json::array({input, base(keras3), {{"class_name", "GlobalAveragePooling2D"}, {"config", {{"name", "gap"}}}},
                                            {{"class_name", "Dense"}, {"config", {{"name", "head"}, {"units", 3}, {"activation", "softmax"}}}}})}}}};
    const std::vector<float> kernel = ramp(54, 0.f, 0.1f), bias = {0.1f, 0.2f}, dk = ramp(6, 0.f, 0.5f), db = {0.f, 0.1f, 0.2f};
    std::vector<KerasTensor> t;
    if (keras3)
      t = {{"layers/functional/layers/conv2d", "0", {3, 3, 3, 2}, kernel},
           {"layers/functional/layers/conv2d", "1", {2}, bias},
           {"layers/dense", "0", {2, 3}, dk},
           {"layers/dense", "1", {3}, db}};
    else  // Keras 2: the nested model's group holds its layers' weights
      t = {{"base", "base_conv/kernel:0", {3, 3, 3, 2}, kernel},
           {"base", "base_conv/bias:0", {2}, bias},
           {"head", "head/kernel:0", {2, 3}, dk},
           {"head", "head/bias:0", {3}, db}};
    auto m = load_keras_file(KerasFile{model.dump(), keras3 ? "3.6.0" : "2.15.0", t}, "transfer", kNoArch);
    REQUIRE_MESSAGE(m.ok(), error_of(m));
    const Graph& g = *m->graph;
    CHECK(node_names(g) == std::vector<std::string>{"base_conv", "out_relu", "gap", "head"});
    CHECK(g.nodes[0].weights[0] == kernel);
    CHECK(g.nodes[size_t(g.default_layer)].name == "out_relu");
    CHECK(g.nodes[1].attrs.hi == 6.f);
  }
}

TEST_CASE("Keras 3's hard_sigmoid is relu6(x + 3) / 6, Keras 2's is 0.2 x + 0.5") {
  json layers = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_shape", {nullptr, 2, 2, 3}}}}},
                             {{"class_name", "Activation"}, {"config", {{"name", "gate"}, {"activation", "hard_sigmoid"}}}},
                             {{"class_name", "Flatten"}, {"config", {{"name", "flat"}}}}});
  json model = {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
  auto k3 = load_keras_file(KerasFile{model.dump(), "3.6.0", {}}, "m.keras", kNoArch);
  REQUIRE_MESSAGE(k3.ok(), error_of(k3));
  CHECK(k3->graph->nodes[0].attrs.alpha == doctest::Approx(1.0 / 6));
  auto k2 = load_keras_file(KerasFile{model.dump(), "2.15.0", {}}, "m.h5", kNoArch);
  REQUIRE_MESSAGE(k2.ok(), error_of(k2));
  CHECK(k2->graph->nodes[0].attrs.alpha == doctest::Approx(0.2));
}

TEST_CASE("import-keras: a chain of the model file's layers is written with the graph's own weights; a functional network is refused") {
  json layers = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_input_shape", {nullptr, 6, 6, 3}}}}},
                             {{"class_name", "Conv2D"}, {"config", {{"name", "c"}, {"filters", 2}, {"kernel_size", 3}, {"padding", "same"}}}},
                             {{"class_name", "Activation"}, {"config", {{"name", "act"}, {"activation", "relu"}}}},
                             {{"class_name", "MaxPooling2D"}, {"config", {{"name", "p"}}}},
                             {{"class_name", "BatchNormalization"}, {"config", {{"name", "bn"}, {"axis", {3}}}}},
                             {{"class_name", "Dropout"}, {"config", {{"name", "d"}, {"rate", 0.5}}}},
                             {{"class_name", "Flatten"}, {"config", {{"name", "f"}}}},
                             {{"class_name", "Dense"}, {"config", {{"name", "out"}, {"units", 4}, {"activation", "softmax"}}}}});
  json model = {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
  std::vector<KerasTensor> t = {{"c", "c/kernel:0", {3, 3, 3, 2}, ramp(54, 0.f, 0.1f)},
                                {"c", "c/bias:0", {2}, {0.1f, -0.2f}},
                                {"bn", "bn/gamma:0", {2}, {1.5f, 0.7f}},
                                {"bn", "bn/beta:0", {2}, {0.1f, -0.3f}},
                                {"bn", "bn/moving_mean:0", {2}, {0.2f, 0.4f}},
                                {"bn", "bn/moving_variance:0", {2}, {0.9f, 2.5f}},
                                {"out", "out/kernel:0", {18, 4}, ramp(72, 0.f, 0.2f)},
                                {"out", "out/bias:0", {4}, {0.f, 0.1f, 0.2f, 0.3f}}};
  auto m = load_keras_file(KerasFile{model.dump(), "2.15.0", t}, "chain.h5", kNoArch);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  auto chain = sequential_model_of(*m);
  REQUIRE_MESSAGE(chain.ok(), (chain.ok() ? std::string() : chain.error()));
  REQUIRE(chain->arch.layers.size() == 6);
  CHECK(chain->arch.layers[0].name == "c");
  CHECK(chain->arch.layers[0].activation == Activation::relu);  // Activation('relu') fused, as the model file holds it
  auto reloaded = load_model(save_model(*chain).data(), save_model(*chain).size(), "chain.safetensors");
  REQUIRE_MESSAGE(reloaded.ok(), (reloaded.ok() ? std::string() : reloaded.error()));
  std::vector<float> x(6 * 6 * 3);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::cos(0.91 * double(i)));
  Network a(*m), b(*reloaded);
  a.forward(x.data());
  b.forward(x.data());
  CHECK(a.logits() == b.logits());  // bit for bit: the folded batch norm folds back to the same floats

  Weights w;
  auto residual = load_keras_file(KerasFile{functional(residual_layers(false), false).dump(), "2.15.0", keras2_tensors(w)}, "r.h5", kNoArch);
  REQUIRE(residual.ok());
  auto refused = sequential_model_of(*residual);
  REQUIRE(!refused.ok());
  CHECK(refused.error() == "node 'block_relu' (Relu) is not one of the model file's layers (conv2d, max_pool2d, dropout, batch_norm, "
                           "flatten, dense)");
}

TEST_CASE("Keras 2 layer names holding '/' bind their weights; a Keras 3 config without a version is read as Keras 3") {
  // tf-keras DenseNet names its layers "conv1/conv": the weight is "conv1/conv/kernel:0".
  json layers = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_input_shape", {nullptr, 4, 4, 3}}}}},
                             {{"class_name", "Conv2D"}, {"config", {{"name", "conv1/conv"}, {"filters", 2}, {"kernel_size", 1}}}},
                             {{"class_name", "Conv2D"}, {"config", {{"name", "conv"}, {"filters", 2}, {"kernel_size", 1}}}},
                             {{"class_name", "Flatten"}, {"config", {{"name", "flat"}}}}});
  json model = {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
  const std::vector<float> k1 = ramp(6, 0.f, 0.1f), k2 = ramp(4, 1.f, 0.1f);
  std::vector<KerasTensor> t = {{"conv1/conv", "conv1/conv/kernel:0", {1, 1, 3, 2}, k1},
                                {"conv1/conv", "conv1/conv/bias:0", {2}, {0.f, 0.f}},
                                {"conv", "conv/kernel:0", {1, 1, 2, 2}, k2},
                                {"conv", "conv/bias:0", {2}, {0.f, 0.f}}};
  auto m = load_keras_file(KerasFile{model.dump(), "2.15.0", t}, "densenet.h5", kNoArch);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  CHECK(m->graph->nodes[0].weights[0] == k1);
  CHECK(m->graph->nodes[1].weights[0] == k2);

  // A .keras archive's weights file names no Keras version: its config's form says Keras 3.
  json gate = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_shape", {nullptr, 2, 2, 3}}}}},
                           {{"class_name", "Activation"}, {"config", {{"name", "gate"}, {"activation", "hard_sigmoid"}}}},
                           {{"class_name", "Flatten"}, {"config", {{"name", "flat"}}}}});
  json k3 = {{"module", "keras"}, {"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", gate}}}, {"registered_name", nullptr}};
  auto unversioned = load_keras_file(KerasFile{k3.dump(), "", {}}, "m.keras", kNoArch);
  REQUIRE_MESSAGE(unversioned.ok(), error_of(unversioned));
  CHECK(unversioned->graph->nodes[0].attrs.alpha == doctest::Approx(1.0 / 6));
}

TEST_CASE("a Keras input of open height and width (None) takes --size, as an ONNX dynamic input does") {
  json layers = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_shape", {nullptr, nullptr, nullptr, 3}}}}},
                             {{"class_name", "Conv2D"}, {"config", {{"name", "c"}, {"filters", 2}, {"kernel_size", 3}}}},
                             {{"class_name", "GlobalAveragePooling2D"}, {"config", {{"name", "gap"}}}}});
  json model = {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
  KerasFile f{model.dump(), "3.6.0", {{"layers/conv2d", "0", {3, 3, 3, 2}, ramp(54, 0.f, 0.1f)}, {"layers/conv2d", "1", {2}, {0.f, 0.f}}}};
  CHECK(error_of(import_keras_model(f, "open.keras")) ==
        "open.keras: in: the input's height and width are not fixed ([null,null,null,3]): give the size to use (--size N)");
  auto m = import_keras_model(f, "open.keras", 12);
  REQUIRE_MESSAGE(m.ok(), error_of(m));
  CHECK(m->graph->input.dynamic_size);
  CHECK(m->arch.height == 12);
  CHECK(m->graph->value(m->graph->nodes[0].output).shape == Shape{10, 10, 2});
  // A fixed input must match the size given.
  layers[0]["config"]["batch_shape"] = {nullptr, 8, 8, 3};
  f.model_config = json{{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}}.dump();
  CHECK(error_of(import_keras_model(f, "fixed.keras", 12)) == "fixed.keras: --size 12 does not match the model's fixed input 8x8");
}

TEST_CASE("a layer called twice (shared weights) is one node per call, each explainable by its name (Keras 2 and 3)") {
  // image -> shared -> shared -> avg_pool -> predictions: the conv's second call reads its first.
  for (bool keras3 : {false, true}) {
    CAPTURE(keras3);
    auto L = keras3 ? k3_layer : k2_layer;
    json layers = residual_layers(keras3);
    json shared = L("Conv2D", "shared", {{"filters", 3}, {"kernel_size", 3}, {"padding", "same"}, {"activation", "relu"}}, {"image"});
    json second = L("Conv2D", "shared", {}, {"shared"})["inbound_nodes"][0];
    if (keras3) second["args"][0]["config"]["keras_history"][1] = 0;  // the first call's output
    shared["inbound_nodes"].push_back(second);
    json pool = L("GlobalAveragePooling2D", "avg_pool", json::object(), {"shared"});
    if (keras3) pool["inbound_nodes"][0]["args"][0]["config"]["keras_history"][1] = 1;  // the second call's output
    else pool["inbound_nodes"][0][0][1] = 1;
    json model = functional(json::array({layers[0], shared, pool, L("Dense", "predictions", {{"units", 2}}, {"avg_pool"})}), keras3);
    const std::vector<float> kernel = ramp(3 * 3 * 3 * 3, 0.f, 0.05f), bias = {0.1f, 0.f, -0.1f};
    const std::vector<float> dk = ramp(6, 0.f, 0.5f), db = {0.f, 0.1f};
    std::vector<KerasTensor> t = keras3 ? std::vector<KerasTensor>{{"layers/conv2d", "0", {3, 3, 3, 3}, kernel},
                                                                   {"layers/conv2d", "1", {3}, bias},
                                                                   {"layers/dense", "0", {3, 2}, dk},
                                                                   {"layers/dense", "1", {2}, db}}
                                        : std::vector<KerasTensor>{{"shared", "shared/kernel:0", {3, 3, 3, 3}, kernel},
                                                                   {"shared", "shared/bias:0", {3}, bias},
                                                                   {"predictions", "predictions/kernel:0", {3, 2}, dk},
                                                                   {"predictions", "predictions/bias:0", {2}, db}};
    auto m = load_keras_file(KerasFile{model.dump(), keras3 ? "3.6.0" : "2.15.0", t}, "siamese", kNoArch);
    REQUIRE_MESSAGE(m.ok(), error_of(m));
    const Graph& g = *m->graph;
    CHECK(node_names(g) == std::vector<std::string>{"shared", "shared/call_1", "avg_pool", "predictions"});
    CHECK(g.nodes[0].weights == g.nodes[1].weights);
    CHECK(g.nodes[1].weights[0] == kernel);
    CHECK(g.nodes[1].inputs[0] == g.nodes[0].output);
    std::vector<std::string> explainable;
    for (int i : explainable_nodes(g)) explainable.push_back(g.nodes[size_t(i)].name);
    CHECK(explainable == std::vector<std::string>{"shared", "shared/call_1"});
    CHECK(g.nodes[size_t(g.default_layer)].name == "shared/call_1");
    auto second_call = find_layer(g, "shared/call_1");
    REQUIRE_MESSAGE(second_call.ok(), (second_call.ok() ? std::string() : second_call.error()));
    CHECK(*second_call == 1);
  }
}

TEST_CASE("PReLU shares alpha over any of its axes: height only, width only or channels (shared_axes [1], [2], [3])") {
  const int H = 2, W = 4, C = 3;  // all different: a slope read along the wrong axis shows
  for (const std::vector<int>& shared : std::vector<std::vector<int>>{{1}, {2}, {3}, {1, 3}}) {
    CAPTURE(json(shared).dump());
    std::vector<int64_t> shape = {H, W, C};
    for (int axis : shared) shape[size_t(axis - 1)] = 1;
    const std::vector<float> alpha = ramp(size_t(shape[0] * shape[1] * shape[2]), 0.5f, 0.2f);
    json layers = json::array({{{"class_name", "InputLayer"}, {"config", {{"name", "in"}, {"batch_input_shape", {nullptr, H, W, C}}}}},
                               {{"class_name", "PReLU"}, {"config", {{"name", "prelu"}, {"shared_axes", shared}}}},
                               {{"class_name", "Flatten"}, {"config", {{"name", "flat"}}}}});
    json model = {{"class_name", "Sequential"}, {"config", {{"name", "s"}, {"layers", layers}}}};
    auto m = load_keras_file(KerasFile{model.dump(), "2.15.0", {{"prelu", "prelu/alpha:0", shape, alpha}}}, "m.h5", kNoArch);
    REQUIRE_MESSAGE(m.ok(), error_of(m));
    // Only alpha of that shape is accepted.
    std::vector<int64_t> wrong = shape;
    wrong[0] = wrong[0] == 1 ? H : 1;
    auto refused = load_keras_file(KerasFile{model.dump(), "2.15.0", {{"prelu", "prelu/alpha:0", wrong, alpha}}}, "m.h5", kNoArch);
    CHECK(error_of(refused).find("layer 'prelu' (PReLU): alpha has shape") != std::string::npos);

    std::vector<float> x(size_t(H * W * C));
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(1.3 * double(i)));
    Network net(*m);
    net.forward(x.data());
    REQUIRE(net.logits().size() == x.size());
    for (int y = 0; y < H; ++y)
      for (int xx = 0; xx < W; ++xx)
        for (int c = 0; c < C; ++c) {
          const size_t k = size_t((y * W + xx) * C + c);
          const size_t a = size_t(((shape[0] > 1 ? y : 0) * shape[1] + (shape[1] > 1 ? xx : 0)) * shape[2] + (shape[2] > 1 ? c : 0));
          CHECK(net.logits()[k] == doctest::Approx(x[k] > 0 ? x[k] : alpha[a] * x[k]));
        }
  }
}

TEST_CASE("the Keras importer settles each value as it adds its node, as the ONNX importer does: a Dense's output is a rows [1, n] vector") {
  // The next layer's handler reads these values before infer_shapes runs over the whole graph, so
  // they must already be what the network will hold.
  keras::GraphBuilder b;
  Value image;
  image.name = "image";
  image.shape = {4, 4, 2};
  settle_value(image);
  b.g.values.push_back(image);
  Node flat;
  flat.name = flat.op_type = "flatten";
  flat.op = &ops::flatten_op;
  flat.inputs = {0};
  auto f = b.add(flat);
  REQUIRE_MESSAGE(f.ok(), f.error());
  Node dense;
  dense.name = dense.op_type = "dense";
  dense.op = &ops::gemm_op;
  dense.inputs = {*f};
  dense.attrs.out_channels = 3;
  dense.weights = {std::vector<float>(32 * 3, 0.1f), std::vector<float>(3, 0.f)};
  auto d = b.add(dense);
  REQUIRE_MESSAGE(d.ok(), d.error());
  for (int v : {*f, *d}) {
    const Value& out = b.g.value(v);
    CAPTURE(out.name);
    CHECK(out.layout == Layout::rows);
    CHECK(out.is_vector());
    CHECK(out.rank == 2);
    CHECK(!out.map.is_map());  // a vector is no grid a CAM could read
  }
  CHECK(b.g.value(*f).dims == std::vector<int64_t>{1, 32});
  CHECK(b.g.value(*d).dims == std::vector<int64_t>{1, 3});
  CHECK(b.g.value(*d).shape.size() == 3);
}
