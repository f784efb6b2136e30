#include "formats/memory_left.h"

#include <cstdint>

#ifdef __EMSCRIPTEN__
#include <emscripten/heap.h>
#include <malloc.h>
#endif

namespace gradcam {

#ifdef __EMSCRIPTEN__
namespace {

// In 64 bits: wasm32's whole memory, rounded up, is one more than its size_t holds.
std::string mebibytes(uint64_t bytes) { return std::to_string((bytes + (uint64_t(1) << 19)) >> 20) + " MiB"; }

}  // namespace
#endif

Status check_fits_in_memory(size_t bytes, const std::string& source) {
#ifdef __EMSCRIPTEN__
  // Free: what the memory can still grow by, and what malloc holds free inside it.
  const size_t most = emscripten_get_heap_max(), now = emscripten_get_heap_size();
  const size_t left = most - now + size_t(mallinfo().fordblks);
  if (bytes > left)
    return make_error(source + ": the model's weights (" + mebibytes(bytes) + ") do not fit in this WebAssembly " +
                      "memory: " + mebibytes(left) + " of its " + mebibytes(most) + " are left (the native CLI has " +
                      "no such limit)");
#else
  (void)bytes;
  (void)source;
#endif
  return {};
}

}  // namespace gradcam
