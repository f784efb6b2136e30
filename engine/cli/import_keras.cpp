// gradcam import-keras: a Keras file (HDF5 from save_weights or save, Keras 2 or 3, or a Keras 3
// .keras archive) converted to the
// model file. The conversion is the same mapping that loading the .h5 directly uses, and the
// floats are written as read, so the two predict bit-identically (tests/js/keras.test.mjs checks).
#include <cstdio>

#include "cli.h"
#include "gradcam/keras.h"

namespace gradcam::cli {

namespace {

int run_import_keras(const Args& a) {
  const std::string in = a.require("model"), out = a.require("out");
  for (const char* input : {"model", "arch"})
    if (a.has(input) && same_path(out, a.get(input)))
      throw UsageError{"--out " + out + " is the " + (std::string(input) == "model" ? "Keras file" : "--arch file") +
                       ": choose another name"};
  std::error_code ec;
  if (!a.has("overwrite") && fs::exists(out, ec)) throw UsageError{out + ": already exists (pass --overwrite to replace it)"};
  std::string arch_text;  // an architecture JSON or a Keras config (parse_keras_arch)
  KerasArch given;
  if (a.has("arch")) {
    const std::vector<uint8_t> text = read_file(a.get("arch"));
    arch_text.assign(text.begin(), text.end());
    auto parsed = parse_keras_arch(arch_text);
    if (!parsed) throw FileError{a.get("arch") + ": " + parsed.error()};
    given = std::move(parsed.value());
  }
  const KerasArch* override_arch = a.has("arch") ? &given : nullptr;
  Result<Model> model = make_error("");
  std::vector<uint8_t> bytes = read_file(in);
  if (auto handed = handed_over_keras_model(in, arch_text, a.has("arch") ? a.get("arch") : "arch"))  // the wasm CLI
    model = std::move(*handed);
  else if (!keras_hdf5_available() && is_hdf5(bytes.data(), bytes.size()))
    throw FileError{in + ": this build has no HDF5 library (the native build reads Keras files)"};
  else if (is_hdf5(bytes.data(), bytes.size())) model = load_keras_hdf5(bytes.data(), bytes.size(), in, override_arch);
  else if (is_zip(bytes.data(), bytes.size())) model = load_keras_archive(bytes.data(), bytes.size(), in, override_arch);
  else throw FileError{in + ": not a Keras file (neither HDF5, as .h5 and .weights.h5 are, nor a .keras zip archive)"};
  if (!model) throw FileError{model.error()};
  // A config's network is imported as a graph; the model file holds it when it is a chain of its layers.
  auto sequential = sequential_model_of(*model);
  if (!sequential)
    throw FileError{in + ": the model file holds a chain of conv2d, max_pool2d, dropout, batch_norm, flatten and dense "
                    "layers, and this network is not one (" + sequential.error() + "); pass " + in +
                    " to --model directly, which runs it as it is"};
  model = std::move(sequential);
  write_file_atomic(out, save_model(*model), a.has("overwrite"));
  size_t values = 0;
  for (const auto& [name, v] : model->params) values += v.size();
  std::printf("wrote %s: %zu layers, %zu parameters, %zu classes\n", out.c_str(), model->arch.layers.size(), values,
              model->arch.classes.size());
  return 0;
}

}  // namespace

Command import_keras_command() {
  return {"import-keras", nullptr, run_import_keras, {{"model", "out", "arch"}, {"overwrite"}},
          "FILE.h5 --out F [--arch FILE.json] [--overwrite]",
          "convert a Keras file (.h5 from save_weights / save, .weights.h5, .keras) to the model\n"
          "file; the architecture is --arch if given (an architecture JSON or a Keras config),\n"
          "else the file's model_config, else the seed network (--model FILE.h5 works wherever\n"
          "a model file does)"};
}

}  // namespace gradcam::cli
