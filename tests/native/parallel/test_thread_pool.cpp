// The pool's contract: every chunk runs exactly once, the chunks are the same whatever the thread
// count, a nested parallel_for runs serially, and a chunk's exception reaches the caller.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "parallel/thread_pool.h"

namespace {
// The single-threaded WebAssembly build (the one a page that is not cross-origin isolated loads, and
// the wasm doctest binary) cannot start a thread: there the count stays 1 and every chunk runs on the
// caller, which these tests check instead of the threaded behaviour.
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kThreads = false;
#else
constexpr bool kThreads = true;
#endif

// Restores one thread when a test ends, so the other tests run as they always have.
struct ThreadCount {
  explicit ThreadCount(int n) { gradcam::set_thread_count(n); }
  ~ThreadCount() { gradcam::set_thread_count(1); }
};

std::vector<std::pair<int64_t, int64_t>> chunks_seen(int64_t n, int64_t grain) {
  std::mutex m;
  std::vector<std::pair<int64_t, int64_t>> seen;
  gradcam::parallel_for(n, grain, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(m);
    seen.emplace_back(b, e);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}
}  // namespace

TEST_CASE("parallel_for: the chunks depend on n and the grain, never on the thread count") {
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 4}, {4, 8}, {8, 10}};
  for (int threads : {1, 2, 3, 8}) {
    ThreadCount tc(threads);
    CHECK(gradcam::thread_count() == (kThreads ? threads : 1));
    CHECK(chunks_seen(10, 4) == expected);
    CHECK(chunks_seen(0, 4).empty());
    CHECK(chunks_seen(3, 0) == std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {1, 2}, {2, 3}});
  }
}

TEST_CASE("parallel_for: every item written once with several threads, on more than one thread") {
  ThreadCount tc(3);
  for (int round = 0; round < 50; ++round) {
    std::vector<int> hits(1000, 0);
    gradcam::parallel_for(1000, 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[i];
    });
    REQUIRE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  }
  if (kThreads) {
    // Chunks that wait for each other finish only if two threads run them at once.
    std::atomic<int> arrived{0};
    gradcam::parallel_for(2, 1, [&](int64_t, int64_t) {
      ++arrived;
      while (arrived.load() < 2) std::this_thread::yield();
    });
    CHECK(arrived.load() == 2);
  } else {
    const auto caller = std::this_thread::get_id();
    gradcam::parallel_for(8, 1, [&](int64_t, int64_t) { CHECK(std::this_thread::get_id() == caller); });
  }
}

TEST_CASE("parallel_for: nested calls run serially, in order, on the chunk's thread") {
  ThreadCount tc(2);
  std::vector<std::vector<int64_t>> order(4);
  gradcam::parallel_for(4, 1, [&](int64_t b, int64_t) {
    const auto outer = std::this_thread::get_id();
    gradcam::parallel_for(5, 2, [&](int64_t ib, int64_t) {
      CHECK(std::this_thread::get_id() == outer);
      order[b].push_back(ib);
    });
  });
  for (const auto& o : order) CHECK(o == std::vector<int64_t>{0, 2, 4});
}

TEST_CASE("parallel_for: a chunk's exception reaches the caller, and the pool goes on working") {
  for (int threads : {1, 2}) {
    ThreadCount tc(threads);
    std::atomic<int> ran{0};
    CHECK_THROWS_WITH_AS(gradcam::parallel_for(6, 1,
                                               [&](int64_t b, int64_t) {
                                                 ++ran;
                                                 if (b == 3) throw std::runtime_error("chunk 3");
                                               }),
                         "chunk 3", std::runtime_error);
    CHECK(ran.load() == 6);
    CHECK(chunks_seen(2, 1).size() == 2);
  }
}

TEST_CASE("set_thread_count: below 1 is one thread; default_thread_count is at least 1") {
  ThreadCount tc(0);
  CHECK(gradcam::thread_count() == 1);
  gradcam::set_thread_count(-3);
  CHECK(gradcam::thread_count() == 1);
  CHECK(gradcam::default_thread_count() >= 1);
  CHECK(gradcam::grain_for_chunks(10, 4) == 3);
  CHECK(gradcam::grain_for_chunks(3, 4) == 1);
}
