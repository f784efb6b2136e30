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

// One job at a time. The caller and the workers claim chunks from one ticket, the job's generation
// and its next chunk in one atomic word, so a worker that wakes after the job is done (a busy
// machine may leave it unscheduled for a while) claims nothing and the caller never waits for it:
// the caller waits only for chunks that were claimed and are still running.
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
    std::unique_lock<std::mutex> job_lock(job_mutex_, std::defer_lock);
    if (chunks == 1 || chunks > kMaxTicketChunks || threads_ == 1 || t_inside_pool || !job_lock.try_lock()) {
      run_serially(n, grain, chunks, body);
      return;
    }
    if (workers_.size() + 1 != static_cast<size_t>(threads_.load())) start_workers(threads_ - 1);
    Job job{&body, n, grain, chunks, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job.generation = ++generation_;
      job_ = job;
      completed_.store(0);
      error_ = nullptr;
      ticket_.store(uint64_t(job.generation) << 32);
    }
    wake_.notify_all();
    t_inside_pool = true;
    take_chunks(job);
    t_inside_pool = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return completed_.load() == chunks; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  struct Job {
    const ChunkBody* body;
    int64_t n, grain, chunks;
    uint32_t generation;
  };
  static constexpr int64_t kMaxTicketChunks = int64_t(1) << 31;

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

  // Claims and runs chunks of `job` until none is left. A claim succeeds only while the ticket
  // still holds job's generation, i.e. while the job's caller is still waiting for it; which
  // thread runs which chunk varies, what a chunk computes does not.
  void take_chunks(const Job& job) {
    uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if (uint32_t(t >> 32) != job.generation || int64_t(t & 0xffffffffu) >= job.chunks) return;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
      const int64_t k = int64_t(t & 0xffffffffu);
      try {
        (*job.body)(k * job.grain, std::min(job.n, (k + 1) * job.grain));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      if (completed_.fetch_add(1, std::memory_order_acq_rel) + 1 == job.chunks) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
      t = ticket_.load(std::memory_order_acquire);
    }
  }

  // `seen`: the job generation when the worker started, so it never runs a finished job.
  void worker_loop(uint32_t seen) {
    t_inside_pool = true;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        job = job_;
      }
      take_chunks(job);
    }
  }

  void start_workers(int count) {
    stop_workers();
    uint32_t generation;
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

  std::mutex mutex_;  // guards what follows, but for the atomics
  std::condition_variable wake_, done_;
  bool stopping_ = false;
  uint32_t generation_ = 0;
  Job job_{};
  std::exception_ptr error_;
  std::atomic<uint64_t> ticket_{0};     // generation << 32 | next chunk
  std::atomic<int64_t> completed_{0};  // chunks of the current job finished
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
