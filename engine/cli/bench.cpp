// gradcam bench: how long forward and Grad-CAM passes take on this machine (median, p10 and p90
// of many runs), and with --profile each layer's forward alone.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"

namespace gradcam::cli {

namespace {

using json = nlohmann::json;

// The q-quantile (0.5: median) of timings.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

int run_bench(const Args& a) {
  auto engine = load_engine(a);
  const Architecture& arch = engine->arch();
  const int iters = int(a.integer("iterations", 200, 1, 1000000));
  std::vector<float> input;
  if (a.has("image")) {
    input = engine->prepare(load_image(a.get("image")), CropMode::center);
  } else {
    input.resize(size_t(arch.height) * arch.width * arch.channels);
    for (size_t i = 0; i < input.size(); ++i) input[i] = float((i * 37) % 256) * arch.scale;
  }
  Network& net = engine->network();
  std::vector<std::pair<std::string, std::vector<double>>> rows;
  auto time = [&](const std::string& name, auto&& fn) {
    for (int i = 0; i < std::min(iters, 10); ++i) fn();
    std::vector<double> t;
    for (int i = 0; i < iters; ++i) {
      double t0 = now_ms();
      fn();
      t.push_back(now_ms() - t0);
    }
    rows.push_back({name, t});
  };
  const Graph& graph = net.graph();
  // A forward alone keeps what predict() keeps: the logits (and fuses what it can).
  if (Status s = net.plan_pass({}); !s) throw FileError{s.error()};
  time("forward", [&] { net.forward(input.data()); });
  // The default layer (the seed network's conv2d_8) and, for a model with a layer list, two earlier
  // ones (the seed network's conv2d_2 and conv2d): maps of other sizes cost differently.
  std::vector<int> layers = {graph.default_layer};
  if (const std::vector<int> all = explainable_nodes(graph); !engine->arch().layers.empty() && all.size() > 1)
    for (int i : {all[all.size() / 4], all.front()})
      if (std::find(layers.begin(), layers.end(), i) == layers.end()) layers.push_back(i);
  for (int layer : layers) {
    if (layer < 0) continue;
    ExplainOptions o;
    o.layer = layer;
    time("gradcam " + graph.nodes[size_t(layer)].name, [&] { (void)explain(net, input.data(), o); });
  }
  const std::vector<int> explainable = explainable_nodes(graph);
  if (!explainable.empty()) {
    std::vector<float> d(static_cast<size_t>(net.num_classes()));
    if (Status s = net.plan_pass({explainable, explainable.front()}); !s) throw FileError{s.error()};
    time("all conv layers (1 fwd + 1 bwd)", [&] {
      net.forward(input.data());
      score_gradient(net.logits(), net.probabilities(), 0, Score::logit, d.data());
      net.backward(d.data(), explainable.front());
      for (int i : explainable) {
        const Shape& s = net.output_shape(i);
        (void)grad_cam(net.output(i).data(), net.output_grad(i).data(), s.h, s.w, s.c);
      }
    });
  }
  // Whole explanations at the default layer by the methods named (--methods): the per-sample methods
  // (Score-CAM, SmoothGrad) cost many passes, so they get their own, smaller count.
  if (a.has("methods")) {
    const int method_iters = int(a.integer("method-iterations", 5, 1, 1000000));
    std::stringstream list(a.get("methods"));
    for (std::string name; std::getline(list, name, ',');) {
      ExplainOptions o;
      o.method = unwrap_usage(parse_method(name));
      (void)explain(net, input.data(), o);  // warm
      std::vector<double> t;
      for (int i = 0; i < method_iters; ++i) {
        const double t0 = now_ms();
        auto e = explain(net, input.data(), o);
        t.push_back(now_ms() - t0);
        if (!e) throw FileError{a.get("model") + ": " + name + ": " + e.error()};
      }
      rows.push_back({"explain " + name, t});
      // Score-CAM runs the network once per channel of the layer: beside it, as many warm forwards
      // one after another (timed as one span of the same length, so a busy machine's preemptions
      // land on both alike). Their ratio says what a masked pass costs against a forward.
      if (o.method == Method::scorecam && graph.default_layer >= 0) {
        const int channels = net.output_shape(graph.default_layer).c;
        std::vector<double> f;
        for (int i = 0; i < method_iters; ++i) {
          const double t0 = now_ms();
          for (int k = 0; k < channels; ++k) net.forward(input.data());
          f.push_back(now_ms() - t0);
        }
        rows.push_back({"forward x channels", f});
      }
    }
  }
  if (a.has("profile")) {
    // Each node's forward alone, on the values of a forward pass. Passes of the whole network
    // alternate with the timings, so every node runs with its neighbours' cache state, and a
    // slow spell of a shared machine lands on single samples, not on whole nodes.
    if (Status s = net.plan_all(); !s) throw FileError{s.error()};  // each node runs on its own inputs
    std::vector<std::vector<double>> node_ms(size_t(net.layer_count()));
    for (int k = 0; k < iters; ++k) {
      net.forward(input.data());
      for (int i = 0; i < net.layer_count(); ++i) {
        double t0 = now_ms();
        net.run_node(i);
        node_ms[size_t(i)].push_back(now_ms() - t0);
      }
    }
    for (int i = 0; i < net.layer_count(); ++i)
      rows.push_back({"  forward " + graph.nodes[size_t(i)].name, node_ms[size_t(i)]});
  }
  if (a.has("json")) {
    json j = json::object();
    for (auto& [name, t] : rows)
      j[name] = {{"median_ms", quantile(t, 0.5)}, {"p10_ms", quantile(t, 0.1)}, {"p90_ms", quantile(t, 0.9)},
                 {"iterations", t.size()}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%-34s %10s %10s %10s\n", "work", "median ms", "p10", "p90");
    for (auto& [name, t] : rows)
      std::printf("%-34s %10.3f %10.3f %10.3f\n", name.c_str(), quantile(t, 0.5), quantile(t, 0.1), quantile(t, 0.9));
  }
  return 0;
}

}  // namespace

Command bench_command() {
  return {"bench", nullptr, run_bench, {{"model", "image", "iterations", "methods", "method-iterations"}, {"json", "profile"}},
          "--model F [--image F] [--iterations N] [--methods a,b,... [--method-iterations N]] [--json]\n"
          "[--profile]",
          "time forward and Grad-CAM passes (--methods: whole explanations by those methods at the\n"
          "default layer; --profile: each layer's forward too)"};
}

}  // namespace gradcam::cli
