// gradcam: the command-line front end of the engine (native, and the same program as wasm under
// node). Errors are one line on stderr naming the file and the problem; exit 2 for a usage error,
// 1 for a file that cannot be used.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.h"
#include "gradcam/contract.h"

using namespace gradcam;
using namespace gradcam::cli;
using json = nlohmann::json;

namespace {

const char* kUsage = R"(usage: gradcam COMMAND [options]

commands:
  info     --model F [--json]
             classes, input shape, layers with output shapes (ONNX: the nodes that can be
             explained, with op type and output shape)
  explain  --model F --image F [--layer NAME] [--method NAME] [--target auto|INDEX|NAME]
           [--score {scores}] [--crop {crops}]
           [--colormap {colormaps}] [--alpha A] [--samples N]
           [--out overlay.png] [--overwrite] [--json] [--dump-input]
             classify an image and explain the prediction
  eval     --model F --data DIR [--crop MODE] [--json] [--limit N] [--quiet]
             accuracy, per-class accuracy and confusion matrix on a folder of
             <class>/*.jpg|png or CIFAR-10 binary batches (*.bin)
  evaluate --model F --data DIR [--methods a,b,...] [--layer NAME] [--crop MODE] [--limit N]
           [--steps N] [--json] [--csv FILE [--overwrite]] [--quiet]
             how faithful each method's maps are: deletion and insertion areas (RISE), ROAD
             MoRF/LeRF, confidence change of the top 20%; means over the images (or the
             CIFAR-10 test batch); --limit N takes N images spread over the sorted list
  batch    --model F --input DIR --out DIR [explain options] [--jobs N] [--shard K/N]
           [--resume | --overwrite] [--quiet]
             explain every image below DIR: DIR/<relative path>.png overlays (a/x.jpg ->
             a/x.jpg.png), DIR/index.jsonl as it goes and DIR/index.json at the end; exits 1
             when an image could not be explained (the index says which and why), 130 on Ctrl-C
  merge-index --out DIR [--overwrite]
             join DIR/index.shard-K-of-N.json (from batch --shard) into DIR/index.json
  import-keras FILE.h5 --out F [--arch FILE.json] [--overwrite]
             convert a Keras file (.h5 from save_weights / save, .weights.h5, .keras) to the model
             file; the architecture is --arch if given, else the file's model_config, else
             the seed network (--model FILE.h5 works wherever a model file does)
  init-model --out F [--seed N] [--arch FILE.json] [--overwrite]
             write an architecture (default: the seed network) with deterministic random
             (untrained) weights
  bench    --model F [--image F] [--iterations N] [--json] [--profile]
             time forward and Grad-CAM passes (--profile: each layer's forward too)

model options (every command with --model): F is a model file (.safetensors), a Keras file
(.h5, .keras) or an ONNX file (.onnx, as PyTorch exports it), told apart by their bytes
  --mean R,G,B --std R,G,B   normalise as torchvision does: x = (pixel/255 - mean) / std
  --labels FILE              class names, one per line (ONNX default: 0, 1, ...)
  --size N                   input height and width for a model whose size is dynamic
)";

// The usage text, with the scores, crop modes, colormaps and methods as the engine's tables list them.
std::string usage() {
  std::string text = kUsage, line = "\nmethods:";
  for (const auto& [slot, names] : {std::pair{"{scores}", names_text(kScoreNames, "|")},
                                    std::pair{"{crops}", names_text(kCropModeNames, "|")},
                                    std::pair{"{colormaps}", names_text(colormap_names(), "|")}})
    text.replace(text.find(slot), std::strlen(slot), names);
  for (const MethodDescriptor& d : method_table()) {
    if (line.size() + std::strlen(d.name) + 1 > 96) {
      text += line + "\n";
      line = "        ";
    }
    line += std::string(" ") + d.name;
  }
  return text + line + "\n";
}

void print_summary(const Engine& engine, const Explanation& e, const std::string& image) {
  const Architecture& arch = engine.arch();
  std::printf("%s%s\n", image.c_str(), engine.model().trained() ? "" : "  (untrained model: random weights)");
  for (const ClassScore& s : top_k(e.probabilities, 5))
    std::printf("  %-12s %6.2f%%\n", arch.classes[size_t(s.index)].c_str(), 100.0 * s.probability);
  std::printf("%s, score %s \u00b7 %.2f ms\n", explanation_summary(engine.model(), e).c_str(), score_name(e.score),
              e.forward_ms + e.backward_ms + e.cam_ms);
}

int cmd_info(const Args& a) {
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

int cmd_explain(const Args& a) {
  auto engine = load_engine(a);
  ExplainSettings s = explain_settings(a, engine->model());
  std::string image_path = a.require("image");
  if (a.has("out")) {
    // The overlay must never replace what this run reads, nor (silently) anything else.
    for (const char* input : {"image", "model"})
      if (same_path(a.get("out"), a.get(input)))
        throw UsageError{"--out " + a.get("out") + " is the --" + input + " file: choose another name for the overlay"};
    std::error_code ec;
    if (!a.has("overwrite") && fs::exists(a.get("out"), ec))
      throw UsageError{a.get("out") + ": already exists (pass --overwrite to replace it)"};
  }
  double t0 = now_ms();
  Image image = load_image(image_path);
  double t1 = now_ms();
  std::vector<float> input = engine->prepare(image, s.crop);
  double t2 = now_ms();
  auto e = engine->explain(input, s.options);
  if (!e) throw FileError{image_path + ": " + e.error()};
  if (a.has("out")) {
    const Architecture& arch = engine->arch();
    Image over = overlay_on_source(image, e->cam.values.data(), e->cam.height, e->cam.width, arch.height, arch.width,
                                   s.crop, s.colormap, s.alpha);
    write_file_atomic(a.get("out"), encode_png(over.rgba.data(), over.width, over.height, 4), a.has("overwrite"));
  }
  if (a.has("json")) {
    JsonOptions o;
    o.decode_ms = t1 - t0;
    o.preprocess_ms = t2 - t1;
    if (a.has("dump-input")) o.input = &input;
    std::printf("%s\n", explanation_json(engine->model(), *e, o).c_str());
  } else {
    print_summary(*engine, *e, image_path);
    if (a.has("out")) std::printf("overlay: %s\n", a.get("out").c_str());
  }
  return 0;
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp" || ext == ".gif";
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::vector<fs::path> v;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    v.push_back(it->path());
  if (ec) throw FileError{dir.string() + ": cannot list folder (" + ec.message() + ")"};
  std::sort(v.begin(), v.end());
  return v;
}

int cmd_eval(const Args& a) {
  auto engine = load_engine(a);
  const Architecture& arch = engine->arch();
  CropMode crop = unwrap_usage(parse_crop_mode(a.get("crop", "center")));
  fs::path dir = a.require("data");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw FileError{dir.string() + ": not a folder"};
  const long limit = long(a.integer("limit", -1, 0, 1000000000));
  const int n = int(arch.classes.size());

  // Samples: (label, image file) from class folders, or records of CIFAR-10 binary batches.
  std::vector<std::pair<int, fs::path>> files;
  std::vector<fs::path> bins;
  for (const fs::path& p : sorted_entries(dir)) {
    if (fs::is_directory(p, ec)) {
      std::string name = p.filename().string();
      auto it = std::find(arch.classes.begin(), arch.classes.end(), name);
      if (it == arch.classes.end()) throw FileError{p.string() + ": folder is not one of the model's classes"};
      for (const fs::path& f : sorted_entries(p))
        if (is_image_name(f)) files.push_back({int(it - arch.classes.begin()), f});
    } else if (p.extension() == ".bin") {
      bins.push_back(p);
    }
  }
  // The official binary release: the test split if present, else every batch given.
  std::vector<fs::path> use_bins;
  for (const fs::path& b : bins)
    if (b.filename() == "test_batch.bin") use_bins.push_back(b);
  if (use_bins.empty()) use_bins = bins;
  if (files.empty() && use_bins.empty())
    throw FileError{dir.string() + ": no <class>/*.jpg|png folders and no CIFAR-10 *.bin files"};

  std::vector<std::vector<long>> confusion(static_cast<size_t>(n), std::vector<long>(size_t(n), 0));
  long total = 0, correct = 0, failed = 0;
  auto classify = [&](int label, const Image& img) {
    const std::vector<float>& p = engine->predict(engine->prepare(img, crop));
    int pred = int(std::max_element(p.begin(), p.end()) - p.begin());
    confusion[size_t(label)][size_t(pred)]++;
    total++;
    correct += pred == label;
  };
  size_t planned = files.size();
  std::vector<std::vector<uint8_t>> bin_data;
  for (const fs::path& b : use_bins) {
    bin_data.push_back(read_file(b.string()));
    if (bin_data.back().size() % 3073) throw FileError{b.string() + ": size is not a multiple of 3073 bytes (not a CIFAR-10 batch)"};
    planned += bin_data.back().size() / 3073;
  }
  if (limit >= 0) planned = std::min(planned, size_t(limit));
  Progress progress{planned, now_ms(), a.has("quiet") || a.has("json")};
  for (const auto& [label, f] : files) {
    if (limit >= 0 && total + failed >= limit) break;
    try {
      classify(label, load_image(f.string()));
    } catch (const FileError& e) {
      std::fprintf(stderr, "\ngradcam: %s (skipped)\n", e.message.c_str());
      failed++;
    }
    if ((total + failed) % 50 == 0) progress.update(size_t(total + failed));
  }
  for (const auto& data : bin_data) {
    for (size_t r = 0; r + 3073 <= data.size(); r += 3073) {
      if (limit >= 0 && total + failed >= limit) break;
      int label = data[r];
      if (label >= n) throw FileError{"CIFAR-10 record has label " + std::to_string(label) + " >= " + std::to_string(n)};
      Image img{32, 32, std::vector<uint8_t>(32 * 32 * 4, 255)};
      for (int i = 0; i < 1024; ++i)
        for (int c = 0; c < 3; ++c) img.rgba[size_t(i) * 4 + c] = data[r + 1 + size_t(c) * 1024 + i];
      classify(label, img);
      if ((total + failed) % 50 == 0) progress.update(size_t(total + failed));
    }
  }
  progress.update(size_t(total + failed));
  if (total == 0) throw FileError{dir.string() + ": no image could be read"};

  std::vector<double> per_class(static_cast<size_t>(n), 0.0);
  for (int c = 0; c < n; ++c) {
    long row = 0;
    for (long v : confusion[size_t(c)]) row += v;
    per_class[size_t(c)] = row ? double(confusion[size_t(c)][size_t(c)]) / double(row) : 0.0;
  }
  double acc = double(correct) / double(total);
  if (a.has("json")) {
    json j = {{"images", total}, {"failed", failed}, {"accuracy", acc}, {"classes", arch.classes},
              {"per_class_accuracy", per_class}, {"confusion", confusion}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("accuracy: %.2f%% (%ld of %ld images%s)\n", 100 * acc, correct, total,
              failed ? (", " + std::to_string(failed) + " unreadable skipped").c_str() : "");
  std::printf("\n%-12s %8s\n", "class", "accuracy");
  for (int c = 0; c < n; ++c) std::printf("%-12s %7.2f%%\n", arch.classes[size_t(c)].c_str(), 100 * per_class[size_t(c)]);
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
  for (int c = 0; c < n; ++c) std::printf(" %5.5s", arch.classes[size_t(c)].c_str());
  std::printf("\n");
  for (int r = 0; r < n; ++r) {
    std::printf("%-12s", arch.classes[size_t(r)].c_str());
    for (int c = 0; c < n; ++c) std::printf(" %5ld", confusion[size_t(r)][size_t(c)]);
    std::printf("\n");
  }
  return 0;
}

int cmd_init_model(const Args& a) {
  std::string out = a.require("out");
  const auto seed = uint64_t(a.integer("seed", 1, 0, 9007199254740991LL));
  Architecture arch = seed_architecture();
  if (a.has("arch")) {
    std::vector<uint8_t> text = read_file(a.get("arch"));
    auto parsed = parse_architecture(std::string(text.begin(), text.end()));
    if (!parsed) throw FileError{a.get("arch") + ": " + parsed.error()};
    arch = parsed.value();
  }
  write_file_atomic(out, save_model(random_model(arch, seed)), a.has("overwrite"));
  std::printf("wrote %s (untrained, seed %llu)\n", out.c_str(), (unsigned long long)seed);
  return 0;
}

// The q-quantile (0.5: median) of timings.
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

int cmd_bench(const Args& a) {
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
  if (a.has("profile")) {
    // Each node's forward alone, on the values of a forward pass. Passes of the whole network
    // alternate with the timings, so every node runs with its neighbours' cache state, and a
    // slow spell of a shared machine lands on single samples, not on whole nodes.
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


// Every command with the options it takes; anything else is refused by parse_args.
struct Command {
  const char* name;
  int (*run)(const Args&);
  CommandOptions options;
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    CommandOptions explain{{"model", "image", "out"}, {"json", "dump-input", "overwrite"}};
    explain.values.insert(explain.values.end(), request_keys().begin(), request_keys().end());
    std::vector<Command> t{
        {"info", cmd_info, {{"model"}, {"json"}}},
        {"explain", cmd_explain, explain},
        {"eval", cmd_eval, {{"model", "data", "crop", "limit"}, {"json", "quiet"}}},
        {"evaluate", cmd_evaluate, kEvaluateOptions},
        {"batch", cmd_batch, kBatchOptions},
        {"merge-index", cmd_merge_index, kMergeIndexOptions},
        {"init-model", cmd_init_model, {{"out", "seed", "arch"}, {"overwrite"}}},
        {"import-keras", cmd_import_keras, {{"model", "out", "arch"}, {"overwrite"}}},
        {"bench", cmd_bench, {{"model", "image", "iterations"}, {"json", "profile"}}},
    };
    // Every command that reads a model takes the model options (import-keras converts a Keras file).
    for (Command& c : t) {
      auto& v = c.options.values;
      if (std::string(c.name) == "import-keras" || std::find(v.begin(), v.end(), "model") == v.end()) continue;
      for (const std::string& o : kModelOptions)
        if (std::find(v.begin(), v.end(), o) == v.end()) v.push_back(o);
    }
    return t;
  }();
  return table;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(usage().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    const Command* c = nullptr;
    std::string names;
    for (const Command& k : commands()) {
      if (cmd == k.name) c = &k;
      names += (names.empty() ? "" : ", ") + std::string(k.name);
    }
    if (!c) throw UsageError{"unknown command \"" + cmd + "\" (" + names + ")"};
    // import-keras names its input first, as converters do: `import-keras model.h5 --out F`.
    const bool positional = cmd == "import-keras" && argc > 2 && argv[2][0] != '-';
    Args a = parse_args(cmd, c->options, argc, argv, positional ? 3 : 2);
    if (positional) {
      if (a.has("model")) throw UsageError{"give the Keras file once (as the first argument or as --model)"};
      a.values["model"] = argv[2];
    }
    if (a.has("help")) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    return c->run(a);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "gradcam %s: %s (gradcam --help for usage)\n", cmd.c_str(), e.message.c_str());
    return 2;
  } catch (const FileError& e) {
    std::fprintf(stderr, "gradcam %s: %s\n", cmd.c_str(), e.message.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gradcam %s: unexpected error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
