// The wasm CLI's Keras files: the engine compiled to wasm has no HDF5 library, so the CLI's
// --pre-js (keras_handover.js) reads a Keras --model with the JS API's reader before main() and
// leaves the manifest and the tensors' floats in Module.gradcamKeras; this takes them over and maps
// them as the JS API does (load_keras_manifest), naming the user's file in every message. The
// native CLI reads Keras files itself: nothing is handed over there.
#include <cstring>

#include "cli.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>

namespace {

// Parts of the hand-over: 0 the file's path as given, 1 the manifest JSON, 2 the floats' bytes,
// 3 the reader's error message. -1: not there.
EM_JS(int, gc_cli_keras_part_size, (int part), {
  const k = Module['gradcamKeras'];
  const bytes = k && [k.source, k.manifest, k.data, k.error][part];
  return bytes ? bytes.length : -1;
});
EM_JS(void, gc_cli_keras_part_copy, (int part, void* out), {
  const k = Module['gradcamKeras'];
  HEAPU8.set([k.source, k.manifest, k.data, k.error][part], out);
});

std::vector<uint8_t> part(int which) {
  const int n = gc_cli_keras_part_size(which);
  std::vector<uint8_t> out(size_t(n > 0 ? n : 0));
  if (n > 0) gc_cli_keras_part_copy(which, out.data());
  return out;
}

}  // namespace
#endif

namespace gradcam::cli {

std::optional<Result<Model>> handed_over_keras_model(const std::string& path, const std::string& arch,
                                                     const std::string& arch_source, int size) {
#ifdef __EMSCRIPTEN__
  const std::vector<uint8_t> source = part(0);
  if (gc_cli_keras_part_size(0) < 0 || std::string(source.begin(), source.end()) != path) return std::nullopt;
  if (gc_cli_keras_part_size(3) >= 0) {
    const std::vector<uint8_t> error = part(3);
    return Result<Model>(make_error(std::string(error.begin(), error.end())));
  }
  if (!arch.empty())
    if (auto given = parse_keras_arch(arch); !given) return Result<Model>(make_error(arch_source + ": " + given.error()));
  const std::vector<uint8_t> manifest = part(1), bytes = part(2);
  std::vector<float> data(bytes.size() / sizeof(float));
  std::memcpy(data.data(), bytes.data(), data.size() * sizeof(float));
  return load_keras_manifest(std::string(manifest.begin(), manifest.end()), data.data(), data.size(), arch, path, size);
#else
  (void)path, (void)arch, (void)arch_source, (void)size;
  return std::nullopt;
#endif
}

}  // namespace gradcam::cli
