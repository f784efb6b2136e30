// gradcam info: what a model holds: its classes, its input and its layers (ONNX: the nodes that
// can be explained, with op type and output shape), as a table or as the engine's info JSON.
#include <cstdio>

#include "cli.h"

namespace gradcam::cli {

namespace {

int run_info(const Args& a) {
  auto engine = load_engine(a);
  if (a.has("json")) {
    std::printf("%s\n", engine->info_json().c_str());
    return 0;
  }
  const Architecture& arch = engine->arch();
  std::printf("model: %s (%s)\n", a.get("model").c_str(), engine->model().trained() ? "trained" : "untrained: random weights");
  if (arch.layers.empty()) {  // no layer list (ONNX): the graph's explainable nodes
    const Graph& g = engine->graph();
    std::printf("input: %s [1,%d,%d,%d] (NCHW), x = pixel/255%s\n", g.input.name.c_str(), arch.channels, arch.height,
                arch.width, arch.mean.empty() ? " (no --mean/--std)" : " then (x - mean) / std");
    std::printf("classes: %zu, nodes: %zu; explainable (4-D output):\n", arch.classes.size(), g.nodes.size());
    std::printf("%-52s %-18s %s\n", "node", "op", "output");
    for (int i : explainable_nodes(g)) {
      const Node& n = g.nodes[size_t(i)];
      const Shape& s = g.output_of(i).shape;
      std::printf("%-52s %-18s [1,%d,%d,%d]%s\n", n.name.c_str(), n.op_type.c_str(), s.c, s.h, s.w,
                  i == g.default_layer ? "  (default)" : "");
    }
    return 0;
  }
  std::printf("input: %dx%dx%d, scale %g\nclasses:", arch.height, arch.width, arch.channels, arch.scale);
  for (const auto& c : arch.classes) std::printf(" %s", c.c_str());
  std::printf("\n%-24s %-11s %s\n", "layer", "type", "output");
  for (const LayerSpec& l : arch.layers)
    std::printf("%-24s %-11s %dx%dx%d\n", l.name.c_str(), layer_type_name(l.type), l.output.h, l.output.w, l.output.c);
  return 0;
}

}  // namespace

Command info_command() {
  return {"info", nullptr, run_info, {{"model"}, {"json"}}, "--model F [--json]",
          "classes, input shape, layers with output shapes (ONNX: the nodes that can be\n"
          "explained, with op type and output shape)"};
}

}  // namespace gradcam::cli
