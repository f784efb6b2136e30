// The thread count of the two WebAssembly programs that run passes: the JS API's core
// (engine/js/core.cpp) and the page's app (web/app). Each is built twice from the same sources,
// without and with Emscripten's pthreads (cmake/wasm.cmake, web/web.cmake); the JS side picks the
// threaded build on a cross-origin isolated page and then sets the count here.
#include <emscripten/emscripten.h>

#include <exception>
#include <string>

#include "load.h"
#include "parallel/thread_pool.h"

using namespace gradcam;
using gradcam_js::fail;

extern "C" {

// Sets the engine's thread pool to n threads (the caller and n - 1 pthreads), starts them, and
// returns the count now in use. The single-threaded core (built without -pthread) cannot start a
// thread: it stays at 1. The threaded core starts its pthreads from Workers loaded with the module
// (PTHREAD_POOL_SIZE, cmake/wasm.cmake), so n must not exceed the Workers the JS side asked for;
// they are started here, so that the count returned is the one the passes will use (the pool runs
// with fewer if fewer start).
EMSCRIPTEN_KEEPALIVE int gc_set_threads(int n) {
#ifdef __EMSCRIPTEN_PTHREADS__
  try {
    set_thread_count(n);
    parallel_for(n, 1, [](int64_t, int64_t) {});
  } catch (const std::exception& ex) {
    set_thread_count(1);
    fail(std::string("cannot start ") + std::to_string(n) + " threads: " + ex.what());
  }
#else
  (void)n;
  set_thread_count(1);
#endif
  return thread_count();
}

}  // extern "C"
