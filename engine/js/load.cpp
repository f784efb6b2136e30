// Loading models for both WebAssembly programs (load.h): the table of loaded engines and the C ABI
// that fills it. No function throws: a failure returns 0 / null and gc_error() says why.
#include "load.h"

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "formats/onnx.h"
#include "formats/onnx_import.h"
#include "gradcam/keras.h"
#include "gradcam/tfjs.h"

using namespace gradcam;

namespace {

std::string g_error;
std::map<int, std::unique_ptr<Engine>> g_engines;
int g_next_engine = 1;
std::string g_info;

int keep(std::unique_ptr<Engine> engine) {
  g_engines[g_next_engine] = std::move(engine);
  return g_next_engine++;
}

}  // namespace

namespace gradcam_js {

Engine* loaded_engine(int handle) {
  auto it = g_engines.find(handle);
  if (it == g_engines.end()) {
    g_error = "this engine was disposed";
    return nullptr;
  }
  return it->second.get();
}

const char* fail(const std::string& message) {
  g_error = message;
  return nullptr;
}

}  // namespace gradcam_js

using gradcam_js::fail;

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* gc_error() { return g_error.c_str(); }

// A model file (safetensors or ONNX) with the options it does not say (LoadOptions JSON, "" for
// none). Returns the engine's handle, or 0.
EMSCRIPTEN_KEEPALIVE int gc_load(const uint8_t* bytes, size_t size, const char* source, const char* options_json) {
  try {
    auto options = parse_load_options(options_json ? options_json : "");
    if (!options) return fail(options.error()), 0;
    auto e = Engine::load(bytes, size, source, *options);
    if (!e) return fail(e.error()), 0;
    return keep(std::move(e.value()));
  } catch (const std::exception& ex) {
    return fail(std::string(source) + ": cannot load model (" + ex.what() + ")"), 0;
  }
}

// An ONNX model file that load.mjs put in Emscripten's in-memory file system at `path`, where its
// bytes stay in a JS array outside the wasm memory: read as it is decoded, as the native CLI reads
// a file, so the wasm memory holds its weights but never its bytes (VGG-16: 528 MiB less at the
// peak). Returns the handle; 0 with gc_error() on failure; -1 when the file is not ONNX (load.mjs
// then hands its bytes to gc_load, which tells the other formats apart).
EMSCRIPTEN_KEEPALIVE int gc_load_onnx_file(const char* path, const char* source, const char* options_json) {
  try {
    auto options = parse_load_options(options_json ? options_json : "");
    if (!options) return fail(options.error()), 0;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path, "rb"), &std::fclose);
    if (!f || std::fseek(f.get(), 0, SEEK_END) != 0) return fail(std::string(source) + ": cannot read model file"), 0;
    const long size = std::ftell(f.get());
    uint8_t prefix[4096];
    std::rewind(f.get());
    const size_t n = std::fread(prefix, 1, sizeof prefix, f.get());
    if (size <= 0 || !options->arch.empty() || is_hdf5(prefix, n) || is_zip(prefix, n) || !onnx::looks_like_onnx(prefix, n))
      return -1;
    std::rewind(f.get());
    auto e = Engine::from_model(load_onnx_model_file(f.get(), size_t(size), source, OnnxOptions{options->size}), source, *options);
    if (!e) return fail(e.error()), 0;
    return keep(std::move(e.value()));
  } catch (const std::exception& ex) {
    return fail(std::string(source) + ": cannot load model (" + ex.what() + ")"), 0;
  }
}

// A Keras file that keras.mjs read with h5wasm: the manifest JSON and `count` floats (keras.h);
// arch_json "" for the seed network; options_json (LoadOptions, "" for none) as natively: `size`
// for a config whose input size is open, mean/std/labels over the file's own.
EMSCRIPTEN_KEEPALIVE int gc_load_keras(const char* manifest, const float* data, size_t count, const char* arch_json,
                                       const char* source, const char* options_json) {
  try {
    auto options = parse_load_options(options_json ? options_json : "");
    if (!options) return fail(options.error()), 0;
    auto e = Engine::from_model(load_keras_manifest(manifest, data, count, arch_json, source, options->size), source,
                                *options);
    if (!e) return fail(e.error()), 0;
    return keep(std::move(e.value()));
  } catch (const std::exception& ex) {
    return fail(std::string(source) + ": cannot load Keras model (" + ex.what() + ")"), 0;
  }
}

// A TF.js model.json with the files found beside it (load.mjs read them): `files_json` lists
// [{"path", "offset", "size"}] in bytes of `data`, by the names model.json's manifest uses;
// metadata_json is null when there is none. Returns the engine's handle, or 0.
EMSCRIPTEN_KEEPALIVE int gc_load_tfjs(const char* model_json, const char* metadata_json, const char* files_json,
                                      const uint8_t* data, size_t size, const char* source, const char* options_json) {
  try {
    auto options = parse_load_options(options_json ? options_json : "");
    if (!options) return fail(options.error()), 0;
    const nlohmann::json files = nlohmann::json::parse(files_json ? files_json : "", nullptr, false);
    if (!files.is_array()) return fail("gc_load_tfjs: the file list is not a JSON list"), 0;
    TfjsWeightReader reader = [&](const std::string& path) -> Result<std::vector<uint8_t>> {
      for (const auto& f : files) {
        if (!f.is_object() || f.value("path", std::string()) != path) continue;
        const uint64_t offset = f.value("offset", uint64_t(0)), n = f.value("size", uint64_t(0));
        if (offset > size || n > size - offset) return make_error("weight file " + path + " lies outside the data");
        return std::vector<uint8_t>(data + offset, data + offset + n);
      }
      return make_error("weight file " + path + " is missing (hand over model.json with its .bin files together)");
    };
    const std::string meta = metadata_json ? metadata_json : "";
    auto e = Engine::from_model(load_tfjs_model(model_json, reader, metadata_json ? &meta : nullptr, source), source,
                                  *options);
    if (!e) return fail(e.error()), 0;
    return keep(std::move(e.value()));
  } catch (const std::exception& ex) {
    return fail(std::string(source) + ": cannot load TF.js model (" + ex.what() + ")"), 0;
  }
}

// Changes the normalisation and/or class names of a loaded model (Engine::set_model_options:
// only the keys named change). 1 on success; on an error nothing changed.
EMSCRIPTEN_KEEPALIVE int gc_set_model_options(int handle, const char* options_json) {
  try {
    Engine* e = gradcam_js::loaded_engine(handle);
    if (!e) return 0;
    if (Status s = e->set_model_options(options_json ? options_json : ""); !s) return fail(s.error()), 0;
    return 1;
  } catch (const std::exception& ex) {
    return fail(std::string("cannot change the model's options (") + ex.what() + ")"), 0;
  }
}

EMSCRIPTEN_KEEPALIVE const char* gc_info(int handle) {
  Engine* e = gradcam_js::loaded_engine(handle);
  if (!e) return nullptr;
  g_info = e->info_json();
  return g_info.c_str();
}

EMSCRIPTEN_KEEPALIVE void gc_dispose(int handle) { g_engines.erase(handle); }

}  // extern "C"
