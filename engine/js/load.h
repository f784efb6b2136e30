// The one loading path of the two WebAssembly programs: the JS API's core (engine/js/core.cpp) and
// the page's app (web/app) both link load.cpp, so a model file, a Keras file, a TF.js model and the
// model options reach an Engine through the same exported functions (gc_load, gc_load_onnx_file, gc_load_keras,
// gc_load_tfjs, gc_set_model_options) and the same JS (engine/js/load.mjs). Loaded engines live in
// a table of handles; the JS API keeps one per Engine object, the app uses the one the page hands it.
#pragma once
#include <emscripten/emscripten.h>

#include <string>

#include "gradcam/engine.h"

namespace gradcam_js {

// The engine behind a handle, or null (gc_error() then says it was disposed).
gradcam::Engine* loaded_engine(int handle);

// Sets what gc_error() returns; null, for `return fail(...)` in functions that return a pointer.
const char* fail(const std::string& message);

}  // namespace gradcam_js

extern "C" {
const char* gc_error();
int gc_load(const uint8_t* bytes, size_t size, const char* source, const char* options_json);
int gc_load_onnx_file(const char* path, const char* source, const char* options_json);
int gc_load_keras(const char* manifest, const float* data, size_t count, const char* arch_json, const char* source,
                  const char* options_json);
int gc_load_tfjs(const char* model_json, const char* metadata_json, const char* files_json, const uint8_t* data,
                 size_t size, const char* source, const char* options_json);
int gc_set_model_options(int handle, const char* options_json);
const char* gc_info(int handle);
void gc_dispose(int handle);
}
