#include "parallel/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace gradcam {
namespace {

// A WebAssembly build without pthreads (the one a page that is not cross-origin isolated loads)
// cannot start a thread: there the count stays 1, with the same answers.
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool kThreadsBuilt = false;
#else
constexpr bool kThreadsBuilt = true;
#endif

// True on the pool's workers and on a caller while it runs chunks: a parallel_for there is nested.
thread_local bool t_inside_pool = false;

// One job at a time: the chunk counter is shared by the caller and the workers, and the caller
// waits until every worker has left the job before its body (on the caller's stack) goes away.
class ThreadPool {
 public:
  ~ThreadPool() { stop_workers(); }

  void set_thread_count(int n) {
    std::lock_guard<std::mutex> job(job_mutex_);
    n = kThreadsBuilt ? std::max(1, n) : 1;
    if (n == threads_) return;
    stop_workers();
    threads_ = n;  // workers start on the next parallel_for that needs them
  }
  int thread_count() const { return threads_.load(); }

  void run(int64_t n, int64_t grain, ChunkBody body) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t chunks = (n + grain - 1) / grain;
    // A second caller while a job runs (another thread of the program) also runs serially: the
    // answers are the same either way.
    std::unique_lock<std::mutex> job(job_mutex_, std::defer_lock);
    if (chunks == 1 || threads_ == 1 || t_inside_pool || !job.try_lock()) {
      run_serially(n, grain, chunks, body);
      return;
    }
    if (workers_.size() + 1 != static_cast<size_t>(threads_.load())) start_workers(threads_ - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      n_ = n;
      grain_ = grain;
      chunks_ = chunks;
      next_chunk_.store(0);
      error_ = nullptr;
      busy_workers_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    t_inside_pool = true;
    take_chunks();
    t_inside_pool = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_workers_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  static void run_serially(int64_t n, int64_t grain, int64_t chunks, const ChunkBody& body) {
    std::exception_ptr error;
    for (int64_t k = 0; k < chunks; ++k) {
      try {
        body(k * grain, std::min(n, (k + 1) * grain));
      } catch (...) {
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
  }

  // Chunks are claimed one at a time from a shared counter; which thread runs which chunk varies,
  // what a chunk computes does not.
  void take_chunks() {
    for (;;) {
      const int64_t k = next_chunk_.fetch_add(1, std::memory_order_relaxed);
      if (k >= chunks_) return;
      try {
        (*body_)(k * grain_, std::min(n_, (k + 1) * grain_));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }

  // `seen`: the job generation when the worker started, so it never runs a finished job.
  void worker_loop(uint64_t seen) {
    t_inside_pool = true;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      take_chunks();
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_workers_ == 0) done_.notify_one();
    }
  }

  void start_workers(int count) {
    stop_workers();
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      generation = generation_;
    }
    workers_.reserve(count);
    for (int i = 0; i < count; ++i) {
      try {
        workers_.emplace_back([this, generation] { worker_loop(generation); });
      } catch (const std::system_error&) {
        break;  // the platform has fewer threads to give (a wasm build's pthread pool): use those started
      }
    }
    threads_ = int(workers_.size()) + 1;
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }

  std::mutex job_mutex_;  // held by the caller of a parallel job, and by set_thread_count
  std::atomic<int> threads_{1};
  std::vector<std::thread> workers_;

  std::mutex mutex_;  // guards what follows
  std::condition_variable wake_, done_;
  bool stopping_ = false;
  uint64_t generation_ = 0;
  int busy_workers_ = 0;
  std::exception_ptr error_;
  const ChunkBody* body_ = nullptr;
  int64_t n_ = 0, grain_ = 1, chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

void set_thread_count(int n) { pool().set_thread_count(n); }
int thread_count() { return pool().thread_count(); }
int default_thread_count() { return kThreadsBuilt ? int(std::max(1u, std::thread::hardware_concurrency())) : 1; }
void parallel_for(int64_t n, int64_t grain, ChunkBody body) { pool().run(n, grain, std::move(body)); }

}  // namespace gradcam
