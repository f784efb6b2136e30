// gradcam explain: classify one image and explain the prediction: a summary (or the explanation's
// JSON) on stdout and, with --out, the heat map over the image as a PNG.
#include <cstdio>

#include "cli.h"
#include "gradcam/name_table.h"

namespace gradcam::cli {

namespace {

void print_summary(const Engine& engine, const Explanation& e, const std::string& image) {
  const Architecture& arch = engine.arch();
  std::printf("%s%s\n", image.c_str(), engine.model().untrained() ? "  (untrained model: random weights)" : "");
  for (const ClassScore& s : top_k(e.probabilities, 5))
    std::printf("  %-12s %6.2f%%\n", arch.classes[size_t(s.index)].c_str(), 100.0 * s.probability);
  std::printf("%s, score %s \u00b7 %.2f ms\n", explanation_summary(engine.model(), e).c_str(), score_name(e.score),
              e.forward_ms + e.backward_ms + e.cam_ms);
}

int run_explain(const Args& a) {
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

}  // namespace

Command explain_command() {
  CommandOptions options{{"model", "image", "out"}, {"json", "dump-input", "overwrite"}};
  add_request_options(options);
  // The scores, crop modes and colormaps as the engine's name tables list them.
  return {"explain", nullptr, run_explain, options,
          "--model F --image F [--layer NAME] [--method NAME] [--target auto|INDEX|NAME]\n"
          "[--score " + names_text(kScoreNames, "|") + "] [--crop " + names_text(kCropModeNames, "|") + "]\n"
          "[--colormap " + names_text(colormap_names(), "|") + "] [--alpha A] [--samples N] [--steps N]\n"
          "[--baseline " + names_text(kBaselineNames, "|") + "] [--window N] [--stride N] [--eigen-smooth] [--aug-smooth]\n"
          "[--out overlay.png] [--overwrite] [--json] [--dump-input]",
          "classify an image and explain the prediction"};
}

}  // namespace gradcam::cli
