// gradcam info: what a model holds: its classes, its input and its layers (ONNX: the nodes that
// can be explained, with op type and output shape), as a table or as the engine's info JSON.
#include <cstdio>
#include <string>

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
  std::printf("model: %s (%s)\n", a.get("model").c_str(), engine->model().trained()     ? "trained"
                                                            : engine->model().untrained() ? "untrained: random weights"
                                                                                          : "trained or not: the file does not say");
  if (arch.layers.empty()) {  // no layer list (ONNX): the graph's explainable nodes
    const Graph& g = engine->graph();
    // Shapes in the model's own layout: NCHW for PyTorch's ONNX, NHWC for Keras.
    const bool nchw = g.input.channels_first;
    auto shape = [&](const Shape& s) {
      char text[64];
      if (nchw) std::snprintf(text, sizeof text, "[1,%d,%d,%d]", s.c, s.h, s.w);
      else std::snprintf(text, sizeof text, "[1,%d,%d,%d]", s.h, s.w, s.c);
      return std::string(text);
    };
    // A token grid (ViT, Swin) as its own dims and the map a CAM reads of it.
    auto output = [&](const Value& v) {
      if (v.layout == Layout::image) return shape(v.shape);
      const Shape& m = v.map.grid;
      return dims_text(v.dims) + " as " + std::to_string(m.h) + "x" + std::to_string(m.w) + "x" + std::to_string(m.c) +
             (v.map.offset > 0 ? " after the class token" : "");
    };
    char scale[32];
    if (arch.scale == 1.f) std::snprintf(scale, sizeof scale, "pixel");
    else if (arch.scale == 1.f / 255.f) std::snprintf(scale, sizeof scale, "pixel/255");
    else std::snprintf(scale, sizeof scale, "pixel*%g", double(arch.scale));
    std::printf("input: %s %s (%s), x = %s%s\n", g.input.name.c_str(),
                shape(Shape{arch.height, arch.width, arch.channels}).c_str(), nchw ? "NCHW" : "NHWC", scale,
                arch.mean.empty() ? (g.asks_for_input_options ? " (no --mean/--std)" : "") : " then (x - mean) / std");
    std::printf("classes: %zu, nodes: %zu; explainable (%s):\n", arch.classes.size(), g.nodes.size(), g.words.plural.c_str());
    std::printf("%-52s %-18s %s\n", "node", "op", "output");
    for (int i : explainable_nodes(g)) {
      const Node& n = g.nodes[size_t(i)];
      std::printf("%-52s %-18s %s%s\n", n.name.c_str(), n.op_type.c_str(), output(g.output_of(i)).c_str(),
                  i == g.default_layer ? "  (default)" : "");
    }
    return 0;
  }
  std::printf("input: %dx%dx%d, scale %g\nclasses:", arch.height, arch.width, arch.channels, arch.scale);
  for (const auto& c : arch.classes) std::printf(" %s", c.c_str());
  std::printf("\n%-24s %-11s %s\n", "layer", "type", "output");
  const Graph& g = engine->graph();  // the model file's graph: one node per layer
  for (size_t i = 0; i < arch.layers.size(); ++i) {
    const Shape& out = g.output_of(int(i)).shape;
    std::printf("%-24s %-11s %dx%dx%d\n", arch.layers[i].name.c_str(), layer_type_name(arch.layers[i].type), out.h, out.w, out.c);
  }
  return 0;
}

}  // namespace

Command info_command() {
  return {"info", nullptr, run_info, {{"model"}, {"json"}}, "--model F [--json]",
          "classes, input shape, layers with output shapes (ONNX: the nodes that can be\n"
          "explained, with op type and output shape)"};
}

}  // namespace gradcam::cli
