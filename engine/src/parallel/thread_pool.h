// One pool of worker threads for the whole engine. Kernels split their outputs into chunks and hand
// them to parallel_for; the chunks depend only on the size of the work and its grain, never on the
// thread count, so every output element is computed by the same arithmetic in the same order with
// 1 or N threads and results are bit-identical. Only loops whose chunks write disjoint outputs go
// through it: a reduction is never split.
//
// Workers are std::thread (Emscripten pthreads in the wasm threads build), created when first
// needed and reused; the calling thread runs chunks too. A parallel_for inside a chunk runs
// serially on the thread that called it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "gradcam/threads.h"

namespace gradcam {

// set_thread_count, thread_count and default_thread_count are the public gradcam/threads.h.

// body(begin, end) without owning it: a parallel_for on a planned network's pass must not allocate
// (std::function would for a lambda holding more than two references).
class ChunkBody {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ChunkBody>>>
  ChunkBody(F&& f)  // NOLINT: implicit, so a lambda is passed as is
      : object_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e); }) {}
  void operator()(int64_t begin, int64_t end) const { call_(object_, begin, end); }

 private:
  void* object_;
  void (*call_)(void*, int64_t, int64_t);
};

// Runs body(begin, end) over [0, n) in chunks [k*grain, min((k+1)*grain, n)), each exactly once,
// spread over the pool's threads; returns when all are done. With one thread (or nested) the chunks
// run in order on the caller's thread. An exception thrown by a chunk is rethrown here (the first
// one; the other chunks still run).
void parallel_for(int64_t n, int64_t grain, ChunkBody body);

// A grain that gives about `chunks` chunks over n (at least 1 item each): for loops whose items
// cost much the same, so that splitting finer than the threads buys nothing. `chunks` must be a
// constant of the loop, never the thread count.
inline int64_t grain_for_chunks(int64_t n, int64_t chunks) { return n <= chunks ? 1 : (n + chunks - 1) / chunks; }

// A grain for n items of about `work_per_item` multiply-adds each: chunks of at least
// kMinChunkWork (below it waking a thread costs more than it saves, so a small layer stays on one
// thread), and at most kMaxChunks of them. Both are constants, so the chunks depend only on the work.
constexpr int64_t kMinChunkWork = int64_t(1) << 17;
constexpr int64_t kMaxChunks = 32;
inline int64_t grain_for_work(int64_t n, int64_t work_per_item) {
  const int64_t by_work = (kMinChunkWork + work_per_item - 1) / std::max<int64_t>(work_per_item, 1);
  return std::max<int64_t>({int64_t(1), by_work, (n + kMaxChunks - 1) / kMaxChunks});
}

}  // namespace gradcam
